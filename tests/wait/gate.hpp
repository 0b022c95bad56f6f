// A minimal one-shot gate built directly on the wait entry point (spindle/detail/wait.hpp), so
// that the scheduler side of blocking waits (parking, deadlock detection, fiber limits) is
// tested independently of the public primitives.
#pragma once

#include "spindle/detail/wait.hpp"

namespace spindle_test {

class Gate {
public:
    explicit Gate(const char* label = nullptr) noexcept : m_label(label) {}

    void wait() {
        m_lock.lock();
        if (m_open) {
            m_lock.unlock();
            return;
        }
        spindle::detail::WaitNode node(
            spindle::detail::WaitSite{"Gate", m_label, this, &Gate::cancel, &Gate::describe});
        spindle::detail::block_current(node, &Gate::enqueue, this);
        node.rethrow_if_failed();
    }

    void open() {
        spindle::detail::WaitList woken;
        m_lock.lock();
        m_open = true;
        m_waiters.splice_to(woken);
        m_lock.unlock();
        while (spindle::detail::WaitNode* n = woken.pop_front())
            spindle::detail::wake_node(*n);
    }

private:
    static void enqueue(spindle::detail::WaitNode& n, void* self) {
        auto* g = static_cast<Gate*>(self);
        g->m_waiters.push_back(n);
        g->m_lock.unlock();
    }
    static bool cancel(spindle::detail::WaitNode& n) noexcept {
        auto* g = static_cast<Gate*>(const_cast<void*>(n.site.object));
        g->m_lock.lock();
        const bool queued = g->m_waiters.contains(n);
        if (queued)
            g->m_waiters.remove(n);
        g->m_lock.unlock();
        return queued;
    }
    static std::string describe(const spindle::detail::WaitNode&) { return "never opened"; }

    spindle::detail::SpinLock m_lock;
    bool m_open = false;  // guarded by m_lock
    spindle::detail::WaitList m_waiters;
    const char* m_label;
};

}  // namespace spindle_test
