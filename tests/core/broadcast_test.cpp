// broadcast: one call per worker, results in worker order, nesting, cross-pool, exceptions.
#include "common/test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

struct BroadcastError {
    std::size_t index;
};

struct CallInfo {
    std::size_t ctx_index;
    std::size_t ctx_num_threads;
    std::optional<std::size_t> thread_index;
    std::thread::id tid;
};

class BroadcastWorkers : public ::testing::TestWithParam<std::size_t> {
protected:
    void SetUp() override {
        m_pool =
            std::make_unique<spindle::ThreadPool>(spindle::PoolOptions{.num_threads = GetParam()});
    }
    spindle::ThreadPool& pool() { return *m_pool; }
    std::size_t n() const { return GetParam(); }

    static CallInfo info(spindle::BroadcastContext ctx) {
        return CallInfo{ctx.index, ctx.num_threads, spindle::current_thread_index(),
                        std::this_thread::get_id()};
    }

    void check(const std::vector<CallInfo>& r) {
        ASSERT_EQ(r.size(), n());
        std::set<std::thread::id> threads;
        for (std::size_t i = 0; i < n(); ++i) {
            EXPECT_EQ(r[i].ctx_index, i) << "results must be in worker order";
            EXPECT_EQ(r[i].ctx_num_threads, n());
            ASSERT_TRUE(r[i].thread_index.has_value());
            EXPECT_EQ(*r[i].thread_index, i) << "call " << i << " ran on another worker";
            threads.insert(r[i].tid);
        }
        EXPECT_EQ(threads.size(), n()) << "each worker must run exactly one call";
    }

private:
    std::unique_ptr<spindle::ThreadPool> m_pool;
};

TEST_P(BroadcastWorkers, FromOutsideResultsInWorkerOrder) {
    for (int round = 0; round < 5; ++round)
        check(pool().broadcast(info));
}

TEST_P(BroadcastWorkers, EachWorkerCalledExactlyOnce) {
    std::vector<std::atomic<int>> calls(n());
    pool().broadcast([&](spindle::BroadcastContext ctx) { calls[ctx.index].fetch_add(1); });
    for (std::size_t i = 0; i < n(); ++i)
        EXPECT_EQ(calls[i].load(), 1) << i;
}

TEST_P(BroadcastWorkers, VoidResultIsAVectorOfMonostate) {
    auto r = pool().broadcast([](spindle::BroadcastContext) {});
    static_assert(std::is_same_v<decltype(r), std::vector<std::monostate>>);
    EXPECT_EQ(r.size(), n());
}

TEST_P(BroadcastWorkers, NestedFromAWorkerOfTheSamePool) {
    auto r = pool().install([&] { return pool().broadcast(info); });
    check(r);
    // The free function from a worker broadcasts on that worker's pool.
    auto r2 = pool().install([] { return spindle::broadcast(info); });
    check(r2);
}

TEST_P(BroadcastWorkers, NestedFromInsideABroadcastCall) {
    // Every worker, inside its own broadcast call, broadcasts again on the same pool.
    auto outer =
        pool().broadcast([&](spindle::BroadcastContext) { return pool().broadcast(info); });
    ASSERT_EQ(outer.size(), n());
    for (const auto& inner : outer)
        check(inner);
}

TEST_P(BroadcastWorkers, FromAWorkerOfAnotherPool) {
    spindle::ThreadPool other({.num_threads = 2});
    auto r = other.install([&] {
        EXPECT_TRUE(other.current_thread_index().has_value());
        return pool().broadcast(info);
    });
    check(r);
    // Both workers of the other pool at once.
    auto rs = other.broadcast([&](spindle::BroadcastContext) { return pool().broadcast(info); });
    ASSERT_EQ(rs.size(), 2u);
    for (const auto& x : rs)
        check(x);
}

TEST_P(BroadcastWorkers, WhileOtherWorkIsRunning) {
    // A worker is busy with joins when the broadcast arrives; each worker still runs its call
    // exactly once. The busy job yields between rounds: without preemption a job that never
    // looks for work would (by design) hold its worker's broadcast call back until it ends.
    std::atomic<bool> stop{false};
    std::atomic<int> busy_done{0};
    pool().spawn([&] {
        while (!stop.load()) {
            spindle_test::fib_join(12);
            spindle::yield_now();
        }
        busy_done.fetch_add(1);
    });
    for (int i = 0; i < 3; ++i)
        check(pool().broadcast(info));
    stop.store(true);
    ASSERT_TRUE(spindle_test::wait_until([&] { return busy_done.load() == 1; }));
}

TEST_P(BroadcastWorkers, ExceptionsAllRunLowestIndexRethrown) {
    for (std::size_t first_thrower = 0; first_thrower < n(); ++first_thrower) {
        std::vector<std::atomic<int>> ran(n());
        try {
            pool().broadcast([&](spindle::BroadcastContext ctx) {
                ran[ctx.index].fetch_add(1);
                // Every worker from first_thrower on throws, each its own index.
                if (ctx.index >= first_thrower)
                    throw BroadcastError{ctx.index};
                return ctx.index;
            });
            FAIL() << "broadcast did not throw";
        } catch (const BroadcastError& e) {
            EXPECT_EQ(e.index, first_thrower) << "the lowest index's exception must be rethrown";
        }
        for (std::size_t i = 0; i < n(); ++i)
            EXPECT_EQ(ran[i].load(), 1) << "worker " << i << " did not run";
    }
}

TEST_P(BroadcastWorkers, ExceptionOnlyFromTheLastWorker) {
    const std::size_t last = n() - 1;
    std::atomic<int> ran{0};
    try {
        pool().broadcast([&](spindle::BroadcastContext ctx) {
            ran.fetch_add(1);
            if (ctx.index == last)
                throw BroadcastError{ctx.index};
        });
        FAIL() << "broadcast did not throw";
    } catch (const BroadcastError& e) {
        EXPECT_EQ(e.index, last);
    }
    EXPECT_EQ(ran.load(), static_cast<int>(n()));
}

INSTANTIATE_TEST_SUITE_P(Workers,
                         BroadcastWorkers,
                         ::testing::ValuesIn(spindle_test::k_worker_counts),
                         [](const auto& info) { return "w" + std::to_string(info.param); });

TEST(BroadcastGlobal, FromOutsideUsesTheGlobalPool) {
    const std::size_t n = spindle::global_pool().num_threads();
    auto r = spindle::broadcast([](spindle::BroadcastContext ctx) {
        EXPECT_EQ(spindle::current_thread_index(), std::optional<std::size_t>(ctx.index));
        return ctx.num_threads;
    });
    ASSERT_EQ(r.size(), n);
    for (auto x : r)
        EXPECT_EQ(x, n);
}

TEST(Broadcast, MutualBroadcastBetweenTwoPools) {
    // rayon mutual broadcast: each pool's workers broadcast into the other pool.
    spindle::ThreadPool a({.num_threads = 2});
    spindle::ThreadPool b({.num_threads = 2});
    std::atomic<int> calls{0};
    auto r = a.broadcast([&](spindle::BroadcastContext) {
        return b.broadcast([&](spindle::BroadcastContext) {
            calls.fetch_add(1);
            return 1;
        });
    });
    EXPECT_EQ(calls.load(), 4);
    ASSERT_EQ(r.size(), 2u);
    for (auto& v : r)
        EXPECT_EQ(v.size(), 2u);
}

TEST(Broadcast, ConcurrentBroadcastsFromManyThreads) {
    spindle::ThreadPool pool({.num_threads = 2});
    const int threads = 8;
    const int rounds = static_cast<int>(spindle_test::scaled(20, 4));
    std::atomic<int> bad{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&] {
            for (int i = 0; i < rounds; ++i) {
                auto r = pool.broadcast([](spindle::BroadcastContext ctx) {
                    return spindle::current_thread_index() == std::optional<std::size_t>(ctx.index);
                });
                if (r.size() != 2 || !r[0] || !r[1])
                    bad.fetch_add(1);
            }
        });
    }
    for (auto& t : ts)
        t.join();
    EXPECT_EQ(bad.load(), 0);
}

}  // namespace
