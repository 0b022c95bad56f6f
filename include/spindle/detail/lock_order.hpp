// The lock-order checker (lockdep-style; design-notes/0013). Compiled into debug and sanitizer
// builds (no NDEBUG), compiled out of release builds: every hook below is then `((void)0)` and
// the library keeps only empty functions.
//
// It learns, over a whole run, the order in which locks of each *class* are taken: a class is
// a spindle::Mutex label (all Mutexes with the same label text are one class), an unlabelled
// Mutex (a class of its own, forgotten when it is destroyed), or one of spindle's internal
// locks ("Registry::m_monitor_mutex", ...). Taking a lock of class B while holding one of
// class A records the edge A -> B with a backtrace of where it was first seen. Taking B while
// holding A when the edges already lead from B to A (directly or through other classes) is an
// inversion: two tasks that do this at the same time deadlock, whether or not they did in
// this run. The checker prints both orders with where each was first seen and aborts.
//
// The set of locks held belongs to the running fiber, not to the OS thread: a worker switches
// fibers while a parked task holds a Mutex, and the next task on that worker holds nothing.
// On a thread that never ran a fiber the set belongs to the thread.
//
// SPINDLE_LOCK_ORDER=0 in the environment turns it off for the process (for programs that
// deadlock on purpose to exercise the deadlock detector).
//
// Hooks are one line at each lock and unlock site:
//     SPINDLE_LOCK_ORDER_ACQUIRE(cls, obj)  before a blocking acquisition (checks, then records)
//     SPINDLE_LOCK_ORDER_TRY(cls, obj)      after a successful try_lock (records, no check:
//                                           a try_lock cannot wait)
//     SPINDLE_LOCK_ORDER_RELEASE(obj)       at the unlock
//     SPINDLE_LOCK_ORDER_GUARD(cls, obj)    a scope: acquire now, release at its end
//     SPINDLE_LOCK_ORDER_FORGET(obj)        when an unlabelled lock's object dies
// cls is the class name (a string that outlives the run, e.g. a literal) or nullptr for "one
// class per object".
#pragma once

#include "spindle/detail/config.hpp"

#if !defined(NDEBUG) && !defined(SPINDLE_NO_LOCK_ORDER_CHECK)
#define SPINDLE_LOCK_ORDER_CHECK 1
#else
#define SPINDLE_LOCK_ORDER_CHECK 0
#endif

namespace spindle::detail {

SPINDLE_API void lock_order_acquire(const char* cls, const void* obj) noexcept;
SPINDLE_API void lock_order_acquired_try(const char* cls, const void* obj) noexcept;
SPINDLE_API void lock_order_release(const void* obj) noexcept;
SPINDLE_API void lock_order_forget(const void* obj) noexcept;

// Whether this build of the library checks (false in a release library even when the caller
// was compiled without NDEBUG).
SPINDLE_API bool lock_order_check_enabled() noexcept;

struct LockOrderGuard {
    LockOrderGuard(const char* cls, const void* obj) noexcept : m_obj(obj) {
        lock_order_acquire(cls, obj);
    }
    ~LockOrderGuard() { lock_order_release(m_obj); }
    LockOrderGuard(const LockOrderGuard&) = delete;
    LockOrderGuard& operator=(const LockOrderGuard&) = delete;

private:
    const void* m_obj;
};

}  // namespace spindle::detail

#if SPINDLE_LOCK_ORDER_CHECK
#define SPINDLE_LOCK_ORDER_CAT2(a, b) a##b
#define SPINDLE_LOCK_ORDER_CAT(a, b) SPINDLE_LOCK_ORDER_CAT2(a, b)
#define SPINDLE_LOCK_ORDER_ACQUIRE(cls, obj) ::spindle::detail::lock_order_acquire(cls, obj)
#define SPINDLE_LOCK_ORDER_TRY(cls, obj) ::spindle::detail::lock_order_acquired_try(cls, obj)
#define SPINDLE_LOCK_ORDER_RELEASE(obj) ::spindle::detail::lock_order_release(obj)
#define SPINDLE_LOCK_ORDER_FORGET(obj) ::spindle::detail::lock_order_forget(obj)
#define SPINDLE_LOCK_ORDER_GUARD(cls, obj)                                                         \
    const ::spindle::detail::LockOrderGuard SPINDLE_LOCK_ORDER_CAT(spindle_lock_order_, __LINE__)( \
        cls, obj)
#else
#define SPINDLE_LOCK_ORDER_ACQUIRE(cls, obj) ((void)0)
#define SPINDLE_LOCK_ORDER_TRY(cls, obj) ((void)0)
#define SPINDLE_LOCK_ORDER_RELEASE(obj) ((void)0)
#define SPINDLE_LOCK_ORDER_FORGET(obj) ((void)0)
#define SPINDLE_LOCK_ORDER_GUARD(cls, obj) ((void)0)
#endif
