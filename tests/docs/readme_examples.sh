#!/usr/bin/env bash
# The ctest test docs.readme_examples (cmake/spindle-tests.cmake): every ```cpp block of the
# README compiles as a user's code would (-std=c++20 -Wall -Wextra -Werror, spindle's headers
# and library only), links and runs with exit status 0.
#
#   readme_examples.sh README WORK_DIR CXX "INCLUDE_DIRS" LINK_ITEMS...
#
# A block with its own `int main(` is a whole program. Any other block is a fragment: it
# becomes the body of main() after #include <spindle/spindle.hpp> and the standard headers a
# fragment may use (<cstdint>, <mutex>, <vector>), with `spindle::ThreadPool pool;` declared
# first unless the fragment declares its own `pool`.
set -uo pipefail

if [ $# -lt 5 ]; then
    echo "usage: readme_examples.sh README WORK_DIR CXX \"INCLUDE_DIRS\" LINK_ITEMS..." >&2
    exit 2
fi
readme=$1 work=$2 cxx=$3 includes=$4
shift 4
links=("$@")

rm -rf "$work" && mkdir -p "$work" || exit 2
inc=()
for d in $includes; do inc+=("-I$d"); done

# Split the README into one file per block: example_N.body, its first line in example_N.line.
awk -v dir="$work" '
    !inblock && /^```cpp[ \t]*$/ { inblock = 1; n++; print NR + 1 > (dir "/example_" n ".line"); next }
    inblock && /^```[ \t]*$/     { inblock = 0; next }
    inblock                      { print > (dir "/example_" n ".body") }
' "$readme"

count=0 failed=0
for body in "$work"/example_*.body; do
    [ -e "$body" ] || break
    count=$((count + 1))
    stem=${body%.body}
    line=$(cat "$stem.line")
    src=$stem.cpp
    if grep -q 'int main(' "$body"; then
        { echo "// README.md line $line"; cat "$body"; } > "$src"
    else
        pool='    spindle::ThreadPool pool;'
        grep -Eq 'ThreadPool pool[({;]' "$body" && pool=''
        {
            echo "// README.md line $line (fragment)"
            printf '#include <spindle/spindle.hpp>\n\n#include <cstdint>\n#include <mutex>\n#include <vector>\n\n'
            echo 'int main() {'
            [ -n "$pool" ] && echo "$pool"
            cat "$body"
            echo '}'
        } > "$src"
    fi
    if ! "$cxx" -std=c++20 -Wall -Wextra -Werror "${inc[@]}" "$src" -o "$stem" "${links[@]}" -pthread \
            > "$stem.log" 2>&1; then
        echo "README.md line $line: does not compile warning-free under -Wall -Wextra -Werror:"
        sed 's/^/    /' "$stem.log"
        failed=$((failed + 1))
        continue
    fi
    if ! (cd "$work" && timeout 60 "$stem") > "$stem.out" 2>&1; then
        echo "README.md line $line: the program exits with status $? :"
        sed 's/^/    /' "$stem.out"
        failed=$((failed + 1))
        continue
    fi
    echo "README.md line $line: compiles warning-free and runs"
done

if [ "$count" -eq 0 ]; then
    echo "no \`\`\`cpp block in $readme"
    exit 1
fi
if [ "$failed" -ne 0 ]; then
    echo "$failed of $count README examples fail"
    exit 1
fi
echo "all $count C++ examples of README.md compile under -Wall -Wextra -Werror and run"
