// SPINDLE_ASSERT(condition, "design-notes/NNNN, invariant K"): checks a numbered invariant of
// the design notes where the code relies on it, and cites it.
//
// On in the debug and sanitizer presets (SPINDLE_ASSERTIONS=1, set by CMakeLists.txt for the
// Debug build type and for any SPINDLE_SANITIZE build), off in release, where the condition
// is not evaluated (only type-checked). A failed check prints one line naming the condition,
// the invariant and the place, then aborts: the scheduler's state is then wrong, and going on
// would turn it into a hang or a corrupted result somewhere else (marl's MARL_ASSERT, rayon's
// debug_assert!, oneTBB's __TBB_ASSERT). For conditions users can cause (bad input, misuse of
// an API), use a clear error instead (util/fatal.hpp, exceptions): this is for spindle's own
// bugs.
//
// src/ only: the public headers' inline code never uses it, so every translation unit of a
// program sees the same inline functions whatever the library was built with.
#pragma once

#ifndef SPINDLE_ASSERTIONS
#define SPINDLE_ASSERTIONS 0
#endif

namespace spindle::detail {

// Prints "spindle: internal error: <condition> does not hold (<where>) at <file>:<line>" and
// aborts.
[[noreturn, gnu::cold, gnu::noinline]] void assert_failed(const char* condition,
                                                          const char* where,
                                                          const char* file,
                                                          int line) noexcept;

// Whether the library was compiled with SPINDLE_ASSERTIONS (for tests).
bool assertions_enabled() noexcept;

}  // namespace spindle::detail

#if SPINDLE_ASSERTIONS
#define SPINDLE_ASSERT(condition, where)               \
    (__builtin_expect(static_cast<bool>(condition), 1) \
         ? static_cast<void>(0)                        \
         : ::spindle::detail::assert_failed(#condition, where, __FILE__, __LINE__))
#else
#define SPINDLE_ASSERT(condition, where) static_cast<void>(sizeof(static_cast<bool>(condition)))
#endif
