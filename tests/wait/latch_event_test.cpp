// CountDownLatch and Event: waits from pool workers and from external threads, parking that
// frees the worker, misuse errors.
#include "wait/wait_test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

using spindle_test::scaled;
using spindle_test::wait_until;
using spindle_wait_test::wait_for_waiters;

// ---- CountDownLatch ------------------------------------------------------------------------

TEST(CountDownLatch, ZeroCountDoesNotWait) {
    spindle::CountDownLatch l(0);
    EXPECT_TRUE(l.try_wait());
    l.wait();
}

TEST(CountDownLatch, CountDownFromTasksAndThreadsReleasesAllWaiters) {
    spindle::ThreadPool pool({.num_threads = 2});
    const int tasks = 200, threads = 2;
    spindle::CountDownLatch l(tasks + threads, "latch");
    std::atomic<int> before{0}, released{0};
    spindle::WaitGroup waiters_done;
    // Waiters on the pool and on external threads, all blocked before the count reaches 0.
    waiters_done.add(20);
    for (int i = 0; i < 20; ++i)
        pool.spawn([&] {
            l.wait();
            // Everything written before any count_down is visible now.
            EXPECT_EQ(before.load(std::memory_order_relaxed), tasks + threads);
            released.fetch_add(1);
            waiters_done.done();
        });
    std::vector<std::thread> ext_waiters;
    for (int i = 0; i < 2; ++i)
        ext_waiters.emplace_back([&] {
            l.wait();
            EXPECT_EQ(before.load(std::memory_order_relaxed), tasks + threads);
            released.fetch_add(1);
        });
    ASSERT_TRUE(wait_for_waiters(l, 22));
    EXPECT_FALSE(l.try_wait());
    for (int i = 0; i < tasks; ++i)
        pool.spawn([&] {
            before.fetch_add(1, std::memory_order_relaxed);
            l.count_down();
        });
    std::vector<std::thread> counters;
    for (int i = 0; i < threads; ++i)
        counters.emplace_back([&] {
            before.fetch_add(1, std::memory_order_relaxed);
            l.count_down();
        });
    l.wait();
    for (auto& t : counters)
        t.join();
    for (auto& t : ext_waiters)
        t.join();
    waiters_done.wait();
    EXPECT_EQ(released.load(), 22);
    EXPECT_TRUE(l.try_wait());
}

TEST(CountDownLatch, ArriveAndWaitIsABarrierOnOneWorker) {
    // Every participant but the last parks; only parking lets the single worker run the rest.
    spindle::ThreadPool pool({.num_threads = 1});
    const int n = 50;
    spindle::CountDownLatch barrier(n, "barrier");
    std::atomic<int> arrived{0}, after{0};
    spindle::CountDownLatch done(n);
    for (int i = 0; i < n; ++i)
        pool.spawn([&] {
            arrived.fetch_add(1);
            barrier.arrive_and_wait();
            EXPECT_EQ(arrived.load(), n);
            after.fetch_add(1);
            done.count_down();
        });
    done.wait();
    EXPECT_EQ(after.load(), n);
}

TEST(CountDownLatch, CountDownPastZeroIsAnError) {
    spindle::CountDownLatch l(2, "two");
    EXPECT_THROW(l.count_down(3), std::logic_error);
    EXPECT_THROW(l.count_down(-1), std::logic_error);
    l.count_down(2);
    EXPECT_TRUE(l.try_wait());
    try {
        l.count_down();
        FAIL() << "expected std::logic_error";
    } catch (const std::logic_error& e) {
        EXPECT_NE(std::string(e.what()).find("'two'"), std::string::npos) << e.what();
    }
    EXPECT_THROW(spindle::CountDownLatch(-1), std::invalid_argument);
}

// ---- Event ---------------------------------------------------------------------------------

TEST(Event, SetResetIsSet) {
    spindle::Event e;
    EXPECT_FALSE(e.is_set());
    e.set();
    EXPECT_TRUE(e.is_set());
    e.wait();
    e.set();  // no-op
    e.reset();
    EXPECT_FALSE(e.is_set());
    spindle::Event s(true, "initially set");
    EXPECT_TRUE(s.is_set());
    s.wait();
}

TEST(Event, WaitingTaskDoesNotBlockItsWorker) {
    // One worker: A waits on an Event that B, spawned by A just before its wait, sets. B can
    // only run if A's fiber parks and the worker moves on.
    spindle::ThreadPool pool({.num_threads = 1});
    spindle::Event e("A waits for B");
    std::atomic<bool> a_finished{false}, b_saw_a_waiting{false};
    spindle::Event done;
    pool.spawn([&] {
        spindle::spawn([&] {
            b_saw_a_waiting = !a_finished.load();
            e.set();
        });
        e.wait();
        a_finished = true;
        done.set();
    });
    done.wait();
    EXPECT_TRUE(b_saw_a_waiting.load());
    EXPECT_TRUE(a_finished.load());
}

TEST(Event, SetFromExternalThreadWakesAThousandParkedTasks) {
    spindle::ThreadPool pool({.num_threads = 2});
    const int n = static_cast<int>(scaled(1000, 2));
    spindle::Event go("go");
    std::atomic<int> flag{0};  // written before set(), read after each wait
    std::atomic<int> woken{0}, saw_flag{0};
    spindle::WaitGroup wg;
    wg.add(n);
    for (int i = 0; i < n; ++i)
        pool.spawn([&] {
            go.wait();
            if (flag.load(std::memory_order_relaxed) == 1)
                saw_flag.fetch_add(1);
            woken.fetch_add(1);
            wg.done();
        });
    // All of them parked: the queue holds every task, no worker is blocked.
    ASSERT_TRUE(wait_for_waiters(go, static_cast<std::size_t>(n)));
    EXPECT_EQ(woken.load(), 0);
    std::thread setter([&] {
        flag.store(1, std::memory_order_relaxed);
        go.set();
    });
    wg.wait();
    setter.join();
    EXPECT_EQ(woken.load(), n);
    EXPECT_EQ(saw_flag.load(), n);
}

TEST(Event, ExternalThreadsWaitForATaskToSet) {
    spindle::ThreadPool pool({.num_threads = 2});
    spindle::Event e;
    std::atomic<int> woken{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; ++i)
        ts.emplace_back([&] {
            e.wait();
            woken.fetch_add(1);
        });
    ASSERT_TRUE(wait_for_waiters(e, 4));
    pool.spawn([&] { e.set(); });
    for (auto& t : ts)
        t.join();
    EXPECT_EQ(woken.load(), 4);
}

TEST(Event, ResetAfterSetStillReleasesThoseWaiting) {
    spindle::Event e;
    std::thread t([&] { e.wait(); });
    ASSERT_TRUE(wait_for_waiters(e, 1));
    e.set();
    e.reset();
    t.join();  // released by the set even though the event is reset again
    EXPECT_FALSE(e.is_set());
}

TEST(Event, RepeatedPingPongBetweenTwoTasksOnOneWorker) {
    spindle::ThreadPool pool({.num_threads = 1});
    spindle::Event ping("ping"), pong("pong");
    const int rounds = static_cast<int>(scaled(2000));
    std::atomic<int> a_rounds{0}, b_rounds{0};
    spindle::WaitGroup wg;
    wg.add(2);
    pool.spawn([&] {
        for (int i = 0; i < rounds; ++i) {
            ping.set();
            pong.wait();
            pong.reset();
            a_rounds.fetch_add(1);
        }
        wg.done();
    });
    pool.spawn([&] {
        for (int i = 0; i < rounds; ++i) {
            ping.wait();
            ping.reset();
            b_rounds.fetch_add(1);
            pong.set();
        }
        wg.done();
    });
    wg.wait();
    EXPECT_EQ(a_rounds.load(), rounds);
    EXPECT_EQ(b_rounds.load(), rounds);
}

// A task that sees the count or flag without parking may free the primitive at once, while
// the task that released it may still be inside count_down()/done()/set(). ASan would catch
// a use after free here (design-notes/0003, invariant W3).
TEST(WaitLifetime, PrimitiveFreedByAWaiterThatDidNotPark) {
    spindle::ThreadPool pool({.num_threads = 2});
    const int rounds = static_cast<int>(scaled(3000));
    for (int i = 0; i < rounds; ++i) {
        auto* l = new spindle::CountDownLatch(1);
        auto* wg = new spindle::WaitGroup;
        auto* e = new spindle::Event;
        wg->add(1);
        pool.spawn([l, wg, e] {
            l->count_down();
            wg->done();
            e->set();
        });
        while (!l->try_wait()) {
        }
        delete l;
        while (wg->count() != 0) {
        }
        wg->wait();
        delete wg;
        while (!e->is_set()) {
        }
        delete e;
    }
}

using EventDeathTest = ::testing::Test;

TEST_F(EventDeathTest, DestroyingAnEventWithWaitersIsFatal) {
    SPINDLE_DEATH_TEST_PROLOGUE();
    EXPECT_DEATH(
        {
            auto* e = new spindle::Event("doomed");
            std::thread t([e] { e->wait(); });
            t.detach();
            if (!wait_for_waiters(*e, 1))
                std::abort();
            delete e;
        },
        "Event 'doomed' destroyed while tasks wait on it");
}

}  // namespace
