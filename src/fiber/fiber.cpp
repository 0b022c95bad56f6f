#include "fiber/fiber.hpp"

#include "spindle/detail/config.hpp"
#include "spindle/detail/stack_check.hpp"
#include "util/assert.hpp"
#include "util/fatal.hpp"

#include <boost/context/detail/fcontext.hpp>

#include <cxxabi.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>

#if defined(SPINDLE_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(SPINDLE_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace bctx = boost::context::detail;

namespace spindle::detail {

namespace {

// The fiber running on this thread. Written only by this thread (in switch_fiber), read by it
// and by its SIGSEGV handler.
thread_local Fiber* tl_running SPINDLE_TLS_MODEL = nullptr;
// This thread's C++ exception globals (libstdc++'s __cxa_eh_globals). Looked up once per
// thread: the address never changes for a thread, and fibers never migrate (design-notes/0002).
thread_local EhGlobals* tl_eh_globals SPINDLE_TLS_MODEL = nullptr;
// What the overflow message calls this thread ("worker 3 of pool ..."); set per thread.
thread_local const char* tl_overflow_what = nullptr;

struct SwitchMsg {
    Fiber* from;
    Fiber* to;
    AfterSwitch after;
    void* arg;
};

EhGlobals* eh_globals() noexcept {
    EhGlobals* g = tl_eh_globals;
    if (g == nullptr) [[unlikely]] {
        g = reinterpret_cast<EhGlobals*>(abi::__cxa_get_globals());
        tl_eh_globals = g;
    }
    return g;
}

// First code on the destination after every switch.
void land(bctx::transfer_t t) noexcept {
    auto* m = static_cast<SwitchMsg*>(t.data);
    m->from->ctx = t.fctx;  // from is fully suspended only now: safe to publish it
    // The stack check sees the stack running now: switch_fiber published to's bounds, and a
    // fiber of its own (not a thread's) runs within them.
    SPINDLE_ASSERT(tl_stack_lo == m->to->st.lo && tl_stack_limit == m->to->st.limit &&
                       (m->to->stack.bottom == nullptr ||
                        (frame_address() > m->to->st.lo && frame_address() <= m->to->st.hi)),
                   "design-notes/0002, invariant 12");
#if defined(SPINDLE_ASAN)
    __sanitizer_finish_switch_fiber(m->to->asan_fake_stack, &m->from->asan_bottom,
                                    &m->from->asan_size);
#endif
    if (m->after != nullptr)
        m->after(m->from, m->arg);
}

void trampoline(bctx::transfer_t t) noexcept {
    Fiber* self = static_cast<SwitchMsg*>(t.data)->to;
    land(t);
    self->entry(self->entry_arg);
    fatal("a fiber's entry function returned");
}

}  // namespace

void Fiber::init_thread_fiber(Fiber& f, void* owner) {
    f.owner = owner;
    f.state = FiberState::running;
    f.waiter.kind = Waiter::Kind::fiber;
    f.waiter.fiber = &f;
#if defined(SPINDLE_TSAN)
    f.tsan_fiber = __tsan_get_current_fiber();
#endif
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void* addr = nullptr;
        std::size_t size = 0;
        std::size_t guard = 0;
        pthread_attr_getstack(&attr, &addr, &size);
        pthread_attr_getguardsize(&attr, &guard);
        pthread_attr_destroy(&attr);
        if (guard == 0)
            guard = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        // glibc reports the usable part; its guard lies just below. Accept a fault anywhere
        // within one guard size of the boundary.
        // The top of a thread's stack holds its static TLS (under ThreadSanitizer that is
        // ~800 KiB of runtime state) and the frames that called us: measure from here.
        const auto lo = reinterpret_cast<std::uintptr_t>(addr);
        const std::uintptr_t hi = std::min(lo + size, frame_address());
        init_stack_state(f.st, lo, hi, static_cast<const char*>(addr) - guard,
                         static_cast<const char*>(addr) + guard);
        f.stack.size = size;
    }
    tl_running = &f;
    publish_stack_state(f.st);
}

Fiber* Fiber::create(std::size_t stack_size, void (*entry)(void*), void* arg, void* owner) {
    Stack s = allocate_stack(stack_size);
    auto* f = new (std::nothrow) Fiber;
    if (f == nullptr) {
        free_stack(s);
        throw std::bad_alloc();
    }
    f->owner = owner;
    f->stack = s;
    f->waiter.kind = Waiter::Kind::fiber;
    f->waiter.fiber = f;
    f->entry = entry;
    f->entry_arg = arg;
    f->asan_bottom = s.bottom;
    f->asan_size = s.size;
    const auto lo = reinterpret_cast<std::uintptr_t>(s.bottom);
    init_stack_state(f->st, lo, lo + s.size, static_cast<const char*>(s.guard_lo),
                     static_cast<const char*>(s.guard_lo != nullptr ? s.bottom : nullptr));
    f->ctx = bctx::make_fcontext(s.top(), s.size, &trampoline);
#if defined(SPINDLE_TSAN)
    f->tsan_fiber = __tsan_create_fiber(0);
#endif
    return f;
}

void Fiber::destroy(Fiber* f) noexcept {
#if defined(SPINDLE_TSAN)
    if (f->tsan_fiber != nullptr)
        __tsan_destroy_fiber(f->tsan_fiber);
#endif
    free_stack(f->stack, f->ctx);
    delete f;
}

void switch_fiber(Fiber* from, Fiber* to, AfterSwitch after, void* arg) noexcept {
    SPINDLE_ASSERT(from == tl_running && from != to && to->owner == from->owner,
                   "design-notes/0002, invariant 1");
    SPINDLE_ASSERT(to->state == FiberState::running && from->state != FiberState::running,
                   "design-notes/0002, invariant 4");
    SwitchMsg msg{from, to, after, arg};
    // Per-fiber C++ exception state (reliability.md §3.4): the caught-exception stack and the
    // uncaught count belong to the fiber, not to the thread. No migration, so the address
    // returned here stays right for this thread (design-notes/0002).
    EhGlobals* g = eh_globals();
    from->eh = *g;
    *g = to->eh;
    tl_running = to;
    publish_stack_state(to->st);
#if defined(SPINDLE_ASAN)
    __sanitizer_start_switch_fiber(&from->asan_fake_stack, to->asan_bottom, to->asan_size);
#endif
#if defined(SPINDLE_TSAN)
    // Immediately before the jump, in this same frame (a wrapper that returned after the call
    // would pop TSan's shadow stack on the wrong fiber).
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    bctx::transfer_t t = bctx::jump_fcontext(to->ctx, &msg);
    land(t);
}

Fiber* running_fiber() noexcept {
    return tl_running;
}

// ---- stack overflow detection ---------------------------------------------------------------

namespace {

struct sigaction g_old_segv;
struct sigaction g_old_bus;
std::once_flag g_handler_once;

void write_str(const char* s) noexcept {
    const std::size_t n = std::strlen(s);
    [[maybe_unused]] auto r = ::write(STDERR_FILENO, s, n);
}

void write_num(std::size_t v) noexcept {
    char buf[24];
    int i = 23;
    buf[i] = '\0';
    do {
        buf[--i] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0 && i > 0);
    write_str(buf + i);
}

void on_fault(int sig, siginfo_t* info, void* uctx) {
    const int saved_errno = errno;
    const char* addr = static_cast<const char*>(info->si_addr);
    const Fiber* f = tl_running;
    const StackState* st = f != nullptr ? &f->st : nullptr;
    if (st != nullptr && st->guard_lo != nullptr && addr >= st->guard_lo && addr < st->guard_hi) {
        write_str("spindle: fatal: stack overflow in ");
        write_str(tl_overflow_what != nullptr ? tl_overflow_what : "a spindle thread");
        if (st->segments == 0) {
            write_str(f->entry != nullptr ? " (fiber stack of " : " (thread stack of ");
            write_num(st->hi - st->lo);
            write_str(" bytes; the recursion used all of it)");
        } else {
            write_str(" (stack segment of ");
            write_num(st->hi - st->lo);
            write_str(" bytes; the recursion was ");
            write_num(st->segment_bytes + (st->hi - st->lo));
            write_str(" bytes deep, on ");
            write_num(st->segments + 1);
            write_str(" stacks)");
        }
        write_str(
            ": a single frame larger than the guard, or recursion with no join, scope or "
            "query in it; raise PoolOptions::stack_size or call spindle::ensure_stack in "
            "the recursion\n");
    }
    struct sigaction* old = (sig == SIGBUS) ? &g_old_bus : &g_old_segv;
    errno = saved_errno;
    if ((old->sa_flags & SA_SIGINFO) != 0 && old->sa_sigaction != nullptr) {
        old->sa_sigaction(sig, info, uctx);
        return;
    }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN && old->sa_handler != nullptr) {
        old->sa_handler(sig);
        return;
    }
    // Default action: restore it and return; the faulting instruction faults again and the
    // process dies of the signal, with a core dump where enabled.
    ::signal(sig, SIG_DFL);
}

void install_handler() {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = &on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGSEGV, &sa, &g_old_segv);
    ::sigaction(SIGBUS, &sa, &g_old_bus);
}

}  // namespace

OverflowGuard enable_overflow_detection(const char* what) {
    std::call_once(g_handler_once, install_handler);
    tl_overflow_what = what;
    OverflowGuard g;
    // The handler must not run on the overflowed stack: give it its own.
    g.altstack_size = 64 * 1024;
    g.altstack = ::mmap(nullptr, g.altstack_size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g.altstack == MAP_FAILED) {
        g.altstack = nullptr;
        return g;  // best effort: overflow still kills the thread, just without the message
    }
    stack_t ss;
    std::memset(&ss, 0, sizeof ss);
    ss.ss_sp = g.altstack;
    ss.ss_size = g.altstack_size;
    if (::sigaltstack(&ss, nullptr) != 0) {
        ::munmap(g.altstack, g.altstack_size);
        g.altstack = nullptr;
    }
    return g;
}

void disable_overflow_detection(OverflowGuard& g) noexcept {
    tl_overflow_what = nullptr;
    tl_running = nullptr;
    tl_stack_lo = 0;  // a plain thread again: its next stack check learns its stack anew
    tl_stack_limit = UINTPTR_MAX;
    if (g.altstack == nullptr)
        return;
    stack_t ss;
    std::memset(&ss, 0, sizeof ss);
    ss.ss_flags = SS_DISABLE;
    ::sigaltstack(&ss, nullptr);
    ::munmap(g.altstack, g.altstack_size);
    g.altstack = nullptr;
}

}  // namespace spindle::detail
