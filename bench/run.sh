#!/usr/bin/env bash
# run.sh: tiergate's own figures, one command (bench/README.md explains each).
#
#   bench/run.sh [TIERGATE]        default build-release/tiergate
#
# Uses the yardstick's mock upstream and SSE client (../shared/bench/mockllm.c,
# ssebench.c, chat.lua), built into $BENCH_WORK/bin, wrk and python3.  Placement as in
# peers.sh: load generator and mock on cpu0, tiergate on cpu1.  Every process
# started here is stopped by PID; every load run is bounded in time.  Raw
# output goes to $BENCH_WORK/tiergate-run-DATE/; the summary to stdout.
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
[ -f "$SHARED/mockllm.c" ] || SHARED=/work/shared/bench
BIN_TG=${1:-$ROOT/build-release/tiergate}
WORK=${BENCH_WORK:-${TMPDIR:-/tmp}/llmbench}
RUN="$WORK/tiergate-run-$(date +%Y%m%d-%H%M%S)"
BIN="$WORK/bin"
MOCK_PORT=${MOCK_PORT:-18080}
PORT=${TG_PORT:-18090}
DURATION=${DURATION:-10}
KEY="tg-bench-key-0123456789"
mkdir -p "$RUN" "$BIN"
command -v wrk >/dev/null || { echo "run.sh needs wrk (apt-get install wrk)" >&2; exit 1; }
[ -x "$BIN_TG" ] || { echo "no tiergate binary at $BIN_TG (cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release && cmake --build build-release)" >&2; exit 1; }
gcc -O2 -Wall -pthread -o "$BIN/mockllm" "$SHARED/mockllm.c" && gcc -O2 -Wall -o "$BIN/ssebench" "$SHARED/ssebench.c" || exit 1

PIDS=()
cleanup() { local p; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; PIDS=(); }
trap cleanup EXIT
trap 'exit 130' INT TERM
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $MOCK_PORT $PORT; do port_busy "$p" && { echo "port $p is in use" >&2; exit 1; }; done
kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
cpu_ns() { local t=0 f; for f in /proc/"$1"/task/*/schedstat; do t=$((t + $(cut -d' ' -f1 "$f"))); done; echo $t; }
wakeups() { awk '$1 == "voluntary_ctxt_switches:" || $1 == "nonvoluntary_ctxt_switches:" {s += $2} END {print s}' "/proc/$1/status"; }

echo "=== tiergate bench/run.sh ==="
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  host: $(uname -sr)  cpu: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo) x $(nproc)"
echo "binary: $BIN_TG ($(cd "$ROOT" && git describe --always --dirty 2>/dev/null))  load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "raw: $RUN"

# ---- mock upstream, configuration, bodies
taskset -c 0 "$BIN/mockllm" --host 127.0.0.1 --port "$MOCK_PORT" --quiet >"$RUN/mock.log" 2>&1 &
PIDS+=($!)
for i in $(seq 50); do port_busy "$MOCK_PORT" && break; sleep 0.1; done
BODY="$RUN/req.json"
printf '{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":32,"temperature":0}' >"$BODY"
stream_body() { # chunks delay_ms latency_ms -> file
  local f="$RUN/stream-$1-$2-$3.json"
  printf '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello in one short sentence. mock_chunks=%d mock_delay_ms=%d mock_latency_ms=%d"}],"max_tokens":32,"temperature":0}' "$1" "$2" "$3" >"$f"
  echo "$f"
}

# ---- start-up time: exec of tiergate to the first accepted connection, 10 starts
start_tg() {
  BENCH_WORK="$WORK" taskset -c 1 "$HERE/gateway.sh" "http://127.0.0.1:$MOCK_PORT" "$PORT" "$BIN_TG" 2>>"$RUN/tiergate.log" &
  TG=$!
}
wait_port() { local i; for i in $(seq 5000); do port_busy "$PORT" && return 0; sleep 0.001; done; return 1; }
start_tg; wait_port || { echo "tiergate did not start; see $RUN/tiergate.log" >&2; exit 1; }
kill "$TG"; wait "$TG" 2>/dev/null
CFG="$WORK/tiergate-bench-$PORT.json"
# python3 polls without forking a process per try, which would cost more than it measures
STARTS=$(TIERGATE_BENCH_KEYS="bench:$KEY" TIERGATE_BENCH_CLOUD_KEY=x python3 - "$PORT" taskset -c 1 "$BIN_TG" --config "$CFG" <<'PY'
import socket, subprocess, sys, time
port, cmd, res = int(sys.argv[1]), sys.argv[2:], []
for i in range(10):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", port)); s.close(); break
        except OSError:
            s.close()
            if time.monotonic() - t0 > 5: p.kill(); sys.exit("tiergate did not start")
            time.sleep(0.0002)
    res.append(int((time.monotonic() - t0) * 1e6))
    p.terminate(); p.wait()
print(" ".join(map(str, res)))
PY
) || exit 1
START_MED=$(printf '%s\n' $STARTS | sort -n | sed -n 6p)
echo "start-up (exec to the first accepted connection), 10 starts, us: $STARTS"

start_tg; PIDS+=("$TG")
wait_port || exit 1
URL="http://127.0.0.1:$PORT/v1/chat/completions"
curl -s -m 5 -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' --data-binary @"$BODY" "$URL" | grep -q '"chat.completion"' \
  || { echo "tiergate did not answer the bench request" >&2; exit 1; }
sleep 1
IDLE_RSS=$(status_kb "$TG" VmRSS); IDLE_THREADS=$(status_kb "$TG" Threads)
echo 5 >"/proc/$TG/clear_refs"

# ---- non-streaming: direct and tiergate at c = 1, 16, 64
wrk_cell() { # label conc url -> RESULT line (+ CPU us per request of tiergate)
  local c0 c1 res
  c0=$(cpu_ns "$TG")
  res=$(BENCH_BODY_FILE="$BODY" BENCH_HEADERS="Authorization: Bearer $KEY" BENCH_LABEL="$1" \
    timeout $((DURATION + 30)) taskset -c 0 wrk -t1 -c"$2" -d"${DURATION}"s --timeout 5s -s "$SHARED/chat.lua" "$3" 2>&1 | tee "$RUN/wrk-$1.txt" | grep '^RESULT')
  c1=$(cpu_ns "$TG")
  echo "$res tg_cpu_us_per_req=$(awk -v d=$((c1 - c0)) -v n="$(kv "$res" requests)" 'BEGIN{printf "%.1f", n ? d / 1000 / n : 0}')"
}
BENCH_BODY_FILE="$BODY" BENCH_HEADERS="Authorization: Bearer $KEY" timeout 40 taskset -c 0 wrk -t1 -c16 -d3s -s "$SHARED/chat.lua" "$URL" >/dev/null 2>&1
declare -A NS
for c in 1 16 64; do
  NS[direct-$c]=$(wrk_cell "direct-c$c" "$c" "http://127.0.0.1:$MOCK_PORT/v1/chat/completions")
  NS[tg-$c]=$(wrk_cell "tiergate-c$c" "$c" "$URL")
  echo "  ${NS[direct-$c]}" >>"$RUN/results.txt"; echo "  ${NS[tg-$c]}" >>"$RUN/results.txt"
done
THREADS_LOAD=$(status_kb "$TG" Threads)

# ---- a 50-chunk stream, c=1: added time to first byte and total time
S50=$(stream_body 50 0 0)
sse() { timeout $(($3 + 40)) taskset -c 0 "$BIN/ssebench" -u "$1" -b "$2" -c "$4" -d "$3" -t 30000 -e "$5" -H "Authorization: Bearer $KEY" -l "$6" 2>&1 | grep '^RESULT'; }
SD=$(sse "http://127.0.0.1:$MOCK_PORT/v1/chat/completions" "$S50" 5 1 51 direct-stream50)
ST=$(sse "$URL" "$S50" 5 1 51 tiergate-stream50)
echo "  $SD" >>"$RUN/results.txt"; echo "  $ST" >>"$RUN/results.txt"
LOAD_HWM=$(status_kb "$TG" VmHWM)

# ---- 1 000 open streams: 20 chunks 1 s apart, RSS read after 8 s
S1000=$(stream_body 20 1000 0)
timeout 60 taskset -c 0 "$BIN/ssebench" -u "$URL" -b "$S1000" -c 1000 -d 12 -t 30000 -e 21 -H "Authorization: Bearer $KEY" -l streams1000 >"$RUN/sse-1000.txt" 2>&1 &
SB=$!; PIDS+=("$SB")
sleep 8
RSS_1000=$(status_kb "$TG" VmRSS); THREADS_1000=$(status_kb "$TG" Threads)
OPEN_1000=$(ls "/proc/$TG/fd" | wc -l)
wait "$SB" 2>/dev/null

# ---- 200 streams waiting on an upstream that answers after 20 s: CPU over 10 s
SWAIT=$(stream_body 5 0 20000)
timeout 60 taskset -c 0 "$BIN/ssebench" -u "$URL" -b "$SWAIT" -c 200 -d 14 -t 40000 -e 6 -H "Authorization: Bearer $KEY" -l wait200 >"$RUN/sse-wait.txt" 2>&1 &
SB=$!; PIDS+=("$SB")
sleep 3
W0=$(cpu_ns "$TG"); K0=$(wakeups "$TG"); UP0=$(curl -s "http://127.0.0.1:$MOCK_PORT/mock/stats")
sleep 10
W1=$(cpu_ns "$TG"); K1=$(wakeups "$TG"); UP1=$(curl -s "http://127.0.0.1:$MOCK_PORT/mock/stats")
kill "$SB" 2>/dev/null; wait "$SB" 2>/dev/null

# ---- routing decision time, binary size
ROUTE=$(TIERGATE_BENCH_KEYS="bench:$KEY" TIERGATE_BENCH_CLOUD_KEY=x taskset -c 1 "$(dirname "$BIN_TG")/bench/bench_route" "$CFG" 2>&1)
strip -o "$RUN/tiergate.stripped" "$BIN_TG"
SIZE=$(stat -c %s "$RUN/tiergate.stripped")
cleanup

# ---- summary
row() { # conc
  local d=${NS[direct-$1]} t=${NS[tg-$1]}
  printf "| %s | %s | %s / %s | %s | %s / %s | %+d | %s | %s |\n" "$1" "$(kv "$d" rps | cut -d. -f1)" "$(kv "$d" p50_us)" "$(kv "$d" p99_us)" \
    "$(kv "$t" rps | cut -d. -f1)" "$(kv "$t" p50_us)" "$(kv "$t" p99_us)" $(( $(kv "$t" p50_us) - $(kv "$d" p50_us) )) \
    "$(kv "$t" tg_cpu_us_per_req)" "$(( $(kv "$t" err_connect) + $(kv "$t" err_read) + $(kv "$t" err_write) + $(kv "$t" err_status) + $(kv "$t" err_timeout) ))"
}
echo
echo "Non-streaming, wrk -t1 ${DURATION}s per cell (latency in us):"
echo "| conc | direct req/s | direct p50 / p99 | tiergate req/s | tiergate p50 / p99 | added p50 | tiergate CPU us/req | errors |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for c in 1 16 64; do row $c; done
echo
echo "50-chunk stream, c=1, 5 s (us): direct ttfb p50 $(kv "$SD" ttfb_p50_us), total p50 $(kv "$SD" total_p50_us); tiergate ttfb p50 $(kv "$ST" ttfb_p50_us), total p50 $(kv "$ST" total_p50_us); added ttfb $(( $(kv "$ST" ttfb_p50_us) - $(kv "$SD" ttfb_p50_us) )), added total $(( $(kv "$ST" total_p50_us) - $(kv "$SD" total_p50_us) )); bad $(kv "$ST" events_bad)/$(kv "$ST" done_missing)"
echo "1 000 open streams: RSS $RSS_1000 KiB, threads $THREADS_1000, open descriptors $OPEN_1000; ssebench: $(grep '^RESULT' "$RUN/sse-1000.txt" | tr ' ' '\n' | grep -E '^(requests|events_bad|done_missing|err_status|err_conn|err_timeout)=' | tr '\n' ' ')"
echo "200 streams waiting 10 s on a silent upstream: tiergate CPU $(( (W1 - W0) / 1000 )) us, wake-ups $((K1 - K0)); mock before/after: $UP0 $UP1"
echo "memory: idle RSS $IDLE_RSS KiB; peak RSS over the load cells (VmHWM) $LOAD_HWM KiB"
echo "threads: idle $IDLE_THREADS, under load $THREADS_LOAD, with 1 000 streams $THREADS_1000"
echo "start-up median: $START_MED us; stripped binary: $SIZE bytes"
echo "routing decision (bench_route):"
echo "$ROUTE" | sed 's/^/  /'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
