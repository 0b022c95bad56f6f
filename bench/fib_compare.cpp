// spindle side of the fib benchmark against rayon (bench/rayon, `spindle-rayon-bench fib`).
//
// Usage:
//   bench_fib_compare fib --n N --threads T --reps R [--warmup W] [--system
//   serial|spindle|tbb|omp|all] [--list-systems]
//
// Same CLI and same JSON output as the rayon binary: one line per (workload, system, threads):
// {"workload":"fib","system":"spindle","lang":"cpp","threads":2,"n":30,"reps":7,"warmup":1,
//  "times_s":[...],"median_s":..,"min_s":..,"max_s":..,"cpu_s":[...],"cpu_median_s":..,
//  "peak_rss_kb":..,"result":832040,"compiler":"gcc 12.2.0","checked":true}
// Exit status: 0 if every result checked, 1 if a result was wrong (or a system threw), 2 on usage
// errors, 3 if the requested system is not compiled in (bench/compare_systems.hpp).
//
// Fairness (see bench/README.md): same algorithm as rayon's side — one join per call, first branch
// fib(n-1), second fib(n-2), no sequential cutoff; the body runs on a pool worker via install()
// while the calling thread blocks (as rayon's ThreadPool::install from outside the pool); the pool
// is built before the timed region and one warm-up rep absorbs thread start-up.
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
// The workload.

// Parallel fib: identical decomposition to bench/rayon/src/workloads/fib.rs, no cutoff.
std::uint64_t fib(std::uint64_t n) {
    if (n < 2)
        return n;
    auto [a, b] = spindle::join([&] { return fib(n - 1); }, [&] { return fib(n - 2); });
    return a + b;
}

// The same decomposition for oneTBB and OpenMP (bench/compare_systems.hpp): b = fib(n-2) is
// offered to thieves (task_group::run / omp task), a = fib(n-1) runs inline, then wait.
template <class Fork>
std::uint64_t fib_fork(std::uint64_t n) {
    if (n < 2)
        return n;
    std::uint64_t a = 0, b = 0;
    Fork::join2([&] { a = fib_fork<Fork>(n - 1); }, [&] { b = fib_fork<Fork>(n - 2); });
    return a + b;
}

// Serial baseline T_S.
[[gnu::noinline]] std::uint64_t fib_serial(std::uint64_t n) {
    if (n < 2)
        return n;
    return fib_serial(n - 1) + fib_serial(n - 2);
}

// Known value, computed iteratively (independent of both timed versions); fib(93) is the largest
// that fits in 64 bits.
std::uint64_t fib_reference(std::uint64_t n) {
    std::uint64_t a = 0, b = 1;
    for (std::uint64_t i = 0; i < n; ++i) {
        std::uint64_t c = a + b;
        a = b;
        b = c;
    }
    return a;
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
    "usage: bench_fib_compare <workload> --n N --threads T --reps R [--warmup W] "
    "[--system serial|spindle|tbb|omp|all]\n"
    "       [--list-systems] [--context]\n"
    "  workload   fib\n"
    "  --n        problem size (fib: the argument; default 30)\n"
    "  --threads  spindle pool size (default: available parallelism); ignored by the serial "
    "system\n"
    "  --reps     timed repetitions (default 7)\n"
    "  --warmup   untimed repetitions after pool creation (default 1)\n"
    "  --max-time S  stop timing once 3 or more reps took S seconds in total (default: no limit)\n"
    "  --system   serial, spindle, tbb, omp or all (default all: serial, spindle, then tbb and\n"
    "             omp when this build has them)\n"
    "  --list-systems  print the systems this build has and exit\n"
    "  --context  run spindle with a tlv pointer and a typed context slot set (system\n"
    "             \"spindle+context\"), to measure what context propagation costs in use\n";

struct Args {
    std::string workload;
    std::uint64_t n = 30;
    std::size_t threads = 0;
    std::size_t reps = 7;
    std::size_t warmup = 1;
    double max_time = 0;  // --max-time: stop after 3+ reps once the timed total passes it
    bool run_serial = true;
    bool run_spindle = true;
    bool run_tbb = true;  // default "all": every system this build has
    bool run_omp = true;
    bool with_context = false;  // --context: run with a tlv and a typed slot set
};

[[noreturn]] void usage_exit(const std::string& msg) {
    if (!msg.empty())
        std::fprintf(stderr, "bench_fib_compare: %s\n", msg.c_str());
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
                bench::unavailable_exit("bench_fib_compare", sys);
            } else {
                a.run_serial = sys == bench::System::serial;
                a.run_spindle = sys == bench::System::spindle;
                a.run_tbb = sys == bench::System::tbb;
                a.run_omp = sys == bench::System::omp;
            }
        } else if (flag == "--list-systems") {
            bench::print_available_systems();
            std::exit(0);
        } else if (flag == "--context") {
            a.with_context = true;
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
    if (a.workload != "fib")
        usage_exit("unknown workload " + a.workload);
    if (a.reps == 0)
        usage_exit("--reps must be >= 1");
    if (a.n > 93)
        usage_exit("fib: n overflows 64 bits (max 93)");
    if (a.threads == 0)
        a.threads = available_parallelism();
    return a;
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
    // The capacity probe runs the serial fib (bench/capacity.hpp).
    bench::Series s(threads, [n = args.n] { return fib_serial(n); });
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
                     "bench_fib_compare: %s %s threads=%zu: WRONG RESULT (last %" PRIu64
                     ", expected %" PRIu64 ")\n",
                     args.workload.c_str(), system, threads, result, expected);
    }
    return checked;
}

}  // namespace

int main(int argc, char** argv) {
    const Args args = parse_args(argc, argv);
    const std::uint64_t n = args.n;
    const std::uint64_t expected = fib_reference(n);
    bool ok = true;
    try {
        if (args.run_serial) {
            if (!measure(args, "serial", 1, expected, [&] { return fib_serial(n); }))
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
            if (args.threads > 1) {
                spindle::PoolOptions base_opts;
                base_opts.num_threads = 1;
                base_pool.emplace(base_opts);
            }
            // install: the body runs on a pool worker while this (main) thread blocks, like rayon's
            // ThreadPool::install called from outside the pool.
            // --context: every join then captures a non-null context (a tlv pointer and one typed
            // slot), to show what propagation costs when it is used; the system is reported as
            // "spindle+context".
            static const spindle::ContextKey<int> k_key;
            int tlv_target = 0;
            auto body = [&]() -> std::uint64_t {
                if (!args.with_context)
                    return fib(n);
                spindle::tlv_set(&tlv_target);
                return spindle::with_context(k_key, 42, [&] { return fib(n); });
            };
            std::function<std::uint64_t()> base_run;
            if (base_pool)
                base_run = [&]() -> std::uint64_t { return base_pool->install(body); };
            if (!measure(
                    args, args.with_context ? "spindle+context" : "spindle", args.threads, expected,
                    [&]() -> std::uint64_t { return pool.install(body); }, base_run,
                    bench::stats_hooks(pool, stats0)))
                ok = false;
        }
        if (args.run_tbb) {
#if SPINDLE_BENCH_HAVE_TBB
            bench::TbbContext ctx(args.threads);
            if (!measure(args, "tbb", args.threads, expected,
                         [&] { return ctx.run([&] { return fib_fork<bench::TbbFork>(n); }); }))
                ok = false;
#endif
        }
        if (args.run_omp) {
#ifdef _OPENMP
            if (!measure(args, "omp", args.threads, expected, [&] {
                    return bench::omp_run_tasks(args.threads,
                                                [&] { return fib_fork<bench::OmpFork>(n); });
                }))
                ok = false;
#endif
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_fib_compare: exception: %s\n", e.what());
        return 1;
    } catch (...) {
        std::fprintf(stderr, "bench_fib_compare: unknown exception\n");
        return 1;
    }
    return ok ? 0 : 1;
}
