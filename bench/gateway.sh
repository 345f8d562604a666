#!/usr/bin/env bash
# gateway.sh UPSTREAM_URL PORT [TIERGATE]: runs tiergate in the foreground on
# the bench configuration (tiergate-bench.json.in), both backends pointing at
# UPSTREAM_URL.  This is the command peers-run.sh gives ../shared/bench/peers.sh
# as --gateway-cmd, and run.sh uses too.  Clients authenticate with
# "Authorization: Bearer tg-bench-key-0123456789".  The request log (one JSON line per
# request, as in production) goes to stderr.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UPSTREAM_URL=${1:?usage: gateway.sh UPSTREAM_URL PORT [TIERGATE]}
PORT=${2:?usage: gateway.sh UPSTREAM_URL PORT [TIERGATE]}
BIN=${3:-$HERE/../build-release/tiergate}
WORK=${BENCH_WORK:-${TMPDIR:-/tmp}/llmbench}
mkdir -p "$WORK"
CFG="$WORK/tiergate-bench-$PORT.json"
sed -e "s#@UPSTREAM_URL@#${UPSTREAM_URL%/}#g" -e "s#@PORT@#$PORT#g" \
    -e "s#@CLASSIFIER@#$(cd "$HERE/../config" && pwd)/classifier.model#g" \
    "$HERE/tiergate-bench.json.in" >"$CFG"
export TIERGATE_BENCH_KEYS="bench:tg-bench-key-0123456789"
export TIERGATE_BENCH_CLOUD_KEY="sk-bench-upstream"
# TIERGATE_WRAPPER: a command to run tiergate under (profile.sh: valgrind)
exec ${TIERGATE_WRAPPER:-} "$BIN" --config "$CFG"
