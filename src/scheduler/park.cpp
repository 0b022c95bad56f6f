// Parking the running task: Worker::park, and the two paths that use it, side by side.
//
//   wait_latch (join, scope, install, broadcast; the latch is in spindle/detail/job.hpp)
//     on a worker: spin k_spin_before_park rounds, then park the fiber; when no fiber can be
//     had (none ready, none idle, none could be created), RUN OTHER JOBS NESTED on this stack
//     until the latch is set.
//     outside any pool: spin (k_spin_before_block, or not at all), then block on the thread's
//     futex (ThreadWaiter).
//   block_current (every wait primitive of spindle/detail/wait.hpp: mutex, event, semaphore,
//     future, query map, ...; design-notes/0003)
//     on a worker: park the fiber; when no fiber can be had, BLOCK THE THREAD as a blocking
//     section does (publish the private jobs, count the worker as blocked, wake or start a
//     spare where the pool has one).
//     outside any pool: block on the thread's futex.
//
// Why the fallbacks are opposite. A latch waits for work the waiter itself started, and that
// work may be able to run only on this worker: its own broadcast job, or anything at all in a
// pool of one, such as a scope's spawns in its own deque. Blocking the thread then deadlocks
// (it did, under RLIMIT_AS: design-notes/0002 §6), while running jobs nested finds that work,
// because find_job covers the own deque and the broadcast queue; the price is rayon's, nesting
// and false wait edges, paid only once the process is out of fibers (design-notes/0002,
// invariant 10). A primitive is released by arbitrary user code, not by work this wait
// started: a job run nested under a mutex or event wait could need that very mutex or the
// waiter's own progress, and every nested job becomes a false wait-for edge of this wait (how
// the rustc fork deadlocked; design-notes/0003 §1 step 6 and "Rejected alternatives"). So it
// blocks, inside a blocking section: its private jobs are published for thieves, its job
// token goes to a spare worker where the pool has one, and the deadlock monitor counts it as
// blocked and reports it if nothing can release it.
#include "scheduler/registry.hpp"
#include "scheduler/sleep.hpp"
#include "scheduler/thread_waiter.hpp"
#include "scheduler/worker.hpp"
#include "spindle/detail/wait.hpp"
#include "trace/buffer.hpp"
#include "util/assert.hpp"
#include "util/fork.hpp"

#include <sched.h>

namespace spindle::detail {

namespace {

// Pause iterations a waiter spins on its latch before parking its fiber: about the cost of a
// park and resume (a few hundred ns; one x86 `pause` takes ~20 ns on the dev VM, where 256 of
// them made every park cost 5 us), so spinning never costs more than parking would.
constexpr int k_spin_before_park = 16;
// The same for a thread outside any pool before it blocks on its futex (see wait_latch).
constexpr int k_spin_before_block = 256;

thread_local ThreadWaiter tl_thread_waiter;

void thread_wait(Latch& latch) noexcept {
    ThreadWaiter& tw = tl_thread_waiter;
    tw.arm();
    if (!latch.try_register(&tw))
        return;  // already set
    tw.block();
}

bool try_park_on_latch(Fiber* self, void* arg) noexcept {
    return static_cast<Latch*>(arg)->try_register(&self->waiter);
}

struct ParkArgs {
    bool (*try_park)(Fiber*, void*);
    void* arg;
};

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

ThreadWaiter& this_thread_waiter() noexcept {
    return tl_thread_waiter;
}

// ---- the mechanism ----------------------------------------------------------------------------

void Worker::after_park(Fiber* from, void* arg) noexcept {
    auto* pa = static_cast<ParkArgs*>(arg);
    // Runs on the next fiber, after the switch saved from's context: only now may from be
    // published to wakers.
    SPINDLE_ASSERT(from->state == FiberState::parked, "design-notes/0002, invariant 3");
    // from's context is saved: it may now be published to wakers. If the event already
    // happened, from is ready at once (it resumes after this fiber's next look for work).
    if (!pa->try_park(from, pa->arg)) {
        set_fiber_state(from, FiberState::ready);
        static_cast<Worker*>(from->owner)->make_ready_local(from);
    }
}

bool Worker::park(bool (*try_park)(Fiber*, void*),
                  void* arg,
                  const char* kind,
                  const char* label) noexcept {
    // A ready fiber first: the run loop would resume it next anyway (ready fibers come before
    // jobs), and switching straight to it saves the hop through an idle fiber (two switches
    // instead of four per park/resume round trip). It resumes its job, then carries on with
    // the run loop.
    Fiber* next = take_ready();
    if (next != nullptr) {
        SPINDLE_ASSERT(m_suspended > 0, "design-notes/0002, invariant 5");
        --m_suspended;
        counters.resumes.bump();
    } else {
        next = take_idle_fiber();
        if (next == nullptr)
            return false;
    }
    ++m_suspended;
    counters.parks.bump();
    if (trace != nullptr) [[unlikely]]
        trace_record_copy(this, TraceKind::park, kind, label != nullptr ? label : "");
    ParkArgs pa{try_park, arg};
    switch_to(next, &Worker::after_park, &pa, FiberState::parked);
    if (trace != nullptr) [[unlikely]]
        trace_cold(TraceKind::resume);
    return true;
}

// ---- the two paths ----------------------------------------------------------------------------

void wait_latch(Latch& latch, bool spin) {
    auto* w = static_cast<Worker*>(tl_worker);
    // A thread outside any pool has nothing else to run and its futex sleep and wake-up cost
    // microseconds, so it spins longer: with the workers' 16, an external install() slept on
    // the futex almost every time and took 4 us instead of 1.2 us (bench/core_bench.cpp).
    // Unless its job waits for a worker's wake-up (spin = false): then the job cannot finish
    // within the spin, and on a CPU shared with that worker (under EEVDF the waker keeps the
    // CPU) the spin delayed the job's start by ~8 us (wakeup at 1 worker: 29 -> 21 us).
    const int spins = w != nullptr ? k_spin_before_park : (spin ? k_spin_before_block : 0);
    for (int i = 0; i < spins; ++i) {
        if (latch.probe())
            return;
        cpu_relax();
    }
    if (w == nullptr) {
        thread_wait(latch);  // a thread outside any pool blocks
        return;
    }
    if (w->registry->created_before_fork()) [[unlikely]]
        fatal_worker_used_after_fork("a task waited for a join, scope, install or broadcast");
    if (w->park(&try_park_on_latch, &latch))
        return;  // resumed only once the latch is set
    // No fiber to switch to (none idle, none ready, none could be created): run other jobs
    // nested on this stack until the latch is set (the comment at the top says why).
    while (!latch.probe()) {
        // A fiber made ready meanwhile can serve as the one to switch to, and so can one that
        // went idle while a nested job was parked: retry the park (the awaited work may be
        // that very fiber's).
        if ((w->has_ready_fiber() || w->has_idle_fiber()) && w->park(&try_park_on_latch, &latch))
            return;
        if (Job* j = w->find_job()) {
            // Nesting only as a last resort: no ready and no idle fiber to park on.
            SPINDLE_ASSERT(!w->has_idle_fiber(), "design-notes/0002, invariant 10");
            const Context saved = current_context();
            if (w->trace != nullptr) [[unlikely]]
                w->trace_cold(TraceKind::job_begin);
            execute_job(j);
            if (w->trace != nullptr) [[unlikely]]
                w->trace_cold(TraceKind::job_end);
            set_context(saved);
        } else {
            sched_yield();
        }
    }
}

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
        // No fiber to switch to (none idle, none ready, none could be created): block the
        // thread as a blocking section does (the comment at the top says why, not nested jobs
        // as wait_latch does): publish this worker's private jobs so that thieves can take
        // them, and count the worker as blocked.
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

// ---- waking a parked or blocked waiter -------------------------------------------------------

void wake_waiter(Waiter* w) noexcept {
    if (w->kind == Waiter::Kind::fiber) {
        Fiber* f = static_cast<FiberWaiter*>(w)->fiber;
        static_cast<Worker*>(f->owner)->make_ready(f);
    } else {
        static_cast<ThreadWaiter*>(w)->wake();
    }
}

}  // namespace spindle::detail
