#!/usr/bin/env bash
# Side-by-side benchmark of spindle against rayon, oneTBB and OpenMP tasks (quick by default).
#
#   scripts/bench.sh                 # every workload at its quick size, 7 reps + 1 warm-up,
#                                    # threads 1 2 (and nproc if > 2): a few minutes on 2 cores
#   scripts/bench.sh --full          # main sizes (fib(35), 16Mi-element sorts, ...), 11 reps
#   scripts/bench.sh --workloads "fib uts" --n fib=32
#   scripts/bench.sh --json out.jsonl          # + out.svg: chart of the ratios to rayon
#   scripts/bench.sh --systems spindle --topology "numa:2 core:2 pu:1" --threads "2 4"
#                                              # steals by victim level on a synthetic 2-node box
#
# Steps: scripts/setup-deps.sh --bench (if present) -> CMake `release` preset, target
# bench_compare (bench/compare.cpp, one file per workload under bench/workloads/; every workload
# runs as `bench_compare <workload>`) -> rayon crate (bench/rayon,
# offline against Debian's packaged crates) -> per workload: C++ serial, Rust serial, then at
# each thread count spindle, rayon, tbb, omp, each pinned with taskset -> a table per workload
# (+ JSON lines and an SVG chart on request; tables and chart: scripts/bench-report.py). Systems a build lacks (no oneTBB, no OpenMP) are
# skipped with a line saying so. Exits non-zero if a build or run fails or a result is not
# checked. Fairness rules: bench/README.md.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/bench.sh [options]
  --full              main sizes and 11 reps (default: quick sizes, 7 reps), then the compiler model's
                      crate-graph build (bench/compiler_model/run.sh); sizes per workload:
                        workload     quick      --full
                        fib          30         35
                        sum, sort    4194304    16777216
                        nqueens      11         13
                        skynet       1000000    10000000
                        uts          10         11        (depth limit, T1 shape)
                        matmul       512        1024      (matrix side)
                        mergesort    2097152    16777216
                        quicksort    2097152    16777216
                        integrate    200        1000      (upper bound, eps 1e-9)
                        idle         10         50        (ticks of 10 ms)
                        wakeup       10         50        (samples per rep)
                        query_graph  4000       16000
  --workloads "LIST"  workloads to run, in order (default: all of the above)
  --systems "LIST"    parallel systems to run (default: "spindle rayon rayon@spindle tbb omp");
                      the serial baselines (C++ and Rust) always run for the languages involved.
                      rayon@spindle: bench/rayon's program, the same source, built a second time
                      (bench/rayon-spindle) with rayon-core replaced by bindings/rust/rayon-core
  --json FILE         also write every JSON result line to FILE (and an SVG chart next to it);
                      its first line, {"meta":...}, names the commit, machine and date
  --svg FILE          write the SVG chart of the ratios to rayon to FILE (log axis fitted to the
                      data, min-max whiskers, rayon's min-max as a band, commit/machine/date)
  --n N               override the problem size of every selected workload
  --n WORKLOAD=N      override one workload's size (repeatable; e.g. --n fib=32 --n sort=1000000)
  --reps R            timed repetitions (default 7; --full 11)
  --max-time S        a system stops after 3+ reps once its timed reps took S seconds
                      (default 1.5; --full 10; 0: always R reps). Keeps OpenMP's slow runs short.
  --warmup W          untimed repetitions after pool creation (default 1)
  --rep-ms M          a rep runs the workload back to back until it lasted M ms, the count fixed
                      after the warm-up, and reports the time per call (default 10; 0: one call
                      per rep; wakeup and idle always make one; bench/README.md, "Batched reps")
  --threads "1 2"     thread counts to run (default: 1 2, plus nproc if > 2)
  --processes N       run each (workload, system, threads) in N separate processes (in turns:
                      process k of every system, then k+1, ...) and print per workload and thread
                      count one row per process (median, 1-worker median, speed-up, cpu/wall,
                      capacity, probe CPU share, efficiency, flag) and a summary line per system
                      (min/median efficiency, processes below 0.90, processes flagged). The serial baselines
                      do not run; no SVG. JSON lines (--json) carry "process":k.
  --no-setup          do not run scripts/setup-deps.sh --bench
  --no-build          do not build; use existing binaries
  --no-spindle | --no-rayon | --no-rayon-spindle | --no-tbb | --no-omp
                      drop one system (same as leaving it out of --systems)
  --cpp-dir DIR       take the C++ program (bench_compare) from DIR (implies no CMake build)
  --spindle-bin PATH  the bench_compare program to use (implies no CMake build)
  --rayon-bin PATH    use this spindle-rayon-bench binary (implies no cargo build of bench/rayon)
  --rayon-spindle-bin PATH   the same for rayon@spindle (bench/rayon-spindle)
  --no-pin            do not pin with taskset (nor the workers)
  --no-pin-workers    pin each process with taskset but leave its workers where the kernel puts
                      them; by default worker i of every pool is pinned to the i-th CPU of the
                      process (BENCH_PIN_WORKERS=1, for spindle, rayon, tbb and omp alike;
                      bench/README.md, "Pinned workers")
  --keep-awake        run a SCHED_IDLE spinner per CPU so that the VM's vCPUs never idle (off
                      by default: the pools' sched_yield hands such a spinner the CPU for a
                      whole slice; bench/README.md, "Idle CPUs"); --no-keep-awake: the default
  --trace DIR         trace every spindle run (design note 0011): DIR/<workload>-spindle-<T>t.json
                      (Chrome trace) and .html (report) of the measured pool, plus
                      <workload>-spindle-<T>t-base1w.* of the 1-worker pool beside it (T > 1);
                      --processes adds -p<k>. Traced times include tracing's cost. Each worker keeps
                      SPINDLE_TRACE_EVENTS events (default here 262144; the rest are counted as dropped)
  --topology DESC     spindle plans for this machine (SPINDLE_TOPOLOGY for every spindle run):
                        an hwloc synthetic description such as "numa:2 core:2 pu:1", "xml:FILE"
                        or "flat"; synthetic and XML machines are never bound to, so this runs
                        anywhere. Adds a table of spindle's steals by victim level (smt, cache,
                        node, remote, spare; design-notes/0010-topology.md)
  --placement P       SPINDLE_PLACEMENT for the spindle runs: none, compact, spread,
                        numa_node:K or cpus:LIST (default none: victims ordered as compact)
  --table FILE        only print the tables for an existing JSON-lines FILE (and --svg), then exit;
                      a --processes file gets the per-process tables
  -h, --help          this help
Environment: CARGO=/path/to/cargo picks the cargo to use; BENCH_TIMEOUT (default 900) limits
each program run, in seconds.
EOF
}

die() { echo "bench.sh: $*" >&2; exit 1; }
log() { echo "[bench] $*" >&2; }
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }

all_workloads="fib sum sort nqueens skynet uts matmul mergesort quicksort integrate idle wakeup query_graph"

# ------------------------------------------------------------------------------------------------
# Tables and chart: scripts/bench-report.py (python3, standard library only) reads the JSON lines.
report_py="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bench-report.py"
report() {
  command -v python3 >/dev/null 2>&1 || die "python3 not found (scripts/setup-deps.sh installs it); the tables and chart need it"
  python3 "$report_py" "$@"
}
print_table() { report table "$1"; }                   # one table per workload
print_process_tables() { report processes "$1"; }      # --processes N: one row per process
print_levels_table() {                                 # --topology / --placement: steals by level
  report levels "$1" "${SPINDLE_TOPOLOGY:-machine}" "${SPINDLE_PLACEMENT:-none}"
}
write_svg() { report svg "$1" "$2"; }                  # the chart of the ratios to rayon

# ------------------------------------------------------------------------------------------------
# Options.
full=0; json_out=""; svg_out=""; n=""; reps=""; warmup=1; threads_list=""; max_time=""; trace_dir=""; rep_ms=""
do_setup=1; do_build=1; do_pin=1; pin_workers=1
systems="spindle rayon rayon@spindle tbb omp"
cpp_dir=""; spindle_bin=""; rayon_bin=""; rayon_spindle_bin=""; table_only=""; workloads=""; processes=0
topology=""   # --topology
placement=""  # --placement
declare -A n_of=()  # --n WORKLOAD=N
set_n() {
  case "$1" in
    *=*) n_of[${1%%=*}]=${1#*=} ;;
    *) n=$1 ;;
  esac
}
drop_system() { systems=" $systems "; systems=${systems// $1 / }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --full) full=1 ;;
    --json) [ $# -ge 2 ] || die "--json needs a file"; json_out=$(abspath "$2"); shift ;;
    --json=*) json_out=$(abspath "${1#*=}") ;;
    --svg) [ $# -ge 2 ] || die "--svg needs a file"; svg_out=$(abspath "$2"); shift ;;
    --n) [ $# -ge 2 ] || die "--n needs a value"; set_n "$2"; shift ;;
    --n=*) set_n "${1#*=}" ;;
    --workloads) [ $# -ge 2 ] || die "--workloads needs a list"; workloads=$2; shift ;;
    --systems) [ $# -ge 2 ] || die "--systems needs a list"; systems=$2; shift ;;
    --reps) [ $# -ge 2 ] || die "--reps needs a value"; reps=$2; shift ;;
    --max-time) [ $# -ge 2 ] || die "--max-time needs a value"; max_time=$2; shift ;;
    --warmup) [ $# -ge 2 ] || die "--warmup needs a value"; warmup=$2; shift ;;
    --threads) [ $# -ge 2 ] || die "--threads needs a value"; threads_list=$2; shift ;;
    --processes) [ $# -ge 2 ] || die "--processes needs a count"; processes=$2; shift ;;
    --processes=*) processes=${1#*=} ;;
    --no-setup) do_setup=0 ;;
    --no-build) do_build=0 ;;
    --no-spindle) drop_system spindle ;;
    --no-rayon) drop_system rayon ;;
    --no-rayon-spindle) drop_system rayon@spindle ;;
    --no-tbb) drop_system tbb ;;
    --no-omp) drop_system omp ;;
    --no-pin) do_pin=0 ;;
    --no-pin-workers) pin_workers=0 ;;
    --keep-awake) export BENCH_KEEP_AWAKE=1 ;;
    --no-keep-awake) export BENCH_KEEP_AWAKE=0 ;;
    --rep-ms) [ $# -ge 2 ] || die "--rep-ms needs a value"; rep_ms=$2; shift ;;
    --trace) [ $# -ge 2 ] || die "--trace needs a folder"; mkdir -p "$2"; trace_dir=$(abspath "$2"); shift ;;
    --topology) [ $# -ge 2 ] || die "--topology needs a description"; topology=$2; shift ;;
    --placement) [ $# -ge 2 ] || die "--placement needs a value"; placement=$2; shift ;;
    --cpp-dir) [ $# -ge 2 ] || die "--cpp-dir needs a folder"; cpp_dir=$(abspath "$2"); shift ;;
    --spindle-bin) [ $# -ge 2 ] || die "--spindle-bin needs a path"; spindle_bin=$(abspath "$2"); cpp_dir=$(dirname "$spindle_bin"); shift ;;
    --rayon-bin) [ $# -ge 2 ] || die "--rayon-bin needs a path"; rayon_bin=$(abspath "$2"); shift ;;
    --rayon-spindle-bin) [ $# -ge 2 ] || die "--rayon-spindle-bin needs a path"; rayon_spindle_bin=$(abspath "$2"); shift ;;
    --table) [ $# -ge 2 ] || die "--table needs a file"; table_only=$(abspath "$2"); shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done

case "$processes" in ''|*[!0-9]*) die "--processes: not a non-negative integer: '$processes'" ;; esac

if [ -n "$table_only" ]; then
  [ -r "$table_only" ] || die "cannot read $table_only"
  rc=0
  if grep -q '"process":' "$table_only"; then
    print_process_tables "$table_only" || rc=1
  else
    print_table "$table_only" || rc=1
  fi
  if [ -n "$svg_out" ]; then write_svg "$table_only" "$svg_out"; log "SVG chart written to $svg_out"; fi
  # same rule as a real run: any unchecked result fails
  if grep -q '"checked":false' "$table_only"; then exit 1; fi
  exit $rc
fi

command -v python3 >/dev/null 2>&1 || die "python3 not found (scripts/setup-deps.sh installs it); the tables and chart need it (scripts/bench-report.py)"
for s in $systems; do
  case "$s" in spindle | rayon | rayon@spindle | tbb | omp) ;; *) die "unknown system '$s' (known: spindle rayon rayon@spindle tbb omp)" ;; esac
done
has_system() { case " $systems " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
want_cpp=0
for s in spindle tbb omp; do if has_system $s; then want_cpp=1; fi; done
want_rust=0
if has_system rayon || has_system rayon@spindle; then want_rust=1; fi
[ "$want_cpp" = 1 ] || [ "$want_rust" = 1 ] || die "nothing to run (no system selected)"

# Sizes: quick (default) and --full; --n N overrides all selected workloads, --n W=N one.
if [ "$full" = 1 ]; then reps=${reps:-11}; max_time=${max_time:-10}; else reps=${reps:-7}; max_time=${max_time:-1.5}; fi
default_n() {  # $1 workload
  case "$1:$full" in
    fib:0) echo 30 ;;               fib:1) echo 35 ;;
    sum:0 | sort:0) echo 4194304 ;; sum:1 | sort:1) echo 16777216 ;;
    nqueens:0) echo 11 ;;           nqueens:1) echo 13 ;;
    skynet:0) echo 1000000 ;;       skynet:1) echo 10000000 ;;
    uts:0) echo 10 ;;               uts:1) echo 11 ;;
    matmul:0) echo 512 ;;           matmul:1) echo 1024 ;;
    mergesort:0 | quicksort:0) echo 2097152 ;;
    mergesort:1 | quicksort:1) echo 16777216 ;;
    integrate:0) echo 200 ;;        integrate:1) echo 1000 ;;
    idle:0 | wakeup:0) echo 10 ;;   idle:1 | wakeup:1) echo 50 ;;
    query_graph:0) echo 4000 ;;     query_graph:1) echo 16000 ;;
  esac
}
cpp_prog=bench_compare  # the C++ program: `bench_compare <workload>` (bench/compare.cpp)
for v in "$reps" "$warmup"; do
  case "$v" in ''|*[!0-9]*) die "not a non-negative integer: '$v'" ;; esac
done
[ "$reps" -ge 1 ] || die "--reps must be >= 1"
awk -v m="$max_time" 'BEGIN { exit !(m ~ /^[0-9]+(\.[0-9]+)?$/) }' || die "--max-time: not a number of seconds: '$max_time'"
[ -z "$rep_ms" ] || awk -v m="$rep_ms" 'BEGIN { exit !(m ~ /^[0-9]+(\.[0-9]+)?$/) }' || die "--rep-ms: not a number of milliseconds: '$rep_ms'"
ncpu=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
if [ -z "$threads_list" ]; then
  threads_list="1 2"
  if [ "$ncpu" -gt 2 ]; then threads_list="$threads_list $ncpu"; fi
fi
for t in $threads_list; do
  case "$t" in ''|*[!0-9]*|0) die "bad thread count '$t'" ;; esac
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

if [ -z "$workloads" ]; then workloads=$all_workloads; fi
[ -n "${workloads// /}" ] || die "--workloads: empty list"
for w in $workloads; do
  case " $all_workloads " in *" $w "*) ;; *) die "unknown workload '$w' (known: $all_workloads)" ;; esac
done
for w in "${!n_of[@]}"; do
  case " $workloads " in *" $w "*) ;; *) die "--n $w=...: '$w' is not among the workloads ($workloads)" ;; esac
done
size_of() {  # $1 workload
  if [ -n "${n_of[$1]:-}" ]; then echo "${n_of[$1]}"; elif [ -n "$n" ]; then echo "$n"; else default_n "$1"; fi
}
declare -A wl_n=()
for w in $workloads; do
  wl_n[$w]=$(size_of "$w")
  case "${wl_n[$w]}" in ''|*[!0-9]*) die "$w: size is not a non-negative integer: '${wl_n[$w]}'" ;; esac
done

# ------------------------------------------------------------------------------------------------
# Dependencies and builds.
if [ "$do_setup" = 1 ] && [ "$do_build" = 1 ] && [ -f scripts/setup-deps.sh ]; then
  log "scripts/setup-deps.sh --bench"
  bash scripts/setup-deps.sh --bench >&2 || log "warning: setup-deps.sh --bench failed; trying to build anyway"
fi

find_cargo() {
  # Prefer $CARGO, then rustup's (newest rustc: gives rayon its best case), then cargo on PATH
  # (on a fresh Debian 12: the `cargo` package, rustc 1.63).
  if [ -n "${CARGO:-}" ] && [ -x "${CARGO}" ]; then echo "$CARGO"; return 0; fi
  local c="${CARGO_HOME:-$HOME/.cargo}/bin/cargo"
  if [ -x "$c" ]; then echo "$c"; return 0; fi
  command -v cargo 2>/dev/null && return 0
  return 1
}

find_built() {  # $1 target name -> path under build/release, or nothing
  local c
  for c in "build/release/$1" "build/release/bench/$1"; do
    if [ -x "$c" ]; then printf '%s\n' "$repo/$c"; return 0; fi
  done
  if [ -d build/release ]; then
    c=$(find build/release -type f -name "$1" -perm -u+x 2>/dev/null | head -n 1)
    if [ -n "$c" ]; then printf '%s\n' "$repo/$c"; return 0; fi
  fi
  return 0
}

cpp_bin=""                # bench_compare's path
declare -A cpp_sys=()     # workload -> " serial spindle tbb omp " (what the build has for it)
declare -A cpp_impl=()    # workload -> " serial spindle ... " (what its --help's --system names)
if [ "$want_cpp" = 1 ]; then
  if [ -z "$cpp_dir" ] && [ "$do_build" = 1 ]; then
    command -v cmake >/dev/null || die "cmake not found (scripts/setup-deps.sh installs it)"
    log "building $cpp_prog (CMake preset: release)"
    hint="building $cpp_prog failed (--systems rayon runs rayon alone)"
    if [ -f CMakePresets.json ]; then
      cmake --preset release >&2 || die "cmake --preset release failed"
      cmake --build --preset release --target "$cpp_prog" -j2 >&2 || die "$hint"
    else
      log "no CMakePresets.json; configuring build/release with CMAKE_BUILD_TYPE=Release"
      cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >&2 || die "cmake configure failed"
      cmake --build build/release --target "$cpp_prog" -j2 >&2 || die "$hint"
    fi
  fi
  if [ -n "$spindle_bin" ]; then cpp_bin=$spindle_bin; elif [ -n "$cpp_dir" ]; then cpp_bin="$cpp_dir/$cpp_prog"; else cpp_bin=$(find_built "$cpp_prog"); fi
  [ -z "$cpp_bin" ] || [ -x "$cpp_bin" ] || cpp_bin=""
  [ -n "$cpp_bin" ] || die "$cpp_prog not found ${cpp_dir:-under build/release}"
  for w in $workloads; do
    # Which systems this build has for the workload, and which it implements at all
    # (bench/harness.hpp's usage: "--system serial|spindle|all").
    s=$("$cpp_bin" "$w" --list-systems 2>/dev/null) || die "$cpp_bin $w --list-systems failed (no workload '$w'?)"
    cpp_sys[$w]=" $s "
    cpp_impl[$w]=" $("$cpp_bin" "$w" --help 2>/dev/null | sed -n 's/.*--system \([a-z|]*\).*/\1/p' | head -n 1 | tr '|' ' ') "
  done
fi

rayon_names=""
if [ "$want_rust" = 1 ]; then
  if [ -z "$rayon_bin" ]; then
    if [ "$do_build" = 1 ]; then
      cargo_bin=$(find_cargo) || die "cargo not found (apt install cargo librust-rayon-dev, or rustup; --no-rayon skips rayon)"
      log "building bench/rayon with $cargo_bin ($(PATH="$(dirname "$cargo_bin"):$PATH" "$cargo_bin" --version 2>/dev/null || echo '?'))"
      # Run from inside bench/rayon: cargo picks up bench/rayon/.cargo/config.toml (offline build
      # against /usr/share/cargo/registry) only when its working directory is there.
      (
        cd bench/rayon
        PATH="$(dirname "$cargo_bin"):$PATH" "$cargo_bin" build --release --offline --target-dir target >&2
      ) || die "building bench/rayon failed. Needs librust-rayon-dev (Debian); if the Debian crates changed version or checksum, regenerate the lock: (cd bench/rayon && cargo generate-lockfile --offline)"
    fi
    rayon_bin="$repo/bench/rayon/target/release/spindle-rayon-bench"
  fi
  [ -x "$rayon_bin" ] || die "rayon benchmark binary not found: $rayon_bin"
  rayon_names=" $("$rayon_bin" --help 2>/dev/null | sed -n 's/.*one of: //p' | tr -d ',') "
fi
# rayon@spindle: the same program (bench/rayon/src) built from bench/rayon-spindle, whose
# Cargo.toml patches rayon-core with bindings/rust/rayon-core. Its build.rs links the release
# preset's libspindle.a when that build exists, else builds spindle itself (under target/).
if has_system rayon@spindle; then
  if [ -z "$rayon_spindle_bin" ]; then
    if [ "$do_build" = 1 ]; then
      cargo_bin=$(find_cargo) || die "cargo not found (apt install cargo librust-rayon-dev, or rustup; --no-rayon-spindle skips rayon@spindle)"
      log "building bench/rayon-spindle (rayon 1.6.1 on bindings/rust/rayon-core) with $cargo_bin"
      spindle_build_dir=""
      if [ -f "$repo/build/release/CMakeCache.txt" ]; then spindle_build_dir="$repo/build/release"; fi
      (
        cd bench/rayon-spindle
        if [ -n "$spindle_build_dir" ]; then export SPINDLE_BUILD_DIR="$spindle_build_dir"; fi
        PATH="$(dirname "$cargo_bin"):$PATH" "$cargo_bin" build --release --offline --target-dir target >&2
      ) || die "building bench/rayon-spindle failed (it needs what bench/rayon needs, plus cmake and spindle's build dependencies: scripts/setup-deps.sh)"
    fi
    rayon_spindle_bin="$repo/bench/rayon-spindle/target/release/spindle-rayon-bench"
  fi
  [ -x "$rayon_spindle_bin" ] || die "rayon@spindle benchmark binary not found: $rayon_spindle_bin"
fi

# ------------------------------------------------------------------------------------------------
# Pinning: the first T CPUs of this process's affinity list (taskset -c 0 / 0,1 on a plain box).
cpus=()
if [ "$do_pin" = 1 ] && command -v taskset >/dev/null 2>&1; then
  list=$(taskset -pc $$ 2>/dev/null | sed 's/.*: *//') || list=""
  IFS=',' read -r -a parts <<<"$list"
  for p in "${parts[@]}"; do
    case "$p" in
      *-*) lo=${p%-*}; hi=${p#*-}; for ((c = lo; c <= hi; c++)); do cpus+=("$c"); done ;;
      '') ;;
      *) cpus+=("$p") ;;
    esac
  done
elif [ "$do_pin" = 1 ]; then
  log "taskset not found: running unpinned"
fi
pin_prefix() {  # $1 = thread count -> prints "taskset -c a,b" or nothing
  local t=$1 i s=""
  if [ "${#cpus[@]}" -ge "$t" ] && [ "$t" -ge 1 ]; then
    for ((i = 0; i < t; i++)); do s="$s${s:+,}${cpus[$i]}"; done
    printf 'taskset -c %s' "$s"
  fi
}

# ------------------------------------------------------------------------------------------------
# The run plan: one line per program run (workload, label, threads, lang, system), so progress
# can say [k/N].
plan=()
declare -A skipped=()
skip_once() {  # $1 key, $2 message
  if [ -z "${skipped[$1]:-}" ]; then skipped[$1]=1; log "skipping $2"; fi
}
for w in $workloads; do
  cpp_ok=0
  if [ "$want_cpp" = 1 ]; then cpp_ok=1; fi
  rust_ok=0
  if [ "$want_rust" = 1 ]; then
    case "$rayon_names" in
      *" $w "*) rust_ok=1 ;;
      *) skip_once "rayon:$w" "rayon for $w: the rayon binary has no '$w' workload" ;;
    esac
  fi
  if [ "$processes" = 0 ]; then
    if [ "$cpp_ok" = 1 ]; then plan+=("$w serial-c++ 1 cpp serial"); fi
    if [ "$rust_ok" = 1 ]; then plan+=("$w serial-rust 1 rust serial"); fi
  fi
  for t in $threads_list; do
    for s in spindle rayon rayon@spindle tbb omp; do
      has_system "$s" || continue
      if [ "$s" = rayon ] || [ "$s" = rayon@spindle ]; then
        if [ "$rust_ok" = 1 ]; then plan+=("$w $s $t rust $s"); fi
        continue
      fi
      case "${cpp_sys[$w]:-}" in
        *" $s "*) plan+=("$w $s $t cpp $s") ;;
        *)
          case "${cpp_impl[$w]:-}" in
            *" $s "*) ;;
            *" serial "*)
              impl=${cpp_impl[$w]% all }; impl=${impl# }
              skip_once "$w:$s" "$s for $w: $cpp_prog $w implements ${impl// / and } only"
              continue
              ;;
          esac
          case "$s" in
            tbb) skip_once "$w:$s" "tbb for $w: this build has no oneTBB (apt install libtbb-dev, or scripts/setup-deps.sh --bench, then rebuild)" ;;
            omp) skip_once "$w:$s" "omp for $w: this build has no OpenMP" ;;
            *) skip_once "$w:$s" "$s for $w: not supported by $cpp_prog $w" ;;
          esac
          ;;
      esac
    done
  done
done
[ "${#plan[@]}" -gt 0 ] || die "nothing to run"
# --processes N: every entry N times, in turns per workload (process k of each (system, threads)
# of a workload, then k+1, ...), so the systems' k-th processes saw the same machine; the last
# word of an entry is its process index (0: the default mode).
runs=()
if [ "$processes" -gt 0 ]; then
  for w in $workloads; do
    for ((pk = 1; pk <= processes; pk++)); do
      for entry in "${plan[@]}"; do
        case "$entry" in "$w "*) runs+=("$entry $pk") ;; esac
      done
    done
  done
else
  for entry in "${plan[@]}"; do runs+=("$entry 0"); done
fi

# ------------------------------------------------------------------------------------------------
# Runs.
results=$(mktemp "${TMPDIR:-/tmp}/spindle-bench.XXXXXX")
trap 'rm -f "$results"' EXIT
# First line: the run's commit, machine and date ({"meta":...}), for the chart's caption.
report meta - >"$results"
failed=0
# A hung run (e.g. a scheduler deadlock) must not hang the script: BENCH_TIMEOUT seconds per program run.
tmo=""
if command -v timeout >/dev/null 2>&1; then tmo="timeout ${BENCH_TIMEOUT:-900}"; fi
declare -A has_max_time=()
supports_max_time() {  # $1 binary [$2 workload: bench_compare's usage is per workload]
  local key="$*"
  if [ -z "${has_max_time[$key]:-}" ]; then
    if "$@" --help 2>&1 | grep -q -- '--max-time'; then has_max_time[$key]=1; else has_max_time[$key]=0; fi
  fi
  [ "${has_max_time[$key]}" = 1 ]
}

if [ -r /proc/loadavg ]; then
  log "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
  load=$(cut -d' ' -f1 /proc/loadavg)
  if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
    log "warning: load average $load before starting; other work on this machine will distort the results"
  fi
fi

if [ -n "$topology" ]; then
  export SPINDLE_TOPOLOGY="$topology"
  log "spindle plans for the topology '$topology' (SPINDLE_TOPOLOGY; synthetic and XML machines are not bound to)"
fi
if [ -n "$placement" ]; then export SPINDLE_PLACEMENT="$placement"; log "spindle placement: $placement"; fi
start_s=$(date +%s)
total=${#runs[@]}
k=0
for entry in "${runs[@]}"; do
  read -r workload label t lang sys proc <<<"$entry"
  k=$((k + 1))
  wn=${wl_n[$workload]}
  if [ "$lang" = cpp ]; then bin=$cpp_bin; else bin=$rayon_bin; fi
  run_sys=$sys
  if [ "$sys" = rayon@spindle ]; then bin=$rayon_spindle_bin; run_sys=rayon; fi
  cmd=("$bin" "$workload" --n "$wn" --reps "$reps" --warmup "$warmup" --threads "$t" --system "$run_sys")
  mt_of=("$bin"); if [ "$lang" = cpp ]; then mt_of+=("$workload"); fi
  if [ "$max_time" != 0 ] && supports_max_time "${mt_of[@]}"; then cmd+=(--max-time "$max_time"); fi
  if [ -n "$rep_ms" ]; then cmd+=(--rep-ms "$rep_ms"); fi
  pin=$(pin_prefix "$t")
  ptag=""
  if [ "$proc" != 0 ]; then ptag=" (process $proc/$processes)"; fi
  log "[$k/$total, $(($(date +%s) - start_s)) s] $workload n=$wn threads=$t $label$ptag ${pin:+($pin)}"
  # --trace: the program's pools write DIR/.trace-<k>-<n>.json (n: 1 the measured pool, 2 the
  # 1-worker pool beside it), renamed after the run.
  envp=(env)
  if [ -n "$trace_dir" ] && [ "$sys" = spindle ]; then
    rm -f "$trace_dir/.trace-$k-"*
    envp+=("SPINDLE_TRACE=$trace_dir/.trace-$k-%n.json" "SPINDLE_TRACE_EVENTS=${SPINDLE_TRACE_EVENTS:-262144}")
  fi
  # Pinned workers: only where the process itself is pinned to its T CPUs (one worker per CPU).
  if [ -n "$pin" ] && [ "$pin_workers" = 1 ]; then
    envp+=(BENCH_PIN_WORKERS=1)
  else
    envp+=(BENCH_PIN_WORKERS=0)
  fi
  set +e
  # shellcheck disable=SC2086
  out=$($tmo $pin "${envp[@]}" "${cmd[@]}")
  rc=$?
  set -e
  if [ -n "$trace_dir" ] && [ "$sys" = spindle ]; then
    tbase="$trace_dir/$workload-spindle-${t}t"
    if [ "$proc" != 0 ]; then tbase="$tbase-p$proc"; fi
    for ext in json html; do
      if [ -f "$trace_dir/.trace-$k-1.$ext" ]; then mv -f "$trace_dir/.trace-$k-1.$ext" "$tbase.$ext"; fi
      if [ -f "$trace_dir/.trace-$k-2.$ext" ]; then mv -f "$trace_dir/.trace-$k-2.$ext" "$tbase-base1w.$ext"; fi
    done
    if [ -f "$tbase.html" ]; then log "  trace: $tbase.json, $tbase.html"; else log "  no trace written"; fi
  fi
  if [ "$rc" -eq 124 ] && [ -n "$tmo" ]; then log "  TIMED OUT after ${BENCH_TIMEOUT:-900} s"; fi
  if [ -n "$out" ] && [ "$sys" = rayon@spindle ]; then out=$(printf '%s\n' "$out" | sed 's/"system":"rayon"/"system":"rayon@spindle"/'); fi
  if [ -n "$out" ] && [ "$proc" != 0 ]; then out=$(printf '%s\n' "$out" | sed "s/^{/{\"process\":$proc,/"); fi
  if [ -n "$out" ]; then printf '%s\n' "$out" >>"$results"; fi
  if [ "$rc" -ne 0 ]; then log "  FAILED (exit $rc): ${cmd[*]}"; failed=1; fi
  if [ -z "$out" ]; then log "  no result line"; failed=1; continue; fi
  while IFS= read -r line; do
    case "$line" in
      *'"checked":true'*) ;;
      *) log "  NOT CHECKED: $line"; failed=1 ;;
    esac
    eff=$(printf '%s' "$line" | sed -n 's/.*"efficiency":\([0-9.eE+-]*\).*/\1/p')
    cap=$(printf '%s' "$line" | sed -n 's/.*"capacity":\([0-9.eE+-]*\).*/\1/p')
    flag=""
    case "$line" in *'"flagged":true'*) flag=" FLAGGED ($(printf '%s' "$line" | sed -n 's/.*"flag_reasons":"\([^"]*\)".*/\1/p'))" ;; esac
    log "  median $(printf '%s' "$line" | sed -n 's/.*"median_s":\([0-9.eE+-]*\).*/\1/p') s${cap:+, capacity $cap}${eff:+, efficiency $eff}$flag"
  done <<<"$out"
done
log "all runs done in $(($(date +%s) - start_s)) s"
if [ -r /proc/loadavg ]; then log "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"; fi

if [ -n "$json_out" ]; then
  cp "$results" "$json_out"
  log "JSON lines written to $json_out"
  if [ -z "$svg_out" ] && [ "$processes" = 0 ]; then svg_out="${json_out%.*}.svg"; [ "$svg_out" != "$json_out" ] || svg_out="$json_out.svg"; fi
fi
if [ -n "$svg_out" ] && [ "$processes" = 0 ]; then
  write_svg "$results" "$svg_out"
  log "SVG chart written to $svg_out"
elif [ -n "$svg_out" ]; then
  log "no SVG chart in --processes mode"
fi

if [ "$processes" -gt 0 ]; then
  print_process_tables "$results" || failed=1
else
  print_table "$results" || failed=1
fi
if [ -n "$topology" ] || [ -n "$placement" ]; then print_levels_table "$results"; fi
# --full: also the crate-graph build of the compiler model under make -jN (design note 0015).
if [ "$full" = 1 ] && [ "$processes" = 0 ]; then
  echo
  echo "== compiler_model: K crates under make -jN, the unified spindle pool against today's rustc structure =="
  cm_args=()
  if [ "$do_build" != 1 ]; then cm_args+=(--no-build); fi
  CARGO="${cargo_bin:-}" bash bench/compiler_model/run.sh "${cm_args[@]}" || failed=1
fi
if [ "$failed" != 0 ]; then
  echo "bench.sh: FAILED: a build/run failed, a result was not checked, or systems disagree" >&2
  exit 1
fi
