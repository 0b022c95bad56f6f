// Capacity calibration and interleaved reps for the side-by-side benchmark programs
// (bench/README.md, "Capacity and efficiency"). bench/rayon/src/capacity.rs is the same method in
// Rust, line for line, so the figures of the two languages are comparable.
//
// Capacity: how many CPUs' worth of work the machine gives this process right now. A probe times
// a serial kernel alone on each of the run's CPUs in turn, then on T threads at once (one per CPU,
// pinned, started together); its capacity = sum over the T threads of (the fastest alone time /
// that thread's co-run time), i.e. T x alone / co-run: T independent 1-thread runs at once
// against one alone. A run's capacity is the median of its probes'.
// The kernel is the workload's own serial version where the workload has one that may run on
// several threads at once (fib, sum, uts, ...: "probe_kernel":"workload"), repeated so one timing
// lasts >= ~10 ms: then the capacity holds what the machine shares between CPUs for that very
// instruction mix: memory bandwidth and caches for sum, the core's front end and execution ports
// when two vCPUs are hyperthread siblings. Otherwise ("mix") a fixed integer kernel (8 lanes of
// integer mixing kept in registers: no memory traffic; ~10 ms).
// On T idle cores it is ~T; when the host runs two vCPUs as hyperthread siblings of one core it
// drops. The probe threads run while the pools are idle (after a settle sleep, so no worker is
// still spinning).
//
// Time-sharing with other processes slows alone and co-run alike, so the ratio cannot show it;
// the probe's CPU share does: thread CPU time / wall time of the kernel runs, < 1 when they were
// preempted, by other processes or by the host. (A kernel shorter than a few scheduler slices
// would never be preempted, hence ~10 ms. The reps' run-queue wait from /proc/self/task/*/
// schedstat would be the direct measure, but on this kernel (6.18; likely EEVDF's delayed
// dequeue) a thread asleep in libstdc++'s std::atomic::wait (a few sched_yield()s, then a futex
// wait) kept accruing "wait": 15 ms of a 20 ms wait, where a bare futex wait accrued none.)
//
// Interleaving: a T-worker run also builds a 1-worker pool of the same system and alternates
// reps 1, T, 1, T, ... with a probe after every pair, so the speed-up (1-worker median / T-worker
// median) and the capacity are taken under the same conditions; efficiency = speed-up / capacity.
// A run is flagged when its capacity < 0.9 x T or its probe CPU share < 0.9: then the machine,
// not the pool, limited it.
#pragma once

#include "compare_common.hpp"

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace bench {

// Iterations of the probe kernel: ~10 ms alone on the 2-vCPU dev box (EPYC family 26); a 2 ms
// kernel fits in one scheduler slice and showed a CPU share of 1.00 where 10 ms showed 0.25.
constexpr std::uint64_t k_probe_iters = 2000000;
// A timing of the workload's own kernel lasts at least this long (as long as the integer one).
constexpr double k_probe_target_s = 0.010;
// A probe whose capacity is below this fraction of the thread count, or whose threads ran for less
// than this fraction of their wall time (preempted), is flagged.
constexpr double k_probe_flag_fraction = 0.9;
// Sleep before each probe and between the 1-worker and the T-worker rep: longer than any pool's
// idle spinning (spindle ~155 us, rayon 32 yield rounds), so the idle pool is asleep.
constexpr auto k_settle = std::chrono::milliseconds(2);
// Before the final probe of a system that is not interleaved (tbb, omp): libgomp spins up to
// GOMP_SPINCOUNT (300,000 rounds) after a region.
constexpr auto k_settle_long = std::chrono::milliseconds(20);

// The probe kernel: 8 lanes of SplitMix64's finalizer. The empty asm keeps each lane in a
// general register (no vectorization, nothing folded), the same instructions in C++ and Rust.
[[gnu::noinline]] inline std::uint64_t probe_kernel(std::uint64_t seed, std::uint64_t iters) {
    constexpr int k_lanes = 8;
    std::uint64_t x[k_lanes];
    for (int i = 0; i < k_lanes; ++i)
        x[i] = seed + static_cast<std::uint64_t>(i);
    for (std::uint64_t k = 0; k < iters; ++k) {
        for (int i = 0; i < k_lanes; ++i) {
            std::uint64_t z = x[i] + 0x9E3779B97F4A7C15ull;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
            z ^= z >> 31;
            __asm__ __volatile__("" : "+r"(z));
            x[i] = z;
        }
    }
    std::uint64_t s = 0;
    for (int i = 0; i < k_lanes; ++i)
        s ^= x[i];
    return s;
}

// Whether the pools' workers are pinned, worker i to the i-th CPU of this process's affinity list
// (BENCH_PIN_WORKERS=1; scripts/bench.sh sets it unless --no-pin-workers or --no-pin). The same
// for every system: spindle (Placement::cpus, unless SPINDLE_PLACEMENT chose a plan), rayon
// (start_handler, bench/rayon/src/capacity.rs), oneTBB (TbbPinObserver) and OpenMP (omp_pin_team,
// bench/compare_systems.hpp), their calling thread pinned around the series (ScopedPin). Why
// (bench/README.md, "Pinned workers"): left to the kernel, the two workers of a 2-worker pool
// sometimes shared one vCPU for a whole rep.
inline bool pin_workers_requested() {
    const char* e = std::getenv("BENCH_PIN_WORKERS");
    return e != nullptr && e[0] == '1' && e[1] == '\0';
}

// The CPUs of workers 0..n-1 when workers are pinned (worker i on the (i mod k)-th of the k
// allowed CPUs), empty when they are not.
inline std::vector<int> worker_cpus(std::size_t n) {
    std::vector<int> out;
    if (!pin_workers_requested())
        return out;
    const std::vector<int>& cpus = allowed_cpus();
    for (std::size_t i = 0; i < n; ++i)
        out.push_back(cpus[i % cpus.size()]);
    return out;
}

inline double median_of(std::vector<double> v) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    const std::size_t k = v.size();
    return (k % 2 == 1) ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
}

// CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID): time it actually ran, so wall time
// minus this is time it was preempted (other processes, or the host taking the vCPU).
inline double thread_cpu_seconds() {
    timespec ts{};
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Which part of its input a probe kernel covers. Run alone on the run's CPU i, or as thread i of
// the T that run at once, the kernel is told slice i of T (calibration: slice 0). A kernel over
// memory (sum) reads only its slice, so that T threads at once read disjoint data as the
// parallel workers do: the whole input read T times at once would share the last-level cache
// and hide the memory bandwidth the workers compete for. Kernels without input ignore it.
struct ProbeSlice {
    std::size_t index = 0;
    std::size_t count = 1;
    // [begin, end) of slice `index` of [0, n).
    std::size_t begin(std::size_t n) const {
        return n / count * index + std::min(index, n % count);
    }
    std::size_t end(std::size_t n) const { return ProbeSlice{index + 1, count}.begin(n); }
};
inline thread_local ProbeSlice t_probe_slice;

class CapacityProbe {
public:
    // threads: the thread count of the run; probe thread i runs on the run's CPU i mod (number of
    // allowed CPUs).
    // kernel: the workload's serial version, safe to call on several threads at once; empty: the
    // integer kernel.
    explicit CapacityProbe(std::size_t threads, std::function<std::uint64_t()> kernel = {})
        : m_threads(threads ? threads : 1), m_kernel(std::move(kernel)) {
        const std::vector<int>& all = allowed_cpus();
        for (std::size_t i = 0; i < m_threads && i < all.size(); ++i)
            m_cpus.push_back(all[i]);
        m_alone.resize(m_cpus.size());
    }

    std::size_t threads() const { return m_threads; }

    // One probe: settle, the kernel alone on each CPU in turn, then on all at once (threads > 1).
    void probe(std::chrono::milliseconds settle = k_settle) {
        std::this_thread::sleep_for(settle);
        if (m_kernel && m_kernel_reps == 0)
            calibrate();
        std::vector<Timed> alone(m_cpus.size());
        double wall = 0, cpu = 0;
        for (std::size_t c = 0; c < m_cpus.size(); ++c) {
            std::thread t([&, c] {
                pin_this_thread(m_cpus[c]);
                t_probe_slice = {c, m_threads};
                alone[c] = time_kernel();
            });
            t.join();
            m_alone[c].push_back(alone[c].wall_s);
            wall += alone[c].wall_s;
            cpu += alone[c].cpu_s;
        }
        if (m_threads > 1) {
            std::vector<Timed> co(m_threads);
            std::atomic<std::size_t> arrived{0};
            std::vector<std::thread> ts;
            ts.reserve(m_threads);
            for (std::size_t i = 0; i < m_threads; ++i) {
                ts.emplace_back([&, i] {
                    pin_this_thread(m_cpus[i % m_cpus.size()]);
                    t_probe_slice = {i, m_threads};
                    arrived.fetch_add(1, std::memory_order_acq_rel);
                    while (arrived.load(std::memory_order_acquire) < m_threads) {
                    }
                    co[i] = time_kernel();
                });
            }
            for (auto& t : ts)
                t.join();
            // The reference: the fastest CPU alone (a 1-worker pool's thread is not pinned: the
            // kernel's scheduler puts it on the least loaded CPU).
            double ref = alone[0].wall_s;
            for (const Timed& a : alone)
                ref = std::min(ref, a.wall_s);
            double cap = 0;
            for (const Timed& c : co) {
                cap += ref / c.wall_s;
                wall += c.wall_s;
                cpu += c.cpu_s;
            }
            m_per_probe.push_back(cap);
        }
        m_share.push_back(wall > 0 ? std::min(1.0, cpu / wall) : 1.0);
    }

    std::size_t probes() const { return m_share.size(); }

    // The median of the probes' capacities (threads > 1).
    double capacity() const { return median_of(m_per_probe); }
    // The median over the probes of the kernel's CPU time / wall time (alone and co-run runs):
    // below 1 when the probe threads were preempted.
    double cpu_share() const { return median_of(m_share); }
    double flag_below() const { return k_probe_flag_fraction * static_cast<double>(m_threads); }
    bool low_capacity() const { return m_threads > 1 && capacity() < flag_below(); }
    bool low_share() const { return cpu_share() < k_probe_flag_fraction; }
    std::size_t flagged_probes() const {
        std::size_t n = 0;
        for (std::size_t k = 0; k < m_share.size(); ++k) {
            const bool low_cap = m_threads > 1 && m_per_probe[k] < flag_below();
            if (low_cap || m_share[k] < k_probe_flag_fraction)
                ++n;
        }
        return n;
    }
    double alone_median_s() const { return m_alone.empty() ? 0 : median_of(m_alone[0]); }

    // JSON fields (each with a leading comma): the probe's figures for this run.
    std::string json() const {
        std::string out;
        char buf[160];
        std::snprintf(buf, sizeof buf,
                      ",\"probes\":%zu,\"probe_kernel\":\"%s\",\"probe_kernel_reps\":%zu,"
                      "\"probe_alone_s\":%.9f,\"probe_cpus\":[",
                      probes(), m_kernel ? "workload" : "mix", m_kernel ? m_kernel_reps : 1,
                      alone_median_s());
        out += buf;
        for (std::size_t i = 0; i < m_cpus.size(); ++i) {
            std::snprintf(buf, sizeof buf, "%s%d", i ? "," : "", m_cpus[i]);
            out += buf;
        }
        out += "]";
        if (m_threads > 1 && !m_per_probe.empty()) {
            std::snprintf(buf, sizeof buf, ",\"capacity\":%.4f,\"capacities\":[", capacity());
            out += buf;
            for (std::size_t i = 0; i < m_per_probe.size(); ++i) {
                std::snprintf(buf, sizeof buf, "%s%.4f", i ? "," : "", m_per_probe[i]);
                out += buf;
            }
            out += "]";
        }
        std::snprintf(buf, sizeof buf, ",\"probe_cpu_share\":%.4f,\"flagged_probes\":%zu",
                      cpu_share(), flagged_probes());
        out += buf;
        return out;
    }

private:
    struct Timed {
        double wall_s = 0;
        double cpu_s = 0;
    };
    // The kernel once: the workload's (m_kernel_reps times) or the integer one.
    std::uint64_t run_kernel() const {
        static std::atomic<std::uint64_t> sink{1};
        std::uint64_t r = 0;
        if (m_kernel) {
            for (std::size_t i = 0; i < m_kernel_reps; ++i)
                r ^= m_kernel();
        } else {
            r = probe_kernel(sink.load(std::memory_order_relaxed), k_probe_iters);
        }
        sink.fetch_xor(r & 1, std::memory_order_relaxed);
        return r;
    }
    Timed time_kernel() const {
        const double c0 = thread_cpu_seconds();
        const auto t0 = std::chrono::steady_clock::now();
        run_kernel();
        const auto t1 = std::chrono::steady_clock::now();
        const double c1 = thread_cpu_seconds();
        return {std::chrono::duration<double>(t1 - t0).count(), c1 - c0};
    }
    // How many calls of the workload's kernel make one timing of >= k_probe_target: one untimed
    // call (caches, page faults), then one timed, on the run's first CPU.
    void calibrate() {
        std::thread t([&] {
            pin_this_thread(m_cpus.empty() ? 0 : m_cpus[0]);
            t_probe_slice = {0, m_threads};
            m_kernel_reps = 1;
            run_kernel();
            const double one = std::max(time_kernel().wall_s, 1e-6);
            const double reps = std::ceil(k_probe_target_s / one);
            m_kernel_reps = static_cast<std::size_t>(std::clamp(reps, 1.0, 10000.0));
        });
        t.join();
    }

    std::size_t m_threads;
    std::function<std::uint64_t()> m_kernel;  // the workload's serial version, or empty
    std::size_t m_kernel_reps = 0;            // calls of m_kernel per timing (calibrate())
    std::vector<int> m_cpus;
    std::vector<std::vector<double>> m_alone;  // [cpu][probe] wall times
    std::vector<double> m_per_probe;           // capacity of each probe (threads > 1)
    std::vector<double> m_share;               // CPU share of each probe
};

// Keeps every allowed CPU out of the idle state for the life of the object: one thread per CPU,
// pinned, under SCHED_IDLE (it runs only when nothing else on that CPU wants to), spinning with
// a pause. Off unless BENCH_KEEP_AWAKE=1 (scripts/bench.sh --keep-awake); the JSON says which
// ("keep_awake"). Why it exists (bench/README.md, "Idle CPUs"): on the 2-vCPU dev VM a thread
// woken on a vCPU that sat idle for a few milliseconds starts 0.1-10 ms later (a bare futex
// program: scripts/wake-latency.sh), because the host takes the halted vCPU away; spinning at
// the lowest priority keeps the vCPU running, so a wake-up is the guest's own (~30-60 us), as
// with `idle=poll` on bare metal. Why it is off: a SCHED_IDLE thread is still a fair-class task
// on its CPU's run queue, and a thread that calls sched_yield() while it is runnable hands it
// the CPU for a whole slice (~3.8 ms here: a yield loop beside such a spinner got 4 % of its
// iterations and 78 gaps over 100 us in 300 ms, against 6 alone). Both pools' idle loops yield
// (spindle after 16 pause rounds, rayon in every round), so with the spinners on, a worker that
// was looking for work when a call began could miss the whole call: 2-worker `sum` calls took
// the 1-worker time (1.3-2.1 ms against 0.7) at random. Batched reps (calls_per_rep) remove
// most of what it was for: only a rep's first call finds the workers asleep.
class KeepAwake {
public:
    KeepAwake() {
        const char* e = std::getenv("BENCH_KEEP_AWAKE");
        if (e == nullptr || std::string(e) != "1")
            return;
        const std::vector<int>& cpus = allowed_cpus();
        m_cpu_ns = std::make_unique<std::atomic<std::uint64_t>[]>(cpus.size());
        for (std::size_t i = 0; i < cpus.size(); ++i) {
            m_cpu_ns[i].store(0, std::memory_order_relaxed);
            m_threads.emplace_back([this, i, cpu = cpus[i]] {
                pin_this_thread(cpu);
#ifdef __linux__
                sched_param p{};
                p.sched_priority = 0;
                if (sched_setscheduler(0, SCHED_IDLE, &p) != 0)
                    return;  // without SCHED_IDLE it would compete: do nothing
#endif
                // Its own CPU time, kept current (a read per 64 pauses) so that a rep's CPU
                // time can leave the spinning out (RepClock).
                for (unsigned k = 0; !m_stop.load(std::memory_order_relaxed); ++k) {
                    cpu_pause();
                    if (k % 64 == 0)
                        m_cpu_ns[i].store(static_cast<std::uint64_t>(thread_cpu_seconds() * 1e9),
                                          std::memory_order_relaxed);
                }
            });
        }
        s_active.store(this, std::memory_order_release);
    }
    ~KeepAwake() {
        s_active.store(nullptr, std::memory_order_release);
        m_stop.store(true, std::memory_order_relaxed);
        for (auto& t : m_threads)
            t.join();
    }
    KeepAwake(const KeepAwake&) = delete;
    KeepAwake& operator=(const KeepAwake&) = delete;
    bool on() const {
        return !m_threads.empty();
    }
    // CPU time the spinners of the live KeepAwake have used so far (0 if none is live).
    static double spin_cpu_seconds() {
        const KeepAwake* k = s_active.load(std::memory_order_acquire);
        if (k == nullptr)
            return 0;
        std::uint64_t ns = 0;
        for (std::size_t i = 0; i < k->m_threads.size(); ++i)
            ns += k->m_cpu_ns[i].load(std::memory_order_relaxed);
        return static_cast<double>(ns) * 1e-9;
    }

private:
    static void cpu_pause() {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield");
#endif
    }
    // The live KeepAwake: written by its constructor (after every slot of m_cpu_ns is zeroed)
    // and destructor, read by RepClock; all on the thread that runs the series (run_series owns
    // the object), so release/acquire only keeps the slots' initialisation ordered before use.
    static inline std::atomic<const KeepAwake*> s_active{nullptr};
    // Set by the destructor, polled by the spinners (relaxed: it orders nothing; join() does).
    std::atomic<bool> m_stop{false};
    // Slot i: written only by spinner i (its thread CPU time, ns), read by spin_cpu_seconds();
    // relaxed: a single writer per slot and a figure that is only a sum, nothing to pair with.
    std::unique_ptr<std::atomic<std::uint64_t>[]> m_cpu_ns;
    std::vector<std::thread> m_threads;
};

// One timed rep: its figure (the wall time, or what the workload measured itself) and the
// process CPU time over it.
struct Sample {
    double figure_s = 0;    // per call
    double cpu_s = 0;       // per call
    std::size_t calls = 1;  // calls the rep made (calls_per_rep); figure_s * calls: its wall time
};

// How many back-to-back calls make a rep of at least `rep_s` seconds, given one call's time
// `call_s` (the last warm-up rep): 1 when either is 0, at most k_max_calls_per_rep. A pool
// whose rep is one short call measures its workers' futex wake-up as much as its work: every
// rep follows a settle sleep (run_series), so its workers are asleep when it starts; in a run of
// calls only the first pays that, the others find the workers still looking for work, as back-
// to-back parallel calls in a program do. The wake-up itself is what `wakeup` measures.
constexpr std::size_t k_max_calls_per_rep = 1000;
inline std::size_t calls_per_rep(double rep_s, double call_s) {
    if (!(rep_s > 0) || !(call_s > 0))
        return 1;
    const double k = std::ceil(rep_s / call_s);  // >= 1: both are > 0
    return k >= static_cast<double>(k_max_calls_per_rep) ? k_max_calls_per_rep
                                                         : static_cast<std::size_t>(k);
}

// Times one rep: start() just before it, stop() just after.
class RepClock {
public:
    void start() {
        m_c0 = cpu_seconds() - KeepAwake::spin_cpu_seconds();
        m_t0 = std::chrono::steady_clock::now();
    }
    Sample stop() {
        const auto t1 = std::chrono::steady_clock::now();
        const double c1 = cpu_seconds() - KeepAwake::spin_cpu_seconds();
        Sample s;
        s.figure_s = std::chrono::duration<double>(t1 - m_t0).count();
        s.cpu_s = c1 - m_c0;
        return s;
    }

private:
    double m_c0 = 0;
    std::chrono::steady_clock::time_point m_t0{};
};

struct SeriesOptions {
    std::size_t reps = 7;
    std::size_t warmup = 1;
    double max_time = 0;  // stop after k_min_reps+ reps once the T-worker reps took this long
    std::size_t threads = 1;
    // Called once, after the warm-up and before the first timed rep (a stats snapshot).
    std::function<void()> before_timed;
    // Called once after the warm-up with its last T-worker rep (when there was a warm-up),
    // before before_timed: measure() sets its calls per rep from it.
    std::function<void(const Sample&)> after_warmup;
};

// What a system adds to its run: a callback after the warm-up (a stats snapshot) and extra JSON
// fields (each with a leading comma) for its line.
struct Hooks {
    std::function<void()> before_timed;
    std::function<std::string()> extra_json;
};

struct Series {
    // kernel: the workload's serial version for the capacity probe (CapacityProbe), or empty.
    explicit Series(std::size_t threads, std::function<std::uint64_t()> kernel = {})
        : probe(threads, std::move(kernel)) {}
    std::vector<Sample> reps;       // the T-worker reps
    std::vector<Sample> base_reps;  // the interleaved 1-worker reps (may be empty)
    CapacityProbe probe;
    bool keep_awake = false;  // the run kept every CPU out of idle (KeepAwake)
    bool pinned_workers = pin_workers_requested();  // worker i on allowed CPU i

    static std::vector<double> figures(const std::vector<Sample>& v) {
        std::vector<double> out;
        out.reserve(v.size());
        for (const Sample& s : v)
            out.push_back(s.figure_s);
        return out;
    }
    std::vector<double> times() const { return figures(reps); }
    std::vector<double> cpus() const {
        std::vector<double> out;
        out.reserve(reps.size());
        for (const Sample& s : reps)
            out.push_back(s.cpu_s);
        return out;
    }
    double speedup() const {
        return base_reps.empty() ? 0 : median_of(figures(base_reps)) / median_of(times());
    }
    double efficiency() const {
        const double cap = probe.capacity();
        return (base_reps.empty() || !(cap > 0)) ? 0 : speedup() / cap;
    }
    // Why the run is flagged ("" if it is not): capacity, share, joined by '+'.
    std::string flag_reasons() const {
        std::string r;
        auto add = [&](const char* why) {
            if (!r.empty())
                r += "+";
            r += why;
        };
        if (probe.low_capacity())
            add("capacity");
        if (probe.low_share())
            add("share");
        return r;
    }

    // JSON fields (each with a leading comma): probe figures, the 1-worker reps,
    // speed-up and efficiency when there are any, and the flag.
    std::string json() const {
        std::string out = probe.json();
        char buf[160];
        if (!base_reps.empty()) {
            out += ",\"base_threads\":1,\"base_times_s\":";
            out += json_list(figures(base_reps));
            std::snprintf(buf, sizeof buf,
                          ",\"base_median_s\":%.9f,\"speedup\":%.4f,"
                          "\"efficiency\":%.4f",
                          median_of(figures(base_reps)), speedup(), efficiency());
            out += buf;
        }
        out += keep_awake ? ",\"keep_awake\":true" : ",\"keep_awake\":false";
        out += pinned_workers ? ",\"pinned_workers\":true" : ",\"pinned_workers\":false";
        const std::string why = flag_reasons();
        out += why.empty() ? ",\"flagged\":false"
                           : ",\"flagged\":true,\"flag_reasons\":\"" + why + "\"";
        return out;
    }
};

// Runs the warm-up and the timed reps of one system. `rep` runs one rep on the T-worker pool
// (resetting, timing and checking it itself) and returns its sample; `base`, when set, one rep on
// the 1-worker pool. With `base` (T > 1): warm-up base, rep; probe; then rounds of
// base, settle, rep, probe. Without: probe, warm-up, reps back to back, probe (after a longer
// settle: tbb and omp threads may still spin).
inline void run_series(Series& s,
                       const SeriesOptions& o,
                       const std::function<Sample()>& rep,
                       const std::function<Sample()>& base) {
    const KeepAwake awake;
    s.keep_awake = awake.on();
    auto stop = [&] {
        double t = 0;
        for (const Sample& r : s.reps)
            t += r.figure_s * static_cast<double>(r.calls);
        return o.max_time > 0 && s.reps.size() >= k_min_reps && t >= o.max_time;
    };
    Sample last;  // the last warm-up rep on the T-worker pool
    if (!base) {
        s.probe.probe();
        for (std::size_t i = 0; i < o.warmup; ++i)
            last = rep();
        if (o.warmup > 0 && o.after_warmup)
            o.after_warmup(last);
        if (o.before_timed)
            o.before_timed();
        for (std::size_t i = 0; i < o.reps; ++i) {
            s.reps.push_back(rep());
            if (stop())
                break;
        }
        s.probe.probe(k_settle_long);
        return;
    }
    for (std::size_t i = 0; i < o.warmup; ++i) {
        base();
        std::this_thread::sleep_for(k_settle);
        last = rep();
    }
    if (o.warmup > 0 && o.after_warmup)
        o.after_warmup(last);
    s.probe.probe();
    if (o.before_timed)
        o.before_timed();
    for (std::size_t i = 0; i < o.reps; ++i) {
        s.base_reps.push_back(base());
        std::this_thread::sleep_for(k_settle);
        s.reps.push_back(rep());
        s.probe.probe();
        if (stop())
            break;
    }
}

}  // namespace bench
