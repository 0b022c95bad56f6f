// Fibers: stackful execution contexts switched with Boost.Context's fcontext primitives.
// This is the only part of spindle that includes Boost.Context. It knows nothing of jobs or
// workers: a fiber runs an entry function, and a switch can carry an "after" callback that the
// destination runs once the source's context has been saved (how parking avoids the race of a
// fiber being woken before it finished suspending: design-notes/0002).
//
// Every switch also
//   * saves and restores the C++ runtime's per-thread exception globals (the caught-exception
//     stack and the uncaught count), so a fiber may park inside a catch block;
//   * tells AddressSanitizer and ThreadSanitizer which stack is being entered;
//   * updates the thread's record of the running fiber, used by the stack-overflow handler.
#pragma once

#include "fiber/stack.hpp"
#include "spindle/detail/job.hpp"
#include "util/assert.hpp"
#include "util/lock_order.hpp"

#include <cstddef>
#include <cstdint>

namespace spindle::detail {

struct Fiber;

// Runs on the destination fiber right after a switch, with the fiber that switched away.
using AfterSwitch = void (*)(Fiber* from, void* arg);

struct EhGlobals {  // mirrors libstdc++'s __cxa_eh_globals
    void* caught_exceptions = nullptr;
    unsigned int uncaught_exceptions = 0;
};

// Where a fiber is in its worker's life (design-notes/0002, invariant 4): running (the one on
// its thread now), idle (in the worker's idle list, suspended in its run loop with no job),
// parked (suspended in the middle of a job, in no list: only a wake-up brings it back), ready
// (in the local FIFO or the remote stack, to be resumed), finished (left its run loop at the
// pool's end; never resumed). The scheduler moves it with set_fiber_state, which checks the
// transition in debug and sanitizer builds (SPINDLE_ASSERT), as marl does for its fibers:
//
//     idle -> running -> idle | parked | ready | finished,   parked -> ready -> running
enum class FiberState : std::uint8_t { idle, running, parked, ready, finished };

struct FiberWaiter : Waiter {
    Fiber* fiber;
};

// The stack a fiber (or a plain thread) is running on now: its own, or a segment that
// ensure_stack switched to (src/fiber/segment.cpp). Written only by the thread running it.
struct StackState {
    std::uintptr_t lo = 0;  // usable [lo, hi); 0: not known yet (a plain thread, until asked)
    std::uintptr_t hi = 0;
    // lo + red zone: a default stack check (join, scope, QueryMap) below it continues on a
    // new segment.
    std::uintptr_t hard_limit = 0;
    // What tl_stack_limit holds while this stack runs: the high-water mark (hi minus
    // k_stack_high_water) until the stack first goes below it, then hard_limit.
    std::uintptr_t limit = 0;
    // Guard region of this stack, for the overflow handler: [guard_lo, guard_hi).
    const char* guard_lo = nullptr;
    const char* guard_hi = nullptr;
    // Segments below this one (0 on the fiber's own stack) and the bytes of stack they used.
    std::uint32_t segments = 0;
    std::size_t segment_bytes = 0;
    // The stack went below its high-water mark since it was last trimmed.
    bool deep = false;
};

// Sets the bounds of s from a stack [lo, hi) and its guard (resets the segment count).
void init_stack_state(StackState& s,
                      std::uintptr_t lo,
                      std::uintptr_t hi,
                      const char* guard_lo,
                      const char* guard_hi) noexcept;
// If f's own stack went below its high-water mark, gives the pages below the mark back to the
// kernel and re-arms the mark. Call on f's thread while f is near the top of its stack (between
// jobs). Returns true if it trimmed.
struct Fiber;
bool trim_deep_stack(Fiber* f) noexcept;
// Installs the running stack's limits in the thread's stack-check variables
// (spindle/detail/stack_check.hpp).
void publish_stack_state(const StackState& s) noexcept;

struct Fiber {
    // Makes a fiber for the calling thread's own stack (no allocation; never freed).
    static void init_thread_fiber(Fiber& f, void* owner);
    // Allocates a stack; entry(arg) runs on the first switch to the fiber and must never
    // return. Throws std::system_error when the stack cannot be allocated.
    static Fiber* create(std::size_t stack_size, void (*entry)(void*), void* arg, void* owner);
    // Frees a suspended fiber that will never run again (never the running one).
    static void destroy(Fiber* f) noexcept;

    // The context saved when this fiber last switched away (fcontext_t).
    void* ctx = nullptr;
    void* owner = nullptr;  // the worker it belongs to (opaque here)
    Stack stack;            // empty for a thread's own stack
    FiberWaiter waiter;
    Fiber* next = nullptr;  // intrusive link for the owner's ready and idle lists
    // Written by the owner's thread, and by a waker for parked -> ready (which it may only do
    // after the park published the fiber: invariant 3).
    FiberState state = FiberState::idle;
    EhGlobals eh;
    void (*entry)(void*) = nullptr;
    void* entry_arg = nullptr;
    // Sanitizer bookkeeping.
    void* asan_fake_stack = nullptr;
    const void* asan_bottom = nullptr;
    std::size_t asan_size = 0;
    void* tsan_fiber = nullptr;
    // Owned by the scheduler, opaque here: it keeps the fiber's propagated context while the
    // fiber is switched out (spindle/context.hpp).
    alignas(void*) unsigned char scheduler_data[2 * sizeof(void*)] = {};
    // The stack it runs on now (its own, or an ensure_stack segment) and its guard.
    StackState st;
#if SPINDLE_LOCK_ORDER_CHECK
    // The locks its task holds, for the lock-order checker (src/util/lock_order.cpp).
    LockOrderHeld lock_held;
#endif
};

// Whether a fiber may move from `from` to `to` (the diagram at FiberState).
constexpr bool allowed_transition(FiberState from, FiberState to) noexcept {
    switch (from) {
        case FiberState::idle:
            return to == FiberState::running;
        case FiberState::running:
            return to == FiberState::idle || to == FiberState::parked || to == FiberState::ready ||
                   to == FiberState::finished;
        case FiberState::parked:
            return to == FiberState::ready;
        case FiberState::ready:
            return to == FiberState::running;
        case FiberState::finished:
            return false;
    }
    return false;
}

// Moves f to `to`, checking (under SPINDLE_ASSERTIONS) that the move is one of the diagram's.
// Inline: every fiber switch makes two moves, and release builds keep only the store.
inline void set_fiber_state(Fiber* f, FiberState to) noexcept {
    SPINDLE_ASSERT(allowed_transition(f->state, to), "design-notes/0002, invariant 4");
    f->state = to;
}

// Switches from the running fiber `from` to `to` (same thread). Returns when some fiber
// switches back to `from`. If after is non-null, `to` calls after(from, arg) first thing.
void switch_fiber(Fiber* from, Fiber* to, AfterSwitch after, void* arg) noexcept;

// The fiber running on this thread (nullptr on threads that never ran one).
Fiber* running_fiber() noexcept;

// Stack-overflow detection for the calling thread: installs (once per process) a SIGSEGV
// handler that runs on an alternate signal stack and, when the fault address is in the guard
// region of the running fiber, prints a message naming `what` and the stack size, then lets
// the process die. Call on each worker thread before it runs jobs; undo with the returned
// token at thread exit.
struct OverflowGuard {
    void* altstack = nullptr;
    std::size_t altstack_size = 0;
};
OverflowGuard enable_overflow_detection(const char* what);
void disable_overflow_detection(OverflowGuard& g) noexcept;

}  // namespace spindle::detail
