#include "util/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace spindle::detail {

void assert_failed(const char* condition, const char* where, const char* file, int line) noexcept {
    std::fprintf(stderr, "spindle: internal error: %s does not hold (%s) at %s:%d\n", condition,
                 where, file, line);
    std::fflush(stderr);
    std::abort();
}

bool assertions_enabled() noexcept {
    return SPINDLE_ASSERTIONS != 0;
}

}  // namespace spindle::detail
