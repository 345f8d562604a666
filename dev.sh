#!/usr/bin/env bash
# dev.sh: the project's two front doors.
#
#   ./dev.sh demo   install what is missing, build, start tiergate on config/demo.json
#                   with two simulated model servers as its device and cloud tiers
#   ./dev.sh test   install what is missing, build, run the whole suite: once with gcc,
#                   once with clang under AddressSanitizer + UndefinedBehaviorSanitizer,
#                   then each libFuzzer target for 20 s (tests/fuzz/run.sh)
#
# Installing needs root (or sudo) on Debian; everything else runs as any user.
set -euo pipefail
cd "$(dirname "$0")"

# iproute2 and nftables: the fault suite's network namespace and impairments;
# prometheus: its promtool checks the /metrics text (tests/integration/metrics.test.mjs)
APT_PACKAGES="build-essential cmake pkg-config clang libclang-rt-14-dev curl \
libmicrohttpd-dev libcurl4-openssl-dev libcjson-dev iproute2 nftables openssl prometheus"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_deps() {
    local missing=""
    for p in $APT_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    command -v node >/dev/null && command -v npm >/dev/null || missing="$missing nodejs npm"
    if [ -n "$missing" ]; then
        echo "dev.sh: installing:$missing" >&2
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
    fi
}

install_node_deps() {
    if [ ! -d tests/node_modules/openai ] || [ tests/package-lock.json -nt tests/node_modules/.package-lock.json ]; then
        npm ci --prefix tests --no-audit --no-fund --loglevel=error
    fi
}

build() {  # build DIR [cmake args...]
    local dir=$1; shift
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    cmake --build "$dir" -j"$(nproc)"
}

demo() {
    install_deps
    build build
    local pids=()
    trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
    build/fakellm --port 8081 --model "qwen2.5-1.5b-instruct (simulated)" --label device --quiet >/dev/null &
    pids+=($!)
    build/fakellm --port 8082 --model "deepseek-chat (simulated)" --label cloud --quiet >/dev/null &
    pids+=($!)
    cat >&2 <<'TXT'

tiergate demo: the device and cloud tiers are SIMULATED model servers (build/fakellm);
their answers are canned echoes, not a language model.  Try, in another terminal:

  curl -si localhost:8088/v1/chat/completions -H 'Content-Type: application/json' \
       -d '{"model":"auto","messages":[{"role":"user","content":"打开空调"}]}'
  curl -sN localhost:8088/v1/chat/completions -H 'Content-Type: application/json' \
       -d '{"model":"auto","stream":true,"messages":[{"role":"user","content":"Prove that there are infinitely many primes, step by step."}]}'
  curl -s localhost:8088/v1/route -d '{"model":"auto","messages":[{"role":"user","content":"Derive the quadratic formula"}]}'

The X-Tiergate-Tier / -Backend / -Reason / -Score headers say who answered and why.
Press Ctrl-C to stop.

TXT
    build/tiergate --config config/demo.json &
    pids+=($!)
    wait "${pids[-1]}"
}

run_suite() {
    install_deps
    install_node_deps
    echo "== build (gcc) and test =="
    CC=gcc build build
    (cd build && ctest --output-on-failure -j2)
    echo "== build (clang, ASan+UBSan) and test =="
    CC=clang build build-asan -DTIERGATE_SANITIZE=ON
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --output-on-failure -j2)
    echo "== fuzz targets (clang, libFuzzer, 20 s each) =="
    tests/fuzz/run.sh 20
}

case "${1:-}" in
    demo) demo ;;
    test) run_suite ;;
    build) install_deps; build build ;;
    *) echo "usage: $0 demo|test|build" >&2; exit 2 ;;
esac
