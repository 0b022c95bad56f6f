// The fork generation and the pthread_atfork child handler (see fork.hpp).
#include "util/fork.hpp"

#include "spindle/detail/runtime.hpp"
#include "util/fatal.hpp"

#include <pthread.h>

#include <cstdarg>
#include <cstdio>
#include <new>

namespace spindle::detail {

std::atomic<std::uint64_t> g_fork_generation{0};

namespace {

// Objects abandoned by a child process: a list that is pushed (CAS) and never popped.
struct Abandoned {
    const void* object;
    Abandoned* next;
};
std::atomic<Abandoned*> g_abandoned{nullptr};

// Runs in the child, on the thread that called fork(), which is now the process's only
// thread. glibc runs it after resetting malloc's locks, so allocating here is allowed.
void after_fork_in_child() noexcept {
    g_fork_generation.fetch_add(1, std::memory_order_relaxed);
    global_pool_after_fork();
    if (WorkerCore* w = current_worker())
        worker_after_fork(w);
}

pthread_once_t g_register_once = PTHREAD_ONCE_INIT;

void register_handler() noexcept {
    if (pthread_atfork(nullptr, nullptr, &after_fork_in_child) != 0)
        std::fprintf(stderr,
                     "spindle: warning: pthread_atfork failed; a child of fork() that uses a "
                     "pool created before the fork may hang\n");
}

}  // namespace

std::uint64_t fork_generation_at_creation() noexcept {
    // pthread_once, not a function-local static: glibc's pthread_once restarts in a child an
    // initialisation that a fork interrupted, where a static's guard would stay taken.
    pthread_once(&g_register_once, &register_handler);
    return g_fork_generation.load(std::memory_order_relaxed);
}

void fatal_pool_used_after_fork(const char* format, ...) noexcept {
    char use[256];
    va_list args;
    va_start(args, format);
    std::vsnprintf(use, sizeof use, format, args);
    va_end(args);
    fatal(
        "a ThreadPool created before fork() was used in the child process (%s), where its "
        "worker threads do not exist; create a new pool in the child (spindle::global_pool() "
        "builds a fresh global pool there), or exec",
        use);
}

void fatal_worker_used_after_fork(const char* format, ...) noexcept {
    char use[256];
    va_list args;
    va_start(args, format);
    std::vsnprintf(use, sizeof use, format, args);
    va_end(args);
    fatal(
        "fork() was called on a worker thread of a ThreadPool and the child process went back "
        "to the pool (%s), whose other threads do not exist in the child; a child forked on a "
        "worker may only exec or _exit",
        use);
}

void keep_abandoned(const void* object) noexcept {
    auto* node = new (std::nothrow) Abandoned{object, nullptr};
    if (node == nullptr)
        return;  // only a leak checker would notice
    Abandoned* head = g_abandoned.load(std::memory_order_relaxed);
    do {
        node->next = head;
        // relaxed: nobody reads the list; it only keeps the objects reachable.
    } while (!g_abandoned.compare_exchange_weak(head, node, std::memory_order_relaxed));
}

}  // namespace spindle::detail
