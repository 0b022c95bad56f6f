// Mutex: a fiber-aware mutual-exclusion lock. A task that finds it held spins briefly, then
// parks its fiber (on a worker) or blocks its thread (elsewhere) instead of blocking the
// worker, so the worker keeps running other jobs, including, possibly, the holder's.
//
//     spindle::Mutex m("stats");
//     {
//         std::lock_guard<spindle::Mutex> g(m);   // or std::unique_lock / std::scoped_lock
//         ++stats.count;
//     }
//
// Semantics. lock(), try_lock(), unlock(), as std::mutex (it meets Lockable). Not recursive.
// Fair: waiters are served in FIFO order, by hand-off: unlock() with waiters passes the lock
// to the oldest waiter without ever releasing it, so a newcomer cannot barge in and no waiter
// starves (the price: under contention every acquisition costs a wake-up, a "convoy").
// A newcomer spins only while the lock is held and nobody waits (32 pauses); once anyone
// waits it queues behind them. No timed lock.
//
// A Mutex may be held across a park (a task holding it may wait on something else), and
// locked and unlocked from pool workers and from other threads alike. unlock() must run on
// the thread (for a task: the worker) that locked it: an unlock of an unheld Mutex, or from
// another thread, is a fatal error (checked). Two tasks on the same worker cannot be told
// apart by that check, so unlocking a Mutex that a sibling task on the same worker holds is
// undefined behaviour, as for std::mutex.
//
// std::mutex is different: never hold a std::mutex (or any other OS-level lock) across a
// spindle wait: a join or scope that waits for a stolen half, an install from another pool,
// or any wait of this library. The lock belongs to the worker's thread, which runs other tasks
// while the waiting one is parked; one of them that locks it blocks that thread for ever on a
// lock its own thread holds, and the pool hangs with no deadlock report (a
// std::recursive_mutex instead lets the other task into the critical section). Use this Mutex,
// or unlock before waiting. Debug builds catch the hang and die with a message naming the
// worker (design-notes/0003, section 8).
//
// Memory ordering. unlock() happens-before the lock() or try_lock() that next acquires it
// (release CAS / acquire CAS on the fast paths; on hand-off, the wake-up orders the
// unlocker's writes before the woken task resumes).
//
// Deadlocks. The Mutex records its holder (a worker index or a thread; two tasks on one
// worker share it); a wait carries a WaitSite ("Mutex", label) whose report names the
// holder, and can be cancelled by a deadlock breaker (design-notes/0005): lock() then throws
// the breaker's exception without holding the lock.
//
// Lock order. Debug and sanitizer builds check the order in which Mutexes are taken, by label
// (one class per label text; an unlabelled Mutex is a class of its own) and abort on an
// inversion even when it did not deadlock (spindle/detail/lock_order.hpp, design-notes/0013).
//
// Destruction. Destroying a Mutex that is held or has waiters is a fatal error (checked).
#pragma once

#include "spindle/detail/lock_order.hpp"
#include "spindle/detail/wait.hpp"
#include "spindle/detail/wait_util.hpp"

#include <atomic>
#include <cstdint>
#include <string>

namespace spindle {

class ConditionVariable;

/// A fiber-aware, FIFO-fair mutual-exclusion lock; may be held across spindle waits. Works with
/// std::lock_guard and std::unique_lock.
class Mutex {
public:
    /// label: shown in deadlock reports; nullptr or a string that outlives the mutex.
    explicit Mutex(const char* label = nullptr) noexcept : m_label(label) {}
    ~Mutex() {
        // Under m_waiters' lock: a deadlock breaker's cancel() may still be releasing it after
        // emptying the queue, which already let the holder unlock (invariant W3).
        m_waiters.lock();
        const bool held = m_state.load(std::memory_order_relaxed) != k_unlocked;
        m_waiters.unlock();
        if (held)
            detail::wait_misuse_fatal("Mutex", m_label, "destroyed while held");
        SPINDLE_LOCK_ORDER_FORGET(this);
    }
    Mutex(const Mutex&) = delete;
    Mutex& operator=(const Mutex&) = delete;

    /// Takes the lock: spins briefly, then parks the fiber (in a task) or blocks the thread until
    /// it is handed the lock.
    void lock() {
        SPINDLE_LOCK_ORDER_ACQUIRE(m_label, this);
        std::uint32_t expected = k_unlocked;
        // acquire: pairs with unlock()'s release CAS.
        if (!m_state.compare_exchange_strong(expected, k_locked, std::memory_order_acquire,
                                             std::memory_order_relaxed)) [[unlikely]] {
            lock_cold();
            return;
        }
        m_holder.store(detail::current_holder(), std::memory_order_relaxed);
    }

    /// Takes the lock if it is free and nobody waits; never waits.
    bool try_lock() noexcept {
        std::uint32_t expected = k_unlocked;
        // acquire: pairs with unlock()'s release CAS.
        if (!m_state.compare_exchange_strong(expected, k_locked, std::memory_order_acquire,
                                             std::memory_order_relaxed))
            return false;
        m_holder.store(detail::current_holder(), std::memory_order_relaxed);
        SPINDLE_LOCK_ORDER_TRY(m_label, this);
        return true;
    }

    /// Releases the lock, handing it to the first waiter if there is one.
    void unlock() noexcept {
        if (m_holder.load(std::memory_order_relaxed) != detail::current_holder()) [[unlikely]]
            unlock_misuse_cold();
        SPINDLE_LOCK_ORDER_RELEASE(this);
        m_holder.store(0, std::memory_order_relaxed);
        std::uint32_t expected = k_locked;
        // release: publishes the critical section to the next acquirer (pairs with the
        // acquire CAS in lock/try_lock/lock_cold).
        if (!m_state.compare_exchange_strong(expected, k_unlocked, std::memory_order_release,
                                             std::memory_order_relaxed)) [[unlikely]]
            hand_off_cold();
    }

    /// Whether some task holds it now (for diagnostics; it may change at once).
    bool is_locked() const noexcept {
        return m_state.load(std::memory_order_relaxed) != k_unlocked;
    }
    /// The label given at construction (shown in deadlock reports), or nullptr.
    const char* label() const noexcept { return m_label; }

private:
    friend struct detail::WaitTestAccess;  ///< white-box tests (tests/wait)
    friend class ConditionVariable;

    static constexpr std::uint32_t k_unlocked = 0;
    static constexpr std::uint32_t k_locked = 1;   ///< held, nobody queued
    static constexpr std::uint32_t k_waiters = 2;  ///< held, m_waiters not empty
    static constexpr int k_spins = 32;

    [[gnu::noinline]] void lock_cold() {
        // Spin only while held with nobody queued: with a queue, unlock() hands the lock to
        // the queue's head, so spinning cannot win it.
        for (int i = 0; i < k_spins; ++i) {
            const std::uint32_t s = m_state.load(std::memory_order_relaxed);
            if (s == k_waiters)
                break;
            if (s == k_unlocked && try_lock())
                return;
            detail::wait_cpu_relax();
        }
        const std::uintptr_t me = detail::current_holder();
        m_waiters.lock();
        // Under m_waiters' lock, state k_waiters <=> m_waiters not empty (invariant 1 of the Mutex
        // in design-notes/0003): k_locked -> k_waiters and k_waiters -> anything happen only under
        // m_waiters' lock; k_unlocked <-> k_locked are lock-free.
        std::uint32_t s = m_state.load(std::memory_order_relaxed);
        for (;;) {
            if (s == k_unlocked) {
                // acquire: pairs with unlock()'s release CAS.
                if (m_state.compare_exchange_weak(s, k_locked, std::memory_order_acquire,
                                                  std::memory_order_relaxed)) {
                    m_holder.store(me, std::memory_order_relaxed);
                    m_waiters.unlock();
                    return;
                }
            } else if (s == k_locked) {
                // relaxed: the queue itself is guarded by m_waiters' lock; an unlock() that fails
                // its CAS because of this goes to hand_off_cold, which takes m_waiters' lock.
                if (m_state.compare_exchange_weak(s, k_waiters, std::memory_order_relaxed,
                                                  std::memory_order_relaxed))
                    break;
            } else {
                break;  // k_waiters: queue behind the others
            }
        }
        detail::WaitNode node(
            detail::WaitSite{"Mutex", m_label, this, &Mutex::cancel, &Mutex::describe});
        node.data = me;  // the holder to record when the lock is handed to us
        m_waiters.wait(node);
        if (node.error)
            SPINDLE_LOCK_ORDER_RELEASE(this);  // cancelled: the lock-order checker forgets it
        node.rethrow_if_failed();              // cancelled: we do not hold the lock
        // Handed off: hand_off_cold set m_state and m_holder for us.
    }

    [[gnu::noinline]] void hand_off_cold() noexcept {
        m_waiters.lock();
        detail::WaitNode* next = m_waiters.pop_front();
        if (next == nullptr) [[unlikely]] {
            // Invariant 1 makes this impossible: state k_waiters with an empty queue.
            m_waiters.unlock();
            detail::wait_misuse_fatal("Mutex", m_label,
                                      "internal error: waiters flag set with "
                                      "no waiter");
        }
        // The lock stays held: it passes to `next`. Only the holder (us) may move the state
        // out of k_locked/k_waiters, and m_waiters' lock keeps waiters from moving it.
        if (m_waiters.empty())
            m_state.store(k_locked, std::memory_order_relaxed);
        m_holder.store(next->data, std::memory_order_relaxed);
        m_waiters.unlock();
        // The wake-up orders our critical section before the new holder's (design-notes/0003).
        detail::wake_node(*next);
    }

    [[gnu::noinline]] [[noreturn]] void unlock_misuse_cold() const noexcept {
        const std::uintptr_t h = m_holder.load(std::memory_order_relaxed);
        const std::string msg = h == 0 ? std::string("unlocked while not held")
                                       : "unlocked by " +
                                             detail::describe_holder(detail::current_holder()) +
                                             " but held by " + detail::describe_holder(h);
        detail::wait_misuse_fatal("Mutex", m_label, msg.c_str());
    }

    static bool cancel(detail::WaitNode& node) noexcept {
        auto& m = detail::primitive_of<Mutex>(node);
        return m.m_waiters.cancel(node, [&m] {
            if (m.m_waiters.empty())  // keep invariant 1; the holder still holds it
                m.m_state.store(k_locked, std::memory_order_relaxed);
        });
    }
    static std::string describe(const detail::WaitNode& node) {
        auto& m = detail::primitive_of<Mutex>(node);
        return "held by " + detail::describe_holder(m.m_holder.load(std::memory_order_relaxed));
    }

    /// k_unlocked / k_locked / k_waiters. k_unlocked <-> k_locked by lock-free CAS (acquire on
    /// lock, release on unlock: they pair with each other); k_locked -> k_waiters only by a
    /// waiter under m_waiters' lock; out of k_waiters only under m_waiters' lock, by the holder's
    /// hand-off or a cancel (relaxed: the hand-off is ordered by the wake-up, see hand_off_cold).
    std::atomic<std::uint32_t> m_state{k_unlocked};
    /// Who holds it (detail::current_holder()), 0 when nobody. Written by the acquirer after
    /// its acquire, by unlock() before its release, and by the hand-off for the new holder;
    /// read by unlock()'s check (same thread as the write) and by describe(). Relaxed: it is
    /// informational, and the holder's own reads are ordered by program order or the wake-up.
    std::atomic<std::uintptr_t> m_holder{0};
    const char* const m_label;
    /// Its lock guards the queue and the transitions out of k_waiters.
    detail::WaitQueue m_waiters;
};

}  // namespace spindle
