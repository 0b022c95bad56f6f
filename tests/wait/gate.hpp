// A minimal one-shot gate built directly on the wait entry point (spindle/detail/wait.hpp) and
// detail::WaitQueue, so that the scheduler side of blocking waits (parking, deadlock detection,
// fiber limits) is tested independently of the public primitives.
#pragma once

#include "spindle/detail/wait.hpp"
#include "spindle/detail/wait_util.hpp"

#include <string>

namespace spindle_test {

class Gate {
public:
    explicit Gate(const char* label = nullptr) noexcept : m_label(label) {}

    void wait() {
        m_waiters.lock();
        if (m_open) {
            m_waiters.unlock();
            return;
        }
        spindle::detail::WaitNode node(spindle::detail::WaitSite{
            "Gate", m_label, this, &spindle::detail::WaitQueue::cancel_in<Gate, &Gate::m_waiters>,
            &Gate::describe});
        m_waiters.wait(node);
        node.rethrow_if_failed();
    }

    void open() {
        spindle::detail::WaitList woken;
        m_waiters.lock();
        m_open = true;
        m_waiters.take_all(woken);
        m_waiters.unlock();
        spindle::detail::wake_all(woken);
    }

private:
    static std::string describe(const spindle::detail::WaitNode&) { return "never opened"; }

    spindle::detail::WaitQueue m_waiters;  // its lock guards m_open too
    bool m_open = false;
    const char* m_label;
};

}  // namespace spindle_test
