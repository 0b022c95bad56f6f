// spindle side of the query-graph benchmark against rayon (bench/rayon,
// `spindle-rayon-bench query_graph`): the compiler's query system in miniature.
//
// Usage:
//   bench_query_graph query_graph --n N --threads T --reps R [--warmup W]
//                     [--system spindle|serial|all]
//
// Same CLI and same JSON output as the rayon binary: one line per (workload, system, threads).
// Exit status: 0 if every result checked, 1 if a result was wrong (or spindle threw), 2 on usage
// errors.
//
// The graph (identical on the rayon side, bench/rayon/src/workloads/query_graph.rs; every
// constant below has a twin there):
//  - N memoised queries (default 4000) in 16 layers; layer l holds queries [l*N/16, (l+1)*N/16).
//  - Each query above layer 0 depends on 4 queries (duplicates allowed) from the 3 layers below
//    it, drawn by splitmix64 seeded 0x5eed: for each dependency, layer l-1-(r % min(l,3)), then
//    an index uniform in that layer. Then 1 query in 32 is marked blocking (next() % 32 == 0).
//  - N/4 items, each with 3 root queries from the top 4 layers (same PRNG, continued).
//  - Computing query i: ask for its dependencies in parallel (one scope, one spawn per
//    dependency), then, if it is blocking, sleep 20 us (a short blocking operation, e.g. a
//    file read: it blocks the OS thread on both sides), then 2000 rounds of a 64-bit mix seeded
//    with (i+1)*0x9E3779B97F4A7C15 + the sum of the dependencies' values.
//  - The driver: one scope over the items, one spawn per item; an item's task asks for its
//    roots one after the other (each item is many callers' worth of demand: queries are shared
//    by many items and many dependants, so most requests find the query done or in flight).
//  - Result: sum over items j of (2j+1) * (sum of item j's root values), wrapping. `checked`:
//    equal to the serial system's result (a memoised depth-first evaluation, no pool).
// spindle: queries live in a spindle::QueryMap<uint32_t, uint64_t>; a request for a query in
// flight parks the fiber and the worker runs other work. rayon side: the fork's model — a
// request for a query in flight blocks the thread on a Mutex/Condvar (QueryLatch).
// The map (and the rayon side's table) is rebuilt before each rep, outside the timed region.
//
// This is a plain program with its own main (Google Benchmark's benchmark_main is not linked).

#include "capacity.hpp"
#include "compare_common.hpp"
#include "spindle_stats.hpp"

#include <spindle/query_map.hpp>
#include <spindle/spindle.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

// ---------------------------------------------------------------------------------------------
// The graph (twin: query_graph.rs).

constexpr std::uint32_t k_layers = 16;
constexpr std::uint32_t k_deps = 4;
constexpr std::uint32_t k_lookback = 3;
constexpr std::uint64_t k_block_one_in = 32;
constexpr auto k_block_time = std::chrono::microseconds(20);
constexpr std::uint32_t k_work_rounds = 2000;
constexpr std::uint32_t k_roots_per_item = 3;
constexpr std::uint32_t k_root_layers = 4;
constexpr std::uint64_t k_seed = 0x5eed;

struct SplitMix64 {
    std::uint64_t s;
    std::uint64_t next() {
        s += 0x9E3779B97F4A7C15ull;
        std::uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
};

struct Graph {
    std::uint32_t n = 0;
    std::vector<std::uint32_t>
        dep_begin;  // CSR: deps of i are deps[dep_begin[i] .. dep_begin[i+1])
    std::vector<std::uint32_t> deps;
    std::vector<std::uint8_t> blocking;
    std::vector<std::array<std::uint32_t, k_roots_per_item>> items;

    std::uint32_t dep_count(std::uint32_t i) const { return dep_begin[i + 1] - dep_begin[i]; }
    std::uint32_t dep(std::uint32_t i, std::uint32_t d) const { return deps[dep_begin[i] + d]; }
};

Graph build_graph(std::uint32_t n) {
    Graph g;
    g.n = n;
    auto start = [n](std::uint32_t l) {
        return static_cast<std::uint32_t>(std::uint64_t(l) * n / k_layers);
    };
    auto size = [&](std::uint32_t l) { return start(l + 1) - start(l); };
    SplitMix64 rng{k_seed};
    g.dep_begin.push_back(0);
    std::uint32_t layer = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        while (i >= start(layer + 1))
            ++layer;
        if (layer > 0) {
            for (std::uint32_t d = 0; d < k_deps; ++d) {
                const std::uint32_t back =
                    1 + static_cast<std::uint32_t>(rng.next() % std::min(layer, k_lookback));
                const std::uint32_t tl = layer - back;
                g.deps.push_back(start(tl) + static_cast<std::uint32_t>(rng.next() % size(tl)));
            }
        }
        g.dep_begin.push_back(static_cast<std::uint32_t>(g.deps.size()));
        g.blocking.push_back(rng.next() % k_block_one_in == 0 ? 1 : 0);
    }
    g.items.resize(n / 4);
    for (auto& roots : g.items) {
        for (std::uint32_t& r : roots) {
            const std::uint32_t tl =
                k_layers - 1 - static_cast<std::uint32_t>(rng.next() % k_root_layers);
            r = start(tl) + static_cast<std::uint32_t>(rng.next() % size(tl));
        }
    }
    return g;
}

// --blocking-section: the spindle system wraps the blocking operation in a
// spindle::BlockingSection (reported as "spindle+blocking"); the pool then wakes a spare
// worker while a worker sleeps. Off by default, so that both sides run identical code.
bool g_blocking_section = false;

// The fixed work of a query, after its dependencies' values are known.
std::uint64_t query_value(const Graph& g, std::uint32_t i, std::uint64_t dep_sum) {
    if (g.blocking[i]) {
        if (g_blocking_section)
            spindle::blocking([] { std::this_thread::sleep_for(k_block_time); }, "io");
        else
            std::this_thread::sleep_for(k_block_time);
    }
    std::uint64_t x = (std::uint64_t(i) + 1) * 0x9E3779B97F4A7C15ull + dep_sum;
    for (std::uint32_t r = 0; r < k_work_rounds; ++r) {
        x ^= x >> 29;
        x *= 0xBF58476D1CE4E5B9ull;
        x ^= x >> 32;
    }
    return x;
}

std::uint64_t combine(const std::vector<std::uint64_t>& item_results) {
    std::uint64_t sum = 0;
    for (std::size_t j = 0; j < item_results.size(); ++j)
        sum += (2 * std::uint64_t(j) + 1) * item_results[j];
    return sum;
}

// Serial baseline: memoised depth-first evaluation.
struct Serial {
    const Graph& g;
    std::vector<std::uint64_t> value;
    std::vector<std::uint8_t> known;

    std::uint64_t get(std::uint32_t i) {
        if (known[i])
            return value[i];
        std::uint64_t sum = 0;
        for (std::uint32_t d = 0; d < g.dep_count(i); ++d)
            sum += get(g.dep(i, d));
        value[i] = query_value(g, i, sum);
        known[i] = 1;
        return value[i];
    }
};

[[gnu::noinline]] std::uint64_t run_serial(const Graph& g) {
    Serial s{g, std::vector<std::uint64_t>(g.n), std::vector<std::uint8_t>(g.n)};
    std::vector<std::uint64_t> results(g.items.size());
    for (std::size_t j = 0; j < g.items.size(); ++j)
        for (std::uint32_t r : g.items[j])
            results[j] += s.get(r);
    return combine(results);
}

using Map = spindle::QueryMap<std::uint32_t, std::uint64_t>;

struct Parallel {
    const Graph& g;
    Map& map;

    std::uint64_t get(std::uint32_t i) {
        return map.get_or_compute(i, [this, i] {
            std::array<std::uint64_t, k_deps> vals{};
            const std::uint32_t k = g.dep_count(i);
            spindle::scope([&](spindle::Scope& s) {
                for (std::uint32_t d = 0; d < k; ++d)
                    s.spawn([this, &vals, i, d] { vals[d] = get(g.dep(i, d)); });
            });
            std::uint64_t sum = 0;
            for (std::uint32_t d = 0; d < k; ++d)
                sum += vals[d];
            return query_value(g, i, sum);
        });
    }

    std::uint64_t run() {
        std::vector<std::uint64_t> results(g.items.size());
        spindle::scope([&](spindle::Scope& s) {
            for (std::size_t j = 0; j < g.items.size(); ++j)
                s.spawn([this, &results, j] {
                    std::uint64_t r = 0;
                    for (std::uint32_t root : g.items[j])
                        r += get(root);
                    results[j] = r;
                });
        });
        return combine(results);
    }
};

// ---------------------------------------------------------------------------------------------
// CLI and measurement (as bench/fib_compare.cpp).

using bench::available_parallelism;
using bench::compiler_string;
using bench::json_list;
using bench::median_of_sorted;
using bench::peak_rss_kb;

constexpr const char* k_usage =
    "usage: bench_query_graph <workload> --n N --threads T --reps R [--warmup W] "
    "[--system spindle|serial|all]\n"
    "  workload   query_graph\n"
    "  --n        number of queries (at least 64; default 4000)\n"
    "  --threads  spindle pool size (default: available parallelism); ignored by the serial "
    "system\n"
    "  --reps     timed repetitions (default 7)\n"
    "  --warmup   untimed repetitions after pool creation (default 1)\n"
    "  --system   spindle, serial or all (default all: serial first, then spindle)\n"
    "  --blocking-section  spindle wraps each blocking operation in a spindle::BlockingSection\n"
    "             (system \"spindle+blocking\"; the rayon side has no equivalent)\n";

struct Args {
    std::string workload;
    std::uint64_t n = 4000;
    std::size_t threads = 0;
    std::size_t reps = 7;
    std::size_t warmup = 1;
    bool run_serial = true;
    bool run_spindle = true;
    bool blocking_section = false;
};

[[noreturn]] void usage_exit(const std::string& msg) {
    if (!msg.empty())
        std::fprintf(stderr, "bench_query_graph: %s\n", msg.c_str());
    std::fputs(k_usage, stderr);
    std::exit(2);
}

std::uint64_t parse_u64(const std::string& flag, const char* s) {
    if (s == nullptr)
        usage_exit(flag + " needs a value");
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s, &end, 10);
    if (*s == '\0' || *s == '-' || end == nullptr || *end != '\0' || errno != 0)
        usage_exit(flag + ": not a number: " + s);
    return static_cast<std::uint64_t>(v);
}

Args parse_args(int argc, char** argv) {
    Args a;
    bool have_workload = false;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        std::string flag = arg;
        std::string inline_value;
        bool has_inline = false;
        if (arg.rfind("--", 0) == 0) {
            auto eq = arg.find('=');
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
        if (flag == "--n") {
            a.n = parse_u64(flag, value());
        } else if (flag == "--threads") {
            a.threads = static_cast<std::size_t>(parse_u64(flag, value()));
        } else if (flag == "--reps") {
            a.reps = static_cast<std::size_t>(parse_u64(flag, value()));
        } else if (flag == "--warmup") {
            a.warmup = static_cast<std::size_t>(parse_u64(flag, value()));
        } else if (flag == "--system") {
            const char* v = value();
            std::string_view s = v ? v : "";
            if (s == "spindle") {
                a.run_serial = false;
                a.run_spindle = true;
            } else if (s == "serial") {
                a.run_serial = true;
                a.run_spindle = false;
            } else if (s == "all") {
                a.run_serial = a.run_spindle = true;
            } else {
                usage_exit("unknown --system " + std::string(s));
            }
        } else if (flag == "--blocking-section") {
            a.blocking_section = true;
        } else if (flag == "-h" || flag == "--help") {
            std::fputs(k_usage, stdout);
            std::exit(0);
        } else if (!flag.empty() && flag[0] == '-') {
            usage_exit("unknown option " + flag);
        } else {
            if (have_workload)
                usage_exit("unexpected argument " + arg);
            a.workload = arg;
            have_workload = true;
        }
    }
    if (!have_workload)
        usage_exit("missing workload");
    if (a.workload != "query_graph")
        usage_exit("unknown workload " + a.workload);
    if (a.reps == 0)
        usage_exit("--reps must be >= 1");
    if (a.n < 64 || a.n > 100'000'000)
        usage_exit("query_graph: --n must be between 64 and 100000000");
    if (a.threads == 0)
        a.threads = available_parallelism();
    return a;
}

// Runs warm-up + timed reps of one system and prints its JSON line; returns whether all checked.
// reset() runs before every rep, outside the timed region. With `base_run` (T > 1: the same graph
// on a 1-worker pool) the 1-worker and T-worker reps alternate, with a capacity probe after each
// pair (bench/capacity.hpp); `hooks` add a stats snapshot and fields (the pool's counters).
template <class Reset, class Run>
bool measure(const Args& args,
             const char* system,
             std::size_t threads,
             std::uint64_t expected,
             Reset&& reset,
             Run&& run,
             const std::function<std::uint64_t()>& base_run = {},
             const bench::Hooks& hooks = {}) {
    bool checked = true;
    std::uint64_t result = 0;
    auto timed = [&](auto& f) {
        reset();
        bench::RepClock clock;
        clock.start();
        const std::uint64_t r = f();
        bench::Sample sample = clock.stop();
        if (r != expected)
            checked = false;
        result = r;
        return sample;
    };
    bench::Series s(threads);
    std::function<bench::Sample()> base;
    if (base_run)
        base = [&] { return timed(base_run); };
    bench::SeriesOptions o;
    o.reps = args.reps;
    o.warmup = args.warmup;
    o.max_time = 0.0;
    o.threads = threads;
    o.before_timed = hooks.before_timed;
    bench::run_series(
        s, o, [&] { return timed(run); }, base);
    const std::vector<double> times = s.times(), cpus = s.cpus();
    std::vector<double> st = times, sc = cpus;
    std::sort(st.begin(), st.end());
    std::sort(sc.begin(), sc.end());
    std::printf(
        "{\"workload\":\"%s\",\"system\":\"%s\",\"lang\":\"cpp\",\"threads\":%zu,\"n\":%" PRIu64
        ",\"reps\":%zu,\"warmup\":%zu,\"times_s\":%s,\"median_s\":%.9f,\"min_s\":%.9f,\"max_s\":%."
        "9f,\"cpu_s\":%s,\"cpu_median_s\":%.9f,\"peak_rss_kb\":%ld,\"result\":%" PRIu64
        "%s%s,\"compiler\":\"%s\",\"checked\":%s}\n",
        args.workload.c_str(), system, threads, args.n, times.size(), args.warmup,
        json_list(times).c_str(), median_of_sorted(st), st.front(), st.back(),
        json_list(cpus).c_str(), median_of_sorted(sc), peak_rss_kb(), result, s.json().c_str(),
        hooks.extra_json ? hooks.extra_json().c_str() : "", compiler_string(),
        checked ? "true" : "false");
    std::fflush(stdout);
    if (!checked) {
        std::fprintf(stderr,
                     "bench_query_graph: %s threads=%zu: WRONG RESULT (last %" PRIu64
                     ", expected %" PRIu64 ")\n",
                     system, threads, result, expected);
    }
    return checked;
}

}  // namespace

int main(int argc, char** argv) {
    const Args args = parse_args(argc, argv);
    const Graph g = build_graph(static_cast<std::uint32_t>(args.n));
    // The reference: the serial evaluation, computed once untimed.
    const std::uint64_t expected = run_serial(g);
    bool ok = true;
    try {
        if (args.run_serial) {
            if (!measure(
                    args, "serial", 1, expected, [] {}, [&] { return run_serial(g); }))
                ok = false;
        }
        if (args.run_spindle) {
            spindle::PoolOptions opts;
            opts.num_threads = args.threads;
            spindle::ThreadPool pool(opts);
            spindle::PoolStats stats0;  // the counters after the warm-up (bench/spindle_stats.hpp)
            std::optional<Map> map;
            g_blocking_section = args.blocking_section;
            // T > 1: a 1-worker pool beside it; their reps alternate (bench/capacity.hpp).
            std::optional<spindle::ThreadPool> base_pool;
            std::function<std::uint64_t()> base_run;
            if (args.threads > 1) {
                spindle::PoolOptions base_opts;
                base_opts.num_threads = 1;
                base_pool.emplace(base_opts);
                base_run = [&] {
                    return base_pool->install([&] { return Parallel{g, *map}.run(); });
                };
            }
            if (!measure(
                    args, args.blocking_section ? "spindle+blocking" : "spindle", args.threads,
                    expected, [&] { map.emplace(); },
                    [&] { return pool.install([&] {
                              return Parallel{g, *map}.run();
                          }); }, base_run,
                    bench::stats_hooks(pool, stats0)))
                ok = false;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_query_graph: exception: %s\n", e.what());
        return 1;
    } catch (...) {
        std::fprintf(stderr, "bench_query_graph: unknown exception\n");
        return 1;
    }
    return ok ? 0 : 1;
}
