#include "fiber/stack.hpp"

#include "spindle/detail/config.hpp"

#if defined(SPINDLE_ASAN)
#include <sanitizer/asan_interface.h>
#endif

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace spindle::detail {

namespace {
std::size_t page_size() noexcept {
    static const std::size_t p = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return p;
}
}  // namespace

std::size_t round_stack_size(std::size_t usable) {
    const std::size_t p = page_size();
    return (usable + p - 1) / p * p;
}

Stack allocate_stack(std::size_t usable) {
    const std::size_t size = round_stack_size(usable);
    const std::size_t total = size + k_guard_size;
    void* base = ::mmap(nullptr, total, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED)
        throw std::system_error(errno, std::generic_category(),
                                "spindle: cannot map a fiber stack (mmap)");
    if (::mprotect(base, k_guard_size, PROT_NONE) != 0) {
        const int err = errno;
        ::munmap(base, total);
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

void free_stack(Stack& s) noexcept {
#if defined(SPINDLE_ASAN)
    // A pooled fiber is freed while suspended: the redzones of its abandoned frames are still
    // poisoned in ASan's shadow, and a later mapping at the same address would inherit them.
    if (s.bottom != nullptr)
        ASAN_UNPOISON_MEMORY_REGION(s.bottom, s.size);
#endif
    if (s.map_base != nullptr)
        ::munmap(s.map_base, s.map_size);
    s = Stack{};
}

}  // namespace spindle::detail
