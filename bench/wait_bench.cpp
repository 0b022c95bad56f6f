// Micro-benchmarks of the wait primitives (Google Benchmark).
//
//   bench_wait_bench [--benchmark_filter=REGEX] [--benchmark_repetitions=5
//                     --benchmark_report_aggregates_only=true]
//
// Pin it (`taskset -c 0,1`) and note the machine load. As in bench/core_bench.cpp, pool
// benchmarks use real time, the CPU column is the whole process's CPU time, and per-operation
// figures are explicit counters computed from our own steady_clock measurement of the timed
// loop ("ns_per_roundtrip", "ns_per_task", "ns_per_lock").
//
// Benchmarks
//   BM_event_pingpong_1w          two tasks on a 1-worker pool alternately set and wait on
//                                 two Events: each round trip is two parks and two resumes on
//                                 one worker (the public API, no spin: Event never spins).
//   BM_event_pingpong_2w          the same with the two tasks on different workers of a
//                                 2-worker pool (adds the remote wake-up and cache misses).
//   BM_waitgroup_fanout/N/threads:T
//                                 inside install: wg.add(N), N detached spawns that each call
//                                 done(), one wait(); ns per task (includes spawn's heap job).
//   BM_mutex_contended/tasks:K/threads:T
//                                 K tasks on a T-worker pool each lock/unlock a shared Mutex
//                                 (incrementing a counter) L times; ns per lock/unlock pair.
//   BM_mutex_uncontended          lock/unlock of a Mutex nobody else touches.
//
// Google Benchmark's benchmark_main is not linked (only benchmark::benchmark), hence
// BENCHMARK_MAIN at the bottom.

#include "gbench_common.hpp"

#include <spindle/spindle.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace {

using bench::Clock;
using bench::pool_options;
using bench::report_ns_per_op;
using bench::seconds_since;

// ---------------------------------------------------------------------------------------------
// (a) park/resume ping-pong through two Events

// Task X (a broadcast job on worker 0) drives the timed loop: set ping, wait pong, reset
// pong. Task Y: wait ping, reset ping, set pong. On one worker each wait parks (the other
// task cannot run otherwise), so a round trip = 2 x (Event::set making a fiber ready locally +
// park + resume). With two workers, Y runs on worker 1 and each wake-up is remote.
void event_pingpong(benchmark::State& state, std::size_t workers) {
    spindle::ThreadPool pool(pool_options(workers));
    spindle::Event ping("ping"), pong("pong");
    std::atomic<bool> stop{false};
    spindle::Event y_done;
    double elapsed = 0;
    auto y = [&] {
        for (;;) {
            ping.wait();
            ping.reset();  // X sets ping again only after our pong.set()
            if (stop.load(std::memory_order_relaxed))
                break;
            pong.set();
        }
        y_done.set();
    };
    pool.broadcast([&](spindle::BroadcastContext ctx) {
        if (ctx.index == 1)
            y();
        if (ctx.index != 0)
            return;
        if (workers == 1)
            spindle::spawn(y);
        auto round = [&] {
            ping.set();
            pong.wait();
            pong.reset();
        };
        for (int i = 0; i < 64; ++i)  // warm-up: fibers created, caches hot
            round();
        const auto t0 = Clock::now();
        for (auto _ : state)
            round();
        elapsed = seconds_since(t0);
        stop.store(true, std::memory_order_relaxed);
        ping.set();
        y_done.wait();
    });
    report_ns_per_op(state, "ns_per_roundtrip", elapsed, 1);
}

void BM_event_pingpong_1w(benchmark::State& state) {
    event_pingpong(state, 1);
}
BENCHMARK(BM_event_pingpong_1w)->UseRealTime()->MeasureProcessCPUTime();

void BM_event_pingpong_2w(benchmark::State& state) {
    event_pingpong(state, 2);
}
BENCHMARK(BM_event_pingpong_2w)->UseRealTime()->MeasureProcessCPUTime();

// ---------------------------------------------------------------------------------------------
// (b) wait-group fan-out

void BM_waitgroup_fanout(benchmark::State& state) {
    const auto n = state.range(0);
    const auto threads = static_cast<std::size_t>(state.range(1));
    spindle::ThreadPool pool(pool_options(threads));
    spindle::WaitGroup wg("fan-out");
    auto once = [&] {
        pool.install([&] {
            wg.add(n);
            for (std::int64_t i = 0; i < n; ++i)
                spindle::spawn([&wg] { wg.done(); });
            wg.wait();
        });
    };
    report_ns_per_op(state, "ns_per_task", bench::timed_iterations(state, once), double(n));
}
BENCHMARK(BM_waitgroup_fanout)
    ->ArgNames({"n", "threads"})
    ->ArgsProduct({{10000}, {1, 2}})
    ->Apply(bench::wall_cpu_us);

// ---------------------------------------------------------------------------------------------
// (c) contended Mutex

void BM_mutex_contended(benchmark::State& state) {
    const auto tasks = state.range(0);
    const auto threads = static_cast<std::size_t>(state.range(1));
    constexpr std::int64_t k_locks = 20000;  // per task per iteration
    spindle::ThreadPool pool(pool_options(threads));
    spindle::Mutex m("bench");
    std::int64_t counter = 0;  // guarded by m
    auto once = [&] {
        spindle::WaitGroup wg;
        wg.add(tasks);
        for (std::int64_t t = 0; t < tasks; ++t)
            pool.spawn([&] {
                for (std::int64_t i = 0; i < k_locks; ++i) {
                    std::lock_guard<spindle::Mutex> g(m);
                    ++counter;
                }
                wg.done();
            });
        wg.wait();
    };
    const double elapsed = bench::timed_iterations(state, once);
    {
        std::lock_guard<spindle::Mutex> g(m);
        if (counter != (std::int64_t(state.iterations()) + 1) * tasks * k_locks)
            state.SkipWithError("lost an increment");
    }
    report_ns_per_op(state, "ns_per_lock", elapsed, double(tasks * k_locks));
}
BENCHMARK(BM_mutex_contended)
    ->ArgNames({"tasks", "threads"})
    ->ArgsProduct({{4}, {1, 2}})
    ->Apply(bench::wall_cpu_ms);

void BM_mutex_uncontended(benchmark::State& state) {
    spindle::Mutex m;
    std::int64_t counter = 0;
    for (auto _ : state) {
        std::lock_guard<spindle::Mutex> g(m);
        benchmark::DoNotOptimize(++counter);
    }
}
BENCHMARK(BM_mutex_uncontended);

}  // namespace

BENCHMARK_MAIN();
