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
// A plain program on bench/harness.hpp (CLI, series, JSON line); no Google Benchmark.

#include "harness.hpp"

#include <spindle/spindle.hpp>

#include <cstdint>
#include <string>

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
// The program.

std::string check_fib_n(std::uint64_t n) {
    return n > 93 ? "n overflows 64 bits (max 93)" : "";
}

const bench::ProgramSpec k_spec{
    .prog = "bench_fib_compare",
    .workloads = {{"fib", 30, check_fib_n}},
    .workload_help = "fib",
    .n_help = "problem size (fib: the argument; default 30)",
    .switches =
        {{"--context",
          "run spindle with a tlv pointer and a typed context slot set (system\n"
          "             \"spindle+context\"), to measure what context propagation costs in use"}},
};

}  // namespace

int main(int argc, char** argv) {
    return bench::run_main(k_spec, argc, argv, [](const bench::Args& args) {
        const std::uint64_t n = args.n;
        // The capacity probe runs the serial fib (bench/capacity.hpp).
        const bench::RepSpec w =
            bench::expect_value(n, fib_reference(n), [n] { return fib_serial(n); });
        // --context: every join then captures a non-null context (a tlv pointer and one typed
        // slot), to show what propagation costs when it is used; the system is reported as
        // "spindle+context".
        const bool with_context = args.has("--context");
        static const spindle::ContextKey<int> k_key;
        int tlv_target = 0;
        bench::Bodies b = bench::fork_bodies([n]<class Fork>() { return fib_fork<Fork>(n); });
        b.serial = [n] { return fib_serial(n); };
        b.spindle = [&]() -> std::uint64_t {
            if (!with_context)
                return fib(n);
            spindle::tlv_set(&tlv_target);
            return spindle::with_context(k_key, 42, [&] { return fib(n); });
        };
        b.spindle_name = with_context ? "spindle+context" : "spindle";
        return bench::measure_systems(args, w, b);
    });
}
