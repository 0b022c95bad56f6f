// Helpers shared by the spindle test suites.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

namespace spindle_test {

// True in builds instrumented by AddressSanitizer or ThreadSanitizer (GCC defines the
// __SANITIZE_*__ macros, Clang answers __has_feature).
constexpr bool under_sanitizer() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return true;
#else
    return false;
#endif
#else
    return false;
#endif
}

constexpr bool under_asan() {
#if defined(__SANITIZE_ADDRESS__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return true;
#else
    return false;
#endif
#else
    return false;
#endif
}

constexpr bool under_tsan() {
#if defined(__SANITIZE_THREAD__)
    return true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    return true;
#else
    return false;
#endif
#else
    return false;
#endif
}

// n in a plain build, n / divisor (at least 1) under a sanitizer.
constexpr std::size_t scaled(std::size_t n, std::size_t divisor = 5) {
    if (!under_sanitizer())
        return n;
    const std::size_t s = n / divisor;
    return s == 0 ? 1 : s;
}

// A deadline long enough that only a hang (a real bug) can exceed it, even on an overloaded
// 2-core CI machine under TSan. Tests use it so that a bug fails the test instead of hanging.
inline constexpr std::chrono::seconds k_generous{30};

// Polls pred (sleeping briefly between polls) until it holds or `limit` passes. Returns
// whether it held. The outcome is deterministic for correct code: limit is a hang guard.
template <class Pred>
bool wait_until(Pred&& pred, std::chrono::milliseconds limit = k_generous) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline)
            return pred();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

// Busy-waits (yielding the CPU) until pred holds or limit passes; for waits inside pool
// tasks where sleeping would change the scenario. Returns whether pred held.
template <class Pred>
bool spin_until(Pred&& pred, std::chrono::milliseconds limit = k_generous) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline)
            return pred();
        std::this_thread::yield();
    }
    return true;
}

// Serial Fibonacci, the reference for the parallel versions.
inline std::uint64_t fib_serial(unsigned n) {
    return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
}

// Fibonacci with spindle::join at every level above `cutoff`. Defined in test_util.cpp.
std::uint64_t fib_join(unsigned n, unsigned cutoff = 8);

// Creates and destroys a small pool, so that process-wide helpers started lazily on the first
// thread creation (ThreadSanitizer's background thread, for one) exist before a test takes a
// baseline count of /proc/self/task.
void warm_up_thread_creation();

// Number of entries of a /proc directory (/proc/self/task, /proc/self/fd), or -1.
long count_dir_entries(const char* path);

// Sets an environment variable for the lifetime of the object and restores the previous
// value (or its absence) afterwards. nullptr as value unsets it.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value);
    ~ScopedEnv();
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    std::string m_name;
    std::optional<std::string> m_old;
};

// Makes the current death test re-execute the test binary ("threadsafe" style), which is
// required because spindle pools (the global one included) have live threads.
#define SPINDLE_DEATH_TEST_PROLOGUE() GTEST_FLAG_SET(death_test_style, "threadsafe")

// Worker counts the parameterised tests run at.
inline constexpr std::size_t k_worker_counts[] = {1, 2, 4, 8};

}  // namespace spindle_test
