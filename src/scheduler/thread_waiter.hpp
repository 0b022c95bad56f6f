// How a thread outside any pool blocks: on a futex word of its own (wait_latch, block_current).
#pragma once

#include "spindle/detail/job.hpp"

#include <sched.h>

#include <atomic>
#include <cstdint>

namespace spindle::detail {

// A thread that waits outside any pool blocks on its own flag. One per thread (thread_local),
// so that it outlives every wait: the waker may still touch it after the waiting thread has
// returned from its wait.
struct ThreadWaiter : Waiter {
    ThreadWaiter() noexcept : Waiter{Kind::thread} {}
    // k_waiting while waiting; the waker stores k_woken (release), notifies, then stores
    // k_released (release): after that it never touches this waiter again. The waiting thread
    // reads it (acquire) and returns only at k_released, so the thread cannot exit (freeing
    // this thread_local) while the waker is still inside notify_one().
    std::atomic<std::uint32_t> flag{0};
    static constexpr std::uint32_t k_waiting = 0;
    static constexpr std::uint32_t k_woken = 1;
    static constexpr std::uint32_t k_released = 2;

    // Before the waiter is published.
    void arm() noexcept { flag.store(k_waiting, std::memory_order_relaxed); }
    // Blocks until wake() has completed.
    void block() noexcept {
        while (flag.load(std::memory_order_acquire) == k_waiting)
            flag.wait(k_waiting, std::memory_order_acquire);
        while (flag.load(std::memory_order_acquire) != k_released)
            sched_yield();
    }
    void wake() noexcept {
        // release: pairs with block()'s acquire loads.
        flag.store(k_woken, std::memory_order_release);
        flag.notify_one();
        flag.store(k_released, std::memory_order_release);
    }
};

// The calling thread's waiter (src/scheduler/worker.cpp).
ThreadWaiter& this_thread_waiter() noexcept;

}  // namespace spindle::detail
