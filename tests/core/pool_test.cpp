// ThreadPool construction and options, worker identity, handlers, the global pool, thread
// creation failure, create/destroy leaks, and destroying a pool from its own worker.
#include "common/test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <pthread.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using spindle_test::ScopedEnv;

TEST(Pool, NumThreadsHonoured) {
    for (std::size_t n : {1u, 2u, 3u, 7u}) {
        spindle::ThreadPool pool({.num_threads = n});
        EXPECT_EQ(pool.num_threads(), n);
        // Really n distinct worker threads.
        auto tids =
            pool.broadcast([](spindle::BroadcastContext) { return std::this_thread::get_id(); });
        EXPECT_EQ(std::set<std::thread::id>(tids.begin(), tids.end()).size(), n);
        EXPECT_EQ(pool.install([] { return spindle::current_num_threads(); }), n);
    }
}

TEST(Pool, ZeroThreadsUsesEnvironmentVariable) {
    ScopedEnv env("SPINDLE_NUM_THREADS", "3");
    spindle::ThreadPool pool({.num_threads = 0});
    EXPECT_EQ(pool.num_threads(), 3u);
    spindle::ThreadPool dflt;  // default options: num_threads = 0 too
    EXPECT_EQ(dflt.num_threads(), 3u);
}

TEST(Pool, ExplicitNumThreadsIgnoresEnvironmentVariable) {
    ScopedEnv env("SPINDLE_NUM_THREADS", "3");
    spindle::ThreadPool pool({.num_threads = 2});
    EXPECT_EQ(pool.num_threads(), 2u);
}

TEST(Pool, ZeroThreadsWithoutEnvironmentUsesHardwareConcurrency) {
    ScopedEnv env("SPINDLE_NUM_THREADS", nullptr);
    spindle::ThreadPool pool({.num_threads = 0});
    const unsigned hw = std::thread::hardware_concurrency();
    EXPECT_EQ(pool.num_threads(), hw == 0 ? 1u : hw);
}

class BadThreadCountEnv : public ::testing::TestWithParam<const char*> {};

// PoolOptions::num_threads (pool.hpp): "0: the SPINDLE_NUM_THREADS environment variable if
// set (decimal digits only, 0 to 4096, where 0 also means "the default"; anything else is an
// InvalidPoolOptions error)".
TEST_P(BadThreadCountEnv, IsInvalidPoolOptions) {
    ScopedEnv env("SPINDLE_NUM_THREADS", GetParam());
    EXPECT_THROW(spindle::ThreadPool pool({.num_threads = 0}), spindle::InvalidPoolOptions);
    // The value is not consulted when num_threads is explicit.
    EXPECT_NO_THROW(spindle::ThreadPool pool({.num_threads = 1}));
}

INSTANTIATE_TEST_SUITE_P(
    Values,
    BadThreadCountEnv,
    ::testing::Values("abc", "-1", "3x", "1.5", "+3", " 3", "4097", "99999999999999999999999"),
    [](const auto& info) {
        std::string s = info.param;
        std::string out;
        for (char c : s)
            out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
        return "v_" + out.substr(0, 20) + "_" + std::to_string(info.index);
    });

TEST(Pool, EnvironmentZeroMeansTheDefault) {
    ScopedEnv env("SPINDLE_NUM_THREADS", "0");
    spindle::ThreadPool pool({.num_threads = 0});
    const unsigned hw = std::thread::hardware_concurrency();
    EXPECT_EQ(pool.num_threads(), hw == 0 ? 1u : hw);
}

// design-notes/0001 "Tuning": the idle budget is a time (SPINDLE_IDLE_US) or, for experiments, a
// round count (SPINDLE_IDLE_ROUNDS); malformed values and both at once are InvalidPoolOptions.
TEST(Pool, IdleBudgetFromTheEnvironment) {
    for (const char* us : {"0", "1", "100000"}) {
        SCOPED_TRACE(us);
        ScopedEnv env("SPINDLE_IDLE_US", us);
        spindle::ThreadPool pool({.num_threads = 2});
        EXPECT_EQ(pool.install([] { return spindle_test::fib_join(16, 4); }),
                  spindle_test::fib_serial(16));
    }
    {
        ScopedEnv env("SPINDLE_IDLE_ROUNDS", "8");
        spindle::ThreadPool pool({.num_threads = 2});
        EXPECT_EQ(pool.install([] { return 7; }), 7);
    }
    for (const char* bad : {"-1", "1.5", "10us", "", "1000000"}) {
        SCOPED_TRACE(bad);
        ScopedEnv env("SPINDLE_IDLE_US", bad);
        EXPECT_THROW(spindle::ThreadPool pool({.num_threads = 1}), spindle::InvalidPoolOptions);
    }
    ScopedEnv us("SPINDLE_IDLE_US", "50");
    ScopedEnv rounds("SPINDLE_IDLE_ROUNDS", "8");
    EXPECT_THROW(spindle::ThreadPool pool({.num_threads = 1}), spindle::InvalidPoolOptions);
}

TEST(Pool, TooManyThreadsIsInvalidPoolOptions) {
    // "Number of workers, at most 4096."
    EXPECT_THROW(spindle::ThreadPool pool({.num_threads = 4097}), spindle::InvalidPoolOptions);
    EXPECT_THROW(spindle::ThreadPool pool({.num_threads = std::size_t(1) << 40}),
                 spindle::InvalidPoolOptions);
}

TEST(Pool, InvalidPoolOptionsIsAnInvalidArgument) {
    ScopedEnv env("SPINDLE_NUM_THREADS", "abc");
    try {
        spindle::ThreadPool pool;
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("SPINDLE_NUM_THREADS"), std::string::npos) << e.what();
    }
}

std::string thread_name() {
    char buf[64] = {};
    pthread_getname_np(pthread_self(), buf, sizeof buf);
    return buf;
}

TEST(Pool, DefaultThreadNames) {
    spindle::ThreadPool pool({.num_threads = 3});
    auto names = pool.broadcast([](spindle::BroadcastContext) { return thread_name(); });
    ASSERT_EQ(names.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i)
        EXPECT_EQ(names[i], "spindle-" + std::to_string(i));
}

TEST(Pool, CustomThreadNamesTruncatedTo15Bytes) {
    spindle::PoolOptions opts;
    opts.num_threads = 2;
    opts.thread_name = [](std::size_t i) { return "w" + std::to_string(i); };
    {
        spindle::ThreadPool pool(opts);
        auto names = pool.broadcast([](spindle::BroadcastContext) { return thread_name(); });
        EXPECT_EQ(names[0], "w0");
        EXPECT_EQ(names[1], "w1");
    }
    opts.thread_name = [](std::size_t i) { return "a-very-long-worker-name-" + std::to_string(i); };
    spindle::ThreadPool pool(opts);
    auto names = pool.broadcast([](spindle::BroadcastContext) { return thread_name(); });
    EXPECT_EQ(names[0], std::string("a-very-long-worker-name-0").substr(0, 15));
}

TEST(Pool, StartAndExitHandlersCalledOncePerWorker) {
    constexpr std::size_t n = 4;
    std::vector<std::atomic<int>> starts(n), exits(n);
    std::atomic<int> wrong_index{0};
    std::atomic<int> start_on_wrong_thread{0};
    spindle::PoolOptions opts;
    opts.num_threads = n;
    opts.start_handler = [&](std::size_t i) {
        if (i >= n)
            return void(wrong_index.fetch_add(1));
        if (spindle::current_thread_index() != std::optional<std::size_t>(i))
            start_on_wrong_thread.fetch_add(1);
        starts[i].fetch_add(1);
    };
    opts.exit_handler = [&](std::size_t i) {
        if (i >= n)
            return void(wrong_index.fetch_add(1));
        if (spindle::current_thread_index() != std::optional<std::size_t>(i))
            start_on_wrong_thread.fetch_add(1);
        exits[i].fetch_add(1);
    };
    {
        spindle::ThreadPool pool(opts);
        // Every worker has started before it runs its broadcast call.
        pool.broadcast(
            [&](spindle::BroadcastContext ctx) { EXPECT_EQ(starts[ctx.index].load(), 1); });
        for (std::size_t i = 0; i < n; ++i)
            EXPECT_EQ(exits[i].load(), 0);
    }
    EXPECT_EQ(wrong_index.load(), 0);
    EXPECT_EQ(start_on_wrong_thread.load(), 0);
    for (std::size_t i = 0; i < n; ++i) {
        EXPECT_EQ(starts[i].load(), 1) << "worker " << i;
        EXPECT_EQ(exits[i].load(), 1) << "worker " << i;
    }
}

TEST(Pool, ThrowingStartAndExitHandlersGoToExceptionHandler) {
    // rayon handler_panics_handled_correctly: 2 * n exceptions reach the handler.
    constexpr std::size_t n = 3;
    std::atomic<int> handled{0};
    std::atomic<int> wrong{0};
    spindle::PoolOptions opts;
    opts.num_threads = n;
    opts.start_handler = [](std::size_t i) {
        throw std::runtime_error("start " + std::to_string(i));
    };
    opts.exit_handler = [](std::size_t i) {
        throw std::runtime_error("exit " + std::to_string(i));
    };
    opts.exception_handler = [&](std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::runtime_error& err) {
            const std::string w = err.what();
            if (w.rfind("start ", 0) != 0 && w.rfind("exit ", 0) != 0)
                wrong.fetch_add(1);
        } catch (...) {
            wrong.fetch_add(1);
        }
        handled.fetch_add(1);
    };
    {
        spindle::ThreadPool pool(opts);
        EXPECT_EQ(pool.install([] { return 5; }), 5);  // the pool works regardless
    }
    EXPECT_EQ(handled.load(), static_cast<int>(2 * n));
    EXPECT_EQ(wrong.load(), 0);
}

TEST(Pool, CurrentThreadIndex) {
    EXPECT_FALSE(spindle::current_thread_index().has_value());
    spindle::ThreadPool a({.num_threads = 3});
    spindle::ThreadPool b({.num_threads = 2});
    EXPECT_FALSE(a.current_thread_index().has_value());
    auto r = a.broadcast([&](spindle::BroadcastContext ctx) {
        return std::make_tuple(ctx.index, spindle::current_thread_index(), a.current_thread_index(),
                               b.current_thread_index());
    });
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(std::get<1>(r[i]), std::optional<std::size_t>(i));
        EXPECT_EQ(std::get<2>(r[i]), std::optional<std::size_t>(i));
        EXPECT_FALSE(std::get<3>(r[i]).has_value())
            << "another pool's index must be nullopt on a's worker";
    }
    // Inside a worker of b that installs into a, the free function reports a's index (the
    // caller is a's worker now) and b's member reports nullopt.
    auto inner = b.install([&] {
        const auto b_idx = b.current_thread_index();
        return std::make_pair(b_idx, a.install([&] { return b.current_thread_index(); }));
    });
    EXPECT_TRUE(inner.first.has_value());
    EXPECT_FALSE(inner.second.has_value());
    // From a plain thread.
    std::thread([&] {
        EXPECT_FALSE(spindle::current_thread_index().has_value());
        EXPECT_FALSE(a.current_thread_index().has_value());
    }).join();
}

TEST(Pool, CurrentNumThreads) {
    spindle::ThreadPool pool({.num_threads = 3});
    EXPECT_EQ(pool.install([] { return spindle::current_num_threads(); }), 3u);
    EXPECT_EQ(
        pool.broadcast([](spindle::BroadcastContext) { return spindle::current_num_threads(); }),
        std::vector<std::size_t>(3, 3));
    // Outside any pool: the global pool's count.
    EXPECT_EQ(spindle::current_num_threads(), spindle::global_pool().num_threads());
}

TEST(Pool, GlobalPoolIsASingleton) {
    spindle::ThreadPool& g1 = spindle::global_pool();
    spindle::ThreadPool& g2 = spindle::global_pool();
    EXPECT_EQ(&g1, &g2);
    EXPECT_GE(g1.num_threads(), 1u);
    EXPECT_TRUE(g1.install([&] { return g1.current_thread_index().has_value(); }));
}

TEST(Pool, BuildGlobalAfterGlobalExistsThrows) {
    (void)spindle::global_pool();  // make sure it exists
    EXPECT_THROW(spindle::build_global({.num_threads = 2}), spindle::GlobalPoolAlreadyInitialized);
    try {
        spindle::build_global({});
    } catch (const std::logic_error& e) {  // GlobalPoolAlreadyInitialized is a logic_error
        EXPECT_NE(std::string(e.what()).find("spindle"), std::string::npos);
    }
}

TEST(PoolDeathTest, BuildGlobalInAFreshProcess) {
    SPINDLE_DEATH_TEST_PROLOGUE();
    // A fresh process (the threadsafe death-test style re-executes the binary): build_global
    // succeeds once, a second call throws, and the global pool has the requested size.
    EXPECT_EXIT(
        {
            spindle::build_global({.num_threads = 3});
            int code = 0;
            if (spindle::global_pool().num_threads() != 3)
                code = 2;
            if (spindle::current_num_threads() != 3)
                code = 3;
            try {
                spindle::build_global({.num_threads = 2});
                code = 4;
            } catch (const spindle::GlobalPoolAlreadyInitialized&) {
            }
            if (spindle::join([] { return 1; }, [] { return 2; }) != std::make_pair(1, 2))
                code = 5;
            std::exit(code);
        },
        ::testing::ExitedWithCode(0), "");
}

TEST(PoolDeathTest, BuildGlobalAfterLazyCreationInAFreshProcess) {
    SPINDLE_DEATH_TEST_PROLOGUE();
    EXPECT_EXIT(
        {
            spindle::spawn([] {});  // builds the global pool lazily
            int code = 1;
            try {
                spindle::build_global({.num_threads = 2});
            } catch (const spindle::GlobalPoolAlreadyInitialized&) {
                code = 0;
            }
            std::exit(code);
        },
        ::testing::ExitedWithCode(0), "");
}

TEST(PoolDeathTest, BadOptionsInBuildGlobalLeaveNoGlobalPool) {
    SPINDLE_DEATH_TEST_PROLOGUE();
    // A failed build_global must not count as "initialized": a second, valid call succeeds.
    EXPECT_EXIT(
        {
            int code = 0;
            {
                ScopedEnv env("SPINDLE_NUM_THREADS", "abc");
                try {
                    spindle::build_global({});
                    code = 1;
                } catch (const spindle::InvalidPoolOptions&) {
                }
            }
            try {
                spindle::build_global({.num_threads = 2});
            } catch (...) {
                code = 2;
            }
            if (spindle::global_pool().num_threads() != 2)
                code = 3;
            std::exit(code);
        },
        ::testing::ExitedWithCode(0), "");
}

// ---- thread creation failure ----------------------------------------------------------------

struct HandlerCounts {
    std::atomic<int> starts{0}, exits{0};
    spindle::PoolOptions options(std::size_t n) {
        spindle::PoolOptions o;
        o.num_threads = n;
        o.start_handler = [this](std::size_t) { starts.fetch_add(1); };
        o.exit_handler = [this](std::size_t) { exits.fetch_add(1); };
        return o;
    }
};

TEST(Pool, HugeStackSizeFailsCleanly) {
    // rayon failed_thread_stack: the build fails with an error, and no worker is left
    // half-started.
    HandlerCounts c;
    spindle::PoolOptions o = c.options(2);
    o.stack_size = std::size_t(1) << 60;
    spindle_test::warm_up_thread_creation();
    const long threads_before = spindle_test::count_dir_entries("/proc/self/task");
    try {
        spindle::ThreadPool pool(o);
        FAIL() << "a pool with a 2^60-byte stack was built";
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find("spindle"), std::string::npos) << e.what();
    } catch (const spindle::InvalidPoolOptions&) {
        // Also acceptable: rejected up front.
    }
    EXPECT_EQ(c.starts.load(), c.exits.load());
    EXPECT_TRUE(spindle_test::wait_until(
        [&] { return spindle_test::count_dir_entries("/proc/self/task") <= threads_before; }));
}

TEST(Pool, FailureAfterSomeWorkersStartedStopsThem) {
    // Worker 2's start fails (here: its thread_name callback throws, before its thread is
    // created); workers 0 and 1 already run and must be stopped, each running its exit handler.
    HandlerCounts c;
    spindle::PoolOptions o = c.options(4);
    o.thread_name = [](std::size_t i) -> std::string {
        if (i == 2)
            throw std::runtime_error("no name for worker 2");
        return "ok-" + std::to_string(i);
    };
    spindle_test::warm_up_thread_creation();
    const long threads_before = spindle_test::count_dir_entries("/proc/self/task");
    EXPECT_ANY_THROW(spindle::ThreadPool pool(o));
    EXPECT_EQ(c.starts.load(), c.exits.load());
    EXPECT_LE(c.starts.load(), 2);
    EXPECT_TRUE(spindle_test::wait_until(
        [&] { return spindle_test::count_dir_entries("/proc/self/task") <= threads_before; }));
}

// ---- leaks ----------------------------------------------------------------------------------

TEST(Pool, CreateDestroyManyPoolsLeaksNoThreadsOrFds) {
    const std::size_t rounds = spindle_test::under_sanitizer() ? 200 : 1000;
    spindle_test::warm_up_thread_creation();
    const long threads_before = spindle_test::count_dir_entries("/proc/self/task");
    const long fds_before = spindle_test::count_dir_entries("/proc/self/fd");
    ASSERT_GT(threads_before, 0);
    ASSERT_GT(fds_before, 0);
    std::size_t sum = 0;
    for (std::size_t i = 0; i < rounds; ++i) {
        spindle::ThreadPool pool({.num_threads = 2});
        if (i % 4 == 0)
            sum += pool.install([] { return 1u; });
        if (i % 4 == 1)
            pool.spawn([] {});
    }
    EXPECT_EQ(sum, (rounds + 3) / 4);
    // A joined thread may linger in /proc/self/task for a moment after pthread_join returns.
    EXPECT_TRUE(spindle_test::wait_until([&] {
        return spindle_test::count_dir_entries("/proc/self/task") <= threads_before;
    })) << "threads before "
        << threads_before << ", after " << spindle_test::count_dir_entries("/proc/self/task");
    EXPECT_EQ(spindle_test::count_dir_entries("/proc/self/fd"), fds_before);
}

// ---- destroying a pool from its own worker --------------------------------------------------

TEST(PoolDeathTest, DestroyFromOwnWorkerIsFatal) {
    SPINDLE_DEATH_TEST_PROLOGUE();
    EXPECT_DEATH(
        {
            auto* pool = new spindle::ThreadPool({.num_threads = 2});
            pool->install([&] { delete pool; });
        },
        "spindle");
}

TEST(PoolDeathTest, DestroyFromOwnWorkerViaSpawnIsFatal) {
    SPINDLE_DEATH_TEST_PROLOGUE();
    EXPECT_DEATH(
        {
            auto* pool = new spindle::ThreadPool({.num_threads = 1});
            pool->spawn([pool] { delete pool; });
            std::this_thread::sleep_for(std::chrono::seconds(10));
            std::exit(0);
        },
        "spindle.*own workers");
}

TEST(Pool, DestroyFromAWorkerOfAnotherPoolIsFine) {
    spindle::ThreadPool outer({.num_threads = 2});
    std::atomic<int> ran{0};
    outer.install([&] {
        spindle::ThreadPool inner({.num_threads = 2});
        inner.spawn([&] { ran.fetch_add(1); });
        // inner's destructor runs on outer's worker: waits for the spawn, no deadlock.
    });
    EXPECT_EQ(ran.load(), 1);
}

}  // namespace
