// WaitGroup: Go's sync.WaitGroup. add(n) before starting n tasks, done() when each finishes,
// wait() until all have.
//
//     spindle::WaitGroup wg("fan-out");
//     wg.add(n);
//     for (int i = 0; i < n; ++i)
//         pool.spawn([&, i] { work(i); wg.done(); });
//     wg.wait();
//
// Semantics. A counter that add(n) raises and done() lowers by one. wait() returns once it
// observes the counter at zero: at once if it is zero, else when a done() (or add() with a
// negative n) brings it to zero. A WaitGroup may be reused: after it reached zero, add() starts a
// new round. Making the counter negative throws std::logic_error and leaves it unchanged ("done()
// called more times than add()").
//
// As in Go, an add() that starts a round must happen before the wait() that should wait for
// it; an add() racing with a wait() on a zero counter may or may not be waited for.
//
// Where it waits. On a pool worker, wait() parks the calling fiber and the worker runs other
// jobs meanwhile; on any other thread it blocks the thread. No spin, no timed wait.
//
// Memory ordering. Everything a task wrote before its done() happens-before the return of
// any wait() that its done() (or a later one) released: the counter is changed with acq_rel
// RMWs and read with acquire loads.
//
// Deadlocks. A wait carries a WaitSite ("WaitGroup", label; the report shows the counter)
// and can be cancelled by a deadlock breaker: wait() then throws the breaker's exception.
//
// Destruction. Destroying a WaitGroup while tasks wait on it is a fatal error (checked). A
// task that wait() let through may destroy the group at once (the step to zero is made under
// the group's lock, which the destructor takes first).
#pragma once

#include "spindle/detail/wait.hpp"
#include "spindle/detail/wait_util.hpp"

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace spindle {

/// Go's sync.WaitGroup: add(n) before starting n tasks, done() as each finishes, wait() until all
/// have.
class WaitGroup {
public:
    /// label: shown in deadlock reports; nullptr or a string that outlives the wait group.
    explicit WaitGroup(const char* label = nullptr) noexcept : m_label(label) {}
    ~WaitGroup() { m_waiters.check_no_waiters("WaitGroup", m_label); }
    WaitGroup(const WaitGroup&) = delete;
    WaitGroup& operator=(const WaitGroup&) = delete;

    /// Adds n (which may be negative) to the counter; wakes the waiters if it reaches zero.
    /// Throws std::logic_error, changing nothing, if the counter would become negative.
    void add(std::int64_t n = 1) {
        std::int64_t cur = m_count.load(std::memory_order_relaxed);
        for (;;) {
            check_add(cur, n);
            if (cur + n == 0 && n != 0) {
                add_to_zero_cold(n);
                return;
            }
            // acq_rel: release publishes this task's writes (pairs with the acquire loads in
            // wait()); acquire collects the earlier done()s' writes for the task that brings
            // the counter to zero.
            if (m_count.compare_exchange_weak(cur, cur + n, std::memory_order_acq_rel,
                                              std::memory_order_relaxed))
                return;
        }
    }

    /// add(-1).
    void done() { add(-1); }

    /// Returns once the counter is observed at zero. Throws only if a deadlock breaker cancels
    /// the wait.
    void wait() {
        // acquire: pairs with add()'s release.
        if (m_count.load(std::memory_order_acquire) == 0)
            return;
        wait_cold();
    }

    /// The counter now (for diagnostics; it may change at once).
    std::int64_t count() const noexcept { return m_count.load(std::memory_order_relaxed); }
    /// The label given at construction (shown in deadlock reports), or nullptr.
    const char* label() const noexcept { return m_label; }

private:
    friend struct detail::WaitTestAccess;  ///< white-box tests (tests/wait)
    [[gnu::noinline]] void wait_cold() {
        m_waiters.lock();
        // Re-check under the lock: the change to zero is made under it (add_to_zero_cold), so
        // either we see zero here or that change sees our node.
        if (m_count.load(std::memory_order_acquire) == 0) {
            m_waiters.unlock();
            return;
        }
        detail::WaitNode node(detail::WaitSite{
            "WaitGroup", m_label, this,
            &detail::WaitQueue::cancel_in<WaitGroup, &WaitGroup::m_waiters>, &WaitGroup::describe});
        m_waiters.wait(node);
        node.rethrow_if_failed();
    }

    void check_add(std::int64_t cur, std::int64_t n) const {
        if (n < 0 && cur < -n)
            throw std::logic_error(std::string("spindle: WaitGroup '") +
                                   (m_label != nullptr ? m_label : "") +
                                   "': counter would become negative (done() called more "
                                   "times than add(); counter " +
                                   std::to_string(cur) + ", add(" + std::to_string(n) + "))");
    }

    /// A change that may bring the counter to zero happens under m_waiters' lock, so that a waiter
    /// that sees zero on its fast path and destroys the group waits, in the destructor's
    /// lock(), until this call no longer touches it (design-notes/0003, invariant W3).
    [[gnu::noinline]] void add_to_zero_cold(std::int64_t n) {
        detail::WaitList woken;
        m_waiters.lock();
        std::int64_t cur = m_count.load(std::memory_order_relaxed);
        for (;;) {
            if (n < 0 && cur < -n) {
                m_waiters.unlock();
                check_add(cur, n);  // throws
            }
            // acq_rel: as in add().
            if (m_count.compare_exchange_weak(cur, cur + n, std::memory_order_acq_rel,
                                              std::memory_order_relaxed))
                break;
        }
        // Only if this call reached zero: otherwise an add() started a new round since the
        // caller looked, and the waiters wait for that round.
        if (cur + n == 0)
            m_waiters.take_all(woken);
        m_waiters.unlock();
        detail::wake_all(woken);  // never touches *this
    }

    static std::string describe(const detail::WaitNode& node) {
        auto& g = detail::primitive_of<WaitGroup>(node);
        return "counter " + std::to_string(g.m_count.load(std::memory_order_relaxed));
    }

    /// The counter. Written by add()/done() (acq_rel CAS; a change to zero only under m_waiters'
    /// lock); read by wait() and, under m_waiters' lock, by wait_cold() (acquire: pairs with the
    /// CAS's release) and by describe() (relaxed, informational).
    std::atomic<std::int64_t> m_count{0};
    const char* const m_label;
    detail::WaitQueue m_waiters;
};

}  // namespace spindle
