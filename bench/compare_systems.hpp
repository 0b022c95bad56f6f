// The C++ systems of the side-by-side benchmarks besides spindle: oneTBB and OpenMP tasks, plus
// fork primitives with one shape for every system, so a kernel written once as a template over
// the fork policy is the same algorithm on serial, spindle, TBB and OpenMP (bench/README.md,
// "Fairness").
//
// Optional systems: the CMake glue defines SPINDLE_BENCH_HAVE_TBB=1 when oneTBB was found (and
// links it); OpenMP is on when the compiler ran with -fopenmp (`_OPENMP`). Without them the
// system names still parse, `system_available()` says false and the programs exit with status 3
// and a line saying so (scripts/bench.sh asks `--list-systems` first and skips them).
//
// Thread counts and the calling thread (the same rule everywhere in bench/README.md):
//   spindle  ThreadPool{num_threads = T} + install(): T workers, the caller blocks.
//   tbb      global_control(max_allowed_parallelism, T) + task_arena(T).execute(): the caller
//            joins the arena and works, with T-1 TBB workers.
//   omp      omp_set_num_threads(T) + `parallel` + `single`: the caller is the team's master and
//            works, with T-1 team threads.
// So every system has exactly T threads that run tasks.
#pragma once

#include "compare_common.hpp"

#include <spindle/spindle.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#if SPINDLE_BENCH_HAVE_TBB
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#include <oneapi/tbb/task_scheduler_observer.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

namespace bench {

enum class System { serial, spindle, tbb, omp };

inline const char* system_name(System s) {
    switch (s) {
        case System::serial:
            return "serial";
        case System::spindle:
            return "spindle";
        case System::tbb:
            return "tbb";
        case System::omp:
            return "omp";
    }
    return "?";
}

inline bool parse_system(std::string_view s, System& out) {
    for (System c : {System::serial, System::spindle, System::tbb, System::omp}) {
        if (s == system_name(c)) {
            out = c;
            return true;
        }
    }
    return false;
}

inline bool system_available(System s) {
    switch (s) {
        case System::tbb:
#if SPINDLE_BENCH_HAVE_TBB
            return true;
#else
            return false;
#endif
        case System::omp:
#ifdef _OPENMP
            return true;
#else
            return false;
#endif
        default:
            return true;
    }
}

// Exit status 3: the system was not compiled in.
[[noreturn]] inline void unavailable_exit(const char* prog, System s) {
    std::fprintf(stderr, "%s: system %s is not available in this build (%s)\n", prog,
                 system_name(s),
                 s == System::tbb ? "oneTBB not found: apt install libtbb-dev, then rebuild"
                                  : "compiler without OpenMP");
    std::exit(3);
}

// ---------------------------------------------------------------------------------------------
// Fork policies: join2(a, b) runs a and b, maybe in parallel (b is the one offered to thieves,
// a runs inline, then sync); for_each_child(k, f) runs f(0..k-1), one task per child (the shape
// of spindle::scope / rayon::scope with one spawn per child), and waits for all.

struct SerialFork {
    template <class A, class B>
    static void join2(A&& a, B&& b) {
        a();
        b();
    }
    template <class F>
    static void for_each_child(std::size_t k, F&& f) {
        for (std::size_t i = 0; i < k; ++i)
            f(i);
    }
};

struct SpindleFork {
    template <class A, class B>
    static void join2(A&& a, B&& b) {
        spindle::join([&] { a(); }, [&] { b(); });
    }
    template <class F>
    static void for_each_child(std::size_t k, F&& f) {
        spindle::scope([&](spindle::Scope& s) {
            for (std::size_t i = 0; i < k; ++i)
                s.spawn([&f, i] { f(i); });
        });
    }
};

#if SPINDLE_BENCH_HAVE_TBB
struct TbbFork {
    template <class A, class B>
    static void join2(A&& a, B&& b) {
        tbb::task_group g;
        g.run([&b] { b(); });
        a();
        g.wait();
    }
    template <class F>
    static void for_each_child(std::size_t k, F&& f) {
        tbb::task_group g;
        for (std::size_t i = 0; i < k; ++i)
            g.run([&f, i] { f(i); });
        g.wait();
    }
};

// Pins each TBB worker that enters an arena to the CPU of its slot: slot k on cpus[k mod size]
// (the benchmark's pinned workers, bench/capacity.hpp), once per worker and CPU; a worker serves
// only this arena. The calling thread, slot 0 when it works, is pinned by the harness around the
// whole series (ScopedPin), not here on every entry.
class TbbPinObserver : public tbb::task_scheduler_observer {
public:
    TbbPinObserver(tbb::task_arena& arena, std::vector<int> cpus)
        : tbb::task_scheduler_observer(arena), m_cpus(std::move(cpus)) {
        observe(true);
    }
    ~TbbPinObserver() override { observe(false); }
    TbbPinObserver(const TbbPinObserver&) = delete;
    TbbPinObserver& operator=(const TbbPinObserver&) = delete;

    void on_scheduler_entry(bool is_worker) override {
        const int slot = tbb::this_task_arena::current_thread_index();
        if (!is_worker || slot < 0 || m_cpus.empty())
            return;
        thread_local int t_pinned = -1;  // the CPU this worker was pinned to, -1: none yet
        const int cpu = m_cpus[static_cast<std::size_t>(slot) % m_cpus.size()];
        if (cpu != t_pinned && pin_this_thread(cpu))
            t_pinned = cpu;
    }

private:
    std::vector<int> m_cpus;
};

// One per measured system run, built before the timed region. `pin_cpus`: pin the arena's slot
// k to pin_cpus[k] (TbbPinObserver); empty: leave the threads where the kernel puts them.
class TbbContext {
public:
    explicit TbbContext(std::size_t threads,
                        bool caller_works = true,
                        std::vector<int> pin_cpus = {})
        : m_limit(tbb::global_control::max_allowed_parallelism,
                  caller_works ? threads : threads + 1),
          m_arena(static_cast<int>(threads), caller_works ? 1u : 0u) {
        m_arena.initialize();
        if (!pin_cpus.empty())
            m_pin.emplace(m_arena, std::move(pin_cpus));
    }
    template <class F>
    auto run(F&& f) {
        return m_arena.execute(f);
    }
    tbb::task_arena& arena() { return m_arena; }

private:
    tbb::global_control m_limit;
    tbb::task_arena m_arena;
    std::optional<TbbPinObserver> m_pin;
};
#endif

#ifdef _OPENMP
// Tied tasks (OpenMP's default); `if` clauses are not used: cutoffs are in the kernels, the same
// for every system.
struct OmpFork {
    template <class A, class B>
    static void join2(A&& a, B&& b) {
        auto* pb = &b;
#pragma omp task firstprivate(pb)
        (*pb)();
        a();
#pragma omp taskwait
    }
    template <class F>
    static void for_each_child(std::size_t k, F&& f) {
        auto* pf = &f;
        for (std::size_t i = 0; i < k; ++i) {
#pragma omp task firstprivate(pf, i)
            (*pf)(i);
        }
#pragma omp taskwait
    }
};

// Pins OpenMP's team threads as the benchmark pins every pool's workers (bench/capacity.hpp):
// libgomp keeps its team threads between regions, member k of the next team of the same size
// being the same thread, and a thread keeps its affinity; so one region of member_cpus.size()
// threads run before the timed calls pins member k > 0 to member_cpus[k] (none if it is < 0)
// for the regions after it. Member 0, the calling thread, is left alone here (the harness pins
// it around the series, ScopedPin). OMP_PROC_BIND is not used: libgomp would bind the initial
// thread at start-up, before the benchmark reads the process's CPUs. Empty: does nothing.
inline void omp_pin_team(const std::vector<int>& member_cpus) {
    if (member_cpus.empty())
        return;
#pragma omp parallel num_threads(static_cast <int>(member_cpus.size()))
    {
        const auto k = static_cast<std::size_t>(omp_get_thread_num());
        if (k > 0 && k < member_cpus.size() && member_cpus[k] >= 0)
            pin_this_thread(member_cpus[k]);
    }
}

// Runs f (which creates tasks with OmpFork) in a team of `threads`; the caller is the master.
template <class F>
auto omp_run_tasks(std::size_t threads, F&& f) -> std::invoke_result_t<F&> {
    std::invoke_result_t<F&> r{};
#pragma omp parallel num_threads(static_cast <int>(threads))
#pragma omp single
    r = f();
    return r;
}
#endif

}  // namespace bench
