// Deadlocks made of the public wait primitives, detected and broken by the pool's deadlock
// handler (design-notes/0003 §4, 0005). Each scenario runs in a child process
// (primitive_deadlock_helper.cpp) under a timeout, so a wait that is never broken fails the
// test instead of hanging it.
#include "common/child_process.hpp"
#include "common/test_util.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using Child = spindle_test::ChildResult;
using spindle_test::contains;

// Runs the helper in `mode` under `timeout -s KILL seconds`, capturing stdout and stderr.
Child run_helper(const std::string& mode, int seconds = 60) {
    // These scenarios deadlock on purpose; the lock-order checker would stop the Mutex cycle
    // before it forms (tests/lockorder), so it is off here.
    return spindle_test::run_child(SPINDLE_HELPER_PRIMITIVE_DEADLOCK, mode, seconds,
                                   "SPINDLE_LOCK_ORDER=0");
}

TEST(PrimitiveDeadlock, MutexCycleIsReportedWithHoldersAndBrokenByFailingOneLock) {
    const Child c = run_helper("mutex-cycle");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "handler-calls 1")) << c.out;
    EXPECT_TRUE(contains(c.out, "waiter kind=Mutex label=a detail=held by worker ")) << c.out;
    EXPECT_TRUE(contains(c.out, "waiter kind=Mutex label=b detail=held by worker ")) << c.out;
    EXPECT_TRUE(contains(c.out, "can_fail=1")) << c.out;
    EXPECT_TRUE(contains(c.out, "failed 1 finished 1")) << c.out;
}

TEST(PrimitiveDeadlock, EventFutureAndConditionVariableWaitsAreReportedAndFailed) {
    const Child c = run_helper("never-signalled");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "waiter kind=Event label=never set")) << c.out;
    EXPECT_TRUE(contains(c.out, "waiter kind=Future label=never fulfilled")) << c.out;
    EXPECT_TRUE(contains(c.out, "waiter kind=ConditionVariable label=never notified")) << c.out;
    EXPECT_TRUE(contains(c.out, "failed 3")) << c.out;
    EXPECT_TRUE(contains(c.out, "handler-calls 3")) << c.out;
}

}  // namespace
