// ThreadPool::install: results and exceptions, inline self-install, cross-pool installs
// (nested, mutual, 10 deep) and many external submitters.
#include "common/test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using spindle_test::fib_join;
using spindle_test::fib_serial;

struct InstallError {
    int id;
};

TEST(Install, ReturnsTheValue) {
    spindle::ThreadPool pool({.num_threads = 2});
    EXPECT_EQ(pool.install([] { return 42; }), 42);
    EXPECT_EQ(pool.install([] { return std::string("s"); }), "s");
    auto up = pool.install([] { return std::make_unique<int>(3); });
    ASSERT_NE(up, nullptr);
    EXPECT_EQ(*up, 3);
    int side = 0;
    pool.install([&] { side = 1; });  // void
    EXPECT_EQ(side, 1);
}

TEST(Install, RunsOnAWorkerOfThePool) {
    spindle::ThreadPool pool({.num_threads = 3});
    const auto idx = pool.install([&] { return pool.current_thread_index(); });
    ASSERT_TRUE(idx.has_value());
    EXPECT_LT(*idx, 3u);
    EXPECT_NE(pool.install([] { return std::this_thread::get_id(); }), std::this_thread::get_id());
}

TEST(Install, RethrowsTheException) {
    spindle::ThreadPool pool({.num_threads = 2});
    try {
        pool.install([]() -> int { throw InstallError{5}; });
        FAIL() << "install did not throw";
    } catch (const InstallError& e) {
        EXPECT_EQ(e.id, 5);
    }
    EXPECT_THROW(pool.install([] { throw std::logic_error("x"); }), std::logic_error);
    EXPECT_EQ(pool.install([] { return 1; }), 1);  // still usable
}

TEST(Install, SelfInstallRunsInline) {
    // rayon self_install: installing into the pool the caller already runs on must not
    // deadlock; spindle runs it inline, on the same worker and thread.
    spindle::ThreadPool pool({.num_threads = 1});
    const bool same = pool.install([&] {
        const auto idx = pool.current_thread_index();
        const auto tid = std::this_thread::get_id();
        return pool.install([&] {
            return pool.current_thread_index() == idx && std::this_thread::get_id() == tid;
        });
    });
    EXPECT_TRUE(same);

    spindle::ThreadPool pool4({.num_threads = 4});
    const int depth = pool4.install([&] {
        return pool4.install(
            [&] { return pool4.install([&] { return pool4.install([] { return 3; }); }); });
    });
    EXPECT_EQ(depth, 3);
}

TEST(Install, SelfInstallExceptionPropagates) {
    spindle::ThreadPool pool({.num_threads = 2});
    EXPECT_THROW(pool.install([&] { pool.install([] { throw InstallError{1}; }); }), InstallError);
}

TEST(Install, NestedInstallIntoAnotherPoolFromAWorker) {
    spindle::ThreadPool outer({.num_threads = 2});
    spindle::ThreadPool inner({.num_threads = 3});
    struct R {
        std::optional<std::size_t> outer_idx_in_inner, inner_idx;
        std::optional<std::size_t> outer_idx_after;
        std::thread::id before, after;
        std::uint64_t fib;
    };
    const unsigned n = spindle_test::under_sanitizer() ? 16 : 20;
    const R r = outer.install([&] {
        R x{};
        x.before = std::this_thread::get_id();
        x.fib = inner.install([&] {
            x.outer_idx_in_inner = outer.current_thread_index();
            x.inner_idx = inner.current_thread_index();
            return fib_join(n);
        });
        x.after = std::this_thread::get_id();
        x.outer_idx_after = outer.current_thread_index();
        return x;
    });
    EXPECT_EQ(r.fib, fib_serial(n));
    EXPECT_FALSE(r.outer_idx_in_inner.has_value())
        << "the inner job ran on a worker of the outer pool";
    EXPECT_TRUE(r.inner_idx.has_value());
    EXPECT_TRUE(r.outer_idx_after.has_value());
    EXPECT_EQ(r.before, r.after) << "the installing fiber must resume on its own worker";
}

TEST(Install, ExceptionAcrossPools) {
    spindle::ThreadPool a({.num_threads = 1});
    spindle::ThreadPool b({.num_threads = 1});
    EXPECT_THROW(a.install([&] { b.install([] { throw InstallError{2}; }); }), InstallError);
}

// rayon mutual_install: pool1 -> pool2 -> pool1. With blocking cross-pool installs this
// deadlocks on 1-thread pools; spindle parks the installing fiber instead.
TEST(Install, MutualInstall) {
    spindle::ThreadPool pool1({.num_threads = 1});
    spindle::ThreadPool pool2({.num_threads = 1});
    for (int i = 0; i < 20; ++i) {
        const bool ok = pool1.install([&] {
            return pool2.install([&] {
                return pool1.install([&] { return pool1.current_thread_index().has_value(); });
            });
        });
        ASSERT_TRUE(ok) << "round " << i;
    }
}

TEST(Install, MutualInstallSleepy) {
    spindle::ThreadPool pool1({.num_threads = 1});
    spindle::ThreadPool pool2({.num_threads = 1});
    for (int i = 0; i < 3; ++i) {
        const bool ok = pool1.install([&] {
            return pool2.install([&] {
                // pool1's only worker has surely parked the outer fiber and gone to sleep.
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
                return pool1.install([&] { return pool1.current_thread_index().has_value(); });
            });
        });
        ASSERT_TRUE(ok) << "round " << i;
    }
}

TEST(Install, MutualInstallFromBothSidesAtOnce) {
    // Jobs of each pool install into the other at the same time, repeatedly, so both 1-thread
    // pools have a fiber parked on the other pool while running the other pool's request.
    spindle::ThreadPool a({.num_threads = 1});
    spindle::ThreadPool b({.num_threads = 1});
    const int rounds = static_cast<int>(spindle_test::scaled(200, 4));
    std::atomic<int> a_done{0}, b_done{0};
    std::thread ta([&] {
        for (int i = 0; i < rounds; ++i) {
            const int v = a.install(
                [&] { return b.install([&] { return a.install([] { return 1; }) + 1; }); });
            if (v == 2)
                a_done.fetch_add(1);
        }
    });
    std::thread tb([&] {
        for (int i = 0; i < rounds; ++i) {
            const int v = b.install(
                [&] { return a.install([&] { return b.install([] { return 1; }) + 1; }); });
            if (v == 2)
                b_done.fetch_add(1);
        }
    });
    ta.join();
    tb.join();
    EXPECT_EQ(a_done.load(), rounds);
    EXPECT_EQ(b_done.load(), rounds);
}

TEST(Install, MutualInstallViaSpawnedJobs) {
    // Detached jobs of each pool install into the other pool.
    spindle::ThreadPool a({.num_threads = 1});
    spindle::ThreadPool b({.num_threads = 1});
    const int n = 30;
    std::atomic<int> done{0};
    for (int i = 0; i < n; ++i) {
        a.spawn([&] {
            if (b.install([&] { return a.install([] { return 7; }); }) == 7)
                done.fetch_add(1);
        });
        b.spawn([&] {
            if (a.install([&] { return b.install([] { return 7; }); }) == 7)
                done.fetch_add(1);
        });
    }
    EXPECT_TRUE(spindle_test::wait_until([&] { return done.load() == 2 * n; }));
}

TEST(Install, NestedPoolsTenDeep) {
    constexpr std::size_t depth = 10;
    std::vector<std::unique_ptr<spindle::ThreadPool>> pools;
    for (std::size_t i = 0; i < depth; ++i)
        pools.push_back(
            std::make_unique<spindle::ThreadPool>(spindle::PoolOptions{.num_threads = 1 + i % 2}));

    struct Rec {
        // Installs into pools[i], records which pools the current thread belongs to, recurses.
        static std::size_t go(std::vector<std::unique_ptr<spindle::ThreadPool>>& ps,
                              std::size_t i,
                              std::vector<int>& on_pool) {
            if (i == ps.size())
                return 0;
            return ps[i]->install([&ps, i, &on_pool] {
                on_pool[i] = ps[i]->current_thread_index().has_value() ? 1 : 0;
                // A join inside every level, too.
                auto [x, y] = spindle::join([] { return 1; }, [] { return 1; });
                return go(ps, i + 1, on_pool) + static_cast<std::size_t>(x + y) / 2;
            });
        }
    };
    for (int round = 0; round < 3; ++round) {
        std::vector<int> on_pool(depth, 0);
        EXPECT_EQ(Rec::go(pools, 0, on_pool), depth);
        for (std::size_t i = 0; i < depth; ++i)
            EXPECT_EQ(on_pool[i], 1) << "level " << i;
    }

    // Scopes nested across the 10 pools (rayon: nested scopes across pools).
    std::atomic<int> leaves{0};
    struct ScopeRec {
        static void go(std::vector<std::unique_ptr<spindle::ThreadPool>>& ps,
                       std::size_t i,
                       std::atomic<int>& leaves) {
            if (i == ps.size()) {
                leaves.fetch_add(1);
                return;
            }
            ps[i]->scope(
                [&](spindle::Scope& s) { s.spawn([&ps, i, &leaves] { go(ps, i + 1, leaves); }); });
        }
    };
    ScopeRec::go(pools, 0, leaves);
    EXPECT_EQ(leaves.load(), 1);
}

TEST(Install, ManyExternalThreadsSubmitAtOnce) {
    spindle::ThreadPool pool({.num_threads = 2});
    constexpr int threads = 16;
    const int rounds = static_cast<int>(spindle_test::scaled(20, 4));
    const unsigned fn = 14;
    const auto fexp = fib_serial(fn);
    std::atomic<int> bad{0};
    std::atomic<int> spawned_done{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
            while (!go.load())
                std::this_thread::yield();
            for (int i = 0; i < rounds; ++i) {
                switch ((t + i) % 4) {
                    case 0:
                        if (pool.install([&] { return t * 1000 + i; }) != t * 1000 + i)
                            bad.fetch_add(1);
                        break;
                    case 1: {
                        auto [a, b] = pool.join([&] { return fib_join(fn); }, [&] { return t; });
                        if (a != fexp || b != t)
                            bad.fetch_add(1);
                        break;
                    }
                    case 2:
                        pool.spawn([&] { spawned_done.fetch_add(1); });
                        break;
                    case 3: {
                        std::vector<int> v(16, 0);
                        pool.scope([&](spindle::Scope& s) {
                            for (std::size_t k = 0; k < v.size(); ++k)
                                s.spawn([&v, k] { v[k] = static_cast<int>(k); });
                        });
                        for (std::size_t k = 0; k < v.size(); ++k)
                            if (v[k] != static_cast<int>(k))
                                bad.fetch_add(1);
                        break;
                    }
                }
            }
        });
    }
    go.store(true);
    for (auto& t : ts)
        t.join();
    EXPECT_EQ(bad.load(), 0);
    int expected_spawns = 0;
    for (int t = 0; t < threads; ++t)
        for (int i = 0; i < rounds; ++i)
            if ((t + i) % 4 == 2)
                ++expected_spawns;
    EXPECT_TRUE(spindle_test::wait_until([&] { return spawned_done.load() == expected_spawns; }));
}

TEST(Install, ExternalThreadsAndWorkersOfAnotherPoolInstallConcurrently) {
    spindle::ThreadPool target({.num_threads = 2});
    spindle::ThreadPool source({.num_threads = 2});
    std::atomic<int> ok{0};
    const int n = static_cast<int>(spindle_test::scaled(100, 4));
    std::thread ext([&] {
        for (int i = 0; i < n; ++i)
            if (target.install([i] { return i; }) == i)
                ok.fetch_add(1);
    });
    source.scope([&](spindle::Scope& s) {
        for (int i = 0; i < n; ++i)
            s.spawn([&, i] {
                if (target.install([i] { return i; }) == i)
                    ok.fetch_add(1);
            });
    });
    ext.join();
    EXPECT_EQ(ok.load(), 2 * n);
}

}  // namespace

namespace {

TEST(InstallLifecycle, DestroyPoolsRightAfterCrossPoolInstall) {
    // The worker of `b` finishes the inner job and wakes the parked fiber of `a`'s worker;
    // `a`'s install then returns and `a` is destroyed at once. The waker (a worker of another
    // pool) must not touch `a`'s worker or registry after the woken fiber could have run.
    const int rounds = static_cast<int>(spindle_test::scaled(300, 3));
    // Busy threads make it likely that b's worker is preempted inside its wake-up.
    std::atomic<bool> stop{false};
    std::vector<std::thread> noise;
    for (int t = 0; t < 3; ++t)
        noise.emplace_back([&] {
            while (!stop.load(std::memory_order_relaxed))
                std::this_thread::yield();
        });
    struct Stop {
        std::atomic<bool>& s;
        std::vector<std::thread>& ts;
        ~Stop() {
            s.store(true);
            for (auto& t : ts)
                t.join();
        }
    } stopper{stop, noise};
    for (int i = 0; i < rounds; ++i) {
        auto b = std::make_unique<spindle::ThreadPool>(spindle::PoolOptions{.num_threads = 1});
        auto a = std::make_unique<spindle::ThreadPool>(spindle::PoolOptions{.num_threads = 1});
        const int v = a->install([&] { return b->install([] { return 7; }); });
        ASSERT_EQ(v, 7);
        a.reset();  // destroyed first: b's worker may still be inside its wake-up of a's worker
        b.reset();
    }
}

}  // namespace
