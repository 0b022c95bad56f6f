// Child process for the process-level tests of tests/core/global_exit_test.cpp: the global
// pool's exit rule. Each mode prints what it observed on stdout and exits 0 when the scenario
// ended as it should; the parent test runs it under a timeout.
#include <spindle/spindle.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;

// ---- the global pool's exit rule ---------------------------------------------------------

std::atomic<int> g_ran{0};
std::atomic<int> g_nested{0};

// 1,000 detached jobs on the global pool (half of which spawn one more), then shutdown_global():
// all of them have run when it returns. Then the global pool works again (a new one).
int global_shutdown() {
    for (int i = 0; i < 1000; ++i)
        spindle::spawn([i] {
            std::this_thread::sleep_for(std::chrono::microseconds(100));
            if (i % 2 == 0)
                spindle::spawn([] { g_nested.fetch_add(1); });
            g_ran.fetch_add(1);
        });
    spindle::shutdown_global();
    const int ran = g_ran.load();
    const int nested = g_nested.load();
    spindle::shutdown_global();  // no global pool now: returns at once
    const int after = spindle::global_pool().install([] { return 7; });
    std::printf("ran %d nested %d after %d\n", ran, nested, after);
    return ran == 1000 && nested == 500 && after == 7 ? 0 : 1;
}

// The same jobs, but main returns without shutdown_global(): pending jobs are dropped (the
// process exits while they wait) and the process exits normally.
int global_no_shutdown() {
    for (int i = 0; i < 1000; ++i)
        spindle::spawn([] {
            std::this_thread::sleep_for(1ms);
            g_ran.fetch_add(1);
        });
    std::printf("returning with %d of 1000 run\n", g_ran.load());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s MODE [ARG]\n", argv[0]);
        return 2;
    }
    const std::string mode = argv[1];
    const std::string arg = argc > 2 ? argv[2] : "";
    if (mode == "global-shutdown")
        return global_shutdown();
    if (mode == "global-no-shutdown")
        return global_no_shutdown();
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
}
