// spindle::scope and ThreadPool::scope: borrowing spawns, nesting, waiting, exceptions.
#include "common/test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

struct ScopeError {
    int id;
};
struct BodyError {
    int id;
};

class ScopeWorkers : public ::testing::TestWithParam<std::size_t> {
protected:
    void SetUp() override {
        m_pool =
            std::make_unique<spindle::ThreadPool>(spindle::PoolOptions{.num_threads = GetParam()});
    }
    spindle::ThreadPool& pool() { return *m_pool; }

private:
    std::unique_ptr<spindle::ThreadPool> m_pool;
};

TEST_P(ScopeWorkers, SpawnsBorrowLocalsAndFillAVectorByIndex) {
    const std::size_t n = spindle_test::scaled(1000);
    std::vector<std::size_t> v(n, 0);
    pool().scope([&](spindle::Scope& s) {
        for (std::size_t i = 0; i < n; ++i)
            s.spawn([&v, i] { v[i] = i * i; });
    });
    for (std::size_t i = 0; i < n; ++i)
        ASSERT_EQ(v[i], i * i) << i;
}

TEST_P(ScopeWorkers, FreeFunctionFromInsideAWorker) {
    std::vector<int> v(64, 0);
    pool().install([&] {
        spindle::scope([&](spindle::Scope& s) {
            for (std::size_t i = 0; i < v.size(); ++i)
                s.spawn([&v, i] { v[i] = static_cast<int>(i) + 1; });
        });
    });
    for (std::size_t i = 0; i < v.size(); ++i)
        EXPECT_EQ(v[i], static_cast<int>(i) + 1);
}

TEST_P(ScopeWorkers, EmptyScope) {
    bool body_ran = false;
    pool().scope([&](spindle::Scope&) { body_ran = true; });
    EXPECT_TRUE(body_ran);
}

TEST_P(ScopeWorkers, ReturnsTheBodysValue) {
    std::atomic<int> sum{0};
    const int r = pool().scope([&](spindle::Scope& s) {
        s.spawn([&] { sum.fetch_add(1); });
        return 42;
    });
    EXPECT_EQ(r, 42);
    EXPECT_EQ(sum.load(), 1);

    auto p = pool().scope([](spindle::Scope&) { return std::make_unique<std::string>("moved"); });
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, "moved");
}

TEST_P(ScopeWorkers, SpawnClosuresWithoutParameter) {
    std::atomic<int> count{0};
    pool().scope([&](spindle::Scope& s) {
        s.spawn([&] { count.fetch_add(1); });                    // f()
        s.spawn([&](spindle::Scope&) { count.fetch_add(10); });  // f(scope)
    });
    EXPECT_EQ(count.load(), 11);
}

TEST_P(ScopeWorkers, NestedSpawnsThroughTheScopeParameter) {
    // A binary tree of spawns, each spawning its children through the Scope& it receives.
    const int depth = spindle_test::under_sanitizer() ? 9 : 12;
    std::atomic<int> nodes{0};
    struct Tree {
        static void node(spindle::Scope& s, std::atomic<int>& nodes, int d) {
            nodes.fetch_add(1, std::memory_order_relaxed);
            if (d == 0)
                return;
            s.spawn([&nodes, d](spindle::Scope& s2) { node(s2, nodes, d - 1); });
            s.spawn([&nodes, d](spindle::Scope& s2) { node(s2, nodes, d - 1); });
        }
    };
    pool().scope([&](spindle::Scope& s) { Tree::node(s, nodes, depth); });
    EXPECT_EQ(nodes.load(), (1 << (depth + 1)) - 1);
}

TEST_P(ScopeWorkers, NestedScopes) {
    std::atomic<int> count{0};
    pool().scope([&](spindle::Scope& outer) {
        for (int i = 0; i < 4; ++i) {
            outer.spawn([&count] {
                spindle::scope([&count](spindle::Scope& inner) {
                    for (int j = 0; j < 4; ++j)
                        inner.spawn([&count] { count.fetch_add(1); });
                });
                // The inner scope has finished all of its spawns here.
                count.fetch_add(100);
            });
        }
    });
    EXPECT_EQ(count.load(), 4 * 4 + 4 * 100);
}

TEST_P(ScopeWorkers, WaitsForEverySpawnIncludingSlowOnes) {
    std::atomic<bool> slow_done{false};
    std::atomic<int> fast_done{0};
    pool().scope([&](spindle::Scope& s) {
        s.spawn([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            slow_done.store(true);
        });
        for (int i = 0; i < 8; ++i)
            s.spawn([&] { fast_done.fetch_add(1); });
    });
    EXPECT_TRUE(slow_done.load()) << "scope returned before a spawned job finished";
    EXPECT_EQ(fast_done.load(), 8);
}

TEST_P(ScopeWorkers, CapturedByValueStateIsDestroyedBeforeScopeReturns) {
    auto token = std::make_shared<int>(0);
    std::weak_ptr<int> weak = token;
    pool().scope([&](spindle::Scope& s) {
        for (int i = 0; i < 16; ++i)
            s.spawn([token] { (void)*token; });
    });
    token.reset();
    EXPECT_TRUE(weak.expired()) << "a spawned closure outlived the scope";
}

TEST_P(ScopeWorkers, BodyExceptionRethrownAfterSpawnsFinished) {
    std::atomic<int> finished{0};
    try {
        pool().scope([&](spindle::Scope& s) {
            for (int i = 0; i < 8; ++i) {
                s.spawn([&] {
                    std::this_thread::sleep_for(std::chrono::milliseconds(2));
                    finished.fetch_add(1);
                });
            }
            throw BodyError{7};
        });
        FAIL() << "scope did not throw";
    } catch (const BodyError& e) {
        EXPECT_EQ(e.id, 7);
        EXPECT_EQ(finished.load(), 8) << "rethrown before every spawn finished";
    }
}

TEST_P(ScopeWorkers, BodyExceptionWinsOverSpawnException) {
    EXPECT_THROW(pool().scope([&](spindle::Scope& s) {
        s.spawn([] { throw ScopeError{1}; });
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        throw BodyError{2};
    }),
                 BodyError);
}

TEST_P(ScopeWorkers, SpawnExceptionRethrownAfterSiblingsRan) {
    const int n = 16;
    std::atomic<int> siblings{0};
    try {
        pool().scope([&](spindle::Scope& s) {
            for (int i = 0; i < n; ++i) {
                if (i == n / 2) {
                    s.spawn([] { throw ScopeError{42}; });
                } else {
                    s.spawn([&] {
                        std::this_thread::sleep_for(std::chrono::milliseconds(1));
                        siblings.fetch_add(1);
                    });
                }
            }
        });
        FAIL() << "scope did not throw";
    } catch (const ScopeError& e) {
        EXPECT_EQ(e.id, 42);
        EXPECT_EQ(siblings.load(), n - 1) << "siblings of a throwing spawn must still run";
    }
}

TEST_P(ScopeWorkers, NestedSpawnExceptionPropagates) {
    std::atomic<int> ran{0};
    try {
        pool().scope([&](spindle::Scope& s) {
            s.spawn([&](spindle::Scope& s2) {
                s2.spawn([&](spindle::Scope& s3) {
                    s3.spawn([&] { ran.fetch_add(1); });
                    throw ScopeError{3};
                });
                ran.fetch_add(1);
            });
        });
        FAIL() << "scope did not throw";
    } catch (const ScopeError& e) {
        EXPECT_EQ(e.id, 3);
        EXPECT_EQ(ran.load(), 2);
    }
}

TEST_P(ScopeWorkers, ManyThrowingSpawnsRethrowOneOfThem) {
    std::atomic<int> attempts{0};
    try {
        pool().scope([&](spindle::Scope& s) {
            for (int i = 0; i < 10; ++i) {
                s.spawn([&, i] {
                    attempts.fetch_add(1);
                    throw ScopeError{i};
                });
            }
        });
        FAIL() << "scope did not throw";
    } catch (const ScopeError& e) {
        EXPECT_GE(e.id, 0);
        EXPECT_LT(e.id, 10);
        EXPECT_EQ(attempts.load(), 10);
    }
}

TEST_P(ScopeWorkers, ExceptionFromNestedScopeInsideSpawnPropagates) {
    EXPECT_THROW(pool().scope([&](spindle::Scope& s) {
        s.spawn([] {
            spindle::scope([](spindle::Scope& inner) { inner.spawn([] { throw ScopeError{5}; }); });
        });
    }),
                 ScopeError);
}

TEST_P(ScopeWorkers, PoolUsableAfterScopeExceptions) {
    for (int i = 0; i < 5; ++i)
        EXPECT_THROW(pool().scope([](spindle::Scope& s) { s.spawn([] { throw ScopeError{0}; }); }),
                     ScopeError);
    std::atomic<int> c{0};
    pool().scope([&](spindle::Scope& s) {
        for (int i = 0; i < 10; ++i)
            s.spawn([&] { c.fetch_add(1); });
    });
    EXPECT_EQ(c.load(), 10);
}

INSTANTIATE_TEST_SUITE_P(Workers,
                         ScopeWorkers,
                         ::testing::ValuesIn(spindle_test::k_worker_counts),
                         [](const auto& info) { return "w" + std::to_string(info.param); });

TEST(ScopeGlobal, FromOutsideAnyPool) {
    std::vector<int> v(100, 0);
    const int r = spindle::scope([&](spindle::Scope& s) {
        EXPECT_TRUE(spindle::current_thread_index().has_value())
            << "the body runs on a global worker";
        for (std::size_t i = 0; i < v.size(); ++i)
            s.spawn([&v, i] { v[i] = 1; });
        return 3;
    });
    EXPECT_EQ(r, 3);
    EXPECT_EQ(std::accumulate(v.begin(), v.end(), 0), 100);
}

TEST(ScopeGlobal, ExceptionFromOutsideAnyPool) {
    EXPECT_THROW(spindle::scope([](spindle::Scope& s) { s.spawn([] { throw ScopeError{9}; }); }),
                 ScopeError);
}

}  // namespace

namespace {

// A scope runs its own unstolen spawns on the waiting stack (no park), but never another job:
// a detached job spawned by the body after the scoped spawns sits on top of the deque; the
// helping loop must leave it, so it runs on another fiber of the worker, not nested on the
// stack of the scope that waits (a nested run would sit a few frames below the body's frame).
TEST(ScopeHelping, RunsItsOwnSpawnsButNeverAnotherJobNested) {
    if (spindle_test::under_asan())
        GTEST_SKIP() << "ASan's fake stacks move locals off the real stack";
    spindle::ThreadPool pool(spindle::PoolOptions{.num_threads = 1});
    std::atomic<std::ptrdiff_t> distance{0};
    int scoped_runs = 0;
    pool.install([&] {
        spindle::scope([&](spindle::Scope& s) {
            volatile char body_marker = 0;
            const char* body_sp = const_cast<const char*>(&body_marker);
            s.spawn([&] { ++scoped_runs; });
            s.spawn([&] { ++scoped_runs; });
            spindle::spawn([&distance, body_sp] {
                volatile char job_marker = 0;
                distance.store(body_sp - const_cast<const char*>(&job_marker));
            });
        });
    });
    EXPECT_EQ(scoped_runs, 2);
    for (int i = 0; i < 2000 && distance.load() == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const std::ptrdiff_t d = distance.load();
    ASSERT_NE(d, 0) << "the detached job never ran";
    // Nested on the body's stack would be a few hundred bytes to a few KiB below it.
    EXPECT_FALSE(d > 0 && d < 64 * 1024)
        << "the detached job ran " << d << " bytes below the scope body, on its stack";
}

}  // namespace
