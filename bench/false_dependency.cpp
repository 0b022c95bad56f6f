// false_dependency: the deadlock class that made rustc's fork stop stealing while it waits
// (rust-lang/rust#143035), built so that it happens every time, on spindle. The Rust twin,
// bench/rayon/src/bin/false_dependency.rs, runs the same steps on rayon, waiting the two ways
// rayon can (design-notes/0014-why-spindle.md).
//
// Two workers. Query Q's computation joins A and B; A waits until B has started on the other
// worker, so Q's worker then waits for B. B waits until task C has started, for at most
// --patience-ms (default 50). C, injected from outside once B runs, is unrelated to Q's
// subtasks, but asks for Q. A scheduler whose waiting worker steals C onto Q's stack and then
// blocks its thread on Q waits for itself: Q cannot go on until C returns, and C waits for Q
// (rayon, scope). One that does not steal while waiting loses the parallelism instead: C starts
// only after B gave up waiting (the fork). On spindle Q's fiber parks, the worker runs C on
// another fiber, C's wait for Q parks too, and Q resumes as soon as B is done.
//
//   bench_false_dependency [--patience-ms P] [--timeout-ms T]
// prints one JSON line: {"program":"false_dependency","system":"spindle","completed":true,
// "c_started_ms":..,"total_ms":..,"b_waited_full_patience":false,...}; exit 0 when it completed.
#include <spindle/spindle.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Spins (yielding) until flag is set or the deadline passes; true if it was set.
bool wait_flag(const std::atomic<bool>& flag, std::chrono::milliseconds patience) {
    const auto deadline = Clock::now() + patience;
    while (!flag.load(std::memory_order_acquire)) {
        if (Clock::now() >= deadline)
            return false;
        std::this_thread::yield();
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    long patience_ms = 50;
    long timeout_ms = 5000;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--patience-ms") == 0 && i + 1 < argc)
            patience_ms = std::strtol(argv[++i], nullptr, 10);
        else if (std::strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc)
            timeout_ms = std::strtol(argv[++i], nullptr, 10);
        else {
            std::fprintf(stderr, "usage: %s [--patience-ms P] [--timeout-ms T]\n", argv[0]);
            return 2;
        }
    }
    const auto patience = std::chrono::milliseconds(patience_ms);

    spindle::PoolOptions opts;
    opts.num_threads = 2;
    spindle::ThreadPool pool(opts);
    spindle::QueryMap<int, long> queries("Q");

    std::atomic<bool> b_started{false}, c_started{false}, b_gave_up{false};
    std::mutex m;
    std::condition_variable cv;
    int done = 0;  // Q's task and C, under m
    long q_value = 0, c_value = 0;
    double c_started_ms = -1;
    const auto t0 = Clock::now();
    auto finish = [&](long* slot, long v) {
        std::lock_guard<std::mutex> lock(m);
        *slot = v;
        ++done;
        cv.notify_all();
    };
    auto compute_q = [&] {
        auto [a, b] = spindle::join(
            [&] {
                wait_flag(b_started,
                          std::chrono::milliseconds(timeout_ms));  // B on the other worker
                return 1L;
            },
            [&] {
                b_started.store(true, std::memory_order_release);
                if (!wait_flag(c_started, patience))
                    b_gave_up.store(true, std::memory_order_relaxed);
                return 2L;
            });
        return a + b;
    };

    pool.spawn([&] { finish(&q_value, queries.get_or_compute(0, compute_q)); });
    wait_flag(b_started, std::chrono::milliseconds(timeout_ms));
    pool.spawn([&] {  // C: unrelated to Q's subtasks, injected from outside, asks for Q
        c_started_ms = ms_since(t0);
        c_started.store(true, std::memory_order_release);
        finish(&c_value, queries.get_or_compute(0, compute_q) * 10);
    });

    bool completed = false;
    {
        std::unique_lock<std::mutex> lock(m);
        completed =
            cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return done == 2; });
    }
    const double total_ms = ms_since(t0);
    const bool right = completed && q_value == 3 && c_value == 30;
    std::printf(
        "{\"program\":\"false_dependency\",\"system\":\"spindle\",\"lang\":\"cpp\","
        "\"threads\":2,\"patience_ms\":%ld,\"completed\":%s,\"checked\":%s,"
        "\"c_started_ms\":%.3f,\"total_ms\":%.3f,\"b_waited_full_patience\":%s}\n",
        patience_ms, completed ? "true" : "false", right ? "true" : "false", c_started_ms, total_ms,
        b_gave_up.load() ? "true" : "false");
    std::fflush(stdout);
    if (!completed)
        std::_Exit(1);  // the pool's workers are stuck: do not wait for them
    return right ? 0 : 1;
}
