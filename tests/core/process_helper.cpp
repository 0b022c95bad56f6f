// Child process for the process-level tests of tests/core/fork_test.cpp and
// global_exit_test.cpp: fork() with pools alive, and the global pool's exit rule. Each mode
// prints what it observed on stdout and exits 0 when the scenario ended as it should; the
// parent test runs it under a timeout. Modes that fork wait for their own child with a timeout
// too and print how it ended: "child-exit N", "child-signal N" or "child-hung" (then killed).
#include <spindle/spindle.hpp>

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;

constexpr auto k_child_limit = 30s;  // only a hang takes this long

std::uint64_t fib(unsigned n) {
    if (n < 2)
        return n;
    auto [a, b] = spindle::join([&] { return fib(n - 1); }, [&] { return fib(n - 2); });
    return a + b;
}

// Waits for the child (polling, so that a hung child is reported and killed), prints how it
// ended and returns 0 if that was `expected_exit` (or, with expected_exit < 0, the signal
// -expected_exit).
int reap(pid_t pid, int expected_exit) {
    std::fflush(stdout);
    const auto deadline = std::chrono::steady_clock::now() + k_child_limit;
    int status = 0;
    for (;;) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0) {
            std::perror("waitpid");
            return 1;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            std::printf("child-hung\n");
            return 1;
        }
        std::this_thread::sleep_for(5ms);
    }
    if (WIFEXITED(status)) {
        std::printf("child-exit %d\n", WEXITSTATUS(status));
        return WEXITSTATUS(status) == expected_exit ? 0 : 1;
    }
    if (WIFSIGNALED(status)) {
        std::printf("child-signal %d\n", WTERMSIG(status));
        return -WTERMSIG(status) == expected_exit ? 0 : 1;
    }
    std::printf("child-status %d\n", status);
    return 1;
}

// Threads of this process whose name is `name` (/proc/self/task/*/comm).
int threads_named(const char* name) {
    DIR* dir = ::opendir("/proc/self/task");
    if (dir == nullptr)
        return -1;
    int n = 0;
    while (const dirent* e = ::readdir(dir)) {
        if (e->d_name[0] == '.')
            continue;
        char path[300];  // d_name is at most 255 bytes
        std::snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        if (std::FILE* f = std::fopen(path, "r")) {
            char comm[32] = {};
            if (std::fgets(comm, sizeof comm, f) != nullptr) {
                comm[std::strcspn(comm, "\n")] = '\0';
                n += std::strcmp(comm, name) == 0 ? 1 : 0;
            }
            std::fclose(f);
        }
    }
    ::closedir(dir);
    return n;
}

// Lets every worker of the pool finish what it was doing and go idle, and waits until the
// pool's deadlock monitor thread has started. Each scenario forks only once its pools are
// settled: GCC 12's AddressSanitizer does not lock its allocator or its thread registry around
// fork(), so a parent thread inside malloc or free, or starting, at that instant (a worker
// starting up, a finished job freeing itself) leaves a lock taken in the child, whose thread
// creation or leak check at exit() then waits for ever. glibc's own malloc is safe (fork()
// takes its locks). The broadcast covers the workers; nothing waits for the monitor, which
// names itself "spindle-monitor" only after its start-up allocation (Registry::monitor_main).
void settle(spindle::ThreadPool& pool) {
    pool.broadcast([](spindle::BroadcastContext) {});
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (threads_named("spindle-monitor") < 1 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
}

// Forks; the child runs body() and exits with its result through exit() (static destructors
// and atexit handlers run, as in a real program); the parent reaps it.
template <class F>
int fork_and(int expected_exit, F&& body) {
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = ::fork();
    if (pid < 0) {
        std::perror("fork");
        return 1;
    }
    if (pid == 0) {
        const int code = body();
        std::fflush(stdout);
        std::exit(code);
    }
    return reap(pid, expected_exit);
}

// ---- fork with the global pool -----------------------------------------------------------

// The parent's global pool has threads and 100 pending detached jobs when it forks (the first
// ones running, waiting for `go`); the child gets a fresh global pool that runs joins,
// installs and detached spawns.
int fork_global() {
    if (fib(20) != 6765)
        return 1;
    settle(spindle::global_pool());
    std::atomic<bool> go{false};
    std::atomic<int> parent_spawned{0};
    for (int i = 0; i < 100; ++i)
        spindle::spawn([&] {
            while (!go.load())
                std::this_thread::sleep_for(1ms);
            parent_spawned.fetch_add(1);
        });
    const int rc = fork_and(0, [] {
        const std::uint64_t f = fib(22);
        const int v = spindle::global_pool().install([] { return 42; });
        std::atomic<int> ran{0};
        for (int i = 0; i < 1000; ++i)
            spindle::spawn([&] { ran.fetch_add(1); });
        spindle::shutdown_global();
        std::printf("child fib %llu install %d spawned %d\n", static_cast<unsigned long long>(f), v,
                    ran.load());
        return f == 17711 && v == 42 && ran.load() == 1000 ? 0 : 1;
    });
    go.store(true);
    spindle::shutdown_global();  // the parent's pool is untouched by the child
    std::printf("parent spawned %d\n", parent_spawned.load());
    return rc == 0 && parent_spawned.load() == 100 ? 0 : 1;
}

// The child keeps using a reference to the parent's global pool taken before the fork.
int fork_global_stale_reference() {
    spindle::ThreadPool& pool = spindle::global_pool();
    settle(pool);
    return fork_and(-SIGABRT, [&pool] {
        pool.install([] { std::printf("install ran in the child\n"); });
        return 0;
    });
}

// ---- fork with a private pool ------------------------------------------------------------

int fork_private(const std::string& use) {
    auto pool = std::make_unique<spindle::ThreadPool>(spindle::PoolOptions{.num_threads = 2});
    if (pool->install([] { return fib(15); }) != 610)
        return 1;
    settle(*pool);
    const bool dies = use != "destroy";
    const int rc = fork_and(dies ? -SIGABRT : 0, [&]() -> int {
        if (use == "install") {
            pool->install([] {});
        } else if (use == "join") {
            pool->join([] {}, [] {});
        } else if (use == "scope") {
            pool->scope([](spindle::Scope&) {});
        } else if (use == "spawn") {
            pool->spawn([] {});
        } else if (use == "broadcast") {
            pool->broadcast([](spindle::BroadcastContext) {});
        } else if (use == "keep-active") {
            auto busy = pool->keep_active();
        } else if (use == "destroy") {
            pool.reset();  // returns at once: nothing to wait for in the child
            std::printf("destroyed in the child\n");
            return 0;
        } else {
            std::fprintf(stderr, "unknown use %s\n", use.c_str());
            return 2;
        }
        std::printf("%s returned in the child\n", use.c_str());
        return 0;
    });
    // The parent's pool is unaffected and is destroyed normally.
    const std::uint64_t f = pool->install([] { return fib(16); });
    pool.reset();
    std::printf("parent fib %llu\n", static_cast<unsigned long long>(f));
    return rc == 0 && f == 987 ? 0 : 1;
}

// A pool with static storage duration (a namespace-scope pool) is alive when the child calls
// exit(): its destructor runs in the child and must not wait for the parent's threads.
std::optional<spindle::ThreadPool> g_static_pool;
std::atomic<int> g_static_pool_jobs{0};

int fork_exit() {
    g_static_pool.emplace(spindle::PoolOptions{.num_threads = 2});
    settle(*g_static_pool);
    // Leave a detached job running in the parent at the fork, so that the child inherits a
    // non-zero count of pending jobs.
    std::atomic<bool> release{false};
    g_static_pool->spawn([&] {
        while (!release.load())
            std::this_thread::sleep_for(1ms);
        g_static_pool_jobs.fetch_add(1);
    });
    const int rc = fork_and(0, [] {
        std::printf("child exits\n");
        return 0;
    });
    release.store(true);
    g_static_pool.reset();  // the parent's destructor waits for the job
    std::printf("parent jobs %d\n", g_static_pool_jobs.load());
    return rc == 0 && g_static_pool_jobs.load() == 1 ? 0 : 1;
}

// ---- fork on a worker thread -------------------------------------------------------------

// A job of a private pool forks. "exit": the child finishes its work inline (a join that stays
// on the worker) and calls exit(). "return": the child's job returns to the pool, which has no
// other thread in the child.
int fork_on_worker(const std::string& how) {
    spindle::ThreadPool pool({.num_threads = 2});
    settle(pool);
    pid_t pid = -1;
    pool.install([&] {
        std::fflush(stdout);
        std::fflush(stderr);
        pid = ::fork();
        if (pid != 0)
            return;
        auto [a, b] = spindle::join([] { return 1; }, [] { return 2; });
        std::printf("child join %d\n", a + b);
        std::fflush(stdout);
        if (how == "exit")
            std::exit(a + b == 3 ? 0 : 1);
    });
    // Only the parent gets here: in the child, the thread that called install does not exist.
    if (pid < 0) {
        std::perror("fork");
        return 1;
    }
    return reap(pid, how == "exit" ? 0 : -SIGABRT);
}

// ---- fork with a jobserver token gate ------------------------------------------------------

// "drop": the child destroys a gate created before the fork (whose pool was destroyed before
// it); it must return without waiting for the parent's agent thread. "reuse": the child builds
// a new pool whose workers use that gate: a fatal error naming the gate.
int fork_token_gate(const std::string& how) {
    spindle::PoolOptions o{.num_threads = 2};
    std::shared_ptr<spindle::TokenGate> gate =
        spindle::use_token_source(o, spindle::make_counting_tokens(2));
    {
        spindle::ThreadPool pool(o);
        if (pool.install([] { return fib(15); }) != 610)
            return 1;
    }
    return fork_and(how == "drop" ? 0 : -SIGABRT, [&]() -> int {
        if (how == "drop") {
            o = spindle::PoolOptions{};
            gate.reset();
            std::printf("gate dropped in the child\n");
            return 0;
        }
        spindle::ThreadPool pool(o);
        pool.install([] {});
        std::printf("pool with the old gate ran in the child\n");
        return 0;
    });
}

// ---- the global pool's exit rule ---------------------------------------------------------

std::atomic<int> g_ran{0};
std::atomic<int> g_nested{0};

// 1,000 detached jobs on the global pool (half of which spawn one more), then shutdown_global():
// all of them have run when it returns. Then the global pool works again (a new one).
int global_shutdown() {
    for (int i = 0; i < 1000; ++i)
        spindle::spawn([i] {
            std::this_thread::sleep_for(std::chrono::microseconds(100));
            if (i % 2 == 0)
                spindle::spawn([] { g_nested.fetch_add(1); });
            g_ran.fetch_add(1);
        });
    spindle::shutdown_global();
    const int ran = g_ran.load();
    const int nested = g_nested.load();
    spindle::shutdown_global();  // no global pool now: returns at once
    const int after = spindle::global_pool().install([] { return 7; });
    std::printf("ran %d nested %d after %d\n", ran, nested, after);
    return ran == 1000 && nested == 500 && after == 7 ? 0 : 1;
}

// The same jobs, but main returns without shutdown_global(): pending jobs are dropped (the
// process exits while they wait) and the process exits normally.
int global_no_shutdown() {
    for (int i = 0; i < 1000; ++i)
        spindle::spawn([] {
            std::this_thread::sleep_for(1ms);
            g_ran.fetch_add(1);
        });
    std::printf("returning with %d of 1000 run\n", g_ran.load());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s MODE [ARG]\n", argv[0]);
        return 2;
    }
    const std::string mode = argv[1];
    const std::string arg = argc > 2 ? argv[2] : "";
    if (mode == "fork-global")
        return fork_global();
    if (mode == "fork-global-stale-reference")
        return fork_global_stale_reference();
    if (mode == "fork-private")
        return fork_private(arg);
    if (mode == "fork-exit")
        return fork_exit();
    if (mode == "fork-on-worker")
        return fork_on_worker(arg);
    if (mode == "fork-token-gate")
        return fork_token_gate(arg);
    if (mode == "global-shutdown")
        return global_shutdown();
    if (mode == "global-no-shutdown")
        return global_no_shutdown();
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
}
