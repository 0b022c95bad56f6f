// sum (bench/rayon/src/workloads/sum.rs is the rayon side): spindle::transform_reduce(v, 0,
// std::plus<>{}, x ^ (x >> 3)) over a vector<uint64_t> (rayon: v.par_iter().map(|&x| x ^ (x >>
// 3)).sum::<u64>()); serial: std::transform_reduce (no execution policy). oneTBB:
// tbb::parallel_reduce over a blocked_range; OpenMP: `parallel for reduction(+)`. Input: the high
// 32 bits of each splitmix64 output, as uint64_t (bench/workloads/library.hpp). Result: the sum.

#include "workloads/library.hpp"
#include "workloads/workloads.hpp"

#include <spindle/pool.hpp>
#include <spindle/reduce.hpp>

#if SPINDLE_BENCH_HAVE_TBB
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_reduce.h>
#endif

#include <cstddef>
#include <cstdint>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

namespace {

using bench::SplitMix64;

struct SumWorkload {
    std::vector<std::uint64_t> v;
    std::uint64_t expected = 0;

    explicit SumWorkload(std::size_t n) : v(n) {
        SplitMix64 g{bench::k_library_seed};
        for (auto& x : v)
            x = g.next_u32();  // < 2^32: the sum of up to 2^32 values cannot wrap
        // Reference: a plain indexed loop, independent of both timed versions.
        std::uint64_t acc = 0;
        for (std::size_t i = 0; i < v.size(); ++i)
            acc += v[i] ^ (v[i] >> 3);
        expected = acc;
    }
    std::size_t n() const { return v.size(); }
    void reset() {}
    [[gnu::noinline]] std::uint64_t run_serial() const {
        return std::transform_reduce(v.begin(), v.end(), std::uint64_t{0}, std::plus<>{},
                                     [](std::uint64_t x) { return x ^ (x >> 3); });
    }
    // For the capacity probe (bench/capacity.hpp): the serial sum of the probe thread's slice of
    // the input (bench::ProbeSlice), so that T threads at once read disjoint data and share
    // memory bandwidth as the parallel sum's workers do.
    std::function<std::uint64_t()> probe_kernel() const {
        return [this] {
            const bench::ProbeSlice sl = bench::t_probe_slice;
            const auto first = v.begin() + static_cast<std::ptrdiff_t>(sl.begin(v.size()));
            const auto last = v.begin() + static_cast<std::ptrdiff_t>(sl.end(v.size()));
            return std::transform_reduce(first, last, std::uint64_t{0}, std::plus<>{},
                                         [](std::uint64_t x) { return x ^ (x >> 3); });
        };
    }
    std::uint64_t run_spindle() {
        return spindle::transform_reduce(v, 0ull, std::plus<>{},
                                         [](std::uint64_t x) { return x ^ (x >> 3); });
    }
#if SPINDLE_BENCH_HAVE_TBB
    // tbb::parallel_reduce over a blocked_range (default auto_partitioner), each piece a loop.
    std::uint64_t run_tbb() {
        return tbb::parallel_reduce(
            tbb::blocked_range<std::size_t>(0, v.size()), std::uint64_t{0},
            [&](const tbb::blocked_range<std::size_t>& r, std::uint64_t acc) {
                for (std::size_t i = r.begin(); i != r.end(); ++i)
                    acc += v[i] ^ (v[i] >> 3);
                return acc;
            },
            std::plus<>{});
    }
#endif
#ifdef _OPENMP
    // `parallel for reduction(+)`, static schedule: OpenMP's natural map-reduce (a worksharing
    // loop, not tasks).
    std::uint64_t run_omp(std::size_t threads) {
        std::uint64_t acc = 0;
        const std::size_t n = v.size();
        const std::uint64_t* p = v.data();
#pragma omp parallel for reduction(+ : acc) schedule(static) num_threads(static_cast <int>(threads))
        for (std::size_t i = 0; i < n; ++i)
            acc += p[i] ^ (p[i] >> 3);
        return acc;
    }
#endif
    bool check(std::uint64_t r) const {
        return r == expected;
    }
};

std::string check_sum_n(std::uint64_t n) {
    return n > (std::uint64_t{1} << 32) ? "n too large (max 2^32)" : "";
}

}  // namespace

bench::WorkloadSpec bench::workload_sum() {
    return {
        .name = "sum",
        .default_n = std::uint64_t{1} << 22,
        .check_n = check_sum_n,
        .n_help = "element count (default 4194304 = 4Mi, max 2^32)",
        .run = bench::run_library_workload<SumWorkload>,
    };
}
