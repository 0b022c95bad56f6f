// The thread's current propagated context (spindle/context.hpp).
#include "spindle/context.hpp"

namespace spindle::detail {

constinit thread_local Context tl_context{};

}  // namespace spindle::detail
