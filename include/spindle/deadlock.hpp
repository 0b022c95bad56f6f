// Deadlock reports: what PoolOptions::deadlock_handler receives (design-notes/0005).
#pragma once

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

// One task that waits while the pool is deadlocked.
struct DeadlockWaiter {
    std::size_t worker = 0;  // index of the worker whose fiber (or thread) waits
    std::string kind;        // "Event", "Mutex", "Query", ... or "BlockingSection"
    std::string label;       // the primitive's (or section's) label, or empty
    std::string detail;      // what the primitive adds (a query key, a mutex's owner), or empty
    bool can_fail = false;   // fail() can end this wait (a blocking section cannot be failed)
};

class DeadlockReport {
public:
    const std::vector<DeadlockWaiter>& waiters() const noexcept { return m_waiters; }
    // One line per waiter: "worker 1 waits on Mutex 'b' (held by worker 0)".
    std::string to_string() const;
    // Ends waiter i's wait: the wait call (Event::wait, Mutex::lock, ...) throws e instead of
    // returning. Returns false when it cannot: the waiter cannot be failed, or it was woken
    // meanwhile. Only valid during the handler call that received this report.
    bool fail(std::size_t i, std::exception_ptr e) const;
    // The same with a DeadlockError whose message is this report.
    bool fail(std::size_t i) const;

private:
    friend class detail::Registry;
    detail::Registry* m_registry = nullptr;
    std::vector<DeadlockWaiter> m_waiters;
    std::vector<detail::WaitNode*> m_nodes;  // nullptr for blocking sections
};

}  // namespace spindle
