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
namespace detail {

// join's cold paths, out of line so that the fast path stays a straight line (design-notes/
// 0001 §1). Each one returns (or rethrows) with the caller's context of join's entry.

/// a threw: b still runs (both closures always run), its outcome is dropped, a's exception goes.
template <class FB, class RA>
[[noreturn, gnu::noinline, gnu::cold]] void join_a_threw(WorkerCore* w,
                                                         JoinJob<FB>& job_b,
                                                         UncheckedOutcome<RA>& out_a) {
    set_context(job_b.ctx);
    if (pop_join(w, &job_b)) {
        if (job_b.outcome.run(job_b.fn))
            job_b.outcome.drop_value();
        else
            job_b.outcome.drop_error();
        set_context(job_b.ctx);
    } else {
        wait_for(job_b.done);
        if (job_b.failed)
            job_b.outcome.drop_error();
        else
            job_b.outcome.drop_value();
    }
    std::rethrow_exception(out_a.take_error());
}

/// b, run inline, threw.
template <class FB, class RA>
[[noreturn, gnu::noinline, gnu::cold]] void join_b_threw(JoinJob<FB>& job_b,
                                                         UncheckedOutcome<RA>& out_a) {
    set_context(job_b.ctx);
    out_a.drop_value();
    std::rethrow_exception(job_b.outcome.take_error());
}

/// b was stolen (or taken by another fiber of this worker): wait for it. A parked caller gets
/// its context back from its fiber (design-notes/0006).
template <class FB, class RA>
[[gnu::noinline]] std::pair<RA, typename JoinJob<FB>::R> join_b_stolen(
    JoinJob<FB>& job_b, UncheckedOutcome<RA>& out_a) {
    wait_for(job_b.done);
    if (job_b.failed) [[unlikely]] {
        out_a.drop_value();
        std::rethrow_exception(job_b.outcome.take_error());
    }
    return take_both(out_a, job_b.outcome);
}

}  // namespace detail

/// Runs a() and b(), potentially in parallel, and returns {a's result, b's result}; a void
/// result is std::monostate. On a worker: b is pushed on the worker's deque where another worker
/// may steal it, a runs inline on the calling fiber, then b runs inline too unless it was
/// stolen; if it was, the caller spins briefly and then parks its fiber until b is done while
/// the worker goes on with other jobs (design-notes/0001). Outside any pool: runs in the global
/// pool and the calling thread blocks.
///
/// Both closures always run. If one throws, join rethrows that exception after both finished;
/// if both throw, a's exception is rethrown and b's is dropped.
template <class A, class B>
auto join(A&& a, B&& b)
    -> std::pair<detail::result_t<std::invoke_result_t<std::remove_reference_t<A>&>>,
                 detail::result_t<std::invoke_result_t<std::remove_reference_t<B>&>>> {
    using FA = std::remove_reference_t<A>;
    using FB = std::remove_reference_t<B>;
    using RA = detail::result_t<std::invoke_result_t<FA&>>;
    detail::WorkerCore* w = detail::current_worker();
    if (w == nullptr) [[unlikely]]
        return global_pool().install([&] { return spindle::join(a, b); });
    /// Deep recursion through join continues on a new stack segment (spindle/stack.hpp).
    if (detail::stack_check_hit() && !detail::stack_check_cold()) [[unlikely]]
        return detail::call_on_segment(detail::k_default_segment_size,
                                       [&] { return spindle::join(a, b); });

    detail::JoinJob<FB> job_b(b);        ///< captures the caller's context
    detail::push_back_local(w, &job_b);  ///< counted by pop_join
    detail::UncheckedOutcome<RA> out_a;
    if (!out_a.run(a)) [[unlikely]]
        detail::join_a_threw(w, job_b, out_a);
    /// b runs, and the caller continues, with the context captured at entry even if a changed
    /// it (rustc's tlv rule); a parked caller gets it back from its fiber (design-notes/0006).
    detail::set_context(job_b.ctx);
    /// Fibers never migrate, so w is still this thread's worker after a() (design-notes/0002).
    if (!detail::pop_join(w, &job_b)) [[unlikely]]
        return detail::join_b_stolen(job_b, out_a);
    if (!job_b.outcome.run(b)) [[unlikely]]
        detail::join_b_threw(job_b, out_a);
    detail::set_context(job_b.ctx);
    return detail::take_both(out_a, job_b.outcome);
}

template <class A, class B>
auto ThreadPool::join(A&& a, B&& b) {
    return install([&] { return spindle::join(a, b); });
}

}  // namespace spindle
