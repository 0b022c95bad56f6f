// The token gate in a pool: at most (explicit tokens + 1) workers run jobs at once, tokens all
// go back, and the pool finishes on the implicit token alone.
#include "common/test_util.hpp"
#include "spindle/blocking.hpp"
#include "spindle/jobserver.hpp"
#include "spindle/pool.hpp"
#include "spindle/scope.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace {

// Counts jobs running at once; a job holds its slot for `ms`.
struct Concurrency {
    std::atomic<int> now{0};
    std::atomic<int> max{0};
    void run(int ms) {
        const int n = now.fetch_add(1) + 1;
        int m = max.load();
        while (n > m && !max.compare_exchange_weak(m, n)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        now.fetch_sub(1);
    }
};

int run_pool(std::shared_ptr<spindle::TokenSource> src,
             std::size_t workers,
             int tasks,
             spindle::TokenStats* stats = nullptr) {
    Concurrency c;
    spindle::PoolOptions opts;
    opts.num_threads = workers;
    auto gate = spindle::use_token_source(opts, std::move(src));
    {
        spindle::ThreadPool pool(opts);
        pool.scope([&](spindle::Scope& s) {
            for (int i = 0; i < tasks; ++i)
                s.spawn([&] { c.run(2); });
        });
    }
    if (stats != nullptr && gate)
        *stats = spindle::token_stats(*gate);
    return c.max.load();
}

TEST(JobserverGate, CountingSourceBoundsRunningWorkers) {
    auto src = spindle::make_counting_tokens(2);
    spindle::TokenStats st;
    const int max = run_pool(src, 6, static_cast<int>(spindle_test::scaled(200)), &st);
    EXPECT_LE(max, 3);  // 2 explicit + the implicit token
    EXPECT_GE(max, 1);
    EXPECT_EQ(st.acquired, st.released);
    // Every token is back in the source after the pool is gone.
    EXPECT_TRUE(src->try_acquire());
    EXPECT_TRUE(src->try_acquire());
    EXPECT_FALSE(src->try_acquire());
}

TEST(JobserverGate, FinishesOnTheImplicitTokenAlone) {
    spindle::JobserverServer server(0);  // a jobserver that never yields a token
    const int max = run_pool(server.client(), 4, static_cast<int>(spindle_test::scaled(50)));
    EXPECT_EQ(max, 1);
    EXPECT_TRUE(server.drain().empty());
}

TEST(JobserverGate, PipeServerTokensComeBack) {
    spindle::JobserverServer server(3);
    spindle::TokenStats st;
    const int max = run_pool(server.client(), 8, static_cast<int>(spindle_test::scaled(200)), &st);
    EXPECT_LE(max, 4);
    EXPECT_EQ(server.drain().size(), 3u);
    EXPECT_EQ(st.acquired, st.released);
}

TEST(JobserverGate, ManyMoreWorkersThanTokens) {
    // W >> N: 64 workers, 2 tokens; no lost wake-up may leave the pool stuck.
    spindle::JobserverServer server(2);
    spindle::TokenStats st;
    const int max = run_pool(server.client(), spindle_test::under_sanitizer() ? 16 : 64,
                             static_cast<int>(spindle_test::scaled(300)), &st);
    EXPECT_LE(max, 3);
    EXPECT_EQ(server.drain().size(), 2u);
    EXPECT_EQ(st.acquired, st.released);
}

TEST(JobserverGate, UnlimitedIsBoundedByWorkers) {
    const int max = run_pool(spindle::make_unlimited_tokens(), 3, 60);
    EXPECT_LE(max, 3);
}

TEST(JobserverGate, NullSourceLeavesOptionsAlone) {
    spindle::PoolOptions opts;
    EXPECT_EQ(spindle::use_token_source(opts, nullptr), nullptr);
    EXPECT_FALSE(opts.acquire_thread_handler);
}

TEST(JobserverGate, ChainsExistingHandlers) {
    std::atomic<int> acq{0}, rel{0};
    spindle::PoolOptions opts;
    opts.num_threads = 2;
    opts.acquire_thread_handler = [&] { acq.fetch_add(1); };
    opts.release_thread_handler = [&] { rel.fetch_add(1); };
    auto src = spindle::make_counting_tokens(1);
    spindle::use_token_source(opts, src);
    { spindle::ThreadPool pool(opts); }
    EXPECT_GE(acq.load(), 2);
    EXPECT_EQ(acq.load(), rel.load());
    EXPECT_TRUE(src->try_acquire());
}

}  // namespace

namespace {

// A worker that blocks its thread in a BlockingSection gives its token to the spare worker
// that the section wakes, so a job the blocked one waits for still runs when no other token
// exists (the implicit token is the only one here).
TEST(JobserverGate, BlockingSectionPassesItsToken) {
    spindle::JobserverServer server(0);
    spindle::PoolOptions opts;
    opts.num_threads = 1;
    opts.max_spare_threads = 1;
    spindle::use_token_source(opts, server.client());
    std::atomic<bool> flag{false};
    {
        spindle::ThreadPool pool(opts);
        pool.scope([&](spindle::Scope& s) {
            s.spawn([&] { flag.store(true); });
            spindle::blocking([&] {
                ASSERT_TRUE(spindle_test::wait_until([&] { return flag.load(); }))
                    << "the job waited for never ran: the blocked worker kept the token";
            });
        });
    }
    EXPECT_TRUE(server.drain().empty());
}

}  // namespace
