// wake_node, the wake-up of every wait primitive, and the out-of-line halves of their waiter
// queue (WaitQueue::enqueue, WaitList::remove_if_queued; spindle/detail/wait.hpp and
// wait_util.hpp, design-notes/0003); block_current, their park, is in
// src/scheduler/park.cpp beside wait_latch.
#include "spindle/detail/wait.hpp"

#include "spindle/detail/wait_util.hpp"
#include "util/assert.hpp"

#include <sched.h>

namespace spindle::detail {

void SpinLock::relax(unsigned i) noexcept {
    if (i < 64) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        asm volatile("yield");
#endif
    } else {
        sched_yield();
    }
}

bool WaitList::remove_if_queued(WaitNode& n) noexcept {
    if (!contains(n))
        return false;
    // A queued node has not been failed: only whoever unlinks it may fail and wake it, once.
    SPINDLE_ASSERT(!n.error, "design-notes/0003, invariant W6");
    remove(n);
    return true;
}

void WaitQueue::enqueue(WaitNode& node, void* queue) noexcept {
    auto* q = static_cast<WaitQueue*>(queue);
    // Linked only under the primitive's lock, and only once its waiter can be woken: the
    // waiter's context is saved (publish_parked) or its ThreadWaiter armed.
    SPINDLE_ASSERT(q->m_lock.is_locked() && node.waiter != nullptr,
                   "design-notes/0003, invariant W1");
    q->m_list.push_back(node);
    q->m_lock.unlock();
}

void wake_node(WaitNode& node) noexcept {
    Waiter* w = node.waiter;  // read before waking: node may be gone right after
    // Only a published node is woken: enqueue ran, after block_current set its waiter.
    SPINDLE_ASSERT(w != nullptr, "design-notes/0003, invariant W1");
    wake_waiter(w);
}

}  // namespace spindle::detail
