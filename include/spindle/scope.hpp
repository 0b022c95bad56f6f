// scope: spawn any number of closures that may borrow from the enclosing frame; all of them
// finish before scope() returns.
#pragma once

#include "spindle/detail/job.hpp"
#include "spindle/detail/runtime.hpp"
#include "spindle/pool.hpp"
#include "spindle/stack.hpp"

#include <atomic>
#include <exception>
#include <type_traits>
#include <utility>

namespace spindle {

/// Where scope()'s closures spawn: every job spawned here finishes before scope() returns.
class Scope {
public:
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

    /// Runs f later on the scope's pool. f is invoked as f(scope) if that compiles, else as
    /// f(). It may capture references to anything that outlives the scope() call. An exception
    /// escaping f is kept (the first one wins) and rethrown by scope() after every spawned job
    /// has finished.
    template <class F>
    void spawn(F&& f);

private:
    explicit Scope(detail::Registry* r) noexcept : m_registry(r) {}

    void record(std::exception_ptr e) noexcept {
        // The first recorder wins; the write is published to the scope's owner by the
        // acq_rel count_down() that follows and read after the latch's acquire.
        if (!m_failed.exchange(true, std::memory_order_relaxed))
            m_error = std::move(e);
    }

    /// Every scope spawn, whatever its closure type, runs through the same `execute` function,
    /// so scope() can tell its own spawns from other jobs (see the helping loop there).
    struct SpawnJobBase : detail::Job {
        SpawnJobBase(void (*body)(SpawnJobBase*) noexcept, Scope* s) noexcept
            : Job(&SpawnJobBase::execute_any), run_body(body), scope(s) {}
        void (*run_body)(SpawnJobBase*) noexcept;
        Scope* scope;
        static void execute_any(detail::Job* j) noexcept {
            auto* self = static_cast<SpawnJobBase*>(j);
            self->run_body(self);
        }
    };

    static bool is_spawn_of(const detail::Job* j, const Scope* s) noexcept {
        return j->execute == &SpawnJobBase::execute_any &&
               static_cast<const SpawnJobBase*>(j)->scope == s;
    }

    template <class F>
    struct SpawnJob : SpawnJobBase {
        template <class G>
        SpawnJob(G&& g, Scope* s) : SpawnJobBase(&SpawnJob::run, s), fn(std::forward<G>(g)) {
            // The spawning code may bind context inside the scope (with_context) and return
            // from that binding before this job runs: keep the captured bindings alive.
            detail::retain(ctx.frames);
        }
        F fn;

        static void run(SpawnJobBase* base) noexcept {
            auto* self = static_cast<SpawnJob*>(base);
            Scope* s = self->scope;
            try {
                if constexpr (std::is_invocable_v<F&, Scope&>)
                    self->fn(*s);
                else
                    self->fn();
            } catch (...) {
                s->record(std::current_exception());
            }
            // The closure (and whatever it captured by value) is destroyed before the scope
            // counts this job as finished.
            const detail::ContextFrame* frames = self->ctx.frames;
            delete self;
            detail::release(frames);
            s->m_pending.count_down();
        }
    };

    template <class F>
    friend std::invoke_result_t<F&, Scope&> scope(F&& f);

    detail::Registry* m_registry;
    detail::CountLatch m_pending{1};  ///< spawned jobs not yet finished, plus one for the body
    /// Written once by the first failing job (exchange), read by the owner after the latch.
    std::atomic<bool> m_failed{false};
    std::exception_ptr m_error;
};

template <class F>
void Scope::spawn(F&& f) {
    auto* job = new SpawnJob<std::decay_t<F>>(std::forward<F>(f), this);
    m_pending.add();
    try {
        detail::submit(m_registry, job);
    } catch (...) {  // the injector could not grow: undo, so the scope does not wait for it
        const detail::ContextFrame* frames = job->ctx.frames;
        delete job;
        detail::release(frames);
        m_pending.count_down();  // never the last: the body still holds its own count
        throw;
    }
}

/// Creates a Scope, runs f(scope) inline on the calling worker (in the global pool when called
/// from outside any pool) and waits for every job spawned in it; the wait parks the fiber if
/// needed. Returns f's result. Rethrows f's exception if it threw, else the first exception of
/// a spawned job, in both cases only after every spawned job finished.
template <class F>
std::invoke_result_t<F&, Scope&> scope(F&& f) {
    using R = std::invoke_result_t<F&, Scope&>;
    detail::WorkerCore* w = detail::current_worker();
    if (w == nullptr) [[unlikely]]
        return global_pool().install([&]() -> R { return spindle::scope(f); });
    /// Deep recursion through scope continues on a new stack segment (spindle/stack.hpp).
    if (detail::stack_check_hit() && !detail::stack_check_cold()) [[unlikely]]
        return detail::call_on_segment(detail::k_default_segment_size,
                                       [&]() -> R { return spindle::scope(f); });
    const detail::Context saved = detail::current_context();
    const detail::ScopeMark mark = detail::scope_mark(w);
    Scope s(w->registry);
    auto body = [&]() -> R { return f(s); };
    detail::Outcome<decltype(body)> out;
    out.run(body);
    s.m_pending.count_down();
    /// Our own unstolen spawns run here rather than after a park (detail::run_own_spawns).
    detail::run_own_spawns(w, mark, s.m_pending.latch(),
                           [&](const detail::Job* j) { return Scope::is_spawn_of(j, &s); });
    detail::wait_for(s.m_pending.latch());
    detail::set_context(saved);  ///< the body may have changed it; the caller gets its own back
    if (out.error)
        std::rethrow_exception(out.error);
    if (s.m_failed.load(std::memory_order_relaxed))
        std::rethrow_exception(s.m_error);
    if constexpr (std::is_void_v<R>)
        return;
    else
        return out.value.take();
}

template <class F>
std::invoke_result_t<F&, Scope&> ThreadPool::scope(F&& f) {
    return install([&]() -> std::invoke_result_t<F&, Scope&> { return spindle::scope(f); });
}

}  // namespace spindle
