// The global pool's exit rule (spindle/pool.hpp): shutdown_global() waits for every detached job
// of the global pool; without it, main returning drops the pending ones and the process exits
// normally. Each scenario runs in tests/core/process_helper.cpp, so that the global pool of this
// test process is not touched.
#include "common/child_process.hpp"

#include <gtest/gtest.h>

namespace {

using spindle_test::ChildResult;
using spindle_test::contains;

TEST(GlobalExit, ShutdownGlobalRunsEveryDetachedJobAndWhatTheySpawn) {
    const ChildResult c = spindle_test::run_child(SPINDLE_HELPER_PROCESS, "global-shutdown", 90);
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    // All 1,000 ran, and the 500 they spawned; then global_pool() built a new pool.
    EXPECT_TRUE(contains(c.out, "ran 1000 nested 500 after 7")) << c.out << c.err;
}

TEST(GlobalExit, ReturningFromMainWithPendingDetachedJobsExitsNormally) {
    const ChildResult c = spindle_test::run_child(SPINDLE_HELPER_PROCESS, "global-no-shutdown", 90);
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;  // neither a hang (137) nor a crash
    EXPECT_TRUE(contains(c.out, "returning with")) << c.out;
    EXPECT_EQ(c.err, "");
}

}  // namespace
