// spindle::ensure_stack: results and exceptions cross segment boundaries, a task parks and
// resumes on a segment, segments nest, and a pooled stack that went deep gives its pages back.
#include "common/test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

// A red zone larger than any stack forces a new segment.
constexpr std::size_t force() {
    return std::size_t(1) << 60;
}

TEST(EnsureStack, EnoughStackRunsInline) {
    const std::size_t before = spindle::remaining_stack();
    std::size_t inside = 0;
    spindle::ensure_stack(1024, 1024 * 1024, [&] { inside = spindle::remaining_stack(); });
    EXPECT_LE(inside, before);  // the same stack
    EXPECT_GT(inside + 4096, before - 4096);
}

TEST(EnsureStack, ValuesReferencesAndVoidCrossASegment) {
    for (bool in_pool : {false, true}) {
        SCOPED_TRACE(in_pool ? "in a pool" : "plain thread");
        spindle::ThreadPool pool({.num_threads = 1});
        auto body = [&] {
            std::size_t seg_remaining = 0;
            const int v = spindle::ensure_stack(force(), 1 << 20, [&] {
                seg_remaining = spindle::remaining_stack();
                return 42;
            });
            EXPECT_EQ(v, 42);
            // A fresh segment (at least 4 red zones): nearly all of it is left.
            const std::size_t seg = std::max<std::size_t>(1 << 20, 4 * spindle::default_red_zone);
            EXPECT_GT(seg_remaining, seg - 64 * 1024);
            EXPECT_LE(seg_remaining, seg);
            int x = 1;
            int& r = spindle::ensure_stack(force(), 1 << 20, [&]() -> int& { return x; });
            EXPECT_EQ(&r, &x);
            auto p = spindle::ensure_stack(force(), 1 << 20,
                                           [] { return std::make_unique<std::string>("moved"); });
            EXPECT_EQ(*p, "moved");
            bool ran = false;
            spindle::ensure_stack(force(), 1 << 20, [&] { ran = true; });
            EXPECT_TRUE(ran);
        };
        if (in_pool)
            pool.install(body);
        else
            body();
    }
}

TEST(EnsureStack, ExceptionsCrossSegmentsAndSegmentsNest) {
    spindle::ThreadPool pool({.num_threads = 2});
    pool.install([] {
        int depth_reached = 0;
        std::function<void(int)> down = [&](int n) {
            depth_reached = n;
            if (n == 5)
                throw std::runtime_error("from segment 5");
            spindle::ensure_stack(force(), 256 * 1024, [&] { down(n + 1); });
        };
        try {
            down(0);
            ADD_FAILURE() << "no exception";
        } catch (const std::runtime_error& e) {
            EXPECT_STREQ(e.what(), "from segment 5");
        }
        EXPECT_EQ(depth_reached, 5);
        // Back on the worker's own stack with its full room.
        EXPECT_GT(spindle::remaining_stack(), 1024u * 1024);
    });
}

TEST(EnsureStack, ATaskParksAndResumesOnASegment) {
    spindle::ThreadPool pool({.num_threads = 2});
    spindle::Event go;
    std::thread setter([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        go.set();
    });
    const auto r = pool.install([&] {
        return spindle::ensure_stack(force(), 1 << 20, [&] {
            const auto before = spindle::ThreadPool::current()->current_thread_index();
            go.wait();  // parks this fiber while it runs on the segment
            // join's halves may run elsewhere and park again; the result comes back here.
            auto [a, b] = spindle::join([] { return spindle_test::fib_join(18, 4); },
                                        [] { return spindle_test::fib_join(17, 4); });
            EXPECT_EQ(before, spindle::ThreadPool::current()->current_thread_index());
            return a + b;
        });
    });
    setter.join();
    EXPECT_EQ(r, spindle_test::fib_serial(18) + spindle_test::fib_serial(17));
}

TEST(EnsureStack, RecursionThroughJoinNeverOverflowsASmallStack) {
    // 64 KiB stacks and ~4 KiB per level: 2,000 levels need ~8 MiB, all of it on segments.
    spindle::ThreadPool pool({.num_threads = 2, .stack_size = 64 * 1024});
    std::function<std::size_t(int)> down = [&](int n) -> std::size_t {
        volatile char pad[4000];
        pad[0] = static_cast<char>(n);
        if (n == 0)
            return 0;
        auto [a, b] = spindle::join([&] { return down(n - 1); }, [] { return std::size_t{1}; });
        return a + b + (pad[0] == static_cast<char>(n) ? 0 : 1000);  // keeps the frame live
    };
    EXPECT_EQ(pool.install([&] { return down(2000); }), 2000u);
}

long resident_kib() {
    std::ifstream f("/proc/self/statm");
    long size = 0;
    long resident = 0;
    f >> size >> resident;
    return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

TEST(EnsureStack, AStackThatWentDeepGivesItsPagesBack) {
    if (spindle_test::under_sanitizer())
        GTEST_SKIP() << "sanitizers move frames to fake stacks and keep shadow pages: the "
                        "resident size says nothing about the stack there";
    spindle::ThreadPool pool({.num_threads = 1});
    pool.install([] {});
    const long before = resident_kib();
    // ~1.5 MiB of frames through join (so the high-water mark is seen), on the 2 MiB stack.
    std::function<int(int)> down = [&](int n) -> int {
        volatile char pad[1200];
        pad[0] = static_cast<char>(n);
        if (n == 0)
            return 0;
        return spindle::join([&] { return down(n - 1); }, [] { return 0; }).first +
               (pad[0] == static_cast<char>(n) ? 0 : 1000);
    };
    EXPECT_EQ(pool.install([&] { return down(1200); }), 0);
    // The worker trims right after the job; give it a moment.
    EXPECT_TRUE(spindle_test::wait_until([&] { return resident_kib() < before + 512; }))
        << "resident " << resident_kib() << " KiB, before " << before << " KiB";
}

}  // namespace
