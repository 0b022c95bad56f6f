// The thread's current propagated context (spindle/context.hpp).
#include "spindle/context.hpp"

namespace spindle::detail {

constinit thread_local Context tl_context SPINDLE_TLS_MODEL{};

}  // namespace spindle::detail
