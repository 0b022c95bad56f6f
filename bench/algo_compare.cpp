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
// This is a plain program with its own main (Google Benchmark's benchmark_main is not linked).

#include "capacity.hpp"
#include "compare_common.hpp"
#include "compare_systems.hpp"
#include "spindle_stats.hpp"

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

#include <sched.h>
#include <sys/resource.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

// ---------------------------------------------------------------------------------------------
// Input generator: splitmix64, identical to bench/rayon/src/workloads/data.rs.

constexpr std::uint64_t k_seed = 42;

struct SplitMix64 {
    std::uint64_t state;
    std::uint64_t next_u64() {
        state += 0x9E3779B97F4A7C15ull;
        std::uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    std::uint32_t next_u32() { return static_cast<std::uint32_t>(next_u64() >> 32); }
};

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
// Measurement helpers (as in fib_compare.cpp).

using bench::available_parallelism;
using bench::compiler_string;
using bench::json_list;
using bench::median_of_sorted;
using bench::peak_rss_kb;

// ---------------------------------------------------------------------------------------------
// CLI.

constexpr const char* k_usage =
    "usage: bench_algo_compare <workload> --n N --threads T --reps R [--warmup W] "
    "[--system serial|spindle|tbb|omp|all]\n"
    "       [--list-systems]\n"
    "  workload   sum or sort\n"
    "  --n        element count (default 4194304 = 4Mi; scripts/bench.sh --full uses 16Mi)\n"
    "  --threads  spindle pool size (default: available parallelism); ignored by the serial "
    "system\n"
    "  --reps     timed repetitions (default 7)\n"
    "  --warmup   untimed repetitions after pool creation (default 1)\n"
    "  --max-time S  stop timing once 3 or more reps took S seconds in total (default: no limit)\n"
    "  --system   serial, spindle, tbb, omp or all (default all: serial, spindle, then tbb and\n"
    "             omp when this build has them)\n"
    "  --list-systems  print the systems this build has and exit\n";

struct Args {
    std::string workload;
    std::uint64_t n = std::uint64_t{1} << 22;
    std::size_t threads = 0;
    std::size_t reps = 7;
    std::size_t warmup = 1;
    double max_time = 0;  // --max-time: stop after 3+ reps once the timed total passes it
    bool run_serial = true;
    bool run_spindle = true;
    bool run_tbb = true;  // default "all": every system this build has
    bool run_omp = true;
};

[[noreturn]] void usage_exit(const std::string& msg) {
    if (!msg.empty())
        std::fprintf(stderr, "bench_algo_compare: %s\n", msg.c_str());
    std::fputs(k_usage, stderr);
    std::exit(2);
}

std::uint64_t parse_u64(const std::string& flag, const char* s) {
    if (s == nullptr)
        usage_exit(flag + " needs a value");
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s, &end, 10);
    if (*s == '\0' || *s == '-' || end == nullptr || *end != '\0' || errno != 0)
        usage_exit(flag + ": not a number: " + s);
    return static_cast<std::uint64_t>(v);
}

Args parse_args(int argc, char** argv) {
    Args a;
    bool have_workload = false;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        std::string flag = arg;
        std::string inline_value;
        bool has_inline = false;
        if (arg.rfind("--", 0) == 0) {
            auto eq = arg.find('=');
            if (eq != std::string::npos) {
                flag = arg.substr(0, eq);
                inline_value = arg.substr(eq + 1);
                has_inline = true;
            }
        }
        auto value = [&]() -> const char* {
            if (has_inline)
                return inline_value.c_str();
            return (i + 1 < argc) ? argv[++i] : nullptr;
        };
        if (flag == "--n") {
            a.n = parse_u64(flag, value());
        } else if (flag == "--threads") {
            a.threads = static_cast<std::size_t>(parse_u64(flag, value()));
        } else if (flag == "--reps") {
            a.reps = static_cast<std::size_t>(parse_u64(flag, value()));
        } else if (flag == "--max-time") {
            const char* v = value();
            char* end = nullptr;
            a.max_time = v ? std::strtod(v, &end) : -1;
            if (v == nullptr || *v == '\0' || *end != '\0' || !(a.max_time >= 0))
                usage_exit("--max-time needs a number of seconds >= 0");
        } else if (flag == "--warmup") {
            a.warmup = static_cast<std::size_t>(parse_u64(flag, value()));
        } else if (flag == "--system") {
            const char* v = value();
            std::string_view s = v ? v : "";
            a.run_serial = a.run_spindle = a.run_tbb = a.run_omp = false;
            bench::System sys{};
            if (s == "all") {
                a.run_serial = a.run_spindle = true;
                a.run_tbb = bench::system_available(bench::System::tbb);
                a.run_omp = bench::system_available(bench::System::omp);
            } else if (!bench::parse_system(s, sys)) {
                usage_exit("unknown --system " + std::string(s));
            } else if (!bench::system_available(sys)) {
                bench::unavailable_exit("bench_algo_compare", sys);
            } else {
                a.run_serial = sys == bench::System::serial;
                a.run_spindle = sys == bench::System::spindle;
                a.run_tbb = sys == bench::System::tbb;
                a.run_omp = sys == bench::System::omp;
            }
        } else if (flag == "--list-systems") {
            bench::print_available_systems();
            std::exit(0);
        } else if (flag == "-h" || flag == "--help") {
            std::fputs(k_usage, stdout);
            std::exit(0);
        } else if (!flag.empty() && flag[0] == '-') {
            usage_exit("unknown option " + flag);
        } else {
            if (have_workload)
                usage_exit("unexpected argument " + arg);
            a.workload = arg;
            have_workload = true;
        }
    }
    if (!have_workload)
        usage_exit("missing workload");
    if (a.workload != "sum" && a.workload != "sort")
        usage_exit("unknown workload " + a.workload);
    if (a.reps == 0)
        usage_exit("--reps must be >= 1");
    if (a.workload == "sum" && a.n > (std::uint64_t{1} << 32))
        usage_exit("sum: n too large (max 2^32)");
    if (a.threads == 0)
        a.threads = available_parallelism();
    return a;
}

// Runs warm-up + timed reps of one system and prints its JSON line; returns whether all checked.
// reset() and check() are outside the timed region. With `base_run` (T > 1: the same algorithm on
// a 1-worker pool of the same system) the 1-worker and T-worker reps alternate, with a capacity
// probe after each pair (bench/capacity.hpp); `hooks` add a stats snapshot and fields (the pool's
// counters).
template <class Workload, class Run>
bool measure(const Args& args,
             Workload& w,
             const char* system,
             std::size_t threads,
             Run&& run,
             const std::function<std::uint64_t()>& base_run = {},
             const bench::Hooks& hooks = {}) {
    bool checked = true;
    std::uint64_t result = 0;
    auto timed = [&](auto& f) {
        w.reset();
        bench::RepClock clock;
        clock.start();
        const std::uint64_t r = f();
        bench::Sample sample = clock.stop();
        if (!w.check(r))
            checked = false;
        result = r;
        return sample;
    };
    bench::Series s(threads, w.probe_kernel());
    std::function<bench::Sample()> base;
    if (base_run)
        base = [&] { return timed(base_run); };
    bench::SeriesOptions o;
    o.reps = args.reps;
    o.warmup = args.warmup;
    o.max_time = args.max_time;
    o.threads = threads;
    o.before_timed = hooks.before_timed;
    bench::run_series(
        s, o, [&] { return timed(run); }, base);
    const std::vector<double> times = s.times(), cpus = s.cpus();
    std::vector<double> st = times, sc = cpus;
    std::sort(st.begin(), st.end());
    std::sort(sc.begin(), sc.end());

    std::printf(
        "{\"workload\":\"%s\",\"system\":\"%s\",\"lang\":\"cpp\",\"threads\":%zu,\"n\":%zu"
        ",\"reps\":%zu,\"warmup\":%zu,\"times_s\":%s,\"median_s\":%.9f,\"min_s\":%.9f,\"max_s\":%."
        "9f,"
        "\"cpu_s\":%s,\"cpu_median_s\":%.9f,\"peak_rss_kb\":%ld,\"result\":%" PRIu64
        "%s%s"
        ",\"compiler\":\"%s\",\"checked\":%s}\n",
        args.workload.c_str(), system, threads, w.n(), times.size(), args.warmup,
        json_list(times).c_str(), median_of_sorted(st), st.front(), st.back(),
        json_list(cpus).c_str(), median_of_sorted(sc), peak_rss_kb(), result, s.json().c_str(),
        hooks.extra_json ? hooks.extra_json().c_str() : "", compiler_string(),
        checked ? "true" : "false");
    std::fflush(stdout);
    if (!checked) {
        std::fprintf(stderr,
                     "bench_algo_compare: %s %s threads=%zu: WRONG RESULT (last %" PRIu64 ")\n",
                     args.workload.c_str(), system, threads, result);
    }
    return checked;
}

template <class Workload>
bool run_workload(const Args& args) {
    Workload w(static_cast<std::size_t>(args.n));  // input generation: untimed, shared
    bool ok = true;
    if (args.run_serial) {
        if (!measure(args, w, "serial", 1, [&] { return w.run_serial(); }))
            ok = false;
    }
    if (args.run_spindle) {
        // Pool creation is outside the timed region; the warm-up reps absorb thread start-up.
        spindle::PoolOptions opts;
        opts.num_threads = args.threads;
        spindle::ThreadPool pool(opts);
        spindle::PoolStats stats0;  // the counters after the warm-up (bench/spindle_stats.hpp)
        // T > 1: a 1-worker pool beside it; their reps alternate (bench/capacity.hpp).
        std::optional<spindle::ThreadPool> base_pool;
        std::function<std::uint64_t()> base_run;
        if (args.threads > 1) {
            spindle::PoolOptions base_opts;
            base_opts.num_threads = 1;
            base_pool.emplace(base_opts);
            base_run = [&]() -> std::uint64_t {
                return base_pool->install([&] { return w.run_spindle(); });
            };
        }
        // install: the body runs on a pool worker while this (main) thread blocks, like rayon's
        // ThreadPool::install called from outside the pool; the algorithm then runs in `pool`.
        if (!measure(
                args, w, "spindle", args.threads,
                [&]() -> std::uint64_t { return pool.install([&] { return w.run_spindle(); }); },
                base_run, bench::stats_hooks(pool, stats0)))
            ok = false;
    }
#if SPINDLE_BENCH_HAVE_TBB
    if (args.run_tbb) {
        bench::TbbContext ctx(args.threads);
        if (!measure(args, w, "tbb", args.threads,
                     [&]() -> std::uint64_t { return ctx.run([&] { return w.run_tbb(); }); }))
            ok = false;
    }
#endif
#ifdef _OPENMP
    // The calling thread is the team's master and works (bench/compare_systems.hpp).
    if (args.run_omp) {
        if (!measure(args, w, "omp", args.threads,
                     [&]() -> std::uint64_t { return w.run_omp(args.threads); }))
            ok = false;
    }
#endif
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    const Args args = parse_args(argc, argv);
    bool ok = true;
    try {
        if (args.workload == "sum")
            ok = run_workload<SumWorkload>(args);
        else
            ok = run_workload<SortWorkload>(args);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_algo_compare: exception: %s\n", e.what());
        return 1;
    } catch (...) {
        std::fprintf(stderr, "bench_algo_compare: unknown exception\n");
        return 1;
    }
    return ok ? 0 : 1;
}
