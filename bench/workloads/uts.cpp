// uts (bench/rayon/src/workloads/uts.rs is the rayon side): Unbalanced Tree Search, T1 shape
// (geometric, expected branching 4, root 4 children, depth limit n), SplitMix64-derived child
// seeds instead of SHA-1; one task per child. Result: node count, checked against an explicit
// stack walk.

#include "workloads/fork_join.hpp"
#include "workloads/workloads.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace {

// SplitMix64's mixer: bench/harness.hpp (bench/rayon/src/workloads/data.rs has the same).
using bench::k_golden;
using bench::mix64;

constexpr std::uint64_t k_uts_root_seed = 19;  // UTS T1's -r 19
constexpr std::uint64_t k_uts_root_children = 4;
constexpr double k_uts_mean_children = 4.0;  // geometric, expected branching factor b = 4
constexpr int k_uts_rounds = 32;             // mixes per node: the stand-in for UTS's SHA-1

std::uint64_t uts_child_seed(std::uint64_t seed, std::uint64_t i) {
    return mix64(seed + (i + 1) * k_golden);
}

// Number of children of the node with this seed at this depth (0 at the depth limit).
std::uint64_t uts_children(std::uint64_t seed, std::uint32_t depth, std::uint32_t max_depth) {
    if (depth >= max_depth)
        return 0;
    if (depth == 0)
        return k_uts_root_children;
    std::uint64_t h = seed;
    for (int r = 0; r < k_uts_rounds; ++r)
        h = mix64(h + k_golden);
    // u uniform in [0, 1) from 53 bits; geometric with P(k) = (1-p)^k p, p = 1 / (1 + b).
    const double u = static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);
    const double q = 1.0 - 1.0 / (1.0 + k_uts_mean_children);
    return static_cast<std::uint64_t>(std::floor(std::log(1.0 - u) / std::log(q)));
}

template <class Fork>
std::uint64_t uts(std::uint64_t seed, std::uint32_t depth, std::uint32_t max_depth) {
    const std::uint64_t k = uts_children(seed, depth, max_depth);
    if (k == 0)
        return 1;
    std::uint64_t local[32];
    std::vector<std::uint64_t> big;
    std::uint64_t* slots = local;
    if (k > 32) {
        big.assign(k, 0);
        slots = big.data();
    }
    Fork::for_each_child(k, [&](std::size_t i) {
        slots[i] = uts<Fork>(uts_child_seed(seed, i), depth + 1, max_depth);
    });
    std::uint64_t total = 1;
    for (std::uint64_t i = 0; i < k; ++i)
        total += slots[i];
    return total;
}

// Independent reference: explicit stack, no recursion.
std::uint64_t uts_reference(std::uint32_t max_depth) {
    struct Node {
        std::uint64_t seed;
        std::uint32_t depth;
    };
    std::vector<Node> stack{{k_uts_root_seed, 0}};
    std::uint64_t count = 0;
    while (!stack.empty()) {
        const Node nd = stack.back();
        stack.pop_back();
        ++count;
        const std::uint64_t k = uts_children(nd.seed, nd.depth, max_depth);
        for (std::uint64_t i = 0; i < k; ++i)
            stack.push_back({uts_child_seed(nd.seed, i), nd.depth + 1});
    }
    return count;
}

struct UtsWorkload : bench::WorkloadBase {
    std::uint32_t max_depth;
    std::uint64_t expected;

    explicit UtsWorkload(std::uint64_t n)
        : max_depth(static_cast<std::uint32_t>(n)), expected(uts_reference(max_depth)) {}
    std::uint64_t n() const { return max_depth; }
    bool check(std::uint64_t r) const { return r == expected; }
    template <class Fork>
    std::uint64_t run() const {
        return uts<Fork>(k_uts_root_seed, 0, max_depth);
    }
    std::function<std::uint64_t()> probe_kernel() const {
        return [d = max_depth] { return uts<bench::SerialFork>(k_uts_root_seed, 0, d); };
    }
};

std::string check_uts_n(std::uint64_t n) {
    return n > 30 ? "depth limit at most 30" : "";
}

}  // namespace

bench::WorkloadSpec bench::workload_uts() {
    return {
        .name = "uts",
        .default_n = 9,
        .check_n = check_uts_n,
        .n_help = "depth limit (default 9, max 30)",
        .run = bench::run_fork_join<UtsWorkload>,
    };
}
