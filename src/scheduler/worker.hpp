// A worker: one OS thread, its deque, its fibers and its place in the sleep protocol.
// How a join runs and how stealing works: design-notes/0001 (worker.cpp). The sleep protocol
// and why no wake-up is lost: sleep.hpp (sleep.cpp). Why fibers never migrate: design-notes/0002;
// parking and its two callers, wait_latch and block_current: park.cpp.
#pragma once

#include "fiber/fiber.hpp"
#include "scheduler/placement.hpp"
#include "spindle/detail/runtime.hpp"
#include "spindle/detail/trace.hpp"
#include "spindle/detail/wait.hpp"

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace spindle::detail {

class Registry;

class Worker final : public WorkerCore {
public:
    // spare_rank: 0 for the pool's regular workers; k + 1 for the k-th spare worker, which
    // takes new jobs only while more than k workers are inside blocking sections.
    Worker(Registry* r,
           std::size_t index,
           std::size_t deque_capacity,
           std::size_t num_workers,
           std::int64_t keep_shared,
           std::atomic<std::uint32_t>* sleepers,
           std::size_t spare_rank);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Creates the OS thread. Throws std::system_error on failure.
    void start(std::size_t stack_size);
    void join_thread() noexcept;

    // Any thread. Makes f (a fiber of this worker) runnable and wakes this worker if it sleeps.
    void make_ready(Fiber* f) noexcept;
    // The acquire/release thread handlers of this worker, on its thread: they alternate,
    // acquire first (design-notes/0006, invariant 7).
    void call_acquire_handler() noexcept;
    void call_release_handler() noexcept;
    // Any thread. Wakes this worker if it sleeps (no-op otherwise). Returns true if it slept.
    bool wake() noexcept;
    // Any thread. Queues a broadcast job that only this worker may run, and wakes it.
    void push_broadcast(Job* job);

    // On this worker's thread only.
    // Parks the running fiber: the worker goes on with a fiber from its cache (or a new one),
    // which calls try_park(self, arg) once self's context is saved. If try_park returns false
    // (the event already happened) self is made ready at once. Returns when self is resumed.
    // Uses a ready fiber when no idle fiber exists and none can be created. Returns false,
    // without parking, when there is no fiber at all to switch to (wait_latch then helps: it
    // runs other jobs nested on the caller's stack until the event happens).
    // kind and label name the wait in the trace (design-notes/0011); label may be short-lived.
    bool park(bool (*try_park)(Fiber* self, void* arg),
              void* arg,
              const char* kind = "join",
              const char* label = nullptr) noexcept;
    // Lets one pending job or ready fiber run before the caller continues. Returns false when
    // there was nothing to run.
    bool yield();
    // Any job available to this worker right now, taking it (own deque, broadcast queue,
    // other workers' deques, the injector), or nullptr.
    Job* find_job() noexcept;
    // find_job() for a worker just woken from its sleep: the injector first.
    Job* find_job_injected_first() noexcept;
    Fiber* running() const noexcept { return m_running; }
    // True when this worker's own fiber lists hold something runnable (this thread only).
    bool has_ready_fiber() const noexcept;
    // True when a fiber of this worker waits idle in its run loop (this thread only).
    bool has_idle_fiber() const noexcept { return m_idle != nullptr; }
    bool is_spare() const noexcept { return m_spare_rank != 0; }
    bool started() const noexcept { return m_thread_started; }
    // True once start() succeeded, also after the thread was joined (written by the starting
    // thread; read by stats() and by thieves, which skip a spare that never started; relaxed,
    // orders nothing: a stale false only skips a deque that sleepers still probe).
    bool ever_started() const noexcept { return m_ever_started.load(std::memory_order_relaxed); }
    // This worker's trace events (PoolOptions::trace), or nullptr. Read after join_thread().
    const TraceBuffer* trace_buffer() const noexcept { return m_trace_buffer.get(); }
    const std::string& name() const noexcept { return m_name; }
    // Records a trace event (the caller tested `trace`): out of line, so that each trace point
    // costs one predictable branch when the pool records no trace.
    [[gnu::cold, gnu::noinline]] void trace_cold(TraceKind kind,
                                                 const char* name = nullptr,
                                                 const char* detail = nullptr,
                                                 std::uint32_t arg = 0) noexcept;

private:
    friend class Registry;
    static void fiber_entry(void* self) noexcept;
    static void* thread_entry(void* self) noexcept;
    void thread_main() noexcept;
    void run_loop() noexcept;
    void run_job(Job* j) noexcept;
    Fiber* take_ready() noexcept;
    // Switches from the running fiber to `to` (this thread), saving and restoring the running
    // fiber's propagated context around the switch. The running fiber becomes `self_becomes`
    // (idle, parked, ready or finished) and `to` running (FiberState, design-notes/0002).
    void switch_to(Fiber* to, AfterSwitch after, void* arg, FiberState self_becomes) noexcept;
    void resume(Fiber* f) noexcept;
    Fiber* take_idle_fiber() noexcept;
    void make_ready_local(Fiber* f) noexcept;
    Job* steal_from_others() noexcept;
    Job* take_broadcast() noexcept;
    // May this worker start new jobs now? (Not when it holds max_fibers suspended fibers, nor
    // when it is a spare worker that no blocking section needs.)
    bool may_take_jobs() const noexcept;
    // ---- the sleep protocol's sleeper side (sleep.cpp; steps S1-S5 in sleep.hpp) ----
    // S3's last look.
    bool has_work_for_sleeper(bool jobs_allowed) noexcept;
    bool has_stealable_work() noexcept;
    // Returns true when it slept (and was woken), false when its last look found work.
    bool sleep_cold(bool jobs_allowed) noexcept;
    std::uint64_t next_random() noexcept;

    static void after_park(Fiber* from, void* arg) noexcept;
    static void after_yield(Fiber* from, void* arg) noexcept;

    Registry* const m_registry;
    pthread_t m_thread{};
    bool m_thread_started = false;
    // PoolOptions::spawn_thread made this worker's thread: join_thread waits for m_exited
    // (set by the thread as the last thing its run() does) instead of pthread_join.
    bool m_external = false;
    std::mutex m_exit_mutex;
    std::condition_variable m_exit_cv;
    bool m_exited = false;
    std::atomic<bool> m_ever_started{false};
    std::string m_name;
    std::string m_overflow_what;
    // Allocated by this worker's thread when it starts in a traced pool; kept after the thread
    // exits, for the exporter (Registry::write_trace).
    std::unique_ptr<TraceBuffer> m_trace_buffer;
    std::size_t m_stack_size = 0;

    // ---- owned by this worker's thread (no synchronisation) ----
    Fiber m_thread_fiber;           // the OS thread's own stack
    Fiber* m_running = nullptr;     // the fiber running now
    std::vector<Fiber*> m_fibers;   // every pooled fiber, for destruction at exit
    Fiber* m_idle = nullptr;        // fibers suspended in their run loop (intrusive stack)
    Fiber* m_ready_head = nullptr;  // FIFO of fibers ready to resume
    Fiber* m_ready_tail = nullptr;
    std::size_t m_suspended = 0;  // fibers suspended in the middle of a job (parked or ready)
    // Between an acquire_thread_handler call and the next release (owner-only; checks
    // design-notes/0006, invariant 7, under SPINDLE_ASSERT).
    bool m_holds_thread = false;
    std::size_t m_max_suspended = 0;  // PoolOptions::max_fibers
    const std::size_t m_spare_rank;
    // Victim groups, nearest first (Registry::victim_levels), fixed when the worker starts.
    std::vector<VictimGroup> m_victims;
    std::uint64_t m_rng;

    // ---- shared ----
    // Ready fibers pushed by other threads (an intrusive Treiber stack). Written by any
    // waker (CAS push, seq_cst) and by this worker (exchange to nullptr, seq_cst: pairs with
    // the pushes; the seq_cst also orders it against m_sleep_word, see sleep.hpp, P3).
    alignas(64) std::atomic<Fiber*> m_remote_ready{nullptr};
    // 1 while this worker is asleep or about to sleep, else 0. Set to 1 only by this worker
    // (sleep_cold, S2 in sleep.hpp); set to 0 by whoever wins the exchange: a waker (who then
    // decrements the registry's sleeper count and notifies) or this worker cancelling its sleep.
    alignas(64) std::atomic<std::uint32_t> m_sleep_word{0};
    // Broadcast jobs for this worker only; m_broadcast_count mirrors the vector's size so the
    // run loop can test it without the lock (written under the lock, read lock-free: seq_cst,
    // pairs with the sleeper's check in has_work_for_sleeper()).
    std::mutex m_broadcast_mutex;
    std::vector<Job*> m_broadcast;
    std::atomic<std::uint32_t> m_broadcast_count{0};

    // ---- deadlock accounting (src/scheduler/deadlock.cpp, design-notes/0005) ----
    // Guards the list of this worker's blocked waits and its blocking-section state. Taken by
    // this worker's thread (blocked_begin/end, section_begin/end) and by the deadlock monitor
    // (reports, DeadlockReport::fail). Lock order: this lock, then a primitive's lock.
    SpinLock m_blocked_lock;
    WaitNode* m_blocked_head = nullptr;  // linked through reg_next/reg_prev
    unsigned m_section_depth = 0;        // nested BlockingSections on this thread
    const char* m_section_label = nullptr;
    WaitNode* m_section_node = nullptr;  // a wait that blocks this thread (no fiber to park on)
    // Blocked waits plus 1 while in a blocking section. Written by this worker's thread under
    // m_blocked_lock (relaxed); read without the lock (relaxed) by the last worker going to
    // sleep, to decide whether the monitor should look: a stale read only delays or adds a look
    // (the monitor re-checks everything under the locks).
    std::atomic<std::uint32_t> m_waiting{0};
    // While this worker sleeps unable to start jobs because it holds PoolOptions::max_fibers
    // suspended fibers: how many it holds; else 0. Written by this worker's thread around such a
    // sleep (relaxed, before its active_down); read by the monitor for the report's cause
    // (after it read m_active == 0, which that decrement produced or preceded).
    std::atomic<std::size_t> m_asleep_at_fiber_limit{0};
    // The kernel's id of this worker's thread, 0 until it runs. Written once by the thread
    // (release), read by the monitor's held-mutex check in debug builds (acquire).
    std::atomic<int> m_tid{0};
};

}  // namespace spindle::detail
