// Exceptions thrown by spindle itself (as opposed to exceptions thrown by user tasks, which
// spindle propagates unchanged).
#pragma once

#include "spindle/detail/config.hpp"

#include <stdexcept>

namespace spindle {

/// build_global() was called after the global pool already existed (built by an earlier
/// build_global() or lazily by a first use).
class SPINDLE_API GlobalPoolAlreadyInitialized : public std::logic_error {
public:
    GlobalPoolAlreadyInitialized()
        : std::logic_error("spindle: the global thread pool has already been initialized") {}
};

/// A PoolOptions value (or SPINDLE_NUM_THREADS) that cannot be used.
class SPINDLE_API InvalidPoolOptions : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

}  // namespace spindle

namespace spindle {

/// Thrown by a wait that a deadlock handler failed (DeadlockReport::fail without an exception
/// of its own). what() is the deadlock report.
class SPINDLE_API DeadlockError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace spindle
