#!/usr/bin/env bash
# peers-run.sh [peers.sh options...]: the yardstick (../shared/bench/peers.sh)
# with tiergate as its gateway peer, one command.  tiergate runs on the bench
# configuration (gateway.sh): both backends point at the yardstick's mock,
# the shipped classifier routes every request ("gpt-4o-mini" is aliased to
# "auto"), privacy redact mode scans every request, and clients authenticate
# with a key.  Extra arguments go to peers.sh, e.g. --repeat 3 or --quick.
# Output: peers.sh's, then tiergate's figures relative to nginx's of the
# same run.  Needs a Release build at build-release/ (or TIERGATE=path).
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SHARED=${SHARED_BENCH:-$HERE/../../shared/bench}
[ -x "$SHARED/peers.sh" ] || SHARED=/work/shared/bench
TG=${TIERGATE:-$HERE/../build-release/tiergate}
[ -x "$TG" ] || { echo "no tiergate binary at $TG" >&2; exit 1; }
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
"$SHARED/peers.sh" --gateway-cmd "$HERE/gateway.sh {UPSTREAM_URL} 18090 $TG" --gateway-port 18090 \
  --gateway-name tiergate --gateway-header 'Authorization: Bearer tg-bench-key-0123456789' "$@" | tee "$OUT"
rc=${PIPESTATUS[0]}
echo
echo "=== tiergate relative to nginx (and Portkey), same run ==="
awk '
  /^=== Non-streaming/ { sec = "ns"; next }
  /^=== Streaming/ { sec = "st"; next }
  /^=== Memory/ { sec = "mem"; next }
  sec == "ns" && $2 ~ /^[0-9]+$/ { rps[$1, $2] = $3; o50[$1, $2] = $7; cpu[$1, $2] = $12 }
  sec == "st" && $3 ~ /^[0-9]+$/ { ttfb[$1, $2 "/" $3] = $9; tot[$1, $2 "/" $3] = $10; keys[$2 "/" $3] = 1 }
  sec == "mem" && $2 ~ /^[0-9]+$/ { idle[$1] = $2; peak[$1] = $3 }
  function r(a, b) { return (b + 0 > 0) ? sprintf("%.2f", a / b) : "-" }
  END {
    n = split("1 16 64", cs, " ")
    for (i = 1; i <= n; i++) { c = cs[i]; if (!(("tiergate", c) in rps)) continue
      printf "c=%-3d throughput %s x nginx (%s vs %s req/s), %s x Portkey; added p50 %s us (nginx %s); CPU/request %s us (nginx %s)\n",
        c, r(rps["tiergate", c], rps["nginx", c]), rps["tiergate", c], rps["nginx", c], r(rps["tiergate", c], rps["portkey", c]),
        o50["tiergate", c], o50["nginx", c], cpu["tiergate", c], cpu["nginx", c] }
    for (k in keys) if ((("tiergate", k) in ttfb))
      printf "stream %s: added ttfb p50 %s us (nginx %s, %s x), added total p50 %s us (nginx %s)\n", k, ttfb["tiergate", k],
        ttfb["nginx", k], r(ttfb["tiergate", k], ttfb["nginx", k]), tot["tiergate", k], tot["nginx", k]
    printf "memory: idle %s KiB (nginx %s), peak under load %s KiB (nginx %s)\n", idle["tiergate"], idle["nginx"],
      peak["tiergate"], peak["nginx"]
  }' "$OUT"
exit "$rc"
