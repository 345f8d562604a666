#!/usr/bin/env bash
# deploy-checks.sh: the suite's checks of tiergate as it is deployed, called
# by ./dev.sh test (each prints its own time):
#
#   nonode-demo        ./dev.sh demo with node hidden: the configure step says
#                      the node tests are off, and the demo's gateway answers
#   package BUILD [ARCH]  the Debian package BUILD built (cmake --target package):
#                      control fields, contents, lintian, the unit's
#                      systemd-analyze verify and security, and the installed
#                      binary run with the installed configuration, unpacked
#                      into a scratch root, against the simulated backends
#   arm64              the cross build (cmake/aarch64-linux-gnu.cmake): unit
#                      tests and the smoke integration tests under qemu-user,
#                      then `package` for its arm64 package
#
# Each needs root or unprivileged user namespaces: the demo and the installed
# gateway run in a network namespace of their own (fixed ports, and no way
# out to a real cloud), node is hidden by overlays in a mount namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$PWD

fail() { echo "deploy-checks: FAIL: $*" >&2; exit 1; }
say() { echo "deploy-checks: $*" >&2; }

# unshare's flags for a namespace of our own: as root directly, else as root
# of a new user namespace.
ns() { if [ "$(id -u)" = 0 ]; then unshare "$@"; else unshare --map-root-user "$@"; fi; }

# wait_for_line FILE PATTERN SECONDS: polls (0.1 s) until FILE has a line
# matching PATTERN.
wait_for_line() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# wait_ready BASE: polls BASE/readyz (0.1 s, at most 20 s) until it answers 200,
# which it does once a health probe has found a backend up.
wait_ready() {
    local i
    for ((i = 0; i < 200; i++)); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1/readyz")" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------- nonode-demo

nonode_demo() {
    ns --mount --net -- "$0" nonode-demo-inside
}

nonode_demo_inside() {
    ip link set lo up
    # node, nodejs, npm and npx are taken out of every directory that has
    # one, for this mount namespace only: an overlay whose upper layer (on a
    # tmpfs over /mnt, gone with the namespace) holds a whiteout for each, so
    # the files do not exist at all for the shell, CMake's find_program or
    # anything else.
    local hide=/mnt d n
    mount -t tmpfs tmpfs "$hide"
    for d in $( (tr ':' '\n' <<<"$PATH"; echo /usr/bin /usr/local/bin /bin) | xargs -n1 realpath -qe | sort -u); do
        local found=""
        for n in node nodejs npm npx; do [ -e "$d/$n" ] && found="$found $n"; done
        [ -n "$found" ] || continue
        local layer=$hide/$(echo "$d" | tr / _)
        mkdir -p "$layer/upper" "$layer/work"
        for n in $found; do mknod "$layer/upper/$n" c 0 0; done
        mount -t overlay overlay -o "lowerdir=$d,upperdir=$layer/upper,workdir=$layer/work" "$d"
    done
    if node --version >/dev/null 2>&1 || npm --version >/dev/null 2>&1; then fail "node is still reachable"; fi

    local dir=build-nonode
    log=/tmp/tiergate-nonode-demo.$$.log out=/tmp/tiergate-nonode-demo.$$.json   # global, for the trap
    rm -rf "$dir"
    TIERGATE_BUILD_DIR=$dir ./dev.sh demo >"$log" 2>&1 &
    demo=$!   # global: the trap runs after this function has returned
    trap 'kill "$demo" 2>/dev/null; wait "$demo" 2>/dev/null || true; rm -f "$log" "$out"' EXIT
    wait_for_line "$log" '"msg":"listening"' 300 || { cat "$log" >&2; fail "the demo did not start"; }
    grep -q "integration, compatibility and fault tests are off" "$log" ||
        { cat "$log" >&2; fail "the configure step did not say the node tests are off"; }
    # The unit tests are there, the node tests are not.
    local tests
    tests=$(cd "$dir" && ctest -N)
    grep -q "unit.test_config" <<<"$tests" || fail "no unit tests in $dir"
    ! grep -qE "(integration|compat|fault)\." <<<"$tests" || fail "node tests registered without node"
    # The demo's request (README): a simple one, answered by the device tier.
    wait_ready http://127.0.0.1:8088 || fail "the demo's gateway never became ready"
    local headers
    headers=$(curl -s --max-time 10 -D - -o "$out" localhost:8088/v1/chat/completions \
        -H 'Content-Type: application/json' \
        -d '{"model":"auto","messages":[{"role":"user","content":"打开空调"}]}') || fail "the demo's gateway did not answer"
    grep -q "^HTTP/1.1 200" <<<"$headers" || { echo "$headers" >&2; fail "the demo answered no 200"; }
    grep -qi "^X-Tiergate-Backend: device-sim" <<<"$headers" || { echo "$headers" >&2; fail "not routed to the device tier"; }
    grep -q '\[device simulated\] You said: 打开空调' "$out" || { cat "$out" >&2; fail "unexpected answer"; }
    say "nonode-demo: without node, ./dev.sh demo built the gateway and the unit tests, and its gateway answered from the device tier"
}

# -------------------------------------------------------------------- package

# check_package DEB ARCH [EMULATOR]
check_package() {
    local deb=$1 arch=$2 emu=${3:-}
    [ -f "$deb" ] || fail "no package $deb"
    [ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || fail "$deb: Architecture is not $arch"
    # Depends: the runtime libraries, nothing else.
    local deps
    deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//' | sort | tr '\n' ' ')
    [ "$deps" = "libc6 libcjson1 libcurl4 libmicrohttpd12 " ] || fail "$deb: Depends is '$deps'"
    # No maintainer script (nothing enables or starts the service); the
    # configuration is a conffile.
    local ctl
    ctl=$(dpkg-deb --ctrl-tarfile "$deb" | tar -t | sed 's|^\./||' | grep -v '^$' | sort | tr '\n' ' ')
    [ "$ctl" = "conffiles control md5sums " ] || fail "$deb: control members are '$ctl'"
    [ "$(dpkg-deb --info "$deb" conffiles)" = "/etc/tiergate/tiergate.json" ] || fail "$deb: conffiles"
    local want have
    want="./etc/tiergate/tiergate.json ./lib/systemd/system/tiergate.service ./usr/bin/tiergate
./usr/share/doc/tiergate/changelog.gz ./usr/share/doc/tiergate/copyright
./usr/share/doc/tiergate/examples/fleet-example.json ./usr/share/man/man1/tiergate.1.gz
./usr/share/tiergate/classifier.model ./usr/share/tiergate/demo.json"
    have=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sort | tr '\n' ' ')
    [ "$have" = "$(tr ' \n' '\n' <<<"$want" | sort | tr '\n' ' ')" ] || fail "$deb: contents are: $have"
    lintian --fail-on error,warning --tag-display-limit 0 "$deb" || fail "$deb: lintian"

    root=$(mktemp -d /tmp/tiergate-root.XXXXXX)   # global: the trap runs at exit
    trap 'rm -rf "$root"' EXIT
    dpkg -x "$deb" "$root"
    local machine
    machine=$(readelf -h "$root/usr/bin/tiergate" | awk -F': *' '/Machine/ {print $2}')
    case "$arch:$machine" in
        amd64:*X86-64* | arm64:*AArch64*) ;;
        *) fail "$deb: usr/bin/tiergate is for '$machine'" ;;
    esac
    ! grep -q '\.debug_info' <<<"$(readelf -S "$root/usr/bin/tiergate")" || fail "$deb: the binary is not stripped"

    # The unit, as installed into a root that has systemd's targets and kill.
    mkdir -p "$root/usr/lib/systemd/system" "$root/bin"
    cp /lib/systemd/system/*.target "$root/usr/lib/systemd/system/"
    cp /bin/kill "$root/bin/"
    local unit=$root/lib/systemd/system/tiergate.service verify
    verify=$(MANPATH=$root/usr/share/man systemd-analyze verify --root="$root" "$unit" 2>&1) ||
        { echo "$verify" >&2; fail "systemd-analyze verify"; }
    [ -z "$verify" ] || { echo "$verify" >&2; fail "systemd-analyze verify warned"; }
    grep -q "^ExecReload=/bin/kill -HUP \$MAINPID" "$unit" || fail "unit: ExecReload"
    ! grep -qiE "api_key|^Environment=.*KEY" "$unit" || fail "unit: a key in the unit"
    local exposure
    exposure=$(systemd-analyze security --offline=yes --root="$root" tiergate.service 2>&1 |
        sed -n 's/.*Overall exposure level for tiergate.service: \([0-9.]*\).*/\1/p')
    [ -n "$exposure" ] || fail "systemd-analyze security gave no score"
    awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "exposure $exposure is above 2.0"
    say "package $arch: unit verified, systemd-analyze security exposure $exposure"

    ns --net -- "$0" run-installed "$root" "$emu"
    say "package $arch: $(du -k "$deb" | cut -f1) KiB, Installed-Size $(dpkg-deb -f "$deb" Installed-Size) KiB; the installed gateway ran"
}

# run_installed ROOT [EMULATOR]: in a network namespace of its own, the
# unpacked gateway with the unpacked /etc/tiergate/tiergate.json, its device
# tier (127.0.0.1:8080) the simulated model server; the cloud tier is out of
# reach, as on a head unit in a tunnel.
run_installed() {
    local root=$1 emu=${2:-} conf=$1/etc/tiergate/tiergate.json
    local bin=("$root/usr/bin/tiergate")
    [ -n "$emu" ] && bin=("$emu" "$root/usr/bin/tiergate")
    ip link set lo up
    local check
    check=$(DEEPSEEK_API_KEY=sk-ci-not-a-key "${bin[@]}" --check --config "$conf" 2>/dev/null) ||
        fail "the installed binary rejected the installed configuration"
    # The model is the installed one, found beside the binary.
    grep -q "\"classifier_model\":[[:space:]]*\"$root/usr/bin/../share/tiergate/classifier.model\"" <<<"$check" ||
        { echo "$check" >&2; fail "--check names another classifier model"; }

    local log=$root/gateway.log
    pids=()   # global: the trap runs after this function has returned
    trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null || true' EXIT
    build/fakellm --port 8080 --model qwen2.5-1.5b-instruct --label device --quiet >/dev/null &
    pids+=($!)
    DEEPSEEK_API_KEY=sk-ci-not-a-key "${bin[@]}" --config "$conf" 2>"$log" &
    local gw=$!
    pids+=($gw)
    wait_for_line "$log" '"msg":"listening"' 30 || { cat "$log" >&2; fail "the installed gateway did not start"; }
    wait_ready http://127.0.0.1:8088 || { cat "$log" >&2; fail "the installed gateway never became ready"; }
    local h
    h=$(curl -s --max-time 20 -D - -o /dev/null localhost:8088/v1/chat/completions -H 'Content-Type: application/json' \
        -d '{"model":"auto","messages":[{"role":"user","content":"打开空调"}]}') || fail "no answer"
    grep -q "^HTTP/1.1 200" <<<"$h" && grep -qi "^X-Tiergate-Backend: llama-local" <<<"$h" ||
        { echo "$h" >&2; fail "a simple request was not answered by the device tier"; }
    # A complex one needs the cloud, which cannot be reached: the device answers.
    h=$(curl -s --max-time 30 -D - -o /dev/null localhost:8088/v1/chat/completions -H 'Content-Type: application/json' \
        -d '{"model":"auto","messages":[{"role":"user","content":"Prove that there are infinitely many primes, step by step, and derive the prime number theorem bound."}]}') ||
        fail "no answer"
    grep -q "^HTTP/1.1 200" <<<"$h" && grep -qi "^X-Tiergate-Backend: llama-local" <<<"$h" &&
        grep -qiE "^X-Tiergate-Reason: (fallback|offline)" <<<"$h" ||
        { echo "$h" >&2; fail "a cloud request did not fall back to the device"; }
    kill -TERM "$gw"
    wait "$gw" || fail "the installed gateway did not exit 0 on SIGTERM"
}

# package BUILD ARCH [EMULATOR]: EMULATOR runs the package's binary.
package() {
    local build=$1 arch=$2 emu=${3:-}
    rm -f "$build"/tiergate_*.deb
    cmake -S . -B "$build" -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
    cmake --build "$build" --target package >/dev/null
    check_package "$(ls "$build"/tiergate_*.deb)" "$arch" "$emu"
}

# ---------------------------------------------------------------------- arm64

arm64() {
    local dir=build-arm64
    cmake -S . -B "$dir" -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DTIERGATE_INTEGRATION_TESTS=ON >/dev/null
    cmake --build "$dir" -j"$(nproc)" >/dev/null
    grep -q AArch64 <<<"$(readelf -h "$dir/tiergate")" || fail "$dir/tiergate is not an arm64 binary"
    (cd "$dir" && ctest --output-on-failure -j2)
    local n
    n=$(cd "$dir" && ctest -N | grep -cE "integration\.(routing|streams|fallback)$")
    [ "$n" = 3 ] || fail "the arm64 smoke tests are not all registered"
    package "$dir" arm64 qemu-aarch64
}

case "${1:-}" in
    nonode-demo) nonode_demo ;;
    nonode-demo-inside) nonode_demo_inside ;;
    package) package "${2:?build directory}" "${3:-$(dpkg --print-architecture)}" ;;
    run-installed) run_installed "$2" "${3:-}" ;;
    arm64) arm64 ;;
    *) echo "usage: $0 nonode-demo|package BUILD [ARCH]|arm64" >&2; exit 2 ;;
esac
