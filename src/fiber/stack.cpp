#include "fiber/stack.hpp"

#include "spindle/detail/config.hpp"

#if defined(SPINDLE_ASAN)
#include <sanitizer/asan_interface.h>
#endif

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <system_error>
#include <utility>
#include <vector>

namespace spindle::detail {

namespace {
std::size_t page_size() noexcept {
    static const std::size_t p = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return p;
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

// Guarded stacks alive in the process. Incremented (relaxed) before mapping a guarded stack,
// decremented when one is freed; compared against the budget. Only a count, orders nothing.
std::atomic<std::size_t> g_guarded{0};

// Unguarded stacks, by size: slabs are never unmapped (they are reused); freed stacks are
// kept in g_free, and a slab whose stacks are all free gives its pages back to the kernel
// (one MADV_DONTNEED per slab, not one per stack: each call flushes TLBs on every CPU).
std::mutex g_slab_mutex;
struct Slab {
    void* base;
    std::size_t bytes;
    std::size_t in_use = 0;  // guarded by g_slab_mutex
};
struct FreeList {
    std::size_t size;
    std::vector<std::pair<void*, Slab*>> stacks;
};
std::vector<FreeList>* g_free = nullptr;  // guarded by g_slab_mutex; leaked at exit on purpose

void arm_canary(Stack& s) noexcept {
    auto* c = static_cast<std::uint64_t*>(s.bottom);
    *c = k_stack_canary;
    s.canary = c;
}

Stack allocate_unguarded(std::size_t size) {
    std::lock_guard<std::mutex> lock(g_slab_mutex);
    if (g_free == nullptr)
        g_free = new std::vector<FreeList>();
    FreeList* list = nullptr;
    for (FreeList& l : *g_free)
        if (l.size == size)
            list = &l;
    if (list == nullptr) {
        g_free->push_back(FreeList{size, {}});
        list = &g_free->back();
    }
    if (list->stacks.empty()) {
        void* base = ::mmap(nullptr, size * k_slab_stacks, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (base == MAP_FAILED)
            throw std::system_error(errno, std::generic_category(),
                                    "spindle: cannot map a slab of fiber stacks (mmap)");
        auto* slab = new Slab{base, size * k_slab_stacks};  // lives as long as the process
        list->stacks.reserve(list->stacks.size() + k_slab_stacks);
        for (std::size_t i = k_slab_stacks; i-- > 0;)
            list->stacks.emplace_back(static_cast<char*>(base) + i * size, slab);
    }
    Stack s;
    s.bottom = list->stacks.back().first;
    s.slab = list->stacks.back().second;
    ++list->stacks.back().second->in_use;
    list->stacks.pop_back();
    s.size = size;
    arm_canary(s);
    return s;
}

}  // namespace

std::size_t guarded_stack_budget() noexcept {
    static const std::size_t b = read_budget();
    return b;
}

std::size_t round_stack_size(std::size_t usable) {
    const std::size_t p = page_size();
    return (usable + p - 1) / p * p;
}

Stack allocate_stack(std::size_t usable) {
    const std::size_t size = round_stack_size(usable);
    if (g_guarded.fetch_add(1, std::memory_order_relaxed) >= guarded_stack_budget()) {
        g_guarded.fetch_sub(1, std::memory_order_relaxed);
        return allocate_unguarded(size);
    }
    const std::size_t total = size + k_guard_size;
    void* base = ::mmap(nullptr, total, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) {
        const int err = errno;
        g_guarded.fetch_sub(1, std::memory_order_relaxed);
        throw std::system_error(err, std::generic_category(),
                                "spindle: cannot map a fiber stack (mmap)");
    }
    if (::mprotect(base, k_guard_size, PROT_NONE) != 0) {
        const int err = errno;
        ::munmap(base, total);
        g_guarded.fetch_sub(1, std::memory_order_relaxed);
        // Typically ENOMEM at vm.max_map_count: each guarded stack costs two mappings.
        throw std::system_error(err, std::generic_category(),
                                "spindle: cannot protect a fiber stack's guard page (mprotect)");
    }
    Stack s;
    s.map_base = base;
    s.map_size = total;
    s.bottom = static_cast<char*>(base) + k_guard_size;
    s.size = size;
    return s;
}

void free_stack(Stack& s, const void* live_from) noexcept {
#if defined(SPINDLE_ASAN)
    // A pooled fiber is freed while suspended: the redzones of its abandoned frames are still
    // poisoned in ASan's shadow, and a later mapping at the same address would inherit them.
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
    } else if (s.canary != nullptr) {
        // An unguarded slab stack: keep it for reuse.
        std::lock_guard<std::mutex> lock(g_slab_mutex);
        auto* slab = static_cast<Slab*>(s.slab);
        for (FreeList& l : *g_free)
            if (l.size == s.size)
                l.stacks.emplace_back(s.bottom, slab);
        if (--slab->in_use == 0)
            ::madvise(slab->base, slab->bytes, MADV_DONTNEED);
    }
    s = Stack{};
}

}  // namespace spindle::detail
