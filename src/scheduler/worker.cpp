#include "scheduler/worker.hpp"

#include "fiber/stack.hpp"
#include "scheduler/registry.hpp"
#include "scheduler/sleep.hpp"
#include "spindle/detail/lock_order.hpp"
#include "trace/buffer.hpp"
#include "util/assert.hpp"
#include "util/fatal.hpp"
#include "util/fork.hpp"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <system_error>

namespace spindle::detail {

constinit thread_local WorkerCore* tl_worker SPINDLE_TLS_MODEL = nullptr;

bool pop_join_slow(WorkerCore* w, Job* job) noexcept {
    // Only the owner pops (its fast half, pop_join, is inline in a public header: no check).
    SPINDLE_ASSERT(tl_worker == w, "design-notes/0001, invariant 2");
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

void push_spill(WorkerCore* core, Job* job) {
    SPINDLE_ASSERT(tl_worker == core, "design-notes/0001, invariant 2");
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
        core->registry->inject(job, false);
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

    call_acquire_handler();
    run_loop();  // returns on the thread's own fiber, once the pool terminates
    call_release_handler();

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
        if (m_suspended == 0 && m_registry->terminating()) {
            // Nothing ready is left behind: every ready fiber is a suspended one.
            SPINDLE_ASSERT(m_ready_head == nullptr &&
                               m_remote_ready.load(std::memory_order_relaxed) == nullptr,
                           "design-notes/0001, invariant 9");
            break;
        }
        if (idle == 0) {
            search_start = now_ns();
            if (trace != nullptr) [[unlikely]]
                trace_cold(TraceKind::search_begin);
        }
        ++idle;
        // The idle budget (sleep.hpp), then the sleep protocol's sleeper side (sleep_cold).
        if (keep_looking(m_registry->tuning(), idle, search_start))
            continue;
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
    SPINDLE_ASSERT(f->owner == this, "design-notes/0002, invariant 1");
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

void Worker::resume(Fiber* f) noexcept {
    SPINDLE_ASSERT(m_suspended > 0, "design-notes/0002, invariant 5");
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

void Worker::after_yield(Fiber* from, void* arg) noexcept {
    auto* w = static_cast<Worker*>(from->owner);
    w->make_ready_local(from);
    if (arg != nullptr)
        w->run_job(static_cast<Job*>(arg));
}

bool Worker::yield() {
    if (Fiber* f = take_ready()) {
        SPINDLE_ASSERT(m_suspended > 0, "design-notes/0002, invariant 5");
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
        SPINDLE_ASSERT(!has_idle_fiber(), "design-notes/0002, invariant 10");
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
            // A pool of one slot has no victims: its deque, built no_thieves, is never stolen
            // from by anyone but its owner's spill.
            SPINDLE_ASSERT(m_registry->num_slots() > 1 && &victim != this,
                           "design-notes/0001, invariant 4");
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

void Worker::call_acquire_handler() noexcept {
    SPINDLE_ASSERT(tl_worker == this && !m_holds_thread, "design-notes/0006, invariant 7");
    m_holds_thread = true;
    m_registry->call_handler(m_registry->options().acquire_thread_handler);
}

void Worker::call_release_handler() noexcept {
    SPINDLE_ASSERT(tl_worker == this && m_holds_thread, "design-notes/0006, invariant 7");
    m_holds_thread = false;
    m_registry->call_handler(m_registry->options().release_thread_handler);
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
