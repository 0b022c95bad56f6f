// WaitGroup, Promise / Future / SharedFuture and spindle::async.
#include "wait/wait_test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using spindle_test::scaled;
using spindle_wait_test::wait_for_waiters;

// ---- WaitGroup -----------------------------------------------------------------------------

TEST(WaitGroup, FanOutOfTenThousandTasks) {
    spindle::ThreadPool pool({.num_threads = 4});
    const int n = static_cast<int>(scaled(10000));
    spindle::WaitGroup wg("fan-out");
    std::vector<int> out(static_cast<std::size_t>(n), 0);
    wg.add(n);
    for (int i = 0; i < n; ++i)
        pool.spawn([&, i] {
            out[static_cast<std::size_t>(i)] = i + 1;  // plain writes, published by done()
            wg.done();
        });
    // Waiters on an external thread and in a pool task, besides this thread.
    std::atomic<bool> task_saw_all{false};
    spindle::Event task_done;
    pool.spawn([&] {
        wg.wait();
        bool all = true;
        for (int i = 0; i < n; ++i)
            all = all && out[static_cast<std::size_t>(i)] == i + 1;
        task_saw_all = all;
        task_done.set();
    });
    std::thread ext([&] { wg.wait(); });
    wg.wait();
    for (int i = 0; i < n; ++i)
        ASSERT_EQ(out[static_cast<std::size_t>(i)], i + 1);
    ext.join();
    task_done.wait();
    EXPECT_TRUE(task_saw_all.load());
    EXPECT_EQ(wg.count(), 0);
}

TEST(WaitGroup, NestedFanOutFromTasksOnOneWorker) {
    // A task adds to the group and waits for its own children: only parking lets the single
    // worker run them.
    spindle::ThreadPool pool({.num_threads = 1});
    std::atomic<int> leaves{0};
    spindle::Promise<void> finished;
    auto fut = finished.get_future();
    pool.spawn([&, p = std::move(finished)]() mutable {
        spindle::WaitGroup wg;
        wg.add(10);
        for (int i = 0; i < 10; ++i)
            spindle::spawn([&] {
                spindle::WaitGroup inner;
                inner.add(10);
                for (int j = 0; j < 10; ++j)
                    spindle::spawn([&] {
                        leaves.fetch_add(1);
                        inner.done();
                    });
                inner.wait();
                wg.done();
            });
        wg.wait();
        p.set_value();
    });
    fut.get();
    EXPECT_EQ(leaves.load(), 100);
}

TEST(WaitGroup, DoneBelowZeroIsALogicError) {
    spindle::WaitGroup wg("unbalanced");
    wg.add(1);
    wg.done();
    try {
        wg.done();
        FAIL() << "expected std::logic_error";
    } catch (const std::logic_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("'unbalanced'"), std::string::npos) << what;
        EXPECT_NE(what.find("done() called more times than add()"), std::string::npos) << what;
    }
    EXPECT_EQ(wg.count(), 0);  // unchanged
    wg.wait();
}

TEST(WaitGroup, IsReusableAcrossRounds) {
    spindle::ThreadPool pool({.num_threads = 2});
    spindle::WaitGroup wg;
    for (int round = 0; round < 20; ++round) {
        std::atomic<int> ran{0};
        wg.add(50);
        for (int i = 0; i < 50; ++i)
            pool.spawn([&] {
                ran.fetch_add(1);
                wg.done();
            });
        wg.wait();
        ASSERT_EQ(ran.load(), 50);
    }
}

// ---- Future / Promise ----------------------------------------------------------------------

TEST(Future, ValueFromATaskToAnExternalThreadAndToATask) {
    spindle::ThreadPool pool({.num_threads = 2});
    spindle::Promise<std::string> p("greeting");
    auto f = p.get_future();
    EXPECT_TRUE(f.valid());
    EXPECT_FALSE(f.is_ready());
    spindle::Promise<int> q;
    auto g = q.get_future();
    pool.spawn([&] { q.set_value(static_cast<int>(f.get().size())); });  // parks in get()
    ASSERT_TRUE(wait_for_waiters(f, 1));
    std::thread t([p = std::move(p)]() mutable { p.set_value("hello"); });
    EXPECT_EQ(g.get(), 5);
    EXPECT_FALSE(g.valid());
    EXPECT_THROW(g.get(), std::logic_error);
    t.join();
}

TEST(Future, ExceptionsPropagate) {
    spindle::ThreadPool pool({.num_threads = 2});
    auto f = spindle::async(pool, []() -> int { throw std::runtime_error("boom"); });
    try {
        f.get();
        FAIL() << "expected the task's exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "boom");
    }
    // From inside a task too.
    auto outer = spindle::async(pool, [&] {
        auto inner = spindle::async([]() { throw std::out_of_range("inner"); });
        inner.get();
    });
    EXPECT_THROW(outer.get(), std::out_of_range);
}

TEST(Future, BrokenPromise) {
    spindle::Future<int> f;
    {
        spindle::Promise<int> p;
        f = p.get_future();
    }
    EXPECT_TRUE(f.is_ready());
    EXPECT_THROW(f.get(), spindle::BrokenPromise);

    // A waiter parked in a task is woken by the break.
    spindle::ThreadPool pool({.num_threads = 1});
    auto p = std::make_unique<spindle::Promise<void>>("dropped");
    auto g = p->get_future().share();
    auto waiter = spindle::async(pool, [g] {
        try {
            g.get();
        } catch (const spindle::BrokenPromise&) {
            return true;
        }
        return false;
    });
    ASSERT_TRUE(wait_for_waiters(g, 1));
    std::thread dropper([&] { p.reset(); });
    EXPECT_TRUE(waiter.get());
    dropper.join();
}

TEST(Future, SatisfyTwiceAndMisuseAreLogicErrors) {
    spindle::Promise<int> p("twice");
    auto f = p.get_future();
    EXPECT_THROW(p.get_future(), std::logic_error);
    p.set_value(1);
    EXPECT_THROW(p.set_value(2), std::logic_error);
    EXPECT_THROW(p.set_exception(std::make_exception_ptr(std::runtime_error("x"))),
                 std::logic_error);
    EXPECT_EQ(f.get(), 1);
    spindle::Promise<int> q;
    EXPECT_THROW(q.set_exception(nullptr), std::invalid_argument);
    spindle::Promise<int> moved(std::move(q));
    EXPECT_FALSE(q.valid());
    EXPECT_THROW(q.set_value(1), std::logic_error);
    spindle::Future<int> none;
    EXPECT_THROW(none.wait(), std::logic_error);
}

TEST(Future, VoidAndMoveOnlyValues) {
    spindle::ThreadPool pool({.num_threads = 2});
    auto v = spindle::async(pool, [] {});
    v.get();
    auto u = spindle::async(pool, [] { return std::make_unique<int>(7); });
    std::unique_ptr<int> got = u.get();
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(*got, 7);
}

TEST(Future, SharedFutureWithManyWaitersOnWorkersAndThreads) {
    spindle::ThreadPool pool({.num_threads = 2});
    spindle::Promise<std::vector<int>> p("shared");
    spindle::SharedFuture<std::vector<int>> sf = p.get_future();
    const int tasks = static_cast<int>(scaled(200));
    std::atomic<int> ok{0};
    spindle::WaitGroup wg;
    wg.add(tasks);
    for (int i = 0; i < tasks; ++i)
        pool.spawn([&, sf] {
            if (sf.get().size() == 3 && sf.get()[2] == 3)
                ok.fetch_add(1);
            wg.done();
        });
    std::vector<std::thread> ts;
    for (int i = 0; i < 2; ++i)
        ts.emplace_back([&, sf] {
            if (sf.get().size() == 3)
                ok.fetch_add(1);
        });
    ASSERT_TRUE(wait_for_waiters(sf, 2));  // at least the threads, usually tasks too
    p.set_value({1, 2, 3});
    wg.wait();
    for (auto& t : ts)
        t.join();
    EXPECT_EQ(ok.load(), tasks + 2);
    EXPECT_EQ(sf.get().size(), 3u);
}

TEST(Future, WaitingTaskDoesNotBlockItsWorker) {
    spindle::ThreadPool pool({.num_threads = 1});
    auto result = spindle::async(pool, [] {
        spindle::Promise<int> p;
        auto f = p.get_future();
        spindle::spawn([p = std::move(p)]() mutable { p.set_value(41); });
        return f.get() + 1;  // parks; the single worker then runs the spawn
    });
    EXPECT_EQ(result.get(), 42);
}

}  // namespace
