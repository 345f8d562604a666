#!/usr/bin/env bash
# footprint.sh: what tiergate costs on its targets, from the Debian packages
# (bench/README.md, "Footprint"):
#
#   bench/footprint.sh [AMD64_BUILD] [ARM64_BUILD]   default build, build-arm64
#
# Both build directories must exist (./dev.sh build; the arm64 one as in
# .ci/deploy-checks.sh arm64); their packages are built here.  For each
# architecture: the stripped binary and the package (file and Installed-Size),
# the resident memory of the unpacked gateway idle and with 100 streams open
# through it, and the time from exec to the first 200 of /healthz and of
# /readyz (median of 10 starts).  The arm64 binary runs under qemu-user, whose
# own resident memory is measured on an empty arm64 program and given beside
# it.  The backend is the simulated model server of the amd64 build, streaming
# 200 chunks 500 ms apart.  Everything started here is stopped by PID.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
B64=${1:-build}
BARM=${2:-build-arm64}
WORK=$(mktemp -d /tmp/tiergate-footprint.XXXXXX)
PORT=${TG_PORT:-18190}
FAKE_PORT=${FAKE_PORT:-18191}
PIDS=()
cleanup() { local p; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
rss_kb() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status"; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $PORT $FAKE_PORT; do port_busy "$p" && { echo "port $p is in use" >&2; exit 1; }; done

echo "=== tiergate bench/footprint.sh ==="
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  host: $(uname -sr)  cpu: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo) x $(nproc)"
echo "commit: $(git describe --always --dirty 2>/dev/null)  qemu: $(qemu-aarch64 --version | head -1)"

"$B64/fakellm" --port "$FAKE_PORT" --label device --quiet \
    --mode '{"chunks": 200, "chunk_delay_ms": 500}' >/dev/null &
PIDS+=($!)
for _ in $(seq 50); do port_busy "$FAKE_PORT" && break; sleep 0.1; done

cat >"$WORK/footprint.json" <<JSON
{
  "listen": "127.0.0.1:$PORT",
  "backends": [{"name": "local", "tier": "device", "url": "http://127.0.0.1:$FAKE_PORT/v1", "model": "m",
                "health_path": "/health"}],
  "routing": {"deadline_ms": 300000},
  "health": {"probe_interval_ms": 5000}
}
JSON

# measure ARCH DEB [EMULATOR]
measure() {
    local arch=$1 deb=$2 emu=${3:-} root=$WORK/root-$1
    mkdir -p "$root"
    dpkg -x "$deb" "$root"
    local bin=("$root/usr/bin/tiergate")
    [ -n "$emu" ] && bin=("$emu" "$root/usr/bin/tiergate")
    echo
    echo "--- $arch"
    echo "stripped binary: $(stat -c %s "$root/usr/bin/tiergate") bytes"
    echo "package: $(stat -c %s "$deb") bytes, Installed-Size $(dpkg-deb -f "$deb" Installed-Size) KiB"

    # start-up: exec to the first 200 of /healthz, and of /readyz (the
    # first health probe has answered), 10 starts; the model is found in the
    # unpacked share/tiergate (the configuration's directory has none)
    python3 - "$PORT" "${bin[@]}" --config "$WORK/footprint.json" <<'PY'
import http.client, subprocess, sys, time, statistics
port, cmd = int(sys.argv[1]), sys.argv[2:]
def get(path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        c.request("GET", path); return c.getresponse().status
    except OSError:
        return None
    finally:
        c.close()
live, ready = [], []
for i in range(10):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t_live = None
    while time.monotonic() - t0 < 20:
        if t_live is None and get("/healthz") == 200: t_live = time.monotonic()
        if t_live is not None and get("/readyz") == 200: break
        time.sleep(0.001)
    else:
        p.kill(); sys.exit("tiergate did not become ready")
    live.append((t_live - t0) * 1000); ready.append((time.monotonic() - t0) * 1000)
    p.terminate(); p.wait(10)
print("start-up to /healthz 200: median %.1f ms (min %.1f, max %.1f)" % (statistics.median(live), min(live), max(live)))
print("start-up to /readyz 200:  median %.1f ms (min %.1f, max %.1f)" % (statistics.median(ready), min(ready), max(ready)))
PY

    "${bin[@]}" --config "$WORK/footprint.json" 2>"$WORK/gw-$arch.log" &
    local gw=$!
    PIDS+=($gw)
    for _ in $(seq 200); do [ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$PORT/readyz")" = 200 ] && break; sleep 0.1; done
    sleep 1
    echo "RSS idle: $(rss_kb "$gw") KiB"
    local i streams=()
    for i in $(seq 100); do
        curl -sN --max-time 120 "127.0.0.1:$PORT/v1/chat/completions" -H 'Content-Type: application/json' \
            -d '{"model":"auto","stream":true,"messages":[{"role":"user","content":"hi"}]}' >/dev/null &
        streams+=($!)
    done
    local active=0
    for _ in $(seq 300); do
        active=$(curl -s "127.0.0.1:$FAKE_PORT/_fake/stats" | sed -n 's/.*"active":\([0-9]*\).*/\1/p')
        [ "${active:-0}" -ge 100 ] && break
        sleep 0.1
    done
    [ "${active:-0}" -ge 100 ] || { echo "only ${active:-0} streams open" >&2; exit 1; }
    sleep 2
    echo "RSS with 100 open streams: $(rss_kb "$gw") KiB (streams open upstream: $active)"
    kill "${streams[@]}" 2>/dev/null || true
    wait "${streams[@]}" 2>/dev/null || true
    kill "$gw"
    wait "$gw" 2>/dev/null || true

    if [ -n "$emu" ]; then
        # qemu-user's own share: an arm64 program that only waits.
        printf '#include <unistd.h>\nint main(void) { pause(); return 0; }\n' >"$WORK/idle.c"
        aarch64-linux-gnu-gcc -O2 -o "$WORK/idle" "$WORK/idle.c"
        "$emu" "$WORK/idle" &
        local idle=$!
        PIDS+=($idle)
        sleep 1
        echo "RSS of an empty arm64 program under $emu: $(rss_kb "$idle") KiB"
        kill "$idle"
    fi
}

rm -f "$B64"/tiergate_*.deb "$BARM"/tiergate_*.deb
cmake --build "$B64" --target package >/dev/null
cmake --build "$BARM" --target package >/dev/null
measure "$(dpkg --print-architecture)" "$(ls "$B64"/tiergate_*.deb)"
measure arm64 "$(ls "$BARM"/tiergate_*.deb)" qemu-aarch64
