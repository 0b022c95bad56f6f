// Jobs, latches and result storage shared by the templates of the public API.
// Vocabulary: design-notes/0000-glossary.md.
#pragma once

#include "spindle/context.hpp"
#include "spindle/detail/config.hpp"

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <variant>

namespace spindle::detail {

// A job: a unit of work that has not started yet. Jobs are what deques and the injector hold
// and what thieves steal; a started job is never moved (it runs on one fiber). ctx is the
// context of the code that created it (spindle/context.hpp), installed before it runs.
struct Job {
    using Execute = void (*)(Job*) noexcept;
    explicit Job(Execute e) noexcept : execute(e), ctx(current_context()) {}
    Execute execute;
    Context ctx;
};

// Runs a job with its captured context. The caller restores its own context afterwards if it
// goes on running code of its own (see wait_latch's helping loop).
inline void execute_job(Job* j) noexcept {
    set_context(j->ctx);
    j->execute(j);
}

// Something that can be woken: a parked fiber, or a thread blocked outside any pool.
struct Waiter {
    enum class Kind : std::uint8_t { fiber, thread };
    Kind kind;
};

// Wakes w (defined in src/scheduler/worker.cpp). For a fiber: makes it ready on its owning
// worker and wakes that worker. For a thread: releases its blocking wait.
SPINDLE_API void wake_waiter(Waiter* w) noexcept;

// A one-shot latch. m_state: 0 = unset, 1 = set, any other value = the Waiter* parked on it.
// Written by: the one setter (exchange to 1) and the one waiter (CAS 0 -> Waiter*, done on the
// scheduler's side after the waiter's context is saved, see Worker::park). Read by the waiter.
// The setter must not touch the latch's owner after set() returns: set() reads everything it
// needs from the exchanged value.
class Latch {
public:
    bool probe() const noexcept {
        // acquire: pairs with the acq_rel exchange in set(); makes the job's results visible.
        return m_state.load(std::memory_order_acquire) == k_set;
    }

    void set() noexcept {
        // acq_rel: release publishes the results written before set(); acquire pairs with the
        // release CAS in try_register() so the Waiter's fields are visible.
        const std::uintptr_t prev = m_state.exchange(k_set, std::memory_order_acq_rel);
        if (prev > k_set) [[unlikely]]
            wake_waiter(reinterpret_cast<Waiter*>(prev));
    }

    // Registers w as the waiter. Returns false when the latch is already set (then the caller
    // must not park). Called once per wait.
    bool try_register(Waiter* w) noexcept {
        std::uintptr_t expected = k_unset;
        // release: publishes w (pairs with the exchange in set()); acquire on failure: the
        // latch was set, pairs with set()'s release.
        return m_state.compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(w),
                                               std::memory_order_acq_rel,
                                               std::memory_order_acquire);
    }

private:
    static constexpr std::uintptr_t k_unset = 0;
    static constexpr std::uintptr_t k_set = 1;
    std::atomic<std::uintptr_t> m_state{k_unset};
};

// Waits until latch is set: spins briefly, then parks the current fiber (on a worker; if no
// fiber can be had, runs other jobs nested until it is set) or blocks the thread (elsewhere).
// spin = false: a thread outside any pool blocks at once, without spinning (its job went to an
// idle pool, see inject()). Defined in src/scheduler/worker.cpp.
SPINDLE_API void wait_latch(Latch& latch, bool spin = true);

// A latch set when a counter reaches zero.
class SPINDLE_API CountLatch {
public:
    explicit CountLatch(std::size_t n) noexcept : m_count(n) {}
    void add(std::size_t n = 1) noexcept { m_count.fetch_add(n, std::memory_order_relaxed); }
    void count_down() noexcept {
        // acq_rel: the last decrement acquires every earlier decrement's writes, then set()
        // releases them to the waiter.
        if (m_count.fetch_sub(1, std::memory_order_acq_rel) == 1)
            m_latch.set();
    }
    Latch& latch() noexcept { return m_latch; }

private:
    // Written by every participant (fetch_add/fetch_sub); the one that brings it to zero sets
    // the latch.
    std::atomic<std::size_t> m_count;
    Latch m_latch;
};

// void results are returned as std::monostate so that join() can always return a pair.
template <class T>
using result_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

// Storage for a value that may not be default-constructible.
template <class T>
class Slot {
public:
    Slot() noexcept {}
    ~Slot() {
        if (m_full)
            reinterpret_cast<T*>(&m_buf)->~T();
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

    template <class F>
    void emplace_from(F& f) {
        if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
            f();
            ::new (static_cast<void*>(&m_buf)) T();
        } else {
            ::new (static_cast<void*>(&m_buf)) T(f());
        }
        m_full = true;
    }
    T take() { return std::move(*std::launder(reinterpret_cast<T*>(&m_buf))); }

private:
    alignas(T) unsigned char m_buf[sizeof(T)];
    bool m_full = false;
};

// Calls f and stores the result, or the exception it threw.
template <class F, class R = result_t<std::invoke_result_t<F&>>>
struct Outcome {
    Slot<R> value;
    std::exception_ptr error;

    void run(F& f) noexcept {
        try {
            value.emplace_from(f);
        } catch (...) {
            error = std::current_exception();
        }
    }
};

// A closure's result or its exception, without a record of which: join's control flow knows
// (run() returned true: value; false: error), so nothing is stored on its fast path beyond
// the result itself. Constructs nothing by itself; the code that ran it destroys what run()
// built, with take_value(), take_error() or drop_*().
template <class R>
struct UncheckedOutcome {
    union {
        R value;
        std::exception_ptr error;
    };
    UncheckedOutcome() noexcept {}
    ~UncheckedOutcome() {}
    UncheckedOutcome(const UncheckedOutcome&) = delete;
    UncheckedOutcome& operator=(const UncheckedOutcome&) = delete;

    // Calls f: builds value from its result and returns true, or builds error from the
    // exception it threw and returns false.
    template <class F>
    [[gnu::always_inline]] bool run(F& f) noexcept {
        try {
            if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
                f();
                ::new (static_cast<void*>(std::addressof(value))) R();
            } else {
                ::new (static_cast<void*>(std::addressof(value))) R(f());
            }
            return true;
        } catch (...) {
            ::new (static_cast<void*>(std::addressof(error)))
                std::exception_ptr(std::current_exception());
            return false;
        }
    }
    // After run() returned true: moves the value out and destroys it (also if the move throws).
    R take_value() {
        struct Destroy {
            R* p;
            ~Destroy() { p->~R(); }
        } destroy{std::addressof(value)};
        return R(std::move(value));
    }
    void drop_value() noexcept { value.~R(); }
    // After run() returned false.
    std::exception_ptr take_error() noexcept {
        std::exception_ptr e(std::move(error));
        error.~exception_ptr();
        return e;
    }
    void drop_error() noexcept { error.~exception_ptr(); }
};

// After both runs returned true: moves both values out into a pair and destroys them, also
// when a move throws (the value not yet taken is still destroyed).
template <class RA, class RB>
std::pair<RA, RB> take_both(UncheckedOutcome<RA>& a, UncheckedOutcome<RB>& b) {
    struct Drop {
        UncheckedOutcome<RB>* b;
        bool owns;
        ~Drop() {
            if (owns)
                b->drop_value();
        }
    } drop_b{&b, true};
    RA&& va = a.take_value();  // a temporary, extended: if b's move throws, it is destroyed too
    drop_b.owns = false;
    return {std::move(va), b.take_value()};
}

// join's second half, on the joiner's stack. Its constructor writes only the job header, fn
// and the latch: when the joiner takes it back (the fast path) it runs b itself, straight into
// outcome; only a thief's run() writes `failed`.
template <class F>
struct JoinJob : Job {
    using R = result_t<std::invoke_result_t<F&>>;
    explicit JoinJob(F& f) noexcept : Job(&JoinJob::run), fn(f) {}
    F& fn;
    Latch done;
    // Written by run() before done.set() (whose release publishes it with the outcome); read
    // by the joiner after it saw the latch set. Unset while the joiner runs b itself.
    bool failed;
    UncheckedOutcome<R> outcome;

    static void run(Job* j) noexcept {
        auto* self = static_cast<JoinJob*>(j);
        self->failed = !self->outcome.run(self->fn);
        self->done.set();
    }
};

// A job that lives on the stack of the fiber that waits for it (install from outside).
template <class F>
struct StackJob : Job {
    explicit StackJob(F& f) noexcept : Job(&StackJob::run), fn(f) {}
    F& fn;
    Outcome<F> outcome;
    Latch done;

    static void run(Job* j) noexcept {
        auto* self = static_cast<StackJob*>(j);
        self->outcome.run(self->fn);
        self->done.set();
    }
};

}  // namespace spindle::detail
