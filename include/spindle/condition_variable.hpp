// ConditionVariable: waits for a condition guarded by a spindle::Mutex, parking the fiber (on
// a worker) or blocking the thread (elsewhere) meanwhile.
//
//     spindle::Mutex m;
//     spindle::ConditionVariable cv("queue not empty");
//     std::unique_lock<spindle::Mutex> lk(m);
//     cv.wait(lk, [&] { return !queue.empty(); });
//
// Semantics. As std::condition_variable with std::unique_lock<spindle::Mutex>: wait(lk)
// atomically releases the mutex and waits; it returns, holding the mutex again, after a
// notify_one()/notify_all() that found it waiting. There are no spurious wake-ups, but the
// condition may have changed again before the waiter reacquires the mutex, so use the
// predicate form. notify_one() wakes the oldest waiter (FIFO). Notifying without holding the
// mutex is allowed. No timed waits.
//
// Where it waits. On a pool worker, wait() parks the calling fiber and the worker runs other
// jobs meanwhile; on any other thread it blocks the thread.
//
// Memory ordering. Provided by the mutex: whatever the notifier wrote under the mutex is
// visible to the waiter once it holds the mutex again.
//
// Deadlocks. A wait carries a WaitSite ("ConditionVariable", label) and can be cancelled by
// a deadlock breaker (design-notes/0005): wait() then reacquires the mutex and throws the
// breaker's exception (so, unlike std, wait() may throw; the unique_lock still owns the mutex
// when it does, unless the reacquisition itself was cancelled: then lk.owns_lock() is false).
//
// Destruction. Destroying a ConditionVariable while tasks wait on it is a fatal error
// (checked). A task woken by notify_all() may destroy it once its wait() returns.
#pragma once

#include "spindle/detail/wait.hpp"
#include "spindle/detail/wait_util.hpp"
#include "spindle/mutex.hpp"

#include <mutex>
#include <stdexcept>

namespace spindle {

/// A condition variable for spindle::Mutex: a waiting task parks its fiber (a thread outside the
/// pool blocks) and is woken in FIFO order.
class ConditionVariable {
public:
    /// label: shown in deadlock reports; nullptr or a string that outlives the object.
    explicit ConditionVariable(const char* label = nullptr) noexcept : m_label(label) {}
    ~ConditionVariable() { m_waiters.check_no_waiters("ConditionVariable", m_label); }
    ConditionVariable(const ConditionVariable&) = delete;
    ConditionVariable& operator=(const ConditionVariable&) = delete;

    /// Releases lk's mutex, waits for a notification, reacquires the mutex. Throws
    /// std::logic_error if lk does not own its mutex; throws a deadlock breaker's exception
    /// (with the mutex reacquired) if the wait is cancelled.
    void wait(std::unique_lock<Mutex>& lk) {
        if (!lk.owns_lock())
            throw std::logic_error(
                "spindle: ConditionVariable::wait with a unique_lock that does not own its "
                "mutex");
        Mutex* m = lk.mutex();
        detail::WaitNode node(detail::WaitSite{
            "ConditionVariable", m_label, this,
            &detail::WaitQueue::cancel_in<ConditionVariable, &ConditionVariable::m_waiters>,
            nullptr});
        EnqueueArgs args{this, m};
        SPINDLE_LOCK_ORDER_RELEASE(m);  // enqueue unlocks m, maybe on another fiber
        m_waiters.lock();
        // enqueue links the node, then releases m_waiters' lock and the mutex: a notifier that
        // takes the mutex after us finds the node linked, so no notification is lost.
        detail::block_current(node, &ConditionVariable::enqueue, &args);
        // Reacquire, also when the wait was cancelled, so that lk owns the mutex whatever
        // happens. If this lock() is itself cancelled, lk gives up ownership before the
        // exception leaves (it must not unlock a mutex it does not hold).
        try {
            m->lock();
        } catch (...) {
            lk.release();
            throw;
        }
        node.rethrow_if_failed();
    }

    /// Waits until pred() is true: the loop `while (!pred()) wait(lk);`.
    template <class Pred>
    void wait(std::unique_lock<Mutex>& lk, Pred pred) {
        while (!pred())
            wait(lk);
    }

    /// Wakes the oldest waiter, if any.
    void notify_one() noexcept {
        m_waiters.lock();
        detail::WaitNode* n = m_waiters.pop_front();
        m_waiters.unlock();
        if (n != nullptr)
            detail::wake_node(*n);
    }

    /// Wakes every waiter.
    void notify_all() noexcept {
        detail::WaitList woken;
        m_waiters.lock();
        m_waiters.take_all(woken);
        m_waiters.unlock();
        detail::wake_all(woken);  // never touches *this
    }

    /// The label given at construction (shown in deadlock reports), or nullptr.
    const char* label() const noexcept { return m_label; }

private:
    friend struct detail::WaitTestAccess;  ///< white-box tests (tests/wait)
    struct EnqueueArgs {
        ConditionVariable* cv;
        Mutex* mutex;
    };

    /// Runs once the waiter is ready to be woken (on a worker: on the next fiber, after the
    /// waiter's context is saved; the waiter cannot resume before this returns, because only
    /// this worker resumes it). Unlocking the mutex here may hand it off and wake another task.
    static void enqueue(detail::WaitNode& node, void* arg) noexcept {
        auto* a = static_cast<EnqueueArgs*>(arg);
        Mutex* m = a->mutex;  // read before the node can be woken
        a->cv->m_waiters.push_back(node);
        a->cv->m_waiters.unlock();
        m->unlock();
    }

    const char* const m_label;
    detail::WaitQueue m_waiters;
};

}  // namespace spindle
