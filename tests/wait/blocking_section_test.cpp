// BlockingSection: a worker blocked outside spindle wakes a spare worker, within the bound
// PoolOptions::max_spare_threads (design-notes/0005).
#include "common/test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

namespace {

using namespace std::chrono_literals;

// Blocks the calling thread (as a blocking read would) until flag is set or the hang guard
// passes; returns whether the flag was set.
bool block_until(const std::atomic<bool>& flag) {
    const auto deadline = std::chrono::steady_clock::now() + spindle_test::k_generous;
    while (!flag.load()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

TEST(BlockingSection, ASpareWorkerRunsJobsWhileTheOnlyWorkerIsBlocked) {
    spindle::PoolOptions o{.num_threads = 1};
    o.max_spare_threads = 1;
    spindle::ThreadPool pool(o);
    EXPECT_EQ(pool.max_threads(), 2u);
    std::atomic<bool> ran{false};
    std::size_t ran_on = 99;
    bool set_in_time = false;
    pool.scope([&](spindle::Scope& s) {
        s.spawn([&] {
            ran_on = *pool.current_thread_index();
            ran.store(true);
        });
        spindle::BlockingSection section("waits for the spawn");
        set_in_time = block_until(ran);
    });
    EXPECT_TRUE(set_in_time) << "the spawned job never ran while the worker was blocked";
    EXPECT_EQ(ran_on, 1u) << "it should have run on the spare worker (index num_threads())";
}

TEST(BlockingSection, WithoutSparesNothingElseRunsWhileTheOnlyWorkerIsBlocked) {
    spindle::PoolOptions o{.num_threads = 1};
    o.max_spare_threads = 0;
    spindle::ThreadPool pool(o);
    EXPECT_EQ(pool.max_threads(), 1u);
    std::atomic<bool> ran{false};
    bool ran_during_section = true;
    pool.scope([&](spindle::Scope& s) {
        s.spawn([&] { ran.store(true); });
        {
            spindle::BlockingSection section;
            std::this_thread::sleep_for(50ms);
            ran_during_section = ran.load();  // only this (blocked) worker could have run it
        }
    });
    EXPECT_FALSE(ran_during_section);
    EXPECT_TRUE(ran.load());  // it ran after the section, before scope returned
}

TEST(BlockingSection, SpareThreadsNeverExceedTheBound) {
    spindle_test::warm_up_thread_creation();
    const long before = spindle_test::count_dir_entries("/proc/self/task");
    spindle::PoolOptions o{.num_threads = 2};
    o.max_spare_threads = 1;
    spindle::ThreadPool pool(o);
    std::atomic<int> in_section{0};
    std::atomic<bool> release{false};
    long during = 0;
    std::thread watcher([&] {
        spindle_test::wait_until([&] { return in_section.load() == 2; });
        std::this_thread::sleep_for(50ms);
        during = spindle_test::count_dir_entries("/proc/self/task");
        release.store(true);
    });
    pool.join(
        [&] {
            spindle::BlockingSection s("a");
            in_section.fetch_add(1);
            block_until(release);
        },
        [&] {
            spindle::BlockingSection s("b");
            in_section.fetch_add(1);
            block_until(release);
        });
    watcher.join();
    // 2 workers + the monitor + at most 1 spare + the watcher thread.
    EXPECT_LE(during - before, 2 + 1 + 1 + 1);
    EXPECT_GE(during - before, 2 + 1 + 1 + 1) << "the spare should have started";
}

TEST(BlockingSection, NestedSectionsCountOnceAndOutsideAPoolDoNothing) {
    {
        spindle::BlockingSection outside("not a worker");  // no effect, no crash
    }
    EXPECT_EQ(spindle::blocking([] { return 42; }), 42);
    spindle::PoolOptions o{.num_threads = 1};
    o.max_spare_threads = 1;
    spindle::ThreadPool pool(o);
    std::atomic<bool> ran{false};
    bool ok = false;
    pool.scope([&](spindle::Scope& s) {
        s.spawn([&] { ran.store(true); });
        spindle::BlockingSection outer("outer");
        ok = spindle::blocking([&] { return block_until(ran); }, "inner");
    });
    EXPECT_TRUE(ok);
    // After the sections the single worker is back: a job runs on it.
    EXPECT_EQ(pool.install([&] { return *pool.current_thread_index(); }), 0u);
}

}  // namespace
