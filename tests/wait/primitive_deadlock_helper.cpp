// Child process for tests/wait/primitive_deadlock_test.cpp: deadlocks built from the public
// wait primitives (not the test Gate), so that their WaitSites (kind, label, describe,
// cancel) are checked end to end against the pool's deadlock detector (design-notes/0005).
// Each mode prints what it observed and exits 0 when the scenario ended as it should.
#include <spindle/spindle.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

namespace {

using namespace std::chrono_literals;

std::atomic<int> g_calls{0};

void print_report(const spindle::DeadlockReport& r) {
    std::printf("report-begin\n%sreport-end\n", r.to_string().c_str());
    for (const spindle::DeadlockWaiter& w : r.waiters())
        std::printf("waiter kind=%s label=%s detail=%s can_fail=%d\n", w.kind.c_str(),
                    w.label.c_str(), w.detail.c_str(), w.can_fail ? 1 : 0);
    std::fflush(stdout);
}

int finish(int expected_calls, bool ok) {
    const int calls = g_calls.load();
    std::printf("handler-calls %d\n", calls);
    std::fflush(stdout);
    return calls == expected_calls && ok ? 0 : 1;
}

spindle::PoolOptions options(std::size_t threads) {
    spindle::PoolOptions o{.num_threads = threads};
    o.deadlock_delay = 50ms;
    // Break the cycle by failing one waiter (as rustc's breaker does: one per cycle).
    o.deadlock_handler = [](const spindle::DeadlockReport& r) {
        g_calls.fetch_add(1);
        print_report(r);
        for (std::size_t i = 0; i < r.waiters().size(); ++i)
            if (r.waiters()[i].can_fail && r.fail(i))
                return;
        std::printf("no waiter could be failed\n");
    };
    return o;
}

// Two tasks lock Mutex a and b respectively, meet, then each locks the other's: a cycle.
// The handler fails one lock(); that task releases its own mutex while unwinding, so the other
// task gets it and finishes.
int mutex_cycle() {
    spindle::Mutex a("a"), b("b");
    std::atomic<int> failed{0}, finished{0};
    {
        spindle::ThreadPool pool(options(2));
        spindle::CountDownLatch both_hold(2, "both hold");
        auto side = [&](spindle::Mutex& mine, spindle::Mutex& other) {
            std::lock_guard<spindle::Mutex> hold(mine);
            both_hold.arrive_and_wait();
            try {
                std::lock_guard<spindle::Mutex> g(other);
                finished.fetch_add(1);
            } catch (const spindle::DeadlockError&) {
                failed.fetch_add(1);
            }
        };
        pool.join([&] { side(a, b); }, [&] { side(b, a); });
    }
    std::printf("failed %d finished %d\n", failed.load(), finished.load());
    return finish(1, failed.load() == 1 && finished.load() == 1);
}

// Tasks wait on an Event, a Future and a ConditionVariable that nobody will signal; the
// handler fails one per call, so it is called once per remaining waiter.
int never_signalled() {
    spindle::Event never("never set");
    spindle::Promise<int> promise("never fulfilled");
    spindle::SharedFuture<int> future = promise.get_future();
    spindle::Mutex m("cv mutex");
    spindle::ConditionVariable cv("never notified");
    std::atomic<int> failed{0};
    {
        spindle::ThreadPool pool(options(2));
        auto guarded = [&](auto&& wait) {
            return [&failed, wait] {
                try {
                    wait();
                } catch (const spindle::DeadlockError&) {
                    failed.fetch_add(1);
                }
            };
        };
        pool.spawn(guarded([&] { never.wait(); }));
        pool.spawn(guarded([&] { (void)future.get(); }));
        pool.spawn(guarded([&] {
            std::unique_lock<spindle::Mutex> lk(m);
            cv.wait(lk);
        }));
    }
    std::printf("failed %d\n", failed.load());
    return finish(3, failed.load() == 3);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s mutex-cycle|never-signalled\n", argv[0]);
        return 2;
    }
    if (std::strcmp(argv[1], "mutex-cycle") == 0)
        return mutex_cycle();
    if (std::strcmp(argv[1], "never-signalled") == 0)
        return never_signalled();
    std::fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
}
