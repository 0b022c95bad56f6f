// spindle side of the data-parallel benchmarks against rayon (bench/rayon, `spindle-rayon-bench
// sum|sort`).
//
// Usage:
//   bench_algo_compare <sum|sort> --n N --threads T --reps R [--warmup W]
//                      [--system serial|spindle|tbb|omp|all] [--list-systems]
//
// Same CLI and same JSON output as the rayon binary and bench_fib_compare: one line per
// (workload, system, threads):
// {"workload":"sum","system":"spindle","lang":"cpp","threads":2,"n":4194304,"reps":7,"warmup":1,
//  "times_s":[...],"median_s":..,"min_s":..,"max_s":..,"cpu_s":[...],"cpu_median_s":..,
//  "peak_rss_kb":..,"result":..,"compiler":"gcc 12.2.0","checked":true}
// Exit status: 0 if every result checked, 1 if a result was wrong (or a system threw), 2 on usage
// errors, 3 if the requested system is not compiled in (bench/compare_systems.hpp).
//
// Workloads (bench/rayon/src/workloads/{sum,sort}.rs are the rayon side; bench/README.md):
//   sum   spindle::transform_reduce(v, 0, std::plus<>{}, x ^ (x >> 3)) over a vector<uint64_t>
//         (rayon: v.par_iter().map(|&x| x ^ (x >> 3)).sum::<u64>()); serial:
//         std::transform_reduce (no execution policy). Result: the sum.
//   sort  spindle::stable_sort(v.begin(), v.end()) of a vector<uint32_t> (rayon: v.par_sort());
//         serial: std::stable_sort. Every rep sorts a fresh copy of the unsorted input (copied
//         outside the timed region). Check: equal to a copy sorted once by std::sort. Result:
//         the element at n/2.
// oneTBB (tbb system): sum = tbb::parallel_reduce over a blocked_range; sort =
// tbb::parallel_sort (unstable). OpenMP (omp system): sum = `parallel for reduction(+)`; sort =
// __gnu_parallel::stable_sort (libstdc++ parallel mode). Each library's natural equivalent.
// Inputs: splitmix64 seeded 42, the high 32 bits of each output (as uint64_t for sum, uint32_t
// for sort) — bit-identical to the rayon side's; generated once per process, untimed.
//
// Fairness: the body runs on a pool worker via install() while the calling thread blocks (as
// rayon's ThreadPool::install from outside the pool); the pool is built before the timed region
// and the warm-up reps absorb thread start-up and first touch.
//
// A plain program on bench/harness.hpp (CLI, series, JSON line); no Google Benchmark.

#include "harness.hpp"

#include <spindle/pool.hpp>
#include <spindle/reduce.hpp>
#include <spindle/sort.hpp>

#if SPINDLE_BENCH_HAVE_TBB
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_reduce.h>
#include <oneapi/tbb/parallel_sort.h>
#endif
#ifdef _OPENMP
#include <parallel/algorithm>  // libstdc++ parallel mode: __gnu_parallel::stable_sort on OpenMP
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

namespace {

// Inputs: bench::SplitMix64 (bench/harness.hpp), as bench/rayon/src/workloads/data.rs.
constexpr std::uint64_t k_seed = 42;
using bench::SplitMix64;

// ---------------------------------------------------------------------------------------------
// The workloads. Each exposes: n(), reset() (untimed, before every rep), run_serial(),
// run_spindle() (already on a pool worker), check(result) (untimed, after every rep).

struct SumWorkload {
    std::vector<std::uint64_t> v;
    std::uint64_t expected = 0;

    explicit SumWorkload(std::size_t n) : v(n) {
        SplitMix64 g{k_seed};
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

struct SortWorkload {
    std::vector<std::uint32_t> input, work, expected;

    explicit SortWorkload(std::size_t n) : input(n) {
        SplitMix64 g{k_seed};
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

// ---------------------------------------------------------------------------------------------
// The program.

std::string check_sum_n(std::uint64_t n) {
    return n > (std::uint64_t{1} << 32) ? "n too large (max 2^32)" : "";
}

const bench::ProgramSpec k_spec{
    "bench_algo_compare",
    {{"sum", std::uint64_t{1} << 22, check_sum_n}, {"sort", std::uint64_t{1} << 22}},
    "sum or sort",
    "element count (default 4194304 = 4Mi; scripts/bench.sh --full uses 16Mi)",
};

template <class Workload>
bool run_workload(const bench::Args& args) {
    Workload w(static_cast<std::size_t>(args.n));  // input generation: untimed, shared
    bench::Bodies b;
    b.serial = [&] { return w.run_serial(); };
    b.spindle = [&] { return w.run_spindle(); };
#if SPINDLE_BENCH_HAVE_TBB
    b.tbb = [&] { return w.run_tbb(); };
#endif
#ifdef _OPENMP
    // The calling thread is the team's master and works (bench/compare_systems.hpp).
    b.omp = [&](std::size_t threads) { return w.run_omp(threads); };
#endif
    return bench::measure_systems(args, bench::rep_spec(w), b);
}

}  // namespace

int main(int argc, char** argv) {
    return bench::run_main(k_spec, argc, argv, [](const bench::Args& args) {
        return args.workload == "sum" ? run_workload<SumWorkload>(args)
                                      : run_workload<SortWorkload>(args);
    });
}
