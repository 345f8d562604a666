#!/usr/bin/env bash
# dev.sh: the project's two front doors.
#
#   ./dev.sh demo   install what is missing, build, start tiergate on config/demo.json
#                   with two simulated model servers as its device and cloud tiers
#                   (no Node.js needed: without it the node tests are left out)
#   ./dev.sh test   install what is missing, build, run the whole suite: once with gcc,
#                   once with clang under AddressSanitizer + UndefinedBehaviorSanitizer,
#                   then each libFuzzer target for 20 s (tests/fuzz/run.sh), then the
#                   deployment checks (.ci/deploy-checks.sh)
#
# Installing needs root (or sudo) on Debian; everything else runs as any user.
set -euo pipefail
cd "$(dirname "$0")"

# What the gateway needs to build and run (./dev.sh demo) ...
BUILD_PACKAGES="build-essential cmake pkg-config curl libmicrohttpd-dev libcurl4-openssl-dev libcjson-dev"
# ... and what the suite needs besides: clang and its sanitizer runtime; iproute2 and
# nftables for the fault suite's network namespace and impairments; openssl for the TLS
# tests' certificates.
TEST_PACKAGES="clang libclang-rt-14-dev iproute2 nftables openssl"
# Installed without the packages they recommend: the suite wants prometheus's promtool
# (it checks the /metrics text), not a Prometheus server and node exporter as services.
TEST_PACKAGES_SLIM="prometheus"
# The deployment checks (.ci/deploy-checks.sh) need the arm64 cross compiler and
# the arm64 -dev packages from Debian's multiarch (apt installs the amd64 ones
# at the same version beside them), qemu-user to run arm64 binaries (called
# directly, so binfmt_misc is not needed), lintian, systemd for systemd-analyze
# (installed, never run as init here), and debootstrap and systemd-container
# (systemd-nspawn) to boot a minimal Debian whose systemd runs the unit.
DEPLOY_PACKAGES="gcc-aarch64-linux-gnu libc6-dev-arm64-cross libmicrohttpd-dev:arm64 libcurl4-openssl-dev:arm64 libcjson-dev:arm64"
DEPLOY_PACKAGES_SLIM="qemu-user lintian systemd debootstrap systemd-container"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing_of() {
    local p missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    echo "$missing"
}

apt_install() {  # apt_install [apt-get options] PACKAGE...
    echo "dev.sh: installing: $*" >&2
    if [ -z "${apt_updated:-}" ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

install_deps() {  # install_deps build|test
    local missing slim=""
    missing=$(missing_of $BUILD_PACKAGES)
    if [ "$1" = test ]; then
        missing="$missing$(missing_of $TEST_PACKAGES)"
        slim=$(missing_of $TEST_PACKAGES_SLIM)
        command -v node >/dev/null && command -v npm >/dev/null || missing="$missing nodejs npm"
        if ! dpkg --print-foreign-architectures | grep -qx arm64; then
            as_root dpkg --add-architecture arm64
            apt_updated=""
        fi
        missing="$missing$(missing_of $DEPLOY_PACKAGES)"
        slim="$slim$(missing_of $DEPLOY_PACKAGES_SLIM)"
    fi
    if [ -n "$missing" ]; then apt_install $missing; fi
    if [ -n "$slim" ]; then apt_install --no-install-recommends $slim; fi
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
    # TIERGATE_BUILD_DIR: the suite's node-less demo check builds elsewhere.
    local dir=${TIERGATE_BUILD_DIR:-build}
    install_deps build
    build "$dir"
    local pids=()
    trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
    "$dir"/fakellm --port 8081 --model "qwen2.5-1.5b-instruct (simulated)" --label device --quiet >/dev/null &
    pids+=($!)
    "$dir"/fakellm --port 8082 --model "deepseek-chat (simulated)" --label cloud --quiet >/dev/null &
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
    "$dir"/tiergate --config config/demo.json &
    pids+=($!)
    wait "${pids[-1]}"
}

run_suite() {
    install_deps test
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
    run_deploy_checks
}

# The deployment checks, each timed: node-less demo, the amd64 package (from
# the gcc build), that package's unit run by a booted systemd, the arm64
# build under qemu-user and its package.  The node
# tests must have been in both builds of the suite, so a machine without node
# cannot pass the suite by leaving them out.
run_deploy_checks() {
    local d job t0
    for d in build build-asan; do
        grep -q "integration\.routing" <<<"$(cd "$d" && ctest -N)" || { echo "dev.sh: $d has no node tests" >&2; return 1; }
    done
    for job in nonode-demo "package build" "unit build" arm64; do
        echo "== deployment check: $job =="
        t0=$SECONDS
        .ci/deploy-checks.sh $job
        echo "== deployment check: $job: passed in $((SECONDS - t0)) s =="
    done
}

case "${1:-}" in
    demo) demo ;;
    test) run_suite ;;
    build) install_deps build; build build ;;
    deploy-checks) install_deps test; run_deploy_checks ;;   # after a ./dev.sh test
    *) echo "usage: $0 demo|test|build|deploy-checks" >&2; exit 2 ;;
esac
