// Helpers shared by the wait primitives (latch.hpp, event.hpp, wait_group.hpp, future.hpp,
// mutex.hpp, condition_variable.hpp, semaphore.hpp, query_map.hpp), and WaitQueue, the waiter
// queue every one of them but QueryMap holds. Internal: users never name detail::.
// The protocol every primitive follows is in spindle/detail/wait.hpp and design-notes/0003.
#pragma once

#include "spindle/detail/runtime.hpp"
#include "spindle/detail/wait.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

namespace spindle::detail {

// Defined only by the white-box tests (tests/wait/wait_test_util.hpp): reads a primitive's
// wait list, and cancels a wait the way a deadlock breaker does.
struct WaitTestAccess;

inline void wait_cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// Misuse that cannot be reported by an exception (a destructor, an unlock by a non-owner):
// prints "spindle: fatal: <kind> '<label>' <what>" and aborts.
[[noreturn]] inline void wait_misuse_fatal(const char* kind,
                                           const char* label,
                                           const char* what) noexcept {
    std::fprintf(stderr, "spindle: fatal: %s '%s' %s\n", kind, label != nullptr ? label : "", what);
    std::fflush(stderr);
    std::abort();
}

// Who runs the calling code, as one word for Mutex's owner record and deadlock reports:
// (worker index << 1) | 1 on a pool worker, the thread's id hash with bit 0 clear elsewhere.
// Fibers never migrate (design-notes/0002), so the word of a task never changes while it runs.
// Two tasks on the same worker share a word: it names a thread, not a task.
inline std::uintptr_t current_holder() noexcept {
    if (WorkerCore* w = current_worker())
        return (static_cast<std::uintptr_t>(w->index) << 1) | 1;
    const auto h = std::hash<std::thread::id>{}(std::this_thread::get_id());
    return static_cast<std::uintptr_t>(h) & ~std::uintptr_t{1};
}

// "worker 3", "thread 0x7f...", or "nobody" for 0.
inline std::string describe_holder(std::uintptr_t holder) {
    if (holder == 0)
        return "nobody";
    char buf[48];
    if ((holder & 1) != 0)
        std::snprintf(buf, sizeof buf, "worker %ju", static_cast<std::uintmax_t>(holder >> 1));
    else
        std::snprintf(buf, sizeof buf, "thread %#jx", static_cast<std::uintmax_t>(holder));
    return buf;
}

// The primitive a wait node belongs to (WaitSite::object is the primitive itself).
template <class P>
P& primitive_of(const WaitNode& node) noexcept {
    return *const_cast<P*>(static_cast<const P*>(node.site.object));
}

// Wakes every node of list (already unlinked from the primitive, lock released). Reads each
// node's successor before waking it: a woken task may return and free its node at once.
inline void wake_all(WaitList& list) noexcept {
    WaitNode* n = list.front();
    while (n != nullptr) {
        WaitNode* next = n->next;
        wake_node(*n);
        n = next;
    }
}

// Counts the nodes of a list (for describe() and the destructor checks).
inline std::size_t wait_list_size(const WaitList& list) noexcept {
    std::size_t k = 0;
    for (const WaitNode* n = list.front(); n != nullptr; n = n->next)
        ++k;
    return k;
}

// The waiters of one wait primitive: the SpinLock that guards them (and whatever part of the
// primitive's state the primitive says it guards) and their intrusive FIFO, with the steps
// every primitive takes on them (design-notes/0003). The waiter:
//
//     m_waiters.lock();
//     if (condition holds) { m_waiters.unlock(); return; }
//     WaitNode node(WaitSite{"Event", m_label, this,
//                            &WaitQueue::cancel_in<Event, &Event::m_waiters>});
//     m_waiters.wait(node);       // links node once the task can be woken, then unlocks
//     node.rethrow_if_failed();   // a deadlock breaker cancelled the wait
//
// The waker: lock, pop_front() or take_all(), unlock, then wake_node() or wake_all(). Members
// marked "lock held" are called with the lock held.
class WaitQueue {
public:
    WaitQueue() noexcept = default;
    WaitQueue(const WaitQueue&) = delete;
    WaitQueue& operator=(const WaitQueue&) = delete;

    void lock() noexcept { m_lock.lock(); }
    void unlock() noexcept { m_lock.unlock(); }

    // ---- lock held ----
    bool empty() const noexcept { return m_list.empty(); }
    // The oldest waiter, or nullptr.
    WaitNode* front() const noexcept { return m_list.front(); }
    // Unlinks and returns the oldest waiter, or nullptr.
    WaitNode* pop_front() noexcept { return m_list.pop_front(); }
    // Moves every waiter to out (to be woken by wake_all(out) once the lock is released).
    void take_all(WaitList& out) noexcept { m_list.splice_to(out); }
    std::size_t size() const noexcept { return wait_list_size(m_list); }
    // Links node last without releasing the lock: for an enqueue callback that releases more
    // than this lock (ConditionVariable).
    void push_back(WaitNode& node) noexcept { m_list.push_back(node); }

    // Lock held, the awaited condition found false: blocks the calling task until
    // wake_node(node) (block_current, with enqueue below).
    void wait(WaitNode& node) noexcept { block_current(node, &WaitQueue::enqueue, this); }

    // block_current's enqueue callback (queue: this WaitQueue): links node last, then releases
    // the lock. src/wait/wait.cpp.
    SPINDLE_API static void enqueue(WaitNode& node, void* queue) noexcept;

    // ---- lock not held ----
    // WaitSite::cancel's work (a deadlock breaker removing a waiter, design-notes/0005): locks;
    // if node is still queued, unlinks it and calls on_unlinked() (still under the lock, to
    // bring the primitive's state in line with the shorter queue); unlocks. Returns whether it
    // unlinked node: then nobody else will wake it.
    template <class F>
    bool cancel(WaitNode& node, F on_unlinked) noexcept {
        m_lock.lock();
        const bool queued = m_list.remove_if_queued(node);
        if (queued)
            on_unlinked();
        m_lock.unlock();
        return queued;
    }
    bool cancel(WaitNode& node) noexcept {
        return cancel(node, [] {});
    }
    // The WaitSite::cancel of a primitive P whose WaitQueue is its member Queue.
    template <class P, WaitQueue P::*Queue>
    static bool cancel_in(WaitNode& node) noexcept {
        return (primitive_of<P>(node).*Queue).cancel(node);
    }

    // For destructors: aborts, naming kind and label, if a task waits (design-notes/0003,
    // invariant W7). Takes the lock first: a waker may still be releasing it (invariant W3).
    void check_no_waiters(const char* kind, const char* label) noexcept {
        m_lock.lock();
        const bool waiters = !m_list.empty();
        m_lock.unlock();
        if (waiters)
            wait_misuse_fatal(kind, label, "destroyed while tasks wait on it");
    }

private:
    SpinLock m_lock;
    WaitList m_list;
};

}  // namespace spindle::detail
