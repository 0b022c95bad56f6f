// The stack check behind spindle::ensure_stack and the implicit one in join, scope and
// QueryMap (design-notes/0002 "Growable stacks"). The fast path is one thread-local load and a
// compare against the frame address; everything else is out of line in src/fiber/segment.cpp.
#pragma once

#include "spindle/detail/config.hpp"

#include <cstddef>
#include <cstdint>

namespace spindle::detail {

// Below this address the default check takes its cold path: the running stack's red zone, or
// its high-water mark (which the cold path records, then lowers the limit to the red zone).
// UINTPTR_MAX on a thread whose stack is not known yet, so its first check learns it. Written
// only by the owning thread: at every fiber switch, segment entry and exit.
SPINDLE_API extern constinit thread_local std::uintptr_t tl_stack_limit SPINDLE_TLS_MODEL;
// The lowest usable address of the running stack (0 until known).
SPINDLE_API extern constinit thread_local std::uintptr_t tl_stack_lo SPINDLE_TLS_MODEL;

// Red zone and segment size of the default check: rustc's ensure_sufficient_stack uses a
// 100 KiB red zone and 1 MiB segments; sanitizer instrumentation makes frames several times
// larger.
#if defined(SPINDLE_ASAN) || defined(SPINDLE_TSAN)
inline constexpr std::size_t k_default_red_zone = 512 * 1024;
inline constexpr std::size_t k_default_segment_size = 8 * 1024 * 1024;
#else
inline constexpr std::size_t k_default_red_zone = 128 * 1024;
inline constexpr std::size_t k_default_segment_size = 2 * 1024 * 1024;
#endif

// The caller's stack pointer. Read from the register where we can: __builtin_frame_address
// forces a frame pointer on every function that checks, which cost join 5 instructions (fib's
// leaves included).
[[gnu::always_inline]] inline std::uintptr_t frame_address() noexcept {
#if defined(__x86_64__)
    std::uintptr_t sp;
    asm("mov %%rsp, %0" : "=r"(sp));
    return sp;
#elif defined(__aarch64__)
    std::uintptr_t sp;
    asm("mov %0, sp" : "=r"(sp));
    return sp;
#else
    return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
#endif
}

// True when the default check must look closer.
[[gnu::always_inline]] inline bool stack_check_hit() noexcept {
    return frame_address() < tl_stack_limit;
}

// The cold half of the default check: returns true when the caller may go on on this stack
// (it only crossed the high-water mark, or the thread's stack was learnt just now), false
// when it is within the red zone and must continue on a new segment.
SPINDLE_API bool stack_check_cold() noexcept;

// Bytes left on the running stack (or segment) below the caller's frame.
SPINDLE_API std::size_t remaining_stack() noexcept;

// Runs fn(arg) on a fresh stack segment of at least segment_size bytes and returns when it
// did. fn must not throw. Throws std::system_error when no segment can be allocated.
SPINDLE_API void run_on_new_segment(std::size_t segment_size,
                                    void (*fn)(void*) noexcept,
                                    void* arg);

}  // namespace spindle::detail
