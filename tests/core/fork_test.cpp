// fork() with pools alive (design-notes/0009): the child gets a working global pool,
// a clear fatal error for a private pool created before the fork, and never a hang. Each
// scenario runs in tests/core/process_helper.cpp, which forks and reaps its own child under a
// timeout ("child-hung" if it had to kill it); the helper itself runs under `timeout -s KILL`.
#include "common/child_process.hpp"
#include "common/test_util.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace {

using spindle_test::ChildResult;
using spindle_test::contains;

constexpr const char* k_used_after_fork =
    "spindle: fatal: a ThreadPool created before fork() was used in the child process";

ChildResult run(const std::string& args) {
    // ThreadSanitizer kills a child of a multithreaded process that starts threads, unless
    // told not to (die_after_fork=0); the child's pool is then checked as in other builds.
    std::string env;
    if (spindle_test::under_tsan()) {
        const char* old = std::getenv("TSAN_OPTIONS");
        env = std::string("TSAN_OPTIONS=") + (old != nullptr ? old : "") + ":die_after_fork=0";
    }
    return spindle_test::run_child(SPINDLE_HELPER_PROCESS, args, 90, env);
}

TEST(Fork, TheChildGetsAFreshGlobalPool) {
    if (spindle_test::under_tsan())
        GTEST_SKIP() << "GCC 12's ThreadSanitizer cannot start threads in a child of a "
                        "multithreaded process: glibc reuses the parent's thread descriptors, "
                        "which TSan still counts as running ('dup thread with used id', exit 66)";
    const ChildResult c = run("fork-global");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "child fib 17711 install 42 spawned 1000")) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "child-exit 0")) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "parent spawned 100")) << c.out << c.err;
}

TEST(Fork, AReferenceToTheParentsGlobalPoolIsAFatalErrorInTheChild) {
    const ChildResult c = run("fork-global-stale-reference");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "child-signal 6")) << c.out << c.err;
    EXPECT_FALSE(contains(c.out, "install ran in the child")) << c.out;
    EXPECT_TRUE(contains(c.err, k_used_after_fork)) << c.err;
    EXPECT_TRUE(contains(c.err, "spindle::global_pool() builds a fresh global pool there"))
        << c.err;
}

class ForkPrivatePool : public ::testing::TestWithParam<const char*> {};

TEST_P(ForkPrivatePool, UsingItInTheChildIsOneFatalError) {
    const std::string use = GetParam();
    const ChildResult c = run("fork-private " + use);
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "child-signal 6")) << c.out << c.err;  // SIGABRT, not a hang
    EXPECT_FALSE(contains(c.out, "returned in the child")) << c.out;
    EXPECT_TRUE(contains(c.out, "parent fib 987")) << c.out << c.err;
    EXPECT_TRUE(contains(c.err, k_used_after_fork)) << c.err;
    EXPECT_TRUE(contains(c.err, "create a new pool in the child")) << c.err;
    EXPECT_EQ(spindle_test::count_of(c.err, "spindle: fatal:"), 1u) << c.err;
}

INSTANTIATE_TEST_SUITE_P(
    Uses,
    ForkPrivatePool,
    ::testing::Values("install", "join", "scope", "spawn", "broadcast", "keep-active"),
    [](const auto& info) {
        std::string s = info.param;
        for (char& ch : s)
            if (ch == '-')
                ch = '_';
        return s;
    });

TEST(Fork, DestroyingAPrivatePoolInTheChildReturnsAtOnce) {
    const ChildResult c = run("fork-private destroy");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "destroyed in the child")) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "child-exit 0")) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "parent fib 987")) << c.out << c.err;
}

TEST(Fork, ExitInTheChildWithANamespaceScopePoolAliveDoesNotHang) {
    const ChildResult c = run("fork-exit");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "child exits")) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "child-exit 0")) << c.out << c.err;
    EXPECT_FALSE(contains(c.out, "child-hung")) << c.out;
    EXPECT_TRUE(contains(c.out, "parent jobs 1")) << c.out << c.err;
}

TEST(Fork, AChildForkedOnAWorkerMayFinishItsJobAndExit) {
    const ChildResult c = run("fork-on-worker exit");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "child join 3")) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "child-exit 0")) << c.out << c.err;
}

TEST(Fork, AChildForkedOnAWorkerThatReturnsToThePoolIsAFatalError) {
    const ChildResult c = run("fork-on-worker return");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "child join 3")) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "child-signal 6")) << c.out << c.err;
    EXPECT_TRUE(contains(c.err, "spindle: fatal: fork() was called on a worker thread")) << c.err;
    EXPECT_TRUE(contains(c.err, "may only exec or _exit")) << c.err;
}

TEST(Fork, DroppingATokenGateInTheChildReturnsAtOnce) {
    const ChildResult c = run("fork-token-gate drop");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "gate dropped in the child")) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "child-exit 0")) << c.out << c.err;
}

TEST(Fork, ATokenGateFromBeforeTheForkIsAFatalErrorInTheChildsPool) {
    const ChildResult c = run("fork-token-gate reuse");
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_TRUE(contains(c.out, "child-signal 6")) << c.out << c.err;
    EXPECT_FALSE(contains(c.out, "ran in the child")) << c.out;
    EXPECT_TRUE(contains(c.err, "spindle: fatal: a jobserver token gate")) << c.err;
    EXPECT_TRUE(contains(c.err, "call use_token_source again in the child")) << c.err;
}

}  // namespace
