// What sum and sort (bench/workloads/sum.cpp, sort.cpp) share: each library's own data-parallel
// algorithm on every system (spindle::transform_reduce / stable_sort, tbb::parallel_reduce /
// parallel_sort, OpenMP's reduction / __gnu_parallel::stable_sort), over a splitmix64 input
// seeded 42 that is bit-identical to the rayon side's (bench/rayon/src/workloads/data.rs) and
// generated once per process, untimed.
//
// Fairness: the body runs on a pool worker via install() while the calling thread blocks (as
// rayon's ThreadPool::install from outside the pool); the pool is built before the timed region
// and the warm-up reps absorb thread start-up and first touch.
#pragma once

#include "harness.hpp"

#include <cstddef>
#include <cstdint>

namespace bench {

// Inputs: bench::SplitMix64 (bench/harness.hpp), as bench/rayon/src/workloads/data.rs.
constexpr std::uint64_t k_library_seed = 42;

// A workload with n(), reset() (untimed, before every rep), run_serial(), run_spindle()
// (already on a pool worker), run_tbb(), run_omp(threads) and check(result) (untimed, after
// every rep), on every selected system.
template <class Workload>
bool run_library_workload(const Args& args) {
    Workload w(static_cast<std::size_t>(args.n));  // input generation: untimed, shared
    Bodies b;
    b.serial = [&] { return w.run_serial(); };
    b.spindle = [&] { return w.run_spindle(); };
#if SPINDLE_BENCH_HAVE_TBB
    b.tbb = [&] { return w.run_tbb(); };
#endif
#ifdef _OPENMP
    // The calling thread is the team's master and works (bench/compare_systems.hpp).
    b.omp = [&](std::size_t threads) { return w.run_omp(threads); };
#endif
    return measure_systems(args, rep_spec(w), b);
}

}  // namespace bench
