// Deadlock reports: what PoolOptions::deadlock_handler receives (design-notes/0005).
#pragma once

#include "spindle/detail/config.hpp"
#include "spindle/errors.hpp"

#include <cstddef>
#include <exception>
#include <string>
#include <vector>

namespace spindle {

namespace detail {
class Registry;
struct WaitNode;
}  // namespace detail

/// One task that waits while the pool is deadlocked.
struct SPINDLE_API DeadlockWaiter {
    std::size_t worker = 0;  ///< index of the worker whose fiber (or thread) waits
    std::string kind;        ///< "Event", "Mutex", "Query", ... or "BlockingSection"
    std::string label;       ///< the primitive's (or section's) label, or empty
    std::string detail;      ///< what the primitive adds (a query key, a mutex's owner), or empty
    bool can_fail = false;   ///< fail() can end this wait (a blocking section cannot be failed)
};

/// What PoolOptions::deadlock_handler receives once per deadlock: every waiter, and fail() to end
/// the waits (design-notes/0005).
class SPINDLE_API DeadlockReport {
public:
    /// Every waiter, one entry each (identical waits are not merged here).
    const std::vector<DeadlockWaiter>& waiters() const noexcept { return m_waiters; }
    /// True when the fiber limit stops the pool: a worker holds PoolOptions::max_fibers
    /// suspended fibers, so it starts no new job, while jobs are queued. cause() says so in
    /// words ("the fiber limit (PoolOptions::max_fibers = 4) is reached: worker 0 holds 4
    /// suspended fibers, so it starts none of the 5 queued job(s)"); empty when false.
    bool at_fiber_limit() const noexcept { return !m_cause.empty(); }
    /// Why no worker can run, in one sentence (for instance the fiber limit).
    const std::string& cause() const noexcept { return m_cause; }
    /// The report as text: the cause if there is one, then one line per distinct wait. Identical
    /// waits (same kind, label, detail and primitive) share a line that counts them per worker:
    ///   "  worker 1 waits on Mutex 'b' (held by worker 0)"
    ///   "  1000 tasks wait on Event 'ready': worker 0: 600, worker 1: 400"
    std::string to_string() const;
    /// Ends waiter i's wait: the wait call (Event::wait, Mutex::lock, ...) throws e instead of
    /// returning. Returns false when it cannot: the waiter cannot be failed, or it was woken
    /// meanwhile. Only valid during the handler call that received this report.
    bool fail(std::size_t i, std::exception_ptr e) const;
    /// The same with a DeadlockError whose message is this report.
    bool fail(std::size_t i) const;

private:
    friend class detail::Registry;
    /// The waiter lines of to_string(), without the cause.
    std::string waiter_lines() const;

    detail::Registry* m_registry = nullptr;
    std::vector<DeadlockWaiter> m_waiters;
    std::vector<detail::WaitNode*> m_nodes;  ///< nullptr for blocking sections
    std::string m_cause;
    std::string m_text;  ///< to_string(), made once for the DeadlockErrors of fail(i)
};

}  // namespace spindle
