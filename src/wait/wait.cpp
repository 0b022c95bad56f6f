// wake_node, the wake-up of every wait primitive (spindle/detail/wait.hpp, design-notes/0003);
// block_current, their park, is in src/scheduler/park.cpp beside wait_latch.
#include "spindle/detail/wait.hpp"

#include <sched.h>

namespace spindle::detail {

void SpinLock::relax(unsigned i) noexcept {
    if (i < 64) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        asm volatile("yield");
#endif
    } else {
        sched_yield();
    }
}

void wake_node(WaitNode& node) noexcept {
    Waiter* w = node.waiter;  // read before waking: node may be gone right after
    wake_waiter(w);
}

}  // namespace spindle::detail
