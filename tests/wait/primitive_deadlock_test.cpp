// Deadlocks made of the public wait primitives, detected and broken by the pool's deadlock
// handler (design-notes/0003 §4, 0005). Each scenario runs in a child process
// (primitive_deadlock_helper.cpp) under a timeout, so a wait that is never broken fails the
// test instead of hanging it.
#include "common/test_util.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace {

struct Child {
    int exit_code = -1;  // -1: did not exit normally; 137: killed by the timeout
    std::string out;
    std::string err;
};

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

Child run_helper(const std::string& mode, int seconds = 60) {
    const std::string base = ::testing::TempDir() + "spindle_primitive_deadlock_" + mode + "_" +
                             std::to_string(::getpid());
    // These scenarios deadlock on purpose; the lock-order checker would stop the Mutex cycle
    // before it forms (tests/lockorder), so it is off here.
    const std::string cmd = "SPINDLE_LOCK_ORDER=0 timeout -s KILL " + std::to_string(seconds) +
                            " '" + SPINDLE_HELPER_PRIMITIVE_DEADLOCK + "' " + mode + " >'" + base +
                            ".out' 2>'" + base + ".err'";
    const int status = std::system(cmd.c_str());
    Child c;
    if (status != -1 && WIFEXITED(status))
        c.exit_code = WEXITSTATUS(status);
    c.out = slurp(base + ".out");
    c.err = slurp(base + ".err");
    std::remove((base + ".out").c_str());
    std::remove((base + ".err").c_str());
    return c;
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
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
