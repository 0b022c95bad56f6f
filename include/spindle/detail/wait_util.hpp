// Helpers shared by the wait primitives (latch.hpp, event.hpp, wait_group.hpp, future.hpp,
// mutex.hpp, condition_variable.hpp, semaphore.hpp). Internal: users never name detail::.
// The protocol every primitive follows is in spindle/detail/wait.hpp and design-notes/0003.
#pragma once

#include "spindle/detail/runtime.hpp"
#include "spindle/detail/wait.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

namespace spindle::detail {

// Defined only by the white-box tests (tests/wait/wait_test_util.hpp): reads a primitive's
// wait list, and cancels a wait the way a deadlock breaker does.
struct WaitTestAccess;

inline void wait_cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// Misuse that cannot be reported by an exception (a destructor, an unlock by a non-owner):
// prints "spindle: fatal: <kind> '<label>' <what>" and aborts.
[[noreturn]] inline void wait_misuse_fatal(const char* kind,
                                           const char* label,
                                           const char* what) noexcept {
    std::fprintf(stderr, "spindle: fatal: %s '%s' %s\n", kind, label != nullptr ? label : "", what);
    std::fflush(stderr);
    std::abort();
}

// Who runs the calling code, as one word for Mutex's owner record and deadlock reports:
// (worker index << 1) | 1 on a pool worker, the thread's id hash with bit 0 clear elsewhere.
// Fibers never migrate (design-notes/0002), so the word of a task never changes while it runs.
// Two tasks on the same worker share a word: it names a thread, not a task.
inline std::uintptr_t current_holder() noexcept {
    if (WorkerCore* w = current_worker())
        return (static_cast<std::uintptr_t>(w->index) << 1) | 1;
    const auto h = std::hash<std::thread::id>{}(std::this_thread::get_id());
    return static_cast<std::uintptr_t>(h) & ~std::uintptr_t{1};
}

// "worker 3", "thread 0x7f...", or "nobody" for 0.
inline std::string describe_holder(std::uintptr_t holder) {
    if (holder == 0)
        return "nobody";
    char buf[48];
    if ((holder & 1) != 0)
        std::snprintf(buf, sizeof buf, "worker %ju", static_cast<std::uintmax_t>(holder >> 1));
    else
        std::snprintf(buf, sizeof buf, "thread %#jx", static_cast<std::uintmax_t>(holder));
    return buf;
}

// The primitive a wait node belongs to (WaitSite::object is the primitive itself).
template <class P>
P& primitive_of(const WaitNode& node) noexcept {
    return *const_cast<P*>(static_cast<const P*>(node.site.object));
}

// Wakes every node of list (already unlinked from the primitive, lock released). Reads each
// node's successor before waking it: a woken task may return and free its node at once.
inline void wake_all(WaitList& list) noexcept {
    WaitNode* n = list.front();
    while (n != nullptr) {
        WaitNode* next = n->next;
        wake_node(*n);
        n = next;
    }
}

// Counts the nodes of a list (for describe() and the destructor checks).
inline std::size_t wait_list_size(const WaitList& list) noexcept {
    std::size_t k = 0;
    for (const WaitNode* n = list.front(); n != nullptr; n = n->next)
        ++k;
    return k;
}

}  // namespace spindle::detail
