#!/usr/bin/env bash
# Build-like jobserver benchmark (issue 5; design-notes/0007-jobserver.md).
#
#   bash bench/jobserver_build.sh [--trace DIR] [BUILD_DIR] [K] [W] [TASKS] [MS]
#
# K processes, each a spindle pool of W workers running TASKS tasks of MS ms of CPU work
# (tests/jobserver/jsprobe_helper.cpp), as the recipes of one `make -jN` (with the '+' prefix),
# for N = 1, 2, 4; then the same processes ignoring the jobserver. For each run: wall time,
# peak number of tasks running at once over all processes (from the probes' shared log), and
# token operations (explicit tokens read + written back) per task.
# Defaults: build/release, K=4, W=4, TASKS=40, MS=10. Needs GNU make and a release build
# (cmake --build --preset release --target jobserver_jsprobe).
# --trace DIR: every probe process writes its trace (design-notes/0011-trace.md) as
# DIR/j<N>-<mode>-<pid>.json and .html, and each make run's traces are merged into one view,
# DIR/j<N>-<mode>-merged.json and .html (scripts/trace-merge.py: all processes' workers on one
# time axis, concurrency and tokens held summed over the processes).
set -euo pipefail
trace_dir=""
if [ "${1:-}" = --trace ]; then
    [ $# -ge 2 ] || { echo "jobserver_build.sh: --trace needs a folder" >&2; exit 2; }
    mkdir -p "$2"
    trace_dir=$(cd "$2" && pwd)
    shift 2
fi
cd "$(dirname "$0")/.."
build=${1:-build/release}
k=${2:-4}
w=${3:-4}
tasks=${4:-40}
ms=${5:-10}
probe="$PWD/$build/jobserver_jsprobe"
[ -x "$probe" ] || { echo "jobserver_build.sh: $probe not built" >&2; exit 1; }
command -v make >/dev/null || { echo "jobserver_build.sh: GNU make not found" >&2; exit 1; }

dir=$(mktemp -d /tmp/spindle-jsbench-XXXXXX)
trap 'rm -rf "$dir"' EXIT

run() {  # run N MODE
    local n=$1 mode=$2 all="all:" rules=""
    for i in $(seq 1 "$k"); do
        all+=" p$i"
        rules+=$'p'"$i"$':\n\t+@'"$probe --workers $w --tasks $tasks --ms $ms --mode $mode --log $dir/log"$'\n'
    done
    printf '%s\n.PHONY: all\n%s' "$all" "$rules" >"$dir/Makefile"
    rm -f "$dir/log"
    local t0 t1 trace_env=()
    if [ -n "$trace_dir" ]; then
        rm -f "$trace_dir/j$n-$mode-"*
        trace_env=("SPINDLE_TRACE=$trace_dir/j$n-$mode-%p.json")
    fi
    t0=$(date +%s%N)
    env -u MAKEFLAGS -u MFLAGS -u CARGO_MAKEFLAGS -u MAKELEVEL "${trace_env[@]}" \
        timeout 300 make -s -C "$dir" -j"$n" >"$dir/out" 2>"$dir/err"
    t1=$(date +%s%N)
    if [ -n "$trace_dir" ]; then
        python3 scripts/trace-merge.py "$trace_dir/j$n-$mode-merged.json" \
            "$trace_dir/j$n-$mode-"[0-9]*.json >/dev/null
    fi
    if grep -q "INTERNAL" "$dir/err"; then
        echo "make reported leaked tokens:" >&2
        cat "$dir/err" >&2
    fi
    local peak ops
    peak=$(sort -k2,2n -k1,1 "$dir/log" | awk '$1=="S"{c++; if(c>m)m=c} $1=="E"{c--} END{print m+0}')
    ops=$(awk -v t=$((k * tasks)) '{for(i=1;i<=NF;i++){split($i,kv,"="); if(kv[1]=="acquired"||kv[1]=="released")s+=kv[2]}} END{printf "%.3f", s/t}' "$dir/out")
    printf '%-6s %-8s %10.0f %6s %10s\n' "-j$n" "$mode" "$(((t1 - t0) / 1000000))" "$peak" "$ops"
}

echo "K=$k processes x W=$w workers, $tasks tasks of $ms ms each ($(nproc) CPUs)"
printf '%-6s %-8s %10s %6s %10s\n' make mode wall_ms peak ops/task
for n in 1 2 4; do
    run "$n" pool
done
for n in 1 2 4; do
    run "$n" ignore
done
