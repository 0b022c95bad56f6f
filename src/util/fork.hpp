// fork(): how spindle's objects notice that they are in a child process, where the threads
// they started do not exist (design-notes/0009).
//
// A pthread_atfork child handler increments a process-wide fork generation. Every object that
// owns threads (a pool's Registry, a TokenGate) records the generation it was created in; in a
// child its cold entry points compare it with the current one and fail with one fatal message
// instead of waiting for threads that will never answer. Hot paths never look.
#pragma once

#include <atomic>
#include <cstdint>

namespace spindle::detail {

struct WorkerCore;

// Incremented (relaxed) by the child handler, in the child, while it is the only thread; read
// (relaxed) by the checks. The child's later threads are created after the increment, so they
// see it (thread creation orders it).
extern std::atomic<std::uint64_t> g_fork_generation;

// Registers the child handler (once per process) and returns the current generation: what an
// object that starts threads records at creation.
std::uint64_t fork_generation_at_creation() noexcept;

// True in a child of fork() (at any depth) when the object was created before that fork.
inline bool created_before_fork(std::uint64_t generation) noexcept {
    return g_fork_generation.load(std::memory_order_relaxed) != generation;
}

// The fatal error for a pool used in a child of fork() that was created before it. The
// printf-style arguments name the use: "spindle: fatal: a ThreadPool created before fork() was
// used in the child process (<use>), ...".
[[noreturn, gnu::cold, gnu::format(printf, 1, 2)]] void fatal_pool_used_after_fork(
    const char* format, ...) noexcept;
// The fatal error for a child of a fork() called on a pool's worker thread that goes back to
// the pool (the use: it waited, it ran out of work, it entered a BlockingSection).
[[noreturn, gnu::cold, gnu::format(printf, 1, 2)]] void fatal_worker_used_after_fork(
    const char* format, ...) noexcept;

// Keeps an object that a child process abandons (it cannot be freed: its threads' state is
// unknown) reachable from a global list, so that leak checkers do not report it. Never freed.
void keep_abandoned(const void* object) noexcept;

// Called by the child handler. The global pool is abandoned and a fresh one is built on next
// use (src/pool.cpp). When fork() was called on a worker's thread, that worker stops looking at
// the jobs of the parent's other threads, which run in the parent (src/scheduler/registry.cpp).
void global_pool_after_fork() noexcept;
void worker_after_fork(WorkerCore* w) noexcept;

}  // namespace spindle::detail
