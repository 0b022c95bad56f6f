// What idle and wakeup (bench/workloads/idle.cpp, wakeup.cpp; bench/rayon/src/workloads/
// pool_job.rs is the rayon side) share: submit one job from this (non-worker) thread to an idle
// pool of T threads, n times a rep.
//   idle    n ticks: submit one empty job to the idle pool, wait for it, sleep 10 ms. Wall ~
//           n·10 ms; the figure is the CPU time (rayon PR #746's `noop` methodology).
//   wakeup  n samples per rep: the pool idles 10 ms, then one job is submitted from outside and
//           records when it starts. The rep's time is the mean submit→start latency.
// The caller never works: T pool threads run the job (spindle install; TBB task_arena(T, 0) +
// enqueue; OpenMP a team of T+1 whose thread 1 runs it), and there is no 1-worker pool beside
// spindle's.
#pragma once

#include "workloads/fork_join.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

namespace bench {

constexpr auto k_idle_gap = std::chrono::milliseconds(10);

struct PoolJobWorkload : WorkloadBase {
    using Clock = std::chrono::steady_clock;
    std::uint64_t count;
    bool wakeup;  // wakeup (the latency of each job) or idle (the CPU burnt between them)
    double last_latency = -1;
    // Written by the job when it starts; read by the submitter once the job has finished. Plain
    // data: install(), the end of the OpenMP region and tbb_done's release/acquire order the two.
    Clock::time_point started{};
    // TBB only: set to 1 by the enqueued job (release, then notify_one) when it is done; the
    // submitter waits for it (acquire, atomic wait) and resets it to 0 before the next job. A
    // member, not a local, so the job's notify never touches a dead object.
    std::atomic<int> tbb_done{0};

    PoolJobWorkload(std::uint64_t n, bool is_wakeup) : count(n), wakeup(is_wakeup) {}
    std::uint64_t n() const { return count; }
    bool check(std::uint64_t r) const { return r == count; }
};

// `submit(job)` runs job on a pool thread and returns when it finished.
template <class Submit>
std::uint64_t pool_job_rep(PoolJobWorkload& w, Submit&& submit) {
    using Clock = PoolJobWorkload::Clock;
    std::uint64_t done = 0;
    double latency_sum = 0;
    for (std::uint64_t i = 0; i < w.count; ++i) {
        if (w.wakeup) {
            std::this_thread::sleep_for(k_idle_gap);  // the pool goes idle
            const auto t0 = Clock::now();
            submit([&] { w.started = Clock::now(); });
            latency_sum += std::chrono::duration<double>(w.started - t0).count();
        } else {
            submit([] {});
            std::this_thread::sleep_for(k_idle_gap);
        }
        ++done;
    }
    w.last_latency = w.wakeup ? latency_sum / static_cast<double>(w.count) : -1;
    return done;
}

// Every selected system in turn; returns whether all checked.
inline bool run_pool_job(const Args& args) {
    PoolJobWorkload w(args.n, args.workload == "wakeup");
    RepSpec spec = rep_spec(w);
    spec.self_time = [&w] { return w.last_latency; };
    const std::size_t t = args.threads;
    bool ok = true;
    for (System sys : args.systems) {
        bool r = true;
        switch (sys) {
            case System::serial:
                r = measure(args, spec, "serial", 1,
                            [&] { return pool_job_rep(w, [](auto&& job) { job(); }); });
                break;
            case System::spindle:
                r = measure_spindle(
                    args, spec, "spindle",
                    [&](spindle::ThreadPool& pool) {
                        return pool_job_rep(w, [&](auto&& job) { pool.install(job); });
                    },
                    /*with_base=*/false);
                break;
            case System::tbb: {
#if SPINDLE_BENCH_HAVE_TBB
                TbbContext ctx(t, /*caller_works=*/false, worker_cpus(t));
                r = measure(args, spec, "tbb", t, [&] {
                    return pool_job_rep(w, [&](auto&& job) {
                        w.tbb_done.store(0, std::memory_order_relaxed);
                        ctx.arena().enqueue([&w, &job] {
                            job();
                            w.tbb_done.store(1, std::memory_order_release);
                            w.tbb_done.notify_one();
                        });
                        while (w.tbb_done.load(std::memory_order_acquire) == 0)
                            w.tbb_done.wait(0, std::memory_order_acquire);
                    });
                });
#endif
                break;
            }
            case System::omp: {
#ifdef _OPENMP
                // Members 1..t are the workers (the master only submits): pinned as tbb's slots.
                if (const std::vector<int> cpus = worker_cpus(t); !cpus.empty()) {
                    std::vector<int> members{-1};
                    members.insert(members.end(), cpus.begin(), cpus.end());
                    omp_pin_team(members);
                }
                r = measure(args, spec, "omp", t, [&] {
                    return pool_job_rep(w, [&](auto&& job) {
                        auto* pj = &job;
#pragma omp parallel num_threads(static_cast <int>(t + 1))
                        {
                            if (omp_get_thread_num() == 1)
                                (*pj)();
                        }
                    });
                });
#endif
                break;
            }
        }
        ok = ok && r;
    }
    return ok;
}

inline std::string check_pool_job_n(std::uint64_t n) {
    return n > 100000 ? "n at most 100000" : "";
}

}  // namespace bench
