// Core micro-benchmarks of spindle (Google Benchmark).
//
//   bench_core_bench [--benchmark_filter=REGEX] [--benchmark_repetitions=5
//                     --benchmark_report_aggregates_only=true]
//
// Pin it (`taskset -c 0,1`) and note the machine load: everything here is sensitive to other
// processes. Every benchmark that involves pool threads uses real (wall) time; the CPU column is
// the whole process's CPU time (MeasureProcessCPUTime) where that is meaningful, so that spinning
// workers show up there. Per-operation figures are reported as explicit counters ("ns_per_call",
// "ns_per_spawn", "ns_per_roundtrip", ...) computed from our own steady_clock measurement of the
// timed loop, so they read as plain nanoseconds.
//
// Benchmarks (Google Benchmark appends /process_time and /real_time to the names)
//   BM_fib_serial/30                 noinline recursive fib; T_S per call.
//   BM_fib_join/30/threads:T         fib with spindle::join, no cutoff, inside pool.install.
//   BM_fib_join_solo_on_2w/30        diagnostic: fib on 1 worker of a 2-worker pool, other
//                                    worker blocked (multi-worker deque, no parallelism).
//   BM_fib_join_steals/30/threads:2  diagnostic: how many joins get their second half stolen.
//   BM_scope_spawn/threads:T         one scope spawning 10,000 closures borrowing a counter.
//   BM_scope_spawn_empty/threads:T   the same, closures do not write the counter.
//   BM_deque_push_pop/thieves:B      one push + pop on a deque built for 1 / several workers.
//   BM_spin_before_park/pauses:N     the spin wait_latch does before every park (N pauses).
//   BM_park_resume_roundtrip         one park + one resume on one worker (white-box).
//   BM_yield_switch_roundtrip        the same fiber switches without the spin (yield_now).
//   BM_park_resume_remote            park on a worker, wake from another thread, resume.
//   BM_park_pingpong_2w              two workers alternately park and wake each other.
//   BM_wakeup_latency                spawn from outside -> job's first instruction, pool asleep.
//   BM_idle_cpu                      CPU burnt by an idle 2-worker pool over 1 s.
//   BM_tick_cpu                      CPU of a 2-worker pool, one tiny job every 10 ms.
//   BM_install_roundtrip/threads:T/busy:B
//                                    install([]{return 1;}) from an outside thread.
//   BM_cacheline_pingpong            machine baseline: a cache line passed between 2 threads.
//
// The park/resume benchmarks use spindle::detail (Latch, wait_latch, StackJob, push_local):
// the public API has no way to force "exactly one park" (every public wait first spins and only
// parks when the other side is slow), so they are white-box on purpose.
//
// Google Benchmark's benchmark_main is not linked by the top-level CMake (only
// benchmark::benchmark), so this file has its own main (BENCHMARK_MAIN at the bottom).

#include "gbench_common.hpp"

#include <spindle/spindle.hpp>

#include <benchmark/benchmark.h>

#include <sys/resource.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

using bench::Clock;
using bench::pool_options;
using bench::report_ns_per_op;
using bench::seconds_since;

double process_cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto tv = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
    return tv(ru.ru_utime) + tv(ru.ru_stime);
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

double median_of(std::vector<double> v) {
    if (v.empty())
        return 0.0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double quantile_of(std::vector<double> v, double q) {
    if (v.empty())
        return 0.0;
    std::sort(v.begin(), v.end());
    const auto i = static_cast<std::size_t>(q * double(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

// ---------------------------------------------------------------------------------------------
// 1. fib

[[gnu::noinline]] std::uint64_t fib_serial(std::uint64_t n) {
    if (n < 2)
        return n;
    return fib_serial(n - 1) + fib_serial(n - 2);
}

// Same decomposition as bench/workloads/fib.cpp and rayon: one join per call, no cutoff.
std::uint64_t fib_join(std::uint64_t n) {
    if (n < 2)
        return n;
    auto [a, b] = spindle::join([&] { return fib_join(n - 1); }, [&] { return fib_join(n - 2); });
    return a + b;
}

std::uint64_t fib_reference(std::uint64_t n) {
    std::uint64_t a = 0, b = 1;
    for (std::uint64_t i = 0; i < n; ++i) {
        const std::uint64_t c = a + b;
        a = b;
        b = c;
    }
    return a;
}

// Number of calls made by the recursive fib(n): C(n) = 1 + C(n-1) + C(n-2), C(0)=C(1)=1,
// i.e. 2*fib(n+1) - 1.
double fib_calls(std::uint64_t n) {
    return 2.0 * double(fib_reference(n + 1)) - 1.0;
}

void BM_fib_serial(benchmark::State& state) {
    const auto n = static_cast<std::uint64_t>(state.range(0));
    const std::uint64_t expect = fib_reference(n);
    const auto t0 = Clock::now();
    for (auto _ : state) {
        benchmark::DoNotOptimize(n);
        const std::uint64_t r = fib_serial(n);
        if (r != expect) {
            state.SkipWithError("fib_serial returned a wrong result");
            break;
        }
        benchmark::DoNotOptimize(r);
    }
    report_ns_per_op(state, "ns_per_call", seconds_since(t0), fib_calls(n));
}
BENCHMARK(BM_fib_serial)->Arg(30)->Unit(benchmark::kMillisecond);

void BM_fib_join(benchmark::State& state) {
    const auto n = static_cast<std::uint64_t>(state.range(0));
    const auto threads = static_cast<std::size_t>(state.range(1));
    const std::uint64_t expect = fib_reference(n);
    spindle::ThreadPool pool(pool_options(threads));  // built once, outside the timed loop
    // Untimed warm-up: starts the workers and creates their first fibers.
    if (pool.install([] { return fib_join(20); }) != fib_reference(20)) {
        state.SkipWithError("fib_join warm-up returned a wrong result");
        return;
    }
    const auto t0 = Clock::now();
    for (auto _ : state) {
        const std::uint64_t r = pool.install([n] { return fib_join(n); });
        if (r != expect) {
            state.SkipWithError("fib_join returned a wrong result");
            break;
        }
        benchmark::DoNotOptimize(r);
    }
    report_ns_per_op(state, "ns_per_call", seconds_since(t0), fib_calls(n));
}
BENCHMARK(BM_fib_join)
    ->ArgNames({"", "threads"})
    ->ArgsProduct({{30}, {1, 2}})
    ->Apply(bench::wall_cpu_ms);

// Diagnostic: fib on ONE worker of a 2-worker pool whose other worker is blocked (its OS thread
// waits on a futex inside a broadcast job, so it can neither steal nor spin). The running
// worker's deque is built as for a multi-worker pool (thieves possible: since the split deque,
// a few "keep_shared" jobs published, pops of published jobs fenced), but nothing is ever stolen.
// Comparing with BM_fib_join/threads:1 (a deque with no thieves: no fences at all) and
// threads:2 separates the per-join cost of being stealable from the cost of running in parallel.
void BM_fib_join_solo_on_2w(benchmark::State& state) {
    const auto n = static_cast<std::uint64_t>(state.range(0));
    const std::uint64_t expect = fib_reference(n);
    spindle::ThreadPool pool(pool_options(2));
    std::atomic<std::uint32_t> release{0};
    std::atomic<std::uint32_t> blocked{0};
    std::thread helper([&] {
        pool.broadcast([&](spindle::BroadcastContext ctx) {
            if (ctx.index != 1)
                return;
            blocked.store(1);
            while (release.load() == 0)
                release.wait(0);  // blocks worker 1's OS thread
        });
    });
    while (blocked.load() == 0)
        std::this_thread::yield();
    // The broadcast job of worker 0 may still be queued; the first install flushes it.
    bool on_worker0 = pool.install([&] { return spindle::current_thread_index() == 0; });
    if (on_worker0 && pool.install([] { return fib_join(20); }) != fib_reference(20))
        on_worker0 = false;
    const auto t0 = Clock::now();
    if (on_worker0) {
        for (auto _ : state) {
            const std::uint64_t r = pool.install([n] { return fib_join(n); });
            if (r != expect) {
                state.SkipWithError("fib_join returned a wrong result");
                break;
            }
        }
    } else {
        state.SkipWithError("could not run on worker 0 alone");
    }
    const double elapsed = seconds_since(t0);
    release.store(1);
    release.notify_all();
    helper.join();
    if (on_worker0)
        report_ns_per_op(state, "ns_per_call", elapsed, fib_calls(n));
}
BENCHMARK(BM_fib_join_solo_on_2w)->Arg(30)->Apply(bench::wall_cpu_ms);

// Diagnostic twin of BM_fib_join (not a timing reference: it adds two TLS reads per join):
// counts the joins whose second half ran on another worker than the joiner, i.e. was stolen.
// Each such join makes the joiner spin k_spin_before_park pauses (BM_spin_before_park) and
// then, if b is still running elsewhere, park.
std::uint64_t fib_join_counted(std::uint64_t n, std::atomic<std::uint64_t>* stolen) {
    if (n < 2)
        return n;
    const auto me = spindle::current_thread_index();
    auto [a, b] = spindle::join([&] { return fib_join_counted(n - 1, stolen); },
                                [&] {
                                    if (spindle::current_thread_index() != me)
                                        stolen->fetch_add(1, std::memory_order_relaxed);
                                    return fib_join_counted(n - 2, stolen);
                                });
    return a + b;
}

void BM_fib_join_steals(benchmark::State& state) {
    const auto n = static_cast<std::uint64_t>(state.range(0));
    const auto threads = static_cast<std::size_t>(state.range(1));
    const std::uint64_t expect = fib_reference(n);
    spindle::ThreadPool pool(pool_options(threads));
    std::atomic<std::uint64_t> stolen{0};
    pool.install([&] { return fib_join_counted(20, &stolen); });
    stolen.store(0);
    const auto t0 = Clock::now();
    for (auto _ : state) {
        const std::uint64_t r = pool.install([&] { return fib_join_counted(n, &stolen); });
        if (r != expect) {
            state.SkipWithError("fib_join_counted returned a wrong result");
            break;
        }
    }
    report_ns_per_op(state, "ns_per_call", seconds_since(t0), fib_calls(n));
    if (state.iterations() > 0)
        state.counters["stolen_per_run"] = double(stolen.load()) / double(state.iterations());
}
BENCHMARK(BM_fib_join_steals)->ArgNames({"", "threads"})->Args({30, 2})->Apply(bench::wall_cpu_ms);

// ---------------------------------------------------------------------------------------------
// 2. scope spawn

constexpr int k_spawns = 10'000;

// One scope per iteration spawning k_spawns closures that each run Body(counter); reports
// ns_per_spawn. Body is a template argument, so the closures hold only the counter's reference.
template <void (*Body)(std::atomic<std::uint64_t>&)>
void scope_spawn(benchmark::State& state, bool check_count) {
    const auto threads = static_cast<std::size_t>(state.range(0));
    spindle::ThreadPool pool(pool_options(threads));
    std::atomic<std::uint64_t> counter{0};
    auto one_scope = [&] {
        pool.scope([&](spindle::Scope& s) {
            for (int i = 0; i < k_spawns; ++i)
                s.spawn([&counter] { Body(counter); });
        });
    };
    one_scope();  // warm-up (fibers, allocator)
    counter.store(0);
    const auto t0 = Clock::now();
    for (auto _ : state)
        one_scope();
    const double elapsed = seconds_since(t0);
    if (check_count && counter.load() != std::uint64_t(state.iterations()) * k_spawns) {
        state.SkipWithError("a spawned closure did not run exactly once");
        return;
    }
    report_ns_per_op(state, "ns_per_spawn", elapsed, k_spawns);
}

void count_one(std::atomic<std::uint64_t>& counter) {
    counter.fetch_add(1, std::memory_order_relaxed);
}
void touch_nothing(std::atomic<std::uint64_t>& counter) {
    benchmark::DoNotOptimize(&counter);
}

void BM_scope_spawn(benchmark::State& state) {
    scope_spawn<count_one>(state, /*check_count=*/true);
}
BENCHMARK(BM_scope_spawn)->ArgNames({"threads"})->Arg(1)->Arg(2)->Apply(bench::wall_cpu_us);

// Same, but the closures only hold the reference (no write): separates the cost of spawning
// from the cost of the shared counter's cache line moving between cores (at 2 threads).
void BM_scope_spawn_empty(benchmark::State& state) {
    scope_spawn<touch_nothing>(state, /*check_count=*/false);
}
BENCHMARK(BM_scope_spawn_empty)->ArgNames({"threads"})->Arg(1)->Arg(2)->Apply(bench::wall_cpu_us);

// Single-threaded cost of one push + pop on a detail::Deque, configured as the registry does
// (src/scheduler/registry.cpp):
//   thieves:0/keep_shared:0   a 1-worker pool: no thief, pop never fences;
//   thieves:1/keep_shared:1   a 2-worker pool: split deque, one job published, the rest private
//                             (pushed/popped without fences);
//   thieves:1/keep_shared:-1  classic Chase-Lev (Deque::k_share_all): every job published, so
//                             every pop does the seq_cst exchange + load (a locked instruction).
// Eight entries stay below the measured one, as during a recursion. Every join pays one push
// and one pop, so this is the part of the per-join cost that depends on the configuration.
void BM_deque_push_pop(benchmark::State& state) {
    namespace d = spindle::detail;
    const bool thieves = state.range(0) != 0;
    const std::int64_t keep = state.range(1) < 0 ? d::Deque::k_share_all : state.range(1);
    d::Deque dq(1024, !thieves, keep);
    d::Job job{nullptr};
    bool published = false;
    for (int i = 0; i < 8; ++i)
        dq.push(&job, &published);
    for (auto _ : state) {
        dq.push(&job, &published);
        benchmark::DoNotOptimize(dq.pop());
    }
}
BENCHMARK(BM_deque_push_pop)
    ->ArgNames({"thieves", "keep_shared"})
    ->Args({0, 0})
    ->Args({1, 1})
    ->Args({1, -1})
    ->Unit(benchmark::kNanosecond);

// ---------------------------------------------------------------------------------------------
// 3. park / resume
//
// The park figures below are means over the timed loop ("ns_per_roundtrip") plus the median of
// per-iteration steady_clock stamps ("median_ns", ~20 ns of clock reads included), because a VM
// with other load gives these loops a long tail.
//
// How a park happens (src/scheduler/worker.cpp): detail::wait_latch(L) first spins
// k_spin_before_park iterations of {probe L; pause} (256 in the first scheduler commit 03d463e,
// 16 since 86bc01a); only then does Worker::park switch
// to an idle fiber of the same worker (created on first use, then pooled), whose after_park hook
// CASes the fiber's Waiter* into L. Latch::set() exchanges L to "set" and, seeing a Waiter*,
// calls wake_waiter -> Worker::make_ready: a local FIFO push if the setter runs on the owning
// worker, else a CAS onto the owner's m_remote_ready stack plus Worker::wake(). The owner's run
// loop then finds the fiber (take_ready) and switches back to it (Worker::resume).
// The spin is part of every park in spindle, so it is inside every park figure below;
// BM_spin_before_park measures it alone so that it can be subtracted.

// The latch's only member is its std::atomic<std::uintptr_t> state (0 unset, 1 set, else the
// parked Waiter*). A standard-layout object is pointer-interconvertible with its first member,
// so this read is well defined; it lets the setter wait until the waiter has really parked.
static_assert(std::is_standard_layout_v<spindle::detail::Latch>);
static_assert(sizeof(spindle::detail::Latch) == sizeof(std::atomic<std::uintptr_t>));

bool has_parked_waiter(const spindle::detail::Latch& l) noexcept {
    return reinterpret_cast<const std::atomic<std::uintptr_t>*>(&l)->load(
               std::memory_order_acquire) > 1;
}

// Spins until pred() holds. After ~4096 pauses (~80 us here, far more than any hand-off on an
// idle machine) it also yields the CPU, so that on a loaded machine a spinning benchmark thread
// does not keep the thread it waits for off the core for a whole time slice.
template <class Pred>
void spin_until(Pred pred) noexcept {
    for (unsigned i = 0; !pred(); ++i) {
        if (i < 4096)
            cpu_relax();
        else
            std::this_thread::yield();
    }
}

void spin_until_parked(const spindle::detail::Latch& l) noexcept {
    spin_until([&] { return has_parked_waiter(l); });
}

void reset_latch(spindle::detail::Latch& l) noexcept {
    std::destroy_at(&l);
    std::construct_at(&l);
}

// The wait_latch spin alone: N x {acquire load of an unset latch; pause}. N = 16 is the library's
// k_spin_before_park since 86bc01a, N = 256 what it was before (5 us per park on the dev VM).
void BM_spin_before_park(benchmark::State& state) {
    const auto pauses = state.range(0);
    spindle::detail::Latch never;
    for (auto _ : state) {
        for (std::int64_t i = 0; i < pauses; ++i) {
            if (never.probe())
                break;
            cpu_relax();
        }
    }
}
BENCHMARK(BM_spin_before_park)
    ->ArgNames({"pauses"})
    ->Arg(16)
    ->Arg(256)
    ->Unit(benchmark::kNanosecond);

// One park + one resume on ONE worker, nothing else. On a 1-worker pool, inside install:
//   StackJob job(noop); push_local(w, &job); wait_latch(job.done);
// The job cannot run while the waiter spins (same thread, and a 1-worker pool has no thief),
// so after the k_spin_before_park spin the waiter always parks. The worker's idle fiber then pops
// the job from its own deque, runs the empty closure, job.done.set() finds the parked Waiter* and
// makes the fiber ready locally (no atomics on another thread's lines, no wake-up), the run
// loop's take_ready() resumes it. Per iteration: 1 deque push + 1 pop, the spin, 2 fiber
// switches (park: waiter -> idle fiber; resume: idle fiber -> waiter), 1 CAS (register),
// 1 exchange (set). This is exactly join()'s "second half stolen" path minus the thief, so
// (this - BM_spin_before_park) is the pure cost of parking and resuming a fiber.
void BM_park_resume_roundtrip(benchmark::State& state) {
    namespace d = spindle::detail;
    spindle::ThreadPool pool(pool_options(1));
    double elapsed = 0;
    std::vector<double> samples;
    samples.reserve(static_cast<std::size_t>(state.max_iterations));
    pool.install([&] {
        d::WorkerCore* w = d::current_worker();
        auto noop = [] {};
        for (int i = 0; i < 16; ++i) {  // warm-up: creates the idle fiber
            d::StackJob<decltype(noop)> job(noop);
            d::push_local(w, &job);
            d::wait_latch(job.done);
        }
        const auto t0 = Clock::now();
        for (auto _ : state) {
            const auto s0 = Clock::now();
            d::StackJob<decltype(noop)> job(noop);
            d::push_local(w, &job);
            d::wait_latch(job.done);
            samples.push_back(std::chrono::duration<double, std::nano>(Clock::now() - s0).count());
        }
        elapsed = seconds_since(t0);
    });
    report_ns_per_op(state, "ns_per_roundtrip", elapsed, 1);
    state.counters["median_ns"] = median_of(samples);
}
BENCHMARK(BM_park_resume_roundtrip)->UseRealTime()->Unit(benchmark::kNanosecond);

// The fiber mechanics of a park/resume without the spin, through the public yield_now():
// on a 1-worker pool, push a no-op StackJob, then yield_now(). Worker::yield finds the job,
// switches to a pooled idle fiber whose after_yield hook makes the caller ready and runs the
// job; that fiber's run loop then resumes the caller. Per iteration: 1 push + 1 pop, 2 fiber
// switches, 2 ready-list operations, 1 latch set (no waiter). BM_park_resume_roundtrip minus
// BM_spin_before_park should come out close to this plus one CAS (the waiter registration).
void BM_yield_switch_roundtrip(benchmark::State& state) {
    namespace d = spindle::detail;
    spindle::ThreadPool pool(pool_options(1));
    double elapsed = 0;
    bool ok = true;
    pool.install([&] {
        d::WorkerCore* w = d::current_worker();
        auto noop = [] {};
        for (int i = 0; i < 16; ++i) {
            d::StackJob<decltype(noop)> job(noop);
            d::push_local(w, &job);
            spindle::yield_now();
        }
        const auto t0 = Clock::now();
        for (auto _ : state) {
            d::StackJob<decltype(noop)> job(noop);
            d::push_local(w, &job);
            const auto y = spindle::yield_now();
            ok = ok && y == spindle::Yield::executed && job.done.probe();
        }
        elapsed = seconds_since(t0);
    });
    if (!ok)
        state.SkipWithError("yield_now did not run the pushed job");
    report_ns_per_op(state, "ns_per_roundtrip", elapsed, 1);
}
BENCHMARK(BM_yield_switch_roundtrip)->UseRealTime()->Unit(benchmark::kNanosecond);

// One park on a worker, woken from ANOTHER thread. A job X on a 1-worker pool loops
// wait_latch(L[k]); the benchmark thread (not a worker) waits until X's Waiter* is in L[k]
// (so X has really parked), sets L[k] (remote make_ready: CAS on m_remote_ready + wake()),
// then waits for X's acknowledgement written right after it resumed. Per iteration: X's spin
// + park, the remote wake, the resume, and two cross-core cache-line hand-offs (the Waiter*
// the setter polls, the ack the setter polls). The worker is still in its idle spin when the
// wake comes (it parked ~100 ns earlier), so no futex wake is involved.
void BM_park_resume_remote(benchmark::State& state) {
    namespace d = spindle::detail;
    constexpr std::int64_t k_warm = 16;
    const std::int64_t n = state.max_iterations + k_warm;
    spindle::ThreadPool pool(pool_options(1));
    d::Latch latches[2];
    std::atomic<std::int64_t> ack{0};
    pool.spawn([&] {
        for (std::int64_t k = 0; k < n; ++k) {
            d::Latch& l = latches[k & 1];
            d::wait_latch(l);
            reset_latch(l);  // the setter touches latches[k & 1] again only after ack > k + 1
            ack.store(k + 1, std::memory_order_release);
        }
    });
    auto one = [&](std::int64_t k) {
        d::Latch& l = latches[k & 1];
        spin_until_parked(l);
        l.set();
        spin_until([&] { return ack.load(std::memory_order_acquire) == k + 1; });
    };
    std::int64_t k = 0;
    for (; k < k_warm; ++k)
        one(k);
    std::vector<double> samples;
    samples.reserve(static_cast<std::size_t>(state.max_iterations));
    const auto t0 = Clock::now();
    for (auto _ : state) {
        const auto s0 = Clock::now();
        one(k++);
        samples.push_back(std::chrono::duration<double, std::nano>(Clock::now() - s0).count());
    }
    report_ns_per_op(state, "ns_per_roundtrip", seconds_since(t0), 1);
    state.counters["median_ns"] = median_of(samples);
}
BENCHMARK(BM_park_resume_remote)->Apply(bench::wall_cpu_ns);

// Ping-pong between two workers, both sides parking: a 2-worker pool, broadcast puts X on
// worker 0 and Y on worker 1 (broadcast jobs run on their own worker, so the placement is
// certain). Round k: X waits until Y has parked on A[k], sets A[k], then waits on B[k] (spin,
// park); Y, resumed, waits until X has parked on B[k], sets B[k]. One round trip = 2 x (spin +
// park + remote wake + resume) + the cross-core hand-offs; one "pass" (half of it) is what
// marl's EventBaton benchmark measures (perf-anchors §8: ~216 ns per pass, no spin in marl).
void BM_park_pingpong_2w(benchmark::State& state) {
    namespace d = spindle::detail;
    constexpr std::int64_t k_warm = 16;
    const std::int64_t n = state.max_iterations + k_warm;
    spindle::ThreadPool pool(pool_options(2));
    d::Latch a[2], b[2];
    double elapsed = 0;
    std::vector<double> samples;
    samples.reserve(static_cast<std::size_t>(state.max_iterations));
    pool.broadcast([&](spindle::BroadcastContext ctx) {
        if (ctx.index == 0) {  // X: drives the timed loop
            auto round = [&](std::int64_t k) {
                spin_until_parked(a[k & 1]);
                a[k & 1].set();
                d::wait_latch(b[k & 1]);
                reset_latch(b[k & 1]);  // Y next touches b[k & 1] in round k + 2, after a[k + 1]
            };
            std::int64_t k = 0;
            for (; k < k_warm; ++k)
                round(k);
            const auto t0 = Clock::now();
            for (auto _ : state) {
                const auto s0 = Clock::now();
                round(k++);
                samples.push_back(
                    std::chrono::duration<double, std::nano>(Clock::now() - s0).count());
            }
            elapsed = seconds_since(t0);
        } else {  // Y
            for (std::int64_t k = 0; k < n; ++k) {
                d::wait_latch(a[k & 1]);
                reset_latch(a[k & 1]);  // X next touches a[k & 1] in round k + 2, after b[k + 1]
                spin_until_parked(b[k & 1]);
                b[k & 1].set();
            }
        }
    });
    report_ns_per_op(state, "ns_per_roundtrip", elapsed, 1);
    report_ns_per_op(state, "ns_per_pass", elapsed, 2);
    state.counters["median_ns"] = median_of(samples);
}
BENCHMARK(BM_park_pingpong_2w)->Apply(bench::wall_cpu_ns);

// ---------------------------------------------------------------------------------------------
// 4. wake-up latency of an idle pool
//
// Per iteration (untimed): sleep 5 ms so that both workers have gone through their idle rounds
// (16 pauses + 48 sched_yield) and are blocked in sleep_cold()'s futex wait. Timed (manual
// time): t0 = now(); pool.spawn(job); the job's first statement stamps t1. The main thread
// then blocks (atomic wait, not a spin, so it does not compete for a core) until the job is
// done. Iteration time = t1 - t0: inject + wake_one (futex wake) + the kernel scheduling the
// worker + its run loop finding the injected job.
void BM_wakeup_latency(benchmark::State& state) {
    spindle::ThreadPool pool(pool_options(2));
    pool.install([] {});  // make sure the workers are up
    std::vector<double> samples;
    samples.reserve(static_cast<std::size_t>(state.max_iterations));
    // Outlive every job: the job may still be inside notify_one() when the waiter has already
    // seen the new value.
    std::atomic<std::uint32_t> done{0};
    Clock::time_point t1{};
    std::uint32_t seq = 0;
    for (auto _ : state) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        const std::uint32_t want = ++seq;
        const auto t0 = Clock::now();
        pool.spawn([&done, &t1, want] {
            t1 = Clock::now();
            done.store(want, std::memory_order_release);
            done.notify_one();
        });
        for (std::uint32_t v; (v = done.load(std::memory_order_acquire)) != want;)
            done.wait(v, std::memory_order_acquire);
        const double lat = std::chrono::duration<double>(t1 - t0).count();
        state.SetIterationTime(lat);
        samples.push_back(lat * 1e6);
    }
    state.counters["median_us"] = median_of(samples);
    state.counters["p10_us"] = quantile_of(samples, 0.10);
    state.counters["p90_us"] = quantile_of(samples, 0.90);
}
BENCHMARK(BM_wakeup_latency)->Iterations(100)->UseManualTime()->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------------------------
// 5. idle CPU

// A 2-worker pool with nothing to do: after a 50 ms settle, the process's user+sys CPU over a
// 1 s sleep of the main thread, as a percentage of one core.
// Starts the pool's workers (one install) and leaves them alone for 50 ms.
void settle(spindle::ThreadPool& pool) {
    pool.install([] {});
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

// The process's CPU time over `f(t0)` (t0: its start) as a percentage of one core.
template <class F>
double cpu_pct(F&& f) {
    const double c0 = process_cpu_seconds();
    const auto t0 = Clock::now();
    f(t0);
    return 100.0 * (process_cpu_seconds() - c0) / seconds_since(t0);
}

void BM_idle_cpu(benchmark::State& state) {
    spindle::ThreadPool pool(pool_options(2));
    settle(pool);
    double pct = 0;
    for (auto _ : state)
        pct = cpu_pct(
            [](Clock::time_point) { std::this_thread::sleep_for(std::chrono::seconds(1)); });
    state.counters["idle_cpu_pct"] = pct;
}
BENCHMARK(BM_idle_cpu)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// rayon PR #746's "noop" methodology (perf-anchors §8/§9 item 8c): one tiny job every 10 ms for
// 1 s on a 2-worker pool; CPU as a percentage of one core. Measures how much the pool spins
// after each wake-up before it goes back to sleep.
void BM_tick_cpu(benchmark::State& state) {
    spindle::ThreadPool pool(pool_options(2));
    settle(pool);
    double pct = 0;
    std::atomic<int> ran{0};
    for (auto _ : state)
        pct = cpu_pct([&](Clock::time_point t0) {
            for (int i = 0; i < 100; ++i) {
                pool.spawn([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
                std::this_thread::sleep_until(t0 + std::chrono::milliseconds(10 * (i + 1)));
            }
        });
    state.counters["cpu_pct"] = pct;
}
BENCHMARK(BM_tick_cpu)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------------------------
// 6. install round trip from an outside thread
//
// busy:0  the pool has nothing else to do; between two installs its workers go through their
//         idle rounds and may fall asleep, so an install may pay a futex wake of a worker (and
//         the caller, blocked in thread_wait after wait_latch's k_spin_before_park spin, a
//         futex wake back).
// busy:1  every worker runs a spinner `while (!stop) yield_now();` placed with broadcast from a
//         helper thread, so workers never sleep and poll the injector constantly; the install's
//         job runs via yield (on a pooled fiber of the spinning worker).
//         NOTE: with threads:2 on a 2-core machine that is 2 spinning workers + the caller =
//         3 runnable threads on 2 cores (oversubscribed on purpose: it shows the cost).
void BM_install_roundtrip(benchmark::State& state) {
    const auto threads = static_cast<std::size_t>(state.range(0));
    const bool busy = state.range(1) != 0;
    spindle::ThreadPool pool(pool_options(threads));
    std::atomic<bool> stop{false};
    std::atomic<std::size_t> spinning{0};
    std::thread helper;
    if (busy) {
        helper = std::thread([&] {
            pool.broadcast([&](spindle::BroadcastContext) {
                spinning.fetch_add(1);
                while (!stop.load(std::memory_order_relaxed))
                    spindle::yield_now();
            });
        });
        while (spinning.load() != threads)
            std::this_thread::yield();
    }
    for (int i = 0; i < 100; ++i)
        benchmark::DoNotOptimize(pool.install([] { return 1; }));
    std::vector<double> samples;
    samples.reserve(static_cast<std::size_t>(state.max_iterations));
    const auto t0 = Clock::now();
    int sum = 0;
    for (auto _ : state) {
        const auto s0 = Clock::now();
        const int r = pool.install([] { return 1; });
        samples.push_back(std::chrono::duration<double, std::nano>(Clock::now() - s0).count());
        sum += r;
        benchmark::DoNotOptimize(sum);
    }
    const double elapsed = seconds_since(t0);
    state.counters["median_ns"] = median_of(samples);
    state.counters["p90_ns"] = quantile_of(samples, 0.90);
    stop.store(true);
    if (helper.joinable())
        helper.join();
    if (sum != state.iterations())
        state.SkipWithError("install returned a wrong value");
    report_ns_per_op(state, "ns_per_install", elapsed, 1);
}
BENCHMARK(BM_install_roundtrip)
    ->ArgNames({"threads", "busy"})
    ->Args({1, 0})
    ->Args({1, 1})
    ->Args({2, 0})
    ->Args({2, 1})
    ->Apply(bench::wall_cpu_us);

// ---------------------------------------------------------------------------------------------
// Machine baseline (no spindle): two plain threads pass a token through one cache line, as
// every cross-worker hand-off above must. ns per round trip (two one-way transfers). On a VM
// this varies a lot with the host's load; read the cross-thread figures above against it.
void BM_cacheline_pingpong(benchmark::State& state) {
    alignas(64) std::atomic<std::int64_t> token{0};
    const std::int64_t n = state.max_iterations;
    std::thread peer([&] {
        for (std::int64_t k = 0; k < n; ++k) {
            spin_until([&] { return token.load(std::memory_order_acquire) == 2 * k + 1; });
            token.store(2 * k + 2, std::memory_order_release);
        }
    });
    std::int64_t k = 0;
    const auto t0 = Clock::now();
    for (auto _ : state) {
        token.store(2 * k + 1, std::memory_order_release);
        spin_until([&] { return token.load(std::memory_order_acquire) == 2 * k + 2; });
        ++k;
    }
    report_ns_per_op(state, "ns_per_roundtrip", seconds_since(t0), 1);
    peer.join();
}
BENCHMARK(BM_cacheline_pingpong)->UseRealTime()->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();
