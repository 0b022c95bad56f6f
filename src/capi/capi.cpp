// spindle's C ABI (include/spindle/spindle.h) over the C++ API. No exception leaves a function
// here: each entry point that can throw catches and turns it into a status code.
#include "spindle/blocking.hpp"
#include "spindle/broadcast.hpp"
#include "spindle/context.hpp"
#include "spindle/current.hpp"
#include "spindle/errors.hpp"
#include "spindle/pool.hpp"
#include "spindle/spawn.hpp"
#include "spindle/spindle.h"
#include "spindle/stack.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

struct spindle_worker_start {
    std::function<void()> run;
};

struct spindle_deadlock_report {
    const spindle::DeadlockReport* report;
    std::string text;
};

namespace {

using spindle::detail::Context;
using spindle::detail::Job;
using spindle::detail::Registry;
using spindle::detail::WorkerCore;

[[noreturn]] void abort_with(const char* what) noexcept {
    std::fprintf(stderr, "spindle: %s; aborting\n", what);
    std::fflush(stderr);
    std::abort();
}

// A FIFO of jobs that the deque's LIFO order must not reorder (rayon's JobFifo): each spawn
// goes to the back of the queue and pushes a ticket (the queue's own Job) on the deque; whoever
// runs a ticket runs the oldest queued job. Tickets and queued jobs are one to one.
struct Fifo {
    struct Ticket : Job {
        explicit Ticket(Fifo* f) noexcept : Job(&Ticket::run), fifo(f) {}
        Fifo* fifo;
        static void run(Job* j) noexcept {
            Fifo* f = static_cast<Ticket*>(j)->fifo;
            Job* next;
            {
                std::lock_guard<std::mutex> lock(f->mutex);
                next = f->queue.front();
                f->queue.pop_front();
            }
            spindle::detail::execute_job(next);
        }
    };
    Fifo() : ticket(this) {}
    std::mutex mutex;
    std::deque<Job*> queue;
    Ticket ticket;
};

}  // namespace

struct spindle_pool {
    spindle::ThreadPool* pool = nullptr;  // owned unless global
    bool global = false;
    // Handles held: spindle_pool_retain and SubmitRef add (relaxed: the adder already holds a
    // reference, or SubmitRef finds the count nonzero), spindle_pool_release subtracts (acq_rel:
    // the last one sees every other holder's writes before the pool is destroyed).
    std::atomic<std::size_t> refs{1};
    spindle_pool_options options{};
    std::unique_ptr<Fifo[]> fifos;  // one per worker slot (spawn_fifo)
    std::size_t num_fifos = 0;

    Registry* registry() const noexcept { return pool->registry(); }
    void failed(spindle_failure f) noexcept {
        if (options.panic_handler != nullptr)
            options.panic_handler(options.user, f);
        else
            abort_with("a detached job failed (panicked) and the pool has no panic handler");
    }
};

namespace {

// The handle of the pool whose worker runs this thread (set by the start handler of pools
// created here).
thread_local spindle_pool* tl_pool = nullptr;
std::atomic<spindle_pool*> g_global{nullptr};
std::mutex g_global_mutex;

void write_error(char* err, std::size_t errlen, const char* msg) noexcept {
    if (err == nullptr || errlen == 0)
        return;
    std::snprintf(err, errlen, "%s", msg);
}

spindle::PoolOptions to_cxx(spindle_pool* h) {
    const spindle_pool_options o = h->options;
    spindle::PoolOptions p;
    p.num_threads = o.num_threads;
    p.stack_size = o.stack_size;
    if (o.thread_name != nullptr)
        p.thread_name = [o](std::size_t i) {
            char buf[256];
            std::size_t n = o.thread_name(o.user, i, buf, sizeof buf);
            return std::string(buf, n < sizeof buf ? n : sizeof buf);
        };
    p.start_handler = [h, o](std::size_t i) {
        tl_pool = h;
        if (o.start_handler != nullptr)
            o.start_handler(o.user, i);
    };
    p.exit_handler = [o](std::size_t i) {
        if (o.exit_handler != nullptr)
            o.exit_handler(o.user, i);
        tl_pool = nullptr;
    };
    p.exception_handler = [](std::exception_ptr) {
        abort_with("an exception escaped a C ABI handler");
    };
    if (o.deadlock_handler != nullptr)
        p.deadlock_handler = [o](const spindle::DeadlockReport& r) {
            spindle_deadlock_report rep{&r, r.to_string()};
            o.deadlock_handler(o.user, &rep);
        };
    if (o.acquire_thread_handler != nullptr)
        p.acquire_thread_handler = [o] { o.acquire_thread_handler(o.user); };
    if (o.release_thread_handler != nullptr)
        p.release_thread_handler = [o] { o.release_thread_handler(o.user); };
    p.max_spare_threads = o.max_spare_threads;
    if (o.spawn_thread != nullptr)
        p.spawn_thread = [o](std::size_t i, std::function<void()> run) {
            auto* start = new spindle_worker_start{std::move(run)};
            if (o.spawn_thread(o.user, i, start) != 0) {
                delete start;
                throw std::system_error(
                    std::make_error_code(std::errc::resource_unavailable_try_again),
                    "spindle: spawn_thread could not start worker " + std::to_string(i));
            }
        };
    return p;
}

void destroy_handle(spindle_pool* h) noexcept {
    if (!h->global)
        delete h->pool;
    if (h->options.user_drop != nullptr)
        h->options.user_drop(h->options.user);
    delete h;
}

// Creation failed: stops the pool if it was built (not the global one), calls user_drop once.
int fail_create(spindle_pool* h,
                const spindle_pool_options* options,
                char* err,
                std::size_t errlen,
                const char* what,
                int rc) noexcept {
    write_error(err, errlen, what);
    if (h != nullptr) {
        destroy_handle(h);  // deletes a private pool that was built, and calls user_drop
    } else if (options->user_drop != nullptr) {
        options->user_drop(options->user);
    }
    return rc;
}

template <class Build>
int create_with(const spindle_pool_options* options,
                char* err,
                std::size_t errlen,
                Build build,
                spindle_pool** out) {
    spindle_pool* h = nullptr;
    try {
        h = new spindle_pool;
        h->options = *options;
        build(h, to_cxx(h));
        h->num_fifos = h->pool->max_threads();
        h->fifos.reset(new Fifo[h->num_fifos]);
        *out = h;
        return SPINDLE_OK;
    } catch (const spindle::InvalidPoolOptions& e) {
        return fail_create(h, options, err, errlen, e.what(), SPINDLE_E_INVALID);
    } catch (const spindle::GlobalPoolAlreadyInitialized& e) {
        return fail_create(h, options, err, errlen, e.what(), SPINDLE_E_GLOBAL_EXISTS);
    } catch (const std::exception& e) {
        return fail_create(h, options, err, errlen, e.what(), SPINDLE_E_SYSTEM);
    } catch (...) {
        return fail_create(h, options, err, errlen, "unknown error", SPINDLE_E_SYSTEM);
    }
}

// The pool a NULL argument means: the current worker's, else the global one.
spindle_pool* resolve(spindle_pool* p) noexcept {
    if (p != nullptr)
        return p;
    if (tl_pool != nullptr)
        return tl_pool;
    return spindle_global_pool();
}

// Keeps a pool alive for the length of one submit. A detached job may release the pool's last
// reference as soon as it is queued, and the pool's destruction (on its own thread) may then
// finish while the submitter is still waking a worker or counting the job. A pool whose count
// is already 0 is not taken back: its destruction has begun and waits for its detached jobs,
// and a submission to it comes from one of them (a nested spawn resolved to the current
// pool), so the pool outlives it anyway. Retaining it again would start a second destruction.
class SubmitRef {
public:
    explicit SubmitRef(spindle_pool* p) noexcept : m_pool(p) {
        if (p->global)
            return;  // never freed
        std::size_t n = p->refs.load(std::memory_order_relaxed);
        while (n != 0 && !p->refs.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) {
        }
        m_held = n != 0;
    }
    ~SubmitRef() {
        if (m_held)
            spindle_pool_release(m_pool);
    }
    SubmitRef(const SubmitRef&) = delete;
    SubmitRef& operator=(const SubmitRef&) = delete;

private:
    spindle_pool* m_pool;
    bool m_held = false;
};

// --- join -------------------------------------------------------------------------------------

struct CJoinJob : Job {
    CJoinJob(spindle_failure (*f)(void*, int), void* d, std::size_t owner) noexcept
        : Job(&CJoinJob::run), fn(f), data(d), owner_index(owner) {}
    spindle_failure (*fn)(void*, int);
    void* data;
    std::size_t owner_index;
    spindle::detail::Latch done;
    spindle_failure failure = nullptr;

    static void run(Job* j) noexcept {
        auto* self = static_cast<CJoinJob*>(j);
        WorkerCore* w = spindle::detail::current_worker();
        const int migrated = w == nullptr || w->index != self->owner_index;
        self->failure = self->fn(self->data, migrated);
        self->done.set();
    }
};
static_assert(sizeof(CJoinJob) <= sizeof(spindle_join_job::bytes));
static_assert(alignof(CJoinJob) <= 16);

CJoinJob* as_job(spindle_join_job* j) noexcept {
    return std::launder(reinterpret_cast<CJoinJob*>(j->bytes));
}

// --- scopes -----------------------------------------------------------------------------------

}  // namespace

struct spindle_scope {
    spindle_pool* pool;
    Context ctx;  // captured at creation: every spawn runs with it (the fork's rule)
    bool fifo;
    void (*drop_failure)(spindle_failure);
    spindle::detail::CountLatch pending{1};
    std::atomic<spindle_failure> failure{nullptr};
    std::unique_ptr<Fifo[]> fifos;  // SPINDLE_SCOPE_FIFO: per worker slot, plus one for outsiders

    void record(spindle_failure f) noexcept {
        if (f == nullptr)
            return;
        spindle_failure expected = nullptr;
        if (!failure.compare_exchange_strong(expected, f, std::memory_order_acq_rel)) {
            if (drop_failure != nullptr)
                drop_failure(f);
        }
    }
};

namespace {

struct ScopeJob : Job {
    ScopeJob(spindle_scope* s, spindle_failure (*f)(void*, spindle_scope*), void* d) noexcept
        : Job(&ScopeJob::run), scope(s), fn(f), data(d) {
        ctx = s->ctx;
    }
    spindle_scope* scope;
    spindle_failure (*fn)(void*, spindle_scope*);
    void* data;
    static bool is_job_of(const Job* j, const spindle_scope* s) noexcept {
        return j->execute == &ScopeJob::run && static_cast<const ScopeJob*>(j)->scope == s;
    }
    static void run(Job* j) noexcept {
        auto* self = static_cast<ScopeJob*>(j);
        spindle_scope* s = self->scope;
        spindle_failure f = self->fn(self->data, s);
        delete self;
        s->record(f);
        s->pending.count_down();
    }
};

// Queues job in fifo, then pushes fifo's ticket (on the current worker if it is one of the
// pool's, else into the injector).
void submit_fifo(Registry* r, Fifo& fifo, Job* job) {
    {
        std::lock_guard<std::mutex> lock(fifo.mutex);
        fifo.queue.push_back(job);
    }
    try {
        spindle::detail::submit(r, &fifo.ticket);
    } catch (...) {
        std::lock_guard<std::mutex> lock(fifo.mutex);
        fifo.queue.pop_back();  // ours: tickets and jobs are one to one, and no ticket was added
        throw;
    }
}

Fifo* current_fifo(Fifo* fifos, std::size_t n, Registry* r) noexcept {
    WorkerCore* w = spindle::detail::current_worker();
    if (w != nullptr && w->registry == r && w->index < n)
        return &fifos[w->index];
    return nullptr;
}

int submit_scope_job(spindle_scope* s, ScopeJob* job) noexcept {
    Registry* r = s->pool->registry();
    s->pending.add();
    try {
        Fifo* f = s->fifo ? current_fifo(s->fifos.get(), s->pool->num_fifos, r) : nullptr;
        if (f != nullptr)
            submit_fifo(r, *f, job);
        else
            spindle::detail::submit(r, job);  // outside the pool the injector is FIFO already
        return SPINDLE_OK;
    } catch (...) {
        delete job;
        s->pending.count_down();  // never the last: the body holds its own count
        return SPINDLE_E_SYSTEM;
    }
}

// --- detached ---------------------------------------------------------------------------------

struct DetachedJob : Job {
    DetachedJob(spindle_pool* p, spindle_failure (*f)(void*), void* d) noexcept
        : Job(&DetachedJob::run), pool(p), fn(f), data(d) {
        ctx.tlv = nullptr;  // the fork's rule: a detached job may outlive what the tlv points at
    }
    spindle_pool* pool;
    spindle_failure (*fn)(void*);
    void* data;
    static void run(Job* j) noexcept {
        auto* self = static_cast<DetachedJob*>(j);
        spindle_pool* p = self->pool;
        spindle_failure f = self->fn(self->data);
        delete self;
        if (f != nullptr)
            p->failed(f);
        spindle::detail::detached_end(p->registry());  // last: the pool may go away after it
    }
};

// One call of a spawn_broadcast, pinned to its worker.
struct SharedData {
    std::atomic<std::size_t> left;
    void* data;
    void (*drop)(void*);
    void release() noexcept {
        if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            if (drop != nullptr)
                drop(data);
            delete this;
        }
    }
};

struct BroadcastCall : Job {
    BroadcastCall() noexcept : Job(&BroadcastCall::run) {}
    spindle_pool* pool = nullptr;
    spindle_scope* scope = nullptr;  // scope spawn_broadcast, else detached
    spindle_failure (*fn)(void*, std::size_t, std::size_t) = nullptr;
    spindle_failure (*scope_fn)(void*, spindle_scope*, std::size_t, std::size_t) = nullptr;
    SharedData* shared = nullptr;
    std::size_t index = 0;
    std::size_t n = 0;
    static void run(Job* j) noexcept {
        auto* self = static_cast<BroadcastCall*>(j);
        spindle_pool* p = self->pool;
        spindle_scope* s = self->scope;
        spindle_failure f = s != nullptr
                                ? self->scope_fn(self->shared->data, s, self->index, self->n)
                                : self->fn(self->shared->data, self->index, self->n);
        self->shared->release();
        delete self;
        if (s != nullptr) {
            s->record(f);
            s->pending.count_down();
        } else {
            if (f != nullptr)
                p->failed(f);
            spindle::detail::detached_end(p->registry());
        }
    }
};

int spawn_broadcast_impl(
    spindle_pool* p,
    spindle_scope* s,
    spindle_failure (*fn)(void*, std::size_t, std::size_t),
    spindle_failure (*scope_fn)(void*, spindle_scope*, std::size_t, std::size_t),
    void* data,
    void (*drop)(void*)) noexcept {
    const SubmitRef keep(p);
    Registry* r = p->registry();
    const std::size_t n = p->pool->num_threads();
    std::vector<std::unique_ptr<BroadcastCall>> calls;
    std::vector<Job*> ptrs;
    SharedData* shared = nullptr;
    try {
        calls.reserve(n);
        ptrs.reserve(n);
        shared = new SharedData{{n}, data, drop};
        for (std::size_t i = 0; i < n; ++i) {
            auto c = std::make_unique<BroadcastCall>();
            c->pool = p;
            c->scope = s;
            c->fn = fn;
            c->scope_fn = scope_fn;
            c->shared = shared;
            c->index = i;
            c->n = n;
            if (s != nullptr)
                c->ctx = s->ctx;
            else
                c->ctx.tlv = nullptr;
            ptrs.push_back(c.get());
            calls.push_back(std::move(c));
        }
    } catch (...) {
        delete shared;
        return SPINDLE_E_SYSTEM;
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (s != nullptr)
            s->pending.add();
        else
            spindle::detail::detached_begin(r);
    }
    try {
        spindle::detail::submit_broadcast(r, ptrs.data(), n);
    } catch (...) {
        for (std::size_t i = 0; i < n; ++i) {
            if (s != nullptr)
                s->pending.count_down();
            else
                spindle::detail::detached_end(r);
        }
        delete shared;
        return SPINDLE_E_SYSTEM;
    }
    for (auto& c : calls)
        (void)c.release();  // each deletes itself when it ran
    return SPINDLE_OK;
}

thread_local std::vector<spindle::BlockingSection*> tl_sections;

}  // namespace

extern "C" {

void spindle_pool_options_init(spindle_pool_options* o) {
    *o = spindle_pool_options{};
    o->max_spare_threads = static_cast<std::size_t>(-1);
}

void spindle_worker_run(spindle_worker_start* start) {
    std::unique_ptr<spindle_worker_start> owned(start);
    owned->run();
}

int spindle_pool_create(const spindle_pool_options* options,
                        spindle_pool** out,
                        char* err,
                        std::size_t errlen) {
    return create_with(
        options, err, errlen,
        [](spindle_pool* h, const spindle::PoolOptions& p) {
            h->pool = new spindle::ThreadPool(p);
        },
        out);
}

int spindle_build_global(const spindle_pool_options* options, char* err, std::size_t errlen) {
    std::lock_guard<std::mutex> lock(g_global_mutex);
    if (g_global.load(std::memory_order_acquire) != nullptr) {
        write_error(err, errlen, "spindle: the global thread pool has already been initialized");
        if (options->user_drop != nullptr)
            options->user_drop(options->user);
        return SPINDLE_E_GLOBAL_EXISTS;
    }
    spindle_pool* h = nullptr;
    const int rc = create_with(
        options, err, errlen,
        [](spindle_pool* hh, const spindle::PoolOptions& p) {
            spindle::build_global(p);
            hh->global = true;
            hh->pool = &spindle::global_pool();
        },
        &h);
    if (rc == SPINDLE_OK)
        g_global.store(h, std::memory_order_release);
    return rc;
}

spindle_pool* spindle_global_pool(void) {
    spindle_pool* g = g_global.load(std::memory_order_acquire);
    if (g != nullptr)
        return g;
    spindle_pool_options o;
    spindle_pool_options_init(&o);
    const int rc = spindle_build_global(&o, nullptr, 0);
    if (rc == SPINDLE_E_GLOBAL_EXISTS && g_global.load(std::memory_order_acquire) == nullptr) {
        // Built by C++ code (spindle::global_pool()) without our start handler: wrap it.
        std::lock_guard<std::mutex> lock(g_global_mutex);
        if (g_global.load(std::memory_order_acquire) == nullptr) {
            try {
                auto* h = new spindle_pool;
                h->global = true;
                h->pool = &spindle::global_pool();
                h->num_fifos = h->pool->max_threads();
                h->fifos.reset(new Fifo[h->num_fifos]);
                g_global.store(h, std::memory_order_release);
            } catch (...) {
                return nullptr;
            }
        }
    }
    return g_global.load(std::memory_order_acquire);
}

spindle_pool* spindle_current_pool(void) {
    if (tl_pool != nullptr)
        return tl_pool;
    spindle::ThreadPool* p = spindle::ThreadPool::current();
    spindle_pool* g = g_global.load(std::memory_order_acquire);
    if (p != nullptr && g != nullptr && g->pool == p)
        return g;
    return nullptr;
}

void spindle_pool_retain(spindle_pool* pool) {
    pool->refs.fetch_add(1, std::memory_order_relaxed);
}

void spindle_pool_release(spindle_pool* pool) {
    if (pool->global)
        return;  // the global pool is never freed
    if (pool->refs.fetch_sub(1, std::memory_order_acq_rel) != 1)
        return;
    // The destructor waits for the pool's jobs and joins its workers: never on the caller
    // (which may be one of those workers, or must not wait as rayon's Drop does not).
    try {
        std::thread([pool] { destroy_handle(pool); }).detach();
    } catch (...) {
        abort_with("cannot start the thread that stops a released pool");
    }
}

std::size_t spindle_pool_num_threads(const spindle_pool* pool) {
    return pool->pool->num_threads();
}

std::ptrdiff_t spindle_pool_current_thread_index(const spindle_pool* pool) {
    const auto i = pool->pool->current_thread_index();
    return i ? static_cast<std::ptrdiff_t>(*i) : -1;
}

int spindle_pool_same(const spindle_pool* a, const spindle_pool* b) {
    return a->pool == b->pool;
}

spindle_failure spindle_pool_install(spindle_pool* pool, spindle_failure (*fn)(void*), void* data) {
    try {
        return pool->pool->install([&] { return fn(data); });
    } catch (...) {
        abort_with("install could not queue its job");
    }
}

namespace {

[[gnu::always_inline]] inline int join_push_on(WorkerCore* w,
                                               spindle_join_job* job,
                                               spindle_failure (*run_b)(void*, int),
                                               void* data) {
    auto* j = ::new (static_cast<void*>(job->bytes)) CJoinJob(run_b, data, w->index);
    try {
        spindle::detail::push_back_local(w, j);
    } catch (...) {
        abort_with("join could not queue its job");
    }
    return SPINDLE_OK;
}

// Past the stack's high-water mark: either only remember that (and push), or, within the red
// zone, tell the caller to redo the join on a new segment. Out of line, so that the fast path
// saves no registers for the call.
[[gnu::noinline, gnu::cold]] int join_push_low_stack(WorkerCore* w,
                                                     spindle_join_job* job,
                                                     spindle_failure (*run_b)(void*, int),
                                                     void* data) {
    if (!spindle::detail::stack_check_cold())
        return SPINDLE_E_LOW_STACK;
    return join_push_on(w, job, run_b, data);
}

}  // namespace

int spindle_join_push(spindle_join_job* job, spindle_failure (*run_b)(void*, int), void* data) {
    WorkerCore* w = spindle::detail::current_worker();
    if (w == nullptr) [[unlikely]]
        return SPINDLE_E_NOT_ON_WORKER;
    // Deep recursion through join continues on a new stack segment, as spindle::join does; the
    // caller redoes the join inside spindle_ensure_stack (spindle/stack.hpp).
    if (spindle::detail::stack_check_hit()) [[unlikely]]
        return join_push_low_stack(w, job, run_b, data);
    return join_push_on(w, job, run_b, data);
}

int spindle_join_pop(spindle_join_job* job) {
    CJoinJob* j = as_job(job);
    spindle::detail::set_context(j->ctx);
    return spindle::detail::pop_join(spindle::detail::current_worker(), j) ? 1 : 0;
}

spindle_failure spindle_join_wait(spindle_join_job* job) {
    CJoinJob* j = as_job(job);
    try {
        spindle::detail::wait_for(j->done);
    } catch (...) {
        abort_with("join's wait failed");
    }
    spindle::detail::set_context(j->ctx);
    return j->failure;
}

void spindle_join_restore(spindle_join_job* job) {
    spindle::detail::set_context(as_job(job)->ctx);
}

spindle_failure spindle_scope_run(spindle_pool* pool,
                                  int flags,
                                  spindle_failure (*body)(void*, spindle_scope*),
                                  void* data,
                                  void (*drop_failure)(spindle_failure)) {
    spindle_pool* p = resolve(pool);
    if (p == nullptr)
        abort_with("no pool for a scope");
    auto run = [&]() -> spindle_failure {
        const Context saved = spindle::detail::current_context();
        WorkerCore* w = spindle::detail::current_worker();
        const spindle::detail::ScopeMark mark =
            w != nullptr ? spindle::detail::scope_mark(w) : spindle::detail::ScopeMark{};
        spindle_scope s{p, saved, (flags & SPINDLE_SCOPE_FIFO) != 0, drop_failure};
        if (s.fifo)
            s.fifos.reset(new Fifo[p->num_fifos]);
        s.record(body(data, &s));
        s.pending.count_down();
        // As spindle::scope does: this scope's own unstolen spawns run here rather than after
        // a park (a park and resume per scope made rayon's nqueens on the binding 3x slower).
        // FIFO scopes keep their order.
        if (w != nullptr && !s.fifo && w->registry == p->registry())
            spindle::detail::run_own_spawns(w, mark, s.pending.latch(), [&](const Job* j) {
                return ScopeJob::is_job_of(j, &s);
            });
        spindle::detail::wait_for(s.pending.latch());
        spindle::detail::set_context(saved);
        return s.failure.load(std::memory_order_acquire);
    };
    try {
        if ((flags & SPINDLE_SCOPE_IN_PLACE) != 0 || p->pool->current_thread_index()) {
            // Deep recursion through scopes continues on a new stack segment, as in
            // spindle::scope.
            if (spindle::detail::stack_check_hit() && !spindle::detail::stack_check_cold())
                [[unlikely]]
                return spindle::detail::call_on_segment(spindle::detail::k_default_segment_size,
                                                        run);
            return run();
        }
        return p->pool->install(run);
    } catch (...) {
        abort_with("a scope could not be set up");
    }
}

int spindle_scope_spawn(spindle_scope* scope,
                        spindle_failure (*fn)(void*, spindle_scope*),
                        void* data) {
    ScopeJob* job = new (std::nothrow) ScopeJob(scope, fn, data);
    if (job == nullptr)
        return SPINDLE_E_SYSTEM;
    return submit_scope_job(scope, job);
}

int spindle_scope_spawn_broadcast(
    spindle_scope* scope,
    spindle_failure (*fn)(void*, spindle_scope*, std::size_t, std::size_t),
    void* data,
    void (*drop)(void*)) {
    return spawn_broadcast_impl(scope->pool, scope, nullptr, fn, data, drop);
}

spindle_pool* spindle_scope_pool(const spindle_scope* scope) {
    return scope->pool;
}

int spindle_spawn(spindle_pool* pool, int fifo, spindle_failure (*fn)(void*), void* data) {
    spindle_pool* p = resolve(pool);
    if (p == nullptr)
        return SPINDLE_E_SYSTEM;
    const SubmitRef keep(p);
    Registry* r = p->registry();
    DetachedJob* job = new (std::nothrow) DetachedJob(p, fn, data);
    if (job == nullptr)
        return SPINDLE_E_SYSTEM;
    spindle::detail::detached_begin(r);
    try {
        Fifo* f = fifo != 0 ? current_fifo(p->fifos.get(), p->num_fifos, r) : nullptr;
        if (f != nullptr)
            submit_fifo(r, *f, job);
        else
            spindle::detail::submit(r, job);
    } catch (...) {
        delete job;
        spindle::detail::detached_end(r);
        return SPINDLE_E_SYSTEM;
    }
    return SPINDLE_OK;
}

spindle_failure spindle_broadcast(spindle_pool* pool,
                                  spindle_failure (*fn)(void*, std::size_t, std::size_t),
                                  void* data,
                                  void (*drop_failure)(spindle_failure)) {
    spindle_pool* p = resolve(pool);
    if (p == nullptr)
        abort_with("no pool for a broadcast");
    try {
        auto results = p->pool->broadcast(
            [&](spindle::BroadcastContext c) { return fn(data, c.index, c.num_threads); });
        spindle_failure first = nullptr;
        for (spindle_failure f : results) {
            if (f == nullptr)
                continue;
            if (first == nullptr)
                first = f;
            else if (drop_failure != nullptr)
                drop_failure(f);
        }
        return first;
    } catch (...) {
        abort_with("a broadcast could not be queued");
    }
}

int spindle_spawn_broadcast(spindle_pool* pool,
                            spindle_failure (*fn)(void*, std::size_t, std::size_t),
                            void* data,
                            void (*drop)(void*)) {
    spindle_pool* p = resolve(pool);
    if (p == nullptr)
        return SPINDLE_E_SYSTEM;
    return spawn_broadcast_impl(p, nullptr, fn, nullptr, data, drop);
}

std::ptrdiff_t spindle_current_thread_index(void) {
    WorkerCore* w = spindle::detail::current_worker();
    return w != nullptr ? static_cast<std::ptrdiff_t>(w->index) : -1;
}

std::size_t spindle_current_num_threads(void) {
    WorkerCore* w = spindle::detail::current_worker();
    if (w != nullptr)
        return spindle::detail::registry_num_threads(w->registry);
    spindle_pool* g = spindle_global_pool();
    return g != nullptr ? g->pool->num_threads() : 1;
}

std::size_t spindle_max_num_threads(void) {
    return 4096;
}

int spindle_current_thread_has_pending_tasks(void) {
    WorkerCore* w = spindle::detail::current_worker();
    if (w == nullptr)
        return -1;
    return w->deque.size_hint() > 0 ? 1 : 0;
}

int spindle_yield_now(void) {
    const auto y = spindle::yield_now();
    if (!y)
        return -1;
    return *y == spindle::Yield::executed ? 1 : 0;
}

int spindle_yield_local(void) {
    WorkerCore* w = spindle::detail::current_worker();
    if (w == nullptr)
        return -1;
    Job* j = spindle::detail::pop_local(w);
    if (j == nullptr)
        return 0;
    const Context saved = spindle::detail::current_context();
    w->counters.jobs_run.bump();
    spindle::detail::execute_job(j);
    spindle::detail::set_context(saved);
    return 1;
}

void* spindle_tlv_get(void) {
    return spindle::tlv_get();
}

void spindle_tlv_set(void* value) {
    spindle::tlv_set(value);
}

void spindle_mark_blocked(void) {
    try {
        tl_sections.push_back(new spindle::BlockingSection("mark_blocked"));
    } catch (...) {
        abort_with("mark_blocked: out of memory");
    }
}

void spindle_mark_unblocked(void) {
    if (tl_sections.empty())
        abort_with("mark_unblocked without a matching mark_blocked on this thread");
    delete tl_sections.back();
    tl_sections.pop_back();
}

int spindle_ensure_stack(std::size_t red_zone,
                         std::size_t segment_size,
                         spindle_failure (*fn)(void*),
                         void* data,
                         spindle_failure* failure) {
    if (red_zone == 0)
        red_zone = spindle::default_red_zone;
    if (segment_size == 0)
        segment_size = spindle::default_segment_size;
    bool called = false;
    try {
        *failure = spindle::ensure_stack(red_zone, segment_size, [&] {
            called = true;
            return fn(data);
        });
        return SPINDLE_OK;
    } catch (...) {
        if (called)
            abort_with("ensure_stack: an exception crossed the C ABI");
        return SPINDLE_E_SYSTEM;
    }
}

std::size_t spindle_remaining_stack(void) {
    return spindle::remaining_stack();
}

std::uintptr_t spindle_stack_limit(void) {
    return spindle::detail::frame_address() - spindle::remaining_stack();
}

std::size_t spindle_deadlock_report_len(const spindle_deadlock_report* report) {
    return report->report->waiters().size();
}

const char* spindle_deadlock_report_text(const spindle_deadlock_report* report) {
    return report->text.c_str();
}

int spindle_deadlock_report_fail(const spindle_deadlock_report* report, std::size_t i) {
    try {
        return report->report->fail(i) ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

}  // extern "C"
