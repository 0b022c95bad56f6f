// The one harness of the side-by-side C++ program, bench_compare (bench/compare.cpp, one file per
// workload under bench/workloads/): the input generator (SplitMix64), the option parser, the
// measured series of one system and its JSON line, and the per-system glue (a spindle pool with
// its 1-worker twin, a oneTBB arena, an OpenMP team). Each workload describes itself
// (WorkloadSpec: name, size, systems, switches, its run function) and hands each system's body to
// measure_systems / measure / measure_spindle; the program lists them (ProgramSpec) and
// run_main parses the arguments (parse_args) and runs the one named. Header-only.
//
// The CLI and the JSON lines are the rayon binary's (bench/rayon):
//   bench_compare <workload> --n N --threads T --reps R [--warmup W] [--max-time S] [--rep-ms M]
//        [--system serial|spindle|tbb|omp|all] [--list-systems] [workload switches]
// (`bench_compare <workload> --help` and `--list-systems` answer for that workload; without one,
// for the whole program); one line per (workload, system, threads):
// {"workload":"fib","system":"spindle","lang":"cpp","threads":2,"n":30,"reps":7,"warmup":1,
//  "calls_per_rep":4,"times_s":[...],"median_s":..,"min_s":..,"max_s":..,"cpu_s":[...],
//  "cpu_median_s":..,"peak_rss_kb":..,"result":832040,<capacity fields, stats>,
//  "compiler":"gcc 12.2.0","checked":true}
// Exit status: 0 if every result checked, 1 if a result was wrong (or a system threw), 2 on usage
// errors, 3 if the requested system is not compiled in (bench/compare_systems.hpp).
//
// Fairness (bench/README.md): pools are built before the timed region and the warm-up reps
// absorb thread start-up and first touch; spindle's body runs on a pool worker via install()
// while the calling thread blocks (as rayon's ThreadPool::install from outside the pool).
#pragma once

#include "capacity.hpp"
#include "compare_common.hpp"
#include "compare_systems.hpp"
#include "spindle_stats.hpp"

#include <spindle/pool.hpp>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bench {

// ---------------------------------------------------------------------------------------------
// Input generator: splitmix64, identical to bench/rayon/src/workloads/data.rs.

constexpr std::uint64_t k_golden = 0x9E3779B97F4A7C15ull;

inline std::uint64_t mix64(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct SplitMix64 {
    std::uint64_t state;
    std::uint64_t next_u64() {
        state += k_golden;
        return mix64(state);
    }
    std::uint32_t next_u32() { return static_cast<std::uint32_t>(next_u64() >> 32); }
};

// ---------------------------------------------------------------------------------------------
// CLI.

// A workload's own boolean switch (fib's --context, query_graph's --blocking-section) and its
// help lines.
struct Switch {
    const char* flag;
    const char* help;
};

struct Args;

// One workload of the program (bench/workloads/<name>.cpp): its name, size, systems, switches and
// the function that measures it.
struct WorkloadSpec {
    const char* name;
    std::uint64_t default_n;
    // "" when n is acceptable, else the usage error; null: any n.
    std::string (*check_n)(std::uint64_t n) = nullptr;
    const char* n_help = "";  // the usage's "--n" text for this workload
    std::vector<System> systems{System::serial, System::spindle, System::tbb, System::omp};
    std::vector<Switch> switches;
    bool max_time = true;  // accepts --max-time
    // Measures every selected system; returns whether every result checked.
    bool (*run)(const Args& args) = nullptr;
};

struct ProgramSpec {
    const char* prog;  // "bench_compare": messages and usage
    std::vector<WorkloadSpec> workloads;
};

struct Args {
    const char* prog = "";
    std::string workload;
    const WorkloadSpec* spec = nullptr;  // the workload's entry in the ProgramSpec
    std::uint64_t n = 0;
    std::size_t threads = 0;
    std::size_t reps = 7;
    std::size_t warmup = 1;
    double max_time = 0;          // --max-time: stop after 3+ reps once the timed total passes it
    double rep_ms = 10;           // --rep-ms: a rep is calls back to back for at least this long
    std::vector<System> systems;  // to run, in order
    std::vector<std::string> switches;

    bool has(std::string_view flag) const {
        return std::find(switches.begin(), switches.end(), flag) != switches.end();
    }
};

// What the usage shows: one workload's systems, switches and --n (`w`), or the whole program's
// (null: every workload, the systems and switches of any).
struct UsageView {
    std::vector<System> systems;
    std::vector<Switch> switches;
    bool max_time = false;
};

inline UsageView usage_view(const ProgramSpec& p, const WorkloadSpec* w) {
    if (w != nullptr)
        return {w->systems, w->switches, w->max_time};
    UsageView v;
    for (System s : {System::serial, System::spindle, System::tbb, System::omp}) {
        if (std::any_of(p.workloads.begin(), p.workloads.end(), [&](const WorkloadSpec& x) {
                return std::find(x.systems.begin(), x.systems.end(), s) != x.systems.end();
            }))
            v.systems.push_back(s);
    }
    for (const WorkloadSpec& x : p.workloads) {
        v.switches.insert(v.switches.end(), x.switches.begin(), x.switches.end());
        v.max_time = v.max_time || x.max_time;
    }
    return v;
}

inline std::string usage_text(const ProgramSpec& p, const WorkloadSpec* w = nullptr) {
    const UsageView v = usage_view(p, w);
    std::string sys, sys_words;
    for (std::size_t i = 0; i < v.systems.size(); ++i) {
        sys += system_name(v.systems[i]);
        sys += "|";
        sys_words += system_name(v.systems[i]);
        sys_words += i + 2 < v.systems.size() ? ", " : (i + 2 == v.systems.size() ? " or " : "");
    }
    std::string u = std::string("usage: ") + p.prog +
                    " <workload> --n N --threads T --reps R [--warmup W]\n       [--system " + sys +
                    "all] [--list-systems]";
    for (const Switch& s : v.switches)
        u += std::string(" [") + s.flag + "]";
    std::string names, n_lines;
    if (w != nullptr) {
        names = w->name;
        n_lines = std::string("  --n        ") + w->n_help + "\n";
    } else {
        n_lines = "  --n        problem size, per workload:\n";
        std::size_t line = 0;  // the width of names' last line
        for (const WorkloadSpec& x : p.workloads) {
            const std::string sep = names.empty()                     ? ""
                                    : line + std::strlen(x.name) > 76 ? " |\n             "
                                                                      : " | ";
            line = sep.size() > 3 ? std::strlen(x.name) : line + sep.size() + std::strlen(x.name);
            names += sep + x.name;
            std::string name = x.name;
            name.resize(13, ' ');
            n_lines += "               " + name + x.n_help + "\n";
        }
    }
    u += "\n  workload   " + names + "\n" + n_lines +
         "  --threads  pool size (default: available parallelism); ignored by the serial system\n"
         "  --reps     timed repetitions (default 7)\n"
         "  --warmup   untimed repetitions after pool creation (default 1)\n"
         "  --rep-ms M a rep runs the workload back to back until it lasted M ms (the count is\n"
         "             fixed after the warm-up; default 10; 0: one call per rep); times_s are per\n"
         "             call. Workloads that time themselves (wakeup, idle) make one call\n";
    if (v.max_time)
        u += "  --max-time S  stop timing once 3 or more reps took S seconds in total (default: no "
             "limit)\n";
    u += "  --system   " + sys_words +
         ", or all (default: all this build has, in that order)\n"
         "  --list-systems  print the systems this build has and exit\n";
    for (const Switch& s : v.switches)
        u += std::string("  ") + s.flag + "  " + s.help + "\n";
    if (w == nullptr)
        u += std::string("`") + p.prog +
             " <workload> --help` shows one workload's systems and switches\n";
    return u;
}

[[noreturn]] inline void usage_exit(const ProgramSpec& p,
                                    const std::string& msg,
                                    const WorkloadSpec* w = nullptr) {
    if (!msg.empty())
        std::fprintf(stderr, "%s: %s\n", p.prog, msg.c_str());
    std::fputs(usage_text(p, w).c_str(), stderr);
    std::exit(2);
}

inline Args parse_args(const ProgramSpec& p, int argc, char** argv) {
    Args a;
    a.prog = p.prog;
    bool have_workload = false, have_n = false, have_max_time = false;
    bool want_help = false, want_list = false;
    std::string system = "all";
    const UsageView any = usage_view(p, nullptr);
    auto parse_u64 = [&](const std::string& flag, const char* s) -> std::uint64_t {
        if (s == nullptr)
            usage_exit(p, flag + " needs a value");
        char* end = nullptr;
        errno = 0;
        const unsigned long long v = std::strtoull(s, &end, 10);
        if (*s == '\0' || *s == '-' || end == nullptr || *end != '\0' || errno != 0)
            usage_exit(p, flag + ": not a number: " + s);
        return static_cast<std::uint64_t>(v);
    };
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        std::string flag = arg, inline_value;
        bool has_inline = false;
        if (arg.rfind("--", 0) == 0) {
            const auto eq = arg.find('=');
            if (eq != std::string::npos) {
                flag = arg.substr(0, eq);
                inline_value = arg.substr(eq + 1);
                has_inline = true;
            }
        }
        auto value = [&]() -> const char* {
            if (has_inline)
                return inline_value.c_str();
            return (i + 1 < argc) ? argv[++i] : nullptr;
        };
        const bool is_switch = std::any_of(any.switches.begin(), any.switches.end(),
                                           [&](const Switch& s) { return flag == s.flag; });
        if (flag == "--n") {
            a.n = parse_u64(flag, value());
            have_n = true;
        } else if (flag == "--threads") {
            a.threads = static_cast<std::size_t>(parse_u64(flag, value()));
        } else if (flag == "--reps") {
            a.reps = static_cast<std::size_t>(parse_u64(flag, value()));
        } else if (flag == "--max-time" && any.max_time) {
            const char* v = value();
            char* end = nullptr;
            a.max_time = v ? std::strtod(v, &end) : -1;
            if (v == nullptr || *v == '\0' || *end != '\0' || !(a.max_time >= 0))
                usage_exit(p, "--max-time needs a number of seconds >= 0");
            have_max_time = true;
        } else if (flag == "--rep-ms") {
            const char* v = value();
            char* end = nullptr;
            a.rep_ms = v ? std::strtod(v, &end) : -1;
            if (v == nullptr || *v == '\0' || *end != '\0' || !(a.rep_ms >= 0) || a.rep_ms > 1e6)
                usage_exit(p, "--rep-ms needs a number of milliseconds in [0, 1e6]");
        } else if (flag == "--warmup") {
            a.warmup = static_cast<std::size_t>(parse_u64(flag, value()));
        } else if (flag == "--system") {
            const char* v = value();
            system = v ? v : "";
        } else if (flag == "--list-systems") {
            want_list = true;
        } else if (is_switch) {
            a.switches.push_back(flag);
        } else if (flag == "-h" || flag == "--help") {
            want_help = true;
        } else if (!flag.empty() && flag[0] == '-') {
            usage_exit(p, "unknown option " + flag);
        } else {
            if (have_workload)
                usage_exit(p, "unexpected argument " + arg);
            a.workload = arg;
            have_workload = true;
        }
    }
    const auto w = std::find_if(p.workloads.begin(), p.workloads.end(),
                                [&](const WorkloadSpec& s) { return a.workload == s.name; });
    const WorkloadSpec* ws = w == p.workloads.end() ? nullptr : &*w;
    // --help and --list-systems: the named workload's, else the whole program's.
    if (want_help) {
        std::fputs(usage_text(p, ws).c_str(), stdout);
        std::exit(0);
    }
    if (want_list) {
        const char* sep = "";
        for (System s : ws != nullptr ? ws->systems : any.systems) {
            if (system_available(s)) {
                std::printf("%s%s", sep, system_name(s));
                sep = " ";
            }
        }
        std::printf("\n");
        std::exit(0);
    }
    if (!have_workload)
        usage_exit(p, "missing workload");
    if (ws == nullptr)
        usage_exit(p, "unknown workload " + a.workload);
    a.spec = ws;
    for (const std::string& flag : a.switches) {
        if (std::none_of(ws->switches.begin(), ws->switches.end(),
                         [&](const Switch& s) { return flag == s.flag; }))
            usage_exit(p, "unknown option " + flag + " for " + a.workload, ws);
    }
    if (have_max_time && !ws->max_time)
        usage_exit(p, "unknown option --max-time for " + a.workload, ws);
    if (system == "all") {
        for (System s : ws->systems)
            if (system_available(s))
                a.systems.push_back(s);
    } else {
        System s{};
        if (!parse_system(system, s) ||
            std::find(ws->systems.begin(), ws->systems.end(), s) == ws->systems.end())
            usage_exit(p, "unknown --system " + system, ws);
        if (!system_available(s))
            unavailable_exit(p.prog, s);
        a.systems.push_back(s);
    }
    if (a.reps == 0)
        usage_exit(p, "--reps must be >= 1", ws);
    if (!have_n)
        a.n = ws->default_n;
    if (ws->check_n != nullptr) {
        const std::string why = ws->check_n(a.n);
        if (!why.empty())
            usage_exit(p, a.workload + ": " + why, ws);
    }
    if (a.threads == 0)
        a.threads = available_parallelism();
    return a;
}

// ---------------------------------------------------------------------------------------------
// One system's series and its JSON line.

using Body = std::function<std::uint64_t()>;

// What the harness needs of a workload around its reps.
struct RepSpec {
    std::uint64_t n = 0;                       // the size reported in the JSON line
    std::function<void()> reset;               // untimed, before every rep (may be empty)
    std::function<bool(std::uint64_t)> check;  // untimed, after every rep
    // The rep's figure when the workload times itself (wakeup's latency); < 0: the wall time.
    std::function<double()> self_time;
    // The serial version for the capacity probe (bench/capacity.hpp), when T threads may run it
    // at once; empty: the probe's integer kernel.
    Body probe_kernel;
};

// A workload whose result is one known value.
inline RepSpec expect_value(std::uint64_t n, std::uint64_t expected, Body probe_kernel = {}) {
    RepSpec w;
    w.n = n;
    w.check = [expected](std::uint64_t r) { return r == expected; };
    w.probe_kernel = std::move(probe_kernel);
    return w;
}

// A workload object with n(), reset(), check(r) and probe_kernel().
template <class W>
RepSpec rep_spec(W& w) {
    RepSpec s;
    s.n = static_cast<std::uint64_t>(w.n());
    s.reset = [&w] { w.reset(); };
    s.check = [&w](std::uint64_t r) { return w.check(r); };
    s.probe_kernel = w.probe_kernel();
    return s;
}

// Runs warm-up + timed reps of one system (bench/capacity.hpp's run_series) and prints its JSON
// line; returns whether every result checked. With `base_run` (T > 1: the same body on a
// 1-worker pool of the same system) the 1-worker and T-worker reps alternate, with a capacity
// probe after each pair; `hooks` add a stats snapshot and fields (the pool's counters).
inline bool measure(const Args& args,
                    const RepSpec& w,
                    const char* system,
                    std::size_t threads,
                    const Body& run,
                    const Body& base_run = {},
                    const Hooks& hooks = {}) {
    bool checked = true;
    std::uint64_t result = 0;
    // Calls per rep (bench::calls_per_rep): 1 for the warm-up, then fixed from its last T-worker
    // rep, the same for the 1-worker reps so that both time the same sequence.
    std::size_t calls = 1;
    auto call = [&](const Body& f) {
        if (w.reset)
            w.reset();
        RepClock clock;
        clock.start();
        const std::uint64_t r = f();
        Sample sample = clock.stop();
        if (!w.check(r))
            checked = false;
        result = r;
        if (w.self_time) {
            const double self = w.self_time();
            if (self >= 0)
                sample.figure_s = self;
        }
        return sample;
    };
    auto timed = [&](const Body& f) {
        Sample sum;
        for (std::size_t i = 0; i < calls; ++i) {
            const Sample one = call(f);
            sum.figure_s += one.figure_s;
            sum.cpu_s += one.cpu_s;
        }
        sum.figure_s /= static_cast<double>(calls);
        sum.cpu_s /= static_cast<double>(calls);
        sum.calls = calls;
        return sum;
    };
    Series s(threads, w.probe_kernel);
    std::function<Sample()> base;
    if (base_run)
        base = [&] { return timed(base_run); };
    SeriesOptions o;
    o.reps = args.reps;
    o.warmup = args.warmup;
    o.max_time = args.max_time;
    o.threads = threads;
    o.before_timed = hooks.before_timed;
    if (!w.self_time)
        o.after_warmup = [&](const Sample& last) {
            calls = calls_per_rep(args.rep_ms * 1e-3, last.figure_s);
        };
    run_series(
        s, o, [&] { return timed(run); }, base);
    const std::vector<double> times = s.times(), cpus = s.cpus();
    std::vector<double> st = times, sc = cpus;
    std::sort(st.begin(), st.end());
    std::sort(sc.begin(), sc.end());
    std::printf(
        "{\"workload\":\"%s\",\"system\":\"%s\",\"lang\":\"cpp\",\"threads\":%zu,\"n\":%" PRIu64
        ",\"reps\":%zu,\"warmup\":%zu,\"calls_per_rep\":%zu,\"times_s\":%s,\"median_s\":%.9f,"
        "\"min_s\":%.9f,\"max_s\":%.9f,\"cpu_s\":%s,\"cpu_median_s\":%.9f,\"peak_rss_kb\":%ld,"
        "\"result\":%" PRIu64 "%s%s,\"compiler\":\"%s\",\"checked\":%s}\n",
        args.workload.c_str(), system, threads, w.n, times.size(), args.warmup, calls,
        json_list(times).c_str(), median_of_sorted(st), st.front(), st.back(),
        json_list(cpus).c_str(), median_of_sorted(sc), peak_rss_kb(), result, s.json().c_str(),
        hooks.extra_json ? hooks.extra_json().c_str() : "", compiler_string(),
        checked ? "true" : "false");
    std::fflush(stdout);
    if (!checked) {
        std::fprintf(stderr, "%s: %s %s threads=%zu: WRONG RESULT (last %" PRIu64 ")\n", args.prog,
                     args.workload.c_str(), system, threads, result);
    }
    return checked;
}

// spindle: a pool of args.threads workers and, for T > 1 with `with_base`, a 1-worker pool beside
// it whose reps alternate with its (bench/capacity.hpp); `run(pool)` runs one rep on a pool. The
// pools' counters over the timed reps go into the line (bench/spindle_stats.hpp).
inline bool measure_spindle(const Args& args,
                            const RepSpec& w,
                            const char* system,
                            const std::function<std::uint64_t(spindle::ThreadPool&)>& run,
                            bool with_base = true) {
    // Pinned workers (bench/capacity.hpp, worker_cpus): worker i on allowed CPU i, the 1-worker
    // pool's worker on the first, as the probe's threads. A SPINDLE_PLACEMENT plan (bench.sh
    // --placement) wins, and a SPINDLE_TOPOLOGY machine (--topology) keeps the default plan, so
    // its steal table shows the victim order of Placement::none().
    const bool pin = pin_workers_requested() && std::getenv("SPINDLE_PLACEMENT") == nullptr &&
                     std::getenv("SPINDLE_TOPOLOGY") == nullptr;
    auto pinned = [](std::size_t workers) {
        const std::vector<int> cpus = worker_cpus(workers);
        return spindle::Placement::cpus(std::vector<unsigned>(cpus.begin(), cpus.end()));
    };
    spindle::PoolOptions opts;
    opts.num_threads = args.threads;
    if (pin)
        opts.placement = pinned(args.threads);
    spindle::ThreadPool pool(opts);
    spindle::PoolStats stats0;  // the counters after the warm-up
    std::optional<spindle::ThreadPool> base_pool;
    Body base_run;
    if (with_base && args.threads > 1) {
        spindle::PoolOptions base_opts;
        base_opts.num_threads = 1;
        if (pin)
            base_opts.placement = pinned(1);
        base_pool.emplace(base_opts);
        base_run = [&] { return run(*base_pool); };
    }
    return measure(
        args, w, system, args.threads, [&] { return run(pool); }, base_run,
        stats_hooks(pool, stats0));
}

// The bodies of a workload on each system. spindle's runs on a pool worker (install: the caller
// blocks), tbb's inside a task_arena of T (the caller works, bench/compare_systems.hpp); omp's
// either makes its own team (`omp`, given the thread count) or creates tasks inside a team of T
// whose master runs it (`omp_tasks`, bench::omp_run_tasks).
struct Bodies {
    Body serial;
    Body spindle;
    Body tbb;
    Body omp_tasks;
    std::function<std::uint64_t(std::size_t threads)> omp;
    const char* spindle_name = "spindle";
};

// The bodies of a kernel written once over the fork policy (bench/compare_systems.hpp):
// `kernel.template operator()<Fork>()` for SerialFork, SpindleFork, TbbFork and OmpFork. A
// workload may then replace the serial or spindle body with a hand-written one.
template <class Kernel>
Bodies fork_bodies(Kernel kernel) {
    Bodies b;
    b.serial = [kernel] { return kernel.template operator()<SerialFork>(); };
    b.spindle = [kernel] { return kernel.template operator()<SpindleFork>(); };
#if SPINDLE_BENCH_HAVE_TBB
    b.tbb = [kernel] { return kernel.template operator()<TbbFork>(); };
#endif
#ifdef _OPENMP
    b.omp_tasks = [kernel] { return kernel.template operator()<OmpFork>(); };
#endif
    return b;
}

// Every selected system in turn (serial, spindle, tbb, omp); returns whether all checked.
inline bool measure_systems(const Args& args, const RepSpec& w, const Bodies& b) {
    bool ok = true;
    for (System sys : args.systems) {
        bool r = true;
        switch (sys) {
            case System::serial:
                r = measure(args, w, "serial", 1, b.serial);
                break;
            case System::spindle:
                r = measure_spindle(args, w, b.spindle_name, [&](spindle::ThreadPool& pool) {
                    return pool.install(b.spindle);
                });
                break;
            case System::tbb: {
#if SPINDLE_BENCH_HAVE_TBB
                // Pinned workers: the arena's slot k on worker CPU k (TbbPinObserver), the
                // caller, slot 0, for the whole series.
                const std::vector<int> cpus = worker_cpus(args.threads);
                const ScopedPin caller(cpus.empty() ? -1 : cpus[0]);
                TbbContext ctx(args.threads, /*caller_works=*/true, cpus);
                r = measure(args, w, "tbb", args.threads, [&] { return ctx.run(b.tbb); });
#endif
                break;
            }
            case System::omp: {
#ifdef _OPENMP
                const std::size_t t = args.threads;
                // Pinned workers: team member k on worker CPU k (omp_pin_team), the master for
                // the whole series.
                const std::vector<int> cpus = worker_cpus(t);
                omp_pin_team(cpus);
                const ScopedPin master(cpus.empty() ? -1 : cpus[0]);
                r = measure(args, w, "omp", t, [&] {
                    return b.omp ? b.omp(t) : omp_run_tasks(t, [&] { return b.omp_tasks(); });
                });
#endif
                break;
            }
        }
        ok = ok && r;
    }
    return ok;
}

// main's frame: parse, run the workload, and turn an exception into exit status 1.
inline int run_main(const ProgramSpec& p, int argc, char** argv) {
    const Args args = parse_args(p, argc, argv);
    try {
        return args.spec->run(args) ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: exception: %s\n", p.prog, e.what());
    } catch (...) {
        std::fprintf(stderr, "%s: unknown exception\n", p.prog);
    }
    return 1;
}

}  // namespace bench
