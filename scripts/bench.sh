#!/usr/bin/env bash
# Side-by-side benchmark of spindle against rayon (quick by default).
#
#   scripts/bench.sh                 # fib(30), sum and sort of 4Mi elements, nqueens(11), skynet
#                                    # of 1M leaves; 7 reps, 1 warm-up, threads 1 2 (and nproc if > 2)
#   scripts/bench.sh --full          # fib(35), sum and sort of 16Mi elements, nqueens(13), skynet
#                                    # of 10M leaves; 11 reps
#   scripts/bench.sh --workloads fib --n 32
#   scripts/bench.sh --json out.jsonl
#
# Steps: scripts/setup-deps.sh --bench (if present) -> CMake `release` preset, targets
# bench_fib_compare (fib), bench_algo_compare (sum, sort) and bench_tree_compare (nqueens, skynet)
# -> rayon crate (bench/rayon, offline
# against Debian's packaged crates) -> per workload: serial / spindle / rayon runs, pinned with
# taskset -> table. Exits non-zero if any build or run fails or any result is not checked.
# Fairness rules: bench/README.md.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/bench.sh [options]
  --full              main sizes: fib n=35, sum/sort n=16777216, nqueens n=13, skynet n=10000000,
                      11 reps (default quick: fib n=30, sum/sort n=4194304, nqueens n=11,
                      skynet n=1000000, 7 reps)
  --workloads "LIST"  workloads to run, in order (default: "fib sum sort nqueens skynet")
  --json FILE         also write every JSON result line to FILE
  --n N               override the problem size of every selected workload
  --n WORKLOAD=N      override one workload's size (repeatable; e.g. --n fib=32 --n sort=1000000)
  --reps R            override the number of timed repetitions
  --warmup W          untimed repetitions after pool creation (default 1)
  --threads "1 2"     thread counts to run (default: 1 2, plus nproc if > 2)
  --no-setup          do not run scripts/setup-deps.sh --bench
  --no-build          do not build; use existing binaries
  --no-spindle        skip the spindle side (rayon + Rust serial only)
  --no-rayon          skip the rayon side (spindle + C++ serial only)
  --spindle-bin PATH  use this bench_fib_compare binary (implies no CMake build; sum/sort and
                      nqueens/skynet then use bench_algo_compare / bench_tree_compare next to it
                      unless --spindle-algo-bin / --spindle-tree-bin is given)
  --spindle-algo-bin PATH
                      use this bench_algo_compare binary (implies no CMake build)
  --spindle-tree-bin PATH
                      use this bench_tree_compare binary (implies no CMake build)
  --rayon-bin PATH    use this spindle-rayon-bench binary (implies no cargo build)
  --no-pin            do not pin with taskset
  --table FILE        only print the table for an existing JSON-lines FILE, then exit
  -h, --help          this help
Environment: CARGO=/path/to/cargo picks the cargo to use; BENCH_TIMEOUT (default 900) limits
each program run, in seconds.
EOF
}

die() { echo "bench.sh: $*" >&2; exit 1; }
log() { echo "[bench] $*" >&2; }
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }

# ------------------------------------------------------------------------------------------------
# Table: reads JSON lines (ours: flat, one object per line) and prints one row per result.
# Pure awk (mawk-compatible); python3 is not assumed.
print_table() {
  awk '
    function num(key,   re) {
      re = "\"" key "\":-?[0-9][0-9.eE+-]*"
      if (match($0, re)) return substr($0, RSTART + length(key) + 3, RLENGTH - length(key) - 3) + 0
      return ""
    }
    function str(key,   re) {
      re = "\"" key "\":\"[^\"]*\""
      if (match($0, re)) return substr($0, RSTART + length(key) + 4, RLENGTH - length(key) - 5)
      return ""
    }
    function ms(x) { return sprintf("%.3f", x * 1000) }
    /^[ \t]*\{/ {
      w = str("workload"); sys = str("system"); lang = str("lang"); t = num("threads") + 0
      if (sys == "serial") sys = (lang == "rust") ? "serial-rust" : (lang == "cpp" ? "serial-c++" : "serial")
      k = ++nrows
      W[k] = w; S[k] = sys; L[k] = lang; T[k] = t
      MED[k] = num("median_s"); MIN[k] = num("min_s"); MAX[k] = num("max_s")
      CPU[k] = num("cpu_median_s"); N[k] = num("n")
      CHK[k] = ($0 ~ /"checked":true/) ? "yes" : "NO"
      if (sys ~ /^serial/) serial_med[w, lang] = MED[k]
      if (sys == "rayon") rayon_med[w, t] = MED[k]
      comp = str("compiler"); if (comp != "" && !(lang in COMPILER)) COMPILER[lang] = comp
      if (!(w in seen_w)) { seen_w[w] = 1; wl[++nw] = w }
    }
    END {
      if (nrows == 0) { print "bench.sh: no results to tabulate" > "/dev/stderr"; exit 1 }
      fmt = "%-17s %7s %-12s %11s %21s %9s %8s %9s %9s %8s\n"
      printf fmt, "workload", "threads", "system", "median ms", "min-max ms", "x serial", "x rayon", "cpu s", "cpu/wall", "checked"
      # order: per workload, serial rows first, then by thread count: spindle, rayon, others
      for (i = 1; i <= nw; i++) {
        for (pass = 0; pass < 2; pass++) {
          # collect thread counts in ascending order (simple selection; few rows)
          nt = 0
          for (k = 1; k <= nrows; k++) {
            if (W[k] != wl[i]) continue
            if ((S[k] ~ /^serial/) != (pass == 0)) continue
            dup = 0
            for (j = 1; j <= nt; j++) if (TL[j] == T[k]) dup = 1
            if (!dup) TL[++nt] = T[k]
          }
          for (a = 1; a <= nt; a++) for (b = a + 1; b <= nt; b++) if (TL[b] < TL[a]) { x = TL[a]; TL[a] = TL[b]; TL[b] = x }
          for (j = 1; j <= nt; j++) {
            for (r = 0; r < 3; r++) {
              for (k = 1; k <= nrows; k++) {
                if (W[k] != wl[i] || T[k] != TL[j]) continue
                if ((S[k] ~ /^serial/) != (pass == 0)) continue
                rank = (S[k] == "serial-c++" || S[k] == "spindle") ? 0 : ((S[k] == "serial-rust" || S[k] == "rayon") ? 1 : 2)
                if (rank != r) continue
                xs = "-"; xr = "-"; cw = "-"
                if ((W[k], L[k]) in serial_med && serial_med[W[k], L[k]] > 0) xs = sprintf("%.2f", MED[k] / serial_med[W[k], L[k]])
                if (S[k] !~ /^serial/ && (W[k], T[k]) in rayon_med && rayon_med[W[k], T[k]] > 0) xr = sprintf("%.2f", MED[k] / rayon_med[W[k], T[k]])
                if (MED[k] > 0 && CPU[k] != "") {
                  cw = sprintf("%.2f", CPU[k] / MED[k])
                  if (CPU[k] / MED[k] < 0.8 * T[k]) { cw = cw "*"; starved = 1 }
                }
                printf fmt, W[k] "(" N[k] ")", T[k], S[k], ms(MED[k]), ms(MIN[k]) "-" ms(MAX[k]), xs, xr, (CPU[k] == "" ? "-" : sprintf("%.4f", CPU[k])), cw, CHK[k]
              }
            }
          }
        }
      }
      print ""
      print "x serial = median / median of the serial version in the same language (T_p/T_S: C++ for spindle, Rust for rayon)."
      print "x rayon  = median / rayon median at the same thread count (< 1: faster than rayon)."
      print "cpu s    = median process CPU time (user+sys, all threads) per rep; cpu/wall ~ threads busy (spinning shows here)."
      if (starved) print "*        cpu/wall well below the thread count: the run was starved by other load, or did not run in parallel."
      for (l in COMPILER) printf "compiler (%s): %s\n", l, COMPILER[l]
    }
  ' "$1"
}

# ------------------------------------------------------------------------------------------------
# Options.
full=0; json_out=""; n=""; reps=""; warmup=1; threads_list=""
do_setup=1; do_build=1; do_spindle=1; do_rayon=1; do_pin=1
spindle_bin=""; spindle_algo_bin=""; spindle_tree_bin=""; rayon_bin=""; table_only=""
workloads="fib sum sort nqueens skynet"
declare -A n_of=()  # --n WORKLOAD=N
set_n() {
  case "$1" in
    *=*) n_of[${1%%=*}]=${1#*=} ;;
    *) n=$1 ;;
  esac
}
while [ $# -gt 0 ]; do
  case "$1" in
    --full) full=1 ;;
    --json) [ $# -ge 2 ] || die "--json needs a file"; json_out=$(abspath "$2"); shift ;;
    --json=*) json_out=$(abspath "${1#*=}") ;;
    --n) [ $# -ge 2 ] || die "--n needs a value"; set_n "$2"; shift ;;
    --n=*) set_n "${1#*=}" ;;
    --workloads) [ $# -ge 2 ] || die "--workloads needs a list"; workloads=$2; shift ;;
    --reps) [ $# -ge 2 ] || die "--reps needs a value"; reps=$2; shift ;;
    --warmup) [ $# -ge 2 ] || die "--warmup needs a value"; warmup=$2; shift ;;
    --threads) [ $# -ge 2 ] || die "--threads needs a value"; threads_list=$2; shift ;;
    --no-setup) do_setup=0 ;;
    --no-build) do_build=0 ;;
    --no-spindle) do_spindle=0 ;;
    --no-rayon) do_rayon=0 ;;
    --no-pin) do_pin=0 ;;
    --spindle-bin) [ $# -ge 2 ] || die "--spindle-bin needs a path"; spindle_bin=$(abspath "$2"); shift ;;
    --spindle-algo-bin) [ $# -ge 2 ] || die "--spindle-algo-bin needs a path"; spindle_algo_bin=$(abspath "$2"); shift ;;
    --spindle-tree-bin) [ $# -ge 2 ] || die "--spindle-tree-bin needs a path"; spindle_tree_bin=$(abspath "$2"); shift ;;
    --rayon-bin) [ $# -ge 2 ] || die "--rayon-bin needs a path"; rayon_bin=$(abspath "$2"); shift ;;
    --table) [ $# -ge 2 ] || die "--table needs a file"; table_only=$(abspath "$2"); shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done

if [ -n "$table_only" ]; then
  [ -r "$table_only" ] || die "cannot read $table_only"
  print_table "$table_only"
  # same rule as a real run: any unchecked result fails
  if grep -q '"checked":false' "$table_only"; then exit 1; fi
  exit 0
fi

# Sizes: quick (default) and --full; --n N overrides all selected workloads, --n W=N one.
if [ "$full" = 1 ]; then reps=${reps:-11}; else reps=${reps:-7}; fi
default_n() {  # $1 workload
  case "$1:$full" in
    fib:0) echo 30 ;;
    fib:1) echo 35 ;;
    sum:0 | sort:0) echo 4194304 ;;
    sum:1 | sort:1) echo 16777216 ;;
    nqueens:0) echo 11 ;;
    nqueens:1) echo 13 ;;
    skynet:0) echo 1000000 ;;
    skynet:1) echo 10000000 ;;
  esac
}
need_algo=0
need_tree=0
wl_n=()
for w in $workloads; do
  case "$w" in
    fib) ;;
    sum | sort) need_algo=1 ;;
    nqueens | skynet) need_tree=1 ;;
    *) die "unknown workload '$w' (known: fib sum sort nqueens skynet)" ;;
  esac
done
[ -n "${workloads// /}" ] || die "--workloads: empty list"
for w in "${!n_of[@]}"; do
  case " $workloads " in *" $w "*) ;; *) die "--n $w=...: '$w' is not among the workloads ($workloads)" ;; esac
done
size_of() {  # $1 workload
  if [ -n "${n_of[$1]:-}" ]; then echo "${n_of[$1]}"; elif [ -n "$n" ]; then echo "$n"; else default_n "$1"; fi
}
for w in $workloads; do wl_n+=("$(size_of "$w")"); done
for v in "${wl_n[@]}" "$reps" "$warmup"; do
  case "$v" in ''|*[!0-9]*) die "not a non-negative integer: '$v'" ;; esac
done
ncpu=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
if [ -z "$threads_list" ]; then
  threads_list="1 2"
  if [ "$ncpu" -gt 2 ]; then threads_list="$threads_list $ncpu"; fi
fi
[ "$do_spindle" = 1 ] || [ "$do_rayon" = 1 ] || die "nothing to run (--no-spindle and --no-rayon)"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

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

# The spindle programs: bench_fib_compare (fib), bench_algo_compare (sum, sort) and
# bench_tree_compare (nqueens, skynet).
need_fib=0
case " $workloads " in *" fib "*) need_fib=1 ;; esac
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
if [ "$do_spindle" = 1 ]; then
  # A given --spindle-bin without --spindle-algo-bin: take bench_algo_compare from the same folder.
  if [ -n "$spindle_bin" ] && [ -z "$spindle_algo_bin" ] && [ "$need_algo" = 1 ]; then
    spindle_algo_bin="$(dirname "$spindle_bin")/bench_algo_compare"
    [ -x "$spindle_algo_bin" ] || die "--spindle-bin given, but no bench_algo_compare next to it for sum/sort: pass --spindle-algo-bin PATH (or --workloads fib)"
  fi
  if [ -n "$spindle_algo_bin" ] && [ -z "$spindle_bin" ] && [ "$need_fib" = 1 ]; then
    spindle_bin="$(dirname "$spindle_algo_bin")/bench_fib_compare"
    [ -x "$spindle_bin" ] || die "--spindle-algo-bin given, but no bench_fib_compare next to it for fib: pass --spindle-bin PATH"
  fi
  # A given --spindle-bin or --spindle-algo-bin without --spindle-tree-bin: bench_tree_compare
  # from the same folder.
  if [ -z "$spindle_tree_bin" ] && [ "$need_tree" = 1 ] && { [ -n "$spindle_bin" ] || [ -n "$spindle_algo_bin" ]; }; then
    given=${spindle_bin:-$spindle_algo_bin}
    spindle_tree_bin="$(dirname "$given")/bench_tree_compare"
    [ -x "$spindle_tree_bin" ] || die "--spindle-bin/--spindle-algo-bin given, but no bench_tree_compare next to it for nqueens/skynet: pass --spindle-tree-bin PATH"
  fi
  targets=()
  if [ "$need_fib" = 1 ] && [ -z "$spindle_bin" ]; then targets+=(bench_fib_compare); fi
  if [ "$need_algo" = 1 ] && [ -z "$spindle_algo_bin" ]; then targets+=(bench_algo_compare); fi
  if [ "$need_tree" = 1 ] && [ -z "$spindle_tree_bin" ]; then targets+=(bench_tree_compare); fi
  if [ "$do_build" = 1 ] && [ "${#targets[@]}" -gt 0 ]; then
    command -v cmake >/dev/null || die "cmake not found (scripts/setup-deps.sh installs it)"
    log "building ${targets[*]} (CMake preset: release)"
    bfc_hint="building ${targets[*]} failed (bench targets exist only when Google Benchmark is found: libbenchmark-dev; --no-spindle runs rayon alone)"
    if [ -f CMakePresets.json ]; then
      cmake --preset release >&2 || die "cmake --preset release failed"
      if cmake --list-presets=build 2>/dev/null | grep -q '"release"'; then
        cmake --build --preset release --target "${targets[@]}" -j2 >&2 || die "$bfc_hint"
      else
        cmake --build build/release --target "${targets[@]}" -j2 >&2 || die "$bfc_hint"
      fi
    else
      log "no CMakePresets.json; configuring build/release with CMAKE_BUILD_TYPE=Release"
      cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >&2 || die "cmake configure failed"
      cmake --build build/release --target "${targets[@]}" -j2 >&2 || die "$bfc_hint"
    fi
  fi
  if [ "$need_fib" = 1 ] && [ -z "$spindle_bin" ]; then
    spindle_bin=$(find_built bench_fib_compare)
    [ -n "$spindle_bin" ] || die "bench_fib_compare not found under build/release"
  fi
  if [ "$need_algo" = 1 ] && [ -z "$spindle_algo_bin" ]; then
    spindle_algo_bin=$(find_built bench_algo_compare)
    [ -n "$spindle_algo_bin" ] || die "bench_algo_compare not found under build/release"
  fi
  if [ "$need_tree" = 1 ] && [ -z "$spindle_tree_bin" ]; then
    spindle_tree_bin=$(find_built bench_tree_compare)
    [ -n "$spindle_tree_bin" ] || die "bench_tree_compare not found under build/release"
  fi
fi

if [ "$do_rayon" = 1 ] && [ -z "$rayon_bin" ]; then
  if [ "$do_build" = 1 ]; then
    cargo_bin=$(find_cargo) || die "cargo not found (apt install cargo librust-rayon-dev, or rustup)"
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
if [ "$do_rayon" = 1 ]; then [ -x "$rayon_bin" ] || die "rayon benchmark binary not found: $rayon_bin"; fi

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
# Runs.
results=$(mktemp "${TMPDIR:-/tmp}/spindle-bench.XXXXXX")
trap 'rm -f "$results"' EXIT
failed=0
workload=""; n=""
# A hung run (e.g. a scheduler deadlock) must not hang the script: BENCH_TIMEOUT seconds per program run.
tmo=""
if command -v timeout >/dev/null 2>&1; then tmo="timeout ${BENCH_TIMEOUT:-900}"; fi

run_one() {  # $1 label, $2 threads for pinning, rest: command
  local label=$1 t=$2; shift 2
  local pin out rc line
  pin=$(pin_prefix "$t")
  log "$workload n=$n threads=$t $label ${pin:+($pin)}"
  set +e
  # shellcheck disable=SC2086
  out=$($tmo $pin "$@")
  rc=$?
  set -e
  if [ "$rc" -eq 124 ] && [ -n "$tmo" ]; then log "  TIMED OUT after ${BENCH_TIMEOUT:-900} s"; fi
  if [ -n "$out" ]; then printf '%s\n' "$out" >>"$results"; fi
  if [ "$rc" -ne 0 ]; then log "  FAILED (exit $rc): $*"; failed=1; fi
  if [ -z "$out" ]; then log "  no result line"; failed=1; return 0; fi
  while IFS= read -r line; do
    case "$line" in
      *'"checked":true'*) ;;
      *) log "  NOT CHECKED: $line"; failed=1 ;;
    esac
    log "  median $(printf '%s' "$line" | sed -n 's/.*"median_s":\([0-9.eE+-]*\).*/\1/p') s"
  done <<<"$out"
}

if [ -r /proc/loadavg ]; then
  load=$(cut -d' ' -f1 /proc/loadavg)
  if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
    log "warning: load average $load before starting; other work on this machine will distort the results"
  fi
fi

for t in $threads_list; do
  case "$t" in ''|*[!0-9]*|0) die "bad thread count '$t'" ;; esac
done
wi=0
for workload in $workloads; do
  n=${wl_n[$wi]}; wi=$((wi + 1))
  sbin=$spindle_bin
  case "$workload" in
    sum | sort) sbin=$spindle_algo_bin ;;
    nqueens | skynet) sbin=$spindle_tree_bin ;;
  esac
  common=(--n "$n" --reps "$reps" --warmup "$warmup")
  # Serial baselines once per language, on the first CPU.
  if [ "$do_spindle" = 1 ]; then run_one "serial (C++)" 1 "$sbin" "$workload" "${common[@]}" --threads 1 --system serial; fi
  if [ "$do_rayon" = 1 ]; then run_one "serial (Rust)" 1 "$rayon_bin" "$workload" "${common[@]}" --threads 1 --system serial; fi
  for t in $threads_list; do
    if [ "$do_spindle" = 1 ]; then run_one spindle "$t" "$sbin" "$workload" "${common[@]}" --threads "$t" --system spindle; fi
    if [ "$do_rayon" = 1 ]; then run_one rayon "$t" "$rayon_bin" "$workload" "${common[@]}" --threads "$t" --system rayon; fi
  done
done

if [ -n "$json_out" ]; then
  cp "$results" "$json_out"
  log "JSON lines written to $json_out"
fi

echo
print_table "$results" || failed=1
if [ "$failed" != 0 ]; then
  echo "bench.sh: FAILED: a build/run failed or a result was not checked" >&2
  exit 1
fi
