// A worker's list of blocked waits (Worker::m_blocked_head, under Worker::m_blocked_lock):
// intrusive, doubly linked through WaitNode::reg_prev / reg_next. Only the worker's own thread
// links and unlinks (design-notes/0005, invariant 3); the monitor reads it under the lock.
#pragma once

#include "spindle/detail/wait.hpp"

namespace spindle::detail {

inline void blocked_link(WaitNode*& head, WaitNode& n) noexcept {
    n.reg_prev = nullptr;
    n.reg_next = head;
    if (head != nullptr)
        head->reg_prev = &n;
    head = &n;
}

inline void blocked_unlink(WaitNode*& head, WaitNode& n) noexcept {
    if (n.reg_prev != nullptr)
        n.reg_prev->reg_next = n.reg_next;
    else
        head = n.reg_next;
    if (n.reg_next != nullptr)
        n.reg_next->reg_prev = n.reg_prev;
    n.reg_next = n.reg_prev = nullptr;
}

}  // namespace spindle::detail
