// The propagated context: rustc's one `void*` slot (tlv) plus typed slots that users declare.
// A job captures the context of the code that creates it (join, scope spawn, detached spawn,
// install, broadcast) and runs with it on whichever worker takes it; the creator gets its own
// context back when a join or scope returns (also when it rethrows), and a parked fiber gets
// its own back when it resumes. design-notes/0006-thread-local-state.md explains how.
#pragma once

#include "spindle/detail/config.hpp"

#include <atomic>
#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace spindle {
namespace detail {

/// One binding of a typed slot. Immutable once built; reference-counted so that a detached job
/// can keep the chain it captured alive after the binding's with_context() call returned. Each
/// frame holds a reference to its parent.
struct ContextFrame {
    const ContextFrame* parent;
    const void* key;
    const void* value;
    /// Owners: the with_context() call that made it, each child frame, each detached job that
    /// captured it. Incremented relaxed (the incrementer already holds a reference), decremented
    /// acq_rel (the last owner sees every other owner's use before destroying).
    mutable std::atomic<std::size_t> refs;
    void (*destroy)(const ContextFrame*) noexcept;
};

inline void retain(const ContextFrame* f) noexcept {
    if (f != nullptr)
        f->refs.fetch_add(1, std::memory_order_relaxed);
}
inline void release(const ContextFrame* f) noexcept {
    while (f != nullptr && f->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        const ContextFrame* parent = f->parent;
        f->destroy(f);
        f = parent;  ///< the destroyed frame held a reference to its parent
    }
}

/// The context itself: two words, copied when a job is created (no allocation, no atomic).
struct Context {
    void* tlv = nullptr;
    const ContextFrame* frames = nullptr;
};

/// The context of the code running on this thread. Written by the running code (tlv_set,
/// with_context), by a worker before it runs a job (the job's captured context) and when it
/// switches fibers (each fiber keeps its own); read by the same thread only. Fibers never
/// migrate (design-notes/0002), so a fiber always finds its context in this thread's slot.
SPINDLE_API extern constinit thread_local Context tl_context SPINDLE_TLS_MODEL;

inline Context current_context() noexcept {
    return tl_context;
}
inline void set_context(const Context& c) noexcept {
    tl_context = c;
}

template <class T>
struct TypedFrame : ContextFrame {
    T stored;
};

}  // namespace detail

/// rustc's `tlv`: one pointer-sized value, null by default, propagated into every job. spindle
/// never dereferences it; keeping what it points to alive is the caller's business (as in rustc).
inline void* tlv_get() noexcept {
    return detail::tl_context.tlv;
}
/// Sets the calling task's `tlv`; jobs it creates from now on start with this value.
inline void tlv_set(void* value) noexcept {
    detail::tl_context.tlv = value;
}

/// A typed slot. Declare one per kind of value (its address is its identity), e.g.
///   static const spindle::ContextKey<std::string> k_request_id;
///   spindle::with_context(k_request_id, std::string("r42"), [&] { ... k_request_id.get() ... });
template <class T>
class ContextKey {
public:
    constexpr ContextKey() noexcept = default;
    ContextKey(const ContextKey&) = delete;
    ContextKey& operator=(const ContextKey&) = delete;

    /// The innermost value bound to this key in the current context, or nullptr. Valid while
    /// the current job (or the with_context call that bound it) runs.
    const T* get() const noexcept {
        for (const detail::ContextFrame* f = detail::tl_context.frames; f != nullptr; f = f->parent)
            if (f->key == this)
                return static_cast<const T*>(f->value);
        return nullptr;
    }
};

/// Runs f() with key bound to value (shadowing any outer binding of key), then restores the
/// previous context, also when f throws. Jobs created inside f see the binding; detached jobs
/// keep it alive for as long as they run.
template <class T, class F>
decltype(auto) with_context(const ContextKey<T>& key, std::type_identity_t<T> value, F&& f) {
    using Frame = detail::TypedFrame<T>;
    const detail::Context saved = detail::tl_context;
    auto* frame = new Frame{
        {saved.frames,
         &key,
         nullptr,
         {1},
         [](const detail::ContextFrame* p) noexcept { delete static_cast<const Frame*>(p); }},
        std::move(value)};
    frame->value = &frame->stored;
    detail::retain(saved.frames);
    struct Restore {
        detail::Context saved;
        const detail::ContextFrame* frame;
        ~Restore() {
            detail::tl_context = saved;
            detail::release(frame);
        }
    } restore{saved, frame};
    detail::tl_context.frames = frame;
    return std::forward<F>(f)();
}

}  // namespace spindle
