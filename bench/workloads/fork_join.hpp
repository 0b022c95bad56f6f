// What the fork-join workloads written once over the fork policy share (uts, matmul, mergesort,
// quicksort, integrate: bench/workloads/<name>.cpp): every kernel is a template over SerialFork,
// SpindleFork, TbbFork and OmpFork (bench/compare_systems.hpp), so all C++ systems run the same
// algorithm with the same cutoffs; the serial baseline is the SerialFork instance (plain
// recursion). The Rust files bench/rayon/src/workloads/<name>.rs mirror each kernel line by
// line. Sizes, cutoffs and the reasons for them: bench/README.md.
#pragma once

#include "harness.hpp"

#include <cstdint>
#include <functional>

namespace bench {

// Workloads: n(), reset() (untimed, before every rep), check(result) (untimed, after it),
// probe_kernel() (bench::RepSpec), and for the fork-join ones run<Fork>(), the kernel inside
// whatever system context the harness entered: one kernel, four instantiations.
struct WorkloadBase {
    void reset() {}
    // The serial version for the capacity probe (bench/capacity.hpp), when it may run on several
    // threads at once; empty: the probe's integer kernel.
    std::function<std::uint64_t()> probe_kernel() const { return {}; }
};

template <class W>
bool run_fork_join(const Args& args) {
    W w(args.n);  // input generation: untimed
    return measure_systems(args, rep_spec(w), fork_bodies([&w]<class Fork>() -> std::uint64_t {
                               return w.template run<Fork>();
                           }));
}

}  // namespace bench
