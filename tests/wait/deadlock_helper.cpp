// Child process for the deadlock-detection tests (tests/wait/deadlock_test.cpp): each mode
// builds one scenario, prints what it observed on stdout ("handler-calls N", the report) and
// exits 0 when the scenario ended as it should. The parent runs it under a timeout.
#include "wait/gate.hpp"

#include <spindle/spindle.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;

std::atomic<int> g_calls{0};

void print_report(const spindle::DeadlockReport& r) {
    std::printf("report-begin\n%sreport-end\n", r.to_string().c_str());
    for (const spindle::DeadlockWaiter& w : r.waiters())
        std::printf("waiter kind=%s label=%s can_fail=%d\n", w.kind.c_str(), w.label.c_str(),
                    w.can_fail ? 1 : 0);
    std::fflush(stdout);
}

int finish(int expected_calls) {
    const int calls = g_calls.load();
    std::printf("handler-calls %d\n", calls);
    std::fflush(stdout);
    return calls == expected_calls ? 0 : 1;
}

// A task waits on a gate that nothing will open; the handler fails the wait.
int event_never_set() {
    spindle_test::Gate gate("never");
    {
        spindle::PoolOptions o{.num_threads = 2};
        o.deadlock_delay = 50ms;
        o.deadlock_handler = [&](const spindle::DeadlockReport& r) {
            g_calls.fetch_add(1);
            print_report(r);
            for (std::size_t i = 0; i < r.waiters().size(); ++i)
                if (r.waiters()[i].can_fail && !r.fail(i))
                    std::printf("fail(%zu) returned false\n", i);
        };
        spindle::ThreadPool pool(o);
        pool.install([&] {
            try {
                gate.wait();
                std::printf("wait returned normally\n");
            } catch (const spindle::DeadlockError& e) {
                std::printf("wait failed: DeadlockError\n");
            }
        });
    }
    return finish(1);
}

// Two tasks each hold one std::mutex and block, inside a BlockingSection, on the other's.
int section_cycle() {
    std::mutex a;
    std::mutex b;
    std::atomic<int> holding{0};
    std::atomic<bool> give_up{false};
    std::atomic<int> gave_up{0};
    auto side = [&](std::mutex& mine, std::mutex& other, const char* label) {
        std::lock_guard<std::mutex> hold(mine);
        holding.fetch_add(1);
        while (holding.load() < 2)
            std::this_thread::yield();
        spindle::BlockingSection section(label);
        while (!other.try_lock()) {
            if (give_up.load()) {
                gave_up.fetch_add(1);
                return;
            }
            std::this_thread::sleep_for(1ms);  // the blocking wait of this scenario
        }
        other.unlock();
    };
    {
        spindle::PoolOptions o{.num_threads = 2};
        o.deadlock_delay = 50ms;
        o.deadlock_handler = [&](const spindle::DeadlockReport& r) {
            g_calls.fetch_add(1);
            print_report(r);
            give_up.store(true);
        };
        spindle::ThreadPool pool(o);
        pool.join([&] { side(a, b, "lock b"); }, [&] { side(b, a, "lock a"); });
    }
    std::printf("gave-up %d\n", gave_up.load());
    return finish(1);
}

// No handler: the report goes to stderr and the wait goes on (the parent kills us).
int no_handler() {
    spindle_test::Gate gate("never");
    spindle::PoolOptions o{.num_threads = 2};
    o.deadlock_delay = 50ms;
    spindle::ThreadPool pool(o);
    pool.install([&] { gate.wait(); });
    std::printf("wait returned\n");
    return 1;
}

// The handler does not break the deadlock; 1 s later (ten grace periods) a thread outside the
// pool opens the gate. Exactly one call is expected.
int exactly_once() {
    spindle_test::Gate gate("late");
    {
        spindle::PoolOptions o{.num_threads = 2};
        o.deadlock_delay = 50ms;
        o.deadlock_handler = [&](const spindle::DeadlockReport& r) {
            g_calls.fetch_add(1);
            print_report(r);
        };
        spindle::ThreadPool pool(o);
        std::thread opener([&] {
            std::this_thread::sleep_for(1000ms);
            gate.open();
        });
        pool.install([&] { gate.wait(); });
        opener.join();
    }
    return finish(1);
}

// Negatives: the gate is opened, after a while, by ...
int negative(const char* how) {
    spindle_test::Gate gate("opened later");
    {
        spindle::PoolOptions o{.num_threads = 2};
        o.deadlock_delay = 200ms;
        o.deadlock_handler = [&](const spindle::DeadlockReport& r) {
            g_calls.fetch_add(1);
            print_report(r);
            for (std::size_t i = 0; i < r.waiters().size(); ++i)
                r.fail(i);  // end the scenario quickly if it ever fires
        };
        spindle::ThreadPool pool(o);
        auto waiter = [&] {
            try {
                gate.wait();
            } catch (const spindle::DeadlockError&) {
                std::printf("wait failed: DeadlockError\n");
            }
        };
        if (std::strcmp(how, "long-task") == 0) {
            // ... a task that computes for 1 s.
            pool.join(waiter, [&] {
                const auto end = std::chrono::steady_clock::now() + 1000ms;
                while (std::chrono::steady_clock::now() < end) {
                }
                gate.open();
            });
        } else if (std::strcmp(how, "long-sleep") == 0) {
            // ... a task that sleeps for 1 s (not in a blocking section: it is running).
            pool.join(waiter, [&] {
                std::this_thread::sleep_for(1000ms);
                gate.open();
            });
        } else if (std::strcmp(how, "external-submitter") == 0) {
            // ... a thread outside the pool that keeps submitting work for 1 s.
            std::thread submitter([&] {
                std::atomic<int> ran{0};
                for (int i = 0; i < 100; ++i) {
                    pool.spawn([&ran] { ran.fetch_add(1); });
                    std::this_thread::sleep_for(10ms);
                }
                gate.open();
            });
            pool.install(waiter);
            submitter.join();
        } else if (std::strcmp(how, "keep-active") == 0) {
            // ... a thread outside the pool that holds KeepActive and is silent for 1 s.
            std::atomic<bool> holding{false};
            std::thread outsider([&] {
                auto busy = pool.keep_active();
                holding.store(true);
                std::this_thread::sleep_for(1000ms);
                gate.open();
            });
            while (!holding.load())
                std::this_thread::yield();
            pool.install(waiter);
            outsider.join();
        } else {
            std::fprintf(stderr, "unknown negative mode %s\n", how);
            return 2;
        }
    }
    return finish(0);
}

// Without a handler the report goes to stderr and the waits go on; the parent captures stderr
// in a file. This reads that file back (through /proc/self/fd/2) until the report is complete
// (`needle` seen, then 300 ms with nothing new), then ends the process: no timing guess.
[[noreturn]] void exit_once_reported(const char* needle) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    std::string text;
    std::size_t seen_at = 0;
    auto seen_since = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() < deadline) {
        const int fd = ::open("/proc/self/fd/2", O_RDONLY);
        text.clear();
        char buf[4096];
        for (ssize_t n; fd >= 0 && (n = ::read(fd, buf, sizeof buf)) > 0;)
            text.append(buf, static_cast<std::size_t>(n));
        if (fd >= 0)
            ::close(fd);
        if (text.find(needle) != std::string::npos) {
            if (text.size() != seen_at) {
                seen_at = text.size();
                seen_since = std::chrono::steady_clock::now();
            } else if (std::chrono::steady_clock::now() - seen_since > 300ms) {
                std::printf("report seen\n");
                std::fflush(stdout);
                ::_exit(0);
            }
        }
        std::this_thread::sleep_for(10ms);
    }
    std::printf("no report\n");
    std::fflush(stdout);
    ::_exit(1);
}

// Many tasks wait on the same gate, a few on others: the report merges identical waits.
// 1,000 on gate "many" (so on both workers), and two gates both labelled "twin" with two
// waiters each (the same label, different primitives: two lines).
int many_waiters(bool with_handler) {
    spindle_test::Gate many("many");
    spindle_test::Gate twin_a("twin");
    spindle_test::Gate twin_b("twin");
    std::atomic<int> failed{0};
    spindle::PoolOptions o{.num_threads = 2};
    o.deadlock_delay = 50ms;
    if (with_handler)
        o.deadlock_handler = [&](const spindle::DeadlockReport& r) {
            g_calls.fetch_add(1);
            const std::string text = r.to_string();
            std::printf("waiters %zu\nreport-begin\n%sreport-end\n", r.waiters().size(),
                        text.c_str());
            std::fflush(stdout);
            for (std::size_t i = 0; i < r.waiters().size(); ++i)
                r.fail(i);
        };
    auto* pool = new spindle::ThreadPool(o);
    std::thread watcher;
    if (!with_handler)
        watcher = std::thread([] { exit_once_reported("spindle: deadlock"); });
    auto wait_on = [&](spindle_test::Gate& g) {
        try {
            g.wait();
        } catch (const spindle::DeadlockError& e) {
            // The text of fail(i)'s error is the merged report too.
            if (std::strstr(e.what(), "1000 tasks wait on Gate 'many'") != nullptr)
                failed.fetch_add(1);
        }
    };
    pool->scope([&](spindle::Scope& s) {
        for (int i = 0; i < 2; ++i) {
            s.spawn([&] { wait_on(twin_a); });
            s.spawn([&] { wait_on(twin_b); });
        }
        for (int i = 0; i < 1000; ++i)
            s.spawn([&] { wait_on(many); });
    });
    delete pool;
    std::printf("failed %d\n", failed.load());
    return finish(1);
}

// The fiber limit stops the pool: a 1-worker pool with max_fibers = 4. A scope spawns a job
// that would open the gate, then 8 that wait on it; the worker runs waiters (newest first)
// until it holds 4 parked fibers, then may start no job, with 5 queued: the opener among them.
// The handler (if any) prints the report and opens the gate.
int fiber_limit(bool with_handler) {
    spindle_test::Gate gate("limit");
    spindle::PoolOptions o{.num_threads = 1, .max_fibers = 4};
    o.deadlock_delay = 50ms;
    if (with_handler)
        o.deadlock_handler = [&](const spindle::DeadlockReport& r) {
            g_calls.fetch_add(1);
            std::printf("at-fiber-limit %d\ncause %s\nreport-begin\n%sreport-end\n",
                        r.at_fiber_limit() ? 1 : 0, r.cause().c_str(), r.to_string().c_str());
            std::fflush(stdout);
            gate.open();
        };
    spindle::ThreadPool pool(o);
    std::thread watcher;
    if (!with_handler)
        watcher = std::thread([] { exit_once_reported("spindle: deadlock"); });
    std::atomic<int> done{0};
    pool.scope([&](spindle::Scope& s) {
        s.spawn([&] { gate.open(); });
        for (int i = 0; i < 8; ++i)
            s.spawn([&] {
                gate.wait();
                done.fetch_add(1);
            });
    });
    std::printf("done %d\n", done.load());
    return finish(1);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s MODE\n", argv[0]);
        return 2;
    }
    const std::string mode = argv[1];
    if (mode == "event-never-set")
        return event_never_set();
    if (mode == "section-cycle")
        return section_cycle();
    if (mode == "no-handler")
        return no_handler();
    if (mode == "exactly-once")
        return exactly_once();
    if (mode == "many-waiters")
        return many_waiters(true);
    if (mode == "many-waiters-no-handler")
        return many_waiters(false);
    if (mode == "fiber-limit")
        return fiber_limit(true);
    if (mode == "fiber-limit-no-handler")
        return fiber_limit(false);
    return negative(argv[1]);
}
