// fib (bench/rayon/src/workloads/fib.rs is the rayon side): parallel fib, one join per call,
// first branch fib(n-1), second fib(n-2), no sequential cutoff. Checked against an iterative
// reference. --context: spindle runs with a tlv pointer and a typed context slot set (system
// "spindle+context"), to measure what context propagation costs in use.

#include "workloads/workloads.hpp"

#include <spindle/spindle.hpp>

#include <cstdint>
#include <string>

namespace {

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

std::string check_fib_n(std::uint64_t n) {
    return n > 93 ? "n overflows 64 bits (max 93)" : "";
}

bool run_fib(const bench::Args& args) {
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
}

}  // namespace

bench::WorkloadSpec bench::workload_fib() {
    return {
        .name = "fib",
        .default_n = 30,
        .check_n = check_fib_n,
        .n_help = "the argument (default 30, max 93)",
        .switches =
            {{"--context",
              "run spindle with a tlv pointer and a typed context slot set (system\n"
              "             \"spindle+context\"), to measure what context propagation costs in "
              "use"}},
        .run = run_fib,
    };
}
