#!/usr/bin/env bash
# tests/valgrind.sh: the integration and compatibility suites with every
# gateway they start running under valgrind's memcheck.
#
#   tests/valgrind.sh [BUILD_DIR]      default: build (a build without sanitizers)
#
# A test fails where memcheck finds an error, because valgrind then exits 99
# and assertCleanStop (or the test's own exit-code check) sees it.  This script
# also reads every memcheck report afterwards and fails if any counts an error,
# so an error in a gateway that a test did not stop cleanly is not missed.
# Timing: memcheck slows the gateway some twenty times, so every wait of the
# tests is stretched by TIERGATE_TIME_SCALE (default 10 here).
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${1:-build}")

command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
[ -x "$build/tiergate" ] && [ -x "$build/fakellm" ] || { echo "valgrind.sh: no tiergate and fakellm in $build: build first" >&2; exit 2; }
if nm -C "$build/tiergate" 2>/dev/null | grep -q __asan_init; then
    echo "valgrind.sh: $build/tiergate is built with AddressSanitizer, which memcheck cannot run" >&2; exit 2
fi
[ -d tests/node_modules/openai ] || npm ci --prefix tests --no-audit --no-fund --loglevel=error

logs=$(mktemp -d /tmp/tiergate-valgrind.XXXXXX)
export TIERGATE_BIN="$build/tiergate" FAKELLM_BIN="$build/fakellm" TIERGATE_SOURCE_DIR="$PWD"
export TIERGATE_WRAPPER="valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --log-file=$logs/memcheck.%p.log"
export TIERGATE_TIME_SCALE="${TIERGATE_TIME_SCALE:-10}"

status=0
node --test --test-reporter=spec tests/integration/*.test.mjs tests/compat/*.test.mjs || status=$?

runs=$(find "$logs" -name 'memcheck.*.log' | wc -l)
bad=$(grep -l -E '^==[0-9]+== ERROR SUMMARY: [1-9]' "$logs"/memcheck.*.log 2>/dev/null || true)
if [ -n "$bad" ]; then
    for f in $bad; do echo "== memcheck errors: $f"; cat "$f"; done
    status=1
fi
# a gateway a test killed (SIGKILL) leaves a report without a summary
unfinished=$(grep -L 'ERROR SUMMARY' "$logs"/memcheck.*.log 2>/dev/null | wc -l)
echo "valgrind.sh: $runs gateway runs under memcheck ($unfinished killed before their summary), $(echo -n "$bad" | grep -c . || true) with errors; reports in $logs"
exit "$status"
