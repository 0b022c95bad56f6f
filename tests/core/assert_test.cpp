// SPINDLE_ASSERT (src/util/assert.hpp): a failed check names the condition, the invariant it
// cites and the place, then aborts; the checks are compiled in exactly in the debug and
// sanitizer builds.
#undef SPINDLE_ASSERTIONS
#define SPINDLE_ASSERTIONS 1  // this file's own uses of the macro always check
#include "util/assert.hpp"

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

}  // namespace
