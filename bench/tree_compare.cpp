// spindle side of the tree-shaped benchmarks against rayon (bench/rayon,
// `spindle-rayon-bench nqueens|skynet`).
//
// Usage:
//   bench_tree_compare nqueens|skynet --n N --threads T --reps R [--warmup W]
//                      [--system serial|spindle|tbb|omp|all] [--list-systems]
//
// Same CLI and same JSON output as the rayon binary: one line per (workload, system, threads).
// Exit status: 0 if every result checked, 1 if a result was wrong (or a system threw), 2 on usage
// errors, 3 if the requested system is not compiled in (bench/compare_systems.hpp).
//
// Workloads (identical decomposition on the rayon side, bench/rayon/src/workloads/*.rs):
//  - nqueens N: count the placements of N queens. Bitmask search (columns, both diagonals as u32
//    masks). Every node with at least one free column opens one spindle::scope and spawns one
//    closure per free column (lowest bit first), each writing its count into a slot of a local
//    array; the slots are summed after the scope. No sequential cutoff: the only leaves are
//    row == N (1) and dead ends (0). Checked against the published counts (N <= 16).
//  - skynet N (a power of 10): a 10-ary tree with N leaves; leaf i returns i. Every inner node
//    opens one spindle::scope, spawns 10 closures writing into a local array, waits, and sums.
//    Checked against N(N-1)/2.
// The body runs on a pool worker via install() while the calling thread blocks (as rayon's
// ThreadPool::install from outside the pool); the pool is built before the timed region and one
// warm-up rep absorbs thread start-up. The serial system is a plain recursive version.
//
// This is a plain program with its own main (Google Benchmark's benchmark_main is not linked).

#include "capacity.hpp"
#include "compare_common.hpp"
#include "compare_systems.hpp"
#include "spindle_stats.hpp"

#include <spindle/spindle.hpp>

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
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

// ---------------------------------------------------------------------------------------------
// The workloads.

// nqueens: `cols` = occupied columns, `d1`/`d2` = squares attacked on this row along the two
// diagonals (shifted one step per row). Masks are u32, N <= 16.
std::uint64_t nqueens(
    std::uint32_t n, std::uint32_t row, std::uint32_t cols, std::uint32_t d1, std::uint32_t d2) {
    if (row == n)
        return 1;
    const std::uint32_t full = (std::uint32_t{1} << n) - 1;
    std::uint32_t avail = ~(cols | d1 | d2) & full;
    if (avail == 0)
        return 0;
    std::uint64_t counts[32] = {};
    spindle::scope([&](spindle::Scope& s) {
        for (std::uint32_t i = 0; avail != 0; ++i) {
            const std::uint32_t bit = avail & (0u - avail);
            avail &= avail - 1;
            s.spawn([&counts, i, n, row, cols, d1, d2, bit] {
                counts[i] = nqueens(n, row + 1, cols | bit, (d1 | bit) << 1, (d2 | bit) >> 1);
            });
        }
    });
    std::uint64_t total = 0;
    for (std::uint64_t c : counts)
        total += c;
    return total;
}

// Serial baseline T_S: the same search, plain recursion.
[[gnu::noinline]] std::uint64_t nqueens_serial(
    std::uint32_t n, std::uint32_t row, std::uint32_t cols, std::uint32_t d1, std::uint32_t d2) {
    if (row == n)
        return 1;
    const std::uint32_t full = (std::uint32_t{1} << n) - 1;
    std::uint32_t avail = ~(cols | d1 | d2) & full;
    std::uint64_t total = 0;
    while (avail != 0) {
        const std::uint32_t bit = avail & (0u - avail);
        avail &= avail - 1;
        total += nqueens_serial(n, row + 1, cols | bit, (d1 | bit) << 1, (d2 | bit) >> 1);
    }
    return total;
}

// The same searches for oneTBB and OpenMP (bench/compare_systems.hpp): one task per child
// (task_group::run / omp task, then wait), results in per-child slots, as with spindle::scope.
template <class Fork>
std::uint64_t nqueens_fork(
    std::uint32_t n, std::uint32_t row, std::uint32_t cols, std::uint32_t d1, std::uint32_t d2) {
    if (row == n)
        return 1;
    const std::uint32_t full = (std::uint32_t{1} << n) - 1;
    std::uint32_t avail = ~(cols | d1 | d2) & full;
    if (avail == 0)
        return 0;
    std::uint32_t bits[32];
    std::size_t k = 0;
    while (avail != 0) {
        bits[k++] = avail & (0u - avail);
        avail &= avail - 1;
    }
    std::uint64_t counts[32] = {};
    Fork::for_each_child(k, [&](std::size_t i) {
        const std::uint32_t bit = bits[i];
        counts[i] = nqueens_fork<Fork>(n, row + 1, cols | bit, (d1 | bit) << 1, (d2 | bit) >> 1);
    });
    std::uint64_t total = 0;
    for (std::uint64_t c : counts)
        total += c;
    return total;
}

template <class Fork>
std::uint64_t skynet_fork(std::uint64_t num, std::uint64_t size) {
    if (size == 1)
        return num;
    const std::uint64_t sub = size / 10;
    std::uint64_t sums[10];
    Fork::for_each_child(10,
                         [&](std::size_t i) { sums[i] = skynet_fork<Fork>(num + i * sub, sub); });
    std::uint64_t total = 0;
    for (std::uint64_t v : sums)
        total += v;
    return total;
}

// Published solution counts (OEIS A000170), index N.
constexpr std::uint64_t k_nqueens_counts[17] = {
    1, 1, 0, 0, 2, 10, 4, 40, 92, 352, 724, 2680, 14200, 73712, 365596, 2279184, 14772512};

// skynet: the subtree of `size` leaves whose first leaf index is `num`.
std::uint64_t skynet(std::uint64_t num, std::uint64_t size) {
    if (size == 1)
        return num;
    const std::uint64_t sub = size / 10;
    std::uint64_t sums[10];
    spindle::scope([&](spindle::Scope& s) {
        for (std::uint64_t i = 0; i < 10; ++i)
            s.spawn([&sums, i, num, sub] { sums[i] = skynet(num + i * sub, sub); });
    });
    std::uint64_t total = 0;
    for (std::uint64_t v : sums)
        total += v;
    return total;
}

// Serial baseline T_S.
[[gnu::noinline]] std::uint64_t skynet_serial(std::uint64_t num, std::uint64_t size) {
    if (size == 1)
        return num;
    const std::uint64_t sub = size / 10;
    std::uint64_t total = 0;
    for (std::uint64_t i = 0; i < 10; ++i)
        total += skynet_serial(num + i * sub, sub);
    return total;
}

bool is_power_of_10(std::uint64_t n) {
    if (n == 0)
        return false;
    while (n % 10 == 0)
        n /= 10;
    return n == 1;
}

// ---------------------------------------------------------------------------------------------
// Measurement helpers.

using bench::available_parallelism;
using bench::compiler_string;
using bench::json_list;
using bench::median_of_sorted;
using bench::peak_rss_kb;

// ---------------------------------------------------------------------------------------------
// CLI.

constexpr const char* k_usage =
    "usage: bench_tree_compare <workload> --n N --threads T --reps R [--warmup W] "
    "[--system serial|spindle|tbb|omp|all]\n"
    "       [--list-systems]\n"
    "  workload   nqueens | skynet\n"
    "  --n        problem size (nqueens: board size, default 11, max 16; skynet: leaves, a power\n"
    "             of 10, default 1000000)\n"
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
    std::uint64_t n = 0;  // 0: the workload's quick default
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
        std::fprintf(stderr, "bench_tree_compare: %s\n", msg.c_str());
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
                bench::unavailable_exit("bench_tree_compare", sys);
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
    if (a.workload != "nqueens" && a.workload != "skynet")
        usage_exit("unknown workload " + a.workload);
    if (a.reps == 0)
        usage_exit("--reps must be >= 1");
    if (a.workload == "nqueens") {
        if (a.n == 0)
            a.n = 11;
        if (a.n > 16)
            usage_exit("nqueens: n must be 1..16");
    } else {
        if (a.n == 0)
            a.n = 1000000;
        if (!is_power_of_10(a.n) || a.n > 1000000000)
            usage_exit("skynet: n must be a power of 10, at most 10^9");
    }
    if (a.threads == 0)
        a.threads = available_parallelism();
    return a;
}

// The serial version, for the capacity probe (bench/capacity.hpp): pure, so T threads may run it
// at once.
std::function<std::uint64_t()> probe_kernel(const Args& a) {
    const std::uint64_t n = a.n;
    if (a.workload == "nqueens")
        return [n] { return nqueens_serial(static_cast<std::uint32_t>(n), 0, 0, 0, 0); };
    return [n] { return skynet_serial(0, n); };
}

// Runs warm-up + timed reps of one system and prints its JSON line; returns whether all checked.
// With `base_run` (T > 1: the same body on a 1-worker pool of the same system) the 1-worker and
// T-worker reps alternate, with a capacity probe after each pair (bench/capacity.hpp);
// `hooks` add a stats snapshot and fields (the pool's counters).
template <class Run>
bool measure(const Args& args,
             const char* system,
             std::size_t threads,
             std::uint64_t expected,
             Run&& run,
             const std::function<std::uint64_t()>& base_run = {},
             const bench::Hooks& hooks = {}) {
    bool checked = true;
    std::uint64_t result = 0;
    auto timed = [&](auto& f) {
        bench::RepClock clock;
        clock.start();
        const std::uint64_t r = f();
        bench::Sample sample = clock.stop();
        if (r != expected)
            checked = false;
        result = r;
        return sample;
    };
    bench::Series s(threads, probe_kernel(args));
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
        "{\"workload\":\"%s\",\"system\":\"%s\",\"lang\":\"cpp\",\"threads\":%zu,\"n\":%" PRIu64
        ",\"reps\":%zu,\"warmup\":%zu,\"times_s\":%s,\"median_s\":%.9f,\"min_s\":%.9f,\"max_s\":%."
        "9f,"
        "\"cpu_s\":%s,\"cpu_median_s\":%.9f,\"peak_rss_kb\":%ld,\"result\":%" PRIu64
        "%s%s"
        ",\"compiler\":\"%s\",\"checked\":%s}\n",
        args.workload.c_str(), system, threads, args.n, times.size(), args.warmup,
        json_list(times).c_str(), median_of_sorted(st), st.front(), st.back(),
        json_list(cpus).c_str(), median_of_sorted(sc), peak_rss_kb(), result, s.json().c_str(),
        hooks.extra_json ? hooks.extra_json().c_str() : "", compiler_string(),
        checked ? "true" : "false");
    std::fflush(stdout);
    if (!checked) {
        std::fprintf(stderr,
                     "bench_tree_compare: %s %s threads=%zu: WRONG RESULT (last %" PRIu64
                     ", expected %" PRIu64 ")\n",
                     args.workload.c_str(), system, threads, result, expected);
    }
    return checked;
}

}  // namespace

int main(int argc, char** argv) {
    const Args args = parse_args(argc, argv);
    const std::uint64_t n = args.n;
    const bool is_nq = args.workload == "nqueens";
    const auto nq = static_cast<std::uint32_t>(n);
    // skynet: sum of 0..n-1 = n(n-1)/2 (n <= 10^9: exact in 64 bits).
    const std::uint64_t expected = is_nq ? k_nqueens_counts[n] : n * (n - 1) / 2;
    auto serial = [&]() -> std::uint64_t {
        return is_nq ? nqueens_serial(nq, 0, 0, 0, 0) : skynet_serial(0, n);
    };
    auto parallel = [&]() -> std::uint64_t {
        return is_nq ? nqueens(nq, 0, 0, 0, 0) : skynet(0, n);
    };
    bool ok = true;
    try {
        if (args.run_serial) {
            if (!measure(args, "serial", 1, expected, serial))
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
                base_run = [&]() -> std::uint64_t { return base_pool->install(parallel); };
            }
            // install: the body runs on a pool worker while this (main) thread blocks, like rayon's
            // ThreadPool::install called from outside the pool.
            if (!measure(
                    args, "spindle", args.threads, expected,
                    [&]() -> std::uint64_t { return pool.install(parallel); }, base_run,
                    bench::stats_hooks(pool, stats0)))
                ok = false;
        }
        if (args.run_tbb) {
#if SPINDLE_BENCH_HAVE_TBB
            bench::TbbContext ctx(args.threads);
            if (!measure(args, "tbb", args.threads, expected, [&] {
                    return ctx.run([&]() -> std::uint64_t {
                        return is_nq ? nqueens_fork<bench::TbbFork>(nq, 0, 0, 0, 0)
                                     : skynet_fork<bench::TbbFork>(0, n);
                    });
                }))
                ok = false;
#endif
        }
        if (args.run_omp) {
#ifdef _OPENMP
            if (!measure(args, "omp", args.threads, expected, [&] {
                    return bench::omp_run_tasks(args.threads, [&]() -> std::uint64_t {
                        return is_nq ? nqueens_fork<bench::OmpFork>(nq, 0, 0, 0, 0)
                                     : skynet_fork<bench::OmpFork>(0, n);
                    });
                }))
                ok = false;
#endif
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_tree_compare: exception: %s\n", e.what());
        return 1;
    } catch (...) {
        std::fprintf(stderr, "bench_tree_compare: unknown exception\n");
        return 1;
    }
    return ok ? 0 : 1;
}
