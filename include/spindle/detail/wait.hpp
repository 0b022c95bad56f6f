// The one scheduler entry point that every blocking wait goes through (design-notes/0003).
//
// A wait primitive (spindle/event.hpp, mutex.hpp, query_map.hpp, ...) keeps its waiters in an
// intrusive list of WaitNodes guarded by a SpinLock: a detail::WaitQueue (wait_util.hpp), or,
// for a QueryMap entry, a WaitList under its shard's lock. Its slow path is always:
//
//     m_waiters.lock();
//     if (condition holds) { m_waiters.unlock(); return; }
//     WaitNode node(WaitSite{"Event", m_label, this, &WaitQueue::cancel_in<...>});
//     m_waiters.wait(node);       // block_current; WaitQueue::enqueue links node and unlocks
//     node.rethrow_if_failed();   // a deadlock breaker may have failed it
//
// and its waker: lock, unlink the node(s) to wake, unlock, then wake_node() each one. On a pool
// worker block_current parks the calling fiber and the worker goes on with other work; on any
// other thread it blocks the thread. Either way the caller returns only after wake_node(node).
#pragma once

#include "spindle/detail/config.hpp"
#include "spindle/detail/job.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

namespace spindle::detail {

// A test-and-test-and-set lock for the short critical sections of wait primitives. It may be
// held across a fiber switch (block_current releases it on the destination fiber through the
// primitive's enqueue callback), which std::mutex would also allow but pthread_mutex under
// some sanitizers does not model well.
class SPINDLE_API SpinLock {
public:
    void lock() noexcept {
        for (;;) {
            // acquire: pairs with unlock()'s release.
            if (!m_locked.exchange(true, std::memory_order_acquire))
                return;
            for (unsigned i = 0; m_locked.load(std::memory_order_relaxed); ++i)
                relax(i);
        }
    }
    bool try_lock() noexcept {
        return !m_locked.load(std::memory_order_relaxed) &&
               !m_locked.exchange(true, std::memory_order_acquire);
    }
    void unlock() noexcept {
        // release: publishes the critical section to the next lock().
        m_locked.store(false, std::memory_order_release);
    }
    // Whether someone holds it (for the library's assertions; it may change at once).
    bool is_locked() const noexcept { return m_locked.load(std::memory_order_relaxed); }

private:
    // Spin iteration i: a pause, or sched_yield once i is large (src/wait/wait.cpp).
    static void relax(unsigned i) noexcept;
    // true while held. Written by lock() (acquire exchange) and unlock() (release store).
    std::atomic<bool> m_locked{false};
};

struct WaitNode;

// Describes what a waiter waits on, for deadlock reports and for breaking deadlocks.
struct WaitSite {
    // The primitive's type ("Event", "Mutex", "Query", ...): a string literal.
    const char* kind = "";
    // The user's label for the primitive, or nullptr. Must outlive the wait.
    const char* label = nullptr;
    // The primitive itself (shown as an address in reports; passed back to cancel).
    const void* object = nullptr;
    // Called by a deadlock breaker (on a thread that is not a worker, with no spindle lock
    // held): lock the primitive, unlink node if it is still queued, unlock, and return true
    // if it was unlinked (the breaker then fails the wait and wakes it). nullptr: the wait
    // cannot be cancelled.
    bool (*cancel)(WaitNode& node) noexcept = nullptr;
    // Optional extra detail for the report (e.g. the query key, the mutex's owner). Called
    // with the waiter still blocked.
    std::string (*describe)(const WaitNode& node) = nullptr;
};

// One blocked task. Lives on the waiting task's stack for the duration of one wait.
struct WaitNode {
    explicit WaitNode(const WaitSite& s) noexcept : site(s) {}
    WaitNode(const WaitNode&) = delete;
    WaitNode& operator=(const WaitNode&) = delete;

    WaitSite site;
    // The primitive's wait list (guarded by the primitive's lock).
    WaitNode* next = nullptr;
    WaitNode* prev = nullptr;
    // Primitive-specific data (e.g. the number of permits a semaphore waiter wants, or the
    // value handed over by a waker). Guarded by the primitive's lock.
    std::uintptr_t data = 0;
    // Set by whoever cancels the wait (a deadlock breaker) before waking it; the waiter
    // rethrows it after block_current returns.
    std::exception_ptr error;

    void rethrow_if_failed() const {
        if (error)
            std::rethrow_exception(error);
    }

    // ---- scheduler bookkeeping (src/wait/wait.cpp) ----
    Waiter* waiter = nullptr;
    void* worker = nullptr;  // the Worker whose fiber waits, or nullptr (a thread)
    WaitNode* reg_next = nullptr;
    WaitNode* reg_prev = nullptr;
};

// An intrusive FIFO of WaitNodes (guarded by its owner's lock).
class WaitList {
public:
    bool empty() const noexcept { return m_head == nullptr; }
    WaitNode* front() const noexcept { return m_head; }
    void push_back(WaitNode& n) noexcept {
        n.next = nullptr;
        n.prev = m_tail;
        if (m_tail != nullptr)
            m_tail->next = &n;
        else
            m_head = &n;
        m_tail = &n;
    }
    WaitNode* pop_front() noexcept {
        WaitNode* n = m_head;
        if (n != nullptr)
            remove(*n);
        return n;
    }
    // Unlinks n, which must be in this list.
    void remove(WaitNode& n) noexcept {
        if (n.prev != nullptr)
            n.prev->next = n.next;
        else
            m_head = n.next;
        if (n.next != nullptr)
            n.next->prev = n.prev;
        else
            m_tail = n.prev;
        n.next = n.prev = nullptr;
    }
    // True if n is in this list (O(n); for cancel()).
    bool contains(const WaitNode& n) const noexcept {
        for (const WaitNode* p = m_head; p != nullptr; p = p->next)
            if (p == &n)
                return true;
        return false;
    }
    // A cancel's unlink (WaitSite::cancel, with the owner's lock held): unlinks n if it is
    // still in this list and returns whether it was (O(n)). src/wait/wait.cpp.
    SPINDLE_API bool remove_if_queued(WaitNode& n) noexcept;
    // Moves every node to `out` (appending), leaving this list empty.
    void splice_to(WaitList& out) noexcept {
        while (WaitNode* n = pop_front())
            out.push_back(*n);
    }

private:
    WaitNode* m_head = nullptr;
    WaitNode* m_tail = nullptr;
};

// Blocks the calling task until wake_node(node) is called. Call with the primitive's lock
// held, after checking that the awaited condition does not hold. enqueue(node, arg) is called
// exactly once, when the task is ready to be woken (on a worker: after its fiber's context is
// saved, on another fiber of the same thread): it must link node into the primitive's wait
// list and release the primitive's lock. On a worker this parks the fiber (the worker goes on
// running other jobs); elsewhere it blocks the thread. Never throws; afterwards the caller
// checks node.error (rethrow_if_failed).
SPINDLE_API void block_current(WaitNode& node,
                               void (*enqueue)(WaitNode& node, void* arg),
                               void* arg) noexcept;

// Wakes the task blocked on node. Call after unlinking node from the wait list, preferably
// after releasing the primitive's lock. Reads everything it needs before waking: node (and
// the primitive) may be destroyed by the woken task as soon as the wake-up is issued.
SPINDLE_API void wake_node(WaitNode& node) noexcept;

}  // namespace spindle::detail
