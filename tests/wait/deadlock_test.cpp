// Deadlock detection (design-notes/0005): each scenario runs in a child process
// (tests/wait/deadlock_helper.cpp) under a timeout, so that a detector that never fires
// fails the test instead of hanging it.
#include "common/child_process.hpp"
#include "common/test_util.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using Child = spindle_test::ChildResult;
using spindle_test::contains;

// Runs the helper in `mode` under `timeout -s KILL seconds`, capturing stdout and stderr.
Child run_helper(const std::string& mode, int seconds = 60) {
    return spindle_test::run_child(SPINDLE_HELPER_DEADLOCK, mode, seconds);
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

// The text between the helper's report-begin and report-end lines.
std::string report_text(const std::string& out) {
    const std::string begin = "report-begin\n";
    const std::size_t a = out.find(begin);
    const std::size_t b = out.find("report-end", a);
    if (a == std::string::npos || b == std::string::npos)
        return {};
    return out.substr(a + begin.size(), b - a - begin.size());
}

std::size_t count_of(const std::string& s, const std::string& part) {
    std::size_t n = 0;
    for (std::size_t at = s.find(part); at != std::string::npos; at = s.find(part, at + 1))
        ++n;
    return n;
}

TEST(Deadlock, IdenticalWaitsShareOneLineAndTheApiListsEveryWaiter) {
    const Child c = run_helper("many-waiters");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "handler-calls 1")) << c.out;
    EXPECT_TRUE(contains(c.out, "waiters 1004")) << c.out;  // DeadlockReport::waiters(): all
    const std::string report = report_text(c.out);
    // 1,000 waits on one gate: one line. Two gates with the same label: a line each.
    EXPECT_EQ(count_of(report, "\n"), 3u) << report;
    EXPECT_EQ(count_of(report, "  1000 tasks wait on Gate 'many' (never opened): worker "), 1u)
        << report;
    // They would read alike, so they name their gate's address.
    EXPECT_EQ(count_of(report, "  2 tasks wait on Gate 'twin' (never opened) at 0x"), 2u) << report;
    // Every failed wait threw a DeadlockError whose message is the merged report.
    EXPECT_TRUE(contains(c.out, "failed 1004")) << c.out;
}

TEST(Deadlock, ThePrintedReportOfIdenticalWaitsIsOneLine) {
    const Child c = run_helper("many-waiters-no-handler");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "report seen")) << c.out;
    // The header and three lines, not 1,005 lines.
    EXPECT_EQ(count_of(c.err, "\n"), 4u) << c.err;
    EXPECT_TRUE(
        contains(c.err, "spindle: deadlock: no worker of the pool can run and 1004 task(s) wait"))
        << c.err;
    EXPECT_TRUE(contains(c.err, "\n  1000 tasks wait on Gate 'many' (never opened): worker "))
        << c.err;
}

TEST(Deadlock, TheReportNamesTheFiberLimitWhenItStopsThePool) {
    const Child c = run_helper("fiber-limit");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "handler-calls 1")) << c.out;
    EXPECT_TRUE(contains(c.out, "at-fiber-limit 1")) << c.out;
    const std::string cause =
        "the fiber limit (PoolOptions::max_fibers = 4) is reached: worker 0 holds 4 suspended "
        "fibers, so it starts none of the 5 queued job(s)";
    EXPECT_TRUE(contains(c.out, "cause " + cause + "\n")) << c.out;
    const std::string report = report_text(c.out);
    EXPECT_EQ(report,
              "  " + cause + "\n  4 tasks wait on Gate 'limit' (never opened): worker 0: 4\n");
    EXPECT_TRUE(contains(c.out, "done 8")) << c.out;  // the handler opened the gate
}

TEST(Deadlock, ThePrintedReportNamesTheFiberLimit) {
    const Child c = run_helper("fiber-limit-no-handler");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.err,
                         "spindle: deadlock: the fiber limit (PoolOptions::max_fibers = 4) is "
                         "reached: worker 0 holds 4 suspended fibers, so it starts none of the 5 "
                         "queued job(s), and 4 task(s) wait"))
        << c.err;
    EXPECT_FALSE(contains(c.err, "no worker of the pool can run")) << c.err;
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
