// Tracing: user spans in a pool's trace (PoolOptions::trace, SPINDLE_TRACE; design-notes/0011).
//
//     spindle::ThreadPool pool({.num_threads = 4, .trace = "run.json"});  // or
//     SPINDLE_TRACE=run.json pool.install([&] {
//         spindle::TraceSpan span("typeck");               // RAII: until the end of the block
//         ...
//         auto ty = spindle::trace_span("infer", [&] { return infer(item); });  // callable form
//     });
//     // ~ThreadPool writes run.json (Chrome trace: Perfetto, chrome://tracing) and run.html.
//
// A span is one slice on the track of the worker that runs it, nested in the job that runs it;
// the HTML report adds up time per label. When the pool records no trace, or on a thread that is
// not a worker, a span records nothing: at its start a thread-local read and a test or two that
// always go the same way, at its end one test (8 instructions per span in all, callgrind).
#pragma once

#include "spindle/detail/trace.hpp"

#include <functional>
#include <string_view>
#include <utility>

namespace spindle {

/// A span in the pool's trace: a slice named by its label on the running worker's track, from
/// construction to destruction (RAII). Records nothing when the pool records no trace, or off
/// a worker.
class TraceSpan {
public:
    /// label: a string that lives until the pool is destroyed (a string literal), shown as the
    /// slice's name.
    explicit TraceSpan(const char* label) noexcept : m_worker(detail::traced_worker()) {
        if (m_worker != nullptr) [[unlikely]]
            detail::trace_record(m_worker, detail::TraceKind::span_begin, label);
    }
    /// A label built at run time: copied into the trace (only when the pool records one).
    explicit TraceSpan(std::string_view label) noexcept : m_worker(detail::traced_worker()) {
        if (m_worker != nullptr) [[unlikely]]
            detail::trace_record_copy(m_worker, detail::TraceKind::span_begin, label);
    }
    ~TraceSpan() {
        // Fibers never migrate (design-notes/0002): the span ends on the worker it began on.
        if (m_worker != nullptr) [[unlikely]]
            detail::trace_record(m_worker, detail::TraceKind::span_end, nullptr);
    }
    TraceSpan(const TraceSpan&) = delete;
    TraceSpan& operator=(const TraceSpan&) = delete;

private:
    detail::WorkerCore* m_worker;
};

/// RAII form: `auto span = spindle::trace_span("typeck");` ends the span with the scope.
[[nodiscard]] inline TraceSpan trace_span(const char* label) noexcept {
    return TraceSpan(label);
}

/// Callable form: runs f() inside a span named label and returns its result.
template <class F>
decltype(auto) trace_span(const char* label, F&& f) {
    TraceSpan span(label);
    return std::invoke(std::forward<F>(f));
}

}  // namespace spindle
