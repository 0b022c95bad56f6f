#include "fiber/stack.hpp"

#include "spindle/detail/config.hpp"
#include "spindle/detail/lock_order.hpp"
#include "util/assert.hpp"

#if defined(SPINDLE_ASAN)
#include <sanitizer/asan_interface.h>
#endif

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

// Linux 6.13 (include/uapi/asm-generic/mman-common.h); Debian 12's headers predate it.
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

namespace spindle::detail {

namespace {

std::size_t page_size() noexcept {
    static const std::size_t p = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return p;
}

// A yes/no setting from the environment: unset -> fallback; "0" -> false; "1" -> true.
bool env_flag(const char* name, bool fallback) noexcept {
    const char* v = std::getenv(name);
    if (v == nullptr)
        return fallback;
    if (std::strcmp(v, "0") == 0)
        return false;
    if (std::strcmp(v, "1") == 0)
        return true;
    std::fprintf(stderr, "spindle: warning: ignoring %s='%s' (expected 0 or 1)\n", name, v);
    return fallback;
}

bool probe_guard_markers() noexcept {
    if (!env_flag("SPINDLE_GUARD_MARKERS", true))
        return false;
    const std::size_t p = page_size();
    void* m = ::mmap(nullptr, 2 * p, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return false;
    const bool ok = ::madvise(m, p, MADV_GUARD_INSTALL) == 0;  // EINVAL before Linux 6.13
    ::munmap(m, 2 * p);
    return ok;
}

std::size_t read_budget() noexcept {
    if (const char* v = std::getenv("SPINDLE_GUARDED_STACKS")) {
        char* end = nullptr;
        const unsigned long long n = std::strtoull(v, &end, 10);
        if (end != v && *end == '\0')
            return static_cast<std::size_t>(n);
        std::fprintf(stderr,
                     "spindle: warning: ignoring SPINDLE_GUARDED_STACKS='%s' (not a number)\n", v);
    }
    unsigned long long max_maps = 65530;
    if (std::FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
        if (std::fscanf(f, "%llu", &max_maps) != 1)
            max_maps = 65530;
        std::fclose(f);
    }
    // Two mappings per guarded stack; leave half of the limit to everything else.
    return static_cast<std::size_t>(max_maps / 4);
}

// mprotect-guarded stacks alive in the process. Incremented (relaxed) before mapping one,
// decremented when one is freed; compared against the budget. Only a count, orders nothing.
std::atomic<std::size_t> g_guarded{0};

// Slab stacks (marker and canary), by kind and size: slabs are never unmapped (they are
// reused); freed stacks are kept in g_free, and a slab whose stacks are all free gives its
// pages back to the kernel (one MADV_DONTNEED per slab, not one per stack: each call flushes
// TLBs on every CPU; guard markers survive it).
std::mutex g_slab_mutex;
struct Slab {
    void* base;
    std::size_t bytes;
    std::size_t in_use = 0;  // guarded by g_slab_mutex
};
struct FreeList {
    std::size_t size;
    StackGuard guard;
    std::vector<std::pair<void*, Slab*>> stacks;  // usable bottoms
};
std::vector<FreeList>* g_free = nullptr;  // guarded by g_slab_mutex; leaked at exit on purpose

[[noreturn]] void throw_errno(int err, const char* what) {
    throw std::system_error(err, std::generic_category(), what);
}

Stack allocate_from_slab(std::size_t size, StackGuard guard) {
    // Marker stacks keep a guard gap below each stack; canary stacks are packed.
    const std::size_t gap = guard == StackGuard::marker ? k_guard_size : 0;
    const std::size_t stride = size + gap;
    SPINDLE_LOCK_ORDER_GUARD("stack slab g_slab_mutex", &g_slab_mutex);
    std::lock_guard<std::mutex> lock(g_slab_mutex);
    if (g_free == nullptr)
        g_free = new std::vector<FreeList>();
    FreeList* list = nullptr;
    for (FreeList& l : *g_free)
        if (l.size == size && l.guard == guard)
            list = &l;
    if (list == nullptr) {
        g_free->push_back(FreeList{size, guard, {}});
        list = &g_free->back();
    }
    if (list->stacks.empty()) {
        const std::size_t bytes = stride * k_slab_stacks;
        void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (base == MAP_FAILED)
            throw_errno(errno, "spindle: cannot map a slab of fiber stacks (mmap)");
        if (gap != 0) {
            for (std::size_t i = 0; i < k_slab_stacks; ++i) {
                if (::madvise(static_cast<char*>(base) + i * stride, gap, MADV_GUARD_INSTALL) !=
                    0) {
                    const int err = errno;
                    ::munmap(base, bytes);
                    throw_errno(err, "spindle: cannot install a fiber stack's guard (madvise)");
                }
            }
        }
        auto* slab = new Slab{base, bytes};  // lives as long as the process
        list->stacks.reserve(list->stacks.size() + k_slab_stacks);
        for (std::size_t i = k_slab_stacks; i-- > 0;)
            list->stacks.emplace_back(static_cast<char*>(base) + i * stride + gap, slab);
    }
    Stack s;
    s.bottom = list->stacks.back().first;
    s.slab = list->stacks.back().second;
    ++list->stacks.back().second->in_use;
    list->stacks.pop_back();
    s.size = size;
    s.guard = guard;
    if (guard == StackGuard::marker) {
        s.guard_lo = static_cast<char*>(s.bottom) - gap;
    } else {
        auto* c = static_cast<std::uint64_t*>(s.bottom);
        *c = k_stack_canary;
        s.canary = c;
    }
    return s;
}

Stack allocate_mprotect(std::size_t size) {
    const std::size_t total = size + k_guard_size;
    void* base = ::mmap(nullptr, total, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) {
        const int err = errno;
        g_guarded.fetch_sub(1, std::memory_order_relaxed);
        throw_errno(err, "spindle: cannot map a fiber stack (mmap)");
    }
    if (::mprotect(base, k_guard_size, PROT_NONE) != 0) {
        const int err = errno;
        ::munmap(base, total);
        g_guarded.fetch_sub(1, std::memory_order_relaxed);
        // Typically ENOMEM at vm.max_map_count: each guarded stack costs two mappings.
        throw_errno(err, "spindle: cannot protect a fiber stack's guard page (mprotect)");
    }
    Stack s;
    s.map_base = base;
    s.map_size = total;
    s.guard_lo = base;
    s.bottom = static_cast<char*>(base) + k_guard_size;
    s.size = size;
    s.guard = StackGuard::mprotect;
    return s;
}

}  // namespace

bool guard_markers_available() noexcept {
    static const bool ok = probe_guard_markers();
    return ok;
}

std::size_t guarded_stack_budget() noexcept {
    static const std::size_t b = read_budget();
    return b;
}

std::size_t round_stack_size(std::size_t usable) {
    const std::size_t p = page_size();
    return (usable + p - 1) / p * p;
}

namespace {

// A stack handed out has its 64 KiB guard below it, or, only where the user allowed it, an
// intact canary at its bottom.
Stack checked_guard(Stack s) noexcept {
    SPINDLE_ASSERT(s.guard == StackGuard::canary
                       ? s.guard_lo == nullptr && *s.canary == k_stack_canary
                       : s.guard_lo != nullptr &&
                             static_cast<char*>(s.bottom) - static_cast<char*>(s.guard_lo) ==
                                 static_cast<std::ptrdiff_t>(k_guard_size),
                   "design-notes/0002, invariant 7");
    return s;
}

}  // namespace

Stack allocate_stack(std::size_t usable) {
    const std::size_t size = round_stack_size(usable);
    if (guard_markers_available())
        return checked_guard(allocate_from_slab(size, StackGuard::marker));
    if (g_guarded.fetch_add(1, std::memory_order_relaxed) < guarded_stack_budget())
        return checked_guard(allocate_mprotect(size));  // undoes the count itself if it fails
    g_guarded.fetch_sub(1, std::memory_order_relaxed);
    static const bool unguarded_ok = env_flag("SPINDLE_UNGUARDED_STACKS", false);
    if (unguarded_ok)
        return checked_guard(allocate_from_slab(size, StackGuard::canary));
    throw std::system_error(
        ENOMEM, std::generic_category(),
        "spindle: no guarded fiber stack left: the process holds " +
            std::to_string(guarded_stack_budget()) +
            " (a quarter of vm.max_map_count, two mappings each) and this kernel has no guard "
            "markers (MADV_GUARD_INSTALL, Linux 6.13); raise vm.max_map_count, or set "
            "SPINDLE_UNGUARDED_STACKS=1 for stacks checked by a canary only");
}

void free_stack(Stack& s, const void* live_from) noexcept {
#if defined(SPINDLE_ASAN)
    // A pooled fiber is freed while suspended: the redzones of its abandoned frames are still
    // poisoned in ASan's shadow, and a later stack at the same address would inherit them.
    // Unpoisoning the whole stack writes 1/8 of its size of shadow (128 KiB for a 1 MiB stack:
    // 100,000 fibers took minutes), so only the live part, with a page of margin.
    if (s.bottom != nullptr) {
        const char* from = static_cast<const char*>(s.bottom);
        const char* live = static_cast<const char*>(live_from);
        if (live != nullptr && live - 4096 > from && live < static_cast<const char*>(s.top()))
            from = live - 4096;
        ASAN_UNPOISON_MEMORY_REGION(
            from, static_cast<std::size_t>(static_cast<const char*>(s.top()) - from));
    }
#else
    (void)live_from;
#endif
    if (s.map_base != nullptr) {
        ::munmap(s.map_base, s.map_size);
        g_guarded.fetch_sub(1, std::memory_order_relaxed);
    } else if (s.slab != nullptr) {
        // A slab stack: keep it for reuse.
        SPINDLE_LOCK_ORDER_GUARD("stack slab g_slab_mutex", &g_slab_mutex);
        std::lock_guard<std::mutex> lock(g_slab_mutex);
        auto* slab = static_cast<Slab*>(s.slab);
        // A slab stack comes back once per allocation: one still in use is never freed twice.
        SPINDLE_ASSERT(slab->in_use > 0, "design-notes/0002, invariant 8");
        for (FreeList& l : *g_free)
            if (l.size == s.size && l.guard == s.guard)
                l.stacks.emplace_back(s.bottom, slab);
        if (--slab->in_use == 0)
            ::madvise(slab->base, slab->bytes, MADV_DONTNEED);
    }
    s = Stack{};
}

void trim_stack(const Stack& s, const void* keep_from) noexcept {
    const std::size_t p = page_size();
    const auto lo = reinterpret_cast<std::uintptr_t>(s.bottom);
    const auto keep = reinterpret_cast<std::uintptr_t>(keep_from) / p * p;
    // A canary stack keeps its first page (the canary lives there).
    const std::uintptr_t from = s.guard == StackGuard::canary ? lo + p : lo;
    if (keep <= from)
        return;
#if defined(SPINDLE_ASAN)
    // The dead frames' redzones are still poisoned: a later frame at these addresses must
    // not inherit them (as in free_stack).
    ASAN_UNPOISON_MEMORY_REGION(reinterpret_cast<void*>(from), keep - from);
#endif
    ::madvise(reinterpret_cast<void*>(from), keep - from, MADV_DONTNEED);
}

}  // namespace spindle::detail
