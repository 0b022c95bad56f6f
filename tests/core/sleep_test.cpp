// The sleep protocol (src/scheduler/sleep.hpp) under churn: workers that go to sleep as soon as
// they find nothing (SPINDLE_IDLE_US=0) are woken again and again by each kind of publisher
// (P1-P4 of sleep.hpp). A lost wake-up leaves work unrun while every worker sleeps, and the
// test hangs (ctest's timeout); in debug and sanitizer builds every sleep and wake also runs
// the checks of design-notes/0001, invariant 6.
#include "common/test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace {

using spindle_test::ScopedEnv;

// Waits (at most 100 ms) until every worker of pool sleeps (it went to sleep more often than it
// was woken), so that the next publication has to wake one. Returns whether they all did.
bool wait_until_all_asleep(spindle::ThreadPool& pool) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    for (;;) {
        bool all = true;
        for (const spindle::WorkerStats& w : pool.stats().workers)
            all = all && (w.spare || w.sleeps > w.wakeups);
        if (all)
            return true;
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
}

TEST(SleepProtocol, EveryKindOfPublisherWakesSleepersAgainAndAgain) {
    ScopedEnv idle("SPINDLE_IDLE_US", "0");
    spindle::ThreadPool pool({.num_threads = 4});
    constexpr int k_rounds = 200;
    int all_asleep = 0;  // rounds whose publications each found the whole pool asleep
    for (int round = 0; round < k_rounds; ++round) {
        // P2 (inject from outside), then P1 inside: joins publishing into empty shared parts.
        ASSERT_EQ(pool.install([] { return spindle_test::fib_join(14, 4); }),
                  spindle_test::fib_serial(14));
        bool asleep = wait_until_all_asleep(pool);
        // P3, broadcasts: one job per worker, each woken for its own.
        std::atomic<int> ran{0};
        pool.broadcast([&](spindle::BroadcastContext) { ran.fetch_add(1); });
        ASSERT_EQ(ran.load(), 4);
        asleep = wait_until_all_asleep(pool) && asleep;
        // P3, make_ready from outside the pool: a task parked on an event that this thread sets.
        spindle::Event parked;
        spindle::Event go;
        std::atomic<bool> resumed{false};
        spindle::WaitGroup wg;
        wg.add(1);
        pool.spawn([&] {
            parked.set();
            go.wait();
            resumed.store(true);
            wg.done();
        });
        parked.wait();
        asleep = wait_until_all_asleep(pool) && asleep;
        go.set();
        wg.wait();
        ASSERT_TRUE(resumed.load());
        asleep = wait_until_all_asleep(pool) && asleep;
        all_asleep += asleep ? 1 : 0;
    }
    const spindle::WorkerStats total = pool.stats().total();
    // The publications did find sleepers: in most rounds the whole pool slept before each of
    // them (a loaded machine may keep a worker awake past the wait now and then).
    EXPECT_GT(all_asleep, k_rounds / 2);
    EXPECT_GT(total.sleeps, static_cast<std::uint64_t>(3 * k_rounds));
    EXPECT_GE(total.sleeps, total.wakeups);
}

}  // namespace
