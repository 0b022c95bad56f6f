// Event: a manual-reset event. set() releases every current waiter and lets later waits
// through until reset().
//
//     spindle::Event loaded("config loaded");
//     pool.spawn([&] { load(); loaded.set(); });
//     loaded.wait();  // on a worker: parks this fiber; elsewhere: blocks this thread
//
// Semantics. wait() returns at once while the event is set; otherwise it waits until the
// next set(). A set() wakes every task waiting at that moment, even if reset() follows
// immediately: a woken waiter does not re-check the flag. reset() only affects later waits.
// set() on a set event and reset() on a reset one are no-ops.
//
// Where it waits. On a pool worker, wait() parks the calling fiber and the worker runs other
// jobs meanwhile; on any other thread it blocks the thread (detail::block_current). No spin
// before parking, and no timed wait.
//
// Memory ordering. Everything written before set() happens-before the return of every wait()
// that it releases and of every wait()/is_set() that observes it set (release store, acquire
// loads; a parked waiter is ordered by its wake-up).
//
// Deadlocks. A wait carries a WaitSite ("Event", label) and can be cancelled by a deadlock
// breaker (design-notes/0005): wait() then throws the breaker's exception.
//
// Destruction. Destroying an Event while tasks wait on it is a fatal error (checked). A task
// that wait() or is_set() let through may destroy the Event at once: set() stores the flag
// under the Event's lock and touches only the unlinked waiters after releasing it, and the
// destructor takes that lock first.
#pragma once

#include "spindle/detail/wait.hpp"
#include "spindle/detail/wait_util.hpp"

#include <atomic>
#include <string>

namespace spindle {

/// A manual-reset event: set() releases every waiter and lets later waits through until reset().
class Event {
public:
    /// label: shown in deadlock reports; nullptr or a string that outlives the event.
    explicit Event(const char* label = nullptr) noexcept : m_label(label) {}
    /// initially_set: the state after construction.
    Event(bool initially_set, const char* label) noexcept : m_set(initially_set), m_label(label) {}
    ~Event() { m_waiters.check_no_waiters("Event", m_label); }
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;

    /// Sets the event and wakes every waiter.
    void set() noexcept {
        detail::WaitList woken;
        m_waiters.lock();
        // release: pairs with the acquire loads of is_set() and wait().
        m_set.store(true, std::memory_order_release);
        m_waiters.take_all(woken);
        m_waiters.unlock();
        detail::wake_all(woken);  // never touches *this
    }

    /// Clears the event; later waits block until the next set().
    void reset() noexcept {
        m_waiters.lock();
        m_set.store(false, std::memory_order_relaxed);  // under the lock: ordered with set()
        m_waiters.unlock();
    }

    /// True between set() and the next reset().
    bool is_set() const noexcept {
        // acquire: pairs with set()'s release store.
        return m_set.load(std::memory_order_acquire);
    }

    /// Returns once the event is set. Throws only if a deadlock breaker cancels the wait.
    void wait() {
        if (is_set())
            return;
        wait_cold();
    }

    /// The label given at construction (shown in deadlock reports), or nullptr.
    const char* label() const noexcept { return m_label; }

private:
    friend struct detail::WaitTestAccess;  ///< white-box tests (tests/wait)
    [[gnu::noinline]] void wait_cold() {
        m_waiters.lock();
        // Re-check under the lock: set() stores the flag and takes the waiters under the same
        // lock, so either we see it set or set() sees our node.
        if (m_set.load(std::memory_order_acquire)) {
            m_waiters.unlock();
            return;
        }
        detail::WaitNode node(
            detail::WaitSite{"Event", m_label, this,
                             &detail::WaitQueue::cancel_in<Event, &Event::m_waiters>, nullptr});
        m_waiters.wait(node);
        node.rethrow_if_failed();
    }

    /// true while set. Written by set() (release) and reset() (relaxed), both under m_waiters'
    /// lock; read by is_set()/wait() (acquire: pairs with set()'s release) and, under m_waiters'
    /// lock, by wait_cold().
    std::atomic<bool> m_set{false};
    const char* const m_label;
    detail::WaitQueue m_waiters;  ///< its lock guards the queue and the writes of m_set
};

}  // namespace spindle
