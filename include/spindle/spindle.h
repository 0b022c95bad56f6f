/* spindle's C ABI (C11; also valid C++). What other languages (the Rust crate in
 * bindings/rust/rayon-core) call. design-notes/0008 maps each item to rayon-core's API.
 *
 * Rules that hold for every function here:
 *   - No C++ exception ever leaves a function of this header, and none may enter it: a callback
 *     must not throw or unwind (a Rust binding catches panics in its trampolines). A callback
 *     that fails returns a non-null "failure" pointer (spindle_failure, the embedder's payload,
 *     e.g. a boxed Rust panic); spindle never looks inside it and hands it back to whoever
 *     resumes it (join, scope, install, broadcast return it; a detached job's goes to the pool's
 *     panic handler). Errors of spindle itself are returned as status codes (SPINDLE_OK = 0).
 *   - Callbacks are (function pointer, data pointer) pairs. Who owns `data` is said per function.
 *   - Handles are opaque. spindle_pool is reference-counted (retain/release); its last release
 *     never waits: the pool finishes its pending jobs and stops in the background, and may be
 *     released from one of its own workers.
 */
#ifndef SPINDLE_SPINDLE_H
#define SPINDLE_SPINDLE_H

#include <stddef.h>
#include <stdint.h>

/* SPINDLE_C_API marks the exported functions (spindle is built with hidden visibility). */
#if defined(__GNUC__) || defined(__clang__)
#define SPINDLE_C_API __attribute__((visibility("default")))
#else
#define SPINDLE_C_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. */
#define SPINDLE_OK 0
#define SPINDLE_E_INVALID 1       /* bad option (message in the error buffer) */
#define SPINDLE_E_SYSTEM 2        /* a thread or memory could not be had */
#define SPINDLE_E_GLOBAL_EXISTS 3 /* build_global after the global pool exists */
#define SPINDLE_E_NOT_ON_WORKER 4 /* the call needs a worker thread */
#define SPINDLE_E_LOW_STACK 5     /* less than the red zone left: continue on a new segment */

/* The embedder's failure payload: non-null means "this callback failed". */
typedef void* spindle_failure;

#ifdef __cplusplus
#define SPINDLE_ALIGNAS(n) alignas(n)
#else
#define SPINDLE_ALIGNAS(n) _Alignas(n)
#endif

typedef struct spindle_pool spindle_pool;
typedef struct spindle_scope spindle_scope;
typedef struct spindle_deadlock_report spindle_deadlock_report;
typedef struct spindle_worker_start spindle_worker_start;

/* ------------------------------------------------------------------------------------------
 * Pools
 * ---------------------------------------------------------------------------------------- */

/* Builder options. Fill with spindle_pool_options_init, then set fields. Every handler gets
 * `user` as its first argument; `user_drop(user)` is called once, after the pool's last worker
 * exited (also when creation fails). Handlers run on worker threads unless said otherwise. */
typedef struct spindle_pool_options {
    size_t num_threads; /* 0: SPINDLE_NUM_THREADS, else hardware threads; at most 4096 */
    size_t stack_size;  /* usable bytes per fiber and worker thread; 0: 2 MiB */
    void* user;
    void (*user_drop)(void* user);
    /* Writes worker `index`'s name into buf (at most len bytes, no NUL needed), returns its
     * length; NULL: "spindle-<index>". Called while the pool is created. */
    size_t (*thread_name)(void* user, size_t index, char* buf, size_t len);
    void (*start_handler)(void* user, size_t index);
    void (*exit_handler)(void* user, size_t index);
    /* Receives, and then owns, the failure of a detached job (spawn, spawn_broadcast). NULL:
     * such a failure aborts the process with a message. */
    void (*panic_handler)(void* user, spindle_failure failure);
    /* Called on the pool's monitor thread (not a worker) once per deadlock; the report is
     * valid during the call only. NULL: the report is printed to stderr. */
    void (*deadlock_handler)(void* user, const spindle_deadlock_report* report);
    /* rustc's jobserver hooks; on one worker the calls alternate acquire, release, ... */
    void (*acquire_thread_handler)(void* user);
    void (*release_thread_handler)(void* user);
    /* Spare workers that blocking sections (mark_blocked) may start; SIZE_MAX (the default):
     * num_threads, 0: none. */
    size_t max_spare_threads;
    /* Worker threads made by the embedder (rayon's spawn_handler): called once per worker with
     * a start token, on the thread creating the pool (for a spare worker: on the thread whose
     * blocking section starts it). It starts a thread that calls spindle_worker_run(start)
     * once, and returns 0; nonzero: no thread was made (the token is freed by spindle and pool
     * creation fails with SPINDLE_E_SYSTEM). NULL: spindle makes its threads. */
    int (*spawn_thread)(void* user, size_t index, spindle_worker_start* start);
} spindle_pool_options;

SPINDLE_C_API void spindle_pool_options_init(spindle_pool_options* options);

/* On the thread spawn_thread made: runs worker code until the pool stops, then frees start. */
SPINDLE_C_API void spindle_worker_run(spindle_worker_start* start);

/* Creates a pool holding one reference for the caller. On failure returns a status, writes a
 * NUL-terminated message into err (when errlen > 0) and calls options->user_drop. */
SPINDLE_C_API int spindle_pool_create(const spindle_pool_options* options,
                        spindle_pool** out,
                        char* err,
                        size_t errlen);
/* Builds the global pool with these options (same failure rules, SPINDLE_E_GLOBAL_EXISTS when
 * it already exists, also after a lazy first use). */
SPINDLE_C_API int spindle_build_global(const spindle_pool_options* options, char* err, size_t errlen);
/* The global pool (built with defaults on first use); borrowed, never freed. NULL only when it
 * cannot be built (no threads). */
SPINDLE_C_API spindle_pool* spindle_global_pool(void);
/* The pool of the calling worker, or NULL on a thread outside any pool; borrowed. */
SPINDLE_C_API spindle_pool* spindle_current_pool(void);

SPINDLE_C_API void spindle_pool_retain(spindle_pool* pool);
/* Drops a reference. The last one returns at once; the pool runs its queued and detached jobs,
 * then stops its workers (exit handlers), then calls user_drop, on a thread of its own. */
SPINDLE_C_API void spindle_pool_release(spindle_pool* pool);

SPINDLE_C_API size_t spindle_pool_num_threads(const spindle_pool* pool);
/* Index of the caller in this pool, or -1 when the caller is not one of its workers. */
SPINDLE_C_API ptrdiff_t spindle_pool_current_thread_index(const spindle_pool* pool);
/* Nonzero when both handles name the same pool. */
SPINDLE_C_API int spindle_pool_same(const spindle_pool* a, const spindle_pool* b);

/* Runs fn(data) on a worker of pool (inline when the caller is one; the caller blocks, or its
 * fiber parks, otherwise) and returns its failure. `data` stays the caller's. */
SPINDLE_C_API spindle_failure spindle_pool_install(spindle_pool* pool,
                                     spindle_failure (*fn)(void* data),
                                     void* data);

/* ------------------------------------------------------------------------------------------
 * join, split so that the caller runs both closures itself unless b is stolen:
 *
 *   spindle_join_job job;                       // on the caller's stack
 *   int rc = spindle_join_push(&job, run_b, &b);
 *   if (rc == SPINDLE_E_NOT_ON_WORKER) { not on a worker: install first }
 *   if (rc == SPINDLE_E_LOW_STACK) { the stack is nearly used up: redo the join inside
 *                                    spindle_ensure_stack(0, 0, ...) }
 *   ... run a ...
 *   if (spindle_join_pop(&job)) { ... run b ...; if b failed: spindle_join_restore(&job); }
 *   else                         { failure_b = spindle_join_wait(&job); }
 *
 * Every push is followed by exactly one pop, and a pop that returned 0 by one wait, on the same
 * thread, before the buffer goes away; push/pop pairs nest (LIFO). run_b(data, migrated) is
 * called only when b was stolen (migrated: nonzero when it runs on another worker than the
 * pusher's); it must not unwind. pop and wait put back the context (tlv) captured at push.
 * ---------------------------------------------------------------------------------------- */
typedef struct spindle_join_job {
    SPINDLE_ALIGNAS(16) unsigned char bytes[64];
} spindle_join_job;

SPINDLE_C_API int spindle_join_push(spindle_join_job* job,
                      spindle_failure (*run_b)(void* data, int migrated),
                      void* data);
SPINDLE_C_API int spindle_join_pop(spindle_join_job* job);
SPINDLE_C_API spindle_failure spindle_join_wait(spindle_join_job* job);
SPINDLE_C_API void spindle_join_restore(spindle_join_job* job);

/* ------------------------------------------------------------------------------------------
 * Scopes
 * ---------------------------------------------------------------------------------------- */
#define SPINDLE_SCOPE_FIFO 1     /* spindle_scope_spawn runs each worker's spawns oldest first */
#define SPINDLE_SCOPE_IN_PLACE 2 /* the body runs on the calling thread, even outside the pool */

/* Runs body(data, scope) (on pool, or the current/global pool when pool is NULL; on the caller
 * with SPINDLE_SCOPE_IN_PLACE), then waits for every job spawned in the scope. Returns the first
 * failure of the body or a spawned job; every later one is passed to drop_failure (may be NULL
 * only if no callback ever fails). The scope captures the caller's tlv; its spawns run with it. */
SPINDLE_C_API spindle_failure spindle_scope_run(spindle_pool* pool,
                                  int flags,
                                  spindle_failure (*body)(void* data, spindle_scope* scope),
                                  void* data,
                                  void (*drop_failure)(spindle_failure));
/* Spawns fn(data, scope) into the scope; fn owns data from now on and is called exactly once.
 * Returns SPINDLE_E_SYSTEM (data still the caller's) when the job cannot be queued. */
SPINDLE_C_API int spindle_scope_spawn(spindle_scope* scope,
                        spindle_failure (*fn)(void* data, spindle_scope* scope),
                        void* data);
/* Spawns fn(data, scope, index, num_threads) once on every worker of the scope's pool;
 * drop(data) is called after the last of them (drop may be NULL). */
SPINDLE_C_API int spindle_scope_spawn_broadcast(
    spindle_scope* scope,
    spindle_failure (*fn)(void* data, spindle_scope* scope, size_t index, size_t num_threads),
    void* data,
    void (*drop)(void* data));
SPINDLE_C_API spindle_pool* spindle_scope_pool(const spindle_scope* scope); /* borrowed */

/* ------------------------------------------------------------------------------------------
 * Detached jobs and broadcasts (pool NULL: the current worker's pool, else the global one)
 * ---------------------------------------------------------------------------------------- */
/* fn owns data and is called exactly once; its failure goes to the panic handler. With fifo
 * nonzero, the spawns of one worker run oldest first. Detached jobs run with a null tlv. */
SPINDLE_C_API int spindle_spawn(spindle_pool* pool, int fifo, spindle_failure (*fn)(void* data), void* data);
/* fn(data, index, num_threads) on every worker; returns the failure of the lowest index (the
 * others go to drop_failure). Blocks (or parks) until all finished. */
SPINDLE_C_API spindle_failure spindle_broadcast(spindle_pool* pool,
                                  spindle_failure (*fn)(void* data,
                                                        size_t index,
                                                        size_t num_threads),
                                  void* data,
                                  void (*drop_failure)(spindle_failure));
/* One detached job pinned to each worker; each failure goes to the panic handler; drop(data)
 * after the last call. */
SPINDLE_C_API int spindle_spawn_broadcast(spindle_pool* pool,
                            spindle_failure (*fn)(void* data, size_t index, size_t num_threads),
                            void* data,
                            void (*drop)(void* data));

/* ------------------------------------------------------------------------------------------
 * The calling thread
 * ---------------------------------------------------------------------------------------- */
SPINDLE_C_API ptrdiff_t spindle_current_thread_index(void); /* -1 outside any pool */
SPINDLE_C_API size_t spindle_current_num_threads(void);     /* outside any pool: the global pool's */
SPINDLE_C_API size_t spindle_max_num_threads(void);         /* 4096 */
/* 1 when the calling worker's deque holds jobs, 0 when not, -1 outside any pool. */
SPINDLE_C_API int spindle_current_thread_has_pending_tasks(void);
/* 1: another job ran, 0: nothing to run, -1: outside any pool. yield_now may run any job (on a
 * fiber of its own); yield_local only a job of this worker's own deque (nested). */
SPINDLE_C_API int spindle_yield_now(void);
SPINDLE_C_API int spindle_yield_local(void);

SPINDLE_C_API void* spindle_tlv_get(void);
SPINDLE_C_API void spindle_tlv_set(void* value);

/* The fork's blocking section: the worker counts as blocked until mark_unblocked (same thread,
 * nesting); a spare worker keeps the pool busy meanwhile. No-ops outside a pool. */
SPINDLE_C_API void spindle_mark_blocked(void);
SPINDLE_C_API void spindle_mark_unblocked(void);

/* Runs fn(data) on the calling stack when at least red_zone bytes are left, else on a new
 * segment of segment_size bytes (0, 0: the defaults). Stores fn's failure in *failure.
 * SPINDLE_E_SYSTEM when no segment can be had (fn not called). */
SPINDLE_C_API int spindle_ensure_stack(size_t red_zone,
                         size_t segment_size,
                         spindle_failure (*fn)(void* data),
                         void* data,
                         spindle_failure* failure);
/* Bytes left below the caller on its stack (fiber, segment or thread), as stacker's
 * remaining_stack() means it; and the stack's lowest usable address. */
SPINDLE_C_API size_t spindle_remaining_stack(void);
SPINDLE_C_API uintptr_t spindle_stack_limit(void);

/* Deadlock reports (inside deadlock_handler only). */
SPINDLE_C_API size_t spindle_deadlock_report_len(const spindle_deadlock_report* report);
/* The report as text (NUL-terminated, valid during the handler call). */
SPINDLE_C_API const char* spindle_deadlock_report_text(const spindle_deadlock_report* report);
/* Fails waiter i's wait with a DeadlockError; 1 when it could, 0 when not. */
SPINDLE_C_API int spindle_deadlock_report_fail(const spindle_deadlock_report* report, size_t i);

#ifdef __cplusplus
}
#endif

#endif /* SPINDLE_SPINDLE_H */
