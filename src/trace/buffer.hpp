// A worker's trace: a fixed-size array of events that only the worker's own thread writes, read
// after that thread was joined (design-notes/0011-trace.md). No atomics: one writer, and the
// reader's join orders every write before the read.
#pragma once

#include "spindle/detail/trace.hpp"
#include "spindle/pool.hpp"
#include "util/assert.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

namespace spindle::detail {

// One event: 40 bytes.
struct TraceEvent {
    std::uint64_t ts;    // steady_clock (CLOCK_MONOTONIC) in ns: comparable across processes
    const char* name;    // kind-specific (TraceKind), may be null
    const char* detail;  // kind-specific, may be null
    const void* fiber;   // the fiber that was running: begin/end pairs nest per fiber
    std::uint32_t arg;   // kind-specific (steal: the victim)
    TraceKind kind;
};

inline std::uint64_t trace_now_ns() noexcept {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

// Debug and sanitizer builds: checks that every record() of a buffer comes from one thread,
// the first that records (design-notes/0011, invariant 1). Empty, and a no-op, in release.
#if SPINDLE_ASSERTIONS
struct TraceWriterCheck {
    std::thread::id writer;
    void check() noexcept {
        if (writer == std::thread::id())
            writer = std::this_thread::get_id();
        SPINDLE_ASSERT(writer == std::this_thread::get_id(), "design-notes/0011, invariant 1");
    }
};
#else
struct TraceWriterCheck {
    void check() noexcept {}
};
#endif

class TraceBuffer {
public:
    // Throws std::bad_alloc. The array is not initialised: its pages cost memory only once
    // events are written into them.
    explicit TraceBuffer(std::size_t capacity)
        : m_events(std::make_unique_for_overwrite<TraceEvent[]>(capacity)), m_capacity(capacity) {}

    // Keeps the first `capacity` events; later ones are counted as dropped (a ring would keep
    // the end of a run but lose the begin events that the kept end events close).
    void record(TraceKind kind,
                const char* name,
                const char* detail,
                std::uint32_t arg,
                const void* fiber) noexcept {
        m_writer.check();
        SPINDLE_ASSERT(m_size <= m_capacity, "design-notes/0011, invariant 4");
        if (m_size == m_capacity) [[unlikely]] {
            ++m_dropped;
            return;
        }
        m_events[m_size++] = TraceEvent{trace_now_ns(), name, detail, fiber, arg, kind};
    }
    // A copy of s that lives as long as the buffer; "?" when memory runs out.
    const char* intern(std::string_view s) noexcept {
        try {
            return m_strings.emplace(s).first->c_str();
        } catch (...) {
            return "?";
        }
    }
    bool full() const noexcept { return m_size == m_capacity; }

    const TraceEvent* begin() const noexcept { return m_events.get(); }
    const TraceEvent* end() const noexcept { return m_events.get() + m_size; }
    std::size_t size() const noexcept { return m_size; }
    std::size_t capacity() const noexcept { return m_capacity; }
    std::uint64_t dropped() const noexcept { return m_dropped; }

private:
    std::unique_ptr<TraceEvent[]> m_events;
    std::size_t m_capacity;
    std::size_t m_size = 0;
    std::uint64_t m_dropped = 0;
    std::unordered_set<std::string> m_strings;  // node-based: c_str() stays put
    [[no_unique_address]] TraceWriterCheck m_writer;
};

// What the exporter needs about one worker.
struct TraceWorker {
    std::size_t index;
    bool spare;
    std::string name;
    const TraceBuffer* buffer;  // nullptr: never started (or no memory for a buffer)
};

struct TraceInput {
    std::string label;        // e.g. "spindle pool 1"
    long pid;                 // getpid()
    std::size_t num_threads;  // regular workers
    std::uint64_t start_ns;   // the pool's creation (trace_now_ns)
    std::uint64_t end_ns;     // its shutdown
    std::size_t capacity;     // events per worker
    std::vector<TraceWorker> workers;
    PoolStats stats;  // ThreadPool::stats() at shutdown
};

// The Chrome trace JSON document (Trace Event Format, JSON object form) for in, with spindle's
// summary (per-worker time in each state, totals per label, stats) under the key "spindle".
std::string trace_to_json(const TraceInput& in);
// The self-contained HTML report around a JSON document from trace_to_json (or several merged).
std::string trace_json_to_html(const std::string& json);
// Writes both files (json_path, and json_path with .json replaced by .html); on failure prints
// a warning to stderr and returns false.
bool write_trace_files(const std::string& json_path, const TraceInput& in) noexcept;
// "x.json" -> "x.html"; anything else: + ".html".
std::string trace_html_path(const std::string& json_path);

}  // namespace spindle::detail
