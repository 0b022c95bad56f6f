// spindle::yield_now: outside a pool, on an idle worker, and with pending work.
#include "common/test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <tuple>

namespace {

using namespace std::chrono_literals;

TEST(Yield, OutsideAnyPoolIsNullopt) {
    EXPECT_EQ(spindle::yield_now(), std::nullopt);
    std::thread([] { EXPECT_EQ(spindle::yield_now(), std::nullopt); }).join();
}

TEST(Yield, IdleWorkerReturnsIdle) {
    spindle::ThreadPool pool({.num_threads = 1});
    EXPECT_EQ(pool.install([] { return spindle::yield_now(); }),
              std::optional(spindle::Yield::idle));
    // Repeatedly, too.
    EXPECT_TRUE(pool.install([] {
        for (int i = 0; i < 10; ++i)
            if (spindle::yield_now() != std::optional(spindle::Yield::idle))
                return false;
        return true;
    }));
}

TEST(Yield, PendingSpawnRunsBeforeYieldReturns) {
    // rayon yield_now_to_spawn / yield_local_to_spawn.
    spindle::ThreadPool pool({.num_threads = 1});
    for (int i = 0; i < 20; ++i) {
        std::atomic<bool> ran{false};
        const auto [y, ran_when_returned, same_thread] = pool.install([&] {
            const auto tid = std::this_thread::get_id();
            spindle::spawn([&] { ran.store(true); });
            EXPECT_FALSE(ran.load()) << "the spawned job ran before anything let it";
            const auto r = spindle::yield_now();
            return std::make_tuple(r, ran.load(), std::this_thread::get_id() == tid);
        });
        EXPECT_EQ(y, std::optional(spindle::Yield::executed));
        EXPECT_TRUE(ran_when_returned) << "yield_now returned before the pending job ran";
        EXPECT_TRUE(same_thread);
    }
}

TEST(Yield, PendingJobFromOutsideRunsBeforeYieldReturns) {
    // The pending job came from outside the pool (the injector), not from the local deque.
    spindle::ThreadPool pool({.num_threads = 1});
    std::atomic<bool> in_first{false};
    std::atomic<bool> submitted{false};
    std::atomic<bool> ran{false};
    std::optional<spindle::Yield> y;
    bool ran_when_returned = false;
    std::thread t([&] {
        pool.install([&] {
            in_first.store(true);
            // Wait (without yielding) until the second job is queued in the pool.
            spindle_test::spin_until([&] { return submitted.load(); });
            y = spindle::yield_now();
            ran_when_returned = ran.load();
        });
    });
    ASSERT_TRUE(spindle_test::wait_until([&] { return in_first.load(); }));
    pool.spawn([&] { ran.store(true); });
    submitted.store(true);
    t.join();
    EXPECT_EQ(y, std::optional(spindle::Yield::executed));
    EXPECT_TRUE(ran_when_returned);
}

TEST(Yield, PendingJobThatParksLetsYieldReturn) {
    // The yielded-to job parks (install into another pool); yield_now returns without waiting
    // for it to finish, and the parked job completes later.
    spindle::ThreadPool pool({.num_threads = 1});
    spindle::ThreadPool other({.num_threads = 1});
    std::atomic<bool> started{false}, release{false}, finished{false};
    const auto y = pool.install([&] {
        spindle::spawn([&] {
            started.store(true);
            other.install([&] { spindle_test::spin_until([&] { return release.load(); }); });
            finished.store(true);
        });
        const auto r = spindle::yield_now();
        EXPECT_TRUE(started.load());
        return r;
    });
    EXPECT_EQ(y, std::optional(spindle::Yield::executed));
    release.store(true);
    EXPECT_TRUE(spindle_test::wait_until([&] { return finished.load(); }));
}

TEST(Yield, ResumesAReadyFiber) {
    // A parked fiber whose wait is over is "something waiting to run": yield_now lets it run.
    spindle::ThreadPool pool({.num_threads = 1});
    spindle::ThreadPool other({.num_threads = 1});
    std::atomic<bool> finished{false};
    const bool ok = pool.install([&] {
        spindle::spawn([&] {
            other.install([] { std::this_thread::sleep_for(1ms); });
            finished.store(true);
        });
        // Keep yielding until the parked job has been resumed and finished.
        return spindle_test::spin_until([&] {
            if (finished.load())
                return true;
            spindle::yield_now();
            return false;
        });
    });
    EXPECT_TRUE(ok);
}

TEST(Yield, ManyYieldsWithManyPendingJobs) {
    spindle::ThreadPool pool({.num_threads = 2});
    std::atomic<int> count{0};
    const int n = 200;
    const bool all = pool.install([&] {
        for (int i = 0; i < n; ++i)
            spindle::spawn([&] { count.fetch_add(1); });
        return spindle_test::spin_until([&] {
            if (count.load() == n)
                return true;
            spindle::yield_now();
            return false;
        });
    });
    EXPECT_TRUE(all);
    EXPECT_EQ(pool.install([] { return spindle::yield_now().has_value(); }), true);
}

}  // namespace
