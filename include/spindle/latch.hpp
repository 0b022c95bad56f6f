// CountDownLatch: a one-shot counter that releases every waiter when it reaches zero (like
// std::latch, but a waiting task parks its fiber instead of blocking its worker).
//
//     spindle::CountDownLatch ready(3, "workers ready");
//     for (int i = 0; i < 3; ++i)
//         pool.spawn([&] { setup(); ready.count_down(); });
//     ready.wait();  // on a worker: parks this fiber; elsewhere: blocks this thread
//
// Semantics. The count starts at `expected` and only goes down. wait() returns once it is
// zero; after that every wait() returns at once (one-shot: it never resets). count_down(n)
// with n greater than the remaining count, or negative, throws std::logic_error and changes
// nothing.
//
// Where it waits. On a pool worker, wait() parks the calling fiber and the worker runs other
// jobs meanwhile; on any other thread it blocks the thread (detail::block_current). There is
// no spin before parking (a latch waits for other tasks' work, which is rarely a few
// nanoseconds away) and no timed wait.
//
// Memory ordering. Everything a task wrote before its count_down() happens-before every
// return from wait() and every try_wait() that returns true (the count is decremented with
// acq_rel RMWs and read with acquire loads).
//
// Deadlocks. A wait carries a WaitSite ("CountDownLatch", label) for deadlock reports, and
// can be cancelled by a deadlock breaker (design-notes/0005): wait() then throws the breaker's
// exception.
//
// Destruction. Destroying a latch while tasks wait on it is a fatal error (checked: the
// destructor aborts with a message naming the label). A task that wait() or try_wait() let
// through may destroy the latch at once: the last count_down() reaches zero under the
// latch's lock and the destructor takes that lock, so it waits until count_down() is done
// with the latch.
#pragma once

#include "spindle/detail/wait.hpp"
#include "spindle/detail/wait_util.hpp"

#include <atomic>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace spindle {

/// A one-shot counter that releases every waiter when it reaches zero (std::latch for fibers).
class CountDownLatch {
public:
    /// label: shown in deadlock reports; nullptr or a string that outlives the latch.
    explicit CountDownLatch(std::ptrdiff_t expected, const char* label = nullptr)
        : m_count(expected), m_label(label) {
        if (expected < 0)
            throw std::invalid_argument("spindle: CountDownLatch: negative initial count");
    }
    ~CountDownLatch() { m_waiters.check_no_waiters("CountDownLatch", m_label); }
    CountDownLatch(const CountDownLatch&) = delete;
    CountDownLatch& operator=(const CountDownLatch&) = delete;

    /// Decrements the count by n; at zero, wakes every waiter. Throws std::logic_error (and
    /// changes nothing) if n is negative or greater than the remaining count.
    void count_down(std::ptrdiff_t n = 1) {
        std::ptrdiff_t cur = m_count.load(std::memory_order_relaxed);
        for (;;) {
            check_count_down(cur, n);
            if (cur == n && n != 0) {
                count_down_to_zero_cold(n);
                return;
            }
            // acq_rel: release publishes this task's writes to the waiters (pairs with the
            // acquire loads in wait/try_wait); acquire makes the earlier count_downs' writes
            // part of what the zeroing task publishes.
            if (m_count.compare_exchange_weak(cur, cur - n, std::memory_order_acq_rel,
                                              std::memory_order_relaxed))
                return;
        }
    }

    /// True if the count is zero.
    bool try_wait() const noexcept {
        // acquire: pairs with count_down()'s release.
        return m_count.load(std::memory_order_acquire) == 0;
    }

    /// Returns once the count is zero. Throws only if a deadlock breaker cancels the wait.
    void wait() {
        if (try_wait())
            return;
        wait_cold();
    }

    /// count_down(n), then wait().
    void arrive_and_wait(std::ptrdiff_t n = 1) {
        count_down(n);
        wait();
    }

    /// The label given at construction (shown in deadlock reports), or nullptr.
    const char* label() const noexcept { return m_label; }

private:
    friend struct detail::WaitTestAccess;  ///< white-box tests (tests/wait)
    const char* label_text() const noexcept { return m_label != nullptr ? m_label : ""; }

    [[gnu::noinline]] void wait_cold() {
        m_waiters.lock();
        // Re-check under the lock: the count_down() that reaches zero does so under the lock,
        // so either we see zero here or it sees our node (design-notes/0003, invariant W2).
        if (m_count.load(std::memory_order_acquire) == 0) {
            m_waiters.unlock();
            return;
        }
        detail::WaitNode node(detail::WaitSite{
            "CountDownLatch", m_label, this,
            &detail::WaitQueue::cancel_in<CountDownLatch, &CountDownLatch::m_waiters>,
            &CountDownLatch::describe});
        m_waiters.wait(node);
        node.rethrow_if_failed();
    }

    void check_count_down(std::ptrdiff_t cur, std::ptrdiff_t n) const {
        if (n < 0 || n > cur)
            throw std::logic_error(std::string("spindle: CountDownLatch '") + label_text() +
                                   "': count_down(" + std::to_string(n) +
                                   ") with a remaining count of " + std::to_string(cur));
    }

    /// The decrement that may reach zero happens under m_waiters' lock: a waiter that then sees
    /// zero without being woken (try_wait, wait's fast path) may destroy the latch at once, and the
    /// destructor takes m_waiters' lock, so it waits until this call no longer touches the latch
    /// (design-notes/0003, invariant W3).
    [[gnu::noinline]] void count_down_to_zero_cold(std::ptrdiff_t n) {
        detail::WaitList woken;
        m_waiters.lock();
        std::ptrdiff_t cur = m_count.load(std::memory_order_relaxed);
        for (;;) {
            if (n > cur) {
                m_waiters.unlock();
                check_count_down(cur, n);  // throws
            }
            // acq_rel: as in count_down.
            if (m_count.compare_exchange_weak(cur, cur - n, std::memory_order_acq_rel,
                                              std::memory_order_relaxed))
                break;
        }
        if (cur == n)
            m_waiters.take_all(woken);
        m_waiters.unlock();
        detail::wake_all(woken);  // never touches *this: a woken waiter may destroy it
    }

    static std::string describe(const detail::WaitNode& node) {
        auto& l = detail::primitive_of<CountDownLatch>(node);
        return "remaining count " + std::to_string(l.m_count.load(std::memory_order_relaxed));
    }

    /// The remaining count. Written by count_down() (acq_rel CAS; the step to zero only under
    /// m_waiters' lock); read by wait/try_wait (acquire: pairs with the CAS's release) and describe
    /// (relaxed, informational).
    std::atomic<std::ptrdiff_t> m_count;
    const char* const m_label;
    detail::WaitQueue m_waiters;
};

}  // namespace spindle
