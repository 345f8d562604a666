#!/usr/bin/env bash
# slowreaders.sh [N] [TIERGATE] [FAKELLM]: the gateway's memory with N streams
# (default 1 000) whose clients read 1 byte a second.
#
# The backend is the simulated model server (build/fakellm) answering every
# stream with the same ~1 MB of SSE (6 000 one-character events) as fast as it
# can; each client connects with a 4 KiB receive buffer, sends its request and
# then reads one byte a second from its socket.  After HOLD_S seconds (default
# 20) the gateway's resident memory is read from /proc, compared with its
# memory before the streams, and everything started here is stopped by PID.
#
# Run as root, it runs itself in a network namespace of its own whose TCP
# buffers are capped at 64 KiB (net.ipv4.tcp_wmem/tcp_rmem are per
# namespace): on the host's loopback the kernel autotunes a socket's send
# buffer to megabytes, so the kernel, not the gateway, would hold most of a
# slow reader's answer, as it would not for a client across a real network.
# Without root it runs on the host's loopback and says so.
# Loopback only; it stops by itself (the clients give up after HOLD_S + 60 s
# at the latest).  Needs python3 and a descriptor limit of 3 N + a few (raised
# here when the hard limit allows).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ "$(id -u)" = 0 ] && [ -z "${SLOWREADERS_NS:-}" ]; then
    NS=tgsr$$
    ip netns add "$NS"
    trap 'ip netns del "$NS" 2>/dev/null || true' EXIT INT TERM
    ip netns exec "$NS" ip link set lo up
    ip netns exec "$NS" sysctl -q -w net.ipv4.tcp_wmem="4096 16384 65536" net.ipv4.tcp_rmem="4096 65536 65536"
    SLOWREADERS_NS=$NS ip netns exec "$NS" "$0" "$@"
    exit
fi
N=${1:-1000}
BIN=${2:-$HERE/../build/tiergate}
FAKE=${3:-$HERE/../build/fakellm}
HOLD_S=${HOLD_S:-20}
GW_PORT=${GW_PORT:-18961}
FAKE_PORT=${FAKE_PORT:-18962}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/slowreaders.XXXXXX")
ulimit -n $(( 3 * N + 256 )) 2>/dev/null || true

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

"$FAKE" --port "$FAKE_PORT" --label device --quiet >"$WORK/fake.log" 2>&1 &
pids+=($!)
cat >"$WORK/config.json" <<EOF
{"listen": "127.0.0.1:$GW_PORT",
 "backends": [{"name": "local", "tier": "device", "url": "http://127.0.0.1:$FAKE_PORT/v1", "model": "m",
               "timeouts": {"connect_ms": 1000, "first_byte_ms": 15000, "idle_ms": 30000, "total_ms": 900000}}],
 "routing": {"classifier_model": "$HERE/../config/classifier.model", "deadline_ms": 900000},
 "limits": {"max_connections": 8192, "max_connections_per_ip": 0, "client_timeout_s": 900}}
EOF
"$BIN" --config "$WORK/config.json" >"$WORK/gw.log" 2>&1 &
GW=$!
pids+=($GW)
for _ in $(seq 50); do
    grep -q '"listening"' "$WORK/gw.log" 2>/dev/null && break
    sleep 0.1
done
grep -q '"listening"' "$WORK/gw.log" || { echo "tiergate did not start:"; cat "$WORK/gw.log"; exit 1; }
python3 - "$FAKE_PORT" <<'PY'
import json, sys, urllib.request
body = json.dumps({"reply": "abcdefghij" * 600, "chunks": 6000}).encode()
urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/_fake/mode", data=body)).read()
PY
IDLE=$(rss_kb "$GW")

python3 - "$GW_PORT" "$N" "$HOLD_S" "$WORK/ready" <<'PY' &
import json, socket, sys, time
port, n, hold, ready = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
body = json.dumps({"model": "device", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
req = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
       f"Content-Length: {len(body)}\r\n\r\n{body}").encode()
socks = []
for _ in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(req)
    s.setblocking(False)
    socks.append(s)
got = 0
end = time.time() + hold
open(ready, "w").close()
while time.time() < end:
    t = time.time()
    for s in socks:
        try:
            got += len(s.recv(1))
        except BlockingIOError:
            pass
    time.sleep(max(0.0, 1.0 - (time.time() - t)))
print(f"clients: {n} streams, {got} bytes read in {hold} s", flush=True)
time.sleep(60)       # held open until the script has measured and stops us
PY
pids+=($!)
for _ in $(seq 600); do [ -e "$WORK/ready" ] && break; sleep 0.1; done
sleep "$HOLD_S"
LOADED=$(rss_kb "$GW")
STATS=$(python3 -c "import urllib.request,sys; print(urllib.request.urlopen('http://127.0.0.1:$FAKE_PORT/_fake/stats').read().decode())")
if [ -n "${SLOWREADERS_NS:-}" ]; then WHERE="network namespace $SLOWREADERS_NS, TCP buffers at most 64 KiB"
else WHERE="the host's loopback: the kernel's autotuned socket buffers hold part of each answer"; fi
echo "tiergate: $BIN; $WHERE"
echo "rss idle: ${IDLE} kB; with $N streams read at 1 byte/s for ${HOLD_S} s: ${LOADED} kB;" \
     "per stream: $(( (LOADED - IDLE) / N )) kB"
echo "backend: $STATS (active: answers still being sent)"
