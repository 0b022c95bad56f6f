// The lock-order checker (spindle/detail/lock_order.hpp, design-notes/0013): an inversion is
// caught even when it does not deadlock, consistent orders stay silent. Each scenario runs in
// a child process (tests/lockorder/lock_order_helper.cpp), since the checker aborts.
#include "common/child_process.hpp"

#include <spindle/detail/lock_order.hpp>

#include <gtest/gtest.h>

namespace {

using spindle_test::ChildResult;
using spindle_test::contains;

ChildResult run(const char* mode) {
    return spindle_test::run_child(SPINDLE_HELPER_LOCK_ORDER, mode, 60);
}

#ifdef NDEBUG
#define SKIP_IN_RELEASE() GTEST_SKIP() << "the lock-order checker is compiled out under NDEBUG"
#else
#define SKIP_IN_RELEASE() ASSERT_TRUE(spindle::detail::lock_order_check_enabled())
#endif

void expect_inversion(const ChildResult& c, const char* held, const char* taken) {
    EXPECT_NE(c.exit_code, 0) << c.out << c.err;
    EXPECT_NE(c.exit_code, 137) << "timed out (a real deadlock?)\n" << c.out << c.err;
    EXPECT_FALSE(contains(c.out, "done")) << c.out;
    EXPECT_TRUE(contains(c.err, "lock-order inversion")) << c.err;
    const std::string now = std::string(held) + " -> " + taken + ", now";
    EXPECT_TRUE(contains(c.err, now)) << "expected '" << now << "' in\n" << c.err;
    EXPECT_TRUE(contains(c.err, "first seen")) << c.err;
    EXPECT_TRUE(contains(c.err, "on worker") || contains(c.err, "on thread")) << c.err;
}

TEST(LockOrderDeathTest, InversionAcrossTwoTasksThatNeverDeadlockIsCaught) {
    SKIP_IN_RELEASE();
    const ChildResult c = run("inversion");
    // Task 2 got as far as holding B: it is stopped as it takes A, not by a deadlock.
    EXPECT_TRUE(contains(c.out, "task 2 holds B, takes A")) << c.out;
    expect_inversion(c, "\"B\"", "\"A\"");
    EXPECT_TRUE(contains(c.err, "\"A\" -> \"B\", first seen")) << c.err;
}

TEST(LockOrderDeathTest, InversionThroughAChainOfClassesIsCaught) {
    SKIP_IN_RELEASE();
    const ChildResult c = run("chain");
    expect_inversion(c, "\"C\"", "\"A\"");
    // The report walks the older path A -> B -> C.
    EXPECT_TRUE(contains(c.err, "\"A\" -> \"B\", first seen")) << c.err;
    EXPECT_TRUE(contains(c.err, "\"B\" -> \"C\", first seen")) << c.err;
}

TEST(LockOrderDeathTest, UnlabelledMutexesAreClassesOfTheirOwn) {
    SKIP_IN_RELEASE();
    const ChildResult c = run("unlabelled");
    EXPECT_NE(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.err, "lock-order inversion")) << c.err;
    EXPECT_TRUE(contains(c.err, "unlabelled spindle::Mutex at 0x")) << c.err;
}

TEST(LockOrderTest, ConsistentOrdersStaySilent) {
    SKIP_IN_RELEASE();
    const ChildResult c = run("consistent");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "done 300")) << c.out;
    EXPECT_FALSE(contains(c.err, "lock-order")) << c.err;
}

TEST(LockOrderTest, HeldLocksFollowTheFiberNotTheThread) {
    SKIP_IN_RELEASE();
    const ChildResult c = run("parked");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "done")) << c.out;
    EXPECT_FALSE(contains(c.err, "lock-order")) << c.err;
}

TEST(LockOrderTest, ConditionVariableWaitReleasesItsMutex) {
    SKIP_IN_RELEASE();
    const ChildResult c = run("condvar");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "done")) << c.out;
    EXPECT_FALSE(contains(c.err, "lock-order")) << c.err;
}

}  // namespace
