#!/usr/bin/env bash
# The docs check (part of the test command through ctest, label `docs`): design notes must stay
# true to the tree.
#
#   bash scripts/check-docs.sh [--root DIR] [--notes DIR]
#
#   1. every source path a note cites (a word starting with src/, include/, tests/, bench/,
#      scripts/, cmake/ or design-notes/) exists under the root;
#   2. every C++ symbol a note cites in backticks as A::B (or spindle::f) names identifiers
#      that occur in the root's include/, src/, tests/ or bench/ (std::, boost:: and the Rust
#      crates' paths are not checked);
#   3. every note's "## Status" section names a commit (`abc1234`) that exists in the root's git
#      repository. Without git, or in a shallow clone that lacks the commit, this part is
#      skipped with a message saying so;
#   4. a note whose status is "accepted" says "not yet" nowhere.
#
# Exit status 0 when every note passes; otherwise 1, with one line per problem:
#   design-notes/0003-blocking-waits.md: cites src/wait/gone.cpp, which does not exist
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
notes=""
while [ $# -gt 0 ]; do
    case $1 in
    --root) root=$(cd "$2" && pwd) || exit 2; shift 2 ;;
    --notes) notes=$(cd "$2" && pwd) || exit 2; shift 2 ;;
    *) echo "check-docs: unknown argument '$1' (use --root DIR, --notes DIR)" >&2; exit 2 ;;
    esac
done
[ -n "$notes" ] || notes="$root/design-notes"

shopt -s nullglob
files=("$notes"/[0-9][0-9][0-9][0-9]-*.md)
if [ ${#files[@]} -eq 0 ]; then
    echo "check-docs: no notes (NNNN-*.md) in $notes" >&2
    exit 1
fi

git_mode=full
if ! git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
    git_mode=none
    echo "check-docs: $root is not a git checkout: the commits named in status lines are not checked"
elif [ "$(git -C "$root" rev-parse --is-shallow-repository 2>/dev/null)" = true ]; then
    git_mode=shallow
fi

# Identifiers of the tree, once (word list of the C++ sources).
words=$(mktemp)
trap 'rm -f "$words"' EXIT
find "$root/include" "$root/src" "$root/tests" "$root/bench" -type f \
    \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' -o -name '*.rs' \) -print0 2>/dev/null |
    xargs -0 grep -ohE '[A-Za-z_~][A-Za-z0-9_]*' 2>/dev/null | sort -u >"$words"

problems=0
problem() {
    echo "$1: $2"
    problems=$((problems + 1))
}

for f in "${files[@]}"; do
    name="design-notes/$(basename "$f")"

    # 1. Paths.
    while IFS= read -r p; do
        case $p in                     # the character before the path, unless it starts a line
        src/* | include/* | tests/* | bench/* | scripts/* | cmake/* | design-notes/*) ;;
        *) p=${p#?} ;;
        esac
        p=${p%%#*}                     # an anchor
        p=$(printf '%s' "$p" | sed -E 's/[.,:;)]+$//; s/:[0-9]+(-[0-9]+)?$//')
        case $p in *'<'* | *'*'* | *'{'* | *'…'* | *'...'*) continue ;; esac
        # design-notes/0006: the note's number alone.
        if [[ $p =~ ^design-notes/[0-9]{4}$ ]]; then
            compgen -G "$root/$p-*.md" >/dev/null || problem "$name" "cites $p, which is no note"
            continue
        fi
        [ -e "$root/$p" ] || problem "$name" "cites $p, which does not exist"
    done < <(grep -oE '(^|[][[:space:]`("|])(src|include|tests|bench|scripts|cmake|design-notes)/[A-Za-z0-9_./+#:{},-]*' "$f" | sort -u)

    # 2. Symbols in backticks.
    while IFS= read -r s; do
        s=${s#\`}
        s=${s%\`}
        s=${s%%(*}
        case $s in
        std::* | boost::* | rayon* | rustc* | crossbeam* | jobserver::* | tokio* | libc::* | core::* | alloc::*) continue ;;
        # Names of rustc's fork of rayon-core (design-notes/0008 maps them to spindle).
        Registry::current | ThreadPoolBuilder::* | Builder::* | tlv::* | ScopeFifo::* | Scope::spawn_broadcast | HeapJob::* | StackJob::*) continue ;;
        esac
        IFS=':' read -ra parts <<<"$s"
        for part in "${parts[@]}"; do
            [ -n "$part" ] || continue
            case $part in spindle | detail) continue ;; esac
            grep -qxF -- "$part" "$words" || { problem "$name" "cites \`$s\`: '$part' is not in include/, src/, tests/ or bench/"; break; }
        done
    done < <(grep -oE '`[A-Za-z_][A-Za-z0-9_]*(::~?[A-Za-z_][A-Za-z0-9_]*)+(\(\))?`' "$f" | sort -u)

    # 3. The status names a commit.
    status=$(awk '/^## Status/{on=1; next} /^## /{on=0} on' "$f")
    if [ -z "$(printf '%s' "$status" | tr -d '[:space:]')" ]; then
        problem "$name" "has no '## Status' section"
    else
        commits=$(printf '%s\n' "$status" | grep -oE '`[0-9a-f]{7,40}`' | tr -d '`')
        if [ -z "$commits" ]; then
            problem "$name" "status names no commit (write it in backticks: \`abc1234\`)"
        elif [ "$git_mode" != none ]; then
            for c in $commits; do
                if ! git -C "$root" rev-parse --verify --quiet "$c^{commit}" >/dev/null; then
                    if [ "$git_mode" = shallow ]; then
                        echo "check-docs: $name: commit $c is not in this shallow clone; not checked"
                    else
                        problem "$name" "status names commit $c, which does not exist"
                    fi
                fi
            done
        fi
        # 4. Accepted notes are done.
        if printf '%s' "$status" | grep -qiE '^[[:space:]*]*accepted'; then
            if grep -qi 'not yet' "$f"; then
                problem "$name" "is accepted but says \"not yet\" (line $(grep -ni 'not yet' "$f" | head -1 | cut -d: -f1))"
            fi
        fi
    fi
done

if [ $problems -ne 0 ]; then
    echo "check-docs: $problems problem(s) in ${#files[@]} notes"
    exit 1
fi
echo "check-docs: ${#files[@]} notes OK"
