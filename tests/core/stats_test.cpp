// ThreadPool::stats(): the per-worker counters add up (every job created is run exactly once,
// steals succeeded <= tried, parks = resumes once quiescent), and SPINDLE_STATS=1 prints them.
#include "common/test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using spindle_test::ScopedEnv;

// Jobs of every kind: join halves, scope spawns, detached spawns, an install from outside,
// a broadcast, parks (stolen join halves, an Event) — then a quiescent snapshot.
spindle::PoolStats run_mixed_load(spindle::ThreadPool& pool) {
    EXPECT_EQ(pool.install([] { return spindle_test::fib_join(20, 2); }),
              spindle_test::fib_serial(20));
    std::atomic<int> spawned{0};
    pool.scope([&](spindle::Scope& s) {
        for (int i = 0; i < 200; ++i)
            s.spawn([&] { spawned.fetch_add(1, std::memory_order_relaxed); });
    });
    EXPECT_EQ(spawned.load(), 200);
    spindle::WaitGroup wg;
    wg.add(100);
    for (int i = 0; i < 100; ++i)
        pool.spawn([&] { wg.done(); });
    wg.wait();
    // Parks: tasks wait on an event that the first spawn sets; a worker runs its own spawns
    // newest first, so on one worker every waiter parks before the setter runs.
    spindle::Event go;
    std::atomic<int> waited{0};
    pool.scope([&](spindle::Scope& s) {
        s.spawn([&] { go.set(); });
        for (int i = 0; i < 8; ++i)
            s.spawn([&] {
                go.wait();
                waited.fetch_add(1);
            });
    });
    EXPECT_EQ(waited.load(), 8);
    auto ids = pool.broadcast([](spindle::BroadcastContext c) { return c.index; });
    EXPECT_EQ(ids.size(), pool.num_threads());
    // Detached jobs finish their wg.done() before their job ends: let the pool go quiet.
    EXPECT_TRUE(spindle_test::wait_until([&] {
        const spindle::PoolStats st = pool.stats();
        const spindle::WorkerStats t = st.total();
        return t.jobs_run == t.jobs_created + st.jobs_injected && t.parks == t.resumes;
    }));
    return pool.stats();
}

TEST(Stats, CountsAddUp) {
    for (std::size_t n : {1, 2, 4}) {
        SCOPED_TRACE("workers " + std::to_string(n));
        spindle::ThreadPool pool({.num_threads = n});
        const spindle::PoolStats st = run_mixed_load(pool);
        const spindle::WorkerStats t = st.total();
        ASSERT_EQ(st.workers.size(), pool.max_threads());
        EXPECT_EQ(t.jobs_run, t.jobs_created + st.jobs_injected);
        // fib_join(20, 2) alone creates one job per join above the cutoff; the rest is ours.
        EXPECT_GE(t.jobs_created, 200u + 100u + 9u);
        EXPECT_GE(st.jobs_injected, 1u + n);  // the install, the broadcast's n jobs
        EXPECT_LE(t.steals_succeeded, t.steals_tried);
        EXPECT_LE(t.steal_requests_answered, t.steal_requests_raised);
        EXPECT_EQ(t.parks, t.resumes);
        for (const spindle::WorkerStats& w : st.workers) {
            EXPECT_LE(w.steals_succeeded, w.steals_tried);
            // A worker is woken at most once per sleep, and is asleep now at most once.
            EXPECT_LE(w.wakeups, w.sleeps);
            EXPECT_LE(w.sleeps, w.wakeups + 1);
            EXPECT_EQ(w.spare, w.index >= n);
            if (!w.started) {
                EXPECT_TRUE(w.spare);
                EXPECT_EQ(w.jobs_run, 0u);
            }
        }
        if (n == 1) {
            EXPECT_EQ(t.steals_succeeded, 0u);  // nobody to steal from
            EXPECT_GE(t.parks, 8u);             // the eight waiters on the event
            EXPECT_GE(t.fibers_created, 1u);
        }
    }
}

// Joins whose creator runs b itself are one counter bump on the fast path (jobs created and
// run at once, WorkerCounters), so check the exact totals where nothing can be stolen: one
// worker, no spares.
std::uint64_t joins_above_cutoff(unsigned n, unsigned cutoff) {
    if (n < 2 || n <= cutoff)
        return 0;
    return 1 + joins_above_cutoff(n - 1, cutoff) + joins_above_cutoff(n - 2, cutoff);
}

TEST(Stats, OneWorkerCountsEveryJoinOnceAsCreatedAndRun) {
    spindle::ThreadPool pool({.num_threads = 1});
    const spindle::PoolStats before = pool.stats();
    EXPECT_EQ(pool.install([] { return spindle_test::fib_join(20, 2); }),
              spindle_test::fib_serial(20));
    const spindle::PoolStats after = pool.stats();
    const std::uint64_t joins = joins_above_cutoff(20, 2);
    EXPECT_EQ(after.total().jobs_created - before.total().jobs_created, joins);
    EXPECT_EQ(after.total().jobs_run - before.total().jobs_run, joins + 1);  // + the install
    EXPECT_EQ(after.jobs_injected - before.jobs_injected, 1u);
}

TEST(Stats, StealsHappenAndAreCounted) {
    // Two workers and enough parallel slack: the second worker must steal to get any job.
    // Rounds until a steal, for up to 20 s rather than a count: on a loaded machine the kernel
    // may run both workers on one CPU, and then the thief runs only when the other worker's
    // time slice ends (50 rounds of ~40 us each saw no steal at all there).
    spindle::ThreadPool pool({.num_threads = 2});
    // On a loaded machine the second worker may not get a CPU for a while: keep going.
    EXPECT_TRUE(spindle_test::wait_until([&] {
        pool.install([] { (void)spindle_test::fib_join(22, 6); });
        return pool.stats().total().steals_succeeded > 0;
    }));
    const spindle::PoolStats st = pool.stats();
    // Each install lands on one worker; the other got its jobs only by stealing.
    EXPECT_GT(st.workers[0].jobs_run, 0u);
    EXPECT_GT(st.workers[1].jobs_run, 0u);
}

TEST(StatsDeathTest, SpindleStatsPrintsAPerWorkerSummaryAtDestruction) {
    SPINDLE_DEATH_TEST_PROLOGUE();
    EXPECT_EXIT(
        {
            ScopedEnv env("SPINDLE_STATS", "1");
            {
                spindle::ThreadPool pool({.num_threads = 2});
                pool.install([] { (void)spindle_test::fib_join(18, 4); });
            }
            std::exit(0);
        },
        ::testing::ExitedWithCode(0),
        "pool statistics: 4 worker slots, 1 jobs injected, 0 spare starts(.|\n)*"
        "worker +created +run(.|\n)*\n"
        "spindle: +0 (.|\n)*\nspindle: +1 (.|\n)*\nspindle: +total ");
}

TEST(StatsDeathTest, SpindleStatsUnsetOrZeroPrintsNothing) {
    SPINDLE_DEATH_TEST_PROLOGUE();
    EXPECT_EXIT(
        {
            ScopedEnv env("SPINDLE_STATS", "0");
            {
                spindle::ThreadPool pool({.num_threads = 2});
                pool.install([] {});
            }
            std::fputs("done\n", stderr);
            std::exit(0);
        },
        ::testing::ExitedWithCode(0), "^done\n$");
}

}  // namespace
