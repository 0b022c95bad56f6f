// spawn: run a closure later, detached from the caller.
#pragma once

#include "spindle/detail/job.hpp"
#include "spindle/detail/runtime.hpp"
#include "spindle/pool.hpp"

#include <exception>
#include <type_traits>
#include <utility>

namespace spindle {
namespace detail {

template <class F>
struct DetachedJob : Job {
    template <class G>
    DetachedJob(G&& g, Registry* r) : Job(&DetachedJob::run), fn(std::forward<G>(g)), registry(r) {
        retain(ctx.frames);  // the creator's with_context() calls may return before this runs
    }
    F fn;
    Registry* registry;

    static void run(Job* j) noexcept {
        auto* self = static_cast<DetachedJob*>(j);
        Registry* r = self->registry;
        try {
            self->fn();
        } catch (...) {
            detached_exception(r, std::current_exception());
        }
        const ContextFrame* frames = self->ctx.frames;
        delete self;
        release(frames);
        detached_end(r);  // last: the pool may be destroyed once the count reaches zero
    }
};

template <class F>
void spawn_in(Registry* r, F&& f) {
    auto* job = new DetachedJob<std::decay_t<F>>(std::forward<F>(f), r);
    detached_begin(r);
    try {
        submit(r, job);
    } catch (...) {  // the injector could not grow: undo, so the destructor does not wait for it
        const ContextFrame* frames = job->ctx.frames;
        delete job;
        release(frames);
        detached_end(r);
        throw;
    }
}

}  // namespace detail

template <class F>
void ThreadPool::spawn(F&& f) {
    detail::spawn_in(m_registry, std::forward<F>(f));
}

/// Detached spawn on the current worker's pool, or on the global pool from outside any pool.
template <class F>
void spawn(F&& f) {
    detail::WorkerCore* w = detail::current_worker();
    detail::spawn_in(w != nullptr ? w->registry : detail::global_registry(), std::forward<F>(f));
}

}  // namespace spindle
