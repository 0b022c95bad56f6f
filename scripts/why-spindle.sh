#!/usr/bin/env bash
# The measurements of design note 0014 ("why the fork, and why spindle"), side by side in one
# run, pinned to the first two CPUs of this process:
#   1. the false dependency (bench/false_dependency.cpp, bench/rayon/src/bin/false_dependency.rs):
#      rayon waiting by stealing (deadlocks), rayon waiting the fork's way (loses parallelism),
#      the same Rust program on the binding, spindle; R runs each;
#   2. the query graph (bench/workloads/query_graph.cpp, bench/rayon/src/workloads/query_graph.rs): spindle
#      (QueryMap, parking waits) against rayon waiting the fork's way, at 1 and 2 threads;
#   3. the -j1 sequential overhead: fib(30) at 1 worker against the serial fib, C++ and Rust.
#
#   bash scripts/why-spindle.sh [--runs R] [--no-build]        (default R = 10)
#
# Needs what scripts/bench.sh needs (run it once, or scripts/setup-deps.sh --bench).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=10
build=1
while [ $# -gt 0 ]; do
    case $1 in
    --runs) runs=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "usage: $0 [--runs R] [--no-build]" >&2; exit 2 ;;
    esac
done
repo=$PWD
cargo=${CARGO:-$(command -v cargo || echo "$HOME/.cargo/bin/cargo")}
if [ "$build" = 1 ]; then
    cmake --preset release >/dev/null
    cmake --build --preset release --target bench_false_dependency bench_compare >&2
    (cd bench/rayon && "$cargo" build --release --offline --target-dir target >&2)
    (cd bench/rayon-spindle && SPINDLE_BUILD_DIR="$repo/build/release" \
        "$cargo" build --release --offline --target-dir target >&2)
fi
pin="taskset -c $(taskset -pc $$ | sed 's/.*: *//' | tr ',' '\n' | sed 's/-.*//' | head -2 | paste -sd,)"
cpp=build/release
rust=bench/rayon/target/release
rust_on_spindle=bench/rayon-spindle/target/release
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }

echo "== 1. the false dependency: Q's worker waits for Q's stolen half B; task C, unrelated, asks for Q"
echo "   (B waits up to 50 ms for C to start; a run that has not completed after 2 s is a deadlock)"
printf '%-34s %10s %14s %14s\n' "system" "completed" "median ms" "C started ms"
one() {  # label, command...
    local label=$1; shift
    local ok=0 totals=() starts=() out
    for ((i = 0; i < runs; i++)); do
        out=$($pin "$@" --timeout-ms 2000 || true)
        if [ "$(printf '%s' "$out" | field completed)" = true ]; then ok=$((ok + 1)); fi
        totals+=("$(printf '%s' "$out" | field total_ms)")
        starts+=("$(printf '%s' "$out" | field c_started_ms)")
    done
    med() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
    printf '%-34s %10s %14s %14s\n' "$label" "$ok/$runs" "$(med "${totals[@]}")" "$(med "${starts[@]}")"
}
one "rayon, join steals while waiting" "$rust/false_dependency" --wait scope
one "rayon, the fork's wait (#143035)" "$rust/false_dependency" --wait fork
one "rayon on the binding, join" "$rust_on_spindle/false_dependency" --wait scope
one "spindle (QueryMap, join)" "$cpp/bench_false_dependency"

echo
echo "== 2. the query graph (4000 queries; rayon: the fork's wait, Condvar query slots)"
printf '%-10s %8s %12s %12s\n' "system" "threads" "median ms" "x 1 worker"
for t in 1 2; do
    s=$($pin "$cpp/bench_compare" query_graph --n 4000 --threads $t --system spindle --reps 7 --warmup 1)
    r=$(SPINDLE_QUERY_FANOUT=fork $pin "$rust/spindle-rayon-bench" query_graph --n 4000 --threads $t --system rayon --reps 7 --warmup 1)
    for pair in "spindle:$s" "rayon:$r"; do
        line=${pair#*:}
        printf '%-10s %8s %12.2f %12s\n' "${pair%%:*}" "$t" "$(printf '%s' "$line" | field median_s | awk '{ print $1 * 1000 }')" "$(printf '%s' "$line" | field speedup)"
    done
done

echo
echo "== 3. -j1: fib(30) on 1 worker against the serial fib (join overhead)"
printf '%-10s %12s %12s %10s\n' "system" "median ms" "serial ms" "ratio"
cs=$($pin "$cpp/bench_compare" fib --n 30 --threads 1 --system serial --reps 7 | field median_s)
cp=$($pin "$cpp/bench_compare" fib --n 30 --threads 1 --system spindle --reps 7 | field median_s)
rs=$($pin "$rust/spindle-rayon-bench" fib --n 30 --threads 1 --system serial --reps 7 | field median_s)
rp=$($pin "$rust/spindle-rayon-bench" fib --n 30 --threads 1 --system rayon --reps 7 | field median_s)
rsp=$($pin "$rust_on_spindle/spindle-rayon-bench" fib --n 30 --threads 1 --system rayon --reps 7 | field median_s)
awk -v cs="$cs" -v cp="$cp" -v rs="$rs" -v rp="$rp" -v rsp="$rsp" 'BEGIN {
    printf "%-10s %12.2f %12.2f %10.2f\n", "spindle", cp * 1000, cs * 1000, cp / cs
    printf "%-10s %12.2f %12.2f %10.2f\n", "rayon", rp * 1000, rs * 1000, rp / rs
    printf "%-10s %12.2f %12.2f %10.2f\n", "rayon@sp.", rsp * 1000, rs * 1000, rsp / rs
}'
