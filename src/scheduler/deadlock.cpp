// Deadlock accounting and detection (design-notes/0005).
#include "scheduler/registry.hpp"

namespace spindle::detail {

void Registry::blocked_begin(WaitNode&) noexcept {}
void Registry::blocked_end(WaitNode&) noexcept {}
void Registry::section_begin(const char*, WaitNode*) noexcept {}
void Registry::section_end(WaitNode*) noexcept {}

}  // namespace spindle::detail
