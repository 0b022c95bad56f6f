// A pool's shared state: its workers, the injector for jobs from outside, the sleep counter,
// and the count of detached jobs that the destructor waits for.
#pragma once

#include "scheduler/placement.hpp"
#include "scheduler/worker.hpp"
#include "spindle/detail/wait.hpp"
#include "spindle/pool.hpp"
#include "util/assert.hpp"

#include <concurrentqueue/concurrentqueue.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace spindle::detail {

#if defined(SPINDLE_TSAN)
// ThreadSanitizer does not model the standalone fences that moodycamel's queue relies on (GCC
// says so with -Wtsan) and reported races inside it when a queue block was reused (both the
// 100,000-parked-fibers test and a 10,000-spawn wait-group test, from threads outside the
// pool). Under TSan the injector is therefore a locked deque, so that TSan checks every
// happens-before edge around it; every other build uses moodycamel.
class Injector {
public:
    explicit Injector(std::size_t = 0) {}
    bool enqueue(Job* j) noexcept { return enqueue_bulk(&j, 1); }
    bool enqueue_bulk(Job* const* jobs, std::size_t n) noexcept {
        std::lock_guard<std::mutex> lock(m_mutex);
        try {
            m_jobs.insert(m_jobs.end(), jobs, jobs + n);
        } catch (...) {
            return false;
        }
        return true;
    }
    bool try_dequeue(Job*& out) noexcept {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (m_jobs.empty())
            return false;
        out = m_jobs.front();
        m_jobs.pop_front();
        return true;
    }

private:
    std::mutex m_mutex;
    std::deque<Job*> m_jobs;
};
#else
using Injector = moodycamel::ConcurrentQueue<Job*>;
#endif

// The pool's injectors: one per NUMA node on a machine with several (jobs spilled from a full
// deque go to their worker's node, jobs from outside the pool are dealt out over the nodes), a
// single one otherwise. A worker takes from its own node's injector first, then the others,
// nearest first (design-notes/0010 §3). The count of queued jobs that the sleep protocol reads
// stays one counter for all of them (Registry::m_injected).
class NodeInjectors {
public:
    NodeInjectors() : m_order{{0}}, m_queues(std::make_unique<Injector[]>(1)) {}
    // order[k]: the nodes in the order a worker of node k looks at them (k first). Only before
    // the pool starts: it replaces the queues.
    void set_order(std::vector<std::vector<std::size_t>> order) {
        m_queues = std::make_unique<Injector[]>(order.size());
        m_order = std::move(order);
    }
    std::size_t num_nodes() const noexcept { return m_order.size(); }
    bool enqueue(std::size_t node, Job* j) noexcept { return m_queues[node].enqueue(j); }
    bool enqueue_bulk(std::size_t node, Job* const* jobs, std::size_t n) noexcept {
        return m_queues[node].enqueue_bulk(jobs, n);
    }
    // A job from the injectors, those of `node` first.
    bool try_dequeue(std::size_t node, Job*& out) noexcept {
        if (m_order.size() == 1)
            return m_queues[0].try_dequeue(out);
        for (std::size_t k : m_order[node])
            if (m_queues[k].try_dequeue(out))
                return true;
        return false;
    }

private:
    std::vector<std::vector<std::size_t>> m_order;
    std::unique_ptr<Injector[]> m_queues;
};

// Scheduling constants that experiments may override through the environment (read once
// per pool; design-notes/0001 "Tuning"): SPINDLE_KEEP_SHARED, SPINDLE_IDLE_US,
// SPINDLE_IDLE_ROUNDS.
struct Tuning {
    // Jobs each worker keeps published for thieves (split deque). Default: workers - 1, at least
    // 2 and at most 4.
    std::int64_t keep_shared;
    // How long an idle worker looks for work before it goes to sleep, in ns (SPINDLE_IDLE_US
    // is in us). Default: k_default_idle_us.
    std::uint64_t idle_ns;
    // SPINDLE_IDLE_ROUNDS: when not 0, a number of rounds of looking replaces idle_ns (the rule
    // before the time budget, kept for experiments). Default: 0.
    unsigned idle_rounds;
};

// Prints st as a table, one line per started worker and a total (SPINDLE_STATS=1).
void print_stats(const PoolStats& st, std::FILE* out);

class Registry {
public:
    // Validates options; starts nothing.
    explicit Registry(const PoolOptions& options);
    ~Registry();

    // Starts every worker; on failure stops the started ones and throws.
    void start();
    // Waits for all detached jobs, then stops and joins every worker, then waits until no
    // ForeignCall is in flight.
    void shutdown() noexcept;
    // Waits until no detached job of the pool is pending (spawned and not finished).
    void wait_detached() noexcept;
    // True in a child of fork() when this pool was created before the fork: its threads exist
    // only in the parent (src/util/fork.hpp). For cold entry points only.
    bool created_before_fork() const noexcept;
    // In the child of a fork() called on w's thread (src/util/fork.hpp).
    static void after_fork_on_worker(Worker& w) noexcept;

    // The pool's regular workers (indices 0 .. num_threads()-1).
    std::size_t num_threads() const noexcept { return m_num_threads; }
    // Regular workers plus spare workers (indices num_threads() .. num_slots()-1; a spare
    // thread starts only when a blocking section first needs it).
    std::size_t num_slots() const noexcept { return m_workers.size(); }
    Worker& worker(std::size_t i) noexcept { return *m_workers[i]; }
    std::size_t max_fibers() const noexcept { return m_max_fibers; }
    // Victim groups of worker i: the placement's order over the regular workers, then the
    // spare workers (level spare).
    std::vector<VictimGroup> victim_levels(std::size_t i) const;
    const PoolOptions& options() const noexcept { return m_options; }
    const WorkerPlacement& placement() const noexcept { return *m_placement; }
    std::size_t stack_size() const noexcept { return m_stack_size; }
    const Tuning& tuning() const noexcept { return m_tuning; }
    // The ThreadPool that owns this registry (set once by its constructor, before any job).
    ThreadPool* pool() const noexcept { return m_pool; }
    void set_pool(ThreadPool* p) noexcept { m_pool = p; }
    // ---- tracing (PoolOptions::trace, design-notes/0011) ----
    bool tracing() const noexcept { return !m_trace_path.empty(); }
    std::size_t trace_capacity() const noexcept { return m_trace_capacity; }
    // Calls a user handler on a worker; an exception goes to detached_exception().
    void call_handler(const std::function<void()>& h) noexcept;

    // Returns true when the job went to an idle pool: every regular worker was asleep and one
    // was woken for it, so it starts only after that worker's futex wake-up (tens of us).
    // caller_waits: the calling thread (outside the pool) blocks until the job is done, so the
    // sleeper to wake is chosen by wake_one_for_waiter.
    bool inject(Job* job, bool caller_waits);
    void inject_bulk(Job* const* jobs, std::size_t n);
    // A job from the injectors, those of worker w's node first.
    Job* take_injected(std::size_t w) noexcept;
    bool has_injected() const noexcept { return m_injected.load(std::memory_order_seq_cst) > 0; }

    // Wakes one sleeping worker if there is one. Callers have already published their work
    // and executed a seq_cst fence or RMW (see push_local / inject). Returns the sleeper count
    // it read when it woke a worker, 0 when it woke none.
    std::uint32_t wake_one() noexcept;
    // wake_one() for work that regular worker `near` published: on a machine with several NUMA
    // nodes, a sleeping worker of near's node first (the work's data is likely in that node's
    // memory and caches), then any. Same pairing rules as wake_one().
    std::uint32_t wake_one_near(std::size_t near) noexcept;
    // wake_one() for a job whose submitter, a thread outside every pool, is about to block until
    // it is done: when every regular worker sleeps and the workers are bound, the one bound to
    // the submitter's CPU first — that CPU is about to be free, and the hand-off needs no
    // wake-up of another (possibly halted) CPU, as the kernel's own wake-affine placement does
    // for unbound threads. Otherwise, and when that worker is awake already, wake_one(). Same
    // pairing rules and result as wake_one() (design-notes/0001 §4).
    std::uint32_t wake_one_for_waiter() noexcept;
    void wake_all() noexcept;
    // Workers inside blocking sections now (spare worker k takes jobs while this is > k).
    std::size_t in_sections() const noexcept {
        return m_in_sections.load(std::memory_order_relaxed);
    }

    bool terminating() const noexcept { return m_terminating.load(std::memory_order_seq_cst); }

    void detached_begin() noexcept { m_detached.fetch_add(1, std::memory_order_relaxed); }
    void detached_end() noexcept;
    void detached_exception(std::exception_ptr e) noexcept;

    std::atomic<std::uint32_t>& sleepers() noexcept { return m_sleepers; }

    // ---- statistics (ThreadPool::stats) ----
    // A job submitted from outside the pool (inject seam, broadcasts): counted once.
    void count_injected(std::size_t n) noexcept {
        m_jobs_injected.fetch_add(n, std::memory_order_relaxed);
    }
    PoolStats stats() const;

    // ---- deadlock accounting (design-notes/0005; src/scheduler/deadlock.cpp) ----
    // A fiber of the calling worker has parked in block_current (called on that worker's
    // thread, after the node was published) / has resumed.
    void blocked_begin(WaitNode& node) noexcept;
    void blocked_end(WaitNode& node) noexcept;
    // The calling worker blocks its thread (a BlockingSection labelled label, or a wait on node
    // that found no fiber to park on) / stops doing so.
    void section_begin(const char* label, WaitNode* node) noexcept;
    void section_end(WaitNode* node) noexcept;
    // A waker is about to wake a sleeping worker (before it changes its sleep word) / found
    // it was not asleep after all. A worker committing to sleep / leaving a blocking section.
    void active_up() noexcept;
    void active_down() noexcept;
    // DeadlockReport::fail: fails `node` of worker `w` with e if it is still blocked there.
    bool fail_wait(std::size_t w, WaitNode* node, std::exception_ptr e) noexcept;

    // True when the calling thread is one of this pool's workers.
    bool is_own_thread() const noexcept {
        const WorkerCore* w = current_worker();
        return w != nullptr && w->registry == this;
    }

    // Held by a thread that is not one of this pool's workers while it publishes work or a
    // ready fiber into the pool and then wakes a worker: what it published may complete, and
    // the pool be destroyed, before its wake-up call returns. shutdown() waits until no such
    // call is in flight before the workers are freed.
    class ForeignCall {
    public:
        explicit ForeignCall(Registry& r) noexcept : m_registry(r.is_own_thread() ? nullptr : &r) {
            // relaxed: the publication that follows (a release CAS or enqueue) carries this
            // increment to whoever later destroys the pool.
            if (m_registry != nullptr)
                m_registry->m_foreign_calls.fetch_add(1, std::memory_order_relaxed);
        }
        ~ForeignCall() {
            // release: pairs with the acquire load in shutdown(); nothing of the pool is
            // touched after this.
            if (m_registry != nullptr) {
                const std::uint32_t before =
                    m_registry->m_foreign_calls.fetch_sub(1, std::memory_order_release);
                SPINDLE_ASSERT(before > 0, "design-notes/0001, invariant 12");
            }
        }
        ForeignCall(const ForeignCall&) = delete;
        ForeignCall& operator=(const ForeignCall&) = delete;

    private:
        Registry* m_registry;
    };

private:
    void monitor_main() noexcept;
    void kick_monitor() noexcept;
    bool any_waiting() const noexcept;
    void report_deadlock(std::uint64_t epoch);
    // DeadlockReport::cause(): the fiber limit, when it is what stops the pool, else empty.
    std::string fiber_limit_cause() const;
    // Debug builds, on the monitor thread: a fatal error when a worker's thread is blocked on
    // a pthread mutex that it holds itself (design-notes/0003, section 8).
    void check_held_mutexes() noexcept;
    void start_or_wake_spare(std::size_t rank) noexcept;
    // After every worker was joined: writes the trace files (shutdown()).
    void write_trace() noexcept;

    PoolOptions m_options;
    // Where the trace goes ("%p" and "%n" already replaced), or empty: no trace.
    std::string m_trace_path;
    std::size_t m_trace_capacity = 0;  // events per worker
    std::uint64_t m_trace_start_ns = 0;
    unsigned m_pool_number;  // 1 for the process's first pool, 2 for the next, ...
    // The fork generation this pool was created in (src/util/fork.hpp).
    std::uint64_t m_fork_generation;
    std::size_t m_num_threads;
    std::size_t m_max_fibers;
    ThreadPool* m_pool = nullptr;
    std::size_t m_stack_size;
    Tuning m_tuning;
    std::unique_ptr<WorkerPlacement> m_placement;
    // Per regular worker: the other regular workers of its NUMA node (wake_one_near). Empty on a
    // single-node machine, where wake_one_near is wake_one. Immutable after construction.
    std::vector<std::vector<std::size_t>> m_node_peers;
    // Indexed by OS CPU number: the regular worker bound there, or -1. Empty when the workers
    // are not bound (Placement::none(), a synthetic machine). Immutable after construction.
    std::vector<int> m_worker_on_cpu;
    std::vector<std::unique_ptr<Worker>> m_workers;

    // The node an injection goes to: the calling worker's, or for a thread outside the pool
    // the next in turn.
    std::size_t inject_node() noexcept;

    // Jobs from outside the pool and spilled from full deques.
    NodeInjectors m_injector;
    // Jobs in m_injector (all nodes): incremented (seq_cst) after each enqueue, decremented after
    // each dequeue. moodycamel's emptiness test is not linearizable, so this counter, not the
    // queue, is what a worker about to sleep consults (seq_cst load, pairs with the increment).
    alignas(64) std::atomic<std::int64_t> m_injected{0};
    // Workers that announced sleep (S1 of the protocol in sleep.hpp). Incremented by a
    // worker about to sleep; decremented by whoever moves that worker's m_sleep_word from 1 to 0.
    alignas(64) std::atomic<std::uint32_t> m_sleepers{0};
    alignas(64) std::atomic<std::uint64_t> m_wake_cursor{0};
    // Which node the next injection from outside the pool goes to (inject_node; relaxed RMW by
    // any submitter, orders nothing).
    std::atomic<std::uint64_t> m_inject_cursor{0};
    // Calls by threads outside the pool that are between publishing something and finishing
    // their wake-up (ForeignCall). Incremented/decremented by those threads; shutdown() waits
    // for zero (acquire, pairs with the release decrement) before the workers are freed.
    std::atomic<std::uint32_t> m_foreign_calls{0};
    // Jobs submitted from outside (count_injected: relaxed RMW by any submitter; read by
    // stats()). Orders nothing.
    std::atomic<std::uint64_t> m_jobs_injected{0};
    // Set once by shutdown() (seq_cst store, then wake_all); read by workers deciding to exit.
    std::atomic<bool> m_terminating{false};

    // Detached jobs submitted and not yet finished. Incremented by spawn (relaxed: the job's
    // own submission orders it), decremented by the job's last action (acq_rel); shutdown()
    // waits for zero under m_detached_mutex.
    std::atomic<std::size_t> m_detached{0};
    std::mutex m_detached_mutex;
    std::condition_variable m_detached_cv;

    // ---- deadlock detection (src/scheduler/deadlock.cpp, design-notes/0005) ----
    // Threads of this pool that are running code (or may run it soon): workers not asleep and
    // not inside a blocking section, plus ThreadPool::KeepActive guards. Raised by a waker
    // *before* it wakes a worker (active_up, then the sleep-word exchange), by a worker leaving a
    // blocking section, by a starting spare; lowered by a worker committing to sleep or entering
    // a blocking section (active_down). seq_cst: the monitor's two reads around its grace
    // period must see every change in between.
    alignas(64) std::atomic<std::int64_t> m_active{0};
    // Incremented with every active_up(): the monitor declares a deadlock only if it saw the
    // same value before and after its grace period with m_active at 0 both times.
    std::atomic<std::uint64_t> m_epoch{0};
    std::mutex m_monitor_mutex;
    std::condition_variable m_monitor_cv;
    bool m_monitor_kick = false;                         // guarded by m_monitor_mutex
    bool m_monitor_stop = false;                         // guarded by m_monitor_mutex
    std::uint64_t m_reported_epoch = ~std::uint64_t{0};  // monitor thread only
    // Debug builds: per worker, the mutex it was seen blocked on at the monitor's previous
    // look, or 0 (check_held_mutexes). Monitor thread only; a member, not a local of the
    // monitor, so that a fork child that abandons the pool still reaches it.
    std::vector<std::uintptr_t> m_held_mutex_suspects;
    std::thread m_monitor;

    // ---- spare workers for blocking sections ----
    // Workers inside blocking sections. Incremented/decremented by each worker around its
    // section (relaxed: spares re-check it each time they look for a job; a stale value only
    // delays a spare or lets it finish one more job).
    std::atomic<std::size_t> m_in_sections{0};
    std::mutex m_spare_mutex;
    std::size_t m_spares_started = 0;  // guarded by m_spare_mutex
    // Spare threads started, for stats(): written under m_spare_mutex, read without it (relaxed).
    std::atomic<std::uint64_t> m_spare_starts{0};
    bool m_spares_closed = false;  // guarded by m_spare_mutex; set by shutdown()
};

}  // namespace spindle::detail
