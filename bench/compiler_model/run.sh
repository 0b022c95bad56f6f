#!/usr/bin/env bash
# A crate-graph build in miniature: K crates, each one process of the compiler model, under
# `make -jN` sharing make's jobserver — the unified spindle structure (bench_compiler_model:
# front end and codegen on one pool, workers holding tokens) against today's rustc structure
# (compiler_model_rustc_today: a rayon pool for the front end, then codegen threads that each
# take a token). design-notes/0015-one-framework.md reads the table.
#
#   bash bench/compiler_model/run.sh [--k "1 4"] [--n "1 2 4"] [--items I] [--reps R] [--no-build]
#
# Per (structure, K, N): the median over R builds (default 3) of the build's wall time, the
# total CPU time of make's children (user + sys), and the peak number of threads doing model
# work at once across all processes (a shared counter in a file every process maps). Each
# crate process gets --threads N (as rustc gets -j/-Zthreads from cargo), so the jobserver alone
# keeps the total at N. Needs make, cmake and cargo (scripts/setup-deps.sh --bench).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
ks="1 4"
ns="1 2 4"
items=1000
reps=3
build=1
while [ $# -gt 0 ]; do
    case $1 in
    --k) ks=$2; shift 2 ;;
    --n) ns=$2; shift 2 ;;
    --items) items=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "usage: $0 [--k \"1 4\"] [--n \"1 2 4\"] [--items I] [--reps R] [--no-build]" >&2; exit 2 ;;
    esac
done
cargo=${CARGO:-$(command -v cargo || echo "$HOME/.cargo/bin/cargo")}
if [ "$build" = 1 ]; then
    (cd "$repo" && cmake --preset release >/dev/null && cmake --build --preset release --target bench_compiler_model >&2)
    (cd "$here/rust" && "$cargo" build --release --offline >&2)
fi
unified="$repo/build/release/bench_compiler_model"
today="$here/rust/target/release/compiler_model_rustc_today"
for b in "$unified" "$today"; do
    [ -x "$b" ] || { echo "compiler_model: $b not built (run without --no-build)" >&2; exit 1; }
done
command -v make >/dev/null || { echo "compiler_model: make not found (apt install make)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
conc="$work/concurrency"
# K independent crates; the '+' gives each recipe make's jobserver.
cat >"$work/Makefile" <<'MK'
CRATES := $(shell seq 0 $$(( $(K) - 1 )))
all: $(addprefix crate,$(CRATES))
crate%:
	+@$(PROG) --crate $* --threads $(T) --items $(ITEMS) --concurrency-file $(CONC) >> $(OUT)
.PHONY: all
MK

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

printf '%-16s %3s %3s %10s %10s %6s %9s  %s\n' structure K N "wall s" "CPU s" peak checked results
for k in $ks; do
    for n in $ns; do
        for s in unified today; do
            prog=$unified; label=spindle-unified
            if [ "$s" = today ]; then prog=$today; label=rustc-today; fi
            walls=(); cpus=(); peaks=()
            for ((r = 0; r < reps; r++)); do
                head -c 16 /dev/zero >"$conc"
                : >"$work/out"
                t=$( { /usr/bin/time -f '%e %U %S' make -s -j"$n" -f "$work/Makefile" K="$k" T="$n" \
                    ITEMS="$items" PROG="$prog" CONC="$conc" OUT="$work/out" >/dev/null; } 2>&1 | tail -1)
                walls+=("$(echo "$t" | awk '{ print $1 }')")
                cpus+=("$(echo "$t" | awk '{ print $2 + $3 }')")
                peaks+=("$(od -An -t d8 -j 8 -N 8 "$conc" | tr -d ' ')")
                sort -t: -k1 "$work/out" | sed -n 's/.*"crate":\([0-9]*\).*"result":\([0-9]*\).*/\1:\2/p' | sort -n >"$work/res.$s.$k.$r"
            done
            results=$(paste -sd' ' "$work/res.$s.$k.0")
            checked=yes
            for ((r = 1; r < reps; r++)); do cmp -s "$work/res.$s.$k.0" "$work/res.$s.$k.$r" || checked=NO; done
            if [ "$s" = today ] && ! cmp -s "$work/res.unified.$k.0" "$work/res.today.$k.0"; then checked=NO; fi
            [ "$(wc -l <"$work/res.$s.$k.0")" -eq "$k" ] || checked=NO
            printf '%-16s %3s %3s %10s %10s %6s %9s  %s\n' "$label" "$k" "$n" \
                "$(printf '%s\n' "${walls[@]}" | median)" "$(printf '%s\n' "${cpus[@]}" | median)" \
                "$(printf '%s\n' "${peaks[@]}" | sort -n | tail -1)" "$checked" "$results"
        done
    done
done
echo
echo "wall s / CPU s: median over $reps builds of make's wall time and its children's user+sys time."
echo "peak: the most threads doing model work at once in any build, over all crate processes (<= N when the"
echo "      jobserver is obeyed). checked: every build gave each crate the same result, in both structures."
