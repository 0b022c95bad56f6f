// QueryMap single flight: exactly one computation per key under competing pool tasks and
// external threads, values and exceptions delivered to every caller, stable references,
// try_get/size/label, and a deep DAG of queries (include/spindle/query_map.hpp,
// design-notes/0004-competing-for-a-query.md).
#include "common/test_util.hpp"

#include <spindle/query_map.hpp>
#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using spindle_test::scaled;

// Spins (yielding) until counter reaches n: lets a computation hold its key until every
// competing caller has at least announced itself, so that most of them really wait.
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

// Only a way to make most callers really wait: if an overloaded machine keeps the other
// callers from arriving within the limit, the computation goes on and the test still checks
// single flight, just with less contention.
void await_count(const std::atomic<std::size_t>& counter, std::size_t n) {
    (void)gate_until([&] { return counter.load() >= n; });
}

spindle::ThreadPool make_pool(std::size_t threads) {
    spindle::PoolOptions o;
    o.num_threads = threads;
    return spindle::ThreadPool(o);
}

// 1,000 callers of one key — pool tasks and external threads — see one computation and the
// same object.
TEST(QueryMapTest, ComputedOnceUnderThousandCallers) {
    constexpr std::size_t k_threads = 8;
    constexpr std::size_t k_per_thread = 25;
    constexpr std::size_t k_tasks = 1000 - k_threads * k_per_thread;
    spindle::ThreadPool pool = make_pool(4);
    spindle::QueryMap<int, std::string> map("once");
    std::atomic<std::size_t> computed{0};
    std::atomic<std::size_t> arrived{0};
    std::atomic<std::size_t> wrong{0};
    const std::string* first = nullptr;
    std::atomic<const std::string*> seen{nullptr};

    auto call = [&] {
        arrived.fetch_add(1);
        const std::string& v = map.get_or_compute(7, [&] {
            computed.fetch_add(1);
            // Every task and each thread's first call (later calls of a thread come after
            // its first one returned).
            await_count(arrived, k_tasks + k_threads);
            return std::string("seven");
        });
        const std::string* expected = nullptr;
        if (!seen.compare_exchange_strong(expected, &v) && expected != &v)
            wrong.fetch_add(1);
        if (v != "seven")
            wrong.fetch_add(1);
    };

    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < k_threads; ++t)
        threads.emplace_back([&] {
            for (std::size_t i = 0; i < k_per_thread; ++i) {
                call();  // the first waits; later ones mostly take the fast path
            }
        });
    pool.scope([&](spindle::Scope& s) {
        for (std::size_t i = 0; i < k_tasks; ++i)
            s.spawn(call);
    });
    for (std::thread& t : threads)
        t.join();
    first = seen.load();
    EXPECT_EQ(computed.load(), 1u);
    EXPECT_EQ(wrong.load(), 0u);
    EXPECT_EQ(arrived.load(), 1000u);
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(map.try_get(7), first);
    EXPECT_EQ(map.size(), 1u);
    EXPECT_EQ(map.label(), "once");
}

// Many keys, many callers each: every key computed once, every caller gets its key's value.
TEST(QueryMapTest, ManyKeysEachComputedOnce) {
    constexpr int k_keys = 64;
    const std::size_t callers = scaled(4000);
    spindle::ThreadPool pool = make_pool(4);
    spindle::QueryMap<int, std::uint64_t> map;
    std::vector<std::atomic<int>> computed(k_keys);
    std::atomic<std::size_t> wrong{0};
    auto call = [&](std::size_t i) {
        const int key = static_cast<int>((i * 7919) % k_keys);
        const std::uint64_t v = map.get_or_compute(key, [&] {
            computed[static_cast<std::size_t>(key)].fetch_add(1);
            std::this_thread::yield();
            return static_cast<std::uint64_t>(key) * 1000u + 1u;
        });
        if (v != static_cast<std::uint64_t>(key) * 1000u + 1u)
            wrong.fetch_add(1);
    };
    std::thread outside([&] {
        for (std::size_t i = 0; i < callers / 4; ++i)
            call(i + 17);
    });
    pool.scope([&](spindle::Scope& s) {
        for (std::size_t i = 0; i < callers; ++i)
            s.spawn([&call, i] { call(i); });
    });
    outside.join();
    for (int k = 0; k < k_keys; ++k)
        EXPECT_EQ(computed[static_cast<std::size_t>(k)].load(), 1) << "key " << k;
    EXPECT_EQ(wrong.load(), 0u);
    EXPECT_EQ(map.size(), static_cast<std::size_t>(k_keys));
}

// The computation's exception reaches every waiter and every later caller; f is not rerun.
TEST(QueryMapTest, ExceptionDeliveredToEveryCaller) {
    constexpr std::size_t k_callers = 1000;
    constexpr std::size_t k_threads = 4;
    spindle::ThreadPool pool = make_pool(4);
    spindle::QueryMap<std::string, int> map;
    std::atomic<std::size_t> computed{0};
    std::atomic<std::size_t> arrived{0};
    std::atomic<std::size_t> caught{0};
    auto call = [&] {
        arrived.fetch_add(1);
        try {
            (void)map.get_or_compute("bad", [&]() -> int {
                computed.fetch_add(1);
                await_count(arrived, k_callers - k_threads * 9);
                throw std::runtime_error("boom");
            });
        } catch (const std::runtime_error& e) {
            if (std::string(e.what()) == "boom")
                caught.fetch_add(1);
        }
    };
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < k_threads; ++t)
        threads.emplace_back([&] {
            for (std::size_t i = 0; i < 10; ++i)
                call();
        });
    pool.scope([&](spindle::Scope& s) {
        for (std::size_t i = 0; i < k_callers - k_threads * 10; ++i)
            s.spawn(call);
    });
    for (std::thread& t : threads)
        t.join();
    EXPECT_EQ(computed.load(), 1u);
    EXPECT_EQ(caught.load(), k_callers);
    EXPECT_THROW((void)map.get_or_compute("bad", [] { return 1; }), std::runtime_error);
    EXPECT_EQ(computed.load(), 1u);
    EXPECT_EQ(map.try_get("bad"), nullptr);
    EXPECT_EQ(map.size(), 1u);
}

// References stay valid while the map grows; try_get and size.
TEST(QueryMapTest, StableReferencesAndTryGet) {
    spindle::QueryMap<int, std::vector<int>> map;
    EXPECT_EQ(map.try_get(1), nullptr);
    EXPECT_EQ(map.size(), 0u);
    EXPECT_TRUE(map.label().empty());
    const std::vector<int>& one = map.get_or_compute(1, [] { return std::vector<int>{1, 2, 3}; });
    const std::vector<int>* addr = &one;
    for (int k = 2; k < 5000; ++k)
        (void)map.get_or_compute(k, [k] { return std::vector<int>(1, k); });
    EXPECT_EQ(map.try_get(1), addr);
    EXPECT_EQ(&map.get_or_compute(1,
                                  []() -> std::vector<int> {
                                      ADD_FAILURE() << "recomputed";
                                      return {};
                                  }),
              addr);
    EXPECT_EQ(one, (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(map.size(), 4999u);
}

// A query computed by a caller outside any pool, waited on by pool tasks, and the reverse.
TEST(QueryMapTest, ExternalComputerPoolWaiters) {
    spindle::ThreadPool pool = make_pool(2);
    spindle::QueryMap<int, int> map;
    std::atomic<std::size_t> arrived{0};
    std::atomic<bool> started{false};
    std::thread computer([&] {
        EXPECT_EQ(map.get_or_compute(1,
                                     [&] {
                                         started.store(true);
                                         await_count(arrived, 50);
                                         return 11;
                                     }),
                  11);
    });
    ASSERT_TRUE(spindle_test::wait_until([&] { return started.load(); }));
    std::atomic<int> sum{0};
    pool.scope([&](spindle::Scope& s) {
        for (int i = 0; i < 50; ++i)
            s.spawn([&] {
                arrived.fetch_add(1);
                sum.fetch_add(map.get_or_compute(1, [] { return -1; }));
            });
    });
    computer.join();
    EXPECT_EQ(sum.load(), 550);
}

// A DAG of 1,000 queries where query i depends on i-1 and i/2 (depth 1,000), computed from
// several pool tasks and external threads at once: each query once, the right values, no
// false cycle error.
TEST(QueryMapTest, DeepDagOfThousandQueries) {
    constexpr std::size_t k_n = 1000;
    spindle::PoolOptions o;
    o.num_threads = 3;
    o.stack_size = 16u << 20;  // 1,000 nested computations on one fiber stack
    spindle::ThreadPool pool(o);
    spindle::QueryMap<std::size_t, std::uint64_t> map("dag");
    std::vector<std::atomic<int>> computed(k_n);

    // The reference values, serially.
    std::vector<std::uint64_t> expected(k_n);
    expected[0] = 1;
    for (std::size_t i = 1; i < k_n; ++i)
        expected[i] = expected[i - 1] * 3 + expected[i / 2] + i;

    struct Dag {
        spindle::QueryMap<std::size_t, std::uint64_t>& map;
        std::vector<std::atomic<int>>& computed;
        // parallel: the two dependencies through spindle::join (pool tasks); else one after
        // the other on the calling thread's own stack (external threads: a join there would
        // run in the global pool, whose fiber stacks are the default size).
        std::uint64_t get(std::size_t i, bool parallel) {
            return map.get_or_compute(i, [this, i, parallel]() -> std::uint64_t {
                computed[i].fetch_add(1);
                if (i == 0)
                    return 1;
                if (!parallel)
                    return get(i - 1, false) * 3 + get(i / 2, false) + i;
                auto [a, b] = spindle::join([&] { return get(i - 1, true); },
                                            [&] { return get(i / 2, true); });
                return a * 3 + b + i;
            });
        }
    } dag{map, computed};

    std::atomic<std::size_t> wrong{0};
    auto check = [&](std::size_t i, bool parallel) {
        if (dag.get(i, parallel) != expected[i])
            wrong.fetch_add(1);
    };
    // External threads start at the top and in the middle: their frames hold long chains on
    // 8 MiB thread stacks.
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 2; ++t)
        threads.emplace_back([&, t] { check(t == 0 ? k_n - 1 : k_n / 2 + 1, false); });
    pool.scope([&](spindle::Scope& s) {
        for (std::size_t i = k_n; i-- > 0;)
            if (i % 37 == 0 || i == k_n - 1)
                s.spawn([&check, i] { check(i, true); });
    });
    for (std::thread& t : threads)
        t.join();
    for (std::size_t i = 0; i < k_n; ++i)
        EXPECT_EQ(computed[i].load(), 1) << "query " << i;
    EXPECT_EQ(wrong.load(), 0u);
    EXPECT_EQ(map.size(), k_n);
}

// The deadlock class that made rustc's fork stop stealing while it waits (rust-lang/rust#143035,
// design note 0014; bench/false_dependency.cpp is the same with timings): Q's worker waits for
// Q's stolen half B, and meanwhile runs C, an unrelated task that asks for Q. rayon blocks that
// thread on Q and never gets back to Q (bench/rayon/src/bin/false_dependency.rs); the fork
// does not run C at all while it waits, so B, which waits for C to start, only goes on after
// its patience runs out. Here C's wait parks its fiber and Q resumes: C starts while B still
// waits for it, and both get Q's value.
TEST(QueryMapTest, AnUnrelatedTaskThatAsksForAWaitingQueryDoesNotDeadlock) {
    spindle::ThreadPool pool = make_pool(2);
    spindle::QueryMap<int, long> queries("Q");
    std::atomic<bool> b_started{false}, c_started{false};
    std::atomic<bool> b_saw_c{false};
    std::atomic<long> q_value{0}, c_value{0};
    auto spin_until = [](const std::atomic<bool>& flag) {
        const auto deadline = std::chrono::steady_clock::now() + spindle_test::k_generous;
        while (!flag.load() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::yield();
        return flag.load();
    };
    auto compute_q = [&] {
        auto [a, b] = spindle::join(
            [&] {
                spin_until(b_started);  // B runs on the other worker: Q's worker then waits
                return 1L;
            },
            [&] {
                b_started.store(true);
                b_saw_c.store(spin_until(c_started));  // the other worker runs C meanwhile
                return 2L;
            });
        return a + b;
    };
    spindle::WaitGroup wg("q and c");
    wg.add(2);
    pool.spawn([&] {
        q_value.store(queries.get_or_compute(0, compute_q));
        wg.done();
    });
    ASSERT_TRUE(spin_until(b_started));
    pool.spawn([&] {  // injected from outside: no part of Q's chain
        c_started.store(true);
        c_value.store(queries.get_or_compute(0, compute_q) * 10);
        wg.done();
    });
    wg.wait();
    EXPECT_TRUE(b_saw_c.load()) << "C did not start while Q's worker waited for B";
    EXPECT_EQ(q_value.load(), 3);
    EXPECT_EQ(c_value.load(), 30);
}

}  // namespace
