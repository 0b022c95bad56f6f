#!/usr/bin/env bash
# The docs check fails on a broken citation: a fixture tree in a temp dir (a git repository
# with one commit) holds one good note and, in turn, notes with each kind of mistake.
# scripts/check-docs.sh must pass the good one and fail each bad one with a line naming it.
set -uo pipefail
check="$(cd "$(dirname "$0")/../.." && pwd)/scripts/check-docs.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src/x" "$tmp/include" "$tmp/design-notes"
printf 'struct Widget { void spin(); };\n' >"$tmp/src/x/widget.hpp"
git -C "$tmp" init -q && git -C "$tmp" add -A &&
    git -C "$tmp" -c user.name=t -c user.email=t@t commit -qm fixture || exit 2
head=$(git -C "$tmp" rev-parse --short HEAD)
fails=0

note() {  # note BODY STATUS
    rm -f "$tmp"/design-notes/*.md
    printf '# 0001 — Q?\n\n## Question\n\n%s\n\n## Status\n\n%s\n' "$1" "$2" >"$tmp/design-notes/0001-q.md"
}
expect() {  # expect pass|fail WHAT [TEXT]
    out=$(bash "$check" --root "$tmp" 2>&1)
    rc=$?
    if [ "$1" = pass ] && [ $rc -ne 0 ]; then
        echo "FAIL: $2: expected success, got rc=$rc: $out"; fails=$((fails + 1))
    elif [ "$1" = fail ] && { [ $rc -eq 0 ] || ! grep -qF -- "$3" <<<"$out"; }; then
        echo "FAIL: $2: expected failure naming '$3', got rc=$rc: $out"; fails=$((fails + 1))
    else
        echo "ok: $2"
    fi
}

note 'See `src/x/widget.hpp` and `Widget::spin`.' "Accepted. Describes \`$head\`."
expect pass "a correct note"
note 'See `src/x/gadget.hpp`.' "Proposed, \`$head\`."
expect fail "a broken path" "cites src/x/gadget.hpp, which does not exist"
note 'A path may start a line:
src/x/widget.hpp holds it.' "Accepted. Describes \`$head\`."
expect pass "a path at the start of a line"
note 'A path may start a line:
src/x/gadget.hpp holds it.' "Proposed, \`$head\`."
expect fail "a broken path at the start of a line" "cites src/x/gadget.hpp, which does not exist"
note 'See `Widget::spun`.' "Proposed, \`$head\`."
expect fail "a broken symbol" "'spun' is not in"
note 'Fine.' "Proposed, \`0123456789abcdef\`."
expect fail "an unknown commit" "names commit 0123456789abcdef, which does not exist"
note 'Fine.' "Proposed, no commit."
expect fail "no commit" "status names no commit"
note 'This is not yet done.' "Accepted, \`$head\`."
expect fail "accepted but not yet" "is accepted but says \"not yet\""
# Without git the commit is not checked, and the check says so.
rm -rf "$tmp/.git"
note 'Fine.' "Proposed, \`0123456789abcdef\`."
out=$(bash "$check" --root "$tmp" 2>&1)
if [ $? -eq 0 ] && grep -q "not a git checkout" <<<"$out"; then echo "ok: no git"; else
    echo "FAIL: no git: $out"; fails=$((fails + 1)); fi
exit $((fails != 0))
