// sort (bench/rayon/src/workloads/sort.rs is the rayon side): spindle::stable_sort(v.begin(),
// v.end()) of a vector<uint32_t> (rayon: v.par_sort()); serial: std::stable_sort; oneTBB:
// tbb::parallel_sort (unstable); OpenMP: __gnu_parallel::stable_sort (libstdc++ parallel mode).
// Every rep sorts a fresh copy of the unsorted input (copied outside the timed region). Input:
// the high 32 bits of each splitmix64 output (bench/workloads/library.hpp). Check: equal to a
// copy sorted once by std::sort. Result: the element at n/2.

#include "workloads/library.hpp"
#include "workloads/workloads.hpp"

#include <spindle/pool.hpp>
#include <spindle/sort.hpp>

#if SPINDLE_BENCH_HAVE_TBB
#include <oneapi/tbb/parallel_sort.h>
#endif
#ifdef _OPENMP
#include <parallel/algorithm>  // libstdc++ parallel mode: __gnu_parallel::stable_sort on OpenMP
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace {

using bench::SplitMix64;

struct SortWorkload {
    std::vector<std::uint32_t> input, work, expected;

    explicit SortWorkload(std::size_t n) : input(n) {
        SplitMix64 g{bench::k_library_seed};
        for (auto& x : input)
            x = g.next_u32();
        expected = input;
        std::sort(expected.begin(), expected.end());  // independent of both timed versions
        work = input;
    }
    static std::uint64_t digest(const std::vector<std::uint32_t>& v) {
        return v.empty() ? 0 : v[v.size() / 2];
    }
    std::size_t n() const { return input.size(); }
    void reset() { std::copy(input.begin(), input.end(), work.begin()); }
    // For the capacity probe (bench/capacity.hpp): the serial sort of a private copy (the copy
    // included, as reset() is beside every rep), so T threads may run it at once.
    std::function<std::uint64_t()> probe_kernel() const {
        return [this] {
            std::vector<std::uint32_t> copy(input);
            std::stable_sort(copy.begin(), copy.end());
            return digest(copy);
        };
    }
    [[gnu::noinline]] std::uint64_t run_serial() {
        std::stable_sort(work.begin(), work.end());
        return digest(work);
    }
    std::uint64_t run_spindle() {
        spindle::stable_sort(work.begin(), work.end());
        return digest(work);
    }
#if SPINDLE_BENCH_HAVE_TBB
    // oneTBB has no stable sort: tbb::parallel_sort (parallel quicksort, unstable; for u32 keys
    // stability cannot be observed).
    std::uint64_t run_tbb() {
        tbb::parallel_sort(work.begin(), work.end());
        return digest(work);
    }
#endif
#ifdef _OPENMP
    // libstdc++'s parallel mode stable sort (multiway merge sort on OpenMP threads).
    std::uint64_t run_omp(std::size_t threads) {
        omp_set_num_threads(static_cast<int>(threads));
        __gnu_parallel::stable_sort(work.begin(), work.end());
        return digest(work);
    }
#endif
    // Sorted and the same multiset: equal to the once-sorted copy.
    bool check(std::uint64_t r) const {
        return r == digest(expected) && work == expected;
    }
};

}  // namespace

bench::WorkloadSpec bench::workload_sort() {
    return {
        .name = "sort",
        .default_n = std::uint64_t{1} << 22,
        .n_help = "element count (default 4194304 = 4Mi)",
        .run = bench::run_library_workload<SortWorkload>,
    };
}
