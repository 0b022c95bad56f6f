// Stack overflow is always caught by a guard and reported, never written into a neighbour:
// also with tens of thousands of parked fibers (every stack has a guard, design-notes/0002
// "Stacks"), on an ensure_stack segment (the message says how deep the recursion was), and
// on the worker thread's own stack.
#include "common/test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace {

using namespace std::chrono_literals;

// Recursion that needs about depth KiB of stack and never passes through join or
// ensure_stack. The volatile frame is read after the call, so the recursion stays a recursion.
[[gnu::noinline]] std::size_t deep(std::size_t depth) {
    volatile char frame[1024];
    frame[0] = static_cast<char>(depth);
    frame[sizeof frame - 1] = 1;
    if (depth == 0)
        return static_cast<std::size_t>(frame[sizeof frame - 1]);
    const std::size_t below = deep(depth - 1);
    return below + static_cast<std::size_t>(frame[sizeof frame - 1]) + (frame[0] == 7 ? 1 : 0);
}

constexpr std::size_t k_unbounded = std::size_t(1) << 40;

// More fibers than the 16,382 that vm.max_map_count allows mprotect guards for. Under
// ThreadSanitizer, which keeps a thread state per fiber, 2,000 (see
// tests/wait/parked_fibers_test.cpp for what TSan costs per fiber).
constexpr std::size_t k_parked = spindle_test::under_tsan() ? 2000 : 17000;

TEST(StackOverflowDeathTest, ReportedWithSeventeenThousandParkedFibers) {
    SPINDLE_DEATH_TEST_PROLOGUE();
    EXPECT_DEATH(
        {
            // Small stacks, so that the overflowing job (~270 KiB of frames) exceeds its own
            // stack as in the issue; every parked fiber below it holds live wait records.
            spindle::ThreadPool pool({.num_threads = 2, .stack_size = 256 * 1024});
            spindle::Event go("go");
            std::atomic<std::size_t> arrived{0};
            for (std::size_t i = 0; i < k_parked; ++i)
                pool.spawn([&] {
                    arrived.fetch_add(1);
                    go.wait();
                });
            while (arrived.load() < k_parked)
                std::this_thread::sleep_for(1ms);
            std::atomic<std::size_t> sink{0};
            pool.spawn([&] { sink.store(deep(270)); });
            std::this_thread::sleep_for(20s);
            std::fprintf(stderr, "no overflow: %zu\n", sink.load());
            go.set();
            std::exit(0);
        },
        "spindle: fatal: stack overflow in spindle worker [01] .*fiber stack of 262144 bytes");
}

TEST(StackOverflowDeathTest, OnASegmentTheMessageSaysHowDeepTheRecursionWas) {
    SPINDLE_DEATH_TEST_PROLOGUE();
    EXPECT_DEATH(
        {
            spindle::ThreadPool pool({.num_threads = 1});
            std::atomic<std::size_t> sink{0};
            // Three segments deep by way of ensure_stack, then recursion without it.
            pool.install([&] {
                std::function<void(int)> down = [&](int segments) {
                    if (segments == 0) {
                        sink.store(deep(k_unbounded));
                        return;
                    }
                    spindle::ensure_stack(std::size_t(1) << 60, 1024 * 1024,
                                          [&] { down(segments - 1); });
                };
                down(3);
            });
            std::fprintf(stderr, "no overflow: %zu\n", sink.load());
            std::exit(0);
        },
        "stack overflow in spindle worker 0 .*stack segment of [0-9]+ bytes; the recursion "
        "was [0-9]+ bytes deep, on 4 stacks");
}

TEST(StackOverflowDeathTest, OnTheWorkerThreadStackIsReported) {
    SPINDLE_DEATH_TEST_PROLOGUE();
    EXPECT_DEATH(
        {
            spindle::ThreadPool pool({.num_threads = 1, .stack_size = 64 * 1024});
            std::atomic<std::size_t> sink{0};
            pool.install([&] { sink.store(deep(k_unbounded)); });
            std::fprintf(stderr, "no overflow: %zu\n", sink.load());
            std::exit(0);
        },
        "stack overflow in spindle worker 0 .*thread stack of 65536 bytes");
}

}  // namespace
