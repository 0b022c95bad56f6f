// The per-fiber (or per-thread) record of held locks for the lock-order checker
// (spindle/detail/lock_order.hpp, src/util/lock_order.cpp, design-notes/0013).
#pragma once

#include "spindle/detail/lock_order.hpp"

#include <cstdint>

namespace spindle::detail {

// The locks one task holds, oldest first. Written and read only by the thread running the
// fiber it belongs to (a fiber never migrates, design-notes/0002), so it needs no lock.
struct LockOrderHeld {
    static constexpr unsigned k_max = 16;
    struct Entry {
        const char* cls;  // class name, nullptr: one class per object
        const void* obj;
    };
    Entry held[k_max];
    std::uint32_t n = 0;         // entries in held[]
    std::uint32_t overflow = 0;  // acquisitions beyond k_max, not recorded
};

}  // namespace spindle::detail
