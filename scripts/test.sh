#!/usr/bin/env bash
# The test command: configure, build and test spindle under each CMake preset.
#
#   bash scripts/test.sh                  presets release, asan-ubsan, tsan (in that order)
#   bash scripts/test.sh release          only the presets named
#   SPINDLE_TEST_LABEL=core bash scripts/test.sh    only tests with that ctest label
#                                         (label rust: only rayon's suites on the binding)
#
# The release and asan-ubsan presets also run rayon 1.6.1's and rayon-core 1.10.1's own test
# suites on the Rust binding (scripts/rayon-tests.sh), linked against that preset's build.
#
# Stops at the first failing preset, then prints a summary; exit status 0 only if all passed.
set -euo pipefail
cd "$(dirname "$0")/.."

presets=("$@")
if [ ${#presets[@]} -eq 0 ]; then
    presets=(release asan-ubsan tsan)
fi

bash scripts/setup-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
ctest_args=()
if [ -n "${SPINDLE_TEST_LABEL:-}" ]; then
    ctest_args+=(-L "$SPINDLE_TEST_LABEL")
fi

# ThreadSanitizer (GCC 12's runtime) dies with "unexpected memory mapping" when the kernel
# randomises mmap with more than 28 bits. Lower the setting if we may; otherwise run the TSan
# tests with address-space randomisation off for that process tree.
tsan_prefix=()
prepare_tsan() {
    local bits
    bits=$(sysctl -n vm.mmap_rnd_bits 2>/dev/null || cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo "")
    if [ -z "$bits" ] || [ "$bits" -le 28 ]; then
        return 0
    fi
    if [ "$(id -u)" -eq 0 ] && sysctl -w vm.mmap_rnd_bits=28 >/dev/null 2>&1; then
        echo "spindle: vm.mmap_rnd_bits was $bits; set it to 28 for ThreadSanitizer (sysctl -w)"
    elif setarch "$(uname -m)" -R true >/dev/null 2>&1; then
        echo "spindle: vm.mmap_rnd_bits is $bits (> 28); running TSan tests under 'setarch $(uname -m) -R'"
        tsan_prefix=(setarch "$(uname -m)" -R)
    else
        echo "spindle: warning: vm.mmap_rnd_bits is $bits (> 28) and neither sysctl nor setarch -R"
        echo "spindle: works here; ThreadSanitizer may fail with 'unexpected memory mapping'"
    fi
}

declare -A result=()
declare -A seconds=()
passed=0
failed=0

run_preset() {
    local preset=$1 prefix=()
    if [ "$preset" = tsan ]; then
        prepare_tsan
        prefix=("${tsan_prefix[@]}")
    fi
    cmake --preset "$preset" || { result[$preset]="FAIL (configure)"; return 1; }
    cmake --build --preset "$preset" -j "$jobs" || { result[$preset]="FAIL (build)"; return 1; }
    "${prefix[@]}" ctest --preset "$preset" "${ctest_args[@]}" || { result[$preset]="FAIL (test)"; return 1; }
    if { [ "$preset" = release ] || [ "$preset" = asan-ubsan ]; } &&
        { [ -z "${SPINDLE_TEST_LABEL:-}" ] || [ "$SPINDLE_TEST_LABEL" = rust ]; }; then
        SPINDLE_BUILD_DIR="$PWD/build/$preset" bash scripts/rayon-tests.sh all ||
            { result[$preset]="FAIL (rayon tests)"; return 1; }
    fi
    result[$preset]="PASS"
}

for preset in "${presets[@]}"; do
    echo
    echo "=== spindle: preset $preset${SPINDLE_TEST_LABEL:+ (label $SPINDLE_TEST_LABEL)} ==="
    start=$SECONDS
    if run_preset "$preset"; then
        passed=$((passed + 1))
        seconds[$preset]=$((SECONDS - start))
    else
        failed=$((failed + 1))
        seconds[$preset]=$((SECONDS - start))
        break
    fi
done

echo
echo "=== spindle: summary ==="
not_run=0
for preset in "${presets[@]}"; do
    if [ -n "${result[$preset]:-}" ]; then
        printf '  %-12s %-18s %5ss\n' "$preset" "${result[$preset]}" "${seconds[$preset]}"
    else
        printf '  %-12s %s\n' "$preset" "not run"
        not_run=$((not_run + 1))
    fi
done
if [ "$not_run" -gt 0 ]; then
    echo "$passed passed, $failed failed, $not_run not run"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
