// Child process for the lock-order checker's tests (tests/lockorder/lock_order_test.cpp,
// design-notes/0013). Each mode builds one scenario; none of them ever deadlocks. A mode that
// the checker must stop dies with its message on stderr; the others print "done" and exit 0.
#include <spindle/spindle.hpp>

#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

namespace {

// Task 1 takes A then B and finishes; only then does task 2 take B then A (it waits for an
// event that task 1 sets after unlocking). The two never overlap, so nothing deadlocks.
int inversion_across_two_tasks() {
    spindle::Mutex a("A");
    spindle::Mutex b("B");
    spindle::Event first_done("first done");
    spindle::ThreadPool pool(spindle::PoolOptions{.num_threads = 2});
    pool.install([&] {
        spindle::scope([&](spindle::Scope& s) {
            s.spawn([&] {
                {
                    std::lock_guard<spindle::Mutex> ga(a);
                    std::lock_guard<spindle::Mutex> gb(b);
                }
                first_done.set();  // both released
            });
            s.spawn([&] {
                first_done.wait();
                std::lock_guard<spindle::Mutex> gb(b);
                std::printf("task 2 holds B, takes A\n");
                std::fflush(stdout);
                std::lock_guard<spindle::Mutex> ga(a);
            });
        });
    });
    std::printf("done\n");
    return 0;
}

// A -> B, B -> C, then C -> A, each on its own, one after another.
int inversion_through_a_chain() {
    spindle::Mutex a("A");
    spindle::Mutex b("B");
    spindle::Mutex c("C");
    spindle::ThreadPool pool(spindle::PoolOptions{.num_threads = 2});
    const auto in_order = [&](spindle::Mutex& x, spindle::Mutex& y) {
        pool.install([&] {
            std::lock_guard<spindle::Mutex> gx(x);
            std::lock_guard<spindle::Mutex> gy(y);
        });
    };
    in_order(a, b);
    in_order(b, c);
    in_order(c, a);
    std::printf("done\n");
    return 0;
}

// Two unlabelled Mutexes are two classes; taking them both ways is caught.
int inversion_unlabelled() {
    spindle::Mutex x;
    spindle::Mutex y;
    {
        std::lock_guard<spindle::Mutex> gx(x);
        std::lock_guard<spindle::Mutex> gy(y);
    }
    std::lock_guard<spindle::Mutex> gy(y);
    std::lock_guard<spindle::Mutex> gx(x);
    std::printf("done\n");
    return 0;
}

// Many tasks take A then B, concurrently, with other locks inside: one order, no report.
int consistent() {
    spindle::Mutex a("A");
    spindle::Mutex b("B");
    spindle::Mutex c("C");
    long counter = 0;
    spindle::ThreadPool pool(spindle::PoolOptions{.num_threads = 2});
    pool.install([&] {
        spindle::scope([&](spindle::Scope& s) {
            for (int i = 0; i < 200; ++i)
                s.spawn([&, i] {
                    std::lock_guard<spindle::Mutex> ga(a);
                    std::lock_guard<spindle::Mutex> gb(b);
                    if (i % 2 == 0) {
                        std::lock_guard<spindle::Mutex> gc(c);
                        ++counter;
                    }
                    ++counter;
                });
        });
    });
    // A and C alone, and B and C alone, keep the order A -> B -> C.
    {
        std::lock_guard<spindle::Mutex> ga(a);
        std::lock_guard<spindle::Mutex> gc(c);
    }
    // Unlabelled Mutexes that die forget their order: the next pair at the same addresses
    // may take them the other way.
    for (int round = 0; round < 2; ++round) {
        auto x = std::make_unique<spindle::Mutex>();
        auto y = std::make_unique<spindle::Mutex>();
        spindle::Mutex& first = round == 0 ? *x : *y;
        spindle::Mutex& second = round == 0 ? *y : *x;
        std::lock_guard<spindle::Mutex> g1(first);
        std::lock_guard<spindle::Mutex> g2(second);
    }
    std::printf("done %ld\n", counter);
    return counter == 300 ? 0 : 1;
}

// The held set follows the fiber, not the worker's thread: on a 1-worker pool, task X holds
// A and parks; task Y runs on the same thread and takes B, then lets X go. A thread-wide set
// would record A -> B and call the later B -> A an inversion; it is none.
int parked_holder() {
    spindle::Mutex a("A");
    spindle::Mutex b("B");
    spindle::Event x_holds("x holds A");
    spindle::Event go("go");
    spindle::ThreadPool pool(spindle::PoolOptions{.num_threads = 1});
    pool.install([&] {
        spindle::scope([&](spindle::Scope& s) {
            s.spawn([&] {
                std::lock_guard<spindle::Mutex> ga(a);
                x_holds.set();
                go.wait();  // parks holding A
            });
            s.spawn([&] {
                x_holds.wait();
                { std::lock_guard<spindle::Mutex> gb(b); }
                go.set();
            });
        });
        std::lock_guard<spindle::Mutex> gb(b);
        std::lock_guard<spindle::Mutex> ga(a);
    });
    std::printf("done\n");
    return 0;
}

// A ConditionVariable's wait releases its mutex for the checker, also when the release runs
// on another fiber: X waits on cv holding A; Y takes B then A and notifies; X, woken with A,
// unlocks A and takes B on its own: silent.
int condition_variable() {
    spindle::Mutex a("A");
    spindle::Mutex b("B");
    spindle::ConditionVariable cv("cv");
    bool ready = false;
    bool waiting = false;
    spindle::ThreadPool pool(spindle::PoolOptions{.num_threads = 1});
    pool.install([&] {
        spindle::scope([&](spindle::Scope& s) {
            s.spawn([&] {
                {
                    std::unique_lock<spindle::Mutex> lk(a);
                    waiting = true;
                    cv.wait(lk, [&] { return ready; });
                }
                std::lock_guard<spindle::Mutex> gb(b);
            });
            s.spawn([&] {
                for (;;) {
                    std::lock_guard<spindle::Mutex> gb(b);
                    std::lock_guard<spindle::Mutex> ga(a);
                    if (waiting) {
                        ready = true;
                        cv.notify_all();
                        return;
                    }
                    spindle::yield_now();
                }
            });
        });
    });
    std::printf("done\n");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: lock_order MODE\n");
        return 2;
    }
    const char* mode = argv[1];
    if (std::strcmp(mode, "inversion") == 0)
        return inversion_across_two_tasks();
    if (std::strcmp(mode, "chain") == 0)
        return inversion_through_a_chain();
    if (std::strcmp(mode, "unlabelled") == 0)
        return inversion_unlabelled();
    if (std::strcmp(mode, "consistent") == 0)
        return consistent();
    if (std::strcmp(mode, "parked") == 0)
        return parked_holder();
    if (std::strcmp(mode, "condvar") == 0)
        return condition_variable();
    std::fprintf(stderr, "lock_order: unknown mode '%s'\n", mode);
    return 2;
}
