// Unrecoverable errors: print one line naming spindle and the cause, then abort.
#pragma once

namespace spindle::detail {

[[noreturn, gnu::cold, gnu::format(printf, 1, 2)]] void fatal(const char* format, ...) noexcept;

}  // namespace spindle::detail
