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
// A plain program on bench/harness.hpp (CLI, series, JSON line); no Google Benchmark.

#include "harness.hpp"

#include <spindle/spindle.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

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
    // The free columns, lowest bit first; none: a dead end.
    std::uint32_t bits[32];
    std::size_t k = 0;
    for (std::uint32_t avail = ~(cols | d1 | d2) & ((std::uint32_t{1} << n) - 1); avail != 0;
         avail &= avail - 1)
        bits[k++] = avail & (0u - avail);
    if (k == 0)
        return 0;
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
// The program.

std::string check_nqueens_n(std::uint64_t n) {
    return n > 16 ? "n must be 1..16" : "";
}
std::string check_skynet_n(std::uint64_t n) {
    return (!is_power_of_10(n) || n > 1000000000) ? "n must be a power of 10, at most 10^9" : "";
}

const bench::ProgramSpec k_spec{
    "bench_tree_compare",
    {{"nqueens", 11, check_nqueens_n}, {"skynet", 1000000, check_skynet_n}},
    "nqueens | skynet",
    "problem size (nqueens: board size, default 11, max 16; skynet: leaves, a power\n"
    "             of 10, default 1000000)",
};

}  // namespace

int main(int argc, char** argv) {
    return bench::run_main(k_spec, argc, argv, [](const bench::Args& args) {
        const std::uint64_t n = args.n;
        if (args.workload == "nqueens") {
            const auto nq = static_cast<std::uint32_t>(n);
            bench::Bodies b = bench::fork_bodies(
                [nq]<class Fork>() { return nqueens_fork<Fork>(nq, 0, 0, 0, 0); });
            b.serial = [nq] { return nqueens_serial(nq, 0, 0, 0, 0); };
            b.spindle = [nq] { return nqueens(nq, 0, 0, 0, 0); };
            // The serial version is pure: the capacity probe's T threads may run it at once.
            return bench::measure_systems(args,
                                          bench::expect_value(n, k_nqueens_counts[n], b.serial), b);
        }
        bench::Bodies b = bench::fork_bodies([n]<class Fork>() { return skynet_fork<Fork>(0, n); });
        b.serial = [n] { return skynet_serial(0, n); };
        b.spindle = [n] { return skynet(0, n); };
        // skynet: sum of 0..n-1 = n(n-1)/2 (n <= 10^9: exact in 64 bits).
        return bench::measure_systems(args, bench::expect_value(n, n * (n - 1) / 2, b.serial), b);
    });
}
