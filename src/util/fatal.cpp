#include "util/fatal.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace spindle::detail {

void fatal(const char* format, ...) noexcept {
    char buf[1024];
    va_list args;
    va_start(args, format);
    std::vsnprintf(buf, sizeof buf, format, args);
    va_end(args);
    std::fprintf(stderr, "spindle: fatal: %s\n", buf);
    std::fflush(stderr);
    std::abort();
}

}  // namespace spindle::detail
