// broadcast: run a closure once on every worker of a pool.
#pragma once

#include "spindle/detail/job.hpp"
#include "spindle/detail/runtime.hpp"
#include "spindle/pool.hpp"

#include <cstddef>
#include <exception>
#include <memory>
#include <type_traits>
#include <vector>

namespace spindle {
namespace detail {

template <class F>
struct BroadcastJob : Job {
    using R = result_t<std::invoke_result_t<F&, BroadcastContext>>;
    BroadcastJob() noexcept : Job(&BroadcastJob::run) {}
    F* fn = nullptr;
    BroadcastContext ctx{};
    CountLatch* done = nullptr;
    Slot<R> value;
    std::exception_ptr error;

    static void run(Job* j) noexcept {
        auto* self = static_cast<BroadcastJob*>(j);
        try {
            auto call = [self] { return (*self->fn)(self->ctx); };
            self->value.emplace_from(call);
        } catch (...) {
            self->error = std::current_exception();
        }
        self->done->count_down();
    }
};

template <class Fn>
auto broadcast_in(Registry* r, Fn& f)
    -> std::vector<result_t<std::invoke_result_t<Fn&, BroadcastContext>>> {
    using BJob = BroadcastJob<Fn>;
    const std::size_t n = registry_num_threads(r);
    std::unique_ptr<BJob[]> jobs(new BJob[n]);
    std::vector<Job*> ptrs(n);
    CountLatch done(n);
    for (std::size_t i = 0; i < n; ++i) {
        jobs[i].fn = &f;
        jobs[i].ctx = BroadcastContext{i, n};
        jobs[i].done = &done;
        ptrs[i] = &jobs[i];
    }
    submit_broadcast(r, ptrs.data(), n);
    wait_for(done.latch());
    for (std::size_t i = 0; i < n; ++i)
        if (jobs[i].error)
            std::rethrow_exception(jobs[i].error);
    std::vector<typename BJob::R> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        out.push_back(jobs[i].value.take());
    return out;
}

}  // namespace detail

template <class F>
auto ThreadPool::broadcast(F&& f)
    -> std::vector<detail::result_t<std::invoke_result_t<F&, BroadcastContext>>> {
    return detail::broadcast_in(m_registry, f);
}

/// Broadcast on the current worker's pool, or on the global pool from outside any pool.
template <class F>
auto broadcast(F&& f) {
    detail::WorkerCore* w = detail::current_worker();
    return detail::broadcast_in(w != nullptr ? w->registry : detail::global_registry(), f);
}

}  // namespace spindle
