#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS]: builds every libFuzzer target with clang under
# ASan+UBSan into build-fuzz/ and runs each for SECONDS (default 20), one after
# another, starting from its seed corpus in tests/fuzz/corpus/<target>/.
# New inputs go to a scratch directory, never into the repository's corpus.
# Exits non-zero on the first crash, leak or failed check; the reproducer is
# left as build-fuzz/tests/crash-* and the log as build-fuzz/<target>.log.
#
#   tests/fuzz/run.sh        # CI: 20 s each
#   tests/fuzz/run.sh 1800   # a longer run: 30 min each
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
dir=build-fuzz
CC=clang cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTIERGATE_FUZZ=ON -DTIERGATE_SANITIZE=ON >/dev/null
targets=$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')
# shellcheck disable=SC2086
cmake --build "$dir" -j"$(nproc)" --target $targets >/dev/null
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for t in $targets; do
    seeds=tests/fuzz/corpus/${t#fuzz_}
    mkdir -p "$scratch/$t"
    log=$dir/$t.log
    if ! (cd "$dir/tests" && ASAN_OPTIONS=detect_leaks=1 "./$t" -max_total_time="$secs" -max_len=65536 \
            -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$scratch/$t" "../../$seeds") >"$log" 2>&1; then
        echo "$t: FAILED after $secs s (log: $log)" >&2
        tail -40 "$log" >&2
        exit 1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
    echo "$t: $secs s, $runs runs, coverage $cov, no crash"
done
