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
# Steps: scripts/setup-deps.sh --bench (if present) -> CMake `release` preset, targets
# bench_fib_compare (fib), bench_algo_compare (sum, sort), bench_tree_compare (nqueens, skynet),
# bench_suite_compare (uts, matmul, mergesort, quicksort, integrate, idle, wakeup) and
# bench_query_graph (query_graph, when bench/query_graph.cpp exists) -> rayon crate (bench/rayon,
# offline against Debian's packaged crates) -> per workload: C++ serial, Rust serial, then at
# each thread count spindle, rayon, tbb, omp, each pinned with taskset -> a table per workload
# (+ JSON lines and an SVG chart on request). Systems a build lacks (no oneTBB, no OpenMP) are
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
                        query_graph  4000       16000     (when bench_query_graph exists)
  --workloads "LIST"  workloads to run, in order (default: all of the above)
  --systems "LIST"    parallel systems to run (default: "spindle rayon rayon@spindle tbb omp");
                      the serial baselines (C++ and Rust) always run for the languages involved.
                      rayon@spindle: bench/rayon's program, the same source, built a second time
                      (bench/rayon-spindle) with rayon-core replaced by bindings/rust/rayon-core
  --json FILE         also write every JSON result line to FILE (and an SVG chart next to it)
  --svg FILE          write the SVG chart of the ratios to rayon to FILE
  --n N               override the problem size of every selected workload
  --n WORKLOAD=N      override one workload's size (repeatable; e.g. --n fib=32 --n sort=1000000)
  --reps R            timed repetitions (default 7; --full 11)
  --max-time S        a system stops after 3+ reps once its timed reps took S seconds
                      (default 1.5; --full 10; 0: always R reps). Keeps OpenMP's slow runs short.
  --warmup W          untimed repetitions after pool creation (default 1)
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
  --cpp-dir DIR       take the C++ programs (bench_*_compare, bench_query_graph) from DIR
                      (implies no CMake build)
  --spindle-bin PATH  bench_fib_compare to use; the other C++ programs are taken from its folder
  --rayon-bin PATH    use this spindle-rayon-bench binary (implies no cargo build of bench/rayon)
  --rayon-spindle-bin PATH   the same for rayon@spindle (bench/rayon-spindle)
  --no-pin            do not pin with taskset
  --no-keep-awake     let idle CPUs go idle (by default a SCHED_IDLE spinner per CPU keeps the
                      VM's vCPUs awake; bench/README.md, "Idle CPUs")
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

all_workloads="fib sum sort nqueens skynet uts matmul mergesort quicksort integrate idle wakeup"
# The query-graph workload (bench/query_graph.cpp, bench/rayon/src/workloads/query_graph.rs) is
# added to the default list when its C++ program exists; see `qg_hook` below.
optional_workloads="query_graph"

# ------------------------------------------------------------------------------------------------
# Tables: read JSON lines (flat, one object per line) and print one table per workload. Pure awk
# (mawk-compatible); python3 is not assumed.
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
    function ms(x) { return (x < 0.01) ? sprintf("%.4f", x * 1000) : sprintf("%.2f", x * 1000) }
    function rank(s) {
      if (s == "serial-c++") return 0; if (s == "serial-rust") return 1
      if (s == "spindle") return 2; if (s == "rayon") return 3; if (s == "rayon@spindle") return 4
      if (s == "tbb") return 5; if (s == "omp") return 6; return 7
    }
    /^[ \t]*\{/ {
      w = str("workload"); sys = str("system"); lang = str("lang"); t = num("threads") + 0
      if (sys == "serial") sys = (lang == "rust") ? "serial-rust" : (lang == "cpp" ? "serial-c++" : "serial")
      k = ++nrows
      W[k] = w; S[k] = sys; L[k] = lang; T[k] = t
      MED[k] = num("median_s"); MIN[k] = num("min_s"); MAX[k] = num("max_s")
      CPU[k] = num("cpu_median_s"); N[k] = num("n"); RSS[k] = num("peak_rss_kb"); REPS[k] = num("reps")
      SPD[k] = num("speedup"); CAP[k] = num("capacity"); EFF[k] = num("efficiency")
      FLG[k] = ($0 ~ /"flagged":true/) ? 1 : 0
      FR[k] = "-"; why = str("flag_reasons")
      if (why != "") { FR[k] = ""; nwhy = split(why, parts, "+"); for (q = 1; q <= nwhy; q++) FR[k] = FR[k] substr(parts[q], 1, 1) }
      if (match($0, /"result":[0-9]+/)) RES[k] = substr($0, RSTART + 9, RLENGTH - 9); else RES[k] = "?"
      CHK[k] = ($0 ~ /"checked":true/) ? "yes" : "NO"
      # idle: the ratios compare CPU time (the wall time is the fixed interval)
      FIG[k] = (w == "idle") ? CPU[k] : MED[k]
      if (sys ~ /^serial/) serial_med[w, lang] = FIG[k]
      if (sys == "rayon") rayon_med[w, t] = FIG[k]
      comp = str("compiler"); if (comp != "" && !(lang in COMPILER)) COMPILER[lang] = comp
      if (!(w in seen_w)) { seen_w[w] = 1; wl[++nw] = w }
    }
    END {
      if (nrows == 0) { print "bench.sh: no results to tabulate" > "/dev/stderr"; exit 1 }
      fmt = "%-7s %-12s %10s %21s %9s %8s %9s %8s %8s %5s %7s %6s %5s %5s %4s\n"
      for (i = 1; i <= nw; i++) {
        w = wl[i]; nn = ""
        for (k = 1; k <= nrows; k++) if (W[k] == w) { nn = N[k]; break }
        printf "\n== %s (n=%s) ==\n", w, nn
        printf fmt, "threads", "system", "median ms", "min-max ms", "x serial", "x rayon", "cpu s", "cpu/wall", "peak MB", "reps", "checked", "x 1w", "cap", "eff", "flag"
        # rows: serial first, then by thread count, systems in a fixed order
        nt = 0
        for (k = 1; k <= nrows; k++) {
          if (W[k] != w) continue
          key = (S[k] ~ /^serial/) ? 0 : T[k]
          dup = 0
          for (j = 1; j <= nt; j++) if (TL[j] == key) dup = 1
          if (!dup) TL[++nt] = key
        }
        for (a = 1; a <= nt; a++) for (b = a + 1; b <= nt; b++) if (TL[b] < TL[a]) { x = TL[a]; TL[a] = TL[b]; TL[b] = x }
        nres = 0; split("", RV)
        for (j = 1; j <= nt; j++) {
          for (r = 0; r <= 7; r++) {
            for (k = 1; k <= nrows; k++) {
              if (W[k] != w || rank(S[k]) != r) continue
              if (((S[k] ~ /^serial/) ? 0 : T[k]) != TL[j]) continue
              xs = "-"; xr = "-"; cw = "-"
              if ((W[k], L[k]) in serial_med && serial_med[W[k], L[k]] > 0 && S[k] !~ /^serial/ && w != "wakeup") xs = sprintf("%.2f", FIG[k] / serial_med[W[k], L[k]])
              if (S[k] !~ /^serial/ && (W[k], T[k]) in rayon_med && rayon_med[W[k], T[k]] > 0) xr = sprintf("%.2f", FIG[k] / rayon_med[W[k], T[k]])
              if (MED[k] > 0 && CPU[k] != "") {
                cw = sprintf("%.2f", CPU[k] / MED[k])
                if (w != "idle" && w != "wakeup" && CPU[k] / MED[k] < 0.8 * T[k]) { cw = cw "*"; starved = 1 }
              }
              if (w == "idle" || w == "wakeup") cw = "-"
              sp = (SPD[k] == "") ? "-" : sprintf("%.2f", SPD[k])
              cp = (CAP[k] == "") ? "-" : sprintf("%.2f", CAP[k])
              ef = (EFF[k] == "") ? "-" : sprintf("%.2f", EFF[k])
              printf fmt, T[k], S[k], ms(MED[k]), ms(MIN[k]) "-" ms(MAX[k]), xs, xr, (CPU[k] == "" ? "-" : sprintf("%.4f", CPU[k])), cw, sprintf("%.1f", RSS[k] / 1024), REPS[k], CHK[k], sp, cp, ef, FR[k]
              if (!(RES[k] in RV)) { RV[RES[k]] = 1; nres++ }
            }
          }
        }
        if (w == "idle") print "idle: cpu s = CPU burnt by the whole process over the ~n x 10 ms rep (one empty job every 10 ms); x serial and x rayon compare cpu s."
        else if (w == "wakeup") print "wakeup: median = mean submit->start latency of one job sent to an idle pool (10 ms idle before each)."
        else if (nres > 1) { printf "WARNING: %s: the systems report different results\n", w; differ = 1 }
        else print "results: every system reports the same result."
      }
      print ""
      print "x serial = median / median of the serial version in the same language (T_p/T_S: C++ for spindle, tbb, omp; Rust for rayon)."
      print "x rayon  = median / rayon median at the same thread count (< 1: faster than rayon)."
      print "cpu s    = median process CPU time (user+sys, all threads) per rep; cpu/wall ~ threads busy (spinning shows here)."
      print "peak MB  = peak RSS of the process (getrusage ru_maxrss) after that system ran; reps = timed reps (--max-time may cut them to 3)."
      if (starved) print "*        cpu/wall well below the thread count: starved by other load, or not parallel (e.g. a serial partition)."
      print "x 1w     = speed-up: median of a 1-worker pool of the same system, its reps alternating with these in the same process, / median."
      print "cap      = capacity: CPUs'"'"' worth of work the machine gave the process (a fixed kernel on T pinned threads at once vs alone; median of"
      print "           the probes taken between the reps); eff = x 1w / cap (bench/README.md, \"Capacity and efficiency\")."
      print "flag     = why the process is flagged: c = cap < 0.9 x threads, s = the probe threads'"'"' CPU share < 0.9 (preempted by other"
      print "           processes or the host); - = not flagged. A flagged row measured the machine, not the pool."
      for (l in COMPILER) printf "compiler (%s): %s\n", l, COMPILER[l]
      if (differ) exit 3
    }
  ' "$1"
}

# ------------------------------------------------------------------------------------------------
# --processes N: one table per workload and thread count, one row per process index, the systems
# side by side (process k of every system ran one after the other, so they saw the same machine),
# then a summary line per (workload, system, threads). Pure awk.
print_process_tables() {  # $1 JSON lines with a "process" field
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
    function ms(x) { return (x == "") ? "-" : ((x < 0.01) ? sprintf("%.4f", x * 1000) : sprintf("%.2f", x * 1000)) }
    function f2(x) { return (x == "") ? "-" : sprintf("%.2f", x) }
    function rank(s) {
      if (s == "spindle") return 0; if (s == "rayon") return 1; if (s == "rayon@spindle") return 2
      if (s == "tbb") return 3; if (s == "omp") return 4; return 5
    }
    function sortv(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x } }
    function med(a, n) { sortv(a, n); return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    /^[ \t]*\{/ {
      w = str("workload"); s = str("system"); t = num("threads") + 0; p = num("process") + 0
      if (s == "serial") s = "serial-" str("lang")
      key = w SUBSEP t
      if (!(key in seen_k)) { seen_k[key] = 1; KL[++nk] = key; KW[nk] = w; KT[nk] = t; KN[nk] = num("n") }
      if (!((key, s) in seen_s)) { seen_s[key, s] = 1; NS[key]++; SYS[key, NS[key]] = s }
      if (p > NP[key]) NP[key] = p
      MED[key, s, p] = num("median_s"); BASE[key, s, p] = num("base_median_s")
      SPD[key, s, p] = num("speedup"); CAP[key, s, p] = num("capacity"); EFF[key, s, p] = num("efficiency")
      SH[key, s, p] = num("probe_cpu_share"); CW[key, s, p] = ""
      if (num("median_s") > 0 && num("cpu_median_s") != "") CW[key, s, p] = num("cpu_median_s") / num("median_s")
      why = str("flag_reasons"); FR[key, s, p] = "-"
      if (why != "") { FR[key, s, p] = ""; nwhy = split(why, parts, "+"); for (q = 1; q <= nwhy; q++) FR[key, s, p] = FR[key, s, p] substr(parts[q], 1, 1) }
      FLG[key, s, p] = ($0 ~ /"flagged":true/) ? 1 : 0
      HAVE[key, s, p] = 1
      if ($0 !~ /"checked":true/) bad = 1
      if (match($0, /"result":[0-9]+/)) { r = substr($0, RSTART + 9, RLENGTH - 9); if (!((w, r) in RV)) { RV[w, r] = 1; NR_W[w]++ } }
    }
    END {
      if (nk == 0) { print "bench.sh: no results to tabulate" > "/dev/stderr"; exit 1 }
      for (i = 1; i <= nk; i++) {
        key = KL[i]
        # systems in a fixed order
        n = NS[key]
        for (a = 1; a <= n; a++) for (b = a + 1; b <= n; b++) if (rank(SYS[key, b]) < rank(SYS[key, a])) { x = SYS[key, a]; SYS[key, a] = SYS[key, b]; SYS[key, b] = x }
        printf "\n== %s (n=%s), %d threads, %d processes ==\n", KW[i], KN[i], KT[i], NP[key]
        line1 = sprintf("%-5s", "proc"); line2 = sprintf("%-5s", "")
        for (j = 1; j <= n; j++) {
          line1 = line1 sprintf(" | %-54s", SYS[key, j])
          line2 = line2 sprintf(" | %9s %9s %5s %8s %5s %5s %5s %4s", "median ms", "1w ms", "x 1w", "cpu/wall", "cap", "share", "eff", "flag")
        }
        print line1; print line2
        for (p = 1; p <= NP[key]; p++) {
          row = sprintf("%-5d", p)
          for (j = 1; j <= n; j++) {
            s = SYS[key, j]
            if (!((key, s, p) in HAVE)) { row = row sprintf(" | %-54s", "(no result)"); continue }
            row = row sprintf(" | %9s %9s %5s %8s %5s %5s %5s %4s", ms(MED[key, s, p]), ms(BASE[key, s, p]), f2(SPD[key, s, p]), f2(CW[key, s, p]), f2(CAP[key, s, p]), f2(SH[key, s, p]), f2(EFF[key, s, p]), FR[key, s, p])
          }
          print row
        }
        for (j = 1; j <= n; j++) {
          s = SYS[key, j]; ne = 0; nc = 0; nm = 0; nf = 0; low = 0; mine = ""; split("", E); split("", C); split("", M)
          nu = 0; lowu = 0; minu = ""; split("", UE)
          for (p = 1; p <= NP[key]; p++) {
            if (!((key, s, p) in HAVE)) continue
            M[++nm] = MED[key, s, p]
            if (FLG[key, s, p]) nf++
            if (CAP[key, s, p] != "") C[++nc] = CAP[key, s, p]
            if (EFF[key, s, p] != "") {
              E[++ne] = EFF[key, s, p]; if (mine == "" || E[ne] < mine) mine = E[ne]; if (E[ne] < 0.9) low++
              if (!FLG[key, s, p]) { UE[++nu] = EFF[key, s, p]; if (minu == "" || EFF[key, s, p] < minu) minu = EFF[key, s, p]; if (EFF[key, s, p] < 0.9) lowu++ }
            }
          }
          if (ne > 0) {
            printf "%s %s %d threads: efficiency min %.2f, median %.2f, %d of %d processes below 0.90; capacity median %.2f; median of medians %s ms; %d of %d processes flagged", KW[i], s, KT[i], mine, med(E, ne), low, ne, med(C, nc), ms(med(M, nm)), nf, nm
            if (nf > 0 && nu > 0) printf "; unflagged: efficiency min %.2f, median %.2f, %d of %d below 0.90", minu, med(UE, nu), lowu, nu
            printf "\n"
          } else if (nc > 0)
            printf "%s %s %d threads: no efficiency (no 1-worker reps in the process); capacity median %.2f; median of medians %s ms; %d of %d processes flagged\n", KW[i], s, KT[i], med(C, nc), ms(med(M, nm)), nf, nm
          else
            printf "%s %s %d threads: median of medians %s ms; %d of %d processes flagged\n", KW[i], s, KT[i], ms(med(M, nm)), nf, nm
        }
        if (NR_W[KW[i]] > 1) { printf "WARNING: %s: the processes report different results\n", KW[i]; differ = 1 }
      }
      print ""
      print "median ms = the process'"'"'s median over its timed reps at that thread count; 1w ms = the median of the 1-worker pool of the same"
      print "            system whose reps alternated with those in the same process; x 1w = speed-up = 1w ms / median ms."
      print "cpu/wall  = median process CPU time / median wall time of the T-worker reps (~ threads busy; spinning counts)."
      print "cap       = capacity: CPUs'"'"' worth of work the machine gave the process (a fixed kernel on T pinned threads at once vs alone;"
      print "            median of the probes taken between the reps); eff = x 1w / cap."
      print "share     = the probe threads'"'"' CPU time / wall time (< 1: preempted, by other processes or the host)."
      print "flag      = why the process is flagged: c = cap < 0.9 x threads, s = share < 0.9; - = not flagged."
      print "            A flagged process measured the machine, not the pool (bench/README.md, \"Capacity and efficiency\")."
      if (differ) exit 3
      if (bad) exit 1
    }
  ' "$1"
}

# ------------------------------------------------------------------------------------------------
# Steals by victim level (--topology / --placement): one row per spindle run, the timed reps'
# successful / tried steals at each level, nearest first.
print_levels_table() {  # $1 JSON lines
  awk -v topo="${SPINDLE_TOPOLOGY:-machine}" -v place="${SPINDLE_PLACEMENT:-none}" '
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
    BEGIN {
      printf "\n== spindle steals by victim level (ok/tried over the timed reps), topology \"%s\", placement %s ==\n", topo, place
      printf "%-12s %7s %15s %15s %15s %17s %13s %10s\n", "workload", "threads", "smt", "cache", "node", "remote", "spare", "remote %ok"
    }
    /"steals_ok_smt"/ {
      if (str("system") != "spindle") next
      ok = 0; split("smt cache node remote spare", L, " ")
      for (i = 1; i <= 5; i++) { o[i] = num("steals_ok_" L[i]); tr[i] = num("steals_tried_" L[i]); ok += o[i] }
      printf "%-12s %7d", str("workload"), num("threads")
      printf " %15s %15s %15s %17s %13s", o[1] "/" tr[1], o[2] "/" tr[2], o[3] "/" tr[3], o[4] "/" tr[4], o[5] "/" tr[5]
      pct = 0
      if (ok > 0) pct = 100 * o[4] / ok
      printf " %9.1f%%\n", pct
    }
  ' "$1"
}

# ------------------------------------------------------------------------------------------------
# SVG chart: one row of bars per workload and thread count, one bar per system other than rayon,
# length = log10(median / rayon median), drawn left (faster than rayon) or right (slower) of the
# rayon line. Pure awk.
write_svg() {  # $1 JSON lines, $2 output SVG
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
    function log10(x) { return log(x) / log(10) }
    function xpos(r,   l) { l = log10(r); if (l < lo) l = lo; if (l > hi) l = hi; return x0 + (l - lo) / (hi - lo) * pw }
    /^[ \t]*\{/ {
      w = str("workload"); s = str("system"); t = num("threads") + 0; m = num("median_s")
      if (w == "idle") m = num("cpu_median_s")   # idle: compare the CPU burnt, not the wall time
      if (s == "serial") next
      MED[w, s, t] = m
      if (!(w in SW)) { SW[w] = 1; WL[++nw] = w }
      if (!(t in ST)) { ST[t] = 1; TH[++nt] = t }
      if (!(s in SS) && s != "rayon") { SS[s] = 1; SY[++ns] = s }
    }
    END {
      for (a = 1; a <= nt; a++) for (b = a + 1; b <= nt; b++) if (TH[b] < TH[a]) { x = TH[a]; TH[a] = TH[b]; TH[b] = x }
      color["spindle"] = "#1f77b4"; color["tbb"] = "#2ca02c"; color["omp"] = "#d62728"; color["rayon@spindle"] = "#ff7f0e"
      lo = -1; hi = 3          # 0.1x .. 1000x of rayon
      x0 = 190; pw = 560; bh = 9; y = 60
      rows = 0
      for (i = 1; i <= nw; i++) for (j = 1; j <= nt; j++) rows++
      height = 90 + rows * (ns * bh + 8) + 40
      printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"11\">\n", x0 + pw + 40, height
      printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      printf "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">Median time relative to rayon (log scale; left of the line = faster than rayon; idle: CPU time)</text>\n"
      for (e = lo; e <= hi; e++) {
        xx = x0 + (e - lo) / (hi - lo) * pw
        printf "<line x1=\"%.1f\" y1=\"40\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\"/>\n", xx, xx, height - 40, (e == 0 ? "black" : "#ddd")
        printf "<text x=\"%.1f\" y=\"36\" text-anchor=\"middle\">%gx</text>\n", xx, 10 ^ e
      }
      for (i = 1; i <= nw; i++) {
        for (j = 1; j <= nt; j++) {
          w = WL[i]; t = TH[j]
          printf "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s, %d thr</text>\n", x0 - 6, y + ns * bh / 2 + 4, w, t
          for (k = 1; k <= ns; k++) {
            s = SY[k]; yy = y + (k - 1) * bh
            if (((w, s, t) in MED) && ((w, "rayon", t) in MED) && MED[w, "rayon", t] > 0 && MED[w, s, t] > 0) {
              r = MED[w, s, t] / MED[w, "rayon", t]
              xa = xpos(1); xb = xpos(r)
              if (xb < xa) { xl = xb; wd = xa - xb } else { xl = xa; wd = xb - xa }
              printf "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>%s %s %d threads: %.3gx rayon</title></rect>\n", xl, yy, (wd < 1 ? 1 : wd), bh - 1, (s in color ? color[s] : "#888"), w, s, t, r
              printf "<text x=\"%.1f\" y=\"%d\" font-size=\"8\">%.2g</text>\n", (xb < xa ? xa : xb) + 3, yy + bh - 2, r
            }
          }
          y += ns * bh + 8
        }
      }
      lx = 10
      for (k = 1; k <= ns; k++) {
        s = SY[k]
        printf "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>\n", lx, height - 22, (s in color ? color[s] : "#888"), lx + 14, height - 13, s
        lx += 110
      }
      printf "<text x=\"%d\" y=\"%d\">black line: rayon (1x)</text>\n", lx, height - 13
      print "</svg>"
    }
  ' "$1" >"$2"
}

# ------------------------------------------------------------------------------------------------
# Options.
full=0; json_out=""; svg_out=""; n=""; reps=""; warmup=1; threads_list=""; max_time=""; trace_dir=""
do_setup=1; do_build=1; do_pin=1
systems="spindle rayon rayon@spindle tbb omp"
cpp_dir=""; rayon_bin=""; rayon_spindle_bin=""; table_only=""; workloads=""; processes=0
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
    --no-keep-awake) export BENCH_KEEP_AWAKE=0 ;;
    --no-keep-awake) export BENCH_KEEP_AWAKE=0 ;;
    --trace) [ $# -ge 2 ] || die "--trace needs a folder"; mkdir -p "$2"; trace_dir=$(abspath "$2"); shift ;;
    --topology) [ $# -ge 2 ] || die "--topology needs a description"; topology=$2; shift ;;
    --placement) [ $# -ge 2 ] || die "--placement needs a value"; placement=$2; shift ;;
    --cpp-dir) [ $# -ge 2 ] || die "--cpp-dir needs a folder"; cpp_dir=$(abspath "$2"); shift ;;
    --spindle-bin) [ $# -ge 2 ] || die "--spindle-bin needs a path"; cpp_dir=$(dirname "$(abspath "$2")"); shift ;;
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
cpp_prog_of() {  # $1 workload -> C++ program name
  case "$1" in
    fib) echo bench_fib_compare ;;
    sum | sort) echo bench_algo_compare ;;
    nqueens | skynet) echo bench_tree_compare ;;
    uts | matmul | mergesort | quicksort | integrate | idle | wakeup) echo bench_suite_compare ;;
    query_graph) echo bench_query_graph ;;
  esac
}
for v in "$reps" "$warmup"; do
  case "$v" in ''|*[!0-9]*) die "not a non-negative integer: '$v'" ;; esac
done
[ "$reps" -ge 1 ] || die "--reps must be >= 1"
awk -v m="$max_time" 'BEGIN { exit !(m ~ /^[0-9]+(\.[0-9]+)?$/) }' || die "--max-time: not a number of seconds: '$max_time'"
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

# The query-graph hook: its workload runs when its C++ program can be built or exists (and the
# rayon side when the rayon binary lists it).
qg_hook=0
if [ -f bench/query_graph.cpp ] || [ -n "$(find build/release -maxdepth 2 -name bench_query_graph -type f 2>/dev/null | head -n 1)" ]; then
  qg_hook=1
fi
if [ -z "$workloads" ]; then
  workloads=$all_workloads
  if [ "$qg_hook" = 1 ] || { [ -n "$cpp_dir" ] && [ -x "$cpp_dir/bench_query_graph" ]; }; then workloads="$workloads query_graph"; fi
fi
[ -n "${workloads// /}" ] || die "--workloads: empty list"
for w in $workloads; do
  case " $all_workloads $optional_workloads " in *" $w "*) ;; *) die "unknown workload '$w' (known: $all_workloads $optional_workloads)" ;; esac
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

declare -A cpp_bin=()     # program name -> path
declare -A cpp_sys=()     # program name -> " serial spindle tbb omp " (what the build has)
declare -A cpp_unlisted=()  # programs without --list-systems (they implement serial and spindle)
declare -A cpp_impl=()    # program name -> " serial spindle ... " (what its --help's --system names)
if [ "$want_cpp" = 1 ]; then
  targets=()
  for w in $workloads; do
    p=$(cpp_prog_of "$w")
    case " ${targets[*]:-} " in *" $p "*) ;; *) targets+=("$p") ;; esac
  done
  if [ -z "$cpp_dir" ] && [ "$do_build" = 1 ]; then
    command -v cmake >/dev/null || die "cmake not found (scripts/setup-deps.sh installs it)"
    log "building ${targets[*]} (CMake preset: release)"
    hint="building ${targets[*]} failed (--systems rayon runs rayon alone)"
    if [ -f CMakePresets.json ]; then
      cmake --preset release >&2 || die "cmake --preset release failed"
      cmake --build --preset release --target "${targets[@]}" -j2 >&2 || die "$hint"
    else
      log "no CMakePresets.json; configuring build/release with CMAKE_BUILD_TYPE=Release"
      cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >&2 || die "cmake configure failed"
      cmake --build build/release --target "${targets[@]}" -j2 >&2 || die "$hint"
    fi
  fi
  for p in "${targets[@]}"; do
    if [ -n "$cpp_dir" ]; then b="$cpp_dir/$p"; [ -x "$b" ] || b=""; else b=$(find_built "$p"); fi
    [ -n "$b" ] || die "$p not found ${cpp_dir:-under build/release}"
    cpp_bin[$p]=$b
    # Which systems this build has (programs without --list-systems: serial and spindle).
    if s=$("$b" --list-systems 2>/dev/null) && [ -n "$s" ]; then cpp_sys[$p]=" $s "; else cpp_sys[$p]=" serial spindle "; cpp_unlisted[$p]=1; fi
    # Which systems it implements at all (bench/harness.hpp's usage: "--system serial|spindle|all").
    cpp_impl[$p]=" $("$b" --help 2>/dev/null | sed -n 's/.*--system \([a-z|]*\).*/\1/p' | head -n 1 | tr '|' ' ') "
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
  p=$(cpp_prog_of "$w")
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
      case "${cpp_sys[$p]:-}" in
        *" $s "*) plan+=("$w $s $t cpp $s") ;;
        *)
          if [ -n "${cpp_unlisted[$p]:-}" ]; then
            skip_once "$p:$s" "$s for the workloads of $p: $p implements serial and spindle only"
            continue
          fi
          case "${cpp_impl[$p]:-}" in
            *" $s "*) ;;
            *" serial "*)
              impl=${cpp_impl[$p]% all }; impl=${impl# }
              skip_once "$p:$s" "$s for the workloads of $p: $p implements ${impl// / and } only"
              continue
              ;;
          esac
          case "$s" in
            tbb) skip_once "$p:$s" "tbb for the workloads of $p: this build has no oneTBB (apt install libtbb-dev, or scripts/setup-deps.sh --bench, then rebuild)" ;;
            omp) skip_once "$p:$s" "omp for the workloads of $p: this build has no OpenMP" ;;
            *) skip_once "$p:$s" "$s for the workloads of $p: not supported by $p" ;;
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
failed=0
# A hung run (e.g. a scheduler deadlock) must not hang the script: BENCH_TIMEOUT seconds per program run.
tmo=""
if command -v timeout >/dev/null 2>&1; then tmo="timeout ${BENCH_TIMEOUT:-900}"; fi
declare -A has_max_time=()
supports_max_time() {  # $1 binary
  if [ -z "${has_max_time[$1]:-}" ]; then
    if "$1" --help 2>&1 | grep -q -- '--max-time'; then has_max_time[$1]=1; else has_max_time[$1]=0; fi
  fi
  [ "${has_max_time[$1]}" = 1 ]
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
  if [ "$lang" = cpp ]; then bin=${cpp_bin[$(cpp_prog_of "$workload")]}; else bin=$rayon_bin; fi
  run_sys=$sys
  if [ "$sys" = rayon@spindle ]; then bin=$rayon_spindle_bin; run_sys=rayon; fi
  cmd=("$bin" "$workload" --n "$wn" --reps "$reps" --warmup "$warmup" --threads "$t" --system "$run_sys")
  if [ "$max_time" != 0 ] && supports_max_time "$bin"; then cmd+=(--max-time "$max_time"); fi
  pin=$(pin_prefix "$t")
  ptag=""
  if [ "$proc" != 0 ]; then ptag=" (process $proc/$processes)"; fi
  log "[$k/$total, $(($(date +%s) - start_s)) s] $workload n=$wn threads=$t $label$ptag ${pin:+($pin)}"
  # --trace: the program's pools write DIR/.trace-<k>-<n>.json (n: 1 the measured pool, 2 the
  # 1-worker pool beside it), renamed after the run.
  envp=()
  if [ -n "$trace_dir" ] && [ "$sys" = spindle ]; then
    rm -f "$trace_dir/.trace-$k-"*
    envp=(env "SPINDLE_TRACE=$trace_dir/.trace-$k-%n.json" "SPINDLE_TRACE_EVENTS=${SPINDLE_TRACE_EVENTS:-262144}")
  fi
  set +e
  # shellcheck disable=SC2086
  out=$($tmo $pin "${envp[@]}" "${cmd[@]}")
  rc=$?
  set -e
  if [ ${#envp[@]} -gt 0 ]; then
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
