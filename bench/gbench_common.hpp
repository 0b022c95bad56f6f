// Helpers shared by the Google Benchmark programs (bench/core_bench.cpp, bench/wait_bench.cpp):
// the wall clock of a timed loop, a pool's options, the "ns per operation" counters, and the
// registration tail every pool benchmark uses. Header-only; each program includes it once.
#pragma once

#include <spindle/pool.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstddef>

namespace bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

inline spindle::PoolOptions pool_options(std::size_t threads) {
    spindle::PoolOptions o;
    o.num_threads = threads;
    return o;
}

// Reports `ns / op` as a plain counter: elapsed wall seconds over iterations * ops_per_iter.
inline void report_ns_per_op(benchmark::State& state,
                             const char* name,
                             double elapsed_s,
                             double ops_per_iter) {
    const double ops = double(state.iterations()) * ops_per_iter;
    if (ops > 0)
        state.counters[name] = benchmark::Counter(elapsed_s * 1e9 / ops);
}

// Runs `once()` untimed (a warm-up), then once per iteration; returns the timed iterations' wall
// seconds.
template <class F>
double timed_iterations(benchmark::State& state, F&& once) {
    once();
    const auto t0 = Clock::now();
    for (auto _ : state)
        once();
    return seconds_since(t0);
}

// Registration tails (`BENCHMARK(f)->Args(...)->Apply(bench::wall_cpu_ms)`): the iteration time
// is the wall time (pool threads do the work) and the CPU column the whole process's CPU time,
// so that spinning workers show up there; in ns, us or ms.
inline void wall_cpu_ns(benchmark::internal::Benchmark* b) {
    b->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kNanosecond);
}
inline void wall_cpu_us(benchmark::internal::Benchmark* b) {
    b->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);
}
inline void wall_cpu_ms(benchmark::internal::Benchmark* b) {
    b->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);
}

}  // namespace bench
