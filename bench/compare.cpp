// bench_compare: the C++ side of the side-by-side benchmarks against rayon (bench/rayon,
// `spindle-rayon-bench <workload>`), for every C++ system: serial, spindle, oneTBB and OpenMP
// (bench/compare_systems.hpp). One program, one file per workload under bench/workloads/ (as the
// rayon crate's bench/rayon/src/workloads/<name>.rs), the registry below; the option parser,
// the timing loop and the JSON line are bench/harness.hpp's.
//
// Usage:
//   bench_compare <workload> --n N --threads T --reps R [--warmup W] [--max-time S]
//                 [--system serial|spindle|tbb|omp|all] [--list-systems] [workload switches]
//   bench_compare [<workload>] --help | --list-systems
//
// Same CLI and same JSON lines as the rayon binary: one line per (workload, system, threads)
// (bench/harness.hpp). Exit status: 0 if every result checked, 1 if a result was wrong (or a
// system threw), 2 on usage errors, 3 if the requested system is not compiled in.
//
// Workloads (bench/README.md has the sizes, cutoffs and fairness rules), each in
// bench/workloads/<name>.cpp:
//   fib          one join per call, no cutoff (--context: spindle with a context set)
//   sum, sort    each library's own algorithm (bench/workloads/library.hpp)
//   nqueens      one scope per node, one spawn per free column
//   skynet       one scope per node, 10 spawns
//   uts, matmul, mergesort, quicksort, integrate
//                one kernel over the fork policy (bench/workloads/fork_join.hpp, sorting.hpp)
//   idle, wakeup one job submitted to an idle pool (bench/workloads/pool_job.hpp)
//   query_graph  memoised queries in a spindle::QueryMap; serial and spindle only, no
//                --max-time (--blocking-section: the blocking work in a BlockingSection)
//
// A plain program on bench/harness.hpp; no Google Benchmark.

#include "harness.hpp"
#include "workloads/workloads.hpp"

int main(int argc, char** argv) {
    const bench::ProgramSpec spec{
        .prog = "bench_compare",
        .workloads =
            {
                bench::workload_fib(),
                bench::workload_sum(),
                bench::workload_sort(),
                bench::workload_nqueens(),
                bench::workload_skynet(),
                bench::workload_uts(),
                bench::workload_matmul(),
                bench::workload_mergesort(),
                bench::workload_quicksort(),
                bench::workload_integrate(),
                bench::workload_idle(),
                bench::workload_wakeup(),
                bench::workload_query_graph(),
            },
    };
    return bench::run_main(spec, argc, argv);
}
