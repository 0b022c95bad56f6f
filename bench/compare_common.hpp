// Helpers of the side-by-side benchmark program (bench_compare, bench/compare.cpp, through
// bench/harness.hpp): process CPU time, peak RSS, thread count, compiler name and the JSON pieces
// of its result lines. Header-only.
#pragma once

#include <sched.h>
#include <sys/resource.h>
#include <sys/time.h>

#include <cstddef>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace bench {

// The CPUs this process may run on (sched_getaffinity), ascending; {0} if unknown. Read once, on
// the first call (before anything pins a thread: the benchmark's worker pinning starts from this
// list), so that a thread pinned later (a team's master, ScopedPin) still gets the process's.
inline const std::vector<int>& allowed_cpus() {
    static const std::vector<int> cpus = [] {
        std::vector<int> out;
#ifdef __linux__
        cpu_set_t set;
        CPU_ZERO(&set);
        if (sched_getaffinity(0, sizeof(set), &set) == 0) {
            for (int c = 0; c < CPU_SETSIZE; ++c)
                if (CPU_ISSET(c, &set))
                    out.push_back(c);
        }
#endif
        if (out.empty())
            out.push_back(0);
        return out;
    }();
    return cpus;
}

// Pins the calling thread to one CPU; false if that failed (the probe then runs unpinned).
inline bool pin_this_thread(int cpu) {
#ifdef __linux__
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) == 0;
#else
    (void)cpu;
    return false;
#endif
}

// While it lives, the calling thread runs on `cpu`; then it gets its affinity back. cpu < 0: does
// nothing. For the thread that is a team's master or an arena's caller in a pinned run
// (bench/capacity.hpp, worker_cpus), around a whole series, not each call.
class ScopedPin {
public:
    explicit ScopedPin(int cpu) {
#ifdef __linux__
        if (cpu >= 0 && sched_getaffinity(0, sizeof(m_saved), &m_saved) == 0)
            m_pinned = pin_this_thread(cpu);
#else
        (void)cpu;
#endif
    }
    ~ScopedPin() {
#ifdef __linux__
        if (m_pinned)
            sched_setaffinity(0, sizeof(m_saved), &m_saved);
#endif
    }
    ScopedPin(const ScopedPin&) = delete;
    ScopedPin& operator=(const ScopedPin&) = delete;

private:
#ifdef __linux__
    cpu_set_t m_saved{};
#endif
    bool m_pinned = false;
};

inline double cpu_seconds() {
    rusage ru{};
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0.0;
    auto tv = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
    return tv(ru.ru_utime) + tv(ru.ru_stime);
}

inline long peak_rss_kb() {
    rusage ru{};
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return ru.ru_maxrss;  // KiB on Linux
}

// Like Rust's std::thread::available_parallelism: honours the affinity mask (taskset).
inline std::size_t available_parallelism() {
#ifdef __linux__
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int c = CPU_COUNT(&set);
        if (c > 0)
            return static_cast<std::size_t>(c);
    }
#endif
    unsigned h = std::thread::hardware_concurrency();
    return h ? h : 1;
}

inline const char* compiler_string() {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#else
    return "unknown";
#endif
}

// --max-time: a system whose reps are slow stops after this many timed reps once their total
// passes the limit (the same rule for every system; "reps" in the JSON line is the real count).
constexpr std::size_t k_min_reps = 3;

inline double sum(const std::vector<double>& v) {
    double s = 0;
    for (double x : v)
        s += x;
    return s;
}

inline double median_of_sorted(const std::vector<double>& s) {
    const std::size_t k = s.size();
    return (k % 2 == 1) ? s[k / 2] : 0.5 * (s[k / 2 - 1] + s[k / 2]);
}

inline std::string json_list(const std::vector<double>& v) {
    std::string out = "[";
    char buf[64];
    for (std::size_t i = 0; i < v.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%s%.9f", i ? "," : "", v[i]);
        out += buf;
    }
    out += "]";
    return out;
}

}  // namespace bench
