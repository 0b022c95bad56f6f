#include "scheduler/registry.hpp"

#include "spindle/detail/config.hpp"
#include "spindle/detail/lock_order.hpp"
#include "spindle/errors.hpp"
#include "trace/buffer.hpp"
#include "util/assert.hpp"
#include "util/fatal.hpp"
#include "util/fork.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>

namespace spindle::detail {

namespace {

constexpr std::size_t k_max_threads = 4096;
constexpr std::size_t k_min_stack = 16 * 1024;
constexpr std::size_t k_deque_capacity = 1024;
constexpr std::size_t k_default_max_fibers = 131072;
constexpr long k_min_keep_shared = 2;
constexpr long k_max_keep_shared = 4;
// How long an idle worker looks for work before it sleeps (design-notes/0001 "Tuning").
constexpr long k_default_idle_us = 100;

// At least rayon's 2 MiB thread stack: a stack is reserved address space, and only the pages a
// fiber touches cost memory (design-notes/0002 "Stacks").
#if defined(SPINDLE_ASAN) || defined(SPINDLE_TSAN)
// Sanitizer instrumentation makes frames several times larger.
constexpr std::size_t k_default_stack = 8 * 1024 * 1024;
#else
constexpr std::size_t k_default_stack = 2 * 1024 * 1024;
#endif

std::size_t threads_from_environment() {
    const char* v = std::getenv("SPINDLE_NUM_THREADS");
    if (v == nullptr)
        return 0;
    const std::string s(v);
    bool ok = !s.empty() && s.size() <= 6;
    for (char c : s)
        ok = ok && std::isdigit(static_cast<unsigned char>(c)) != 0;
    const std::size_t n = ok ? std::stoul(s) : 0;
    if (!ok || n > k_max_threads)
        throw InvalidPoolOptions("spindle: SPINDLE_NUM_THREADS='" + s +
                                 "' is not a thread count (expected an integer from 0 to " +
                                 std::to_string(k_max_threads) +
                                 "; 0 means one per CPU this process may use)");
    return n;
}

// The policy: PoolOptions::placement, or SPINDLE_PLACEMENT when that is none().
Placement resolve_policy(const Placement& requested) {
    if (requested.kind() != Placement::Kind::none)
        return requested;
    if (const char* v = std::getenv("SPINDLE_PLACEMENT"); v != nullptr && v[0] != '\0') {
        try {
            return Placement::parse(v);
        } catch (const InvalidPoolOptions& e) {
            throw InvalidPoolOptions(std::string(e.what()) + " (from SPINDLE_PLACEMENT)");
        }
    }
    return requested;
}

// default_threads: the CPUs the placement uses (the allowed CPUs by default: taskset and
// containers shrink the pool, unlike hardware_concurrency).
std::size_t resolve_threads(std::size_t requested, std::size_t default_threads) {
    std::size_t n = requested;
    if (n == 0)
        n = threads_from_environment();
    if (n == 0)
        n = default_threads;
    if (n == 0)
        n = 1;
    if (n > k_max_threads)
        throw InvalidPoolOptions("spindle: PoolOptions::num_threads=" + std::to_string(n) +
                                 " exceeds the limit of " + std::to_string(k_max_threads));
    return n;
}

std::size_t resolve_stack(std::size_t requested) {
    if (requested == 0)
        return k_default_stack;
    if (requested < k_min_stack)
        throw InvalidPoolOptions("spindle: PoolOptions::stack_size=" + std::to_string(requested) +
                                 " is below the minimum of " + std::to_string(k_min_stack) +
                                 " bytes");
    return requested;
}

// A non-negative integer from the environment, or fallback when unset. Malformed values are
// an error, not silently ignored.
long tuning_from_environment(const char* name, long fallback) {
    const char* v = std::getenv(name);
    if (v == nullptr)
        return fallback;
    const std::string s(v);
    bool ok = !s.empty() && s.size() <= 6;
    for (char c : s)
        ok = ok && std::isdigit(static_cast<unsigned char>(c)) != 0;
    if (!ok)
        throw InvalidPoolOptions(std::string("spindle: ") + name + "='" + s +
                                 "' is not a non-negative integer below 1000000");
    return std::stol(s);
}

constexpr std::size_t k_default_trace_events = std::size_t{1} << 20;

// Pools created in this process so far (the trace path's "%n"). Relaxed: only a number.
std::atomic<unsigned> g_pools_created{0};

// PoolOptions::trace or SPINDLE_TRACE, with "%p" (pid) and "%n" (pool number) replaced.
std::string resolve_trace_path(const PoolOptions& o, unsigned pool_number) {
    std::string spec = o.trace;
    if (spec.empty())
        if (const char* v = std::getenv("SPINDLE_TRACE"); v != nullptr)
            spec = v;
    std::string out;
    for (std::size_t i = 0; i < spec.size(); ++i) {
        if (spec[i] == '%' && i + 1 < spec.size() && (spec[i + 1] == 'p' || spec[i + 1] == 'n')) {
            out += spec[i + 1] == 'p' ? std::to_string(::getpid()) : std::to_string(pool_number);
            ++i;
        } else {
            out += spec[i];
        }
    }
    return out;
}

std::size_t resolve_trace_capacity(const PoolOptions& o) {
    if (o.trace_max_events != 0)
        return o.trace_max_events;
    const char* v = std::getenv("SPINDLE_TRACE_EVENTS");
    if (v == nullptr || *v == '\0')
        return k_default_trace_events;
    char* end = nullptr;
    const unsigned long long n = std::strtoull(v, &end, 10);
    if (*end != '\0' || n == 0 || !std::isdigit(static_cast<unsigned char>(*v)))
        throw InvalidPoolOptions(std::string("spindle: SPINDLE_TRACE_EVENTS='") + v +
                                 "' is not a positive integer");
    return static_cast<std::size_t>(n);
}

}  // namespace

Registry::Registry(const PoolOptions& options)
    : m_options(options),
      m_pool_number(g_pools_created.fetch_add(1, std::memory_order_relaxed) + 1),
      m_fork_generation(fork_generation_at_creation()),
      m_stack_size(resolve_stack(options.stack_size)) {
    m_trace_path = resolve_trace_path(options, m_pool_number);
    if (!m_trace_path.empty()) {
        m_trace_capacity = resolve_trace_capacity(options);
        m_trace_start_ns = trace_now_ns();
    }
    topology::Topology topo = topology::load(options.topology);
    const Placement policy = resolve_policy(options.placement);
    const std::size_t n =
        resolve_threads(options.num_threads, topology::policy_order(topo, policy).size());
    // One published job per other worker, at least k_min_keep_shared and at most
    // k_max_keep_shared (design-notes/0001, "The split deque" and "Tuning"): every published job
    // above the owner's private part is one that the owner must later pop back with a fence,
    // and a 16-core sweep of fib(35) measured 10 ms with 2 to 4 and 20 ms with 15 (8 threads:
    // 17 ms with 4, 34 ms with 15). At least two: with one, a thief that took it finds the rest
    // private, and an owner inside a long piece of a loop, or preempted, answers no request
    // until it is done (2-worker `sum` calls over 1.1 ms, of 4000, five runs: a median of 44
    // with one, 24 with two).
    const long keep =
        std::clamp<long>(static_cast<long>(n) - 1, k_min_keep_shared, k_max_keep_shared);
    // At least one: with none published, a push would never wake a worker that fell asleep
    // before the job existed (only a thief's request makes the owner publish).
    m_tuning.keep_shared = std::max<long>(1, tuning_from_environment("SPINDLE_KEEP_SHARED", keep));
    m_tuning.idle_ns =
        static_cast<std::uint64_t>(tuning_from_environment("SPINDLE_IDLE_US", k_default_idle_us)) *
        1000;
    m_tuning.idle_rounds = static_cast<unsigned>(tuning_from_environment("SPINDLE_IDLE_ROUNDS", 0));
    if (m_tuning.idle_rounds != 0 && std::getenv("SPINDLE_IDLE_US") != nullptr)
        throw InvalidPoolOptions(
            "spindle: SPINDLE_IDLE_US and SPINDLE_IDLE_ROUNDS are both set (a time budget and a "
            "round count for idle workers); set one");
    m_num_threads = n;
    m_max_fibers = options.max_fibers != 0 ? options.max_fibers : k_default_max_fibers;
    // Default: one spare per worker, except in a single-worker pool, which keeps its deque
    // free of thieves and so of fences (design-notes/0001).
    const std::size_t spares = options.max_spare_threads == static_cast<std::size_t>(-1)
                                   ? (n > 1 ? n : 0)
                                   : options.max_spare_threads;
    if (spares > k_max_threads)
        throw InvalidPoolOptions(
            "spindle: PoolOptions::max_spare_threads=" + std::to_string(spares) +
            " is above the maximum of " + std::to_string(k_max_threads));
    m_placement = std::make_unique<WorkerPlacement>(std::move(topo), policy, n, n + spares);
    if (const topology::Topology& t = m_placement->topology(); t.num_nodes > 1) {
        // One injector per node, each node looking at the others nearest first.
        std::vector<std::vector<std::size_t>> order(t.num_nodes);
        for (std::size_t k = 0; k < t.num_nodes; ++k) {
            for (std::size_t o = 0; o < t.num_nodes; ++o)
                order[k].push_back(o);
            std::stable_sort(order[k].begin(), order[k].end(), [&](std::size_t a, std::size_t b) {
                return t.node_distance(static_cast<int>(k), static_cast<int>(a)) <
                       t.node_distance(static_cast<int>(k), static_cast<int>(b));
            });
        }
        m_injector.set_order(std::move(order));
        m_node_peers.resize(n);
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t k = 0; k < n; ++k)
                if (k != i && m_placement->node_of(k) == m_placement->node_of(i))
                    m_node_peers[i].push_back(k);
    }
    if (m_placement->plan().bind) {
        // Bound workers: which one runs on each OS CPU (the first planned there), for
        // wake_one_for_waiter.
        for (std::size_t i = 0; i < n; ++i) {
            const unsigned cpu = m_placement->cpu_of(i);
            if (cpu >= m_worker_on_cpu.size())
                m_worker_on_cpu.resize(cpu + 1, -1);
            if (m_worker_on_cpu[cpu] < 0)
                m_worker_on_cpu[cpu] = static_cast<int>(i);
        }
    }
    m_workers.reserve(n + spares);
    for (std::size_t i = 0; i < n + spares; ++i)
        m_workers.push_back(std::make_unique<Worker>(this, i, k_deque_capacity, n + spares,
                                                     m_tuning.keep_shared, &m_sleepers,
                                                     i < n ? 0 : i - n + 1));
}

std::vector<VictimGroup> Registry::victim_levels(std::size_t i) const {
    std::vector<VictimGroup> levels = m_placement->victim_levels(i);
    VictimGroup spares{StealLevel::spare, {}};
    for (std::size_t k = m_num_threads; k < m_workers.size(); ++k)
        if (k != i)
            spares.workers.push_back(k);
    if (!spares.workers.empty())
        levels.push_back(std::move(spares));
    return levels;
}

Registry::~Registry() {
    // shutdown() waited for every foreign call; a registry that never started had none.
    SPINDLE_ASSERT(m_foreign_calls.load(std::memory_order_acquire) == 0,
                   "design-notes/0001, invariant 12");
}

void Registry::start() {
    m_active.store(static_cast<std::int64_t>(m_num_threads), std::memory_order_seq_cst);
    for (std::size_t i = 0; i < m_num_threads; ++i) {
        try {
            m_workers[i]->start(m_stack_size);
        } catch (...) {
            // Stop the workers already running; each runs its exit handler.
            m_terminating.store(true, std::memory_order_seq_cst);
            wake_all();
            for (std::size_t k = 0; k < i; ++k)
                m_workers[k]->join_thread();
            throw;
        }
    }
    try {
        m_monitor = std::thread([this] { monitor_main(); });
    } catch (...) {
        m_terminating.store(true, std::memory_order_seq_cst);
        wake_all();
        for (std::size_t k = 0; k < m_num_threads; ++k)
            m_workers[k]->join_thread();
        throw;
    }
}

bool Registry::created_before_fork() const noexcept {
    return detail::created_before_fork(m_fork_generation);
}

void Registry::wait_detached() noexcept {
    SPINDLE_LOCK_ORDER_GUARD("Registry::m_detached_mutex", &m_detached_mutex);
    std::unique_lock<std::mutex> lock(m_detached_mutex);
    m_detached_cv.wait(lock, [&] { return m_detached.load(std::memory_order_acquire) == 0; });
}

void Registry::shutdown() noexcept {
    wait_detached();
    // seq_cst: pairs with the check in Worker::has_work_for_sleeper().
    {
        SPINDLE_LOCK_ORDER_GUARD("Registry::m_spare_mutex", &m_spare_mutex);
        std::lock_guard<std::mutex> lock(m_spare_mutex);
        m_spares_closed = true;  // no spare starts after this
    }
    m_terminating.store(true, std::memory_order_seq_cst);
    wake_all();
    for (auto& w : m_workers)
        w->join_thread();
    {
        SPINDLE_LOCK_ORDER_GUARD("Registry::m_monitor_mutex", &m_monitor_mutex);
        std::lock_guard<std::mutex> lock(m_monitor_mutex);
        m_monitor_stop = true;
    }
    m_monitor_cv.notify_all();
    if (m_monitor.joinable())
        m_monitor.join();
    // A thread outside the pool may still be inside a wake-up call whose fiber or job has
    // already completed; it touches nothing of the pool after its decrement.
    while (m_foreign_calls.load(std::memory_order_acquire) != 0)
        std::this_thread::yield();
    if (tracing())
        write_trace();
    if (const char* v = std::getenv("SPINDLE_STATS");
        v != nullptr && v[0] != '\0' && std::strcmp(v, "0") != 0) {
        const topology::Topology& t = m_placement->topology();
        std::fprintf(stderr, "spindle: topology %s: %zu CPUs, %zu NUMA node(s); placement %s%s\n",
                     t.description.c_str(), t.pus.size(), t.num_nodes,
                     m_placement->policy().to_string().c_str(),
                     m_placement->plan().bind ? " (bound)" : " (not bound)");
        print_stats(stats(), stderr);
    }
}

PoolStats Registry::stats() const {
    PoolStats out;
    out.workers.reserve(m_workers.size());
    for (const auto& wp : m_workers) {
        const Worker& w = *wp;
        const WorkerCounters& c = w.counters;
        WorkerStats ws;
        ws.index = w.index;
        ws.spare = w.is_spare();
        ws.started = w.index < m_num_threads || w.ever_started();
        const std::uint64_t inline_joins = c.inline_joins.read();  // created and run
        ws.jobs_created = c.jobs_created.read() + inline_joins;
        ws.jobs_run = c.jobs_run.read() + inline_joins;
        for (std::size_t k = 0; k < k_steal_levels; ++k) {
            ws.steals_tried_at[k] = c.steals_tried[k].read();
            ws.steals_succeeded_at[k] = c.steals_succeeded[k].read();
            ws.steals_tried += ws.steals_tried_at[k];
            ws.steals_succeeded += ws.steals_succeeded_at[k];
        }
        ws.numa_node = m_placement->node_of(w.index);
        ws.cpu = m_placement->cpu_of(w.index);
        ws.bound = m_placement->bound(w.index);
        ws.steal_requests_raised = w.deque.requests_raised();
        ws.steal_requests_answered = w.deque.requests_answered();
        ws.parks = c.parks.read();
        ws.resumes = c.resumes.read();
        ws.sleeps = c.sleeps.read();
        ws.wakeups = c.wakeups.read();
        ws.fibers_created = c.fibers_created.read();
        ws.search_ns = c.search_ns.read();
        out.workers.push_back(ws);
    }
    out.jobs_injected = m_jobs_injected.load(std::memory_order_relaxed);
    out.spare_starts = m_spare_starts.load(std::memory_order_relaxed);
    return out;
}

void Registry::write_trace() noexcept {
    try {
        TraceInput in;
        in.label = "spindle pool " + std::to_string(m_pool_number);
        in.pid = static_cast<long>(::getpid());
        in.num_threads = m_num_threads;
        in.start_ns = m_trace_start_ns;
        in.end_ns = trace_now_ns();
        in.capacity = m_trace_capacity;
        for (const auto& w : m_workers)
            in.workers.push_back(
                TraceWorker{w->index, w->is_spare(), w->name(), w->trace_buffer()});
        in.stats = stats();
        write_trace_files(m_trace_path, in);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "spindle: warning: the trace was not written (%s)\n", e.what());
    }
}

void print_stats(const PoolStats& st, std::FILE* out) {
    const WorkerStats t = st.total();
    std::fprintf(out,
                 "spindle: pool statistics: %zu worker slots, %llu jobs injected, %llu spare "
                 "starts\n",
                 st.workers.size(), static_cast<unsigned long long>(st.jobs_injected),
                 static_cast<unsigned long long>(st.spare_starts));
    std::fprintf(out,
                 "spindle:   worker      created          run   steals ok/tried   requests "
                 "ans/raised    parks  resumes   sleeps  wakeups  fibers  search ms\n");
    auto line = [out](const char* name, const WorkerStats& w) {
        std::fprintf(
            out,
            "spindle:   %-6s %12llu %12llu %8llu/%-8llu %8llu/%-8llu %8llu %8llu %8llu "
            "%8llu %7llu %10.3f\n",
            name, static_cast<unsigned long long>(w.jobs_created),
            static_cast<unsigned long long>(w.jobs_run),
            static_cast<unsigned long long>(w.steals_succeeded),
            static_cast<unsigned long long>(w.steals_tried),
            static_cast<unsigned long long>(w.steal_requests_answered),
            static_cast<unsigned long long>(w.steal_requests_raised),
            static_cast<unsigned long long>(w.parks), static_cast<unsigned long long>(w.resumes),
            static_cast<unsigned long long>(w.sleeps), static_cast<unsigned long long>(w.wakeups),
            static_cast<unsigned long long>(w.fibers_created),
            static_cast<double>(w.search_ns) / 1e6);
    };
    for (const WorkerStats& w : st.workers) {
        if (w.spare && !w.started)
            continue;
        char name[24];
        std::snprintf(name, sizeof name, "%s%zu", w.spare ? "s" : "", w.index);
        line(name, w);
    }
    line("total", t);
    std::fprintf(out, "spindle:   steals ok/tried by victim level:");
    for (std::size_t k = 0; k < k_steal_levels; ++k)
        std::fprintf(out, " %s %llu/%llu", to_string(static_cast<StealLevel>(k)),
                     static_cast<unsigned long long>(t.steals_succeeded_at[k]),
                     static_cast<unsigned long long>(t.steals_tried_at[k]));
    std::fprintf(out, "\n");
}

void worker_after_fork(WorkerCore* w) noexcept {
    Registry::after_fork_on_worker(*static_cast<Worker*>(w));
}

void Registry::after_fork_on_worker(Worker& w) noexcept {
    // fork() was called on this worker's thread and this is the child. The jobs that other
    // threads of the parent queued (in their deques, in the injector, broadcasts for this
    // worker), and this worker's other jobs and fibers, go on in the parent: running them here
    // too would do their work twice. So from now on the worker takes no job and resumes no
    // fiber. The job that forked may go on, with joins whose second half stays on this worker,
    // and exit or exec; whatever needs the pool reaches a checked slow path (a wait, or the
    // worker going to sleep once the job has returned) and fails with
    // fatal_worker_used_after_fork.
    w.m_max_suspended = 0;  // may_take_jobs() is false from now on
    w.m_victims.clear();
    w.m_ready_head = w.m_ready_tail = nullptr;
    w.m_remote_ready.store(nullptr, std::memory_order_relaxed);
    w.m_broadcast_count.store(0, std::memory_order_relaxed);
    w.m_registry->m_injected.store(0, std::memory_order_relaxed);
}

void Registry::detached_end() noexcept {
    // acq_rel: the last job's effects happen before shutdown() returns.
    const std::size_t before = m_detached.fetch_sub(1, std::memory_order_acq_rel);
    SPINDLE_ASSERT(before > 0, "design-notes/0001, invariant 10");
    if (before == 1) {
        // Under the lock so that shutdown() cannot test the count between our decrement and
        // our notify and then miss it. The registry outlives this call: shutdown() joins this
        // thread (a worker) before the registry is destroyed.
        SPINDLE_LOCK_ORDER_GUARD("Registry::m_detached_mutex", &m_detached_mutex);
        std::lock_guard<std::mutex> lock(m_detached_mutex);
        m_detached_cv.notify_all();
    }
}

void Registry::call_handler(const std::function<void()>& h) noexcept {
    if (!h)
        return;
    try {
        h();
    } catch (...) {
        detached_exception(std::current_exception());
    }
}

void Registry::detached_exception(std::exception_ptr e) noexcept {
    if (m_options.exception_handler) {
        try {
            m_options.exception_handler(e);
        } catch (...) {
            fatal("PoolOptions::exception_handler threw an exception");
        }
        return;
    }
    const char* what = "(not a std::exception)";
    std::string text;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        text = ex.what();
        what = text.c_str();
    } catch (...) {
    }
    fatal("an exception escaped a detached job and the pool has no exception_handler: %s", what);
}

bool Registry::inject(Job* job, bool caller_waits) {
    if (created_before_fork()) [[unlikely]] {
        if (is_own_thread())
            fatal_worker_used_after_fork("a full deque spilled into the pool's queue");
        fatal_pool_used_after_fork("install, join, scope or spawn from outside the pool");
    }
    ForeignCall guard(*this);
    if (!m_injector.enqueue(inject_node(), job))
        throw std::bad_alloc();
    // seq_cst: pairs with the sleeper's load in has_injected(); see Worker::sleep_cold().
    m_injected.fetch_add(1, std::memory_order_seq_cst);
    // A hint for the caller's wait (wait_latch): the count may include started spare workers,
    // so a worker may still have been awake; then the caller only blocks where it could have
    // spun.
    return (caller_waits ? wake_one_for_waiter() : wake_one()) >= m_num_threads;
}

void Registry::inject_bulk(Job* const* jobs, std::size_t n) {
    if (!m_injector.enqueue_bulk(inject_node(), jobs, n))
        throw std::bad_alloc();
    m_injected.fetch_add(static_cast<std::int64_t>(n), std::memory_order_seq_cst);
    wake_one();
}

std::size_t Registry::inject_node() noexcept {
    const std::size_t nodes = m_injector.num_nodes();
    if (nodes == 1)
        return 0;
    const WorkerCore* w = current_worker();
    if (w != nullptr && w->registry == this)
        return static_cast<std::size_t>(m_placement->node_of(w->index));
    // relaxed: only spreads the jobs; the enqueue and m_injected order the hand-off.
    return static_cast<std::size_t>(m_inject_cursor.fetch_add(1, std::memory_order_relaxed) %
                                    nodes);
}

Job* Registry::take_injected(std::size_t w) noexcept {
    // acquire: pairs with the increment in inject(); orders the job's contents for TSan too.
    if (m_injected.load(std::memory_order_acquire) <= 0)
        return nullptr;
    Job* j = nullptr;
    if (!m_injector.try_dequeue(static_cast<std::size_t>(m_placement->node_of(w)), j))
        return nullptr;
    // More left: let a sleeper help (a bulk spill wakes only one worker).
    if (m_injected.fetch_sub(1, std::memory_order_relaxed) > 1 &&
        m_sleepers.load(std::memory_order_relaxed) != 0)
        wake_one();
    return j;
}

// ---- the seam used by header templates (spindle/detail/runtime.hpp) --------------------------

std::size_t registry_num_threads(const Registry* r) noexcept {
    return r->num_threads();
}
int registry_node_of(const Registry* r, std::size_t worker) noexcept {
    return r->placement().node_of(worker);
}
void* allocate_worker_local(Registry* r,
                            std::size_t bytes,
                            std::size_t align,
                            std::size_t worker,
                            std::size_t* granted_align) {
    const WorkerPlacement& pl = r->placement();
    const topology::Topology& t = pl.topology();
    // Only where memory can be bound per node: a whole-page slot, so that binding it moves no
    // neighbour's data. Elsewhere (one node, the usual case) a cache-line-aligned slot.
    if (t.this_system && t.num_nodes > 1) {
        const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
        align = std::max(align, page);
        bytes = (bytes + page - 1) / page * page;
    }
    void* p = ::operator new(bytes, std::align_val_t(align));
    pl.place_memory(MemoryKind::worker_local, p, bytes, worker);
    *granted_align = align;
    return p;
}
void free_worker_local(void* p, std::size_t align) noexcept {
    ::operator delete(p, std::align_val_t(align));
}
bool inject(Registry* r, Job* job, bool caller_waits) {
    const bool to_idle_pool = r->inject(job, caller_waits);
    r->count_injected(1);
    return to_idle_pool;
}
void detached_begin(Registry* r) noexcept {
    r->detached_begin();
}
void detached_end(Registry* r) noexcept {
    r->detached_end();
}
void detached_exception(Registry* r, std::exception_ptr e) noexcept {
    r->detached_exception(std::move(e));
}
void submit_broadcast(Registry* r, Job* const* jobs, std::size_t n) {
    if (r->created_before_fork()) [[unlikely]]
        fatal_pool_used_after_fork("broadcast");
    r->count_injected(n);
    for (std::size_t i = 0; i < n; ++i)
        r->worker(i).push_broadcast(jobs[i]);
}

}  // namespace spindle::detail
