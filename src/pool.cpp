// ThreadPool, the global pool, and the free functions about the current thread.
#include "spindle/pool.hpp"

#include "scheduler/registry.hpp"
#include "scheduler/worker.hpp"
#include "spindle/current.hpp"
#include "spindle/detail/lock_order.hpp"
#include "spindle/errors.hpp"
#include "util/fatal.hpp"
#include "util/fork.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <new>

namespace spindle {

ThreadPool::ThreadPool(const PoolOptions& options) {
    auto r = std::make_unique<detail::Registry>(options);
    r->set_pool(this);
    r->start();
    m_registry = r.release();
}

ThreadPool::~ThreadPool() {
    if (m_registry->created_before_fork()) {
        // A child of fork(): the workers, the monitor and the jobs in flight exist only in the
        // parent. Waiting for them would hang and freeing their state is unsafe (its locks may
        // be held for ever), so the registry is abandoned (design-notes/0009).
        detail::keep_abandoned(m_registry);
        return;
    }
    detail::WorkerCore* w = detail::current_worker();
    if (w != nullptr && w->registry == m_registry)
        detail::fatal(
            "a ThreadPool was destroyed from one of its own workers (worker %zu); the destructor "
            "waits for the pool's jobs, so it would wait for itself",
            w->index);
    m_registry->shutdown();
    delete m_registry;
}

ThreadPool* ThreadPool::current() noexcept {
    detail::WorkerCore* w = detail::current_worker();
    return w != nullptr ? w->registry->pool() : nullptr;
}

PoolStats ThreadPool::stats() const {
    return m_registry->stats();
}

WorkerStats PoolStats::total() const noexcept {
    WorkerStats t;
    for (const WorkerStats& w : workers) {
        t.jobs_created += w.jobs_created;
        t.jobs_run += w.jobs_run;
        t.steals_tried += w.steals_tried;
        t.steals_succeeded += w.steals_succeeded;
        for (std::size_t k = 0; k < k_steal_levels; ++k) {
            t.steals_tried_at[k] += w.steals_tried_at[k];
            t.steals_succeeded_at[k] += w.steals_succeeded_at[k];
        }
        t.steal_requests_raised += w.steal_requests_raised;
        t.steal_requests_answered += w.steal_requests_answered;
        t.parks += w.parks;
        t.resumes += w.resumes;
        t.sleeps += w.sleeps;
        t.wakeups += w.wakeups;
        t.fibers_created += w.fibers_created;
        t.search_ns += w.search_ns;
    }
    return t;
}

std::size_t ThreadPool::num_threads() const noexcept {
    return m_registry->num_threads();
}

std::size_t ThreadPool::max_threads() const noexcept {
    return m_registry->num_slots();
}

std::optional<std::size_t> ThreadPool::current_thread_index() const noexcept {
    detail::WorkerCore* w = detail::current_worker();
    if (w != nullptr && w->registry == m_registry)
        return w->index;
    return std::nullopt;
}

namespace {
// The global pool: created on first use, destroyed only by shutdown_global() (otherwise its
// workers sleep until process exit). Written under g_global_mutex (release), read lock-free
// first (acquire); in a child of fork() cleared by the atfork handler.
std::atomic<ThreadPool*> g_global{nullptr};
std::mutex g_global_mutex;
}  // namespace

void shutdown_global() {
    detail::WorkerCore* w = detail::current_worker();
    SPINDLE_LOCK_ORDER_GUARD("global pool g_global_mutex", &g_global_mutex);
    std::lock_guard<std::mutex> lock(g_global_mutex);
    ThreadPool* p = g_global.load(std::memory_order_relaxed);
    if (p == nullptr)
        return;
    if (w != nullptr && w->registry == p->registry())
        detail::fatal(
            "spindle::shutdown_global() was called on worker %zu of the global pool; it waits "
            "for the global pool's jobs, so it would wait for itself",
            w->index);
    // First wait with the pool still published: detached jobs that are running may spawn more
    // through global_pool() (the lock-free path, not this lock) and those are waited for too.
    p->registry()->wait_detached();
    // Unpublished before it is destroyed: the next global_pool() builds a new pool.
    g_global.store(nullptr, std::memory_order_release);
    delete p;
}

ThreadPool& global_pool() {
    if (ThreadPool* p = g_global.load(std::memory_order_acquire))
        return *p;
    SPINDLE_LOCK_ORDER_GUARD("global pool g_global_mutex", &g_global_mutex);
    std::lock_guard<std::mutex> lock(g_global_mutex);
    if (ThreadPool* p = g_global.load(std::memory_order_relaxed))
        return *p;
    auto* p = new ThreadPool(PoolOptions{});
    g_global.store(p, std::memory_order_release);
    return *p;
}

void build_global(const PoolOptions& options) {
    SPINDLE_LOCK_ORDER_GUARD("global pool g_global_mutex", &g_global_mutex);
    std::lock_guard<std::mutex> lock(g_global_mutex);
    if (g_global.load(std::memory_order_relaxed) != nullptr)
        throw GlobalPoolAlreadyInitialized();
    g_global.store(new ThreadPool(options), std::memory_order_release);
}

std::optional<std::size_t> current_thread_index() noexcept {
    if (detail::WorkerCore* w = detail::current_worker())
        return w->index;
    return std::nullopt;
}

std::size_t current_num_threads() {
    if (detail::WorkerCore* w = detail::current_worker())
        return w->registry->num_threads();
    return global_pool().num_threads();
}

std::optional<Yield> yield_now() {
    auto* w = static_cast<detail::Worker*>(detail::current_worker());
    if (w == nullptr)
        return std::nullopt;
    return w->yield() ? Yield::executed : Yield::idle;
}

namespace detail {
Registry* global_registry() {
    return global_pool().registry();
}

void global_pool_after_fork() noexcept {
    // The child has no thread of the parent's global pool: abandon it, and let the child's
    // first use build a new one.
    if (ThreadPool* p = g_global.exchange(nullptr, std::memory_order_relaxed))
        keep_abandoned(p);
    // A thread of the parent may have held the lock at the fork (building the pool); it does
    // not exist here. std::mutex has a constant initialiser and a trivial destructor.
    new (&g_global_mutex) std::mutex;
}
}  // namespace detail

}  // namespace spindle
