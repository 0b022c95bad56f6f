// join: run two closures, potentially in parallel, and return both results.
#pragma once

#include "spindle/detail/job.hpp"
#include "spindle/detail/runtime.hpp"
#include "spindle/pool.hpp"
#include "spindle/stack.hpp"

#include <exception>
#include <type_traits>
#include <utility>

namespace spindle {

// Runs a() and b(), potentially in parallel, and returns {a's result, b's result}; a void
// result is std::monostate. On a worker: b is pushed on the worker's deque where another worker
// may steal it, a runs inline on the calling fiber, then b runs inline too unless it was
// stolen; if it was, the caller spins briefly and then parks its fiber until b is done while
// the worker goes on with other jobs (design-notes/0001). Outside any pool: runs in the global
// pool and the calling thread blocks.
//
// Both closures always run. If one throws, join rethrows that exception after both finished;
// if both throw, a's exception is rethrown and b's is dropped.
template <class A, class B>
auto join(A&& a, B&& b)
    -> std::pair<detail::result_t<std::invoke_result_t<std::remove_reference_t<A>&>>,
                 detail::result_t<std::invoke_result_t<std::remove_reference_t<B>&>>> {
    using FA = std::remove_reference_t<A>;
    using FB = std::remove_reference_t<B>;
    detail::WorkerCore* w = detail::current_worker();
    if (w == nullptr) [[unlikely]]
        return global_pool().install([&] { return spindle::join(a, b); });
    // Deep recursion through join continues on a new stack segment (spindle/stack.hpp).
    if (detail::stack_check_hit() && !detail::stack_check_cold()) [[unlikely]]
        return detail::call_on_segment(detail::k_default_segment_size,
                                       [&] { return spindle::join(a, b); });

    detail::StackJob<FB> job_b(b);  // captures the caller's context
    detail::push_local(w, &job_b);
    detail::Outcome<FA> out_a;
    out_a.run(a);
    // b runs, and the caller continues, with the context captured at entry even if a changed
    // it (rustc's tlv rule); a parked caller gets it back from its fiber (design-notes/0006).
    detail::set_context(job_b.ctx);
    // Fibers never migrate, so w is still this thread's worker after a() (design-notes/0002).
    if (detail::pop_local_if(w, &job_b)) [[likely]] {
        job_b.outcome.run(b);
        detail::set_context(job_b.ctx);
    } else {
        detail::wait_for(job_b.done);
    }
    if (out_a.error) [[unlikely]]
        std::rethrow_exception(out_a.error);
    if (job_b.outcome.error) [[unlikely]]
        std::rethrow_exception(job_b.outcome.error);
    return {out_a.value.take(), job_b.outcome.value.take()};
}

template <class A, class B>
auto ThreadPool::join(A&& a, B&& b) {
    return install([&] { return spindle::join(a, b); });
}

}  // namespace spindle
