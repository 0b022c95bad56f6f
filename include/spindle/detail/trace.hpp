// The seam between the trace points in header templates (spindle/trace.hpp, query_map.hpp)
// and the per-worker event buffers in src/trace/ (design-notes/0011-trace.md).
#pragma once

#include "spindle/detail/runtime.hpp"

#include <cstdint>
#include <string_view>

namespace spindle::detail {

// What one trace event records. Begin/end kinds pair up per fiber; the exporter
// (src/trace/export.cpp) turns them into one well-nested track per worker.
enum class TraceKind : std::uint8_t {
    job_begin,            // a job taken from a deque or the injector starts (not inline joins)
    job_end,              //
    span_begin,           // spindle::TraceSpan: name = the user's label
    span_end,             //
    steal,                // arg = the victim's worker index
    park,                 // the running fiber parks: name = the wait's kind, detail = its label
    resume,               // the parked fiber runs again
    search_begin,         // the worker found nothing to run and starts looking
    search_end,           //
    sleep,                // the worker sleeps on its futex
    wake,                 // ... and was woken
    section_begin,        // a BlockingSection: name = its label
    section_end,          //
    token_acquire,        // a jobserver token was taken (spindle::use_token_source)
    token_release,        //
    query_compute_begin,  // QueryMap computes a key: name = the map's label, detail = the key
    query_compute_end,    //
    query_wait_begin,     // QueryMap waits for a key another task computes
    query_wait_end,       //
    fiber_create,         // the worker allocated a new fiber (a stack)
    fiber_switch,         // the running fiber switches to another (park, yield, resume)
    token_wait,           // a worker asks for a jobserver token (token_acquire ends the wait)
};

// Records an event in w's buffer; w is the calling thread's worker and w->trace is not null.
// name and detail must stay valid until the pool is destroyed (string literals), or use
// trace_record_copy. Out of line (src/scheduler/worker.cpp): callers test w->trace first, so
// a pool without tracing pays one predictable branch per trace point.
SPINDLE_API void trace_record(WorkerCore* w,
                              TraceKind kind,
                              const char* name,
                              const char* detail = nullptr,
                              std::uint32_t arg = 0) noexcept;
// The same, copying name and detail into the buffer (labels that may die before the pool).
SPINDLE_API void trace_record_copy(WorkerCore* w,
                                   TraceKind kind,
                                   std::string_view name,
                                   std::string_view detail = {},
                                   std::uint32_t arg = 0) noexcept;

// The calling thread's worker if its pool records a trace, else nullptr.
inline WorkerCore* traced_worker() noexcept {
    WorkerCore* w = tl_worker;
    return w != nullptr && w->trace != nullptr ? w : nullptr;
}

}  // namespace spindle::detail
