// Recursion as deep as a compiler's: query chains 200,000 deep through QueryMap, join and
// transform_reduce complete with default options, because the recursion continues on new stack
// segments (spindle/stack.hpp, design-notes/0002 "Growable stacks").
#include "common/test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

namespace {

// ThreadSanitizer records call stacks of at most 65,536 frames (GCC 12's runtime stops with
// "CHECK failed: sanitizer_stackdepot.cpp ... (1 << kStackSizeBits)" beyond), whatever stack
// they run on, and its shadow memory made the chain's first run at 20,000 levels on one worker
// grow past 12 GB (the OOM killer ended it in the test command): under TSan both shapes run
// 5,000 levels deep, still across several of TSan's 8 MiB segments (512 KiB red zone).
constexpr int k_depth = spindle_test::under_tsan() ? 5000 : 200000;
constexpr int k_fan_depth = spindle_test::under_tsan() ? 5000 : 200000;

class DeepQueries : public ::testing::TestWithParam<std::size_t> {};

// Each query asks the previous one: the chain k -> k-1 -> ... -> 0 recurses k levels deep on
// whichever fiber computes it.
TEST_P(DeepQueries, ChainEachQueryAsksThePreviousOne) {
    spindle::ThreadPool pool({.num_threads = GetParam()});
    spindle::QueryMap<int, std::uint64_t> q("chain");
    std::function<std::uint64_t(int)> value = [&](int k) -> std::uint64_t {
        return q.get_or_compute(k, [&]() -> std::uint64_t {
            return k == 0 ? 1 : value(k - 1) * 3 % 1000000007u + static_cast<unsigned>(k);
        });
    };
    const std::uint64_t got = pool.install([&] { return value(k_depth); });
    std::uint64_t want = 1;
    for (int k = 1; k <= k_depth; ++k)
        want = want * 3 % 1000000007u + static_cast<unsigned>(k);
    EXPECT_EQ(got, want);
    EXPECT_EQ(q.size(), static_cast<std::size_t>(k_depth) + 1);
}

// The compiler's shape: each query evaluates its dependencies with transform_reduce (the
// previous query, and the first one, long done), and many roots are asked at once from a
// scope; they meet in the shared chain, parking on queries that others are computing.
TEST_P(DeepQueries, FanOutManyRootsEvaluateDependenciesInParallel) {
    spindle::ThreadPool pool({.num_threads = GetParam()});
    spindle::QueryMap<int, std::uint64_t> q("fan-out");
    std::function<std::uint64_t(int)> value = [&](int k) -> std::uint64_t {
        return q.get_or_compute(k, [&]() -> std::uint64_t {
            if (k == 0)
                return 1;
            const int deps[2] = {k - 1, 0};
            return spindle::transform_reduce(
                       deps, std::uint64_t{0},
                       [](std::uint64_t a, std::uint64_t b) { return (a + b) % 1000000007u; },
                       [&](int d) { return value(d); }) +
                   static_cast<unsigned>(k);
        });
    };
    (void)pool.install([&] { return value(0); });
    constexpr int roots = 64;
    std::vector<std::uint64_t> got(roots);
    pool.scope([&](spindle::Scope& s) {
        for (int r = 0; r < roots; ++r)
            s.spawn([&, r] {
                got[static_cast<std::size_t>(r)] = value(k_fan_depth - r * (k_fan_depth / 128));
            });
    });
    std::vector<std::uint64_t> want(static_cast<std::size_t>(k_fan_depth) + 1);
    want[0] = 1;
    for (std::size_t k = 1; k < want.size(); ++k)
        want[k] = (want[k - 1] + 1) % 1000000007u + k;
    for (int r = 0; r < roots; ++r)
        EXPECT_EQ(got[static_cast<std::size_t>(r)],
                  want[static_cast<std::size_t>(k_fan_depth - r * (k_fan_depth / 128))])
            << "root " << r;
}

INSTANTIATE_TEST_SUITE_P(Workers, DeepQueries, ::testing::Values(1, 2, 4), [](const auto& info) {
    return "w" + std::to_string(info.param);
});

}  // namespace
