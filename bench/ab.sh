#!/usr/bin/env bash
# ab.sh OLD NEW [CONC] [ROUNDS]: two tiergate binaries, alternated, under the
# same load; gateway CPU per request and throughput for each round.
#
#   bench/ab.sh /tmp/old/tiergate build-release/tiergate 16 3
#
# A change that saves a few microseconds per request is smaller than what
# this machine's neighbours do to one run, so the binaries take turns
# (old, new, old, new, ...) with the same mock, body and configuration
# (gateway.sh), 5 s of wrk each after 1 s of warm-up, and the comparison is
# between neighbouring rounds.  CPU is the gateway's own (schedstat of its
# threads), divided by the requests wrk completed.  Placement as in peers.sh:
# wrk and the mock on cpu0, tiergate on cpu1.
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
[ -f "$SHARED/mockllm.c" ] || SHARED=/work/shared/bench
OLD=${1:?usage: ab.sh OLD NEW [CONC] [ROUNDS]}
NEW=${2:?usage: ab.sh OLD NEW [CONC] [ROUNDS]}
CONC=${3:-16}
ROUNDS=${4:-3}
WORK=${BENCH_WORK:-${TMPDIR:-/tmp}/llmbench}
MOCK_PORT=${MOCK_PORT:-18080}; PORT=${TG_PORT:-18090}
KEY="tg-bench-key-0123456789"
for b in "$OLD" "$NEW"; do [ -x "$b" ] || { echo "no binary at $b" >&2; exit 1; }; done
command -v wrk >/dev/null || { echo "ab.sh needs wrk" >&2; exit 1; }
mkdir -p "$WORK/bin"
gcc -O2 -Wall -pthread -o "$WORK/bin/mockllm" "$SHARED/mockllm.c" || exit 1
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $MOCK_PORT $PORT; do port_busy "$p" && { echo "port $p is in use" >&2; exit 1; }; done

PIDS=()
cleanup() { local p; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; PIDS=(); }
trap cleanup EXIT
trap 'exit 130' INT TERM
cpu_ns() { local t=0 f; for f in /proc/"$1"/task/*/schedstat; do t=$((t + $(cut -d' ' -f1 "$f"))); done; echo $t; }
kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }

taskset -c 0 "$WORK/bin/mockllm" --host 127.0.0.1 --port "$MOCK_PORT" --quiet >/dev/null 2>&1 &
MOCK=$!
BODY="$WORK/ab-body.json"
printf '{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":32,"temperature":0}' >"$BODY"
load() { # seconds -> wrk's RESULT line
  BENCH_BODY_FILE="$BODY" BENCH_HEADERS="Authorization: Bearer $KEY" timeout $(($1 + 30)) \
    taskset -c 0 wrk -t1 -c"$CONC" -d"$1"s -s "$SHARED/chat.lua" "http://127.0.0.1:$PORT/v1/chat/completions" | grep '^RESULT'
}

echo "ab.sh: c=$CONC, $ROUNDS rounds, $(date -u +%Y-%m-%dT%H:%M:%SZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "old: $OLD"
echo "new: $NEW"
for r in $(seq "$ROUNDS"); do
  for which in old new; do
    bin=$OLD; [ $which = new ] && bin=$NEW
    BENCH_WORK="$WORK" taskset -c 1 "$HERE/gateway.sh" "http://127.0.0.1:$MOCK_PORT" "$PORT" "$bin" 2>/dev/null &
    TG=$!
    PIDS=("$MOCK" "$TG")
    for i in $(seq 100); do port_busy "$PORT" && break; sleep 0.05; done
    load 1 >/dev/null
    c0=$(cpu_ns "$TG")
    res=$(load 5)
    c1=$(cpu_ns "$TG")
    kill "$TG"; wait "$TG" 2>/dev/null
    n=$(kv "$res" requests)
    printf 'round %d %s  req/s %8s  p50 %6s us  CPU %s us/request\n' "$r" "$which" "$(kv "$res" rps)" \
      "$(kv "$res" p50_us)" "$(awk -v d=$((c1 - c0)) -v n="$n" 'BEGIN{printf "%.1f", n ? d / 1000 / n : 0}')"
  done
done
