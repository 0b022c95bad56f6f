// Fiber stacks and stack segments: reserved address space, committed lazily by the kernel
// (only touched pages cost memory), each with a guard region below its usable part.
//
// Guards (design-notes/0002 "Stacks"): a classic PROT_NONE guard page costs two memory
// mappings per stack, and Linux limits a process to vm.max_map_count (65530) of them, which
// used to cap guarded stacks at 16,382. Linux 6.13 added guard markers (madvise
// MADV_GUARD_INSTALL): page-table entries that fault like PROT_NONE but split no mapping. Where
// the kernel has them, every stack is carved from a slab (one mapping per 64 stacks) with a
// marker guard below each: every stack is guarded, whatever their number. Elsewhere the first
// guarded_stack_budget() stacks get an mprotect guard; beyond that allocate_stack() fails
// (the worker then has no fiber to park on: it waits the nested way, design-notes/0002 §6)
// unless SPINDLE_UNGUARDED_STACKS=1 accepts slab stacks with only a canary at the bottom,
// checked when the fiber switches away (it may fire too late: an overflow can write into the
// neighbouring stack first).
//
// The mprotect() and madvise() results are checked (Boost 1.74's protected_fixedsize_stack
// only asserts its mprotect, so a release build could hand out an unguarded stack:
// reliability.md §4).
#pragma once

#include <cstddef>
#include <cstdint>

namespace spindle::detail {

enum class StackGuard : std::uint8_t {
    marker,    // guard marker below the stack (slab stack)
    mprotect,  // PROT_NONE page(s) below the stack (a mapping of its own)
    canary,    // no guard: a canary word at the bottom (slab stack, opt-in fallback)
};

struct Stack {
    void* bottom = nullptr;    // lowest usable address (just above the guard)
    std::size_t size = 0;      // usable bytes
    void* guard_lo = nullptr;  // the guard is [guard_lo, bottom); nullptr for canary stacks
    void* map_base = nullptr;  // mprotect stacks: the mapping (guard + usable)
    std::size_t map_size = 0;
    void* slab = nullptr;  // marker and canary stacks: the slab it was carved from
    // Canary stacks only: the canary word at the bottom.
    const volatile std::uint64_t* canary = nullptr;
    StackGuard guard = StackGuard::marker;
    void* top() const noexcept { return static_cast<char*>(bottom) + size; }
};

// Bytes of guard below each stack. More than a page so that a frame a little larger than a
// page still lands in the guard instead of in whatever lies below.
inline constexpr std::size_t k_guard_size = 64 * 1024;

// Rounds a requested usable size up to whole pages.
std::size_t round_stack_size(std::size_t usable);

// Stacks per slab (marker and canary stacks).
inline constexpr std::size_t k_slab_stacks = 64;
// The value of an intact canary.
inline constexpr std::uint64_t k_stack_canary = 0x5350494e444c4521ULL;  // "SPINDLE!"

// True when the kernel has guard markers (probed once; SPINDLE_GUARD_MARKERS=0 turns them off,
// for tests of the fallback).
bool guard_markers_available() noexcept;
// mprotect-guarded stacks this process may hold at once when there are no guard markers: a
// quarter of vm.max_map_count (read once), or SPINDLE_GUARDED_STACKS when set (for tests).
std::size_t guarded_stack_budget() noexcept;

// Returns a guarded stack of at least `usable` bytes. Throws std::system_error (naming the
// call that failed and errno, or the exhausted guard budget) on failure.
Stack allocate_stack(std::size_t usable);
// live_from: the lowest address the stack's suspended frames use (the saved stack pointer),
// or nullptr if unknown. Under AddressSanitizer only [live_from, top) can still carry frame
// redzones (returned frames cleared theirs), so only that part needs unpoisoning.
void free_stack(Stack& s, const void* live_from = nullptr) noexcept;
// Gives the pages of s below keep_from back to the kernel (madvise MADV_DONTNEED; the guard
// stays). For a pooled stack that once went deep and is now idle near its top.
void trim_stack(const Stack& s, const void* keep_from) noexcept;

}  // namespace spindle::detail
