#include "scheduler/worker.hpp"

#include "fiber/stack.hpp"
#include "scheduler/registry.hpp"
#include "scheduler/thread_waiter.hpp"
#include "spindle/detail/lock_order.hpp"
#include "trace/buffer.hpp"
#include "util/assert.hpp"
#include "util/fatal.hpp"
#include "util/fork.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <system_error>

namespace spindle::detail {

constinit thread_local WorkerCore* tl_worker SPINDLE_TLS_MODEL = nullptr;

namespace {

// Pause iterations a waiter spins on its latch before parking its fiber: about the cost of a
// park and resume (a few hundred ns; one x86 `pause` takes ~20 ns on the dev VM, where 256 of
// them made every park cost 5 us), so spinning never costs more than parking would.
constexpr int k_spin_before_park = 16;
// The same for a thread outside any pool before it blocks on its futex (see wait_latch).
constexpr int k_spin_before_block = 256;
// Rounds of searching for work with a pause in between, before the rounds with sched_yield;
// a worker announces that it goes to sleep once its search took Tuning::idle_ns.
constexpr unsigned k_pause_rounds = 16;

std::uint64_t now_ns() noexcept {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

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

}  // namespace

ThreadWaiter& this_thread_waiter() noexcept {
    return tl_thread_waiter;
}

void wake_waiter(Waiter* w) noexcept {
    if (w->kind == Waiter::Kind::fiber) {
        Fiber* f = static_cast<FiberWaiter*>(w)->fiber;
        static_cast<Worker*>(f->owner)->make_ready(f);
    } else {
        static_cast<ThreadWaiter*>(w)->wake();
    }
}

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
    // No fiber to switch to (none idle, none ready, none could be created): do what rayon
    // does and run other jobs nested on this stack until the latch is set. Blocking the
    // thread instead could deadlock when the awaited work can only run on this worker.
    while (!latch.probe()) {
        // A fiber made ready meanwhile can serve as the one to switch to: retry the park (the
        // awaited work may be that very fiber's).
        if (w->has_ready_fiber() && w->park(&try_park_on_latch, &latch))
            return;
        if (Job* j = w->find_job()) {
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

bool pop_join_slow(WorkerCore* w, Job* job) noexcept {
    Job* got = pop_local(w);
    if (got == job) {
        w->counters.inline_joins.bump();
        return true;
    }
    w->counters.jobs_created.bump();
    if (got != nullptr)
        push_back_local(w, got);  // another fiber's job: leave it where it was
    return false;
}

void wake_one_sleeper(WorkerCore* w) noexcept {
    w->registry->wake_one_near(w->index);
}

void push_spill(WorkerCore* core, Job* job) {
    // The deque is full: move its older half to the injector (tokio's and Go's overflow
    // policy), keeping the newest jobs local where they are hot in cache.
    Job* moved[64];
    core->deque.publish_all();
    std::size_t remaining = core->deque.capacity() / 2;
    while (remaining > 0) {
        std::size_t n = 0;
        while (n < 64 && n < remaining) {
            Job* j = nullptr;
            const Steal s = core->deque.steal(&j);
            if (s == Steal::success)
                moved[n++] = j;
            else if (s == Steal::empty)
                break;
        }
        if (n == 0)
            break;
        try {
            core->registry->inject_bulk(moved, n);
        } catch (const std::bad_alloc&) {
            // The injector could not grow: these jobs are out of the deque already, so run
            // them here rather than lose them (their joiners find their latches set).
            const Context saved = current_context();
            core->counters.jobs_run.bump(n);
            for (std::size_t i = 0; i < n; ++i)
                execute_job(moved[i]);
            set_context(saved);
        }
        remaining -= n;
    }
    if (const Pushed p = core->deque.push(job); p != Pushed::full) {
        if (p == Pushed::published_into_empty)
            notify_published(core);
        return;
    }
    try {
        core->registry->inject(job);
    } catch (const std::bad_alloc&) {
        const Context saved = current_context();
        core->counters.jobs_run.bump();
        execute_job(job);
        set_context(saved);
    }
}

// ---- Worker ---------------------------------------------------------------------------------

Worker::Worker(Registry* r,
               std::size_t index,
               std::size_t deque_capacity,
               std::size_t num_workers,
               std::int64_t keep_shared,
               std::atomic<std::uint32_t>* sleepers,
               std::size_t spare_rank)
    : WorkerCore(r, index, deque_capacity, num_workers, keep_shared, sleepers),
      m_registry(r),
      m_spare_rank(spare_rank),
      m_rng(0x9e3779b97f4a7c15ULL * (index + 1)) {}

Worker::~Worker() {
    join_thread();
}

void Worker::start(std::size_t stack_size) {
    m_stack_size = stack_size;
    const PoolOptions& o = m_registry->options();
    m_name = o.thread_name ? o.thread_name(index) : "spindle-" + std::to_string(index);
    m_overflow_what = "spindle worker " + std::to_string(index) + " (" + m_name + ")";
    m_victims = m_registry->victim_levels(index);
    m_max_suspended = m_registry->max_fibers();

    if (o.spawn_thread) {
        // The embedder makes the thread (rayon's spawn_handler); it calls run() on it once.
        m_external = true;
        m_exited = false;
        o.spawn_thread(index, [this] {
            thread_main();
            std::lock_guard<std::mutex> lock(m_exit_mutex);
            m_exited = true;
            m_exit_cv.notify_all();  // under the lock: join_thread may free *this right after
        });
        m_thread_started = true;
        m_ever_started.store(true, std::memory_order_relaxed);
        return;
    }

    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    // glibc adds the guard below the requested size (checked on glibc 2.36), so the thread's
    // usable stack equals a fiber's.
    if (rc == 0)
        rc = pthread_attr_setstacksize(&attr, round_stack_size(stack_size));
    if (rc == 0)
        rc = pthread_attr_setguardsize(&attr, k_guard_size);
    if (rc == 0)
        rc = pthread_create(&m_thread, &attr, &Worker::thread_entry, this);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        throw std::system_error(rc, std::generic_category(),
                                "spindle: cannot create worker thread " + std::to_string(index) +
                                    " with a " + std::to_string(stack_size) + "-byte stack");
    m_thread_started = true;
    m_ever_started.store(true, std::memory_order_relaxed);
}

void Worker::join_thread() noexcept {
    if (m_thread_started && m_external) {
        std::unique_lock<std::mutex> lock(m_exit_mutex);
        m_exit_cv.wait(lock, [&] { return m_exited; });
        m_thread_started = false;
        return;
    }
    if (m_thread_started) {
        pthread_join(m_thread, nullptr);
        m_thread_started = false;
    }
}

void* Worker::thread_entry(void* self) noexcept {
    static_cast<Worker*>(self)->thread_main();
    return nullptr;
}

void Worker::thread_main() noexcept {
    tl_worker = this;
    pthread_setname_np(pthread_self(), m_name.substr(0, 15).c_str());
    // release: the monitor that reads it (acquire) may then read m_name, written by start().
    m_tid.store(static_cast<int>(::syscall(SYS_gettid)), std::memory_order_release);
    Fiber::init_thread_fiber(m_thread_fiber, this);
    m_running = &m_thread_fiber;
    if (m_registry->tracing() && m_trace_buffer == nullptr) {
        try {
            m_trace_buffer = std::make_unique<TraceBuffer>(m_registry->trace_capacity());
        } catch (const std::bad_alloc&) {
            std::fprintf(stderr, "spindle: warning: no memory for worker %zu's trace buffer\n",
                         index);
        }
    }
    trace = m_trace_buffer.get();
    OverflowGuard guard = enable_overflow_detection(m_overflow_what.c_str());
    // Bind first, then place: first touch of what this thread allocates from now on (fiber
    // stacks) lands on its node; the deque's buffer, allocated by the pool's creator, is moved
    // there (a no-op on one node; design-notes/0010 §4).
    const WorkerPlacement& placement = m_registry->placement();
    placement.on_worker_start(index);
    placement.place_memory(MemoryKind::deque_buffer, deque.buffer(), deque.buffer_bytes(), index);
    const PoolOptions& o = m_registry->options();
    if (o.start_handler) {
        try {
            o.start_handler(index);
        } catch (...) {
            m_registry->detached_exception(std::current_exception());
        }
    }

    m_registry->call_handler(o.acquire_thread_handler);
    run_loop();  // returns on the thread's own fiber, once the pool terminates
    m_registry->call_handler(o.release_thread_handler);

    if (o.exit_handler) {
        try {
            o.exit_handler(index);
        } catch (...) {
            m_registry->detached_exception(std::current_exception());
        }
    }
    // Every pooled fiber is suspended in its run loop, holding nothing: free them.
    for (Fiber* f : m_fibers)
        Fiber::destroy(f);
    m_fibers.clear();
    m_idle = nullptr;
    disable_overflow_detection(guard);
    trace = nullptr;
    tl_worker = nullptr;
}

void Worker::fiber_entry(void* self) noexcept {
    static_cast<Worker*>(self)->run_loop();
    fatal("a worker's pooled fiber left its run loop");
}

void Worker::run_loop() noexcept {
    unsigned idle = 0;
    std::uint64_t search_start = 0;  // when this search for work began (idle > 0)
    bool woken = false;              // the last pass slept and was woken
    for (;;) {
        if (Fiber* f = take_ready()) {
            if (idle != 0) {
                counters.search_ns.bump(now_ns() - search_start);
                if (trace != nullptr) [[unlikely]]
                    trace_cold(TraceKind::search_end);
            }
            resume(f);
            idle = 0;
            continue;
        }
        const bool jobs_allowed = may_take_jobs();
        if (jobs_allowed) {
            // Woken from its sleep, this worker's own deque is empty, and the likeliest reason
            // is a job from outside: look at the injector first (design-notes/0001 §3).
            if (Job* j = woken ? find_job_injected_first() : find_job()) {
                if (idle != 0) {
                    counters.search_ns.bump(now_ns() - search_start);
                    if (trace != nullptr) [[unlikely]]
                        trace_cold(TraceKind::search_end);
                }
                run_job(j);
                idle = 0;
                continue;
            }
        }
        woken = false;
        if (m_suspended == 0 && m_registry->terminating())
            break;
        if (idle == 0) {
            search_start = now_ns();
            if (trace != nullptr) [[unlikely]]
                trace_cold(TraceKind::search_begin);
        }
        ++idle;
        // Keep looking for the idle budget, a time (design-notes/0001 "Tuning"): a round count
        // took 30 us on a quiet machine and milliseconds on a loaded one, where each
        // sched_yield gives the CPU away.
        const Tuning& tuning = m_registry->tuning();
        if (tuning.idle_rounds != 0 ? idle < tuning.idle_rounds
                                    : now_ns() - search_start < tuning.idle_ns) {
            if (idle < k_pause_rounds)
                cpu_relax();
            else
                sched_yield();
            continue;
        }
        if (!jobs_allowed) {
            // Jobs this worker may not start now: leave none private (a thief could not get
            // at them and this worker will not pop them), and pass the work on.
            deque.publish_all();
            if (has_stealable_work())
                notify_published(this);
        }
        counters.search_ns.bump(now_ns() - search_start);
        if (trace != nullptr) [[unlikely]]
            trace_cold(TraceKind::search_end);
        woken = sleep_cold(jobs_allowed);
        idle = 0;
    }
    if (m_running != &m_thread_fiber) {
        // Let the thread's own fiber (idle in its loop) see the exit and return to
        // thread_main; this fiber is never resumed again.
        switch_to(&m_thread_fiber, nullptr, nullptr, FiberState::finished);
        fatal("a finished worker fiber was resumed");
    }
}

void Worker::run_job(Job* j) noexcept {
    if (trace != nullptr) [[unlikely]]
        trace_cold(TraceKind::job_begin);
    execute_job(j);
    if (trace != nullptr) [[unlikely]]
        trace_cold(TraceKind::job_end);
    // Between jobs a worker runs with no context: the job's bindings may be freed once it
    // returns, and handlers called from the run loop must not see them.
    set_context(Context{});
    // A job that recursed deep left pages behind: give them back (once per excursion below
    // the high-water mark, design-notes/0002 "Stacks").
    if (m_running->st.deep) [[unlikely]]
        trim_deep_stack(m_running);
}

void Worker::switch_to(Fiber* to, AfterSwitch after, void* arg, FiberState self_becomes) noexcept {
    // Each fiber keeps its own propagated context across the switch (design-notes/0006).
    Fiber* self = m_running;
    static_assert(sizeof(Context) <= sizeof(self->scheduler_data));
    if (self->stack.canary != nullptr && *self->stack.canary != k_stack_canary) [[unlikely]]
        fatal(
            "stack overflow in %s: a fiber overwrote the canary at the bottom of its %zu-byte "
            "stack (it has no guard: SPINDLE_UNGUARDED_STACKS=1 and the process already holds "
            "%zu guarded stacks, design-notes/0002); raise PoolOptions::stack_size",
            m_overflow_what.c_str(), self->stack.size, guarded_stack_budget());
    const Context mine = current_context();
    std::memcpy(self->scheduler_data, &mine, sizeof mine);
    // The exporter closes self's open slices here (design-notes/0011, step 4).
    if (trace != nullptr) [[unlikely]]
        trace_cold(TraceKind::fiber_switch);
    set_fiber_state(self, self_becomes);
    set_fiber_state(to, FiberState::running);
    m_running = to;
    ++switches;
    switch_fiber(self, to, after, arg);
    Context back;
    std::memcpy(&back, self->scheduler_data, sizeof back);
    set_context(back);
}

Fiber* Worker::take_ready() noexcept {
    // Remote wake-ups are appended behind the local ones every time, so fibers that keep
    // making each other ready locally cannot starve them.
    if (m_remote_ready.load(std::memory_order_relaxed) != nullptr) {
        // seq_cst: pairs with the CAS in make_ready(); the fibers' saved state is visible.
        Fiber* list = m_remote_ready.exchange(nullptr, std::memory_order_seq_cst);
        // The stack holds them newest first: reverse into FIFO order.
        Fiber* reversed = nullptr;
        while (list != nullptr) {
            Fiber* next = list->next;
            list->next = reversed;
            reversed = list;
            list = next;
        }
        while (reversed != nullptr) {
            Fiber* next = reversed->next;
            make_ready_local(reversed);
            reversed = next;
        }
    }
    Fiber* f = m_ready_head;
    if (f != nullptr) {
        m_ready_head = f->next;
        if (m_ready_head == nullptr)
            m_ready_tail = nullptr;
        f->next = nullptr;
    }
    return f;
}

bool Worker::has_ready_fiber() const noexcept {
    return m_ready_head != nullptr || m_remote_ready.load(std::memory_order_relaxed) != nullptr;
}

void Worker::make_ready_local(Fiber* f) noexcept {
    f->next = nullptr;
    if (m_ready_tail != nullptr)
        m_ready_tail->next = f;
    else
        m_ready_head = f;
    m_ready_tail = f;
}

void Worker::make_ready(Fiber* f) noexcept {
    // A wake-up: only a parked fiber may be made ready, once per park (a second wake-up of the
    // same park would run its task twice).
    SPINDLE_ASSERT(f->state == FiberState::parked, "design-notes/0002, invariant 4");
    set_fiber_state(f, FiberState::ready);
    if (tl_worker == this) {
        make_ready_local(f);
        return;
    }
    Registry::ForeignCall guard(*m_registry);
    Fiber* head = m_remote_ready.load(std::memory_order_relaxed);
    do {
        f->next = head;
        // seq_cst: publishes f (pairs with the exchange in take_ready) and is ordered before
        // the exchange of m_sleep_word in wake() (pairs with sleep_cold's re-check).
    } while (!m_remote_ready.compare_exchange_weak(head, f, std::memory_order_seq_cst,
                                                   std::memory_order_relaxed));
    wake();
}

bool Worker::wake() noexcept {
    // seq_cst: the waker's work was published before this; see sleep_cold() for the pairing.
    // A 0 here means the worker is not asleep (or not yet: then its re-check sees the work).
    if (m_sleep_word.load(std::memory_order_seq_cst) == 0)
        return false;
    // Count the worker as running before it can run, so that no wake-up in flight looks like
    // a deadlock (design-notes/0005); undone if it was not asleep after all.
    m_registry->active_up();
    if (m_sleep_word.exchange(0, std::memory_order_seq_cst) == 1) {
        m_registry->sleepers().fetch_sub(1, std::memory_order_seq_cst);
        m_sleep_word.notify_one();
        return true;
    }
    m_registry->active_down();
    return false;
}

void Worker::resume(Fiber* f) noexcept {
    --m_suspended;
    counters.resumes.bump();
    Fiber* self = m_running;
    self->next = m_idle;  // self goes idle, suspended right here in its run loop
    m_idle = self;
    switch_to(f, nullptr, nullptr, FiberState::idle);
}

Fiber* Worker::take_idle_fiber() noexcept {
    if (Fiber* f = m_idle) {
        m_idle = f->next;
        f->next = nullptr;
        return f;
    }
    Fiber* f = nullptr;
    try {
        if (m_fibers.size() == m_fibers.capacity())  // geometric: 100k fibers, not 100k copies
            m_fibers.reserve(2 * m_fibers.size() + 16);
        f = Fiber::create(m_stack_size, &Worker::fiber_entry, this, this);
        m_registry->placement().place_memory(MemoryKind::fiber_stack, f->stack.bottom,
                                             f->stack.size, index);
        m_fibers.push_back(f);
        counters.fibers_created.bump();
        if (trace != nullptr) [[unlikely]]
            trace_cold(TraceKind::fiber_create);
    } catch (const std::exception& e) {
        if (f != nullptr)
            Fiber::destroy(f);
        static std::atomic<bool> warned{false};
        if (!warned.exchange(true))
            std::fprintf(stderr,
                         "spindle: warning: cannot create a fiber (%s); waits on worker %zu "
                         "run other jobs nested on their stack instead of parking\n",
                         e.what(), index);
        return nullptr;
    }
    return f;
}

void Worker::after_park(Fiber* from, void* arg) noexcept {
    auto* pa = static_cast<ParkArgs*>(arg);
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

void Worker::after_yield(Fiber* from, void* arg) noexcept {
    auto* w = static_cast<Worker*>(from->owner);
    w->make_ready_local(from);
    if (arg != nullptr)
        w->run_job(static_cast<Job*>(arg));
}

bool Worker::yield() {
    if (Fiber* f = take_ready()) {
        // Net zero: f leaves the suspended set, the caller joins it.
        counters.resumes.bump();
        switch_to(f, &Worker::after_yield, nullptr, FiberState::ready);
        return true;
    }
    Job* j = find_job();
    if (j == nullptr)
        return false;
    Fiber* next = take_idle_fiber();
    if (next == nullptr) {
        const Context saved = current_context();
        run_job(j);  // no fiber to spare: run it nested, as rayon does
        set_context(saved);
        return true;
    }
    ++m_suspended;
    switch_to(next, &Worker::after_yield, j, FiberState::ready);
    return true;
}

std::uint64_t Worker::next_random() noexcept {
    // xorshift64*: cheap, per worker, only used to pick where a victim search starts.
    m_rng ^= m_rng >> 12;
    m_rng ^= m_rng << 25;
    m_rng ^= m_rng >> 27;
    return m_rng * 0x2545F4914F6CDD1DULL;
}

Job* Worker::take_broadcast() noexcept {
    SPINDLE_LOCK_ORDER_GUARD("Worker::m_broadcast_mutex", &m_broadcast_mutex);
    std::lock_guard<std::mutex> lock(m_broadcast_mutex);
    if (m_broadcast.empty())
        return nullptr;
    Job* j = m_broadcast.back();
    m_broadcast.pop_back();
    m_broadcast_count.fetch_sub(1, std::memory_order_relaxed);
    return j;
}

void Worker::push_broadcast(Job* job) {
    {
        SPINDLE_LOCK_ORDER_GUARD("Worker::m_broadcast_mutex", &m_broadcast_mutex);
        std::lock_guard<std::mutex> lock(m_broadcast_mutex);
        m_broadcast.push_back(job);
        // seq_cst: pairs with the load in has_work_for_sleeper().
        m_broadcast_count.fetch_add(1, std::memory_order_seq_cst);
    }
    wake();
}

Job* Worker::steal_from_others() noexcept {
    for (const VictimGroup& group : m_victims) {
        const std::size_t n = group.workers.size();
        const auto level = static_cast<std::size_t>(group.level);
        const std::size_t start = static_cast<std::size_t>(next_random() % n);
        for (std::size_t i = 0; i < n; ++i) {
            Worker& victim = m_registry->worker(group.workers[(start + i) % n]);
            // A spare worker that never started has never pushed a job (a stale false only
            // skips a deque that sleepers still probe, has_stealable_work).
            if (victim.is_spare() && !victim.ever_started())
                continue;
            for (int attempt = 0; attempt < 4; ++attempt) {
                Job* j = nullptr;
                const Steal s = victim.deque.steal(&j);
                counters.steals_tried[level].bump();
                if (s == Steal::success) {
                    counters.steals_succeeded[level].bump();
                    if (trace != nullptr) [[unlikely]]
                        trace_cold(TraceKind::steal, nullptr, nullptr,
                                   static_cast<std::uint32_t>(victim.index));
                    // More left behind: let another sleeper help (wake-up chaining).
                    if (!victim.deque.looks_empty() &&
                        sleepers->load(std::memory_order_relaxed) != 0)
                        m_registry->wake_one_near(index);
                    return j;
                }
                if (s == Steal::empty)
                    break;
            }
        }
    }
    return nullptr;
}

Job* Worker::find_job_injected_first() noexcept {
    if (Job* j = m_registry->take_injected(index)) {
        counters.jobs_run.bump();
        return j;
    }
    return find_job();
}

Job* Worker::find_job() noexcept {
    Job* j = pop_local(this);
    if (j == nullptr && m_broadcast_count.load(std::memory_order_relaxed) != 0)
        j = take_broadcast();
    if (j == nullptr)
        j = steal_from_others();
    if (j == nullptr)
        j = m_registry->take_injected(index);
    if (j != nullptr)
        counters.jobs_run.bump();  // every caller runs what it found
    return j;
}

bool Worker::may_take_jobs() const noexcept {
    if (m_suspended >= m_max_suspended) [[unlikely]]
        return false;
    return m_spare_rank == 0 || m_registry->in_sections() >= m_spare_rank;
}

bool Worker::has_stealable_work() noexcept {
    if (m_broadcast_count.load(std::memory_order_seq_cst) != 0)
        return true;
    if (m_registry->has_injected())
        return true;
    for (std::size_t i = 0; i < m_registry->num_slots(); ++i)
        if (i != index && !m_registry->worker(i).deque.looks_empty())
            return true;
    return !deque.looks_empty();
}

bool Worker::has_work_for_sleeper(bool jobs_allowed) noexcept {
    if (m_ready_head != nullptr)
        return true;
    if (m_remote_ready.load(std::memory_order_seq_cst) != nullptr)
        return true;
    if (m_registry->terminating())
        return true;
    // A worker that may not take jobs sleeps until one of its fibers is made ready (a
    // make_ready wakes it directly) or it is admitted again (wake_one considers it then).
    if (!jobs_allowed)
        return may_take_jobs() && has_stealable_work();
    return has_stealable_work();
}

// The sleeper's half of the protocol (design-notes/0001, "Why no wake-up is lost"):
//   1. sleepers += 1 (seq_cst)          -- visible to pushers that check for sleepers
//   2. m_sleep_word = 1 (seq_cst)       -- visible to wakers that scan for a sleeper
//   3. SleepFence, then look at every source of work once more
//   4. nothing: wait until a waker moves m_sleep_word from 1 to 0.
// A publisher first publishes its work, then (seq_cst fence or RMW) reads sleepers or
// exchanges a worker's m_sleep_word. In the single total order of seq_cst operations either
// the publisher's read comes after step 1/2 (it wakes us) or our step 3 comes after the
// publication (we see the work). Whoever moves m_sleep_word from 1 to 0 decrements sleepers:
// a waker (exchange in wake()), or the sleeper itself when step 3 finds work and it cancels.
// So sleepers is decremented exactly once per increment and a woken worker is never counted
// as asleep.
bool Worker::sleep_cold(bool jobs_allowed) noexcept {
    if (m_registry->created_before_fork()) [[unlikely]]
        fatal_worker_used_after_fork("the worker ran out of work");
    std::atomic<std::uint32_t>& count = m_registry->sleepers();
    count.fetch_add(1, std::memory_order_seq_cst);
    m_sleep_word.store(1, std::memory_order_seq_cst);
#ifndef SPINDLE_TSAN
    // SleepFence: pairs with WakeFence in notify_published(); orders step 1 before the relaxed
    // deque probes below.
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
    if (has_work_for_sleeper(jobs_allowed)) {
        if (m_sleep_word.exchange(0, std::memory_order_seq_cst) == 1)
            count.fetch_sub(1, std::memory_order_seq_cst);
        return false;
    }
    // Committed: from here on only a waker ends the sleep, and it counts this worker as
    // running again (active_up) before it does.
    const bool at_fiber_limit = !jobs_allowed && m_suspended >= m_max_suspended;
    if (at_fiber_limit)
        m_asleep_at_fiber_limit.store(m_suspended, std::memory_order_relaxed);
    m_registry->active_down();
    counters.sleeps.bump();
    if (trace != nullptr) [[unlikely]]
        trace_cold(TraceKind::sleep);
    const PoolOptions& o = m_registry->options();
    m_registry->call_handler(o.release_thread_handler);
    while (m_sleep_word.load(std::memory_order_acquire) == 1)
        m_sleep_word.wait(1, std::memory_order_acquire);
    counters.wakeups.bump();
    if (trace != nullptr) [[unlikely]]
        trace_cold(TraceKind::wake);
    if (at_fiber_limit)
        m_asleep_at_fiber_limit.store(0, std::memory_order_relaxed);
    m_registry->call_handler(o.acquire_thread_handler);
    return true;
}

void Worker::trace_cold(TraceKind kind,
                        const char* name,
                        const char* detail,
                        std::uint32_t arg) noexcept {
    trace->record(kind, name, detail, arg, m_running);
}

void trace_record(WorkerCore* w,
                  TraceKind kind,
                  const char* name,
                  const char* detail,
                  std::uint32_t arg) noexcept {
    static_cast<Worker*>(w)->trace_cold(kind, name, detail, arg);
}

void trace_record_copy(WorkerCore* w,
                       TraceKind kind,
                       std::string_view name,
                       std::string_view detail,
                       std::uint32_t arg) noexcept {
    TraceBuffer* b = w->trace;
    if (b->full()) {  // dropped anyway: copy nothing
        b->record(kind, nullptr, nullptr, arg, nullptr);
        return;
    }
    const char* n = name.empty() ? nullptr : b->intern(name);
    const char* d = detail.empty() ? nullptr : b->intern(detail);
    static_cast<Worker*>(w)->trace_cold(kind, n, d, arg);
}

}  // namespace spindle::detail
