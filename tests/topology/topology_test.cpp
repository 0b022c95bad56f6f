// The topology layer on synthetic and XML machines (design-notes/0010-topology.md): what is
// discovered, the placement plans, each worker's victim order, the steal counters per level,
// the node recorded for every allocation kind, and binding on the real machine. Synthetic and
// XML machines are never bound to, so these run on any machine; the real-machine tests need
// CPU 1 (the dev machine has 2) and skip without it.
#include "topology/topology.hpp"

#include "common/child_process.hpp"
#include "common/test_util.hpp"
#include "scheduler/placement.hpp"
#include "scheduler/registry.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace topo = spindle::detail::topology;
using spindle::Placement;
using spindle::StealLevel;
using spindle_test::ScopedEnv;

#if SPINDLE_HAVE_HWLOC
constexpr bool k_hwloc = true;
#else
constexpr bool k_hwloc = false;
#endif

#define REQUIRE_HWLOC()                                                           \
    do {                                                                          \
        if (!k_hwloc)                                                             \
            GTEST_SKIP() << "built without hwloc: only the flat topology exists"; \
    } while (0)

const std::string k_asymmetric =
    std::string("xml:") + SPINDLE_TEST_DATA_DIR + "/asymmetric-3node.xml";

std::vector<unsigned> os_of(const topo::Topology& t, const std::vector<std::size_t>& pus) {
    std::vector<unsigned> out;
    for (std::size_t i : pus)
        out.push_back(t.pus[i].os);
    return out;
}

std::vector<unsigned> planned_cpus(const topo::Topology& t, const Placement& p, std::size_t n) {
    return os_of(t, topo::make_plan(t, p, n).pu);
}

struct Group {
    StealLevel level;
    std::vector<std::size_t> workers;
    bool operator==(const Group&) const = default;
    friend void PrintTo(const Group& g, std::ostream* os) {
        *os << spindle::to_string(g.level) << "{";
        for (std::size_t i = 0; i < g.workers.size(); ++i)
            *os << (i != 0 ? "," : "") << g.workers[i];
        *os << "}";
    }
};
std::vector<Group> groups_of(const topo::Topology& t, const topo::Plan& plan, std::size_t w) {
    std::vector<Group> out;
    for (const auto& g : topo::victim_groups(t, plan, plan.pu[w], w))
        out.push_back(Group{g.level, g.workers});
    return out;
}
std::vector<std::size_t> range(std::size_t lo, std::size_t hi, std::size_t skip = SIZE_MAX) {
    std::vector<std::size_t> out;
    for (std::size_t i = lo; i < hi; ++i)
        if (i != skip)
            out.push_back(i);
    return out;
}

// ---- discovery -------------------------------------------------------------------------------

TEST(Discovery, SyntheticShapes) {
    REQUIRE_HWLOC();
    struct Shape {
        const char* desc;
        std::size_t pus, nodes;
        bool smt;
    };
    for (const Shape& s : {Shape{"pack:1 core:2 pu:1", 2, 1, false},
                           Shape{"pack:2 numa:1 l3:1 core:2 pu:2", 8, 2, true},
                           Shape{"numa:4 core:1 pu:1", 4, 4, false},
                           Shape{"pack:2 numa:2 l3:2 core:4 pu:2", 64, 4, true}}) {
        SCOPED_TRACE(s.desc);
        const topo::Topology t = topo::load(s.desc);
        EXPECT_TRUE(t.from_hwloc);
        EXPECT_FALSE(t.this_system);  // never bound to
        ASSERT_EQ(t.pus.size(), s.pus);
        EXPECT_EQ(t.num_nodes, s.nodes);
        // Nodes are contiguous blocks of PUs in logical order, equally sized here.
        for (std::size_t i = 0; i < t.pus.size(); ++i) {
            EXPECT_EQ(t.pus[i].node, static_cast<int>(i / (s.pus / s.nodes)));
            EXPECT_EQ(t.pus[i].os, i);
            EXPECT_EQ(t.pus[i].core, static_cast<int>(s.smt ? i / 2 : i));
        }
        for (std::size_t a = 0; a < t.num_nodes; ++a)
            EXPECT_EQ(t.node_distance(static_cast<int>(a), static_cast<int>(a)), 0u);
    }
    // With the synthetic prefix, and the same through SPINDLE_TOPOLOGY.
    EXPECT_EQ(topo::load("synthetic:numa:2 core:1 pu:1").num_nodes, 2u);
    ScopedEnv env("SPINDLE_TOPOLOGY", "numa:3 core:1 pu:1");
    EXPECT_EQ(topo::load("").num_nodes, 3u);
}

TEST(Discovery, HopsWithoutADistanceMatrix) {
    REQUIRE_HWLOC();
    // Two nodes per package: the other node of the package is nearer than the other package.
    const topo::Topology t = topo::load("pack:2 numa:2 core:1 pu:1");
    ASSERT_EQ(t.num_nodes, 4u);
    EXPECT_FALSE(t.distance_from_matrix);
    EXPECT_LT(t.node_distance(0, 1), t.node_distance(0, 2));
    EXPECT_EQ(t.node_distance(0, 2), t.node_distance(0, 3));
    EXPECT_EQ(t.node_distance(2, 3), t.node_distance(0, 1));
}

TEST(Discovery, AsymmetricXmlWithDistances) {
    REQUIRE_HWLOC();
    // 3 nodes: node 0 two SMT cores (CPUs 0-3), node 1 one SMT core and one single (4-6),
    // node 2 one SMT core (8, 9); latencies 0-1: 20, 0-2: 30, 1-2: 15.
    const topo::Topology t = topo::load(k_asymmetric);
    ASSERT_TRUE(t.from_hwloc);
    EXPECT_FALSE(t.this_system);
    EXPECT_EQ(t.num_nodes, 3u);
    EXPECT_TRUE(t.distance_from_matrix);
    std::vector<unsigned> os;
    std::vector<int> nodes;
    for (const topo::Pu& p : t.pus) {
        os.push_back(p.os);
        nodes.push_back(p.node);
    }
    EXPECT_EQ(os, (std::vector<unsigned>{0, 1, 2, 3, 4, 5, 6, 8, 9}));
    EXPECT_EQ(nodes, (std::vector<int>{0, 0, 0, 0, 1, 1, 1, 2, 2}));
    EXPECT_EQ(t.node_distance(0, 1), 20u);
    EXPECT_EQ(t.node_distance(0, 2), 30u);
    EXPECT_EQ(t.node_distance(2, 1), 15u);
}

TEST(Discovery, RealMachineIsTheAllowedCpus) {
    const topo::Topology t = topo::load("machine");
    const std::vector<unsigned> allowed = topo::allowed_cpus();
    std::vector<unsigned> os;
    for (const topo::Pu& p : t.pus)
        os.push_back(p.os);
    std::sort(os.begin(), os.end());
    EXPECT_EQ(os, allowed);
    EXPECT_TRUE(t.this_system);
    EXPECT_EQ(t.from_hwloc, k_hwloc);
    // Read once per process (and mask): a second pool does not walk sysfs again.
    if (k_hwloc) {
        EXPECT_EQ(topo::load("").handle, t.handle);
    }
}

TEST(Discovery, FlatAndErrors) {
    const topo::Topology f = topo::load("flat");
    EXPECT_FALSE(f.from_hwloc);
    EXPECT_EQ(f.num_nodes, 1u);
    EXPECT_EQ(f.pus.size(), topo::allowed_cpus().size());
    if (k_hwloc) {
        EXPECT_THROW(topo::load("pack:two"), spindle::InvalidPoolOptions);
        EXPECT_THROW(topo::load("xml:/nonexistent/topology.xml"), spindle::InvalidPoolOptions);
        EXPECT_THROW(spindle::ThreadPool(spindle::PoolOptions{.topology = "core:x"}),
                     spindle::InvalidPoolOptions);
    } else {
        // Without hwloc a synthetic machine falls back to flat (with a warning).
        EXPECT_FALSE(topo::load("numa:2 core:1 pu:1").from_hwloc);
    }
}

// ---- placement plans -------------------------------------------------------------------------

TEST(Plans, ParseAndPrint) {
    for (const char* s : {"none", "compact", "spread", "numa_node:3", "cpus:0,2,3,4,7"})
        EXPECT_EQ(Placement::parse(s).to_string(), s);
    EXPECT_EQ(Placement::parse("node:1").kind(), Placement::Kind::numa_node);
    EXPECT_EQ(Placement::parse("cpus:0,2-4,7").cpu_list(), (std::vector<unsigned>{0, 2, 3, 4, 7}));
    for (const char* bad : {"", "packed", "cpus:", "cpus:1,", "cpus:3-1", "node:x", "cpus:a"})
        EXPECT_THROW(Placement::parse(bad), spindle::InvalidPoolOptions) << bad;
    ScopedEnv env("SPINDLE_PLACEMENT", "bogus");
    EXPECT_THROW(spindle::ThreadPool(spindle::PoolOptions{.num_threads = 1}),
                 spindle::InvalidPoolOptions);
}

TEST(Plans, TwoNodesWithSmt) {
    REQUIRE_HWLOC();
    // node 0: cores {0,1} {2,3}; node 1: cores {4,5} {6,7}.
    const topo::Topology t = topo::load("pack:2 numa:1 l3:1 core:2 pu:2");
    EXPECT_EQ(planned_cpus(t, Placement::compact(), 10),
              (std::vector<unsigned>{0, 1, 2, 3, 4, 5, 6, 7, 0, 1}));
    EXPECT_EQ(planned_cpus(t, Placement::none(), 3), (std::vector<unsigned>{0, 1, 2}));
    // Nodes alternate, then cores, SMT siblings last.
    EXPECT_EQ(planned_cpus(t, Placement::spread(), 8),
              (std::vector<unsigned>{0, 4, 2, 6, 1, 5, 3, 7}));
    EXPECT_EQ(planned_cpus(t, Placement::numa_node(1), 5), (std::vector<unsigned>{4, 5, 6, 7, 4}));
    EXPECT_EQ(planned_cpus(t, Placement::cpus({5, 2}), 3), (std::vector<unsigned>{5, 2, 5}));
    EXPECT_THROW(topo::make_plan(t, Placement::numa_node(2), 1), spindle::InvalidPoolOptions);
    EXPECT_THROW(topo::make_plan(t, Placement::cpus({8}), 1), spindle::InvalidPoolOptions);
    // Never bound: not this system.
    EXPECT_FALSE(topo::make_plan(t, Placement::compact(), 2).bind);
}

TEST(Plans, FourNodesWithoutSmtAndAsymmetric) {
    REQUIRE_HWLOC();
    const topo::Topology four = topo::load("numa:4 core:2 pu:1");
    EXPECT_EQ(planned_cpus(four, Placement::spread(), 8),
              (std::vector<unsigned>{0, 2, 4, 6, 1, 3, 5, 7}));
    EXPECT_EQ(planned_cpus(four, Placement::numa_node(3), 2), (std::vector<unsigned>{6, 7}));
    // Uneven nodes run out at different times.
    const topo::Topology a = topo::load(k_asymmetric);
    EXPECT_EQ(planned_cpus(a, Placement::spread(), 9),
              (std::vector<unsigned>{0, 4, 8, 2, 6, 9, 1, 5, 3}));
    EXPECT_EQ(planned_cpus(a, Placement::numa_node(2), 3), (std::vector<unsigned>{8, 9, 8}));
    EXPECT_EQ(planned_cpus(a, Placement::compact(), 9),
              (std::vector<unsigned>{0, 1, 2, 3, 4, 5, 6, 8, 9}));
}

TEST(Plans, DefaultThreadCountIsWhatThePlacementUses) {
    REQUIRE_HWLOC();
    {
        spindle::ThreadPool pool({.topology = "numa:2 core:2 pu:1"});
        EXPECT_EQ(pool.num_threads(), 4u);
    }
    {
        spindle::ThreadPool pool(
            {.topology = "numa:2 core:2 pu:1", .placement = Placement::numa_node(1)});
        EXPECT_EQ(pool.num_threads(), 2u);
        for (const auto& w : pool.stats().workers) {
            EXPECT_EQ(w.numa_node, 1);
            EXPECT_FALSE(w.bound);
        }
    }
    {
        ScopedEnv env("SPINDLE_PLACEMENT", "cpus:3");
        spindle::ThreadPool pool({.topology = "numa:2 core:2 pu:1"});
        ASSERT_EQ(pool.num_threads(), 1u);
        EXPECT_EQ(pool.stats().workers[0].cpu, 3u);
    }
}

// ---- victim order ----------------------------------------------------------------------------

TEST(Victims, FlatIsOneGroup) {
    const topo::Topology t = topo::flat("test");
    const topo::Plan plan = topo::make_plan(t, Placement::compact(), 5);
    for (std::size_t w = 0; w < 5; ++w)
        EXPECT_EQ(groups_of(t, plan, w), (std::vector<Group>{{StealLevel::node, range(0, 5, w)}}));
}

TEST(Victims, SmtCacheNodeRemoteByHops) {
    REQUIRE_HWLOC();
    // 4 nodes, 2 per package, 2 L3 per node, 4 cores per L3, 2 PUs per core: 64 workers.
    const topo::Topology t = topo::load("pack:2 numa:2 l3:2 core:4 pu:2");
    const topo::Plan plan = topo::make_plan(t, Placement::compact(), 64);
    EXPECT_EQ(groups_of(t, plan, 0), (std::vector<Group>{
                                         {StealLevel::smt, {1}},
                                         {StealLevel::cache, range(2, 8)},
                                         {StealLevel::node, range(8, 16)},
                                         {StealLevel::remote, range(16, 32)},  // same package
                                         {StealLevel::remote, range(32, 64)},
                                     }));
    EXPECT_EQ(groups_of(t, plan, 45), (std::vector<Group>{
                                          {StealLevel::smt, {44}},
                                          {StealLevel::cache, {40, 41, 42, 43, 46, 47}},
                                          {StealLevel::node, range(32, 40)},
                                          {StealLevel::remote, range(48, 64)},
                                          {StealLevel::remote, range(0, 32)},
                                      }));
    // Every worker: each other worker exactly once, never itself.
    for (std::size_t w = 0; w < 64; ++w) {
        std::vector<std::size_t> all;
        for (const Group& g : groups_of(t, plan, w))
            all.insert(all.end(), g.workers.begin(), g.workers.end());
        std::sort(all.begin(), all.end());
        EXPECT_EQ(all, range(0, 64, w));
    }
}

TEST(Victims, NoSmtAndOversubscribed) {
    REQUIRE_HWLOC();
    // 2 nodes, 2 cores each, no SMT, no L3: the other core of the node, then the other node.
    const topo::Topology t = topo::load("numa:2 core:2 pu:1");
    const topo::Plan plan = topo::make_plan(t, Placement::compact(), 4);
    EXPECT_EQ(groups_of(t, plan, 2),
              (std::vector<Group>{{StealLevel::node, {3}}, {StealLevel::remote, {0, 1}}}));
    // Six workers on four CPUs: workers sharing a CPU are the nearest.
    const topo::Plan over = topo::make_plan(t, Placement::compact(), 6);
    EXPECT_EQ(groups_of(t, over, 0), (std::vector<Group>{{StealLevel::smt, {4}},
                                                         {StealLevel::node, {1, 5}},
                                                         {StealLevel::remote, {2, 3}}}));
}

TEST(Victims, AsymmetricByDistanceMatrix) {
    REQUIRE_HWLOC();
    const topo::Topology t = topo::load(k_asymmetric);
    const topo::Plan plan = topo::make_plan(t, Placement::compact(), 9);
    // Worker 0 on node 0: node 1 (20) before node 2 (30).
    EXPECT_EQ(groups_of(t, plan, 0), (std::vector<Group>{{StealLevel::smt, {1}},
                                                         {StealLevel::cache, {2, 3}},
                                                         {StealLevel::remote, {4, 5, 6}},
                                                         {StealLevel::remote, {7, 8}}}));
    // Worker 8 on node 2: node 1 (15) before node 0 (30).
    EXPECT_EQ(groups_of(t, plan, 8), (std::vector<Group>{{StealLevel::smt, {7}},
                                                         {StealLevel::remote, {4, 5, 6}},
                                                         {StealLevel::remote, {0, 1, 2, 3}}}));
    // Worker 6, the core without a sibling: its cache's other core first.
    EXPECT_EQ(groups_of(t, plan, 6), (std::vector<Group>{{StealLevel::cache, {4, 5}},
                                                         {StealLevel::remote, {7, 8}},
                                                         {StealLevel::remote, {0, 1, 2, 3}}}));
}

TEST(Victims, PoolWorkersUseThePlanAndSparesComeLast) {
    REQUIRE_HWLOC();
    spindle::ThreadPool pool({.num_threads = 4, .topology = "numa:2 core:2 pu:1"});
    spindle::detail::Registry& r = *pool.registry();
    ASSERT_EQ(r.num_slots(), 8u);  // 4 spares
    const auto v = r.victim_levels(1);
    ASSERT_EQ(v.size(), 3u);
    EXPECT_EQ(v[0].level, StealLevel::node);
    EXPECT_EQ(v[0].workers, (std::vector<std::size_t>{0}));
    EXPECT_EQ(v[1].level, StealLevel::remote);
    EXPECT_EQ(v[2].level, StealLevel::spare);
    EXPECT_EQ(v[2].workers, range(4, 8));
    // Spare 6 stands beside worker 2 (6 - 4): its node, worker 2 nearest.
    EXPECT_EQ(r.placement().node_of(6), 1);
    const auto s = r.victim_levels(6);
    EXPECT_EQ(s[0].level, StealLevel::smt);
    EXPECT_EQ(s[0].workers, (std::vector<std::size_t>{2}));
    EXPECT_EQ(s[1].workers, (std::vector<std::size_t>{3}));
    EXPECT_EQ(s.back().workers, (std::vector<std::size_t>{4, 5, 7}));
}

// ---- steal counters per level ----------------------------------------------------------------

// Makes the other worker of a 2-worker pool steal: join's first half waits (up to 10 s) until
// the second half has started, which only the other worker can do while this one waits.
spindle::PoolStats force_steals(spindle::ThreadPool& pool) {
    for (int round = 0; round < 3; ++round) {
        std::atomic<bool> started{false};
        pool.install([&] {
            spindle::join(
                [&] {
                    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
                    while (!started.load() && std::chrono::steady_clock::now() < until)
                        std::this_thread::yield();
                },
                [&] { started.store(true); });
        });
        EXPECT_TRUE(started.load());
    }
    return pool.stats();
}

TEST(StealCounters, CountedAtTheVictimsLevel) {
    REQUIRE_HWLOC();
    struct Case {
        const char* topology;
        StealLevel level;
    };
    for (const Case& c :
         {Case{"core:1 pu:2", StealLevel::smt}, Case{"l3:1 core:2 pu:1", StealLevel::cache},
          Case{"numa:1 core:2 pu:1", StealLevel::node},
          Case{"numa:2 core:1 pu:1", StealLevel::remote}}) {
        SCOPED_TRACE(c.topology);
        spindle::ThreadPool pool(
            {.num_threads = 2, .topology = c.topology, .max_spare_threads = 0});
        const spindle::PoolStats st = force_steals(pool);
        const spindle::WorkerStats t = st.total();
        ASSERT_GT(t.steals_succeeded, 0u);
        const auto k = static_cast<std::size_t>(c.level);
        EXPECT_EQ(t.steals_succeeded_at[k], t.steals_succeeded);
        EXPECT_EQ(t.steals_tried_at[k], t.steals_tried);
        std::uint64_t per_worker = 0;
        for (const auto& w : st.workers)
            per_worker += w.steals_succeeded_at[k];
        EXPECT_EQ(per_worker, t.steals_succeeded);
    }
}

// ---- waking the node first -------------------------------------------------------------------

bool wait_until(const std::function<bool()>& cond) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!cond()) {
        if (std::chrono::steady_clock::now() > until)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

TEST(Wake, ASleeperOfTheSameNodeFirst) {
    REQUIRE_HWLOC();
    // Nodes {0, 1} and {2, 3}.
    spindle::ThreadPool pool(
        {.num_threads = 4, .topology = "numa:2 core:2 pu:1", .max_spare_threads = 0});
    spindle::detail::Registry& r = *pool.registry();
    for (std::size_t from : {0u, 2u, 3u, 1u}) {
        SCOPED_TRACE(from);
        ASSERT_TRUE(wait_until([&] { return r.sleepers().load() == 4; }));
        std::vector<std::uint64_t> before;
        for (const auto& w : pool.stats().workers)
            before.push_back(w.wakeups);
        EXPECT_EQ(r.wake_one_near(from), 4u);
        const std::size_t peer = from ^ 1;
        ASSERT_TRUE(wait_until([&] { return pool.stats().workers[peer].wakeups > before[peer]; }));
        for (std::size_t w = 0; w < 4; ++w) {
            if (w != peer) {
                EXPECT_EQ(pool.stats().workers[w].wakeups, before[w]) << w;
            }
        }
    }
}

// ---- per-node injectors ----------------------------------------------------------------------

TEST(Injectors, OwnNodeFirstThenNearest) {
    using spindle::detail::Job;
    spindle::detail::NodeInjectors inj;
    // Node 0 looks at 0, 1, 2; node 1 at 1, 2, 0; node 2 at 2, 1, 0.
    inj.set_order({{0, 1, 2}, {1, 2, 0}, {2, 1, 0}});
    Job* a = reinterpret_cast<Job*>(std::uintptr_t{0x100});
    Job* b = reinterpret_cast<Job*>(std::uintptr_t{0x200});
    Job* c = reinterpret_cast<Job*>(std::uintptr_t{0x300});
    ASSERT_TRUE(inj.enqueue(0, a));
    ASSERT_TRUE(inj.enqueue(2, b));
    Job* bulk[] = {c};
    ASSERT_TRUE(inj.enqueue_bulk(1, bulk, 1));
    Job* got = nullptr;
    ASSERT_TRUE(inj.try_dequeue(1, got));
    EXPECT_EQ(got, c);  // its own node
    ASSERT_TRUE(inj.try_dequeue(1, got));
    EXPECT_EQ(got, b);  // node 2, nearer to 1 than node 0
    ASSERT_TRUE(inj.try_dequeue(1, got));
    EXPECT_EQ(got, a);
    EXPECT_FALSE(inj.try_dequeue(0, got));
}

TEST(Injectors, EveryJobRunsOnATwoNodePool) {
    REQUIRE_HWLOC();
    spindle::ThreadPool pool({.num_threads = 4, .topology = "numa:2 core:2 pu:1"});
    // From outside: dealt out over both nodes' injectors.
    std::atomic<int> outside{0};
    spindle::WaitGroup wg;
    wg.add(1000);
    for (int i = 0; i < 1000; ++i)
        pool.spawn([&] {
            outside.fetch_add(1);
            wg.done();
        });
    wg.wait();
    EXPECT_EQ(outside.load(), 1000);
    // From a worker, more than a deque holds (1024): the spill goes to its node's injector.
    std::atomic<int> spilled{0};
    pool.scope([&](spindle::Scope& s) {
        for (int i = 0; i < 5000; ++i)
            s.spawn([&] { spilled.fetch_add(1); });
    });
    EXPECT_EQ(spilled.load(), 5000);
    const spindle::PoolStats st = pool.stats();
    std::uint64_t run = 0;
    std::uint64_t created = 0;
    for (const auto& w : st.workers) {
        run += w.jobs_run;
        created += w.jobs_created;
    }
    EXPECT_EQ(run, created + st.jobs_injected);
}

// ---- node of every allocation kind -----------------------------------------------------------

TEST(Memory, EveryAllocationKindIsRecordedOnThePlansNode) {
    REQUIRE_HWLOC();
    using spindle::detail::MemoryKind;
    for (const char* shape : {"numa:2 core:2 pu:1", "pack:2 numa:2 core:1 pu:1"}) {
        for (const Placement& policy : {Placement::compact(), Placement::spread()}) {
            SCOPED_TRACE(std::string(shape) + " " + policy.to_string());
            spindle::ThreadPool pool({.num_threads = 4, .topology = shape, .placement = policy});
            const auto& pl = pool.registry()->placement();
            const topo::Topology& t = pl.topology();
            // Make every worker park a fiber (a stack of its own): each waits on go, which is
            // set only once all four have parked.
            spindle::Event go;
            std::thread caller(
                [&] { pool.broadcast([&](spindle::BroadcastContext) { go.wait(); }); });
            EXPECT_TRUE(wait_until([&] {
                const auto ws = pool.stats().workers;
                return std::all_of(ws.begin(), ws.begin() + 4,
                                   [](const spindle::WorkerStats& w) { return w.parks > 0; });
            }));
            go.set();
            caller.join();
            spindle::WorkerLocal<int> local(pool, [](std::size_t i) { return int(i); });
            const spindle::PoolStats st = pool.stats();
            std::vector<int> nodes_with_stacks;
            for (std::size_t w = 0; w < pool.max_threads(); ++w) {
                SCOPED_TRACE(w);
                const int node = t.pus[pl.plan().pu[w % 4]].node;
                EXPECT_EQ(pl.node_of(w), node);
                EXPECT_EQ(st.workers[w].numa_node, node);
                EXPECT_EQ(local.node_of(w), node);
                EXPECT_EQ(pl.recorded_node(w, MemoryKind::worker_local), node);
                if (w < 4) {
                    EXPECT_EQ(pl.recorded_node(w, MemoryKind::deque_buffer), node);
                } else {
                    EXPECT_EQ(pl.recorded_node(w, MemoryKind::deque_buffer), -1);  // not started
                }
                if (st.workers[w].fibers_created > 0) {
                    EXPECT_EQ(pl.recorded_node(w, MemoryKind::fiber_stack), node);
                    nodes_with_stacks.push_back(node);
                }
                // A synthetic machine's nodes are not real: nothing was bound.
                EXPECT_FALSE(pl.memory_bound(w, MemoryKind::fiber_stack));
                EXPECT_FALSE(pl.memory_bound(w, MemoryKind::worker_local));
            }
            // Every worker parked, so every node made stacks.
            EXPECT_EQ(nodes_with_stacks.size(), 4u);
            std::sort(nodes_with_stacks.begin(), nodes_with_stacks.end());
            const auto distinct = static_cast<std::size_t>(
                std::unique(nodes_with_stacks.begin(), nodes_with_stacks.end()) -
                nodes_with_stacks.begin());
            EXPECT_EQ(distinct, t.num_nodes);
        }
    }
}

// Detached jobs (spawn's heap jobs) are allocated, and their closure first written, by the
// thread that spawns them: on a worker, memory local to its node by first touch (note 0010
// §4; nothing binds per job, a job being far smaller than a page). The closure's move into the
// job records which worker made the copy.
struct WhereMoved {
    std::atomic<int>* made_on;
    std::atomic<int>* ran;
    WhereMoved(std::atomic<int>* m, std::atomic<int>* r) : made_on(m), ran(r) {}
    WhereMoved(WhereMoved&& o) noexcept : made_on(o.made_on), ran(o.ran) {
        const auto i = spindle::current_thread_index();
        made_on->store(i ? static_cast<int>(*i) : -1);
    }
    WhereMoved(const WhereMoved&) = delete;
    void operator()() const { ran->fetch_add(1); }
};

TEST(Memory, SpawnedJobsAreAllocatedByTheSpawningWorker) {
    REQUIRE_HWLOC();
    spindle::ThreadPool pool({.num_threads = 2, .topology = "numa:2 core:1 pu:1"});
    const auto& pl = pool.registry()->placement();
    EXPECT_NE(pl.node_of(0), pl.node_of(1));
    std::atomic<int> made_on[2] = {-2, -2};
    std::atomic<int> ran{0};
    pool.broadcast(
        [&](spindle::BroadcastContext c) { spindle::spawn(WhereMoved(&made_on[c.index], &ran)); });
    EXPECT_TRUE(wait_until([&] { return ran.load() == 2; }));
    for (int w = 0; w < 2; ++w) {
        SCOPED_TRACE(w);
        // Made on the spawning worker, so first touched on its node.
        EXPECT_EQ(made_on[w].load(), w);
        EXPECT_EQ(pool.stats().workers[static_cast<std::size_t>(w)].numa_node, pl.node_of(w));
    }
}

TEST(Memory, WorkerLocalNodeOnTheRealMachine) {
    spindle::ThreadPool pool({.num_threads = 2});
    spindle::WorkerLocal<int> local(pool, [](std::size_t) { return 7; });
    for (std::size_t w = 0; w < local.size(); ++w)
        EXPECT_EQ(local.node_of(w), pool.stats().workers[w].numa_node);
    EXPECT_THROW((void)local.node_of(local.size()), std::out_of_range);
    const int sum = pool.install([&] {
        int s = 0;
        for (int v : std::move(local).into_inner())
            s += v;
        return s;
    });
    EXPECT_EQ(sum, 7 * static_cast<int>(pool.max_threads()));
}

// ---- binding on the real machine -------------------------------------------------------------

bool have_cpu_1() {
    const auto cpus = topo::allowed_cpus();
    return std::find(cpus.begin(), cpus.end(), 1u) != cpus.end();
}

TEST(Binding, ExplicitCpuIsHonoured) {
    if (!have_cpu_1())
        GTEST_SKIP() << "CPU 1 is not available to this process";
    spindle::ThreadPool pool({.placement = Placement::cpus({1})});
    ASSERT_EQ(pool.num_threads(), 1u);
    const auto where = pool.broadcast([](spindle::BroadcastContext) {
        cpu_set_t set;
        CPU_ZERO(&set);
        sched_getaffinity(0, sizeof set, &set);
        return std::make_pair(CPU_COUNT(&set), sched_getcpu());
    });
    EXPECT_EQ(where[0].first, 1);
    EXPECT_EQ(where[0].second, 1);
    EXPECT_TRUE(pool.stats().workers[0].bound);
    EXPECT_EQ(pool.stats().workers[0].cpu, 1u);
}

// A thread outside the pool that will block for its job (install) gets the sleeper bound to its
// own CPU, whichever the wake cursor points at (Registry::wake_one_for_waiter).
TEST(Binding, AnOutsideWaiterWakesTheWorkerOnItsCpu) {
    if (!have_cpu_1())
        GTEST_SKIP() << "CPU 1 is not available to this process";
    const auto cpus = topo::allowed_cpus();
    if (std::find(cpus.begin(), cpus.end(), 0u) == cpus.end())
        GTEST_SKIP() << "CPU 0 is not available to this process";
    spindle::ThreadPool pool(
        {.num_threads = 2, .placement = Placement::cpus({0, 1}), .max_spare_threads = 0});
    spindle::detail::Registry& r = *pool.registry();
    cpu_set_t saved;
    ASSERT_EQ(sched_getaffinity(0, sizeof saved, &saved), 0);
    for (unsigned cpu : {1u, 0u, 0u, 1u, 1u}) {
        SCOPED_TRACE(cpu);
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
        ASSERT_TRUE(wait_until([&] { return r.sleepers().load() == 2; }));
        std::vector<std::uint64_t> before;
        for (const auto& w : pool.stats().workers)
            before.push_back(w.wakeups);
        EXPECT_EQ(r.wake_one_for_waiter(), 2u);
        ASSERT_TRUE(wait_until([&] { return pool.stats().workers[cpu].wakeups > before[cpu]; }));
        EXPECT_EQ(pool.stats().workers[cpu ^ 1].wakeups, before[cpu ^ 1]);
    }
    sched_setaffinity(0, sizeof saved, &saved);
    // And install itself: into the idle pool from CPU 1, the job runs there, on worker 1.
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(1, &one);
    ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
    ASSERT_TRUE(wait_until([&] { return r.sleepers().load() == 2; }));
    const auto where = pool.install([] {
        return std::make_pair(spindle::current_thread_index().value_or(99), sched_getcpu());
    });
    sched_setaffinity(0, sizeof saved, &saved);
    EXPECT_EQ(where.first, 1u);
    EXPECT_EQ(where.second, 1);
}

TEST(Binding, NoneBindsNothing) {
    spindle::ThreadPool pool({.num_threads = 2});
    for (const auto& w : pool.stats().workers)
        EXPECT_FALSE(w.bound);
}

}  // namespace

namespace {

// ---- an affinity mask narrower than the machine -----------------------------------------------

using spindle_test::contains;
using spindle_test::run_child;

TEST(Affinity, NarrowMaskGivesOneWorkerOnThatCpu) {
    if (!have_cpu_1())
        GTEST_SKIP() << "CPU 1 is not available to this process";
    // The child narrows its own mask before it creates the pool.
    for (const char* placement : {"compact", "spread"}) {
        const auto r = run_child(SPINDLE_HELPER_AFFINITY, std::string(placement) + " 1");
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_TRUE(contains(r.out, "threads=1\n")) << r.out;
        EXPECT_TRUE(contains(r.out, "worker=0 cpu=1 allowed=1 planned=1 bound=1")) << r.out;
    }
    // No placement: still one worker, unbound, on the one CPU it may use.
    const auto none = run_child(SPINDLE_HELPER_AFFINITY, "none 1");
    ASSERT_EQ(none.exit_code, 0) << none.err;
    EXPECT_TRUE(contains(none.out, "threads=1\n")) << none.out;
    EXPECT_TRUE(contains(none.out, "worker=0 cpu=1 allowed=1 planned=1 bound=0")) << none.out;
}

TEST(Affinity, UnderTaskset) {
    if (!have_cpu_1())
        GTEST_SKIP() << "CPU 1 is not available to this process";
    if (std::system("command -v taskset >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "no taskset";
    const auto r =
        run_child("taskset", std::string("-c 1 ") + SPINDLE_HELPER_AFFINITY + " compact");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "threads=1\n")) << r.out;
    EXPECT_TRUE(contains(r.out, "worker=0 cpu=1 allowed=1 planned=1 bound=1")) << r.out;
    // The flat fallback counts the mask too.
    const auto flat = run_child("taskset", std::string("-c 1 ") + SPINDLE_HELPER_AFFINITY + " none",
                                60, "SPINDLE_TOPOLOGY=flat");
    ASSERT_EQ(flat.exit_code, 0) << flat.err;
    EXPECT_TRUE(contains(flat.out, "threads=1\n")) << flat.out;
}

}  // namespace
