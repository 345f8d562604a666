#!/usr/bin/env bash
# profile.sh [--stream] [TIERGATE]: instructions per request, counted by
# valgrind's callgrind, which a busy machine does not disturb.
#
# Starts the yardstick's mock upstream and tiergate under callgrind on the
# bench configuration (gateway.sh), warms up for 2 s, counts instructions over
# 5 s of requests from one connection (wrk, or ssebench with --stream: a
# 50-chunk stream), and prints instructions per request (the request log tells
# how many were served) and the functions that cost most, inclusive.  Use a
# Release build with symbols: cmake -S . -B build-prof -DCMAKE_BUILD_TYPE=Release
# -DCMAKE_C_FLAGS=-g.  The profile stays in $BENCH_WORK/callgrind.out.* for
# callgrind_annotate.
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
[ -f "$SHARED/mockllm.c" ] || SHARED=/work/shared/bench
STREAM=0; [ "${1:-}" = --stream ] && { STREAM=1; shift; }
BIN_TG=${1:-$ROOT/build-prof/tiergate}
WORK=${BENCH_WORK:-${TMPDIR:-/tmp}/llmbench}
MOCK_PORT=${MOCK_PORT:-18080}; PORT=${TG_PORT:-18090}
KEY="tg-bench-key-0123456789"
OUT="$WORK/callgrind.out.$(date +%Y%m%d-%H%M%S)"
mkdir -p "$WORK/bin"
for t in valgrind callgrind_control callgrind_annotate wrk; do command -v $t >/dev/null || { echo "profile.sh needs $t" >&2; exit 1; }; done
gcc -O2 -Wall -pthread -o "$WORK/bin/mockllm" "$SHARED/mockllm.c" && gcc -O2 -Wall -o "$WORK/bin/ssebench" "$SHARED/ssebench.c" || exit 1
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $MOCK_PORT $PORT; do port_busy "$p" && { echo "port $p is in use" >&2; exit 1; }; done

PIDS=()
cleanup() { local p; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
trap cleanup EXIT
"$WORK/bin/mockllm" --host 127.0.0.1 --port "$MOCK_PORT" --quiet >/dev/null 2>&1 &
PIDS+=($!)
BODY="$WORK/profile-body.json"
if [ $STREAM = 1 ]; then
  printf '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello in one short sentence. mock_chunks=50 mock_delay_ms=0"}],"max_tokens":32,"temperature":0}' >"$BODY"
else
  printf '{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":32,"temperature":0}' >"$BODY"
fi
LOG="$WORK/profile-tiergate.log"
TIERGATE_WRAPPER="valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=$OUT" BENCH_WORK="$WORK" \
  "$HERE/gateway.sh" "http://127.0.0.1:$MOCK_PORT" "$PORT" "$BIN_TG" 2>"$LOG" &
VG=$!; PIDS+=("$VG")
for i in $(seq 100); do port_busy "$PORT" && break; sleep 0.2; done
load() { # seconds
  if [ $STREAM = 1 ]; then
    timeout $(($1 + 30)) "$WORK/bin/ssebench" -u "http://127.0.0.1:$PORT/v1/chat/completions" -b "$BODY" -c 1 -d "$1" -e 51 \
      -H "Authorization: Bearer $KEY" >/dev/null
  else
    BENCH_BODY_FILE="$BODY" BENCH_HEADERS="Authorization: Bearer $KEY" timeout $(($1 + 30)) \
      wrk -t1 -c1 -d"$1"s -s "$SHARED/chat.lua" "http://127.0.0.1:$PORT/v1/chat/completions" >/dev/null
  fi
}
served() { grep -c '"msg":"request".*"status":200' "$LOG"; }
load 2
callgrind_control -i on "$VG" >/dev/null
N0=$(served); load 5; sleep 0.3; N1=$(served)
callgrind_control -i off "$VG" >/dev/null
cleanup; PIDS=()
N=$((N1 - N0))
IR=$(callgrind_annotate "$OUT" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
[ "$N" -gt 0 ] || { echo "no request was served; see $LOG" >&2; exit 1; }
echo "requests=$N instructions=$IR per_request=$((IR / N))  ($( [ $STREAM = 1 ] && echo '50-chunk stream' || echo 'non-streaming'), $(basename "$BIN_TG"), profile $OUT)"
callgrind_annotate --inclusive=yes "$OUT" 2>/dev/null | sed -n '/file:function/,/^$/p' |
  awk -v n="$N" 'NR > 2 && /src\/|curl_multi_socket_action|MHD_run |cJSON_Parse|jsonout/ {
      f = ($NF ~ /^\[/) ? $(NF-1) : $NF; sub(/.*\/src\//, "src/", f); if (f in seen) next; seen[f] = 1
      gsub(",", "", $1); printf "  %9.0f  %s\n", $1 / n, f }' | head -25
