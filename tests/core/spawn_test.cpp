// Detached spawns: completion, the exception handler, the default (fatal) policy, and pool
// destruction with detached work pending.
#include "common/test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using spindle_test::wait_until;

struct SpawnError {
    int id;
};

TEST(Spawn, DetachedSpawnOnAPoolRuns) {
    spindle::ThreadPool pool({.num_threads = 2});
    std::atomic<int> count{0};
    const int n = 100;
    for (int i = 0; i < n; ++i)
        pool.spawn([&] { count.fetch_add(1); });
    EXPECT_TRUE(wait_until([&] { return count.load() == n; }));
    EXPECT_EQ(count.load(), n);
}

TEST(Spawn, DetachedSpawnRunsOnAWorkerOfThatPool) {
    spindle::ThreadPool pool({.num_threads = 3});
    std::atomic<int> on_pool{0}, off_pool{0};
    for (int i = 0; i < 30; ++i) {
        pool.spawn([&] {
            const auto idx = pool.current_thread_index();
            (idx && *idx < 3 ? on_pool : off_pool).fetch_add(1);
        });
    }
    ASSERT_TRUE(wait_until([&] { return on_pool.load() + off_pool.load() == 30; }));
    EXPECT_EQ(on_pool.load(), 30);
    EXPECT_EQ(off_pool.load(), 0);
}

TEST(Spawn, SpawnFromInsideAWorkerGoesToThatPool) {
    spindle::ThreadPool pool({.num_threads = 2});
    std::atomic<int> count{0};
    std::atomic<int> wrong_pool{0};
    pool.install([&] {
        for (int i = 0; i < 20; ++i) {
            spindle::spawn([&] {  // free function: the current worker's pool
                if (!pool.current_thread_index())
                    wrong_pool.fetch_add(1);
                count.fetch_add(1);
            });
        }
    });
    EXPECT_TRUE(wait_until([&] { return count.load() == 20; }));
    EXPECT_EQ(wrong_pool.load(), 0);
}

TEST(Spawn, GlobalSpawnFromOutsideAnyPool) {
    std::atomic<int> count{0};
    std::atomic<int> off_pool{0};
    for (int i = 0; i < 50; ++i) {
        spindle::spawn([&] {
            if (!spindle::current_thread_index())
                off_pool.fetch_add(1);
            count.fetch_add(1);
        });
    }
    EXPECT_TRUE(wait_until([&] { return count.load() == 50; }));
    EXPECT_EQ(off_pool.load(), 0);
}

TEST(Spawn, SpawnThenWaitWithJoinInsideWorker) {
    // rayon spawn_then_join_in_worker: a spawn can be observed from a job of the same pool.
    spindle::ThreadPool pool({.num_threads = 2});
    std::atomic<bool> done{false};
    const bool ok = pool.install([&] {
        spindle::spawn([&] { done.store(true); });
        // Let the pool make progress; the spawned job is on this worker's deque or stolen.
        return spindle_test::spin_until([&] {
            if (done.load())
                return true;
            spindle::yield_now();
            return false;
        });
    });
    EXPECT_TRUE(ok);
}

TEST(Spawn, ClosureIsMovedAndDestroyedAfterRunning) {
    spindle::ThreadPool pool({.num_threads = 2});
    auto token = std::make_shared<int>(5);
    std::weak_ptr<int> weak = token;
    std::atomic<int> seen{0};
    auto up = std::make_unique<int>(11);  // move-only capture
    pool.spawn([token, &seen, up = std::move(up)] { seen.store(*token + *up); });
    token.reset();
    ASSERT_TRUE(wait_until([&] { return seen.load() == 16; }));
    EXPECT_TRUE(wait_until([&] { return weak.expired(); }))
        << "the job's closure was never destroyed";
}

TEST(Spawn, ExceptionGoesToTheHandler) {
    std::mutex m;
    std::vector<int> ids;
    std::atomic<int> handled{0};
    std::atomic<int> wrong_type{0};
    spindle::PoolOptions opts;
    opts.num_threads = 2;
    opts.exception_handler = [&](std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const SpawnError& err) {
            std::lock_guard<std::mutex> g(m);
            ids.push_back(err.id);
        } catch (...) {
            wrong_type.fetch_add(1);
        }
        handled.fetch_add(1);
    };
    {
        spindle::ThreadPool pool(opts);
        for (int i = 0; i < 10; ++i)
            pool.spawn([i] { throw SpawnError{i}; });
        std::atomic<int> ok{0};
        pool.spawn([&] { ok.fetch_add(1); });
        ASSERT_TRUE(wait_until([&] { return handled.load() == 10 && ok.load() == 1; }));
    }
    EXPECT_EQ(wrong_type.load(), 0);
    std::lock_guard<std::mutex> g(m);
    ASSERT_EQ(ids.size(), 10u);
    std::vector<int> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    for (int i = 0; i < 10; ++i)
        EXPECT_EQ(sorted[i], i);
}

TEST(Spawn, HandlerReceivesTheExactExceptionObject) {
    // The exception_ptr handed to the handler refers to the very object that was thrown.
    std::atomic<const void*> thrown_addr{nullptr};
    std::atomic<const void*> handled_addr{nullptr};
    spindle::PoolOptions opts;
    opts.num_threads = 1;
    opts.exception_handler = [&](std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::runtime_error& err) {
            if (std::string(err.what()) == "detached boom")
                handled_addr.store(&err);
        } catch (...) {
        }
    };
    {
        spindle::ThreadPool pool(opts);
        pool.spawn([&] {
            try {
                throw std::runtime_error("detached boom");
            } catch (const std::runtime_error& err) {
                thrown_addr.store(&err);
                throw;  // rethrow the same object
            }
        });
    }  // the destructor waits for the detached job (and thus the handler)
    ASSERT_NE(thrown_addr.load(), nullptr);
    EXPECT_EQ(handled_addr.load(), thrown_addr.load());
}

TEST(Spawn, GlobalSpawnFromAPoolWithHandlerUsesThatPoolsHandler) {
    std::atomic<int> handled{0};
    spindle::PoolOptions opts;
    opts.num_threads = 2;
    opts.exception_handler = [&](std::exception_ptr) { handled.fetch_add(1); };
    {
        spindle::ThreadPool pool(opts);
        pool.install([] { spindle::spawn([] { throw SpawnError{1}; }); });
    }
    EXPECT_EQ(handled.load(), 1);
}

TEST(SpawnDeathTest, ExceptionWithoutHandlerTerminatesWithAMessage) {
    SPINDLE_DEATH_TEST_PROLOGUE();
    EXPECT_DEATH(
        {
            spindle::ThreadPool pool({.num_threads = 2});
            pool.spawn([] { throw std::runtime_error("unobserved"); });
            std::this_thread::sleep_for(std::chrono::seconds(10));
            std::fprintf(stderr, "survived\n");
            std::_Exit(0);  // must not get here
        },
        "spindle.*exception");
}

TEST(SpawnDeathTest, GlobalPoolExceptionWithoutHandlerTerminates) {
    SPINDLE_DEATH_TEST_PROLOGUE();
    EXPECT_DEATH(
        {
            spindle::spawn([] { throw SpawnError{0}; });
            std::this_thread::sleep_for(std::chrono::seconds(10));
            std::_Exit(0);
        },
        "spindle.*exception");
}

// ---- destruction with pending detached work --------------------------------------------------

TEST(SpawnLifecycle, DestructorWaitsForPendingDetachedJobs) {
    std::atomic<int> done{0};
    const int n = 20;
    {
        spindle::ThreadPool pool({.num_threads = 2});
        for (int i = 0; i < n; ++i) {
            pool.spawn([&] {
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
                done.fetch_add(1);
            });
        }
    }
    EXPECT_EQ(done.load(), n);
}

TEST(SpawnLifecycle, DestructorWaitsForJobsSpawnedByJobs) {
    // rayon termination_while_things_are_executing: the pool is dropped while jobs are still
    // spawning more jobs.
    std::atomic<int> done{0};
    const int depth = spindle_test::under_sanitizer() ? 8 : 10;
    struct Chain {
        static void node(std::atomic<int>& done, int d) {
            done.fetch_add(1);
            if (d == 0)
                return;
            std::this_thread::sleep_for(std::chrono::microseconds(200));
            spindle::spawn([&done, d] { node(done, d - 1); });
            spindle::spawn([&done, d] { node(done, d - 1); });
        }
    };
    {
        spindle::ThreadPool pool({.num_threads = 2});
        pool.spawn([&] { Chain::node(done, depth); });
    }
    EXPECT_EQ(done.load(), (1 << (depth + 1)) - 1);
}

TEST(SpawnLifecycle, DestructorWaitsForDetachedJobThatParks) {
    // The detached job joins (and may park on) work stolen by the other worker.
    std::atomic<int> done{0};
    {
        spindle::ThreadPool pool({.num_threads = 2});
        for (int i = 0; i < 4; ++i) {
            pool.spawn([&] {
                spindle::join([] { std::this_thread::sleep_for(std::chrono::milliseconds(3)); },
                              [] { std::this_thread::sleep_for(std::chrono::milliseconds(3)); });
                done.fetch_add(1);
            });
        }
    }
    EXPECT_EQ(done.load(), 4);
}

TEST(SpawnLifecycle, DestroyImmediatelyAfterSpawnFromOutside) {
    for (int round = 0; round < 20; ++round) {
        std::atomic<int> done{0};
        {
            spindle::ThreadPool pool({.num_threads = 2});
            pool.spawn([&] { done.fetch_add(1); });
        }
        ASSERT_EQ(done.load(), 1) << "round " << round;
    }
}

}  // namespace
