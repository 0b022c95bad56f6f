// The fiber state machine (src/fiber/fiber.hpp). Compiled with the library's own
// SPINDLE_ASSERTIONS setting, so the inline set_fiber_state here is the library's.
#undef SPINDLE_ASSERTIONS
#define SPINDLE_ASSERTIONS SPINDLE_TEST_EXPECT_ASSERTIONS
#include "fiber/fiber.hpp"

#include <gtest/gtest.h>

namespace {

// The fiber state machine (design-notes/0002, invariant 4): the scheduler's moves are allowed,
// anything else stops the process where assertions are on, e.g. a second wake-up of one park.
TEST(FiberStateTest, TheSchedulersMovesAreAllowed) {
    using spindle::detail::FiberState;
    spindle::detail::Fiber f;  // a record only: never switched to
    EXPECT_EQ(f.state, FiberState::idle);
    for (FiberState to : {FiberState::running, FiberState::parked, FiberState::ready,
                          FiberState::running, FiberState::ready, FiberState::running,
                          FiberState::idle, FiberState::running, FiberState::finished}) {
        spindle::detail::set_fiber_state(&f, to);
        EXPECT_EQ(f.state, to);
    }
}

TEST(FiberStateDeathTest, ASecondWakeUpOfOneParkIsCaught) {
    if (!spindle::detail::assertions_enabled())
        GTEST_SKIP() << "SPINDLE_ASSERT is compiled out of this build (release)";
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    using spindle::detail::FiberState;
    spindle::detail::Fiber f;
    f.state = FiberState::parked;
    spindle::detail::set_fiber_state(&f, FiberState::ready);
    EXPECT_DEATH(spindle::detail::set_fiber_state(&f, FiberState::ready),
                 "internal error: .* \\(design-notes/0002, invariant 4\\)");
    f.state = FiberState::finished;
    EXPECT_DEATH(spindle::detail::set_fiber_state(&f, FiberState::running),
                 "design-notes/0002, invariant 4");
}

}  // namespace
