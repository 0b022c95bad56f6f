// The seam between the header templates of the public API and the scheduler in src/.
// Everything here is internal: users include <spindle/spindle.hpp> and never name detail::.
#pragma once

#include "spindle/detail/config.hpp"
#include "spindle/detail/deque.hpp"
#include "spindle/detail/job.hpp"
#include "spindle/topology.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>

namespace spindle::detail {

class Registry;     // a pool's shared state (src/scheduler/registry.hpp)
class TraceBuffer;  // a worker's trace events (src/trace/buffer.hpp)

// A statistics counter of one worker: written only by that worker's thread, read by any thread
// (ThreadPool::stats). A relaxed load and store, not an RMW: the owner is the only writer, so
// no increment is lost, and a reader sees some recent value. Orders nothing.
struct StatCounter {
    std::atomic<std::uint64_t> value{0};
    void bump(std::uint64_t n = 1) noexcept {
#if defined(__x86_64__) && !defined(SPINDLE_TSAN)
        // The same load and store as one instruction, a non-locked `add` to memory (3
        // instructions otherwise; join's fast path bumps one counter): with a single writer
        // nothing can come between its load and its store, and its store is one aligned
        // 8-byte write, which readers see whole. ThreadSanitizer does not see inside asm, so
        // its build keeps the portable form.
        asm volatile("addq %1, %0" : "+m"(value) : "er"(n));
#else
        value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
#endif
    }
    std::uint64_t read() const noexcept {
        return value.load(std::memory_order_relaxed);
    }
};

// The per-worker counters behind ThreadPool::stats() (spindle/pool.hpp says what each counts).
// A join whose b its creator took back and ran is one bump of inline_joins, a job both created
// and run (stats() adds it to both); a join job that escaped (stolen, or taken by another fiber)
// is counted in jobs_created by its creator and in jobs_run by whoever runs it.
struct WorkerCounters {
    StatCounter jobs_created;
    StatCounter jobs_run;
    StatCounter inline_joins;
    // Indexed by StealLevel (spindle/topology.hpp): the level of the victim group the attempt
    // was made in. stats() sums them for steals_tried and steals_succeeded, so the split costs
    // the steal loop nothing.
    StatCounter steals_tried[k_steal_levels];
    StatCounter steals_succeeded[k_steal_levels];
    StatCounter parks;
    StatCounter resumes;
    StatCounter sleeps;
    StatCounter wakeups;
    StatCounter fibers_created;
    StatCounter search_ns;
};

// The part of a worker that the inlined join fast path touches. The full Worker
// (src/scheduler/worker.hpp) derives from it.
struct WorkerCore {
    WorkerCore(Registry* r,
               std::size_t i,
               std::size_t deque_capacity,
               std::size_t num_workers,
               std::int64_t keep_shared,
               std::atomic<std::uint32_t>* sleepers_count)
        : deque(deque_capacity, num_workers == 1, num_workers == 1 ? 0 : keep_shared),
          registry(r),
          index(i),
          sleepers(sleepers_count) {}

    Deque deque;
    Registry* const registry;
    const std::size_t index;
    // The registry's count of sleeping workers (see Registry::m_sleepers).
    std::atomic<std::uint32_t>* const sleepers;
    // Fiber switches away from any fiber of this worker so far (Worker::switch_to). Owner-only:
    // written and read by this worker's thread. scope() compares it before and after its body
    // to know that every job above a deque position is one of its own spawns.
    std::uint64_t switches = 0;
    // This worker's trace events, or nullptr when the pool records no trace (PoolOptions::trace,
    // design-notes/0011). Owner-only: set by the worker's thread before its first job and read
    // only there (every trace point tests it: the one branch tracing costs when off); the
    // buffer is read by the thread that joined the worker, after the join.
    TraceBuffer* trace = nullptr;
    // Statistics (ThreadPool::stats); owner-written, on their own cache lines.
    alignas(64) WorkerCounters counters;
};

// The worker running on this OS thread, or nullptr. Written once by the worker thread itself
// before its first job and cleared when it exits; fibers never migrate between threads, so a
// value read on a fiber stays right for that fiber's whole life (design-notes/0002).
SPINDLE_API extern constinit thread_local WorkerCore* tl_worker SPINDLE_TLS_MODEL;

inline WorkerCore* current_worker() noexcept {
    return tl_worker;
}

// Cold paths, out of line: wake_one_sleeper in src/scheduler/sleep.cpp, push_spill in
// src/scheduler/worker.cpp.
SPINDLE_API void wake_one_sleeper(WorkerCore* w) noexcept;
SPINDLE_API void push_spill(WorkerCore* w,
                            Job* job);  // deque full: move half to the injector, then push

// Called after a push or pop published jobs into an empty shared part: a worker about to
// sleep may have found nothing to steal just before, so check for sleepers. This is step P1
// of the sleep protocol, whose two sides and proof are written out at the top of
// src/scheduler/sleep.hpp (everything else of it is in sleep.cpp); it stays here, inline,
// because the join fast path calls it (design-notes/0001 "Why no wake-up is lost").
inline void notify_published(WorkerCore* w) noexcept {
#ifdef SPINDLE_TSAN
    // An RMW reads the latest value and orders like the fence below; TSan models it.
    if (w->sleepers->fetch_add(0, std::memory_order_seq_cst) != 0)
        wake_one_sleeper(w);
#else
    // WakeFence (seq_cst): orders the deque's new split before the load of the sleeper
    // count; pairs with SleepFence in Worker::sleep_cold() (S3, src/scheduler/sleep.cpp).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (w->sleepers->load(std::memory_order_relaxed) != 0)
        wake_one_sleeper(w);
#endif
}

// Pushes job on the current worker's deque (spilling half of a full deque to the injector).
// push_local counts a new job; push_back_local puts back one taken by mistake, and pushes
// join's job, which pop_join counts.
inline void push_back_local(WorkerCore* w, Job* job) {
    const Pushed p = w->deque.push(job);
    if (p == Pushed::pushed) [[likely]]
        return;
    if (p == Pushed::full)
        push_spill(w, job);
    else
        notify_published(w);
}
inline void push_local(WorkerCore* w, Job* job) {
    w->counters.jobs_created.bump();
    push_back_local(w, job);
}

// Pops from the current worker's deque, waking a sleeper if the pop published jobs that
// thieves asked for.
inline Job* pop_local(WorkerCore* w) noexcept {
    bool published_into_empty = false;
    Job* job = w->deque.pop(&published_into_empty);
    if (published_into_empty) [[unlikely]]
        notify_published(w);
    return job;
}

// pop_join when the fast test fails: pops as pop_local does (answering requests, racing
// thieves for a shared job), then decides as pop_join does. Out of line (worker.cpp), so that
// nothing of join's fast path lives across a call.
SPINDLE_API bool pop_join_slow(WorkerCore* w, Job* job) noexcept;

// Takes join's job back from the current worker's deque if it is still the newest entry: one
// inline join, created and run here (see WorkerCounters). Returns false when it was stolen, or
// taken by another fiber of this worker: then it escaped, and counts as created.
inline bool pop_join(WorkerCore* w, Job* job) noexcept {
    if (!w->deque.pop_if_newest(job)) [[unlikely]]
        return pop_join_slow(w, job);
    w->counters.inline_joins.bump();
    return true;
}

inline void wait_for(Latch& latch) {
    if (!latch.probe())
        wait_latch(latch);
}

// Where a scope stands when its body starts, for run_own_spawns.
struct ScopeMark {
    std::uint64_t switches;  // the worker's fiber switches so far
    std::int64_t bottom;     // the worker's deque bottom
};
inline ScopeMark scope_mark(const WorkerCore* w) noexcept {
    return {w->switches, w->deque.owner_bottom()};
}

// After a scope's body: runs the scope's own spawns that nobody stole, here on this stack and
// newest first, instead of parking while the run loop runs them (rayon does the same; a park
// and resume costs ~0.5 us per scope). Only jobs is_mine(job) accepts, and only while this
// worker has not switched fibers since `mark` (then no other fiber's job can sit above ours),
// so nothing unrelated ever runs nested on this stack (design-notes/0002). A spawn that parks
// switches fibers and ends it. Stops when `done` is set.
template <class IsMine>
void run_own_spawns(WorkerCore* w, ScopeMark mark, Latch& done, IsMine&& is_mine) {
    while (!done.probe() && w->switches == mark.switches && w->deque.owner_bottom() > mark.bottom) {
        Job* j = pop_local(w);
        if (j == nullptr)
            break;
        if (!is_mine(j)) {  // e.g. a detached spawn of the body: leave it
            push_back_local(w, j);
            break;
        }
        w->counters.jobs_run.bump();
        execute_job(j);
    }
}

// Registry entry points used by templates.
SPINDLE_API Registry* global_registry();
SPINDLE_API std::size_t registry_num_threads(const Registry* r) noexcept;
// Returns true when the job went to an idle pool and waits for a worker's futex wake-up (then
// a thread that waits for it should block at once: see wait_latch). caller_waits: the caller
// blocks until the job is done (install from outside); into an idle pool of bound workers the
// one on the caller's CPU is woken first (Registry::wake_one_for_waiter).
SPINDLE_API bool inject(Registry* r, Job* job, bool caller_waits = false);
// Pushes on the current worker if it belongs to r, else injects.
inline void submit(Registry* r, Job* job) {
    WorkerCore* w = current_worker();
    if (w != nullptr && w->registry == r)
        push_local(w, job);
    else
        inject(r, job);
}
SPINDLE_API void detached_begin(Registry* r) noexcept;
SPINDLE_API void detached_end(Registry* r) noexcept;
SPINDLE_API void detached_exception(Registry* r, std::exception_ptr e) noexcept;
// The NUMA node (0-based, as the pool's topology numbers them) that worker `worker` of r runs
// on and keeps its memory on (design-notes/0010).
SPINDLE_API int registry_node_of(const Registry* r, std::size_t worker) noexcept;
// Memory for one WorkerLocal slot of `worker`: at least `bytes`, aligned to `align` (a power of
// two), placed on that worker's node where the OS allows. On a machine where memory can be
// placed per node the slot is rounded up to whole pages (so that binding it moves nobody
// else's data): *granted receives the size and alignment actually used, which
// free_worker_local needs. Throws std::bad_alloc.
SPINDLE_API void* allocate_worker_local(Registry* r,
                                        std::size_t bytes,
                                        std::size_t align,
                                        std::size_t worker,
                                        std::size_t* granted_align);
SPINDLE_API void free_worker_local(void* p, std::size_t align) noexcept;
// jobs[i] runs on worker i; n must equal the registry's thread count.
SPINDLE_API void submit_broadcast(Registry* r, Job* const* jobs, std::size_t n);

}  // namespace spindle::detail
