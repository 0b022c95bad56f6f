// spindle::join and ThreadPool::join: results, recursion, calls from outside a pool, and the
// exception rules.
#include "common/test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace {

using spindle_test::fib_join;
using spindle_test::fib_serial;

// Distinct exception types so that the identity of what join rethrows is checked.
struct ErrorA {
    int code;
};
struct ErrorB {
    int code;
};

struct NoDefault {
    explicit NoDefault(int v) : value(v) {}
    NoDefault() = delete;
    int value;
};

class JoinWorkers : public ::testing::TestWithParam<std::size_t> {
protected:
    spindle::ThreadPool& pool() {
        if (!m_pool)
            m_pool = std::make_unique<spindle::ThreadPool>(
                spindle::PoolOptions{.num_threads = GetParam()});
        return *m_pool;
    }

private:
    std::unique_ptr<spindle::ThreadPool> m_pool;
};

TEST_P(JoinWorkers, ReturnsBothResults) {
    auto [a, b] = pool().install(
        [] { return spindle::join([] { return 1; }, [] { return std::string("two"); }); });
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, "two");
}

TEST_P(JoinWorkers, VoidResultsAreMonostate) {
    std::atomic<int> ran{0};
    auto r = pool().install(
        [&] { return spindle::join([&] { ran.fetch_add(1); }, [&] { ran.fetch_add(10); }); });
    static_assert(std::is_same_v<decltype(r), std::pair<std::monostate, std::monostate>>);
    EXPECT_EQ(ran.load(), 11);

    auto mixed = pool().install(
        [&] { return spindle::join([] { return 5; }, [&] { ran.fetch_add(100); }); });
    static_assert(std::is_same_v<decltype(mixed), std::pair<int, std::monostate>>);
    EXPECT_EQ(mixed.first, 5);
    EXPECT_EQ(ran.load(), 111);
}

TEST_P(JoinWorkers, MoveOnlyAndNonDefaultConstructibleResults) {
    auto r = pool().install([] {
        return spindle::join([] { return std::make_unique<int>(7); }, [] { return NoDefault(9); });
    });
    static_assert(std::is_same_v<decltype(r), std::pair<std::unique_ptr<int>, NoDefault>>);
    ASSERT_NE(r.first, nullptr);
    EXPECT_EQ(*r.first, 7);
    EXPECT_EQ(r.second.value, 9);

    auto r2 = pool().install([] {
        return spindle::join([] { return NoDefault(1); },
                             [] { return std::make_unique<std::string>("x"); });
    });
    EXPECT_EQ(r2.first.value, 1);
    EXPECT_EQ(*r2.second, "x");
}

TEST_P(JoinWorkers, ClosuresAreCalledAsLvaluesAndCanBeNamed) {
    int calls = 0;
    auto a = [&calls] { return ++calls, 3; };  // a runs inline: no data race on calls
    std::atomic<int> b_calls{0};
    auto b = [&b_calls] { return b_calls.fetch_add(1) + 100; };
    auto [ra, rb] = pool().install([&] { return spindle::join(a, b); });
    EXPECT_EQ(ra, 3);
    EXPECT_EQ(rb, 100);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(b_calls.load(), 1);
}

TEST_P(JoinWorkers, RecursiveFibMatchesSerial) {
    const unsigned n = spindle_test::under_sanitizer() ? 18 : 22;
    const auto expected = fib_serial(n);
    for (unsigned cutoff : {1u, 6u}) {
        EXPECT_EQ(pool().install([&] { return fib_join(n, cutoff); }), expected)
            << "cutoff " << cutoff;
    }
}

TEST_P(JoinWorkers, DeepJoinTreeRunsEveryLeafOnce) {
    const std::size_t leaves = spindle_test::scaled(1 << 14, 8);
    std::vector<std::atomic<int>> hits(leaves);
    struct Rec {
        static void go(std::vector<std::atomic<int>>& h, std::size_t lo, std::size_t hi) {
            if (hi - lo == 1) {
                h[lo].fetch_add(1, std::memory_order_relaxed);
                return;
            }
            const std::size_t mid = lo + (hi - lo) / 2;
            spindle::join([&] { go(h, lo, mid); }, [&] { go(h, mid, hi); });
        }
    };
    pool().install([&] { Rec::go(hits, 0, leaves); });
    for (std::size_t i = 0; i < leaves; ++i)
        ASSERT_EQ(hits[i].load(), 1) << "leaf " << i;
}

TEST_P(JoinWorkers, MemberJoinRunsOnThePool) {
    auto& p = pool();
    auto [ia, ib] =
        p.join([&] { return p.current_thread_index(); }, [&] { return p.current_thread_index(); });
    ASSERT_TRUE(ia.has_value());
    ASSERT_TRUE(ib.has_value());
    EXPECT_LT(*ia, GetParam());
    EXPECT_LT(*ib, GetParam());
    EXPECT_EQ(p.join([] { return fib_join(15); }, [] { return 2; }),
              std::make_pair(fib_serial(15), 2));
}

TEST_P(JoinWorkers, ExceptionInAIsRethrownAfterBRan) {
    std::atomic<bool> b_ran{false};
    try {
        pool().install([&] {
            return spindle::join([]() -> int { throw ErrorA{1}; },
                                 [&] {
                                     b_ran.store(true);
                                     return 2;
                                 });
        });
        FAIL() << "join did not throw";
    } catch (const ErrorA& e) {
        EXPECT_EQ(e.code, 1);
        EXPECT_TRUE(b_ran.load()) << "b must have run (and finished) before join rethrows";
    }
}

TEST_P(JoinWorkers, ExceptionInBIsRethrownAfterARan) {
    std::atomic<bool> a_ran{false};
    try {
        pool().install([&] { spindle::join([&] { a_ran.store(true); }, [] { throw ErrorB{2}; }); });
        FAIL() << "join did not throw";
    } catch (const ErrorB& e) {
        EXPECT_EQ(e.code, 2);
        EXPECT_TRUE(a_ran.load());
    }
}

TEST_P(JoinWorkers, BothThrowRethrowsAsException) {
    for (int i = 0; i < 20; ++i) {
        try {
            pool().install(
                [&] { spindle::join([] { throw ErrorA{10}; }, [] { throw ErrorB{20}; }); });
            FAIL() << "join did not throw";
        } catch (const ErrorA& e) {
            EXPECT_EQ(e.code, 10);
        } catch (const ErrorB&) {
            FAIL() << "b's exception was rethrown, a's must win";
        }
    }
}

TEST_P(JoinWorkers, ExceptionFromDeepInsideRecursionPropagates) {
    struct Rec {
        static int go(int depth) {
            if (depth == 0)
                throw std::runtime_error("leaf");
            auto [a, b] = spindle::join([depth] { return go(depth - 1); }, [] { return 1; });
            return a + b;
        }
    };
    EXPECT_THROW(pool().install([] { return Rec::go(8); }), std::runtime_error);
    // The pool stays usable afterwards.
    EXPECT_EQ(pool().install([] { return fib_join(12); }), fib_serial(12));
}

TEST_P(JoinWorkers, ExceptionInStolenBIsRethrown) {
    // b sleeps briefly (on whichever worker runs it) so that with more than one worker it is
    // often stolen; the rule holds either way.
    for (int i = 0; i < 5; ++i) {
        std::atomic<bool> a_ran{false};
        EXPECT_THROW(pool().install([&] {
            spindle::join([&] { a_ran.store(true); },
                          [] {
                              std::this_thread::sleep_for(std::chrono::milliseconds(2));
                              throw ErrorB{3};
                          });
        }),
                     ErrorB);
        EXPECT_TRUE(a_ran.load());
    }
}

// join keeps each half's result in storage that records nothing (the control flow knows what
// it holds), so every path must destroy exactly what it built: both values, the surviving value
// when the other half threw, nothing twice, inline or stolen.
std::atomic<int> g_live{0};
struct Counted {
    explicit Counted(int v) : value(v) { g_live.fetch_add(1); }
    Counted(Counted&& o) noexcept : value(o.value) { g_live.fetch_add(1); }
    Counted(const Counted&) = delete;
    ~Counted() { g_live.fetch_sub(1); }
    int value;
};

// a's closure throws at depth throw_a, b's at depth throw_b (-1: never).
int counted_tree(int depth, int throw_a, int throw_b) {
    if (depth == 0)
        return 1;
    auto [a, b] = spindle::join(
        [&] {
            if (depth == throw_a)
                throw ErrorA{depth};
            return Counted(counted_tree(depth - 1, throw_a, throw_b));
        },
        [&] {
            if (depth == throw_b)
                throw ErrorB{depth};
            return Counted(counted_tree(depth - 1, throw_a, throw_b));
        });
    return a.value + b.value;
}

TEST_P(JoinWorkers, ResultsAreDestroyedExactlyOnceOnEveryPath) {
    for (int round = 0; round < 20; ++round) {
        EXPECT_EQ(pool().install([] { return counted_tree(10, -1, -1); }), 1024);
        EXPECT_EQ(g_live.load(), 0);
        // b throws at depth 3, so a's value there is dropped (and above it both halves throw).
        EXPECT_THROW(pool().install([] { return counted_tree(10, -1, 3); }), ErrorB);
        EXPECT_EQ(g_live.load(), 0);
        // a throws at depth 3, so b's value there is dropped.
        EXPECT_THROW(pool().install([] { return counted_tree(10, 3, -1); }), ErrorA);
        EXPECT_EQ(g_live.load(), 0);
    }
}

// A result whose move throws while join hands the values out: the other one is still destroyed.
struct MoveThrows {
    explicit MoveThrows(bool t) : throws(t) { g_live.fetch_add(1); }
    MoveThrows(MoveThrows&& o) : throws(o.throws) {
        if (throws)
            throw ErrorA{7};
        g_live.fetch_add(1);
    }
    ~MoveThrows() { g_live.fetch_sub(1); }
    bool throws;
};

TEST_P(JoinWorkers, AResultWhoseMoveThrowsLeaksNothing) {
    for (int round = 0; round < 20; ++round) {
        EXPECT_THROW(pool().install([] {
            (void)spindle::join([] { return MoveThrows(true); }, [] { return Counted(1); });
        }),
                     ErrorA);
        EXPECT_EQ(g_live.load(), 0);
        EXPECT_THROW(pool().install([] {
            (void)spindle::join([] { return Counted(1); }, [] { return MoveThrows(true); });
        }),
                     ErrorA);
        EXPECT_EQ(g_live.load(), 0);
    }
}

INSTANTIATE_TEST_SUITE_P(Workers,
                         JoinWorkers,
                         ::testing::ValuesIn(spindle_test::k_worker_counts),
                         [](const auto& info) { return "w" + std::to_string(info.param); });

// ---- outside any pool: the global pool ------------------------------------------------------

TEST(JoinGlobal, FromOutsideAnyPoolUsesTheGlobalPool) {
    ASSERT_FALSE(spindle::current_thread_index().has_value());
    auto [ia, ib] = spindle::join([] { return spindle::current_thread_index(); },
                                  [] { return spindle::current_thread_index(); });
    EXPECT_TRUE(ia.has_value()) << "a must run on a worker of the global pool";
    EXPECT_TRUE(ib.has_value());
    EXPECT_EQ(spindle::global_pool().num_threads(), spindle::current_num_threads());
    EXPECT_FALSE(spindle::current_thread_index().has_value());
}

TEST(JoinGlobal, FibFromOutside) {
    const unsigned n = spindle_test::under_sanitizer() ? 18 : 20;
    EXPECT_EQ(fib_join(n), fib_serial(n));
}

TEST(JoinGlobal, ExceptionsFromOutside) {
    EXPECT_THROW(spindle::join([] { throw ErrorA{1}; }, [] {}), ErrorA);
    EXPECT_THROW(spindle::join([] {}, [] { throw ErrorB{1}; }), ErrorB);
    EXPECT_THROW(spindle::join([] { throw ErrorA{1}; }, [] { throw ErrorB{1}; }), ErrorA);
}

}  // namespace
