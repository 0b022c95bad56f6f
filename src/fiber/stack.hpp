// Fiber stacks: mmap'ed, with a PROT_NONE guard region below the usable part. The mprotect()
// result is checked (Boost 1.74's protected_fixedsize_stack only asserts it, so a release
// build could hand out an unguarded stack: reliability.md §4).
#pragma once

#include <cstddef>

namespace spindle::detail {

struct Stack {
    void* map_base = nullptr;  // lowest mapped address (start of the guard)
    std::size_t map_size = 0;  // guard + usable
    void* bottom = nullptr;    // lowest usable address (just above the guard)
    std::size_t size = 0;      // usable bytes
    void* top() const noexcept { return static_cast<char*>(bottom) + size; }
};

// Bytes of guard below each stack. More than a page so that a frame a little larger than a
// page still lands in the guard instead of in whatever is mapped below.
inline constexpr std::size_t k_guard_size = 16 * 1024;

// Rounds a requested usable size up to whole pages.
std::size_t round_stack_size(std::size_t usable);

// Throws std::system_error (naming mmap or mprotect and errno) on failure; never returns an
// unguarded stack.
Stack allocate_stack(std::size_t usable);
void free_stack(Stack& s) noexcept;

}  // namespace spindle::detail
