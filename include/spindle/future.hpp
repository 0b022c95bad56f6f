// Promise<T>, Future<T>, SharedFuture<T>: a one-shot value (or exception) handed from the task
// that produces it to the tasks that wait for it; and spindle::async, which runs a closure on
// a pool and returns a Future of its result.
//
//     spindle::Promise<int> p("answer");
//     spindle::Future<int> f = p.get_future();
//     pool.spawn([p = std::move(p)]() mutable { p.set_value(42); });
//     int v = f.get();  // on a worker: parks this fiber; elsewhere: blocks this thread
//
//     spindle::Future<int> g = spindle::async(pool, [] { return 6 * 7; });
//
// Semantics. A Promise is satisfied at most once, by set_value() or set_exception(); a
// second attempt throws std::logic_error. A Promise destroyed unsatisfied (a "broken
// promise") stores a spindle::BrokenPromise exception, which get() then throws. A Future
// is move-only and its get() may be called once (it moves the value out; afterwards valid()
// is false); share() turns it into a SharedFuture, which is copyable and whose get() returns
// a const reference and may be called any number of times, from any number of tasks at once.
// T = void is supported (get() returns nothing). T may not be a reference
// (use std::reference_wrapper).
//
// If T's move or copy constructor throws inside set_value(), the exception propagates to the
// caller of set_value() and the Promise stays unsatisfied (it can still be set, or broken).
//
// Where it waits. get()/wait() on a pool worker park the calling fiber and the worker runs
// other jobs meanwhile; on any other thread they block the thread. No spin, no timed wait.
//
// Memory ordering. Everything the producer wrote before set_value()/set_exception()
// happens-before the return of every get()/wait() and every is_ready() that returns true
// (release store of the state under the lock, acquire loads).
//
// Deadlocks. A wait carries a WaitSite ("Future", the Promise's label) and can be cancelled
// by a deadlock breaker (design-notes/0005): get()/wait() then throw the breaker's exception
// and the Future stays valid.
//
// Lifetime. The value lives in a reference-counted shared state (one heap allocation per
// Promise), so Promise and Future may be destroyed in any order. Destroying a Future object
// while a get() on that same object is in progress is undefined behaviour, as for std::future.
#pragma once

#include "spindle/detail/config.hpp"
#include "spindle/detail/wait.hpp"
#include "spindle/detail/wait_util.hpp"
#include "spindle/pool.hpp"
#include "spindle/spawn.hpp"

#include <atomic>
#include <cstdint>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace spindle {

/// Thrown by Future::get() when the Promise was destroyed without a value or exception.
class SPINDLE_API BrokenPromise : public std::logic_error {
public:
    BrokenPromise()
        : std::logic_error("spindle: broken promise (the Promise was destroyed unsatisfied)") {}
};

template <class T>
class Future;
template <class T>
class SharedFuture;

namespace detail {

/// The state a Promise shares with its Futures.
template <class T>
class FutureState {
public:
    using Stored = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

    explicit FutureState(const char* label) noexcept : m_label(label) {}
    ~FutureState() {
        if (m_status.load(std::memory_order_relaxed) == k_value)
            value().~Stored();
    }
    FutureState(const FutureState&) = delete;
    FutureState& operator=(const FutureState&) = delete;

    void retain() noexcept {
        // relaxed: the caller already holds a reference, so the state cannot go away.
        m_refs.fetch_add(1, std::memory_order_relaxed);
    }
    void release() noexcept {
        // acq_rel: release orders this holder's accesses before the deletion; acquire (on
        // the last release) makes every other holder's accesses happen before it.
        if (m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
            delete this;
    }

    /// Claims the right to satisfy the state; throws std::logic_error if already claimed.
    void claim(const char* what) {
        // acquire/release are not needed: the claim only decides which setter proceeds; the
        // value is published by publish().
        if (m_claimed.exchange(true, std::memory_order_relaxed))
            throw std::logic_error(std::string("spindle: Promise '") +
                                   (m_label != nullptr ? m_label : "") + "': " + what +
                                   " on a promise that is already satisfied");
    }
    void unclaim() noexcept { m_claimed.store(false, std::memory_order_relaxed); }
    bool claimed() const noexcept { return m_claimed.load(std::memory_order_relaxed); }

    template <class... A>
    void set_value(A&&... a) {
        claim("set_value");
        try {
            ::new (static_cast<void*>(&m_buf)) Stored(std::forward<A>(a)...);
        } catch (...) {
            unclaim();
            throw;
        }
        publish(k_value);
    }
    void set_exception(std::exception_ptr e) {
        if (!e)
            throw std::invalid_argument(
                "spindle: Promise::set_exception with a null exception_ptr");
        claim("set_exception");
        m_error = std::move(e);
        publish(k_error);
    }
    /// For ~Promise: breaks the promise if nobody satisfied it.
    void break_if_unsatisfied() noexcept {
        if (m_claimed.exchange(true, std::memory_order_relaxed))
            return;
        m_error = std::make_exception_ptr(BrokenPromise());
        publish(k_error);
    }

    bool ready() const noexcept {
        // acquire: pairs with publish()'s release store.
        return m_status.load(std::memory_order_acquire) != k_empty;
    }

    void wait() {
        if (ready())
            return;
        wait_cold();
    }

    /// After wait(): the value, or rethrows the stored exception.
    Stored& value_or_throw() {
        if (m_status.load(std::memory_order_acquire) == k_error)
            std::rethrow_exception(m_error);
        return value();
    }

    const char* label() const noexcept { return m_label; }

private:
    friend struct WaitTestAccess;  ///< white-box tests (tests/wait)
    static constexpr std::uint8_t k_empty = 0;
    static constexpr std::uint8_t k_value = 1;
    static constexpr std::uint8_t k_error = 2;

    Stored& value() noexcept { return *std::launder(reinterpret_cast<Stored*>(&m_buf)); }

    void publish(std::uint8_t status) noexcept {
        // A waiter that sees the status may return and drop every reference it can reach,
        // including, through the user's code, the Promise whose set_value() is still inside
        // this call (tests: Future.ValueFromATaskToAnExternalThreadAndToATask). Hold a
        // reference of our own until we no longer touch the state (invariant W3).
        retain();
        WaitList woken;
        m_waiters.lock();
        // release: publishes the value or exception (pairs with the acquire loads in ready(),
        // wait_cold() and value_or_throw()).
        m_status.store(status, std::memory_order_release);
        m_waiters.take_all(woken);
        m_waiters.unlock();
        wake_all(woken);  // touches only the unlinked nodes
        release();
    }

    [[gnu::noinline]] void wait_cold() {
        m_waiters.lock();
        if (m_status.load(std::memory_order_acquire) != k_empty) {
            m_waiters.unlock();
            return;
        }
        WaitNode node(WaitSite{"Future", m_label, this,
                               &WaitQueue::cancel_in<FutureState, &FutureState::m_waiters>,
                               nullptr});
        m_waiters.wait(node);
        node.rethrow_if_failed();
    }

    /// Holders: the Promise and every Future/SharedFuture. Written by retain (relaxed) and
    /// release (acq_rel); the last release deletes the state.
    std::atomic<std::uint32_t> m_refs{1};
    /// Set once by the setter that wins (relaxed exchange; it only picks the winner), reset by
    /// set_value if T's constructor throws.
    std::atomic<bool> m_claimed{false};
    /// k_empty until satisfied. Written once by publish() under m_waiters' lock (release); read by
    /// waiters (acquire: pairs with that store, makes m_buf / m_error visible).
    std::atomic<std::uint8_t> m_status{k_empty};
    const char* const m_label;
    WaitQueue m_waiters;         ///< its lock guards the queue and the write of m_status
    std::exception_ptr m_error;  ///< written by the setter before publish(k_error)
    alignas(Stored) unsigned char m_buf[sizeof(Stored)];
};

}  // namespace detail

/// The producing side of a one-shot value: set_value() or set_exception() once; its Future gets it.
/// Destroyed unsatisfied, it hands the Future a BrokenPromise.
template <class T>
class Promise {
    static_assert(!std::is_reference_v<T>, "spindle::Promise<T&>: use std::reference_wrapper");
    using Arg = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

public:
    /// label: shown in deadlock reports of waits on this promise's futures; nullptr or a
    /// string that outlives the shared state.
    explicit Promise(const char* label = nullptr) : m_state(new detail::FutureState<T>(label)) {}
    ~Promise() {
        if (m_state != nullptr) {
            m_state->break_if_unsatisfied();
            m_state->release();
        }
    }
    /// Moves the shared state; o is left without one (valid() false).
    Promise(Promise&& o) noexcept
        : m_state(std::exchange(o.m_state, nullptr)),
          m_future_taken(std::exchange(o.m_future_taken, false)) {}
    /// Breaks the promise this one held, if unsatisfied, then takes o's.
    Promise& operator=(Promise&& o) noexcept {
        if (this != &o) {
            Promise dead(std::move(*this));
            m_state = std::exchange(o.m_state, nullptr);
            m_future_taken = std::exchange(o.m_future_taken, false);
        }
        return *this;
    }
    Promise(const Promise&) = delete;
    Promise& operator=(const Promise&) = delete;

    /// The Future for this promise; throws std::logic_error on a second call or a moved-from
    /// Promise.
    Future<T> get_future() {
        check("get_future");
        if (m_future_taken)
            throw std::logic_error("spindle: Promise::get_future called twice");
        m_future_taken = true;
        m_state->retain();
        return Future<T>(m_state);
    }

    /// Stores the value and wakes every waiter. Throws std::logic_error if the promise is
    /// already satisfied (or moved from); T's constructor's exception propagates, leaving the
    /// promise unsatisfied.
    void set_value(const Arg& v) requires(!std::is_void_v<T>) {
        check("set_value");
        m_state->set_value(v);
    }
    /// As set_value(const Arg&), moving v.
    void set_value(Arg&& v) requires(!std::is_void_v<T>) {
        check("set_value");
        m_state->set_value(std::move(v));
    }
    /// Satisfies a Promise<void>; the same rules as set_value(const Arg&).
    void set_value() requires std::is_void_v<T> {
        check("set_value");
        m_state->set_value();
    }
    /// Stores e (which must not be null) and wakes every waiter; their get() rethrows it.
    void set_exception(std::exception_ptr e) {
        check("set_exception");
        m_state->set_exception(std::move(e));
    }

    /// True while the promise has a shared state (not moved from).
    bool valid() const noexcept { return m_state != nullptr; }

private:
    void check(const char* what) const {
        if (m_state == nullptr)
            throw std::logic_error(std::string("spindle: Promise::") + what +
                                   " on a moved-from Promise");
    }
    detail::FutureState<T>* m_state;
    bool m_future_taken = false;
};

template <class T>
/// The consuming side of a one-shot value: get() waits for it and returns it, or rethrows
/// the producer's exception (std::future for fibers).
class Future {
public:
    Future() noexcept = default;
    ~Future() {
        if (m_state != nullptr)
            m_state->release();
    }
    /// Moves the shared state; o is left without one.
    Future(Future&& o) noexcept : m_state(std::exchange(o.m_state, nullptr)) {}
    /// Moves the shared state; o is left without one.
    Future& operator=(Future&& o) noexcept {
        if (this != &o) {
            if (m_state != nullptr)
                m_state->release();
            m_state = std::exchange(o.m_state, nullptr);
        }
        return *this;
    }
    Future(const Future&) = delete;
    Future& operator=(const Future&) = delete;

    /// Whether this Future has a state (false after get(), share(), a move, or default
    /// construction).
    bool valid() const noexcept { return m_state != nullptr; }
    /// Whether the value or exception is there (get() would not wait). Requires valid().
    bool is_ready() const { return state("is_ready").ready(); }
    /// Waits until the value or exception is there.
    void wait() const { state("wait").wait(); }

    /// Waits, then returns the value (moved out) or throws the stored exception; afterwards
    /// valid() is false. If a deadlock breaker cancels the wait, throws its exception and
    /// stays valid.
    T get() {
        detail::FutureState<T>& s = state("get");
        s.wait();
        detail::FutureState<T>* owned = std::exchange(m_state, nullptr);
        struct Release {
            detail::FutureState<T>* s;
            ~Release() { s->release(); }
        } release{owned};
        if constexpr (std::is_void_v<T>)
            owned->value_or_throw();
        else
            return std::move(owned->value_or_throw());
    }

    /// Moves this Future's state into a SharedFuture; afterwards valid() is false.
    SharedFuture<T> share() noexcept { return SharedFuture<T>(std::exchange(m_state, nullptr)); }

private:
    friend class Promise<T>;
    friend struct detail::WaitTestAccess;  ///< white-box tests (tests/wait)
    explicit Future(detail::FutureState<T>* s) noexcept : m_state(s) {}
    detail::FutureState<T>& state(const char* what) const {
        if (m_state == nullptr)
            throw std::logic_error(std::string("spindle: Future::") + what +
                                   " on a Future without a state (default-constructed, moved "
                                   "from, or already consumed by get/share)");
        return *m_state;
    }
    detail::FutureState<T>* m_state = nullptr;
};

template <class T>
/// A copyable reference to a one-shot value: any number of tasks may wait for it and read
/// it (std::shared_future for fibers).
class SharedFuture {
public:
    SharedFuture() noexcept = default;
    ~SharedFuture() {
        if (m_state != nullptr)
            m_state->release();
    }
    /// Another reference to the same shared state.
    SharedFuture(const SharedFuture& o) noexcept : m_state(o.m_state) {
        if (m_state != nullptr)
            m_state->retain();
    }
    /// Another reference to the same shared state.
    SharedFuture& operator=(const SharedFuture& o) noexcept {
        SharedFuture copy(o);
        std::swap(m_state, copy.m_state);
        return *this;
    }
    /// Moves the reference; o is left without one.
    SharedFuture(SharedFuture&& o) noexcept : m_state(std::exchange(o.m_state, nullptr)) {}
    /// Moves the reference; o is left without one.
    SharedFuture& operator=(SharedFuture&& o) noexcept {
        SharedFuture moved(std::move(o));
        std::swap(m_state, moved.m_state);
        return *this;
    }
    /// Takes over f's shared state (as f.share()).
    SharedFuture(Future<T>&& f) noexcept : SharedFuture(f.share()) {}  // NOLINT: implicit as std

    /// True while this refers to a shared state (not moved from).
    bool valid() const noexcept { return m_state != nullptr; }
    /// True once the value or exception is there.
    bool is_ready() const { return state("is_ready").ready(); }
    /// Waits until the value or exception is there (parks in a task, blocks elsewhere).
    void wait() const { state("wait").wait(); }

    /// Waits, then returns a reference to the value (valid while any SharedFuture of this
    /// state lives) or throws the stored exception. May be called any number of times.
    decltype(auto) get() const {
        detail::FutureState<T>& s = state("get");
        s.wait();
        if constexpr (std::is_void_v<T>)
            s.value_or_throw();
        else
            return static_cast<const T&>(s.value_or_throw());
    }

private:
    friend class Future<T>;
    friend struct detail::WaitTestAccess;  ///< white-box tests (tests/wait)
    explicit SharedFuture(detail::FutureState<T>* s) noexcept : m_state(s) {}
    detail::FutureState<T>& state(const char* what) const {
        if (m_state == nullptr)
            throw std::logic_error(std::string("spindle: SharedFuture::") + what +
                                   " on a SharedFuture without a state");
        return *m_state;
    }
    detail::FutureState<T>* m_state = nullptr;
};

namespace detail {
template <class R, class F>
void fulfil(Promise<R>& p, F& f) noexcept {
    try {
        if constexpr (std::is_void_v<R>) {
            f();
            p.set_value();
        } else {
            p.set_value(f());
        }
    } catch (...) {
        // set_value() leaves the promise unsatisfied when it throws, so this cannot fail
        // with "already satisfied"; a failure to store the exception itself would escape a
        // noexcept function and terminate, which is the right end for it.
        p.set_exception(std::current_exception());
    }
}
}  // namespace detail

/// Runs f() later on pool (a detached spawn) and returns a Future of its result; f's exception
/// is stored in the Future. If the pool is destroyed, it first runs f (a pool's destructor
/// waits for its detached jobs). label: for deadlock reports of waits on the Future.
template <class F, class R = std::invoke_result_t<std::decay_t<F>&>>
Future<R> async(ThreadPool& pool, F&& f, const char* label = nullptr) {
    Promise<R> p(label);
    Future<R> fut = p.get_future();
    pool.spawn([p = std::move(p), fn = std::forward<F>(f)]() mutable { detail::fulfil(p, fn); });
    return fut;
}

/// The same on the current worker's pool, or on the global pool from outside any pool.
template <class F, class R = std::invoke_result_t<std::decay_t<F>&>>
Future<R> async(F&& f, const char* label = nullptr) {
    Promise<R> p(label);
    Future<R> fut = p.get_future();
    spindle::spawn(
        [p = std::move(p), fn = std::forward<F>(f)]() mutable { detail::fulfil(p, fn); });
    return fut;
}

}  // namespace spindle
