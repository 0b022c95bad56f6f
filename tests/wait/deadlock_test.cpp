// Deadlock detection (design-notes/0005): each scenario runs in a child process
// (tests/wait/deadlock_helper.cpp) under a timeout, so that a detector that never fires
// fails the test instead of hanging it.
#include "common/test_util.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>

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

// Runs the helper in `mode` with `timeout -s KILL seconds`, capturing stdout and stderr.
Child run_helper(const std::string& mode, int seconds = 60) {
    const std::string base =
        ::testing::TempDir() + "spindle_deadlock_" + mode + "_" + std::to_string(::getpid());
    const std::string cmd = "timeout -s KILL " + std::to_string(seconds) + " '" +
                            SPINDLE_HELPER_DEADLOCK + "' " + mode + " >'" + base + ".out' 2>'" +
                            base + ".err'";
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

TEST(Deadlock, EventNeverSetCallsTheHandlerOnceWhichFailsTheWait) {
    const Child c = run_helper("event-never-set");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "handler-calls 1")) << c.out;
    EXPECT_TRUE(contains(c.out, "waits on Gate 'never' (never opened)")) << c.out;
    EXPECT_TRUE(contains(c.out, "waiter kind=Gate label=never can_fail=1")) << c.out;
    EXPECT_TRUE(contains(c.out, "wait failed: DeadlockError")) << c.out;
}

TEST(Deadlock, BlockingSectionCycleIsReportedWithBothSections) {
    const Child c = run_helper("section-cycle");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "handler-calls 1")) << c.out;
    EXPECT_TRUE(contains(c.out, "waiter kind=BlockingSection label=lock b can_fail=0")) << c.out;
    EXPECT_TRUE(contains(c.out, "waiter kind=BlockingSection label=lock a can_fail=0")) << c.out;
    // The handler tells both to give up; the first to give up releases its mutex, so the
    // other may still get it.
    EXPECT_TRUE(contains(c.out, "gave-up 1") || contains(c.out, "gave-up 2")) << c.out;
}

TEST(Deadlock, WithoutAHandlerTheReportGoesToStderrAndTheWaitGoesOn) {
    const Child c = run_helper("no-handler", 3);
    EXPECT_EQ(c.exit_code, 137) << "the child should still be waiting when killed\n" << c.out;
    EXPECT_FALSE(contains(c.out, "wait returned")) << c.out;
    EXPECT_TRUE(
        contains(c.err, "spindle: deadlock: no worker of the pool can run and 1 task(s) wait"))
        << c.err;
    EXPECT_TRUE(contains(c.err, "waits on Gate 'never'")) << c.err;
    // Once per deadlock: the report is not repeated while nothing changes.
    EXPECT_EQ(c.err.find("spindle: deadlock"), c.err.rfind("spindle: deadlock")) << c.err;
}

TEST(Deadlock, AnUnbrokenDeadlockIsReportedExactlyOnce) {
    const Child c = run_helper("exactly-once");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "handler-calls 1")) << c.out;
}

class DeadlockNegative : public ::testing::TestWithParam<const char*> {};

TEST_P(DeadlockNegative, IsNotADeadlock) {
    const Child c = run_helper(GetParam());
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "handler-calls 0")) << c.out;
}

INSTANTIATE_TEST_SUITE_P(
    Scenarios,
    DeadlockNegative,
    ::testing::Values("long-task", "long-sleep", "external-submitter", "keep-active"),
    [](const auto& info) {
        std::string s = info.param;
        for (char& ch : s)
            if (ch == '-')
                ch = '_';
        return s;
    });

}  // namespace
