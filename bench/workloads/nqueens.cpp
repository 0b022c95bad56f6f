// nqueens N (bench/rayon/src/workloads/nqueens.rs is the rayon side, same decomposition): count
// the placements of N queens. Bitmask search (columns, both diagonals as u32 masks). Every node
// with at least one free column opens one spindle::scope and spawns one closure per free column
// (lowest bit first), each writing its count into a slot of a local array; the slots are summed
// after the scope. No sequential cutoff: the only leaves are row == N (1) and dead ends (0).
// Checked against the published counts (N <= 16). The serial system is a plain recursive
// version.

#include "workloads/workloads.hpp"

#include <spindle/spindle.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

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

// Published solution counts (OEIS A000170), index N.
constexpr std::uint64_t k_nqueens_counts[17] = {
    1, 1, 0, 0, 2, 10, 4, 40, 92, 352, 724, 2680, 14200, 73712, 365596, 2279184, 14772512};

std::string check_nqueens_n(std::uint64_t n) {
    return n > 16 ? "n must be 1..16" : "";
}

bool run_nqueens(const bench::Args& args) {
    const std::uint64_t n = args.n;
    const auto nq = static_cast<std::uint32_t>(n);
    bench::Bodies b =
        bench::fork_bodies([nq]<class Fork>() { return nqueens_fork<Fork>(nq, 0, 0, 0, 0); });
    b.serial = [nq] { return nqueens_serial(nq, 0, 0, 0, 0); };
    b.spindle = [nq] { return nqueens(nq, 0, 0, 0, 0); };
    // The serial version is pure: the capacity probe's T threads may run it at once.
    return bench::measure_systems(args, bench::expect_value(n, k_nqueens_counts[n], b.serial), b);
}

}  // namespace

bench::WorkloadSpec bench::workload_nqueens() {
    return {
        .name = "nqueens",
        .default_n = 11,
        .check_n = check_nqueens_n,
        .n_help = "board size (default 11, max 16)",
        .run = run_nqueens,
    };
}
