// block_current / wake_node: the scheduler entry point of every wait primitive
// (spindle/detail/wait.hpp, design-notes/0003).
#include "spindle/detail/wait.hpp"

#include "scheduler/registry.hpp"
#include "scheduler/thread_waiter.hpp"
#include "scheduler/worker.hpp"
#include "spindle/detail/wait_util.hpp"
#include "util/assert.hpp"
#include "util/fork.hpp"

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

namespace {

struct BlockArgs {
    WaitNode* node;
    void (*enqueue)(WaitNode&, void*);
    void* arg;
};

// Runs on the worker's next fiber once the blocking fiber's context is saved.
bool publish_parked(Fiber* self, void* a) noexcept {
    auto* b = static_cast<BlockArgs*>(a);
    b->node->waiter = &self->waiter;
    b->enqueue(*b->node, b->arg);  // links the node and releases the primitive's lock
    static_cast<Worker*>(self->owner)->registry->blocked_begin(*b->node);
    return true;  // always parks: only wake_node() makes it ready
}

}  // namespace

void block_current(WaitNode& node, void (*enqueue)(WaitNode&, void*), void* arg) noexcept {
    auto* w = static_cast<Worker*>(tl_worker);
    if (w != nullptr) {
        if (w->registry->created_before_fork()) [[unlikely]]
            fatal_worker_used_after_fork("a task waited on a %s", node.site.kind);
        node.worker = w;
        BlockArgs b{&node, enqueue, arg};
        if (w->park(&publish_parked, &b, node.site.kind, node.site.label)) {
            w->registry->blocked_end(node);
            return;
        }
        // No fiber to switch to (none idle, none ready, none could be created). Running other
        // jobs nested here could make this wait depend on them (the false dependencies that
        // made the compiler's fork stop stealing), so block the thread as a blocking section
        // does: publish this worker's private jobs so that thieves can take them, and count the
        // worker as blocked.
        Registry& r = *w->registry;
        w->deque.publish_all();
        ThreadWaiter& tw = this_thread_waiter();
        tw.arm();
        node.waiter = &tw;
        enqueue(node, arg);
        r.section_begin(nullptr, &node);
        tw.block();
        r.section_end(&node);
        return;
    }
    ThreadWaiter& tw = this_thread_waiter();
    tw.arm();
    node.waiter = &tw;
    enqueue(node, arg);
    tw.block();
}

void wake_node(WaitNode& node) noexcept {
    Waiter* w = node.waiter;  // read before waking: node may be gone right after
    // Only a published node is woken: enqueue ran, after block_current set its waiter.
    SPINDLE_ASSERT(w != nullptr, "design-notes/0003, invariant W1");
    wake_waiter(w);
}

}  // namespace spindle::detail
