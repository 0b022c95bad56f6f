// Fiber stacks: mmap'ed, with a PROT_NONE guard region below the usable part. The mprotect()
// result is checked (Boost 1.74's protected_fixedsize_stack only asserts it, so a release
// build could hand out an unguarded stack: reliability.md §4).
//
// Every guarded stack costs the process two memory mappings (the guard and the stack), and
// Linux limits a process to vm.max_map_count of them (65530 by default). So only the first
// guarded_stack_budget() stacks of the process get a guard; later ones are carved from slabs
// of k_slab_stacks stacks each (one mapping per slab) with a canary at the bottom of each
// stack instead, checked every time the fiber switches away (design-notes/0003, "Bounded
// memory").
#pragma once

#include <cstddef>
#include <cstdint>

namespace spindle::detail {

struct Stack {
    void* map_base = nullptr;  // lowest mapped address (start of the guard)
    std::size_t map_size = 0;  // guard + usable
    void* bottom = nullptr;    // lowest usable address (just above the guard)
    std::size_t size = 0;      // usable bytes
    // Unguarded stacks only: the canary word at the bottom (nullptr for guarded stacks), and
    // the slab the stack was carved from.
    const volatile std::uint64_t* canary = nullptr;
    void* slab = nullptr;
    void* top() const noexcept { return static_cast<char*>(bottom) + size; }
};

// Bytes of guard below each stack. More than a page so that a frame a little larger than a
// page still lands in the guard instead of in whatever is mapped below.
inline constexpr std::size_t k_guard_size = 16 * 1024;

// Rounds a requested usable size up to whole pages.
std::size_t round_stack_size(std::size_t usable);

// Stacks per slab for unguarded stacks.
inline constexpr std::size_t k_slab_stacks = 64;
// The value of an intact canary.
inline constexpr std::uint64_t k_stack_canary = 0x5350494e444c4521ULL;  // "SPINDLE!"

// Guarded stacks this process may hold at once: a quarter of vm.max_map_count (read once),
// or SPINDLE_GUARDED_STACKS when set (for tests).
std::size_t guarded_stack_budget() noexcept;

// Throws std::system_error (naming mmap or mprotect and errno) on failure. Returns a guarded
// stack while the budget lasts, else an unguarded one with a canary.
Stack allocate_stack(std::size_t usable);
// live_from: the lowest address the stack's suspended frames use (the saved stack pointer),
// or nullptr if unknown. Under AddressSanitizer only [live_from, top) can still carry frame
// redzones (returned frames cleared theirs), so only that part needs unpoisoning.
void free_stack(Stack& s, const void* live_from = nullptr) noexcept;

}  // namespace spindle::detail
