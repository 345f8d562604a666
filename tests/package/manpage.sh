#!/bin/sh
# manpage.sh TIERGATE MANPAGE: the man page documents every flag --help
# lists, and lists no flag the binary does not have.
set -eu
bin=$1 man=$2
help=$("$bin" --help)
flags() { grep -oE -- '(^|[^a-z-])(--[a-z][a-z-]*|-[a-z])\b' | grep -oE -- '-+[a-z-]+' | sort -u; }
from_help=$(printf '%s\n' "$help" | flags)
from_man=$(sed -n 's/\\-/-/g; /^\.SH OPTIONS/,/^\.SH /p' "$man" | flags)
[ -n "$from_help" ] || { echo "no flags found in --help" >&2; exit 1; }
if [ "$from_help" != "$from_man" ]; then
    echo "flags in --help:" >&2; printf '%s\n' "$from_help" >&2
    echo "flags in $man:" >&2; printf '%s\n' "$from_man" >&2
    exit 1
fi
# Every flag that answers by itself works (the others start or check a
# gateway and are run by the integration tests); an unknown one is refused.
for f in $from_help; do
    case $f in --config|--listen|--check|--debug) continue ;; esac
    "$bin" "$f" >/dev/null
done
if "$bin" --no-such-flag >/dev/null 2>&1; then echo "an unknown flag was accepted" >&2; exit 1; fi
echo "flags documented: $(echo $from_help)"
