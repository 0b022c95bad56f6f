// QueryMap waits under deadlock detection: a query wait appears in the DeadlockReport as kind
// "Query" with the map's label and the key, and DeadlockReport::fail ends it (the WaitSite's
// cancel), leaving the query itself to complete normally (include/spindle/query_map.hpp,
// design-notes/0004 and 0005).
#include "common/test_util.hpp"

#include <spindle/query_map.hpp>
#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

TEST(QueryMapDeadlockTest, ReportNamesTheKeyAndFailEndsTheWait) {
    std::mutex m;
    std::condition_variable cv;
    bool release = false;
    std::mutex seen_mutex;
    std::vector<spindle::DeadlockWaiter> seen;
    std::atomic<int> failed{0};

    spindle::PoolOptions o;
    o.num_threads = 2;
    o.deadlock_handler = [&](const spindle::DeadlockReport& r) {
        for (std::size_t i = 0; i < r.waiters().size(); ++i) {
            if (r.waiters()[i].kind != "Query")
                continue;
            {
                std::lock_guard<std::mutex> g(seen_mutex);
                seen.push_back(r.waiters()[i]);
            }
            if (r.fail(i))
                failed.fetch_add(1);
        }
    };
    spindle::ThreadPool pool(o);
    spindle::QueryMap<std::string, int> map("types");

    // The computation of "q" runs on a thread outside the pool and blocks on a std::mutex
    // until the test releases it: the pool cannot see it, so a task waiting for "q" looks
    // deadlocked to the pool.
    std::atomic<bool> started{false};
    std::thread computer([&] {
        EXPECT_EQ(map.get_or_compute("q",
                                     [&] {
                                         started.store(true);
                                         std::unique_lock<std::mutex> l(m);
                                         cv.wait(l, [&] { return release; });
                                         return 1;
                                     }),
                  1);
    });
    ASSERT_TRUE(spindle_test::wait_until([&] { return started.load(); }));

    bool got_deadlock_error = false;
    pool.install([&] {
        try {
            (void)map.get_or_compute("q", [] { return 0; });
        } catch (const spindle::DeadlockError&) {
            got_deadlock_error = true;
        }
    });
    EXPECT_TRUE(got_deadlock_error);
    EXPECT_EQ(failed.load(), 1);
    {
        std::lock_guard<std::mutex> g(seen_mutex);
        ASSERT_EQ(seen.size(), 1u);
        EXPECT_EQ(seen[0].label, "types");
        EXPECT_EQ(seen[0].detail, "key q");
        EXPECT_TRUE(seen[0].can_fail);
    }
    {
        std::lock_guard<std::mutex> l(m);
        release = true;
    }
    cv.notify_all();
    computer.join();
    // The cancelled wait left nothing behind: the query completed, and a new waiter of the
    // same chain-less kind gets the value.
    EXPECT_EQ(pool.install([&] { return map.get_or_compute("q", [] { return 0; }); }), 1);
}

}  // namespace
