// The parallel helpers and algorithms built on join/scope (for_each, try_for_each, map,
// parallel, parallel_for, reduce, transform_reduce, stable_sort), each against a serial
// reference on seeded random inputs, at several worker counts and from outside any pool;
// their exception rules; element types without a default constructor.
#include "common/test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <ranges>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using spindle_test::under_sanitizer;

// The largest input: 100003 elements (10007 under a sanitizer; still several times the sort's
// 2048-element cutoff, so the parallel sort and merge run).
constexpr std::size_t k_large = under_sanitizer() ? 10007 : 100003;

std::vector<std::size_t> test_sizes() {
    return {0, 1, 2, 3, 127, 128, 129, 1000, k_large};
}

// Thrown by elements; carries the index so that the rethrown exception can be identified.
struct IndexError {
    std::size_t index;
};

std::vector<std::uint64_t> random_values(std::size_t n, std::uint64_t seed, std::uint64_t max) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::uint64_t> dist(0, max);
    std::vector<std::uint64_t> v(n);
    for (auto& x : v)
        x = dist(rng);
    return v;
}

// Counts live instances, to check that nothing leaks and nothing is destroyed twice.
struct Live {
    static inline std::atomic<long> count{0};
    Live() { count.fetch_add(1, std::memory_order_relaxed); }
    Live(const Live&) { count.fetch_add(1, std::memory_order_relaxed); }
    Live(Live&&) noexcept { count.fetch_add(1, std::memory_order_relaxed); }
    Live& operator=(const Live&) = default;
    Live& operator=(Live&&) noexcept = default;
    ~Live() { count.fetch_sub(1, std::memory_order_relaxed); }
};

// No default constructor, move-only, and counted.
class Item {
public:
    Item(std::uint64_t key, std::size_t id)
        : m_key(std::make_unique<std::uint64_t>(key)), m_id(id) {}
    Item(Item&&) noexcept = default;
    Item& operator=(Item&&) noexcept = default;
    Item(const Item&) = delete;
    Item& operator=(const Item&) = delete;

    std::uint64_t key() const { return *m_key; }
    std::size_t id() const { return m_id; }

private:
    std::unique_ptr<std::uint64_t> m_key;  // a moved-from Item has none: key() would crash
    std::size_t m_id;
    Live m_live;
};

// 0: called from outside any pool (so the global pool runs it); else a pool of that many
// workers, with the call made inside pool.install.
class Algorithms : public ::testing::TestWithParam<std::size_t> {
protected:
    template <class F>
    void run(F&& f) {
        if (GetParam() == 0) {
            f();
            return;
        }
        if (!m_pool)
            m_pool = std::make_unique<spindle::ThreadPool>(
                spindle::PoolOptions{.num_threads = GetParam()});
        m_pool->install(f);
    }

private:
    std::unique_ptr<spindle::ThreadPool> m_pool;
};

INSTANTIATE_TEST_SUITE_P(
    Workers,
    Algorithms,
    ::testing::Values(std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{4}),
    [](const ::testing::TestParamInfo<std::size_t>& info) {
        return info.param == 0 ? std::string("outside") : "w" + std::to_string(info.param);
    });

// The groups rustc's par_slice forms: halve (left gets len / 2) down to max(len / 128, 1).
void expected_groups(std::size_t lo,
                     std::size_t hi,
                     std::size_t group,
                     std::vector<std::pair<std::size_t, std::size_t>>& out) {
    if (hi - lo <= group) {
        out.emplace_back(lo, hi);
        return;
    }
    const std::size_t mid = lo + (hi - lo) / 2;
    expected_groups(lo, mid, group, out);
    expected_groups(mid, hi, group, out);
}

// ---------------------------------------------------------------------------------------------
// for_each / try_for_each
// ---------------------------------------------------------------------------------------------

TEST_P(Algorithms, ForEachMatchesSerial) {
    for (std::size_t n : test_sizes()) {
        std::vector<std::uint64_t> v = random_values(n, 1 + n, 1'000'000);
        std::vector<std::uint64_t> expected = v;
        for (auto& x : expected)
            x = x * 3 + 1;
        run([&] { spindle::for_each(v, [](std::uint64_t& x) { x = x * 3 + 1; }); });
        EXPECT_EQ(v, expected) << "n=" << n;

        // An iota view (elements are prvalues) and a span.
        std::vector<std::atomic<int>> hits(n);
        run([&] {
            spindle::for_each(std::views::iota(std::size_t{0}, n), [&](std::size_t i) {
                hits[i].fetch_add(1, std::memory_order_relaxed);
            });
            spindle::for_each(std::span<std::atomic<int>>(hits), [](std::atomic<int>& h) {
                h.fetch_add(1, std::memory_order_relaxed);
            });
        });
        for (std::size_t i = 0; i < n; ++i)
            ASSERT_EQ(hits[i].load(), 2) << "n=" << n << " i=" << i;
    }
}

// Each of rustc's groups runs on one thread, in index order, without other elements of the
// same call in between.
TEST_P(Algorithms, ForEachRunsRustcGroupsInOrder) {
    for (std::size_t n : {std::size_t{129}, std::size_t{1000}, k_large}) {
        std::vector<std::thread::id> thread(n);
        std::vector<std::size_t> ticket(n);
        std::atomic<std::size_t> next{0};
        run([&] {
            spindle::for_each(std::views::iota(std::size_t{0}, n), [&](std::size_t i) {
                thread[i] = std::this_thread::get_id();
                ticket[i] = next.fetch_add(1, std::memory_order_relaxed);
            });
        });
        std::vector<std::pair<std::size_t, std::size_t>> groups;
        expected_groups(0, n, std::max<std::size_t>(n / 128, 1), groups);
        for (auto [lo, hi] : groups) {
            for (std::size_t i = lo + 1; i < hi; ++i) {
                ASSERT_EQ(thread[i], thread[lo])
                    << "n=" << n << " group [" << lo << "," << hi << ")";
                ASSERT_GT(ticket[i], ticket[i - 1]) << "n=" << n << " i=" << i;
            }
        }
        if (GetParam() == 1) {  // one worker: the whole call runs in index order
            for (std::size_t i = 0; i < n; ++i)
                ASSERT_EQ(ticket[i], i);
        }
    }
}

TEST_P(Algorithms, ForEachRunsEveryElementAndRethrowsLowestIndex) {
    struct Case {
        std::size_t n;
        std::vector<std::size_t> throwing;
    };
    const std::vector<Case> cases = {
        {1, {0}},
        {2, {1}},
        {3, {2, 0}},
        {129, {128, 64, 5}},
        {1000, {999, 500, 77, 3}},
        {k_large, {k_large - 1, k_large / 2, 4000}},
    };
    for (const Case& c : cases) {
        std::vector<char> throws(c.n, 0);
        for (std::size_t i : c.throwing)
            throws[i] = 1;
        std::vector<std::atomic<int>> hits(c.n);
        std::optional<std::size_t> caught;
        run([&] {
            try {
                spindle::for_each(std::views::iota(std::size_t{0}, c.n), [&](std::size_t i) {
                    hits[i].fetch_add(1, std::memory_order_relaxed);
                    if (throws[i])
                        throw IndexError{i};
                });
            } catch (const IndexError& e) {
                caught = e.index;
            }
        });
        ASSERT_TRUE(caught.has_value()) << "n=" << c.n;
        EXPECT_EQ(*caught, *std::min_element(c.throwing.begin(), c.throwing.end()));
        for (std::size_t i = 0; i < c.n; ++i)
            ASSERT_EQ(hits[i].load(), 1) << "n=" << c.n << " i=" << i;
    }
}

// A move-only error type without a default constructor.
struct Failure {
    explicit Failure(std::size_t i) : index(std::make_unique<std::size_t>(i)) {}
    std::unique_ptr<std::size_t> index;
};

TEST_P(Algorithms, TryForEachReturnsLowestIndexErrorAfterRunningEverything) {
    for (std::size_t n : test_sizes()) {
        std::mt19937_64 rng(7 + n);
        std::vector<char> fails(n, 0);
        const std::size_t failures = n == 0 ? 0 : 1 + rng() % 5;
        for (std::size_t k = 0; k < failures; ++k)
            fails[rng() % n] = 1;
        std::vector<std::atomic<int>> hits(n);
        auto body = [&](std::size_t i) -> std::optional<Failure> {
            hits[i].fetch_add(1, std::memory_order_relaxed);
            if (fails[i])
                return Failure(i);
            return std::nullopt;
        };
        std::optional<Failure> result;
        run([&] { result = spindle::try_for_each(std::views::iota(std::size_t{0}, n), body); });
        const auto first = std::find(fails.begin(), fails.end(), 1);
        if (first == fails.end()) {
            EXPECT_FALSE(result.has_value()) << "n=" << n;
        } else {
            ASSERT_TRUE(result.has_value()) << "n=" << n;
            EXPECT_EQ(*result->index, static_cast<std::size_t>(first - fails.begin()));
        }
        for (std::size_t i = 0; i < n; ++i)
            ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;

        // No failures at all.
        std::optional<Failure> none;
        run([&] {
            none = spindle::try_for_each(
                std::views::iota(std::size_t{0}, n),
                [](std::size_t) -> std::optional<Failure> { return std::nullopt; });
        });
        EXPECT_FALSE(none.has_value());
    }
}

TEST_P(Algorithms, TryForEachExceptionWinsOverErrors) {
    const std::size_t n = 1000;
    std::vector<std::atomic<int>> hits(n);
    std::optional<std::size_t> caught;
    run([&] {
        try {
            (void)spindle::try_for_each(std::views::iota(std::size_t{0}, n),
                                        [&](std::size_t i) -> std::optional<int> {
                                            hits[i].fetch_add(1, std::memory_order_relaxed);
                                            if (i == 10 || i == 600)
                                                return static_cast<int>(i);  // errors first...
                                            if (i == 900 || i == 300)
                                                throw IndexError{i};  // ...but exceptions win
                                            return std::nullopt;
                                        });
        } catch (const IndexError& e) {
            caught = e.index;
        }
    });
    ASSERT_TRUE(caught.has_value());
    EXPECT_EQ(*caught, 300u);
    for (std::size_t i = 0; i < n; ++i)
        ASSERT_EQ(hits[i].load(), 1);
}

// ---------------------------------------------------------------------------------------------
// map
// ---------------------------------------------------------------------------------------------

TEST_P(Algorithms, MapMatchesSerialInOrder) {
    for (std::size_t n : test_sizes()) {
        const std::vector<std::uint64_t> v = random_values(n, 11 + n, 1'000'000'000);
        std::vector<std::string> expected;
        for (auto x : v)
            expected.push_back(std::to_string(x * 7));
        std::vector<std::string> got;
        run([&] { got = spindle::map(v, [](std::uint64_t x) { return std::to_string(x * 7); }); });
        EXPECT_EQ(got, expected) << "n=" << n;

        std::vector<std::size_t> squares;
        run([&] {
            squares = spindle::map(std::views::iota(std::size_t{0}, n),
                                   [](std::size_t i) { return i * i; });
        });
        ASSERT_EQ(squares.size(), n);
        for (std::size_t i = 0; i < n; ++i)
            ASSERT_EQ(squares[i], i * i);
    }
}

TEST_P(Algorithms, MapBuildsMoveOnlyNonDefaultConstructibleResults) {
    for (std::size_t n : test_sizes()) {
        const long live_before = Live::count.load();
        {
            std::vector<Item> items;
            run([&] {
                items = spindle::map(std::views::iota(std::size_t{0}, n),
                                     [](std::size_t i) { return Item(i * 3, i); });
            });
            ASSERT_EQ(items.size(), n);
            for (std::size_t i = 0; i < n; ++i) {
                ASSERT_EQ(items[i].id(), i);
                ASSERT_EQ(items[i].key(), i * 3);
            }
            EXPECT_EQ(Live::count.load() - live_before, static_cast<long>(n));
        }
        EXPECT_EQ(Live::count.load(), live_before) << "n=" << n;
    }
}

TEST_P(Algorithms, MapRunsEveryElementDestroysResultsAndRethrowsLowestIndex) {
    for (std::size_t n :
         {std::size_t{1}, std::size_t{3}, std::size_t{129}, std::size_t{1000}, k_large}) {
        std::mt19937_64 rng(23 + n);
        std::vector<char> throws(n, 0);
        for (int k = 0; k < 4; ++k)
            throws[rng() % n] = 1;
        const std::size_t lowest =
            static_cast<std::size_t>(std::find(throws.begin(), throws.end(), 1) - throws.begin());
        std::vector<std::atomic<int>> hits(n);
        const long live_before = Live::count.load();
        std::optional<std::size_t> caught;
        run([&] {
            try {
                (void)spindle::map(std::views::iota(std::size_t{0}, n), [&](std::size_t i) {
                    hits[i].fetch_add(1, std::memory_order_relaxed);
                    if (throws[i])
                        throw IndexError{i};
                    return Item(i, i);
                });
            } catch (const IndexError& e) {
                caught = e.index;
            }
        });
        ASSERT_TRUE(caught.has_value()) << "n=" << n;
        EXPECT_EQ(*caught, lowest);
        EXPECT_EQ(Live::count.load(), live_before) << "results leaked, n=" << n;
        for (std::size_t i = 0; i < n; ++i)
            ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;

        // The same with a result type that is assigned into a pre-sized vector.
        for (auto& h : hits)
            h.store(0);
        caught.reset();
        run([&] {
            try {
                (void)spindle::map(std::views::iota(std::size_t{0}, n), [&](std::size_t i) {
                    hits[i].fetch_add(1, std::memory_order_relaxed);
                    if (throws[i])
                        throw IndexError{i};
                    return std::to_string(i);
                });
            } catch (const IndexError& e) {
                caught = e.index;
            }
        });
        ASSERT_TRUE(caught.has_value()) << "n=" << n;
        EXPECT_EQ(*caught, lowest);
        for (std::size_t i = 0; i < n; ++i)
            ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
    }
}

// ---------------------------------------------------------------------------------------------
// parallel
// ---------------------------------------------------------------------------------------------

TEST_P(Algorithms, ParallelRunsEveryBranch) {
    std::atomic<int> ran[5] = {};
    run([&] {
        spindle::parallel([&] { ran[0].fetch_add(1); });
        spindle::parallel([&] { ran[0].fetch_add(1); }, [&] { return ran[1].fetch_add(1); });
        spindle::parallel([&] { ran[0].fetch_add(1); }, [&] { ran[1].fetch_add(1); },
                          [&] { ran[2].fetch_add(1); }, [&] { ran[3].fetch_add(1); },
                          [&] { ran[4].fetch_add(1); });
    });
    EXPECT_EQ(ran[0].load(), 3);
    EXPECT_EQ(ran[1].load(), 2);
    for (int i = 2; i < 5; ++i)
        EXPECT_EQ(ran[i].load(), 1);
    spindle::parallel();  // nothing to run
}

TEST_P(Algorithms, ParallelRethrowsFirstInArgumentOrderAfterAllRan) {
    std::atomic<int> ran{0};
    auto ok = [&] { ran.fetch_add(1); };
    auto fail = [&](std::size_t i) {
        return [&ran, i] {
            ran.fetch_add(1);
            throw IndexError{i};
        };
    };
    auto caught = [&](auto&&... branches) -> std::optional<std::size_t> {
        std::optional<std::size_t> index;
        run([&] {
            try {
                spindle::parallel(branches...);
            } catch (const IndexError& e) {
                index = e.index;
            }
        });
        return index;
    };
    EXPECT_EQ(caught(fail(0)), std::optional<std::size_t>(0));
    EXPECT_EQ(caught(ok, fail(1)), std::optional<std::size_t>(1));
    EXPECT_EQ(caught(fail(0), fail(1)), std::optional<std::size_t>(0));
    EXPECT_EQ(caught(ok, ok, fail(2), ok, fail(4)), std::optional<std::size_t>(2));
    EXPECT_EQ(caught(ok, ok, ok, fail(3), fail(4)), std::optional<std::size_t>(3));
    EXPECT_EQ(caught(fail(0), fail(1), fail(2), fail(3), fail(4)), std::optional<std::size_t>(0));
    EXPECT_EQ(caught(ok, ok, ok, ok, ok), std::nullopt);
    EXPECT_EQ(ran.load(), 1 + 2 + 2 + 5 + 5 + 5 + 5);
}

// On one worker nothing is stolen, and the branches run in argument order: the first inline,
// then the spawned ones, newest (= second) first.
TEST(AlgorithmsOrder, ParallelOnOneWorkerRunsInArgumentOrder) {
    spindle::ThreadPool pool(spindle::PoolOptions{.num_threads = 1});
    std::vector<int> order;
    pool.install([&] {
        spindle::parallel([&] { order.push_back(0); }, [&] { order.push_back(1); },
                          [&] { order.push_back(2); }, [&] { order.push_back(3); },
                          [&] { order.push_back(4); });
    });
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

// ---------------------------------------------------------------------------------------------
// parallel_for
// ---------------------------------------------------------------------------------------------

TEST(AlgorithmsParallelFor, CoversEveryIndexOnceAtOneToEightWorkers) {
    const std::size_t n = under_sanitizer() ? 5003 : 50003;
    for (std::size_t workers = 1; workers <= 8; ++workers) {
        spindle::ThreadPool pool(spindle::PoolOptions{.num_threads = workers});
        for (std::size_t min_len : {std::size_t{1}, std::size_t{7}, std::size_t{1000}, n + 1}) {
            for (std::size_t len : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{3},
                                    std::size_t{129}, n}) {
                std::vector<std::atomic<int>> hits(len);
                pool.install([&] {
                    spindle::parallel_for(
                        std::size_t{0}, len,
                        [&](std::size_t i) { hits[i].fetch_add(1, std::memory_order_relaxed); },
                        min_len);
                });
                for (std::size_t i = 0; i < len; ++i)
                    ASSERT_EQ(hits[i].load(), 1) << "workers=" << workers << " min_len=" << min_len
                                                 << " len=" << len << " i=" << i;
            }
        }
    }
}

TEST_P(Algorithms, ParallelForSignedAndExtremeRanges) {
    // Negative bounds.
    {
        std::vector<std::atomic<int>> hits(2001);
        run([&] {
            spindle::parallel_for(-1000, 1001,
                                  [&](int i) { hits[static_cast<std::size_t>(i + 1000)]++; });
        });
        for (auto& h : hits)
            ASSERT_EQ(h.load(), 1);
    }
    // Empty and reversed ranges call nothing.
    std::atomic<int> calls{0};
    run([&] {
        spindle::parallel_for(5, 5, [&](int) { calls++; });
        spindle::parallel_for(5, -5, [&](int) { calls++; });
        spindle::parallel_for(std::uint64_t{9}, std::uint64_t{3}, [&](std::uint64_t) { calls++; });
    });
    EXPECT_EQ(calls.load(), 0);
    // The whole range of a small signed type.
    {
        std::vector<std::atomic<int>> hits(256);
        run([&] {
            spindle::parallel_for(std::int8_t{-128}, std::int8_t{127}, [&](std::int8_t i) {
                hits[static_cast<std::size_t>(i + 128)]++;
            });
        });
        for (std::size_t k = 0; k < 255; ++k)
            ASSERT_EQ(hits[k].load(), 1) << k;
        EXPECT_EQ(hits[255].load(), 0);
    }
    // Near the limits of 64-bit types (no overflow in the index arithmetic).
    {
        constexpr std::int64_t lo = std::numeric_limits<std::int64_t>::min();
        constexpr std::int64_t hi = std::numeric_limits<std::int64_t>::max();
        std::vector<std::atomic<int>> low_hits(100);
        std::vector<std::atomic<int>> high_hits(100);
        std::vector<std::atomic<int>> top_hits(100);
        run([&] {
            spindle::parallel_for(lo, lo + 100, [&](std::int64_t i) {
                low_hits[static_cast<std::size_t>(i - lo)]++;
            });
            spindle::parallel_for(hi - 100, hi, [&](std::int64_t i) {
                high_hits[static_cast<std::size_t>(i - (hi - 100))]++;
            });
            constexpr std::uint64_t umax = std::numeric_limits<std::uint64_t>::max();
            spindle::parallel_for(umax - 100, umax, [&](std::uint64_t i) {
                top_hits[static_cast<std::size_t>(i - (umax - 100))]++;
            });
        });
        for (std::size_t k = 0; k < 100; ++k) {
            ASSERT_EQ(low_hits[k].load(), 1);
            ASSERT_EQ(high_hits[k].load(), 1);
            ASSERT_EQ(top_hits[k].load(), 1);
        }
    }
}

TEST_P(Algorithms, ParallelForRunsEveryIndexAndRethrowsLowest) {
    for (std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{1000}, k_large}) {
        std::vector<std::atomic<int>> hits(n);
        std::optional<std::size_t> caught;
        const std::size_t a = n / 3;
        const std::size_t b = n - 1;
        run([&] {
            try {
                spindle::parallel_for(std::size_t{0}, n, [&](std::size_t i) {
                    hits[i].fetch_add(1, std::memory_order_relaxed);
                    if (i == a || i == b)
                        throw IndexError{i};
                });
            } catch (const IndexError& e) {
                caught = e.index;
            }
        });
        ASSERT_TRUE(caught.has_value());
        EXPECT_EQ(*caught, std::min(a, b));
        for (std::size_t i = 0; i < n; ++i)
            ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
    }
}

// White-box: the splitter's budget arithmetic, as rayon's Splitter/LengthSplitter.
TEST(AlgorithmsSplitter, BudgetHalvesAndResetsWhenStolen) {
    spindle::detail::Splitter s{8, 8, 1};
    EXPECT_TRUE(s.try_split(100, false));
    EXPECT_EQ(s.splits, 4u);
    EXPECT_TRUE(s.try_split(100, false));
    EXPECT_TRUE(s.try_split(100, false));
    EXPECT_EQ(s.splits, 1u);
    EXPECT_TRUE(s.try_split(100, false));
    EXPECT_EQ(s.splits, 0u);
    EXPECT_FALSE(s.try_split(100, false));  // budget spent
    EXPECT_TRUE(s.try_split(100, true));    // stolen: refilled to the thread count
    EXPECT_EQ(s.splits, 8u);
    spindle::detail::Splitter big{40, 8, 1};
    EXPECT_TRUE(big.try_split(100, true));  // stolen: max(threads, budget / 2)
    EXPECT_EQ(big.splits, 20u);
    spindle::detail::Splitter len{8, 8, 10};
    EXPECT_FALSE(len.try_split(19, true));  // halves would be shorter than min_len
    EXPECT_TRUE(len.try_split(20, false));
    spindle::detail::Splitter one{8, 8, 1};
    EXPECT_FALSE(one.try_split(1, true));
}

// White-box: the pieces of adaptive splitting tile the range, respect min_len, and number
// exactly 2 on one worker (a budget of 1 split, nothing stolen).
TEST(AlgorithmsSplitter, PiecesTileTheRange) {
    for (std::size_t workers : {std::size_t{1}, std::size_t{2}, std::size_t{4}, std::size_t{8}}) {
        spindle::ThreadPool pool(spindle::PoolOptions{.num_threads = workers});
        for (std::size_t min_len : {std::size_t{1}, std::size_t{5}, std::size_t{64}}) {
            for (std::size_t len : {std::size_t{1}, std::size_t{2}, std::size_t{9},
                                    std::size_t{1000}, std::size_t{4099}}) {
                std::vector<std::pair<std::size_t, std::size_t>> pieces;
                auto leaf = [&](std::size_t lo, std::size_t hi) {
                    // Make a piece take a moment, so that idle workers get to steal.
                    std::this_thread::sleep_for(std::chrono::microseconds(20));
                    return std::vector<std::pair<std::size_t, std::size_t>>{{lo, hi}};
                };
                auto combine = [](auto left, auto right) {
                    left.insert(left.end(), right.begin(), right.end());
                    return left;
                };
                pool.install([&] {
                    pieces = spindle::detail::adaptive_split_all(len, min_len, leaf, combine);
                });
                ASSERT_FALSE(pieces.empty());
                EXPECT_EQ(pieces.front().first, 0u);
                EXPECT_EQ(pieces.back().second, len);
                for (std::size_t k = 0; k < pieces.size(); ++k) {
                    if (k > 0) {
                        ASSERT_EQ(pieces[k].first, pieces[k - 1].second);
                    }
                    if (pieces.size() > 1) {
                        ASSERT_GE(pieces[k].second - pieces[k].first, min_len);
                    }
                }
                if (len / 2 >= min_len) {
                    // Without steals the budget of `workers` splits gives
                    // 2^(floor(log2(workers)) + 1) pieces; a steal only raises a budget.
                    const std::size_t no_steal = workers >= 8   ? 16
                                                 : workers >= 4 ? 8
                                                 : workers >= 2 ? 4
                                                                : 2;
                    if (workers == 1) {
                        EXPECT_EQ(pieces.size(), 2u);
                    } else if (len >= 2 * no_steal * min_len) {
                        EXPECT_GE(pieces.size(), no_steal) << "len=" << len;
                    }
                } else {
                    EXPECT_EQ(pieces.size(), 1u);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// reduce / transform_reduce
// ---------------------------------------------------------------------------------------------

TEST_P(Algorithms, ReduceMatchesAccumulate) {
    for (std::size_t n : test_sizes()) {
        const std::vector<std::uint64_t> v = random_values(n, 31 + n, 1'000'000);
        const std::uint64_t expected = std::accumulate(v.begin(), v.end(), std::uint64_t{5});
        const std::deque<std::uint64_t> d(v.begin(), v.end());  // pieces cross its blocks
        std::uint64_t sum = 0;
        std::uint64_t sum_deque = 0;
        std::uint64_t sum_min_len = 0;
        std::int64_t squares = 0;
        run([&] {
            sum = spindle::reduce(v, std::uint64_t{0}, std::plus<>{}) + 5;
            sum_deque = spindle::reduce(d, std::uint64_t{0}, std::plus<>{}) + 5;
            sum_min_len = spindle::reduce(v, std::uint64_t{5}, std::plus<>{}, 100);
            squares = spindle::transform_reduce(
                std::views::iota(std::int64_t{0}, static_cast<std::int64_t>(n)), std::int64_t{0},
                std::plus<>{}, [](std::int64_t i) { return i * i - 3 * i; });
        });
        EXPECT_EQ(sum, expected) << "n=" << n;
        EXPECT_EQ(sum_deque, expected) << "n=" << n;
        // identity 5 is not an identity of +: only one piece may use it when min_len > n / 2.
        if (n < 200) {
            EXPECT_EQ(sum_min_len, expected) << "n=" << n;
        }
        std::int64_t serial = 0;
        for (std::int64_t i = 0; i < static_cast<std::int64_t>(n); ++i)
            serial += i * i - 3 * i;
        EXPECT_EQ(squares, serial) << "n=" << n;
    }
}

// Associative but not commutative: the operands keep their index order.
TEST_P(Algorithms, ReduceKeepsOrderForNonCommutativeOps) {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{3},
                          std::size_t{129}, std::size_t{3000}}) {
        std::string expected;
        for (std::size_t i = 0; i < n; ++i)
            expected += std::to_string(i) + ",";
        std::string got;
        run([&] {
            got = spindle::transform_reduce(
                std::views::iota(std::size_t{0}, n), std::string(),
                [](std::string a, const std::string& b) {
                    a += b;
                    return a;  // moved, not copied
                },
                [](std::size_t i) { return std::to_string(i) + ","; });
        });
        EXPECT_EQ(got, expected) << "n=" << n;
    }
}

TEST_P(Algorithms, ReduceRethrowsLowestFailingIndex) {
    const std::size_t n = 1000;
    std::optional<std::size_t> caught;
    run([&] {
        try {
            (void)spindle::transform_reduce(std::views::iota(std::size_t{0}, n), std::size_t{0},
                                            std::plus<>{}, [](std::size_t i) {
                                                if (i == 321 || i == 777)
                                                    throw IndexError{i};
                                                return i;
                                            });
        } catch (const IndexError& e) {
            caught = e.index;
        }
    });
    ASSERT_TRUE(caught.has_value());
    EXPECT_EQ(*caught, 321u);
}

// ---------------------------------------------------------------------------------------------
// stable_sort
// ---------------------------------------------------------------------------------------------

TEST_P(Algorithms, StableSortMatchesSerial) {
    for (std::size_t n : test_sizes()) {
        std::vector<std::uint64_t> v = random_values(n, 41 + n, 1'000'000'000);
        std::vector<std::uint64_t> expected = v;
        std::stable_sort(expected.begin(), expected.end());
        run([&] { spindle::stable_sort(v.begin(), v.end()); });
        EXPECT_EQ(v, expected) << "n=" << n;

        // Descending, on a non-contiguous container.
        std::deque<std::uint64_t> d(expected.begin(), expected.end());
        std::shuffle(d.begin(), d.end(), std::mt19937_64(n));
        run([&] { spindle::stable_sort(d.begin(), d.end(), std::greater<>{}); });
        EXPECT_TRUE(std::equal(d.begin(), d.end(), expected.rbegin(), expected.rend()))
            << "n=" << n;

        // Already sorted, reversed, all equal.
        std::vector<std::uint64_t> sorted = expected;
        std::vector<std::uint64_t> reversed(expected.rbegin(), expected.rend());
        std::vector<std::uint64_t> equal(n, 42);
        run([&] {
            spindle::stable_sort(sorted.begin(), sorted.end());
            spindle::stable_sort(reversed.begin(), reversed.end());
            spindle::stable_sort(equal.begin(), equal.end());
        });
        EXPECT_EQ(sorted, expected);
        EXPECT_EQ(reversed, expected);
        EXPECT_EQ(equal, std::vector<std::uint64_t>(n, 42));
    }
}

// Pairs sorted by key: equal keys keep their input order (the result equals std::stable_sort's).
TEST_P(Algorithms, StableSortIsStable) {
    for (std::size_t n : test_sizes()) {
        for (std::uint64_t key_range : {std::uint64_t{3}, std::uint64_t{100}}) {
            const std::vector<std::uint64_t> keys = random_values(n, 53 + n, key_range - 1);
            std::vector<std::pair<std::uint64_t, std::size_t>> v;
            for (std::size_t i = 0; i < n; ++i)
                v.emplace_back(keys[i], i);
            auto by_key = [](const auto& a, const auto& b) { return a.first < b.first; };
            auto expected = v;
            std::stable_sort(expected.begin(), expected.end(), by_key);
            run([&] { spindle::stable_sort(v.begin(), v.end(), by_key); });
            ASSERT_EQ(v, expected) << "n=" << n << " key_range=" << key_range;
        }
    }
}

TEST_P(Algorithms, StableSortMoveOnlyNonDefaultConstructible) {
    for (std::size_t n : test_sizes()) {
        const std::vector<std::uint64_t> keys = random_values(n, 61 + n, 50);
        const long live_before = Live::count.load();
        {
            std::vector<Item> items;
            items.reserve(n);
            for (std::size_t i = 0; i < n; ++i)
                items.emplace_back(keys[i], i);
            run([&] {
                spindle::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
                    return a.key() < b.key();
                });
            });
            std::vector<std::pair<std::uint64_t, std::size_t>> expected;
            for (std::size_t i = 0; i < n; ++i)
                expected.emplace_back(keys[i], i);
            std::stable_sort(expected.begin(), expected.end(),
                             [](const auto& a, const auto& b) { return a.first < b.first; });
            ASSERT_EQ(items.size(), n);
            for (std::size_t i = 0; i < n; ++i) {
                ASSERT_EQ(items[i].key(), expected[i].first) << "n=" << n << " i=" << i;
                ASSERT_EQ(items[i].id(), expected[i].second) << "n=" << n << " i=" << i;
            }
            EXPECT_EQ(Live::count.load() - live_before, static_cast<long>(n));  // buffer freed
        }
        EXPECT_EQ(Live::count.load(), live_before);
    }
}

// White-box: tiny cutoffs push every size through the parallel sort and the parallel merge.
TEST_P(Algorithms, StableSortSmallCutoffsEverySize) {
    const std::size_t max_n = under_sanitizer() ? 64 : 300;
    for (std::size_t cutoff : {std::size_t{1}, std::size_t{2}, std::size_t{5}, std::size_t{37}}) {
        for (std::size_t n = 0; n <= max_n; ++n) {
            const std::vector<std::uint64_t> keys = random_values(n, 71 + n * 7 + cutoff, 9);
            std::vector<std::pair<std::uint64_t, std::size_t>> v;
            for (std::size_t i = 0; i < n; ++i)
                v.emplace_back(keys[i], i);
            auto by_key = [](const auto& a, const auto& b) { return a.first < b.first; };
            auto expected = v;
            std::stable_sort(expected.begin(), expected.end(), by_key);
            run([&] { spindle::detail::stable_sort_impl(v.begin(), v.end(), by_key, cutoff); });
            ASSERT_EQ(v, expected) << "n=" << n << " cutoff=" << cutoff;
        }
    }
}

// A comparator that throws on its k-th call: the exception comes out, the sequence holds
// exactly its original elements, and nothing leaks.
TEST_P(Algorithms, StableSortComparatorThrowsKeepsEveryElement) {
    const std::size_t n = under_sanitizer() ? 2500 : 20000;
    for (std::size_t cutoff : {std::size_t{3}, std::size_t{64}, std::size_t{0}}) {
        // From the first comparison to the last merges (about 14 n comparisons), and never.
        for (std::size_t k :
             {std::size_t{1}, std::size_t{10}, n / 2, 5 * n, 10 * n, std::size_t{10'000'000}}) {
            const std::vector<std::uint64_t> keys = random_values(n, 83 + k + cutoff, 1000);
            const long live_before = Live::count.load();
            {
                std::vector<Item> items;
                for (std::size_t i = 0; i < n; ++i)
                    items.emplace_back(keys[i], i);
                std::atomic<std::size_t> calls{0};
                auto comp = [&](const Item& a, const Item& b) {
                    if (calls.fetch_add(1, std::memory_order_relaxed) + 1 == k)
                        throw IndexError{k};
                    return a.key() < b.key();
                };
                bool threw = false;
                run([&] {
                    try {
                        if (cutoff == 0)
                            spindle::stable_sort(items.begin(), items.end(), comp);
                        else
                            spindle::detail::stable_sort_impl(items.begin(), items.end(), comp,
                                                              cutoff);
                    } catch (const IndexError& e) {
                        EXPECT_EQ(e.index, k);
                        threw = true;
                    }
                });
                EXPECT_EQ(threw, k <= calls.load()) << "k=" << k;
                std::vector<std::size_t> ids;
                for (const Item& item : items) {
                    ids.push_back(item.id());
                    ASSERT_EQ(item.key(), keys[item.id()]);  // never a moved-from element
                }
                std::sort(ids.begin(), ids.end());
                for (std::size_t i = 0; i < n; ++i)
                    ASSERT_EQ(ids[i], i)
                        << "element lost or duplicated; k=" << k << " cutoff=" << cutoff;
                if (!threw) {
                    ASSERT_TRUE(std::is_sorted(
                        items.begin(), items.end(),
                        [](const Item& a, const Item& b) { return a.key() < b.key(); }));
                }
                EXPECT_EQ(Live::count.load() - live_before, static_cast<long>(n));
            }
            EXPECT_EQ(Live::count.load(), live_before);
        }
    }
}

// Moves that throw: only the basic guarantee, but every object is destroyed exactly once
// (checked by the live count and, in sanitizer builds, by ASan).
struct ThrowingMove {
    static inline std::atomic<long> moves_left{0};
    explicit ThrowingMove(int k) : key(k) {}
    ThrowingMove(ThrowingMove&& o) : key(o.key) { tick(); }
    ThrowingMove& operator=(ThrowingMove&& o) {
        tick();
        key = o.key;
        return *this;
    }
    static void tick() {
        if (moves_left.fetch_sub(1, std::memory_order_relaxed) == 1)
            throw std::runtime_error("move");
    }
    int key;
    Live live;
};

TEST_P(Algorithms, StableSortThrowingMovesLeakNothing) {
    const std::size_t n = 3000;
    for (long budget : {1L, 100L, 5000L, 40000L}) {
        const long live_before = Live::count.load();
        {
            std::vector<ThrowingMove> v;
            v.reserve(n);
            std::mt19937 rng(static_cast<unsigned>(budget));
            for (std::size_t i = 0; i < n; ++i)
                v.emplace_back(static_cast<int>(rng() % 100));
            ThrowingMove::moves_left.store(budget);
            run([&] {
                try {
                    spindle::detail::stable_sort_impl(
                        v.begin(), v.end(),
                        [](const ThrowingMove& a, const ThrowingMove& b) { return a.key < b.key; },
                        50);
                } catch (const std::runtime_error&) {
                }
            });
            ThrowingMove::moves_left.store(0);
            EXPECT_EQ(Live::count.load() - live_before, static_cast<long>(n));
        }
        EXPECT_EQ(Live::count.load(), live_before);
    }
}

}  // namespace
