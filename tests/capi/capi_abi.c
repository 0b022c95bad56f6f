/* The C ABI (include/spindle/spindle.h) from C: every function, including failures of a join
 * half, a scope spawn, detached spawns with and without a panic handler, and a broadcast.
 * ctest: capi.abi (label capi). Exit status 0 when every check held. A failure is an int*
 * (heap-allocated, its value says which callback failed). */
#include "spindle/spindle.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_int g_checks = 0; /* CHECK runs on pool workers too */
#define CHECK(cond)                                                                  \
    do {                                                                             \
        ++g_checks;                                                                  \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

static spindle_failure make_failure(int v) {
    int* p = malloc(sizeof *p);
    *p = v;
    return p;
}
static atomic_int g_dropped;
static void drop_failure(spindle_failure f) {
    atomic_fetch_add(&g_dropped, 1);
    free(f);
}

/* --- handlers ---------------------------------------------------------------------------- */
typedef struct {
    atomic_int starts, exits, panics, acquires, releases, deadlocks, dropped;
    atomic_int last_panic;
} handlers;

static size_t name_fn(void* user, size_t index, char* buf, size_t len) {
    (void)user;
    return (size_t)snprintf(buf, len, "capi-%zu", index);
}
static void start_fn(void* user, size_t i) {
    (void)i;
    atomic_fetch_add(&((handlers*)user)->starts, 1);
}
static void exit_fn(void* user, size_t i) {
    (void)i;
    atomic_fetch_add(&((handlers*)user)->exits, 1);
}
static void panic_fn(void* user, spindle_failure f) {
    handlers* h = user;
    atomic_store(&h->last_panic, *(int*)f);
    free(f);
    atomic_fetch_add(&h->panics, 1);
}
static void acquire_fn(void* user) {
    atomic_fetch_add(&((handlers*)user)->acquires, 1);
}
static void release_fn(void* user) {
    atomic_fetch_add(&((handlers*)user)->releases, 1);
}
static void deadlock_fn(void* user, const spindle_deadlock_report* r) {
    handlers* h = user;
    CHECK(spindle_deadlock_report_len(r) >= 1);
    CHECK(strstr(spindle_deadlock_report_text(r), "BlockingSection") != NULL);
    CHECK(spindle_deadlock_report_fail(r, 0) == 0); /* a blocking section cannot be failed */
    atomic_fetch_add(&h->deadlocks, 1);
}
static void user_drop_fn(void* user) {
    atomic_fetch_add(&((handlers*)user)->dropped, 1);
}

/* Options for a pool of `threads` workers whose handlers count into h (none if h is NULL). */
static void options_with(spindle_pool_options* o, size_t threads, handlers* h) {
    spindle_pool_options_init(o);
    o->num_threads = threads;
    if (h != NULL) {
        o->user = h;
        o->user_drop = user_drop_fn;
    }
}

static void wait_until(atomic_int* v, int at_least) {
    for (int i = 0; i < 20000 && atomic_load(v) < at_least; ++i)
        usleep(1000);
    CHECK(atomic_load(v) >= at_least);
}

/* --- join ---------------------------------------------------------------------------------- */
typedef struct {
    int n;
    long result;
} fib_arg;
static long fib(int n);
static spindle_failure fib_b(void* data, int migrated) {
    (void)migrated;
    fib_arg* a = data;
    a->result = fib(a->n);
    return NULL;
}
static long fib(int n) {
    if (n < 2)
        return n;
    spindle_join_job job;
    fib_arg b = {n - 2, 0};
    CHECK(spindle_join_push(&job, fib_b, &b) == SPINDLE_OK);
    long a = fib(n - 1);
    if (spindle_join_pop(&job))
        b.result = fib(n - 2);
    else
        CHECK(spindle_join_wait(&job) == NULL);
    return a + b.result;
}
static spindle_failure fib_install(void* data) {
    fib_arg* a = data;
    a->result = fib(a->n);
    return NULL;
}

/* Recursion through join deeper than a fiber stack: within the red zone spindle_join_push
   answers SPINDLE_E_LOW_STACK and the caller redoes the join inside spindle_ensure_stack. Each
   level keeps 512 bytes alive, 24,000 levels: more than the default stack (8 MiB under
   sanitizers). Counts the levels, so a lost or doubled half shows. */
static atomic_int g_low_stack_hits;
static long deep_join(int n);
static spindle_failure deep_b(void* data, int migrated) {
    (void)migrated;
    *(long*)data = 1;
    return NULL;
}
typedef struct {
    int n;
    long result;
} deep_arg;
static spindle_failure deep_redo(void* data) {
    deep_arg* a = data;
    a->result = deep_join(a->n);
    return NULL;
}
static long deep_join(int n) {
    volatile char buf[512];
    buf[0] = (char)n;
    buf[511] = 0;
    if (n == 0)
        return 0;
    spindle_join_job job;
    long b = 0;
    const int rc = spindle_join_push(&job, deep_b, &b);
    if (rc == SPINDLE_E_LOW_STACK) {
        atomic_fetch_add(&g_low_stack_hits, 1);
        deep_arg a = {n, 0};
        spindle_failure f = NULL;
        CHECK(spindle_ensure_stack(0, 0, deep_redo, &a, &f) == SPINDLE_OK && f == NULL);
        return a.result;
    }
    CHECK(rc == SPINDLE_OK);
    const long below = deep_join(n - 1);
    if (spindle_join_pop(&job))
        deep_b(&b, 0);
    else
        CHECK(spindle_join_wait(&job) == NULL);
    return below + b + buf[511];
}
static spindle_failure deep_install(void* data) {
    deep_arg* a = data;
    a->result = deep_join(a->n);
    return NULL;
}

/* b fails whether stolen or not; the caller gets the failure back either way. */
static spindle_failure failing_b(void* data, int migrated) {
    (void)migrated;
    (void)data;
    return make_failure(42);
}
static spindle_failure join_with_failing_b(void* data) {
    (void)data;
    spindle_join_job job;
    spindle_tlv_set((void*)0x10);
    CHECK(spindle_join_push(&job, failing_b, NULL) == SPINDLE_OK);
    spindle_tlv_set((void*)0x20); /* a changes the tlv: join puts back the one of its entry */
    spindle_failure f;
    if (spindle_join_pop(&job)) {
        f = failing_b(NULL, 0);
        spindle_join_restore(&job);
    } else {
        f = spindle_join_wait(&job);
    }
    CHECK(spindle_tlv_get() == (void*)0x10);
    return f;
}

/* --- scopes -------------------------------------------------------------------------------- */
static atomic_int g_spawned;
static spindle_failure count_spawn(void* data, spindle_scope* s) {
    (void)s;
    (void)data;
    atomic_fetch_add(&g_spawned, 1);
    return NULL;
}
static spindle_failure fail_spawn(void* data, spindle_scope* s) {
    (void)s;
    return make_failure((int)(intptr_t)data);
}
static spindle_failure scope_body(void* data, spindle_scope* s) {
    (void)data;
    CHECK(spindle_scope_pool(s) != NULL);
    for (int i = 0; i < 100; ++i)
        CHECK(spindle_scope_spawn(s, count_spawn, NULL) == SPINDLE_OK);
    return NULL;
}
static spindle_failure scope_body_failing_spawns(void* data, spindle_scope* s) {
    (void)data;
    CHECK(spindle_scope_spawn(s, fail_spawn, (void*)7) == SPINDLE_OK);
    CHECK(spindle_scope_spawn(s, fail_spawn, (void*)7) == SPINDLE_OK);
    return NULL;
}
static spindle_failure tlv_spawn(void* data, spindle_scope* s) {
    (void)s;
    *(void**)data = spindle_tlv_get();
    return NULL;
}
static spindle_failure scope_body_tlv(void* data, spindle_scope* s) {
    /* the scope captured the tlv at creation; a spawn made after tlv_set still sees that one */
    spindle_tlv_set((void*)0x99);
    CHECK(spindle_scope_spawn(s, tlv_spawn, data) == SPINDLE_OK);
    return NULL;
}

/* FIFO order on one worker: spawns run oldest first. */
static int g_order[64];
static atomic_int g_order_n;
static spindle_failure order_spawn(void* data, spindle_scope* s) {
    (void)s;
    g_order[atomic_fetch_add(&g_order_n, 1)] = (int)(intptr_t)data;
    return NULL;
}
static spindle_failure fifo_body(void* data, spindle_scope* s) {
    (void)data;
    for (int i = 0; i < 10; ++i)
        CHECK(spindle_scope_spawn(s, order_spawn, (void*)(intptr_t)i) == SPINDLE_OK);
    return NULL;
}

/* --- broadcasts, detached ------------------------------------------------------------------ */
static atomic_int g_bcast_mask;
static spindle_failure bcast_fn(void* data, size_t index, size_t n) {
    (void)data;
    CHECK(n == 2);
    CHECK((ptrdiff_t)index == spindle_current_thread_index());
    atomic_fetch_or(&g_bcast_mask, 1 << index);
    return index == 1 ? make_failure(100 + (int)index) : NULL;
}
static atomic_int g_shared_dropped;
static void drop_shared(void* data) {
    (void)data;
    atomic_fetch_add(&g_shared_dropped, 1);
}
static spindle_failure sbcast_fn(void* data, size_t index, size_t n) {
    (void)data;
    (void)n;
    atomic_fetch_or(&g_bcast_mask, 1 << index);
    return NULL;
}
static spindle_failure scope_sbcast_fn(void* data, spindle_scope* s, size_t index, size_t n) {
    (void)s;
    return sbcast_fn(data, index, n);
}
static spindle_failure scope_body_sbcast(void* data, spindle_scope* s) {
    (void)data;
    CHECK(spindle_scope_spawn_broadcast(s, scope_sbcast_fn, NULL, drop_shared) == SPINDLE_OK);
    return NULL;
}
static atomic_int g_detached;
static spindle_failure detached_ok(void* data) {
    CHECK(spindle_tlv_get() == NULL); /* detached jobs run with a null tlv */
    free(data);
    atomic_fetch_add(&g_detached, 1);
    return NULL;
}
static spindle_failure detached_fail(void* data) {
    (void)data;
    return make_failure(5);
}

/* --- the calling thread -------------------------------------------------------------------- */
static spindle_failure on_worker(void* data) {
    spindle_pool* pool = data;
    CHECK(spindle_current_pool() == pool);
    CHECK(spindle_pool_current_thread_index(pool) >= 0);
    CHECK(spindle_current_thread_index() >= 0);
    CHECK(spindle_current_num_threads() == 2);
    CHECK(spindle_current_thread_has_pending_tasks() == 0);
    CHECK(spindle_yield_local() == 0);
    int y = spindle_yield_now();
    CHECK(y == 0 || y == 1);
    /* a job pushed with join is a pending local task; yield_local would run it */
    spindle_join_job job;
    fib_arg b = {10, 0};
    CHECK(spindle_join_push(&job, fib_b, &b) == SPINDLE_OK);
    int pending = spindle_current_thread_has_pending_tasks();
    if (spindle_join_pop(&job)) {
        CHECK(pending == 1);
        b.result = fib(10);
    } else {
        CHECK(spindle_join_wait(&job) == NULL);
    }
    CHECK(b.result == 55);
    spindle_mark_blocked();
    spindle_mark_unblocked();
    CHECK(spindle_remaining_stack() > 16 * 1024);
    /* the frame address, not &y: under ASan locals may live on its fake stack */
    CHECK(spindle_stack_limit() < (uintptr_t)__builtin_frame_address(0));
    return NULL;
}

static int g_depth_max;
static spindle_failure deep(void* data) {
    int d = (int)(intptr_t)data;
    char pad[4096];
    memset(pad, d, sizeof pad);
    if (d > g_depth_max)
        g_depth_max = d;
    if (d < 2000) {
        spindle_failure f = NULL;
        CHECK(spindle_ensure_stack(0, 0, deep, (void*)(intptr_t)(d + 1), &f) == SPINDLE_OK);
        CHECK(f == NULL);
    }
    return pad[d % 4096] == (char)d ? NULL : make_failure(1);
}

/* A pool whose only worker blocks (mark_blocked) with no spare: the deadlock handler runs. */
static spindle_failure block_forever_ish(void* data) {
    handlers* h = data;
    spindle_mark_blocked();
    while (atomic_load(&h->deadlocks) == 0)
        usleep(1000);
    spindle_mark_unblocked();
    return NULL;
}

/* spawn_thread: the embedder makes the worker threads; jobs see its thread-local. */
static _Thread_local int tl_embedded = 0;
static void* embedded_main(void* start) {
    tl_embedded = 1;
    spindle_worker_run(start);
    return NULL;
}
static pthread_t g_threads[8];
static atomic_int g_nthreads;
static int spawn_thread_fn(void* user, size_t index, spindle_worker_start* start) {
    (void)user;
    (void)index;
    int k = atomic_fetch_add(&g_nthreads, 1);
    return pthread_create(&g_threads[k], NULL, embedded_main, start);
}
static spindle_failure read_embedded(void* data, size_t index, size_t n) {
    (void)index;
    (void)n;
    if (tl_embedded)
        atomic_fetch_add((atomic_int*)data, 1);
    return NULL;
}

static spindle_failure release_own_pool(void* data) {
    spindle_pool_release((spindle_pool*)data); /* the last reference, from its own worker */
    return NULL;
}

/* A detached job that, after the pool's last reference is gone, spawns more jobs on the
   current pool (NULL): they must run, and the pool must be destroyed once, after them. */
static atomic_int g_released, g_nested_ran;
static spindle_failure nested_leaf(void* data) {
    (void)data;
    atomic_fetch_add(&g_nested_ran, 1);
    return NULL;
}
static spindle_failure spawn_after_release(void* data) {
    (void)data;
    while (atomic_load(&g_released) == 0)
        usleep(100);
    for (int i = 0; i < 10; ++i)
        CHECK(spindle_spawn(NULL, i % 2, nested_leaf, NULL) == SPINDLE_OK);
    return NULL;
}

int main(void) {
    char err[256];
    spindle_pool_options o;

    /* without a panic handler a failing detached job aborts the process (first, while this
       process has no threads: TSan refuses to start threads in the child of a threaded fork) */
    pid_t child = fork();
    if (child == 0) {
        spindle_pool_options_init(&o);
        o.num_threads = 1;
        spindle_pool* pc = NULL;
        if (spindle_pool_create(&o, &pc, err, sizeof err) != SPINDLE_OK)
            _exit(3);
        spindle_spawn(pc, 0, detached_fail, NULL);
        sleep(10);
        _exit(0);
    }
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);

    /* bad options are a status, not an exception; user_drop still runs */
    handlers bad = {0};
    spindle_pool_options_init(&o);
    o.num_threads = 100000;
    o.user = &bad;
    o.user_drop = user_drop_fn;
    spindle_pool* p = NULL;
    CHECK(spindle_pool_create(&o, &p, err, sizeof err) == SPINDLE_E_INVALID);
    CHECK(strstr(err, "num_threads") != NULL);
    CHECK(atomic_load(&bad.dropped) == 1);

    handlers h = {0};
    spindle_pool_options_init(&o);
    o.num_threads = 2;
    o.stack_size = 1 << 20;
    o.user = &h;
    o.user_drop = user_drop_fn;
    o.thread_name = name_fn;
    o.start_handler = start_fn;
    o.exit_handler = exit_fn;
    o.panic_handler = panic_fn;
    o.acquire_thread_handler = acquire_fn;
    o.release_thread_handler = release_fn;
    CHECK(spindle_pool_create(&o, &p, err, sizeof err) == SPINDLE_OK);
    CHECK(spindle_pool_num_threads(p) == 2);
    CHECK(spindle_pool_current_thread_index(p) == -1);
    CHECK(spindle_current_thread_index() == -1);
    CHECK(spindle_current_pool() == NULL);
    CHECK(spindle_current_thread_has_pending_tasks() == -1);
    CHECK(spindle_yield_now() == -1);
    CHECK(spindle_yield_local() == -1);
    CHECK(spindle_max_num_threads() == 4096);
    spindle_join_job outside;
    CHECK(spindle_join_push(&outside, fib_b, NULL) == SPINDLE_E_NOT_ON_WORKER);

    fib_arg fa = {20, 0};
    CHECK(spindle_pool_install(p, fib_install, &fa) == NULL);
    CHECK(fa.result == 6765);
    CHECK(spindle_pool_install(p, on_worker, p) == NULL);
    wait_until(&h.starts, 2);
    CHECK(atomic_load(&h.acquires) >= 2);

    for (int i = 0; i < 50; ++i) {
        spindle_failure f = spindle_pool_install(p, join_with_failing_b, NULL);
        CHECK(f != NULL && *(int*)f == 42);
        free(f);
    }

    atomic_store(&g_spawned, 0);
    CHECK(spindle_scope_run(p, 0, scope_body, NULL, drop_failure) == NULL);
    CHECK(atomic_load(&g_spawned) == 100);
    atomic_store(&g_spawned, 0);
    CHECK(spindle_scope_run(p, SPINDLE_SCOPE_IN_PLACE, scope_body, NULL, drop_failure) == NULL);
    CHECK(atomic_load(&g_spawned) == 100);
    atomic_store(&g_dropped, 0);
    spindle_failure sf = spindle_scope_run(p, 0, scope_body_failing_spawns, NULL, drop_failure);
    CHECK(sf != NULL && *(int*)sf == 7);
    free(sf);
    CHECK(atomic_load(&g_dropped) == 1); /* the second failure was dropped, not leaked */
    void* seen = NULL;
    spindle_tlv_set((void*)0x55);
    CHECK(spindle_scope_run(p, SPINDLE_SCOPE_IN_PLACE, scope_body_tlv, &seen, drop_failure) ==
          NULL);
    CHECK(seen == (void*)0x55);
    CHECK(spindle_tlv_get() == (void*)0x55); /* the caller's tlv is put back */
    spindle_tlv_set(NULL);

    /* FIFO scope on a one-worker pool: strict oldest-first order */
    handlers h1 = {0};
    options_with(&o, 1, &h1);
    spindle_pool* p1 = NULL;
    CHECK(spindle_pool_create(&o, &p1, err, sizeof err) == SPINDLE_OK);
    atomic_store(&g_order_n, 0);
    CHECK(spindle_scope_run(p1, SPINDLE_SCOPE_FIFO, fifo_body, NULL, drop_failure) == NULL);
    CHECK(atomic_load(&g_order_n) == 10);
    for (int i = 0; i < 10; ++i)
        CHECK(g_order[i] == i);
    atomic_store(&g_order_n, 0);
    CHECK(spindle_scope_run(p1, 0, fifo_body, NULL, drop_failure) == NULL);
    CHECK(g_order[0] == 9); /* LIFO without the flag */

    /* broadcast: every worker once, the failure of index 1 comes back */
    atomic_store(&g_bcast_mask, 0);
    spindle_failure bf = spindle_broadcast(p, bcast_fn, NULL, drop_failure);
    CHECK(atomic_load(&g_bcast_mask) == 3);
    CHECK(bf != NULL && *(int*)bf == 101);
    free(bf);
    atomic_store(&g_bcast_mask, 0);
    atomic_store(&g_shared_dropped, 0);
    CHECK(spindle_spawn_broadcast(p, sbcast_fn, NULL, drop_shared) == SPINDLE_OK);
    wait_until(&g_shared_dropped, 1);
    CHECK(atomic_load(&g_bcast_mask) == 3);
    atomic_store(&g_bcast_mask, 0);
    CHECK(spindle_scope_run(p, 0, scope_body_sbcast, NULL, drop_failure) == NULL);
    CHECK(atomic_load(&g_bcast_mask) == 3);
    wait_until(&g_shared_dropped, 2);

    /* detached spawns, LIFO and FIFO, and a failing one that reaches the panic handler */
    spindle_tlv_set((void*)0x77);
    for (int i = 0; i < 20; ++i)
        CHECK(spindle_spawn(p, i % 2, detached_ok, malloc(8)) == SPINDLE_OK);
    spindle_tlv_set(NULL);
    wait_until(&g_detached, 20);
    CHECK(spindle_spawn(p, 0, detached_fail, NULL) == SPINDLE_OK);
    wait_until(&h.panics, 1);
    CHECK(atomic_load(&h.last_panic) == 5);

    /* ensure_stack: 2000 frames of 4 KiB on a 1 MiB fiber continue on segments */
    CHECK(spindle_pool_install(p, deep, (void*)(intptr_t)0) == NULL);
    CHECK(g_depth_max == 2000);

    /* release from the pool's own worker: returns at once, the pool stops in the background */
    spindle_pool_retain(p1);
    spindle_pool_release(p1);
    CHECK(spindle_pool_same(p1, p1));
    CHECK(!spindle_pool_same(p1, p));
    CHECK(spindle_spawn(p1, 0, release_own_pool, p1) == SPINDLE_OK);
    wait_until(&h1.dropped, 1);

    /* spawns from a job of a pool whose last reference is gone: all run, one destruction */
    handlers hn = {0};
    options_with(&o, 2, &hn);
    spindle_pool* pn = NULL;
    CHECK(spindle_pool_create(&o, &pn, err, sizeof err) == SPINDLE_OK);
    for (int i = 0; i < 4; ++i)
        CHECK(spindle_spawn(pn, 0, spawn_after_release, NULL) == SPINDLE_OK);
    spindle_pool_release(pn);
    atomic_store(&g_released, 1);
    wait_until(&hn.dropped, 1);
    CHECK(atomic_load(&g_nested_ran) == 40);
    usleep(20000);
    CHECK(atomic_load(&hn.dropped) == 1);

    /* the deadlock handler: a one-worker pool without spares whose worker blocks */
    handlers hd = {0};
    options_with(&o, 1, &hd);
    o.deadlock_handler = deadlock_fn;
    spindle_pool* pd = NULL;
    CHECK(spindle_pool_create(&o, &pd, err, sizeof err) == SPINDLE_OK);
    CHECK(spindle_pool_install(pd, block_forever_ish, &hd) == NULL);
    CHECK(atomic_load(&hd.deadlocks) >= 1);
    spindle_pool_release(pd);
    wait_until(&hd.dropped, 1);

    /* worker threads made by the embedder */
    handlers he = {0};
    options_with(&o, 2, &he);
    o.max_spare_threads = 0;
    o.spawn_thread = spawn_thread_fn;
    spindle_pool* pe = NULL;
    CHECK(spindle_pool_create(&o, &pe, err, sizeof err) == SPINDLE_OK);
    CHECK(atomic_load(&g_nthreads) == 2);
    atomic_int embedded = 0;
    CHECK(spindle_broadcast(pe, read_embedded, &embedded, drop_failure) == NULL);
    CHECK(atomic_load(&embedded) == 2);
    spindle_pool_release(pe);
    wait_until(&he.dropped, 1);
    for (int i = 0; i < 2; ++i)
        CHECK(pthread_join(g_threads[i], NULL) == 0);

    spindle_pool_release(p);
    wait_until(&h.dropped, 1);
    CHECK(atomic_load(&h.exits) == atomic_load(&h.starts) && atomic_load(&h.exits) >= 2);
    CHECK(atomic_load(&h.releases) == atomic_load(&h.acquires));

    /* join recursion deeper than a fiber stack continues on new segments */
    for (int threads = 1; threads <= 2; ++threads) {
        options_with(&o, (size_t)threads, NULL);
        spindle_pool* pdeep = NULL;
        CHECK(spindle_pool_create(&o, &pdeep, err, sizeof err) == SPINDLE_OK);
        deep_arg da = {24000, 0};
        atomic_store(&g_low_stack_hits, 0);
        CHECK(spindle_pool_install(pdeep, deep_install, &da) == NULL);
        CHECK(da.result == 24000);
#if !defined(__SANITIZE_ADDRESS__)
        CHECK(atomic_load(&g_low_stack_hits) > 0); /* under ASan locals may live off the stack */
#endif
        spindle_pool_release(pdeep);
    }

    /* the global pool: built once; join/scope with NULL pool; a second build is a status */
    spindle_pool_options_init(&o);
    o.num_threads = 2;
    CHECK(spindle_build_global(&o, err, sizeof err) == SPINDLE_OK);
    CHECK(spindle_build_global(&o, err, sizeof err) == SPINDLE_E_GLOBAL_EXISTS);
    spindle_pool* g = spindle_global_pool();
    CHECK(g != NULL && spindle_pool_num_threads(g) == 2);
    CHECK(spindle_current_num_threads() == 2);
    atomic_store(&g_spawned, 0);
    CHECK(spindle_scope_run(NULL, SPINDLE_SCOPE_IN_PLACE, scope_body, NULL, drop_failure) == NULL);
    CHECK(atomic_load(&g_spawned) == 100);
    fa.n = 15;
    CHECK(spindle_pool_install(g, fib_install, &fa) == NULL);
    CHECK(fa.result == 610);

    printf("capi: %d checks passed\n", atomic_load(&g_checks));
    return 0;
}
