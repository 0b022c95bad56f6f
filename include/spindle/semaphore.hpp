// CountingSemaphore: a count of permits; acquire() takes one (waiting while there is none),
// release(n) returns n. Fair: waiters get permits in FIFO order.
//
//     spindle::CountingSemaphore slots(4, "download slots");
//     slots.acquire();   // on a worker: parks this fiber while none is free
//     download();
//     slots.release();
//
// Semantics. As std::counting_semaphore, without the compile-time maximum (at most 2^62
// permits; release() beyond that throws std::overflow_error) and without timed waits.
// Strictly FIFO: release() hands its permits directly to the oldest waiters, and while anyone
// waits, try_acquire() fails and acquire() queues, so a newcomer never takes a permit ahead
// of a waiter. release(n) with n < 0 throws std::invalid_argument. A permit may be released
// by a task other than the one that acquired it.
//
// Where it waits. On a pool worker, acquire() parks the calling fiber and the worker runs
// other jobs meanwhile; on any other thread it blocks the thread. No spin.
//
// Memory ordering. A release() happens-before the acquire() or try_acquire() that obtains
// one of its permits (release CAS / acquire CAS on the fast paths; on hand-off, the wake-up
// orders the releaser's writes before the waiter resumes).
//
// Deadlocks. A wait carries a WaitSite ("CountingSemaphore", label; the report shows the
// permits available) and can be cancelled by a deadlock breaker (design-notes/0005):
// acquire() then throws the breaker's exception without a permit.
//
// Destruction. Destroying a semaphore while tasks wait on it is a fatal error (checked).
#pragma once

#include "spindle/detail/wait.hpp"
#include "spindle/detail/wait_util.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace spindle {

/// A count of permits with FIFO-fair waiters: acquire() takes one, release(n) returns n.
class CountingSemaphore {
public:
    /// The largest count a semaphore can hold.
    static constexpr std::ptrdiff_t k_max = std::ptrdiff_t{1} << 62;

    /// label: shown in deadlock reports; nullptr or a string that outlives the semaphore.
    explicit CountingSemaphore(std::ptrdiff_t initial, const char* label = nullptr)
        : m_state(check_initial(initial) << 1), m_label(label) {}
    ~CountingSemaphore() { m_waiters.check_no_waiters("CountingSemaphore", m_label); }
    CountingSemaphore(const CountingSemaphore&) = delete;
    CountingSemaphore& operator=(const CountingSemaphore&) = delete;

    /// Takes a permit if one is free and nobody waits.
    bool try_acquire() noexcept {
        std::uint64_t s = m_state.load(std::memory_order_relaxed);
        while ((s & k_waiting_bit) == 0 && s >= k_one) {
            // acquire: pairs with release()'s release CAS or store.
            if (m_state.compare_exchange_weak(s, s - k_one, std::memory_order_acquire,
                                              std::memory_order_relaxed))
                return true;
        }
        return false;
    }

    /// Takes a permit, waiting in FIFO order while none is free. Throws only if a deadlock
    /// breaker cancels the wait (then no permit was taken).
    void acquire() {
        if (try_acquire())
            return;
        acquire_cold();
    }

    /// Returns n permits, handing them to the oldest waiters first.
    void release(std::ptrdiff_t n = 1) {
        if (n < 0)
            throw std::invalid_argument("spindle: CountingSemaphore::release(n) with n < 0");
        if (n == 0)
            return;
        std::uint64_t s = m_state.load(std::memory_order_relaxed);
        while ((s & k_waiting_bit) == 0) {
            check_room(s, n);
            // release: publishes the releaser's writes to the acquirer (pairs with the acquire
            // CAS in try_acquire/acquire_cold).
            if (m_state.compare_exchange_weak(s, s + (static_cast<std::uint64_t>(n) << 1),
                                              std::memory_order_release, std::memory_order_relaxed))
                return;
        }
        release_cold(n);
    }

    /// Permits free now (for diagnostics; it may change at once).
    std::ptrdiff_t available() const noexcept {
        return static_cast<std::ptrdiff_t>(m_state.load(std::memory_order_relaxed) >> 1);
    }
    /// The label given at construction (shown in deadlock reports), or nullptr.
    const char* label() const noexcept { return m_label; }

private:
    friend struct detail::WaitTestAccess;  ///< white-box tests (tests/wait)
    /// m_state = (permits << 1) | waiting bit.
    static constexpr std::uint64_t k_waiting_bit = 1;
    static constexpr std::uint64_t k_one = 2;

    static std::uint64_t check_initial(std::ptrdiff_t initial) {
        if (initial < 0 || initial > k_max)
            throw std::invalid_argument(
                "spindle: CountingSemaphore: initial count must be in [0, 2^62]");
        return static_cast<std::uint64_t>(initial);
    }
    void check_room(std::uint64_t s, std::ptrdiff_t n) const {
        if (static_cast<std::uint64_t>(n) > static_cast<std::uint64_t>(k_max) - (s >> 1))
            throw std::overflow_error(std::string("spindle: CountingSemaphore '") +
                                      (m_label != nullptr ? m_label : "") +
                                      "': release() beyond 2^62 permits");
    }

    [[gnu::noinline]] void acquire_cold() {
        m_waiters.lock();
        // Under m_waiters' lock (invariants of design-notes/0003, semaphore): the waiting bit is
        // set iff m_waiters is not empty, and while it is set there are no free permits. The bit is
        // set and cleared only under m_waiters' lock; lock-free paths only move permits while the
        // bit is clear.
        std::uint64_t s = m_state.load(std::memory_order_relaxed);
        for (;;) {
            if ((s & k_waiting_bit) != 0)
                break;  // queue behind the others
            if (s >= k_one) {
                // acquire: pairs with release()'s release CAS or store.
                if (m_state.compare_exchange_weak(s, s - k_one, std::memory_order_acquire,
                                                  std::memory_order_relaxed)) {
                    m_waiters.unlock();
                    return;
                }
            } else if (m_state.compare_exchange_weak(s, s | k_waiting_bit,
                                                     std::memory_order_relaxed,
                                                     std::memory_order_relaxed)) {
                break;  // relaxed: a release() that now fails its CAS goes to release_cold
            }
        }
        detail::WaitNode node(detail::WaitSite{"CountingSemaphore", m_label, this,
                                               &CountingSemaphore::cancel,
                                               &CountingSemaphore::describe});
        m_waiters.wait(node);
        node.rethrow_if_failed();  // cancelled: no permit was handed to us
        // Woken by release_cold: it took the permit for us.
    }

    [[gnu::noinline]] void release_cold(std::ptrdiff_t n) {
        detail::WaitList woken;
        m_waiters.lock();
        std::uint64_t s = m_state.load(std::memory_order_relaxed);
        for (;;) {
            if ((s & k_waiting_bit) == 0) {
                // A cancel emptied the queue since we looked: release lock-free after all.
                try {
                    check_room(s, n);
                } catch (...) {
                    m_waiters.unlock();
                    throw;
                }
                // release: pairs with the acquire CAS in try_acquire/acquire_cold.
                if (m_state.compare_exchange_weak(s, s + (static_cast<std::uint64_t>(n) << 1),
                                                  std::memory_order_release,
                                                  std::memory_order_relaxed))
                    break;
                continue;
            }
            // Waiters, hence no free permits, and nobody but us (under m_waiters' lock) may change
            // the state: hand permits to the oldest waiters, keep the rest.
            std::ptrdiff_t left = n;
            while (left > 0 && !m_waiters.empty()) {
                woken.push_back(*m_waiters.pop_front());
                --left;
            }
            const std::uint64_t next =
                (static_cast<std::uint64_t>(left) << 1) | (m_waiters.empty() ? 0 : k_waiting_bit);
            // release: the permits left over go to lock-free acquirers (pairs with their
            // acquire CAS); the ones handed off are ordered by the wake-ups.
            m_state.store(next, std::memory_order_release);
            break;
        }
        m_waiters.unlock();
        detail::wake_all(woken);
    }

    static bool cancel(detail::WaitNode& node) noexcept {
        auto& s = detail::primitive_of<CountingSemaphore>(node);
        return s.m_waiters.cancel(node, [&s] {
            if (s.m_waiters.empty())  // no permits are free while anyone waits: state 0
                s.m_state.store(0, std::memory_order_relaxed);
        });
    }
    static std::string describe(const detail::WaitNode& node) {
        auto& s = detail::primitive_of<CountingSemaphore>(node);
        return std::to_string(s.available()) + " permits free";
    }

    /// (permits << 1) | waiting bit. Lock-free CASes move permits while the bit is clear
    /// (acquire on take, release on give: they pair with each other); the bit is set by a
    /// waiter and cleared by release_cold or cancel, both under m_waiters' lock, and while it is
    /// set only release_cold changes the word (release store: pairs with later acquire CASes).
    std::atomic<std::uint64_t> m_state;
    const char* const m_label;
    detail::WaitQueue m_waiters;  ///< its lock guards the queue and the waiting bit
};

}  // namespace spindle
