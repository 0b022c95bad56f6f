// Stack segments for ensure_stack (spindle/stack.hpp, design-notes/0002 "Growable stacks").
//
// A segment is an ordinary guarded stack (fiber/stack.hpp). run_on_new_segment jumps onto it
// with fcontext, runs the closure there, and jumps back; it is the same fiber all along (the
// scheduler's Fiber and its C++ exception state do not change), only the fiber's StackState
// says which stack it is on, so that
//   * the stack checks (tl_stack_limit / tl_stack_lo) measure the segment,
//   * the overflow handler knows the segment's guard and how deep the recursion is,
//   * a park on the segment tells AddressSanitizer the right stack when the fiber resumes
//     (Fiber::asan_bottom / asan_size follow the segment).
#include "fiber/fiber.hpp"
#include "fiber/stack.hpp"
#include "spindle/detail/config.hpp"
#include "spindle/detail/stack_check.hpp"
#include "util/fatal.hpp"

#include <boost/context/detail/fcontext.hpp>

#include <pthread.h>
#include <unistd.h>

#include <algorithm>

#if defined(SPINDLE_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif

namespace bctx = boost::context::detail;

namespace spindle::detail {

constinit thread_local std::uintptr_t tl_stack_limit SPINDLE_TLS_MODEL = UINTPTR_MAX;
constinit thread_local std::uintptr_t tl_stack_lo SPINDLE_TLS_MODEL = 0;

namespace {

// The stack state of a thread that runs no fiber (outside any pool, or a worker before its
// thread fiber exists).
thread_local StackState tl_plain;

// Pooled stacks that went deeper than this give their pages below it back when idle.
constexpr std::size_t k_stack_high_water = 256 * 1024;

StackState& current_state() noexcept {
    Fiber* f = running_fiber();
    StackState& s = f != nullptr ? f->st : tl_plain;
    if (s.lo == 0) [[unlikely]] {
        // A plain thread: learn its stack from the thread's attributes (the main thread's
        // size is its RLIMIT_STACK).
        pthread_attr_t attr;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            void* addr = nullptr;
            std::size_t size = 0;
            pthread_attr_getstack(&attr, &addr, &size);
            pthread_attr_destroy(&attr);
            const auto lo = reinterpret_cast<std::uintptr_t>(addr);
            init_stack_state(s, lo, lo + size, nullptr, nullptr);
        }
        publish_stack_state(s);
    }
    return s;
}

struct SegmentCall {
    void (*fn)(void*) noexcept;
    void* arg;
    bctx::fcontext_t back = nullptr;
    // AddressSanitizer: the caller's fake stack, and the bounds of the stack it runs on.
    void* outer_fake = nullptr;
    const void* outer_bottom = nullptr;
    std::size_t outer_size = 0;
};

void segment_entry(bctx::transfer_t t) noexcept {
    auto* c = static_cast<SegmentCall*>(t.data);
    c->back = t.fctx;
#if defined(SPINDLE_ASAN)
    __sanitizer_finish_switch_fiber(nullptr, &c->outer_bottom, &c->outer_size);
#endif
    c->fn(c->arg);
#if defined(SPINDLE_ASAN)
    // nullptr: this segment's fake stack is freed; it is never entered again.
    __sanitizer_start_switch_fiber(nullptr, c->outer_bottom, c->outer_size);
#endif
    bctx::jump_fcontext(c->back, nullptr);
    fatal("a finished stack segment was resumed");
}

}  // namespace

void init_stack_state(StackState& s,
                      std::uintptr_t lo,
                      std::uintptr_t hi,
                      const char* guard_lo,
                      const char* guard_hi) noexcept {
    const std::size_t size = hi - lo;
    s.lo = lo;
    s.hi = hi;
    s.hard_limit = lo + std::min(k_default_red_zone, size / 4);
    s.limit =
        size > k_stack_high_water + k_default_red_zone ? hi - k_stack_high_water : s.hard_limit;
    s.guard_lo = guard_lo;
    s.guard_hi = guard_hi;
    s.segments = 0;
    s.segment_bytes = 0;
    s.deep = false;
}

void publish_stack_state(const StackState& s) noexcept {
    tl_stack_lo = s.lo;
    tl_stack_limit = s.limit;
}

bool stack_check_cold() noexcept {
    const std::uintptr_t sp = frame_address();
    StackState& s = current_state();
    if (sp < s.hard_limit)
        return false;
    // Only the high-water mark: remember that this stack went deep (its pages are given back
    // when its fiber is next idle) and check against the red zone from now on.
    s.deep = true;
    s.limit = s.hard_limit;
    tl_stack_limit = s.limit;
    return true;
}

std::size_t remaining_stack() noexcept {
    const std::uintptr_t sp = frame_address();
    std::uintptr_t lo = tl_stack_lo;
    if (lo == 0) [[unlikely]]
        lo = current_state().lo;
    return sp > lo ? sp - lo : 0;
}

bool trim_deep_stack(Fiber* f) noexcept {
    StackState& s = f->st;
    if (!s.deep || s.segments != 0)
        return false;
    // Called near the top of the stack (a worker between jobs): everything below the
    // high-water mark is dead.
    trim_stack(
        f->stack.bottom != nullptr ? f->stack : Stack{reinterpret_cast<void*>(s.lo), s.hi - s.lo},
        reinterpret_cast<const void*>(s.hi - k_stack_high_water));
    s.deep = false;
    s.limit = s.hi - k_stack_high_water;
    if (running_fiber() == f)
        tl_stack_limit = s.limit;
    return true;
}

void run_on_new_segment(std::size_t segment_size, void (*fn)(void*) noexcept, void* arg) {
    Stack seg = allocate_stack(std::max(segment_size, 4 * k_default_red_zone));
    StackState& s = current_state();
    const StackState saved = s;
    const std::uintptr_t sp = frame_address();
    const auto lo = reinterpret_cast<std::uintptr_t>(seg.bottom);
    init_stack_state(s, lo, lo + seg.size, static_cast<const char*>(seg.guard_lo),
                     static_cast<const char*>(seg.bottom));
    s.limit = s.hard_limit;  // a segment is given back whole: no high-water mark
    s.segments = saved.segments + 1;
    s.segment_bytes = saved.segment_bytes + (saved.hi > sp ? saved.hi - sp : 0);
    publish_stack_state(s);
    Fiber* f = running_fiber();
    const void* saved_asan_bottom = nullptr;
    std::size_t saved_asan_size = 0;
    if (f != nullptr) {
        saved_asan_bottom = f->asan_bottom;
        saved_asan_size = f->asan_size;
        f->asan_bottom = seg.bottom;
        f->asan_size = seg.size;
    }
    SegmentCall call{fn, arg};
    bctx::fcontext_t ctx = bctx::make_fcontext(seg.top(), seg.size, &segment_entry);
#if defined(SPINDLE_ASAN)
    __sanitizer_start_switch_fiber(&call.outer_fake, seg.bottom, seg.size);
#endif
    bctx::jump_fcontext(ctx, &call);
#if defined(SPINDLE_ASAN)
    __sanitizer_finish_switch_fiber(call.outer_fake, nullptr, nullptr);
#endif
    // Back on the caller's stack, on the same thread (fibers never migrate): the segment's
    // frames are gone.
    if (f != nullptr) {
        f->asan_bottom = saved_asan_bottom;
        f->asan_size = saved_asan_size;
    }
    s = saved;
    publish_stack_state(s);
    free_stack(seg, nullptr);
}

}  // namespace spindle::detail
