// A std::mutex held across a spindle wait (design-notes/0003, "std::mutex across a wait"): a
// task locks it and parks; another task on the same worker locks it and blocks the worker's
// thread for ever. Debug builds catch that (the pool's monitor looks every second) and die
// with a message; release builds do not look, and the test is skipped there.
#include "common/test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <sys/uio.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>

namespace {

#ifndef NDEBUG
// The check reads /proc/self/task/<tid>/syscall and uses process_vm_readv; a sandbox may
// forbid either, and then nothing can be detected.
bool check_can_run() {
    std::FILE* f = std::fopen("/proc/self/syscall", "r");
    if (f == nullptr)
        return false;
    std::fclose(f);
    int from = 42;
    int to = 0;
    iovec local{&to, sizeof to};
    iovec remote{&from, sizeof from};
    return ::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0) ==
               static_cast<ssize_t>(sizeof to) &&
           to == 42;
}
#endif

TEST(HeldMutexDeathTest, AStdMutexHeldAcrossAWaitIsReportedInDebugBuilds) {
#ifdef NDEBUG
    GTEST_SKIP() << "the held-mutex check runs in debug builds only";
#else
    if (!check_can_run())
        GTEST_SKIP() << "/proc/self/syscall or process_vm_readv is not available here";
    SPINDLE_DEATH_TEST_PROLOGUE();
    EXPECT_DEATH(
        {
            spindle::ThreadPool pool({.num_threads = 1});
            std::mutex m;
            spindle::Event ready("ready");
            pool.scope([&](spindle::Scope& s) {
                // Spawned first, run second (the worker pops its newest job first).
                s.spawn([&] {
                    std::lock_guard<std::mutex> hold(m);  // blocks the worker's thread
                    ready.set();
                });
                s.spawn([&] {
                    std::lock_guard<std::mutex> hold(m);
                    ready.wait();  // parks holding m; the worker runs the other job
                });
            });
        },
        "spindle: fatal: worker 0 \\(spindle-0\\) is blocked for ever on a std::mutex .* that "
        "its own thread holds");
#endif
}

}  // namespace
