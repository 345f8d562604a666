#!/bin/sh
# train-base.sh TRAIN EVALUATE MODEL: tiergate-train --base, the second
# stage, from the command line: the options it refuses, a base it cannot
# read, data without a second-stage feature, and a refit
# whose model loads and scores the other rows as the base does.
set -eu
train=$1 evaluate=$2 base=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
row() { printf '{"id":"%s","messages":[{"role":"user","content":"%s"}]%s,"label":"%s","licence":"tiergate"}\n' "$@"; }
tools=',"tools":[{},{},{}]'
{
    row s:1 "要是下雨的话 把窗关了 然后开内循环" "$tools" complex
    row s:2 "if it snows warm the car up, otherwise remind me at 7" "$tools" complex
    row s:3 "空调调到二十二度" "$tools" simple
    row s:4 "open the sunroof" "$tools" simple
    row s:5 "证明勾股定理" "" complex
    row s:6 "打开空调" "" simple
    row s:7 "4 of us, 3 rides each and 2 tomorrow, is the day pass cheaper" "" complex
} > "$dir/rows.jsonl"
grep -v -e '"tools"' -e 's:7' "$dir/rows.jsonl" > "$dir/plain.jsonl"
fail() { echo "$*" >&2; exit 1; }
expect() {   # expect RC PATTERN COMMAND...: exit code RC, PATTERN on stdout or stderr
    rc=$1 pattern=$2
    shift 2
    got=0
    "$@" > "$dir/out" 2>&1 || got=$?
    [ "$got" = "$rc" ] || { cat "$dir/out" >&2; fail "$*: exit $got, want $rc"; }
    grep -q -- "$pattern" "$dir/out" || { cat "$dir/out" >&2; fail "$*: no '$pattern'"; }
}
expect 2 usage "$train" --prior 0.1 --out "$dir/m" "$dir/rows.jsonl"
expect 2 usage "$train" --base "$base" --prior 0 --out "$dir/m" "$dir/rows.jsonl"
expect 2 usage "$train" --base "$base" --prior inf --out "$dir/m" "$dir/rows.jsonl"
expect 2 usage "$train" --base "$base" --cv 5 --out "$dir/m" "$dir/rows.jsonl"
expect 1 "cannot open the classifier model" "$train" --base "$dir/none.model" --out "$dir/m" "$dir/rows.jsonl"
expect 1 "no training row has a second-stage feature" "$train" --base "$base" --out "$dir/m" "$dir/plain.jsonl"
expect 1 "(tools, tool_plan, tool_branches, tool_pauses, figures, figures_choice, numbers_stated)" "$train" --base "$base" --out "$dir/m" "$dir/plain.jsonl"
[ ! -e "$dir/m" ] || fail "a failed refit wrote a model"
expect 0 "rows without a second-stage feature scored as under the base: 2 of 2" \
    "$train" --base "$base" --all --out "$dir/m" "$dir/rows.jsonl"
grep -q "refitted on 5 rows with a second-stage feature, prior 0.3:.* figures [0-9.]* -> [0-9]" "$dir/out" ||
    fail "the refit's line is missing"
# The refitted model loads where the gateway's loader is used and scores
# the other rows as the base does.
sed 's/"licence":"tiergate"/"licence":"evaluation-only"/' "$dir/plain.jsonl" > "$dir/held.jsonl"
"$evaluate" --model "$base" --rows "$dir/held.jsonl" | grep '^| s:' > "$dir/a"
"$evaluate" --model "$dir/m" --rows "$dir/held.jsonl" | grep '^| s:' > "$dir/b"
[ -s "$dir/a" ] && cmp -s "$dir/a" "$dir/b" || fail "rows without a second-stage feature score differently"
echo "tiergate-train --base: refusals, errors and a refit checked"
