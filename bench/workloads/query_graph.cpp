// query_graph (bench/rayon/src/workloads/query_graph.rs is the rayon side): the compiler's query
// system in miniature. Serial and spindle only (the rayon side has no oneTBB or OpenMP twin of
// the query map), and every rep runs (no --max-time).
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

#include "workloads/workloads.hpp"

#include <spindle/query_map.hpp>
#include <spindle/spindle.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
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

using bench::SplitMix64;  // bench/harness.hpp

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
                    1 + static_cast<std::uint32_t>(rng.next_u64() % std::min(layer, k_lookback));
                const std::uint32_t tl = layer - back;
                g.deps.push_back(start(tl) + static_cast<std::uint32_t>(rng.next_u64() % size(tl)));
            }
        }
        g.dep_begin.push_back(static_cast<std::uint32_t>(g.deps.size()));
        g.blocking.push_back(rng.next_u64() % k_block_one_in == 0 ? 1 : 0);
    }
    g.items.resize(n / 4);
    for (auto& roots : g.items) {
        for (std::uint32_t& r : roots) {
            const std::uint32_t tl =
                k_layers - 1 - static_cast<std::uint32_t>(rng.next_u64() % k_root_layers);
            r = start(tl) + static_cast<std::uint32_t>(rng.next_u64() % size(tl));
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

std::string check_query_graph_n(std::uint64_t n) {
    return (n < 64 || n > 100'000'000) ? "--n must be between 64 and 100000000" : "";
}

bool run_query_graph(const bench::Args& args) {
    const Graph g = build_graph(static_cast<std::uint32_t>(args.n));
    // The reference: the serial evaluation, computed once untimed.
    bench::RepSpec w = bench::expect_value(args.n, run_serial(g));
    std::optional<Map> map;  // rebuilt before each rep, outside the timed region
    bool ok = true;
    for (bench::System sys : args.systems) {
        bool r;
        if (sys == bench::System::serial) {
            w.reset = {};
            r = bench::measure(args, w, "serial", 1, [&] { return run_serial(g); });
        } else {
            g_blocking_section = args.has("--blocking-section");
            w.reset = [&] { map.emplace(); };
            r = bench::measure_spindle(
                args, w, g_blocking_section ? "spindle+blocking" : "spindle",
                [&](spindle::ThreadPool& pool) {
                    return pool.install([&] { return Parallel{g, *map}.run(); });
                });
        }
        ok = ok && r;
    }
    return ok;
}

}  // namespace

bench::WorkloadSpec bench::workload_query_graph() {
    return {
        .name = "query_graph",
        .default_n = 4000,
        .check_n = check_query_graph_n,
        .n_help = "number of queries (default 4000, at least 64, at most 10^8)",
        .systems = {bench::System::serial, bench::System::spindle},
        .switches =
            {{"--blocking-section",
              "spindle wraps each blocking operation in a spindle::BlockingSection\n"
              "             (system \"spindle+blocking\"; the rayon side has no equivalent)"}},
        .max_time = false,
        .run = run_query_graph,
    };
}
