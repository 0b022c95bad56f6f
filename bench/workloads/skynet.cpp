// skynet N, a power of 10 (bench/rayon/src/workloads/skynet.rs is the rayon side, same
// decomposition): a 10-ary tree with N leaves; leaf i returns i. Every inner node opens one
// spindle::scope, spawns 10 closures writing into a local array, waits, and sums. Checked against
// N(N-1)/2. The serial system is a plain recursive version.

#include "workloads/workloads.hpp"

#include <spindle/spindle.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

// The same tree for oneTBB and OpenMP (bench/compare_systems.hpp): one task per child
// (task_group::run / omp task, then wait), results in per-child slots, as with spindle::scope.
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

std::string check_skynet_n(std::uint64_t n) {
    return (!is_power_of_10(n) || n > 1000000000) ? "n must be a power of 10, at most 10^9" : "";
}

bool run_skynet(const bench::Args& args) {
    const std::uint64_t n = args.n;
    bench::Bodies b = bench::fork_bodies([n]<class Fork>() { return skynet_fork<Fork>(0, n); });
    b.serial = [n] { return skynet_serial(0, n); };
    b.spindle = [n] { return skynet(0, n); };
    // skynet: sum of 0..n-1 = n(n-1)/2 (n <= 10^9: exact in 64 bits).
    return bench::measure_systems(args, bench::expect_value(n, n * (n - 1) / 2, b.serial), b);
}

}  // namespace

bench::WorkloadSpec bench::workload_skynet() {
    return {
        .name = "skynet",
        .default_n = 1000000,
        .check_n = check_skynet_n,
        .n_help = "leaves, a power of 10 (default 1000000, max 10^9)",
        .run = run_skynet,
    };
}
