// ThreadPool: a set of workers, each an OS thread with its own deque and fibers.
#pragma once

#include "spindle/deadlock.hpp"
#include "spindle/detail/config.hpp"
#include "spindle/detail/runtime.hpp"
#include "spindle/topology.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace spindle {

/// How a ThreadPool is built. Every member has a default: `PoolOptions{}` gives rayon's defaults.
struct SPINDLE_API PoolOptions {
    /// Number of workers, at most 4096. 0: the SPINDLE_NUM_THREADS environment variable if set
    /// (decimal digits only, 0 to 4096, where 0 also means "the default"; anything else is an
    /// InvalidPoolOptions error), else the number of CPUs the placement uses: by default every
    /// CPU this process may use (its affinity mask, as taskset and a container's cpuset set
    /// it: `taskset -c 1` gives one worker), with numa_node(k) that node's, with cpus(...) the
    /// list's length; on a synthetic or XML topology, its CPUs.
    std::size_t num_threads = 0;
    /// The machine the pool plans for (design-notes/0010-topology.md). Empty: the
    /// SPINDLE_TOPOLOGY environment variable if set, else the real machine through hwloc,
    /// restricted to the CPUs this process may use. Also "flat" (the fallback without hwloc),
    /// an hwloc synthetic description such as "pack:2 numa:2 l3:2 core:4 pu:2" (or
    /// "synthetic:..."), or an hwloc XML file ("xml:PATH" or a name ending in .xml). Synthetic
    /// and XML machines are never bound to: they shape the plan, the victim order and the
    /// recorded memory nodes only. A build without hwloc, or hwloc failing on the machine,
    /// falls back to flat with one warning on stderr; a description hwloc rejects is an
    /// InvalidPoolOptions error.
    std::string topology{};
    /// Where the workers run (spindle/topology.hpp). Default none(): no binding, victims ordered
    /// as for compact(). When it is none(), SPINDLE_PLACEMENT (Placement::parse's syntax) may
    /// choose another.
    Placement placement{};
    /// Usable stack bytes of each fiber and of each worker thread. 0: 2 MiB, rayon's thread stack
    /// (8 MiB under AddressSanitizer or ThreadSanitizer). At least 16 KiB. Rounded up to whole
    /// pages. A stack is reserved address space: only the pages a fiber touches cost memory, and
    /// a pooled stack that went deeper than 256 KiB gives its pages back when idle. Every stack
    /// has a guard below it, and overflowing it kills the process with a message naming the
    /// worker, the stack size and how deep the recursion was. Recursion through join, scope and
    /// QueryMap never overflows: it continues on new stack segments (spindle/stack.hpp).
    std::size_t stack_size = 0;
    /// Name of worker i (Linux truncates to 15 bytes). Default: "spindle-<i>".
    std::function<std::string(std::size_t)> thread_name{};
    /// Called on worker i's thread before it runs any job / after its last one.
    std::function<void(std::size_t)> start_handler{};
    /// Called on worker i's thread after its last job.
    std::function<void(std::size_t)> exit_handler{};
    /// Receives exceptions that escape detached spawn() jobs (and start/exit handlers). Without
    /// one, such an exception terminates the process with a message (rayon's default: an
    /// exception must never go unobserved).
    std::function<void(std::exception_ptr)> exception_handler{};
    /// The fork's acquire/release thread handlers (rustc hands out jobserver tokens with them):
    /// release_thread_handler is called on a worker's thread when it stops running jobs (before
    /// it sleeps, when it enters a BlockingSection, and when it exits); acquire_thread_handler
    /// when it starts again (when it starts, after it wakes, when it leaves a BlockingSection).
    /// spindle::use_token_source (spindle/jobserver.hpp) installs a pair that holds a jobserver
    /// token while the worker runs. Calls on one worker strictly alternate, starting with
    /// acquire and ending with release. An exception from either goes to exception_handler.
    std::function<void()> acquire_thread_handler{};
    /// See acquire_thread_handler.
    std::function<void()> release_thread_handler{};

    /// Called when the pool is deadlocked: no worker is running anything, nothing is runnable,
    /// and at least one task waits (a parked fiber or a BlockingSection); design-notes/0005.
    /// It runs on the pool's monitor thread (never a worker), once per deadlock: not again
    /// until some worker has run in between. The report names every waiter and can break the
    /// deadlock by failing waits (DeadlockReport::fail). Without a handler the report is
    /// printed to stderr once per deadlock and the waits go on waiting. An exception from the
    /// handler goes to exception_handler.
    std::function<void(const DeadlockReport&)> deadlock_handler{};
    /// How long the pool must stay deadlocked, with nothing at all happening, before the
    /// handler is called: a grace period for threads outside the pool that are about to wake
    /// a waiter (see ThreadPool::keep_active for threads that need longer).
    std::chrono::milliseconds deadlock_delay{100};
    /// Spare workers that BlockingSection may wake so that the pool keeps running
    /// num_threads workers while some of them are blocked. At most this many spare threads
    /// exist (each started on first need; the k-th takes new jobs only while more than k
    /// workers are inside blocking sections). Default (SIZE_MAX): num_threads, or none in a
    /// single-worker pool (whose deque then needs no fences: it has no thieves). 0: none.
    std::size_t max_spare_threads = static_cast<std::size_t>(-1);
    /// Fibers a worker may hold suspended in the middle of a job (parked or ready). At the
    /// limit the worker starts no new jobs (other workers take them) until one of its fibers
    /// finishes; its ready fibers still run. 0: the default, 131072. Each parked fiber costs
    /// one stack (stack_size of address space, of which only touched pages take memory) and
    /// ~250 bytes; design-notes/0003 "Bounded memory". When parked tasks wait for jobs that no
    /// worker may start because of this limit, the deadlock report names the limit as the
    /// cause (DeadlockReport::cause()).
    std::size_t max_fibers = 0;
    /// Makes the worker threads instead of spindle (rayon's spawn_handler, rustc's build_scoped):
    /// called once per worker, in index order, on the thread that builds the pool (and, for a
    /// spare worker, on the thread whose blocking section starts it), with the worker's index
    /// and its main function. It must start a thread that calls run() exactly once (run()
    /// returns when the pool stops; code around it brackets the worker's whole life, e.g.
    /// thread-locals the jobs see), or throw. The thread's stack should hold stack_size bytes:
    /// the worker's own frames run on it, its jobs on fibers. ~ThreadPool waits until every
    /// run() returned. Empty: spindle creates the threads (pthread_create).
    std::function<void(std::size_t, std::function<void()> run)> spawn_thread{};
    /// Records a per-worker trace (jobs run from deques and the injector, steals, parks and
    /// resumes, searching and sleeping, blocking sections, jobserver tokens, QueryMap computes and
    /// waits, fiber creation, spindle::TraceSpan) and writes it when the pool is destroyed: Chrome
    /// trace JSON to this path (Perfetto, chrome://tracing) and a self-contained HTML report next
    /// to it (a trailing .json replaced by .html, else .html appended). "%p" in the path becomes
    /// the process id, "%n" the pool's number in this process (1, 2, ...). Empty: the
    /// SPINDLE_TRACE environment variable, else no trace (then each trace point costs one
    /// predictable branch). design-notes/0011-trace.md says how to read the report.
    std::string trace{};
    /// Events kept per worker; once a worker's buffer is full its further events are dropped
    /// and counted, and the trace and the report say how many. 0: SPINDLE_TRACE_EVENTS if set,
    /// else 1,048,576 (40 bytes each, memory touched only as events are recorded).
    std::size_t trace_max_events = 0;
};

/// Counters of one worker since the pool started (ThreadPool::stats). Every counter is kept
/// permanently, by the worker itself, at the cost of a plain increment; reading them never stops
/// the pool, so a snapshot taken while it runs is only approximately consistent across fields.
struct WorkerStats {
    std::size_t index = 0;           ///< the worker's index (spare workers follow the regular ones)
    bool spare = false;              ///< a spare worker of blocking sections
    bool started = false;            ///< its thread exists (spares start on first need)
    std::uint64_t jobs_created = 0;  ///< jobs this worker pushed (join halves, spawns, ...)
    std::uint64_t jobs_run = 0;      ///< jobs it started: its own, stolen or injected ones
    std::uint64_t steals_tried = 0;  ///< steal attempts on other workers' deques
    std::uint64_t steals_succeeded = 0;  ///< of which took a job
    /// The same two split by the victim's distance, indexed by StealLevel (spindle/topology.hpp):
    /// a worker tries a farther level only after every victim of the nearer ones was empty.
    std::array<std::uint64_t, k_steal_levels> steals_tried_at{};
    /// Of steals_tried_at, those that took a job.
    std::array<std::uint64_t, k_steal_levels> steals_succeeded_at{};
    int numa_node = 0;   ///< the node its plan puts it on (and its memory)
    unsigned cpu = 0;    ///< the OS CPU its plan puts it on (a spare: its partner's)
    bool bound = false;  ///< its thread is bound to the plan's CPU (or node, for a spare)
    /// Steal requests thieves raised on this worker's deque (they found its shared part empty
    /// while it held private jobs) / that this worker answered by publishing jobs.
    std::uint64_t steal_requests_raised = 0;
    std::uint64_t steal_requests_answered =
        0;                      ///< requests of thieves this worker answered by publishing jobs
    std::uint64_t parks = 0;    ///< fibers that suspended in a wait
    std::uint64_t resumes = 0;  ///< suspended fibers switched back to
    std::uint64_t sleeps = 0;   ///< times the worker went to sleep (futex wait)
    std::uint64_t wakeups = 0;  ///< times it was woken from such a sleep
    std::uint64_t fibers_created = 0;  ///< pooled fibers (stacks) it allocated
    std::uint64_t search_ns = 0;       ///< time spent looking for work (from the first miss on)
};

/// ThreadPool::stats(): one entry per worker slot, spares included, plus pool-wide counts.
/// Once the pool is quiescent, jobs_run summed over workers equals jobs_created summed over
/// workers plus jobs_injected: no job is lost or run twice.
struct SPINDLE_API PoolStats {
    /// One entry per worker, spare workers after the pool's own.
    std::vector<WorkerStats> workers;
    std::uint64_t jobs_injected = 0;  ///< jobs submitted from outside the pool, broadcasts included
    std::uint64_t spare_starts = 0;   ///< spare worker threads started by blocking sections
    /// The per-worker counters summed (index 0, spare and started false).
    WorkerStats total() const noexcept;
};

/// What a broadcast() closure is told about the worker running it.
struct BroadcastContext {
    std::size_t index;        ///< the worker running this call
    std::size_t num_threads;  ///< the pool's worker count
};

class Scope;

/// A set of workers, each an OS thread with its own deque and fibers. Its destructor waits for
/// every job, detached spawns included.
class SPINDLE_API ThreadPool {
public:
    /// Starts the workers. Throws InvalidPoolOptions for bad options and std::system_error when
    /// a thread cannot be created (the workers already started are stopped first).
    explicit ThreadPool(const PoolOptions& options = {});
    /// Waits until every job submitted to the pool has finished (detached spawns included, and
    /// whatever they spawn), then stops and joins the workers. Calling it from one of this
    /// pool's own workers is a fatal error (it would wait for itself).
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    /// The number of workers (spare workers not counted).
    std::size_t num_threads() const noexcept;
    /// num_threads() plus the spare workers that blocking sections may start
    /// (PoolOptions::max_spare_threads): every worker index, spares included, is below it.
    std::size_t max_threads() const noexcept;
    /// The pool whose worker is running the caller, or nullptr outside any pool.
    static ThreadPool* current() noexcept;
    /// Index of the calling worker in this pool, or nullopt when the caller is not one.
    std::optional<std::size_t> current_thread_index() const noexcept;

    /// Runs f on a worker of this pool and returns its result (or rethrows its exception).
    /// From a worker of this pool: runs f inline. From a worker of another pool: that worker's
    /// fiber parks and the worker keeps running its own pool's jobs meanwhile. From any other
    /// thread: the thread blocks.
    template <class F>
    std::invoke_result_t<F&> install(F&& f);

    /// Runs f and g, potentially in parallel, on this pool; see spindle::join.
    template <class A, class B>
    auto join(A&& a, B&& b);

    /// Runs f(scope) on this pool; see spindle::scope.
    template <class F>
    std::invoke_result_t<F&, Scope&> scope(F&& f);

    /// Runs f() later on this pool, detached. f is moved into a heap job. An exception escaping
    /// f goes to PoolOptions::exception_handler (or terminates the process without one).
    template <class F>
    void spawn(F&& f);

    /// Runs f(BroadcastContext) once on every worker and returns the results in worker order.
    /// Each worker runs it when it next looks for work. If some calls throw, all still run and
    /// the exception of the lowest worker index is rethrown.
    template <class F>
    auto broadcast(F&& f)
        -> std::vector<detail::result_t<std::invoke_result_t<F&, BroadcastContext>>>;

    /// The workers' counters now (see WorkerStats). With SPINDLE_STATS=1 in the environment the
    /// destructor also prints them, one line per worker, to stderr.
    PoolStats stats() const;

    /// \cond INTERNAL
    detail::Registry* registry() const noexcept { return m_registry; }
    /// \endcond

    /// Counts as a running worker for deadlock detection while it lives: hold one on a thread
    /// outside the pool that will later wake the pool's waiters (set an Event, unlock a Mutex)
    /// after a pause longer than PoolOptions::deadlock_delay, so the pool is not reported as
    /// deadlocked meanwhile.
    class KeepActive {
    public:
        /// Counts as a running worker of pool until destroyed.
        explicit KeepActive(ThreadPool& pool) noexcept;
        ~KeepActive();
        KeepActive(const KeepActive&) = delete;
        KeepActive& operator=(const KeepActive&) = delete;

    private:
        detail::Registry* m_registry;
    };
    /// A KeepActive for this pool.
    KeepActive keep_active() noexcept { return KeepActive(*this); }

private:
    detail::Registry* m_registry;
};

/// The global pool, built with default options on first use unless build_global() came first.
///
/// Exit rule: the global pool is never destroyed on its own. When main returns (or exit() is
/// called) without shutdown_global(), its workers are simply abandoned, as rayon's are: detached
/// jobs still pending may never run, and jobs still running go on while static destructors run.
/// A private ThreadPool's destructor, by contrast, waits for all of its jobs.
///
/// After fork(), the child process has a new global pool: the parent's, whose threads do not
/// exist in the child, is abandoned and the child's first use builds a fresh one (with default
/// options, or build_global's). A private pool created before the fork cannot be used in the
/// child: any use that needs its threads (install, join, scope, spawn or broadcast from outside
/// it, keep_active) is a fatal error naming the cause, and its destructor returns at once without
/// freeing it (so that exit() in the child never waits for threads that are not there).
SPINDLE_API ThreadPool& global_pool();
/// Builds the global pool with the given options. Throws GlobalPoolAlreadyInitialized if it
/// already exists (even if it was built lazily by a first use).
SPINDLE_API void build_global(const PoolOptions& options);
/// Waits until every detached job of the global pool has finished (spawn()s, including those
/// they spawn in turn), then stops and destroys the global pool, as a private pool's destructor
/// does; returns at once when there is no global pool. Afterwards global_pool() (or
/// build_global()) builds a new one. Call it at the end of main when detached jobs of the global
/// pool must run to completion; no thread outside the pool may use the global pool meanwhile.
/// Calling it from a worker of the global pool is a fatal error (it would wait for itself).
SPINDLE_API void shutdown_global();

namespace detail {
/// A job submitted with install() from outside the pool.
template <class F>
std::invoke_result_t<F&> install_cold(Registry* r, F& f) {
    StackJob<F> job(f);
    /// Into an idle pool the job starts only after a worker's futex wake-up (~20 us on the dev
    /// VM), so spinning cannot pay; on a shared CPU it would even delay that worker (1.4 x
    /// rayon's wake-up latency at 1 worker, design-notes/0001 §4).
    const bool to_idle_pool = inject(r, &job, /*caller_waits=*/true);
    if (!job.done.probe())
        wait_latch(job.done, !to_idle_pool);
    if (job.outcome.error)
        std::rethrow_exception(job.outcome.error);
    if constexpr (std::is_void_v<std::invoke_result_t<F&>>)
        return;
    else
        return job.outcome.value.take();
}
}  // namespace detail

template <class F>
std::invoke_result_t<F&> ThreadPool::install(F&& f) {
    detail::WorkerCore* w = detail::current_worker();
    if (w != nullptr && w->registry == m_registry)
        return f();
    return detail::install_cold(m_registry, f);
}

}  // namespace spindle
