// SPINDLE_ASSERT (src/util/assert.hpp): a failed check names the condition, the invariant it
// cites and the place, then aborts; the checks are compiled in exactly in the debug and
// sanitizer builds.
#undef SPINDLE_ASSERTIONS
#define SPINDLE_ASSERTIONS 1  // this file's own uses of the macro always check
#include "util/assert.hpp"

#include "fiber/fiber.hpp"

#include <gtest/gtest.h>

namespace {

int evaluations = 0;
bool counted(bool value) {
    ++evaluations;
    return value;
}

TEST(AssertDeathTest, AFailedCheckNamesTheConditionTheInvariantAndThePlace) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(SPINDLE_ASSERT(1 + 1 == 3, "design-notes/0001, invariant 2"),
                 "spindle: internal error: 1 \\+ 1 == 3 does not hold \\(design-notes/0001, "
                 "invariant 2\\) at .*assert_test\\.cpp:[0-9]+");
}

TEST(AssertTest, AHoldingCheckEvaluatesItsConditionOnceAndGoesOn) {
    evaluations = 0;
    SPINDLE_ASSERT(counted(true), "design-notes/0002, invariant 1");
    EXPECT_EQ(evaluations, 1);
}

TEST(AssertTest, TheLibraryChecksInDebugAndSanitizerBuildsOnly) {
    EXPECT_EQ(spindle::detail::assertions_enabled(), SPINDLE_TEST_EXPECT_ASSERTIONS != 0);
}

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
