// Growable stacks: ensure_stack runs a closure on a fresh stack segment when the running stack
// is nearly used up, as rustc's ensure_sufficient_stack does with the stacker crate. join,
// scope and QueryMap::get_or_compute call it for you, so recursion that passes through them
// (a query chain thousands deep) never overflows; call it yourself in recursion that does not.
//
//     std::size_t depth(const Node* n) {
//         return spindle::ensure_stack([&] {   // cheap: a compare when there is room
//             return n == nullptr ? 0 : 1 + std::max(depth(n->left), depth(n->right));
//         });
//     }
//
// A segment is a guarded stack of its own; the closure may park (wait, join, lock) on it, and
// its exception crosses back to the caller. What happens on overflow anyway, and what each
// segment costs: design-notes/0002 "Growable stacks".
#pragma once

#include "spindle/detail/job.hpp"
#include "spindle/detail/stack_check.hpp"

#include <cstddef>
#include <exception>
#include <memory>
#include <type_traits>

namespace spindle {

/// Red zone and segment size of ensure_stack(f): 128 KiB and 2 MiB (512 KiB and 8 MiB under
/// AddressSanitizer or ThreadSanitizer, whose frames are larger).
inline constexpr std::size_t default_red_zone = detail::k_default_red_zone;
/// See default_red_zone.
inline constexpr std::size_t default_segment_size = detail::k_default_segment_size;

/// Bytes of stack left below the caller's frame on the stack (or segment) it runs on.
inline std::size_t remaining_stack() noexcept {
    return detail::remaining_stack();
}

namespace detail {

/// Runs f() on a new segment and returns its result, or rethrows its exception.
template <class Fn>
decltype(auto) call_on_segment(std::size_t segment_size, Fn&& f) {
    using F = std::remove_reference_t<Fn>;
    using R = std::invoke_result_t<F&>;
    if constexpr (std::is_reference_v<R>) {
        auto address = [&f] { return std::addressof(f()); };
        return static_cast<R>(*call_on_segment(segment_size, address));
    } else {
        Outcome<F> out;
        struct Call {
            F* f;
            Outcome<F>* out;
        } call{&f, &out};
        run_on_new_segment(
            segment_size,
            [](void* p) noexcept {
                auto* c = static_cast<Call*>(p);
                c->out->run(*c->f);
            },
            &call);
        if (out.error)
            std::rethrow_exception(out.error);
        if constexpr (!std::is_void_v<R>)
            return out.value.take();
    }
}

/// The default check with its action: f() here, or on a new segment.
template <class F>
[[gnu::always_inline]] inline decltype(auto) with_default_stack_check(F&& f) {
    if (stack_check_hit() && !stack_check_cold()) [[unlikely]]
        return call_on_segment(k_default_segment_size, f);
    return f();
}

}  // namespace detail

/// Runs f() — on the calling stack when at least default_red_zone bytes are left below the
/// caller, else on a new segment of default_segment_size bytes — and returns its result or
/// rethrows its exception. Throws std::system_error when a segment is needed and none can be
/// allocated. Also works on threads outside any pool.
template <class F>
decltype(auto) ensure_stack(F&& f) {
    return detail::with_default_stack_check(f);
}

/// As ensure_stack(f), with the red zone and the segment size chosen by the caller (a segment
/// has at least 4 x default_red_zone bytes, so that the checks inside it have room).
template <class F>
decltype(auto) ensure_stack(std::size_t red_zone, std::size_t segment_size, F&& f) {
    if (detail::remaining_stack() >= red_zone) [[likely]]
        return f();
    return detail::call_on_segment(segment_size, f);
}

}  // namespace spindle
