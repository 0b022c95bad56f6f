// Fiber behaviour seen through the public API: a parked fiber resumes on its own worker,
// per-fiber exception state survives a park inside a catch block, and stack overflow is
// detected (death tests) while a big enough stack_size lets deep recursion succeed.
#include "common/test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using namespace std::chrono_literals;
using spindle_test::spin_until;

// ---- a parked fiber resumes on its owning worker ---------------------------------------------

struct ParkProbe {
    bool b_elsewhere = false;  // b ran on another thread, so the joiner had to wait for it
    bool same_thread = false;  // the joiner resumed on the thread it started on
    bool same_index = false;   // ... and with the same worker index
};

// join(a, b) where a does not return before b has started on another worker (or max_spin
// passed) and b sleeps, so that the joiner finds b stolen and unfinished: it spins, then parks.
ParkProbe forced_park_join(std::chrono::milliseconds max_spin,
                           std::chrono::milliseconds b_sleep = 5ms) {
    const auto tid0 = std::this_thread::get_id();
    const auto idx0 = spindle::current_thread_index();
    std::atomic<bool> b_started{false};
    std::thread::id b_tid;
    spindle::join([&] { spin_until([&] { return b_started.load(); }, max_spin); },
                  [&] {
                      b_tid = std::this_thread::get_id();
                      b_started.store(true);
                      std::this_thread::sleep_for(b_sleep);
                  });
    ParkProbe p;
    p.b_elsewhere = b_tid != tid0;
    p.same_thread = std::this_thread::get_id() == tid0;
    p.same_index = spindle::current_thread_index() == idx0 && idx0.has_value();
    return p;
}

class FiberPinning : public ::testing::TestWithParam<std::size_t> {};

TEST_P(FiberPinning, ParkedJoinerResumesOnItsOwnWorker) {
    spindle::ThreadPool pool({.num_threads = GetParam()});
    const int iterations = static_cast<int>(spindle_test::scaled(100, 2));
    for (int i = 0; i < iterations; ++i) {
        const ParkProbe p = pool.install([] { return forced_park_join(spindle_test::k_generous); });
        ASSERT_TRUE(p.b_elsewhere) << "iteration " << i << ": b was never stolen by an idle worker";
        ASSERT_TRUE(p.same_thread) << "iteration " << i << ": the fiber resumed on another thread";
        ASSERT_TRUE(p.same_index) << "iteration " << i;
    }
}

TEST_P(FiberPinning, NestedParksResumeOnTheirOwnWorkers) {
    // An outer join whose b is forced onto another worker (so the outer joiner parks), with
    // a forced-park join nested inside both halves. The nested waits are bounded (with two
    // workers both are busy and nobody steals the inner b's), so only the outer join is
    // guaranteed to be stolen; the thread identity must hold for every join.
    spindle::ThreadPool pool({.num_threads = GetParam()});
    const int iterations = static_cast<int>(spindle_test::scaled(40, 2));
    for (int i = 0; i < iterations; ++i) {
        const auto r = pool.install([] {
            const auto tid0 = std::this_thread::get_id();
            const auto idx0 = spindle::current_thread_index();
            std::atomic<bool> outer_b_started{false};
            std::thread::id outer_b_tid;
            auto [pa, pb] = spindle::join(
                [&] {
                    spin_until([&] { return outer_b_started.load(); });
                    return forced_park_join(5ms, 2ms);
                },
                [&] {
                    outer_b_tid = std::this_thread::get_id();
                    outer_b_started.store(true);
                    return forced_park_join(5ms, 2ms);
                });
            const bool outer_ok =
                std::this_thread::get_id() == tid0 && spindle::current_thread_index() == idx0;
            return std::make_tuple(outer_b_tid != tid0, outer_ok, pa.same_thread && pa.same_index,
                                   pb.same_thread && pb.same_index);
        });
        ASSERT_TRUE(std::get<0>(r))
            << "iteration " << i << ": the outer b was never stolen by an idle worker";
        ASSERT_TRUE(std::get<1>(r)) << "iteration " << i << ": the outer joiner resumed elsewhere";
        ASSERT_TRUE(std::get<2>(r))
            << "iteration " << i << ": a nested joiner (in a) resumed elsewhere";
        ASSERT_TRUE(std::get<3>(r))
            << "iteration " << i << ": a nested joiner (in b) resumed elsewhere";
    }
}

TEST_P(FiberPinning, ConcurrentParksResumeOnTheirOwnWorkers) {
    // More joiners than workers at once, each joining inside both halves of an outer join, so
    // that workers hold several parked fibers at a time. Which joins get stolen depends on
    // timing; the thread identity must hold for all of them.
    spindle::ThreadPool pool({.num_threads = GetParam()});
    const int per_task = static_cast<int>(spindle_test::scaled(10, 2));
    std::atomic<int> bad{0}, total{0};
    auto record = [&](const ParkProbe& p) {
        total.fetch_add(1);
        if (!p.same_thread || !p.same_index)
            bad.fetch_add(1);
    };
    pool.scope([&](spindle::Scope& s) {
        for (int t = 0; t < 6; ++t) {
            s.spawn([&] {
                for (int i = 0; i < per_task; ++i) {
                    const auto tid0 = std::this_thread::get_id();
                    const auto idx0 = spindle::current_thread_index();
                    spindle::join([&] { record(forced_park_join(2ms, 1ms)); },
                                  [&] { record(forced_park_join(2ms, 1ms)); });
                    if (std::this_thread::get_id() != tid0 ||
                        spindle::current_thread_index() != idx0)
                        bad.fetch_add(1);
                }
            });
        }
    });
    EXPECT_EQ(bad.load(), 0);
    EXPECT_EQ(total.load(), 6 * per_task * 2);
}

INSTANTIATE_TEST_SUITE_P(Workers,
                         FiberPinning,
                         ::testing::Values(std::size_t{2}, std::size_t{4}),
                         [](const auto& info) { return "w" + std::to_string(info.param); });

TEST(Fiber, CrossPoolInstallResumesOnTheSameThread) {
    // A worker of a 1-thread pool parks on an install into another pool while its worker runs
    // other jobs; it must come back on the same thread.
    spindle::ThreadPool p({.num_threads = 1});
    spindle::ThreadPool q({.num_threads = 2});
    std::atomic<int> bad{0};
    std::atomic<int> others{0};
    const int n = static_cast<int>(spindle_test::scaled(40, 4));
    p.scope([&](spindle::Scope& s) {
        for (int i = 0; i < n; ++i) {
            s.spawn([&] {
                const auto tid0 = std::this_thread::get_id();
                q.install([] { std::this_thread::sleep_for(1ms); });
                if (std::this_thread::get_id() != tid0)
                    bad.fetch_add(1);
                if (spindle::current_thread_index() != std::optional<std::size_t>(0))
                    bad.fetch_add(1);
            });
            s.spawn([&] { others.fetch_add(1); });
        }
    });
    EXPECT_EQ(bad.load(), 0);
    EXPECT_EQ(others.load(), n);
}

// ---- per-fiber exception state ---------------------------------------------------------------

// Jobs that run while the joiner is parked: each throws and catches its own exception and,
// inside its catch block, yields (letting other fibers, possibly the parked joiner, run while
// its handler is active), then checks that current_exception() is still its own.
void throwing_neighbour(int id, std::atomic<int>& bad, std::atomic<int>& done) {
    try {
        throw std::runtime_error("neighbour " + std::to_string(id));
    } catch (const std::runtime_error&) {
        spindle::yield_now();
        try {
            std::rethrow_exception(std::current_exception());
        } catch (const std::runtime_error& again) {
            if (std::string(again.what()) != "neighbour " + std::to_string(id))
                bad.fetch_add(1);
        } catch (...) {
            bad.fetch_add(1);
        }
    }
    if (std::uncaught_exceptions() != 0)
        bad.fetch_add(1);
    done.fetch_add(1);
}

// Checks, inside a catch block, that the handled exception is still "original <id>".
std::string current_message() {
    std::exception_ptr e = std::current_exception();
    if (!e)
        return "<no current exception>";
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return ex.what();
    } catch (...) {
        return "<not a std::exception>";
    }
}

TEST(FiberExceptions, ParkInsideCatchBlockViaStolenJoin) {
    spindle::ThreadPool pool({.num_threads = 2});
    const int iterations = static_cast<int>(spindle_test::scaled(20, 2));
    const int neighbours = 6;
    for (int it = 0; it < iterations; ++it) {
        std::atomic<int> bad{0}, done{0};
        struct Result {
            std::string before, after;
            bool stolen = false;
            bool same_thread = false;
            int uncaught = -1;
        };
        const Result r = pool.install([&] {
            Result res;
            const std::string expected = "original " + std::to_string(it);
            try {
                throw std::runtime_error(expected);
            } catch (const std::runtime_error&) {
                res.before = current_message();
                const auto tid0 = std::this_thread::get_id();
                std::atomic<bool> b_started{false};
                std::thread::id b_tid;
                spindle::join(
                    [&] {
                        // Wait until the other worker stole b, then queue neighbours on this
                        // worker: they run here while the joiner is parked.
                        spin_until([&] { return b_started.load(); });
                        for (int k = 0; k < neighbours; ++k)
                            spindle::spawn([k, &bad, &done] { throwing_neighbour(k, bad, done); });
                    },
                    [&] {
                        b_tid = std::this_thread::get_id();
                        b_started.store(true);
                        std::this_thread::sleep_for(10ms);
                    });
                res.stolen = b_tid != tid0;
                res.same_thread = std::this_thread::get_id() == tid0;
                res.after = current_message();
                try {
                    throw;  // rethrow the handled exception: must be the original
                } catch (const std::runtime_error& e) {
                    if (std::string(e.what()) != expected)
                        res.after += " / rethrow gave " + std::string(e.what());
                }
            }
            res.uncaught = std::uncaught_exceptions();
            return res;
        });
        ASSERT_TRUE(spindle_test::wait_until([&] { return done.load() == neighbours; }));
        const std::string expected = "original " + std::to_string(it);
        EXPECT_EQ(r.before, expected);
        EXPECT_EQ(r.after, expected)
            << "iteration " << it << ": the exception being handled changed across a park";
        EXPECT_TRUE(r.stolen);
        EXPECT_TRUE(r.same_thread);
        EXPECT_EQ(r.uncaught, 0);
        EXPECT_EQ(bad.load(), 0)
            << "a neighbour saw the wrong exception after yielding in its catch block";
    }
}

TEST(FiberExceptions, ParkInsideCatchBlockViaCrossPoolInstall) {
    // Deterministic variant on a 1-worker pool: the fiber parks inside its catch block on an
    // install into another pool while its worker runs neighbours that throw, catch and yield.
    spindle::ThreadPool p({.num_threads = 1});
    spindle::ThreadPool q({.num_threads = 1});
    const int iterations = static_cast<int>(spindle_test::scaled(20, 2));
    std::atomic<int> bad{0}, done{0};
    std::atomic<int> wrong{0};
    p.scope([&](spindle::Scope& s) {
        for (int it = 0; it < iterations; ++it) {
            s.spawn([&, it] {
                const std::string expected = "catcher " + std::to_string(it);
                try {
                    throw std::logic_error(expected);
                } catch (const std::logic_error&) {
                    // Queue neighbours on this worker, then park on q.
                    for (int k = 0; k < 3; ++k)
                        spindle::spawn(
                            [k, &bad, &done] { throwing_neighbour(100 + k, bad, done); });
                    q.install([] { std::this_thread::sleep_for(1ms); });
                    if (current_message() != expected)
                        wrong.fetch_add(1);
                }
                if (std::uncaught_exceptions() != 0)
                    wrong.fetch_add(1);
                if (std::current_exception())
                    wrong.fetch_add(1);  // handler left: nothing current
            });
        }
    });
    ASSERT_TRUE(spindle_test::wait_until([&] { return done.load() == 3 * iterations; }));
    EXPECT_EQ(wrong.load(), 0);
    EXPECT_EQ(bad.load(), 0);
}

TEST(FiberExceptions, UncaughtExceptionsCountIsPerFiber) {
    // A destructor that parks during stack unwinding (uncaught_exceptions() == 1) while the
    // worker runs other jobs: the count must be right before and after the park, and other
    // fibers must see 0.
    spindle::ThreadPool p({.num_threads = 1});
    spindle::ThreadPool q({.num_threads = 1});
    std::atomic<int> wrong{0};
    std::atomic<int> other_saw_nonzero{0};
    struct ParksInDestructor {
        spindle::ThreadPool* q;
        std::atomic<int>* wrong;
        std::atomic<int>* other;
        ~ParksInDestructor() {
            if (std::uncaught_exceptions() != 1)
                wrong->fetch_add(1);
            auto* o = other;
            spindle::spawn([o] {
                if (std::uncaught_exceptions() != 0)
                    o->fetch_add(1);
            });
            q->install([] { std::this_thread::sleep_for(1ms); });
            if (std::uncaught_exceptions() != 1)
                wrong->fetch_add(1);
        }
    };
    const bool caught = p.install([&] {
        try {
            ParksInDestructor guard{&q, &wrong, &other_saw_nonzero};
            throw std::runtime_error("unwinding");
        } catch (const std::runtime_error&) {
            return std::uncaught_exceptions() == 0;
        }
    });
    EXPECT_TRUE(caught);
    EXPECT_EQ(wrong.load(), 0);
    EXPECT_EQ(other_saw_nonzero.load(), 0);
}

// ---- stack overflow ------------------------------------------------------------------------

// Recursion that needs about depth KiB of stack. The volatile frame is read after the
// recursive call (sequenced by the separate statement), so it must live across the call: the
// compiler can neither turn the recursion into a loop (no tail call, not even with an
// accumulator) nor shrink the frames.
[[gnu::noinline]] std::size_t deep(std::size_t depth) {
    volatile char frame[1024];
    frame[0] = static_cast<char>(depth);
    frame[sizeof frame - 1] = 1;
    if (depth == 0)
        return static_cast<std::size_t>(frame[sizeof frame - 1]);
    const std::size_t below = deep(depth - 1);
    return below + static_cast<std::size_t>(frame[sizeof frame - 1]) + (frame[0] == 7 ? 1 : 0);
}

std::size_t expected_deep(std::size_t depth) {
    std::size_t r = 1;
    for (std::size_t d = 1; d <= depth; ++d)
        r += 1 + (static_cast<char>(d) == 7 ? 1 : 0);
    return r;
}

constexpr std::size_t k_small_stack = 64 * 1024;
constexpr std::size_t k_unbounded = std::size_t(1) << 40;

TEST(FiberStackDeathTest, OverflowOnTheWorkerThreadStackIsReported) {
    SPINDLE_DEATH_TEST_PROLOGUE();
    // A fresh 1-worker pool runs its first job on the worker thread's own stack.
    EXPECT_DEATH(
        {
            spindle::ThreadPool pool({.num_threads = 1, .stack_size = k_small_stack});
            std::atomic<std::size_t> sink{0};
            pool.install([&] { sink.store(deep(k_unbounded)); });
            std::fprintf(stderr, "no overflow: %zu\n", sink.load());
            std::exit(0);
        },
        "spindle.*stack overflow.*thread stack");
}

TEST(FiberStackDeathTest, OverflowOnAPooledFiberStackIsReported) {
    SPINDLE_DEATH_TEST_PROLOGUE();
    // The 1-worker pool's first job parks (install into another pool that never finishes),
    // so the worker continues on a pooled fiber, which runs the recursing job.
    EXPECT_DEATH(
        {
            spindle::ThreadPool pool({.num_threads = 1, .stack_size = k_small_stack});
            spindle::ThreadPool other({.num_threads = 1});
            std::atomic<bool> parked_job_started{false};
            pool.spawn([&] {
                other.install([&] {
                    parked_job_started.store(true);
                    std::this_thread::sleep_for(std::chrono::seconds(60));
                });
            });
            while (!parked_job_started.load())
                std::this_thread::sleep_for(1ms);
            std::atomic<std::size_t> sink{0};
            pool.spawn([&] { sink.store(deep(k_unbounded)); });
            std::this_thread::sleep_for(std::chrono::seconds(20));
            std::fprintf(stderr, "no overflow: %zu\n", sink.load());
            std::exit(0);
        },
        "spindle.*stack overflow.*fiber stack");
}

TEST(FiberStack, DeepRecursionSucceedsWithALargeStack) {
    // rayon stack_overflow_crash, the passing half: ~200 KiB of recursion fits a 1 MiB stack,
    // both on the worker thread's stack and on a pooled fiber.
    const std::size_t stack = spindle_test::under_sanitizer() ? 8 * 1024 * 1024 : 1024 * 1024;
    const std::size_t depth = 200;
    spindle::ThreadPool pool({.num_threads = 1, .stack_size = stack});
    EXPECT_EQ(pool.install([&] { return deep(depth); }), expected_deep(depth));

    spindle::ThreadPool other({.num_threads = 1});
    std::atomic<bool> release{false};
    std::atomic<bool> started{false};
    pool.spawn([&] {
        other.install([&] {
            started.store(true);
            spin_until([&] { return release.load(); });
        });
    });
    ASSERT_TRUE(spindle_test::wait_until([&] { return started.load(); }));
    // The worker's thread stack is parked under the install: this runs on a pooled fiber.
    EXPECT_EQ(pool.install([&] { return deep(depth); }), expected_deep(depth));
    release.store(true);
}

}  // namespace
