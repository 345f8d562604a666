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
#   unit BUILD         the unit started by a real systemd: BUILD's package
#                      installed in a minimal Debian (debootstrap, kept in
#                      BUILD/unit-root) booted by systemd-nspawn, the
#                      gateway enabled, asked, reloaded and stopped with
#                      systemctl, its state files and journal checked
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

    # The unit, as installed into a root that has systemd's targets and the
    # shell its ExecReload runs.
    mkdir -p "$root/usr/lib/systemd/system" "$root/bin"
    cp /lib/systemd/system/*.target "$root/usr/lib/systemd/system/"
    cp /bin/sh "$root/bin/"
    local unit=$root/lib/systemd/system/tiergate.service verify
    verify=$(MANPATH=$root/usr/share/man systemd-analyze verify --root="$root" "$unit" 2>&1) ||
        { echo "$verify" >&2; fail "systemd-analyze verify"; }
    [ -z "$verify" ] || { echo "$verify" >&2; fail "systemd-analyze verify warned"; }
    grep -qF "ExecReload=/bin/sh -c 'kill -HUP \$\$MAINPID'" "$unit" || fail "unit: ExecReload"
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

# build_package BUILD: builds BUILD's Debian package, prints its path.
build_package() {
    rm -f "$1"/tiergate_*.deb
    cmake -S . -B "$1" -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
    cmake --build "$1" --target package >/dev/null
    ls "$1"/tiergate_*.deb
}

# package BUILD ARCH [EMULATOR]: EMULATOR runs the package's binary.
package() {
    local deb
    deb=$(build_package "$1")
    check_package "$deb" "$2" "${3:-}"
}

# ----------------------------------------------------------------------- unit

# debian_mirror: the Debian mirror apt uses for this release (one-line or
# deb822 sources), the one debootstrap can reach.
debian_mirror() {
    local c=$1 url
    url=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk -v c="$c" '
        $1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
                      if ($(i + 1) == c) { print $i; exit } }')
    [ -n "$url" ] || url=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v c="$c" 'BEGIN { RS = "" } {
        t = u = s = ""; n = split($0, l, "\n")
        for (i = 1; i <= n; i++) {
            if (l[i] ~ /^Types:/) t = l[i]; else if (l[i] ~ /^URIs:/) u = l[i]; else if (l[i] ~ /^Suites:/) s = l[i]
        }
        if (t ~ /[ \t]deb([ \t]|$)/ && (s " ") ~ ("[ \t]" c "[ \t]")) { split(u, w, /[ \t]+/); print w[2]; exit }
    }')
    [ -n "$url" ] || fail "no Debian mirror for $c in /etc/apt/sources.list*"
    echo "$url"
}

# unit_root DIR PACKAGES: a minimal Debian of this machine's release with
# systemd and PACKAGES, made by debootstrap unless DIR.stamp says DIR is
# already that (a developer's second run; CI's machine is always fresh).
# The container boots it with --volatile=overlay, so it stays as made.
unit_root() {
    local dir=$1 pkgs=$2 codename mirror want t0=$SECONDS
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    mirror=$(debian_mirror "$codename")
    want="$codename minbase systemd $pkgs $mirror"
    [ -f "$dir.stamp" ] && [ "$(cat "$dir.stamp")" = "$want" ] && return 0
    rm -rf "$dir" "$dir.stamp"
    debootstrap --variant=minbase --include="systemd,${pkgs// /,}" "$codename" "$dir" "$mirror" >"$dir.log" 2>&1 ||
        { tail -30 "$dir.log" >&2; fail "debootstrap $codename from $mirror"; }
    echo "$want" >"$dir.stamp"
    say "unit: debootstrap $codename (minbase, systemd, $pkgs) from $mirror in $((SECONDS - t0)) s, $(du -sm "$dir" | cut -f1) MB"
}

# unit BUILD: BUILD's package, installed in a booted minimal Debian, run as
# the service.  Root only: systemd-nspawn boots a container as root, and a
# check that cannot run fails.
unit() {
    local build=$1 deb deps
    [ "$(id -u)" = 0 ] || fail "unit: needs root (systemd-nspawn)"
    command -v systemd-nspawn >/dev/null && command -v debootstrap >/dev/null ||
        fail "unit: needs systemd-nspawn (systemd-container) and debootstrap"
    deb=$(build_package "$build")
    # The runtime libraries the package names, so a missing Depends shows.
    deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -vx libc6 | sort | tr '\n' ' ')
    unit_root "$PWD/$build/unit-root" "${deps% }"
    unshare --net -- "$0" unit-inside "$PWD/$build/unit-root" "$PWD/$deb" "$PWD/$build"
}

# in_ct COMMAND...: runs COMMAND in the container, in every namespace of its
# init (there is no machined outside to ask: systemd is not init here).
in_ct() { nsenter -t "$ct_init" -a -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

unit_cleanup() {
    if [ -n "${nspawn:-}" ] && kill -0 "$nspawn" 2>/dev/null; then
        kill -TERM "$nspawn"   # nspawn asks the container's systemd to power off
        local i
        for ((i = 0; i < 300; i++)); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$nspawn" 2>/dev/null || true
    fi
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}

# unit_fail MESSAGE: the unit's status and journal, then fail.
unit_fail() {
    in_ct systemctl status --no-pager tiergate >&2 || true
    in_ct journalctl --no-pager -o cat -u tiergate >&2 || true
    fail "unit: $*"
}

# chat BODY [CURL ARGS...]: a chat request, with the client key if there is
# one; prints the headers, the body goes to $work/answer.
chat() {
    local body=$1 auth=()
    shift
    [ -z "$client_key" ] || auth=(-H "Authorization: Bearer $client_key")
    curl -s --max-time 20 -D - -o "$work/answer" localhost:8088/v1/chat/completions \
        -H 'Content-Type: application/json' "${auth[@]}" "$@" -d "$body"
}

# unit_inside ROOTFS DEB BUILD: in a network namespace of our own, which the
# container shares (no --private-network): the simulated device tier on
# 127.0.0.1:8080, the simulated cloud on 127.0.0.1:8081 under the name
# cloud-sim (so that libcurl resolves a name inside the sandbox), the
# gateway on 127.0.0.1:8088.
unit_inside() {
    local rootfs=$1 deb=$2 build=$3 i
    ip link set lo up
    work=$(mktemp -d /tmp/tiergate-unit.XXXXXX) pids=() nspawn="" client_key=sk-ci-client-0123456789   # global, for the trap
    trap unit_cleanup EXIT
    cp "$deb" "$work/tiergate.deb"
    # The installed configuration's backends, with the answer cache, a
    # budget and the request log in the directories the unit makes, and
    # client keys from the unit's EnvironmentFile.
    cat >"$work/tiergate.json" <<'JSON'
{
  "listen": "127.0.0.1:8088",
  "backends": [
    {"name": "llama-local", "tier": "device", "url": "http://127.0.0.1:8080/v1", "model": "qwen2.5-1.5b-instruct",
     "dialect": "compat", "health_path": "/health"},
    {"name": "deepseek", "tier": "cloud", "url": "http://cloud-sim:8081/v1", "model": "deepseek-chat",
     "api_key_env": "DEEPSEEK_API_KEY", "dialect": "compat", "health_path": "/health",
     "price": {"input_per_mtok": 0.28, "output_per_mtok": 0.42}}
  ],
  "routing": {"threshold": 0.3, "fallback": true},
  "health": {"probe_interval_ms": 1000},
  "auth": {"keys_env": "TIERGATE_CLIENT_KEYS"},
  "cache": {"mode": "offline", "file": "/var/lib/tiergate/answers.cache"},
  "budget": {"daily": 5.0, "state_file": "/var/lib/tiergate/budget.state"},
  "log": {"file": "/var/log/tiergate/requests.log"}
}
JSON
    printf 'DEEPSEEK_API_KEY=sk-ci-not-a-key\nTIERGATE_CLIENT_KEYS=ci:%s\n' "$client_key" >"$work/tiergate.env"

    # The cloud answers 60 000 bytes, so that two dozen answers to one
    # question make the cache's file outgrow twice its live bytes plus 1 MiB
    # and be compacted by a forked child.
    local reply
    reply=$(printf 'lorem %.0s' $(seq 10000))
    "$build/fakellm" --port 8080 --model qwen2.5-1.5b-instruct --label device --quiet >/dev/null &
    pids+=($!)
    "$build/fakellm" --port 8081 --model deepseek-chat --label cloud --quiet --mode "{\"reply\":\"$reply\"}" >/dev/null &
    pids+=($!)

    # --register=no --keep-unit: no machined and no systemd outside to ask
    # for a scope.  --volatile=overlay: what the test writes is on a tmpfs
    # over the root, gone at the end.
    systemd-nspawn --quiet --boot --register=no --keep-unit --volatile=overlay --console=passive \
        -D "$rootfs" -M tiergate-ci --bind-ro="$work:/mnt/ci" >"$work/nspawn.log" 2>&1 &
    nspawn=$!
    ct_init=""
    for ((i = 0; i < 100; i++)); do
        local p
        p=$(pgrep -P "$nspawn" || true)
        [ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd ] && { ct_init=$p; break; }
        sleep 0.1
    done
    [ -n "$ct_init" ] || { cat "$work/nspawn.log" >&2; fail "unit: systemd-nspawn started no systemd"; }
    local state="" t0=$SECONDS
    for ((i = 0; i < 600; i++)); do
        state=$(in_ct systemctl is-system-running --wait 2>/dev/null) || true
        case $state in running | degraded) break ;; *) state=""; sleep 0.1 ;; esac
    done
    [ -n "$state" ] || { cat "$work/nspawn.log" >&2; fail "unit: the container's systemd did not finish booting"; }
    [ "$state" = running ] || in_ct systemctl --failed --no-pager >&2
    say "unit: the container booted ($state) in $((SECONDS - t0)) s"

    # Installed as an operator would: the package, then the configuration
    # and the keys, then enable --now.
    in_ct dpkg -i /mnt/ci/tiergate.deb >/dev/null || fail "unit: dpkg -i in the container"
    in_ct cp /etc/tiergate/tiergate.json /root/shipped.json
    in_ct sh -c 'echo "127.0.0.1 cloud-sim" >>/etc/hosts'
    in_ct install -m 644 /mnt/ci/tiergate.json /etc/tiergate/tiergate.json
    in_ct install -m 600 /mnt/ci/tiergate.env /etc/tiergate/tiergate.env
    in_ct systemctl enable --now tiergate 2>/dev/null || unit_fail "systemctl enable --now"
    wait_ready http://127.0.0.1:8088 || unit_fail "/readyz never answered 200"
    [ "$(in_ct systemctl is-active tiergate)" = active ] || unit_fail "not active"
    local main uid
    main=$(in_ct systemctl show -P MainPID tiergate)
    uid=$(in_ct stat -c %u "/proc/$main")
    [ "$uid" -ge 61184 ] && [ "$uid" -le 65519 ] || unit_fail "runs as uid $uid, not a dynamic user"
    nofile=$(in_ct awk '/^Max open files/ {print $4}' "/proc/$main/limits")
    [ "$nofile" = 8192 ] || unit_fail "open-file limit $nofile, not the unit's LimitNOFILE=8192"

    # Keys reach the gateway from the EnvironmentFile; the device answers a
    # simple request, the cloud (a name resolved in the sandbox) a hard one.
    local h
    h=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' localhost:8088/v1/chat/completions \
        -H 'Content-Type: application/json' -d '{"model":"auto","messages":[{"role":"user","content":"hi"}]}')
    [ "$h" = 401 ] || unit_fail "a request without a client key got $h"
    h=$(chat '{"model":"auto","messages":[{"role":"user","content":"打开空调"}]}') || unit_fail "no answer"
    grep -q "^HTTP/1.1 200" <<<"$h" && grep -qi "^X-Tiergate-Backend: llama-local" <<<"$h" &&
        grep -q '\[device simulated\] You said: 打开空调' "$work/answer" ||
        { echo "$h" >&2; unit_fail "a simple request was not answered by the device"; }
    local hard='{"model":"auto","temperature":0,"messages":[{"role":"user","content":"Prove that there are infinitely many primes, step by step, and derive the prime number theorem bound."}]}'
    for ((i = 0; i < 24; i++)); do
        h=$(chat "$hard") || unit_fail "no answer"
        grep -q "^HTTP/1.1 200" <<<"$h" && grep -qi "^X-Tiergate-Backend: deepseek" <<<"$h" &&
            grep -q '"content":"lorem lorem' "$work/answer" ||
            { echo "$h" >&2; unit_fail "a hard request was not answered by the cloud"; }
    done

    # State where the unit lets it be: the budget's file (written within a
    # second of a charge), and the cache's, compacted by its child: 24
    # stored answers of 60 kB appended 1.44 MB; compaction starts past 20 of
    # them (twice one live answer plus 1 MiB), and leaves the live one and
    # at most the few appended after it.
    local size="" stores appended=$((24 * 60000))
    for ((i = 0; i < 100; i++)); do
        stores=$(curl -s --max-time 5 -H "Authorization: Bearer $client_key" localhost:8088/metrics |
            awk '$1 == "tiergate_cache_stores_total" {print $2}')
        size=$(in_ct stat -c %s /var/lib/tiergate/answers.cache 2>/dev/null || true)
        [ "$stores" = 24 ] && [ -n "$size" ] && [ "$size" -ge 60000 ] && [ "$size" -lt $((appended / 2)) ] &&
            ! in_ct test -e /var/lib/tiergate/answers.cache.tmp && break
        sleep 0.1
    done
    [ "$stores" = 24 ] || unit_fail "the cache stored $stores answers, not 24"
    [ -n "$size" ] && [ "$size" -ge 60000 ] && [ "$size" -lt $((appended / 2)) ] ||
        unit_fail "the cache's file (${size:-no} bytes after $appended appended) was not compacted"
    in_ct test -s /var/lib/tiergate/budget.state || unit_fail "no budget state file in /var/lib/tiergate"
    in_ct test -L /var/lib/tiergate || unit_fail "/var/lib/tiergate is not DynamicUser's link to private/"
    [ "$(in_ct stat -c %u /var/lib/private/tiergate/budget.state)" = "$uid" ] || unit_fail "budget.state is not the service's"
    local lines
    lines=$(in_ct cat /var/log/tiergate/requests.log | grep -c '"status":200' || true)
    [ "$lines" -ge 25 ] || unit_fail "the request log in /var/log/tiergate has $lines answered requests"

    # systemctl reload: SIGHUP, the same process, still active.
    in_ct systemctl reload tiergate || unit_fail "systemctl reload"
    for ((i = 0; i < 50; i++)); do
        in_ct journalctl --no-pager -o cat -u tiergate | grep -q '"msg":"configuration reloaded"' && break
        sleep 0.1
    done
    ((i < 50)) || unit_fail "no 'configuration reloaded' after systemctl reload"
    [ "$(in_ct systemctl is-active tiergate)" = active ] && [ "$(in_ct systemctl show -P MainPID tiergate)" = "$main" ] ||
        unit_fail "not the same active process after reload"

    # systemctl stop with a stream in flight: the stream ends with [DONE]
    # (the drain), the process exits 0, well within TimeoutStopSec.
    chat '{"model":"auto","stream":true,"messages":[{"role":"user","content":"hi fake:chunks=10 fake:chunk_delay_ms=200"}]}' \
        -N >"$work/stream.h" &
    local streamer=$!
    for ((i = 0; i < 50; i++)); do grep -q '^data: ' "$work/answer" 2>/dev/null && break; sleep 0.1; done
    ((i < 50)) || unit_fail "the stream did not start"
    local t1=$SECONDS stopped
    in_ct systemctl stop tiergate || unit_fail "systemctl stop"
    stopped=$((SECONDS - t1))
    wait "$streamer" || true
    grep -q '^data: \[DONE\]' "$work/answer" || { cat "$work/answer" >&2; unit_fail "the stream in flight was cut by the stop"; }
    ((stopped < 40)) || unit_fail "stop took $stopped s"
    local show
    show=$(in_ct systemctl show -p Result -p ExecMainCode -p ExecMainStatus -p NRestarts tiergate | sort | tr '\n' ' ')
    [ "$show" = "ExecMainCode=1 ExecMainStatus=0 NRestarts=0 Result=success " ] || unit_fail "after stop: $show"

    # The journal: no warning or error from the gateway, no process killed
    # (a system call outside the filter would be EPERM, which the gateway
    # reports, or SIGSYS).
    local journal
    journal=$(in_ct journalctl --no-pager -o cat -u tiergate)
    ! grep -E '"level":"(warn|error)"|Failed|code=killed|core-dump|SIGSYS|status=31|seccomp' <<<"$journal" >&2 ||
        unit_fail "the journal has warnings or a killed process"

    # The shipped configuration as it is, under the same unit: the device
    # answers, and the real cloud's name cannot be resolved (the namespace
    # has no route to the name server), so a hard request falls back to it.
    in_ct install -m 644 /root/shipped.json /etc/tiergate/tiergate.json
    in_ct systemctl start tiergate || unit_fail "systemctl start with the shipped configuration"
    wait_ready http://127.0.0.1:8088 || unit_fail "/readyz never answered 200 with the shipped configuration"
    client_key=""
    h=$(chat '{"model":"auto","messages":[{"role":"user","content":"打开空调"}]}') || unit_fail "no answer"
    grep -q "^HTTP/1.1 200" <<<"$h" && grep -qi "^X-Tiergate-Backend: llama-local" <<<"$h" ||
        { echo "$h" >&2; unit_fail "shipped configuration: a simple request was not answered by the device"; }
    h=$(chat "$hard") || unit_fail "no answer"
    grep -q "^HTTP/1.1 200" <<<"$h" && grep -qi "^X-Tiergate-Backend: llama-local" <<<"$h" &&
        grep -qiE "^X-Tiergate-Reason: (fallback|offline)" <<<"$h" ||
        { echo "$h" >&2; unit_fail "shipped configuration: a hard request did not fall back to the device"; }
    in_ct systemctl stop tiergate || unit_fail "systemctl stop"
    show=$(in_ct systemctl show -p Result -p ExecMainCode -p ExecMainStatus -p NRestarts tiergate | sort | tr '\n' ' ')
    [ "$show" = "ExecMainCode=1 ExecMainStatus=0 NRestarts=0 Result=success " ] ||
        unit_fail "shipped configuration, after stop: $show"
    say "unit: installed in a booted Debian ($(in_ct systemctl --version | head -1)), the sandboxed service answered the device and the cloud, stored and compacted its cache ($size bytes left of 24 stores) and its budget in /var/lib/tiergate, reloaded, and stopped in ${stopped} s with a stream drained; with the shipped configuration it answered from the device and fell back to it from the unreachable cloud"
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
    unit) unit "${2:?build directory}" ;;
    unit-inside) unit_inside "$2" "$3" "$4" ;;
    arm64) arm64 ;;
    *) echo "usage: $0 nonode-demo|package BUILD [ARCH]|unit BUILD|arm64" >&2; exit 2 ;;
esac
