// White-box access to the wait primitives for the tests of label `wait`: how many tasks are
// queued on a primitive, and cancelling the oldest wait exactly as a deadlock breaker does
// (WaitSite::cancel, then set WaitNode::error, then wake_node; design-notes/0003 and 0005).
#pragma once

#include "common/test_util.hpp"

#include <spindle/spindle.hpp>

#include <cstddef>
#include <exception>
#include <string>

namespace spindle::detail {

struct WaitTestAccess {
    template <class P>
    static std::size_t waiters(P& p) {
        p.m_waiters.lock();
        const std::size_t n = p.m_waiters.size();
        p.m_waiters.unlock();
        return n;
    }
    template <class T>
    static std::size_t waiters(Future<T>& f) {
        return waiters(*f.m_state);
    }
    template <class T>
    static std::size_t waiters(SharedFuture<T>& f) {
        return waiters(*f.m_state);
    }

    // The oldest queued node, or nullptr. It stays valid while its waiter stays blocked.
    template <class P>
    static WaitNode* front(P& p) {
        p.m_waiters.lock();
        WaitNode* n = p.m_waiters.front();
        p.m_waiters.unlock();
        return n;
    }
    template <class T>
    static WaitNode* front(Future<T>& f) {
        return front(*f.m_state);
    }
};

}  // namespace spindle::detail

namespace spindle_wait_test {

using Access = spindle::detail::WaitTestAccess;

// Waits (hang-guarded) until n tasks are queued on p.
template <class P>
bool wait_for_waiters(P& p, std::size_t n) {
    return spindle_test::wait_until([&] { return Access::waiters(p) >= n; });
}

struct Broken {
    std::string kind;
    std::string label;
    std::string detail;  // describe(), or "" without one
    bool second_cancel;  // what a second cancel of the same node returned (must be false)
};

// Does what a deadlock breaker does to the oldest waiter of p: cancel, fail with e, wake.
// Returns what it saw, or nothing (kind empty) when no waiter was queued or cancel refused.
template <class P>
Broken break_oldest_wait(P& p, std::exception_ptr e) {
    spindle::detail::WaitNode* n = Access::front(p);
    if (n == nullptr || n->site.cancel == nullptr || !n->site.cancel(*n))
        return {};
    Broken b;
    b.kind = n->site.kind;
    b.label = n->site.label != nullptr ? n->site.label : "";
    b.detail = n->site.describe != nullptr ? n->site.describe(*n) : "";
    b.second_cancel = n->site.cancel(*n);
    n->error = std::move(e);
    spindle::detail::wake_node(*n);
    return b;
}

}  // namespace spindle_wait_test
