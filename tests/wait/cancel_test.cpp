// WaitSite::cancel of every primitive, driven the way a deadlock breaker drives it
// (break_oldest_wait in wait_test_util.hpp: cancel, set the node's error, wake it), for a
// waiter parked on a pool worker and for one blocked on an external thread. Checks the
// report fields (kind, label, describe), that a second cancel of the same node refuses, that
// the waiter gets the error and is left in the documented state, and that the primitive
// works normally afterwards.
#include "util/assert.hpp"
#include "wait/wait_test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

using spindle_wait_test::break_oldest_wait;
using spindle_wait_test::Broken;
using spindle_wait_test::wait_for_waiters;

struct Cancelled : std::runtime_error {
    Cancelled() : std::runtime_error("deadlock broken") {}
};

enum class Where { pool_task, external_thread };

// Runs wait() on a pool worker or an external thread, breaks it once queued on p, and
// returns what the breaker saw. wait() returns true iff it caught Cancelled and the state
// it checks holds.
template <class P, class Wait>
Broken break_one(P& p, Where where, Wait wait) {
    spindle::ThreadPool pool({.num_threads = 1});
    std::atomic<int> outcome{-1};
    std::thread t;
    if (where == Where::pool_task)
        pool.spawn([&] { outcome = wait() ? 1 : 0; });
    else
        t = std::thread([&] { outcome = wait() ? 1 : 0; });
    EXPECT_TRUE(wait_for_waiters(p, 1));
    Broken b = break_oldest_wait(p, std::make_exception_ptr(Cancelled()));
    EXPECT_TRUE(spindle_test::wait_until([&] { return outcome.load() != -1; }));
    if (t.joinable())
        t.join();
    EXPECT_EQ(outcome.load(), 1) << "the waiter did not see the breaker's exception";
    EXPECT_FALSE(b.second_cancel) << "a node already unlinked was cancelled twice";
    return b;
}

template <class F>
bool throws_cancelled(F&& f) {
    try {
        f();
    } catch (const Cancelled&) {
        return true;
    }
    return false;
}

class Cancel : public ::testing::TestWithParam<Where> {};

TEST_P(Cancel, Event) {
    spindle::Event e("never set");
    Broken b = break_one(e, GetParam(), [&] { return throws_cancelled([&] { e.wait(); }); });
    EXPECT_EQ(b.kind, "Event");
    EXPECT_EQ(b.label, "never set");
    EXPECT_EQ(spindle_wait_test::Access::waiters(e), 0u);
    e.set();
    e.wait();
}

TEST_P(Cancel, CountDownLatch) {
    spindle::CountDownLatch l(2, "two left");
    Broken b = break_one(l, GetParam(), [&] { return throws_cancelled([&] { l.wait(); }); });
    EXPECT_EQ(b.kind, "CountDownLatch");
    EXPECT_EQ(b.label, "two left");
    EXPECT_EQ(b.detail, "remaining count 2");
    l.count_down(2);
    l.wait();
}

TEST_P(Cancel, WaitGroup) {
    spindle::WaitGroup wg("group");
    wg.add(1);
    Broken b = break_one(wg, GetParam(), [&] { return throws_cancelled([&] { wg.wait(); }); });
    EXPECT_EQ(b.kind, "WaitGroup");
    EXPECT_EQ(b.detail, "counter 1");
    wg.done();
    wg.wait();
}

TEST_P(Cancel, FutureStaysValid) {
    spindle::Promise<int> p("answer");
    auto f = p.get_future();
    Broken b = break_one(f, GetParam(), [&] { return throws_cancelled([&] { (void)f.get(); }); });
    EXPECT_EQ(b.kind, "Future");
    EXPECT_EQ(b.label, "answer");
    ASSERT_TRUE(f.valid());
    p.set_value(42);
    EXPECT_EQ(f.get(), 42);
}

TEST_P(Cancel, MutexWaiterDoesNotGetTheLock) {
    spindle::Mutex m("held by main");
    m.lock();
    Broken b = break_one(m, GetParam(), [&] {
        return throws_cancelled([&] { std::lock_guard<spindle::Mutex> g(m); });
    });
    EXPECT_EQ(b.kind, "Mutex");
    EXPECT_EQ(b.label, "held by main");
    EXPECT_EQ(b.detail.rfind("held by thread ", 0), 0u) << b.detail;
    EXPECT_TRUE(m.is_locked());  // still ours
    m.unlock();
    EXPECT_FALSE(m.is_locked());  // the cancelled waiter left no "waiters" state behind
    EXPECT_TRUE(m.try_lock());
    m.unlock();
}

TEST_P(Cancel, MutexHandsOffToTheNextWaiterAfterACancel) {
    spindle::Mutex m;
    m.lock();
    std::atomic<bool> second_got_it{false};
    Broken b = break_one(m, GetParam(), [&] {
        return throws_cancelled([&] { std::lock_guard<spindle::Mutex> g(m); });
    });
    EXPECT_EQ(b.kind, "Mutex");
    std::thread second([&] {
        std::lock_guard<spindle::Mutex> g(m);
        second_got_it = true;
    });
    ASSERT_TRUE(wait_for_waiters(m, 1));
    m.unlock();
    second.join();
    EXPECT_TRUE(second_got_it.load());
    EXPECT_FALSE(m.is_locked());
}

TEST_P(Cancel, ConditionVariableWaiterGetsTheMutexBack) {
    spindle::Mutex m("cv mutex");
    spindle::ConditionVariable cv("never notified");
    Broken b = break_one(cv, GetParam(), [&] {
        std::unique_lock<spindle::Mutex> lk(m);
        bool cancelled = false;
        try {
            cv.wait(lk);
        } catch (const Cancelled&) {
            cancelled = lk.owns_lock() && m.is_locked();
        }
        return cancelled;
    });
    EXPECT_EQ(b.kind, "ConditionVariable");
    EXPECT_EQ(b.label, "never notified");
    EXPECT_FALSE(m.is_locked());
}

TEST_P(Cancel, SemaphoreWaiterGetsNoPermit) {
    spindle::CountingSemaphore sem(0, "empty");
    Broken b = break_one(sem, GetParam(), [&] { return throws_cancelled([&] { sem.acquire(); }); });
    EXPECT_EQ(b.kind, "CountingSemaphore");
    EXPECT_EQ(b.detail, "0 permits free");
    EXPECT_FALSE(sem.try_acquire());
    sem.release(1);  // nobody waits any more: the permit stays free
    EXPECT_EQ(sem.available(), 1);
    EXPECT_TRUE(sem.try_acquire());
}

INSTANTIATE_TEST_SUITE_P(Wait,
                         Cancel,
                         ::testing::Values(Where::pool_task, Where::external_thread),
                         [](const ::testing::TestParamInfo<Where>& i) {
                             return i.param == Where::pool_task ? std::string("PoolTask")
                                                                : std::string("ExternalThread");
                         });

TEST(CancelDescribe, MutexNamesAWorkerHolder) {
    spindle::ThreadPool pool({.num_threads = 1});
    spindle::Mutex m;
    spindle::Event release_it, locked;
    auto holder = spindle::async(pool, [&] {
        m.lock();
        locked.set();
        release_it.wait();
        m.unlock();
    });
    locked.wait();
    std::atomic<int> outcome{-1};
    std::thread t([&] { outcome = throws_cancelled([&] { m.lock(); }) ? 1 : 0; });
    ASSERT_TRUE(wait_for_waiters(m, 1));
    Broken b = break_oldest_wait(m, std::make_exception_ptr(Cancelled()));
    t.join();
    EXPECT_EQ(outcome.load(), 1);
    EXPECT_EQ(b.detail, "held by worker 0");
    release_it.set();
    holder.get();
}

// The wait queue's checks (design-notes/0003, invariants W1 and W6) are in the library
// (src/wait/wait.cpp): where it was built with assertions, breaking one stops the process with
// a message citing the invariant.
TEST(WaitQueueDeathTest, BrokenInvariantsAreCaughtWithTheirNumbers) {
    if (!spindle::detail::assertions_enabled())
        GTEST_SKIP() << "SPINDLE_ASSERT is compiled out of this build (release)";
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    using spindle::detail::WaitNode;
    using spindle::detail::WaitQueue;
    using spindle::detail::WaitSite;
    WaitQueue q;
    WaitNode node(WaitSite{"Test", "w6", &q, nullptr, nullptr});
    // W1: linking a node whose waiter was never set up, or without holding the queue's lock.
    q.lock();
    EXPECT_DEATH(WaitQueue::enqueue(node, &q),
                 "internal error: .* \\(design-notes/0003, invariant W1\\)");
    q.unlock();
    EXPECT_DEATH(spindle::detail::wake_node(node), "design-notes/0003, invariant W1");
    // W6: a queued node that has already been failed (a second breaker, or a wake-up in flight).
    q.lock();
    q.push_back(node);
    q.unlock();
    node.error = std::make_exception_ptr(Cancelled());
    EXPECT_DEATH(q.cancel(node), "design-notes/0003, invariant W6");
    node.error = nullptr;
    EXPECT_TRUE(q.cancel(node));  // the same cancel with the node intact unlinks it
    EXPECT_FALSE(q.cancel(node));
    q.lock();
    EXPECT_TRUE(q.empty());
    q.unlock();
}

}  // namespace
