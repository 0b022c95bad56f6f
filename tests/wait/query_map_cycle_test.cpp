// QueryMap cycle detection: a wait that would close a cycle of queries fails at once with
// QueryCycleError naming the cycle's keys in order — 1-, 2- and 3-key cycles, through join and
// scope subtasks, across two maps, on pool tasks and on external threads — and no false
// cycle where chains merely share a query (include/spindle/query_map.hpp,
// design-notes/0004-competing-for-a-query.md).
#include "common/test_util.hpp"

#include <spindle/query_map.hpp>
#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

// Waits until pred() holds without blocking a pool worker: on a worker, lets other jobs run
// (on their own fibers) meanwhile, so that callers queued behind a computation can arrive.
template <class Pred>
bool gate_until(Pred&& pred) {
    const auto deadline = std::chrono::steady_clock::now() + spindle_test::k_generous;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline)
            return pred();
        const std::optional<spindle::Yield> y = spindle::yield_now();
        if (!y || *y == spindle::Yield::idle)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
}

using Keys = std::vector<std::string>;
using Map = spindle::QueryMap<std::string, int>;

// A graph of string-keyed queries: deps[k] are the keys k's computation asks for (in order),
// through `how`: directly, through spindle::join, or through scope spawns.
enum class Via { direct, join, scope };

struct Graph {
    Map map;
    std::map<std::string, std::vector<std::string>> deps;
    Via via = Via::direct;
    std::atomic<int> computations{0};

    int get(const std::string& k) {
        return map.get_or_compute(k, [this, k] {
            computations.fetch_add(1);
            int sum = 1;
            const auto& ds = deps[k];
            if (via == Via::direct || ds.empty()) {
                for (const std::string& d : ds)
                    sum += get(d);
            } else if (via == Via::join) {
                for (const std::string& d : ds) {
                    auto [a, b] = spindle::join([] { return 0; }, [&] { return get(d); });
                    sum += a + b;
                }
            } else {
                std::atomic<int> acc{0};
                spindle::scope([&](spindle::Scope& s) {
                    for (const std::string& d : ds)
                        s.spawn([&, d] { acc.fetch_add(get(d)); });
                });
                sum += acc.load();
            }
            return sum;
        });
    }
};

// Runs g.get(root) (on a pool worker if pool != nullptr, else on this thread) and returns the
// keys of the QueryCycleError it throws (fails the test if it throws none).
Keys cycle_of(Graph& g, const std::string& root, spindle::ThreadPool* pool) {
    try {
        if (pool != nullptr)
            pool->install([&] { return g.get(root); });
        else
            g.get(root);
    } catch (const spindle::QueryCycleError& e) {
        return e.keys();
    }
    ADD_FAILURE() << "no QueryCycleError from " << root;
    return {};
}

spindle::ThreadPool make_pool(std::size_t threads) {
    spindle::PoolOptions o;
    o.num_threads = threads;
    return spindle::ThreadPool(o);
}

TEST(QueryMapCycleTest, OneKeyCycle) {
    spindle::ThreadPool pool = make_pool(2);
    for (bool on_pool : {false, true}) {
        Graph g;
        g.deps["a"] = {"a"};
        EXPECT_EQ(cycle_of(g, "a", on_pool ? &pool : nullptr), Keys{"a"});
        EXPECT_EQ(g.computations.load(), 1);
        // The query completed with the error; later callers get it too, f is not rerun.
        EXPECT_THROW(g.get("a"), spindle::QueryCycleError);
        EXPECT_EQ(g.computations.load(), 1);
    }
}

TEST(QueryMapCycleTest, TwoAndThreeKeyCyclesInOrder) {
    spindle::ThreadPool pool = make_pool(2);
    for (bool on_pool : {false, true}) {
        Graph g2;
        g2.deps = {{"a", {"b"}}, {"b", {"a"}}};
        EXPECT_EQ(cycle_of(g2, "a", on_pool ? &pool : nullptr), (Keys{"a", "b"}));
        Graph g3;
        g3.deps = {{"k1", {"k2"}}, {"k2", {"k3"}}, {"k3", {"k1"}}};
        EXPECT_EQ(cycle_of(g3, "k1", on_pool ? &pool : nullptr), (Keys{"k1", "k2", "k3"}));
        // Entering the cycle elsewhere names it from the key that was waited for.
        Graph g3b;
        g3b.deps = {{"k1", {"k2"}}, {"k2", {"k3"}}, {"k3", {"k1"}}};
        EXPECT_EQ(cycle_of(g3b, "k2", on_pool ? &pool : nullptr), (Keys{"k2", "k3", "k1"}));
    }
}

// A prefix that is not part of the cycle is not named: r -> a -> b -> c -> a.
TEST(QueryMapCycleTest, OnlyTheCycleIsNamed) {
    Graph g;
    g.deps = {{"r", {"x", "a"}}, {"x", {}}, {"a", {"b"}}, {"b", {"c"}}, {"c", {"a"}}};
    EXPECT_EQ(cycle_of(g, "r", nullptr), (Keys{"a", "b", "c"}));
    EXPECT_EQ(g.map.try_get("x") != nullptr, true);
}

TEST(QueryMapCycleTest, CyclesThroughJoinAndScopeSubtasks) {
    spindle::ThreadPool pool = make_pool(3);
    for (Via via : {Via::join, Via::scope}) {
        for (int rep = 0; rep < 20; ++rep) {
            Graph g1;
            g1.via = via;
            g1.deps["a"] = {"a"};
            EXPECT_EQ(cycle_of(g1, "a", &pool), Keys{"a"});
            Graph g2;
            g2.via = via;
            g2.deps = {{"a", {"b"}}, {"b", {"a"}}};
            EXPECT_EQ(cycle_of(g2, "a", &pool), (Keys{"a", "b"}));
            Graph g3;
            g3.via = via;
            g3.deps = {{"a", {"b"}}, {"b", {"c"}}, {"c", {"a"}}};
            EXPECT_EQ(cycle_of(g3, "a", &pool), (Keys{"a", "b", "c"}));
        }
    }
}

// Two siblings of one computation: b and c are computed by parallel subtasks of a, and c's
// computation waits for b while b's waits for c. Whichever wait comes second closes the cycle
// b -> c -> b (a is not part of it).
TEST(QueryMapCycleTest, CycleBetweenParallelSiblings) {
    spindle::ThreadPool pool = make_pool(3);
    for (int rep = 0; rep < 50; ++rep) {
        Graph g;
        g.via = Via::scope;
        g.deps = {{"a", {"b", "c"}}, {"b", {"c"}}, {"c", {"b"}}};
        const Keys k = cycle_of(g, "a", &pool);
        EXPECT_TRUE(k == (Keys{"b", "c"}) || k == (Keys{"c", "b"})) << ::testing::PrintToString(k);
    }
}

// x (map 1) -> 2 (map 2) -> x (map 1), and with labels.
TEST(QueryMapCycleTest, CycleThroughTwoMaps) {
    spindle::ThreadPool pool = make_pool(2);
    for (bool labelled : {false, true}) {
        Map names(labelled ? "names" : "");
        spindle::QueryMap<int, int> numbers(labelled ? "numbers" : "");
        std::function<int(int)> number;
        auto name = [&](const std::string& k) {
            return names.get_or_compute(k, [&] { return number(2) + 1; });
        };
        number = [&](int k) {
            return numbers.get_or_compute(k, [&] {
                return spindle::join([&] { return name("x"); }, [] { return 0; }).first;
            });
        };
        try {
            pool.install([&] { return name("x"); });
            ADD_FAILURE() << "no cycle error";
        } catch (const spindle::QueryCycleError& e) {
            if (labelled) {
                EXPECT_EQ(e.keys(), (Keys{"names(x)", "numbers(2)"}));
                EXPECT_EQ(std::string(e.what()),
                          "spindle: query cycle: names(x) -> numbers(2) -> names(x)");
            } else {
                EXPECT_EQ(e.keys(), (Keys{"x", "2"}));
            }
        }
    }
}

// The computation that receives the error may handle it: b reports the cycle and returns an
// error value, so a completes normally.
TEST(QueryMapCycleTest, ComputationCatchesCycleError) {
    spindle::ThreadPool pool = make_pool(2);
    Map map;
    std::atomic<int> reported{0};
    const int a = pool.install([&] {
        return map.get_or_compute("a", [&] {
            return 10 + map.get_or_compute("b", [&] {
                try {
                    return map.get_or_compute("a", [] { return -100; });
                } catch (const spindle::QueryCycleError& e) {
                    if (e.keys() == Keys{"a", "b"})
                        reported.fetch_add(1);
                    return -1;
                }
            });
        });
    });
    EXPECT_EQ(a, 9);
    EXPECT_EQ(reported.load(), 1);
    EXPECT_EQ(*map.try_get("b"), -1);
}

// Waiters on a query that fails with a cycle error receive it: q's computation hits the cycle
// q -> q while other tasks wait for q.
TEST(QueryMapCycleTest, WaitersReceiveTheCycleError) {
    spindle::ThreadPool pool = make_pool(3);
    Map map;
    std::atomic<std::size_t> arrived{0};
    std::atomic<std::size_t> caught{0};
    constexpr std::size_t k_waiters = 64;
    pool.scope([&](spindle::Scope& s) {
        for (std::size_t i = 0; i <= k_waiters; ++i)
            s.spawn([&] {
                arrived.fetch_add(1);
                try {
                    (void)map.get_or_compute("q", [&] {
                        // Lets the others queue (a hang guard, not a condition: late
                        // callers get the stored error just the same).
                        (void)gate_until([&] { return arrived.load() == k_waiters + 1; });
                        return map.get_or_compute("q", [] { return 0; });
                    });
                } catch (const spindle::QueryCycleError& e) {
                    if (e.keys() == Keys{"q"})
                        caught.fetch_add(1);
                }
            });
    });
    EXPECT_EQ(caught.load(), k_waiters + 1);
}

// No false cycle: two independent chains (p1 -> q, p2 -> q) wait for the same in-flight q,
// and two parallel subtasks of one computation ask for the same query (one computes, the
// other waits: a -> b, a -> b).
TEST(QueryMapCycleTest, NoFalseCycleWhenChainsShareAQuery) {
    spindle::ThreadPool pool = make_pool(4);
    const std::size_t reps = spindle_test::scaled(50);
    for (std::size_t rep = 0; rep < reps; ++rep) {
        Map map;
        std::atomic<int> arrived{0};
        auto q = [&] {
            return map.get_or_compute("q", [&] {
                (void)gate_until([&] { return arrived.load() >= 2; });  // both chains waiting
                return 5;
            });
        };
        int r1 = 0, r2 = 0, r3 = 0;
        pool.scope([&](spindle::Scope& s) {
            s.spawn([&] {
                r1 = map.get_or_compute("p1", [&] {
                    arrived.fetch_add(1);
                    return q() + 1;
                });
            });
            s.spawn([&] {
                r2 = map.get_or_compute("p2", [&] {
                    arrived.fetch_add(1);
                    return q() + 2;
                });
            });
            s.spawn([&] { r3 = q(); });
        });
        EXPECT_EQ(r1, 6);
        EXPECT_EQ(r2, 7);
        EXPECT_EQ(r3, 5);

        Map m2;
        std::atomic<int> b_runs{0};
        const int a = pool.install([&] {
            return m2.get_or_compute("a", [&] {
                auto b = [&] {
                    return m2.get_or_compute("b", [&] {
                        b_runs.fetch_add(1);
                        std::this_thread::yield();
                        return 3;
                    });
                };
                auto [x, y] = spindle::join(b, b);
                return x + y;
            });
        });
        EXPECT_EQ(a, 6);
        EXPECT_EQ(b_runs.load(), 1);
    }
}

// A detached job started inside a computation belongs to its chain; without_query_chain
// starts one that does not.
TEST(QueryMapCycleTest, WithoutQueryChain) {
    Map map;
    const int v = map.get_or_compute("a", [&] {
        return spindle::without_query_chain([&] {
            // Not inside a's chain any more: no cycle to report, but "a" is still being
            // computed, so only try_get is safe here.
            return map.try_get("a") == nullptr ? 1 : 2;
        });
    });
    EXPECT_EQ(v, 1);
}

// Keys without operator<< are named by type and hash.
struct Opaque {
    int v;
    bool operator==(const Opaque&) const = default;
};
struct OpaqueHash {
    std::size_t operator()(const Opaque& o) const noexcept { return std::size_t(o.v) * 31u; }
};

TEST(QueryMapCycleTest, UnprintableKeysAreNamedGenerically) {
    spindle::QueryMap<Opaque, int, OpaqueHash> map;
    try {
        map.get_or_compute(Opaque{1},
                           [&] { return map.get_or_compute(Opaque{1}, [] { return 0; }); });
        ADD_FAILURE() << "no cycle error";
    } catch (const spindle::QueryCycleError& e) {
        ASSERT_EQ(e.keys().size(), 1u);
        EXPECT_NE(e.keys()[0].find("#1f"), std::string::npos) << e.keys()[0];
    }
}

}  // namespace
