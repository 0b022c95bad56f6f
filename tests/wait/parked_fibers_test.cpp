// Many parked fibers, and the per-worker fiber limit (PoolOptions::max_fibers;
// design-notes/0003 "Bounded memory").
#include "common/test_util.hpp"
#include "wait/gate.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <optional>

namespace {

long resident_kib() {
    std::ifstream f("/proc/self/statm");
    long size = 0;
    long resident = 0;
    f >> size >> resident;
    return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

// 100,000 in release and ASan builds (about two minutes under the asan-ubsan test preset,
// whose detect_stack_use_after_return gives each fiber its own fake stack; the wait label's
// ctest timeout allows for it: cmake/spindle-tests.cmake). ThreadSanitizer models every fiber as a
// thread with its own vector clock (__tsan_create_fiber): at 100,000 live fibers it grew past 4.5
// GB within a minute, so under TSan the same scenario runs with 2,000 fibers (8,000 took 155 s,
// past the ctest timeout), and with fewer guarded stacks: TSan maps shadow memory for every mmap,
// and 8,000 guarded stacks plus their shadow exhausted vm.max_map_count ("failed to allocate ...
// errno 12").
TEST(ParkedFibers, HundredThousandTasksParkAtOnceAndAllResume) {
    constexpr std::size_t n = spindle_test::under_tsan() ? 2000 : 100000;
    std::optional<spindle_test::ScopedEnv> budget;
    if (spindle_test::under_tsan())
        budget.emplace("SPINDLE_GUARDED_STACKS", "500");
    spindle_test::Gate gate("all");
    std::atomic<std::size_t> arrived{0};
    std::atomic<std::size_t> done{0};
    const long before = resident_kib();
    long during = 0;
    {
        spindle::ThreadPool pool(spindle::PoolOptions{.num_threads = 2});
        for (std::size_t i = 0; i < n; ++i)
            pool.spawn([&] {
                arrived.fetch_add(1, std::memory_order_relaxed);
                gate.wait();
                done.fetch_add(1, std::memory_order_relaxed);
            });
        ASSERT_TRUE(spindle_test::wait_until([&] { return arrived.load() == n; },
                                             std::chrono::seconds(300)));
        // Every task has started and none can finish before the gate opens: all n are parked
        // (or about to be).
        EXPECT_EQ(done.load(), 0u);
        during = resident_kib();
        gate.open();
    }  // the destructor waits for all of them
    EXPECT_EQ(done.load(), n);
    std::printf("[ info     ] %zu parked fibers: %ld KiB resident more (%ld bytes each)\n", n,
                during - before, (during - before) * 1024 / static_cast<long>(n));
}

TEST(ParkedFibers, AtTheFiberLimitAWorkerStartsNoNewJobsUntilOneFinishes) {
    constexpr std::size_t limit = 64;
    constexpr std::size_t tasks = 3 * limit;
    spindle_test::Gate gate("limit");
    std::atomic<std::size_t> waiting{0};
    std::atomic<std::size_t> peak{0};
    std::atomic<std::size_t> done{0};
    spindle::PoolOptions o{.num_threads = 1};
    o.max_fibers = limit;
    {
        spindle::ThreadPool pool(o);
        for (std::size_t i = 0; i < tasks; ++i)
            pool.spawn([&] {
                const std::size_t now = waiting.fetch_add(1) + 1;
                std::size_t p = peak.load();
                while (now > p && !peak.compare_exchange_weak(p, now)) {
                }
                gate.wait();
                waiting.fetch_sub(1);
                done.fetch_add(1);
            });
        // The worker parks `limit` tasks, then stops taking jobs: the rest stay queued.
        ASSERT_TRUE(spindle_test::wait_until([&] { return waiting.load() == limit; }));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        EXPECT_EQ(waiting.load(), limit);
        EXPECT_EQ(done.load(), 0u);
        gate.open();
    }
    EXPECT_EQ(done.load(), tasks);
    EXPECT_EQ(peak.load(), limit);
}

}  // namespace
