//! The C ABI of include/spindle/spindle.h, declared by hand (it is small and stable).
#![allow(non_camel_case_types, dead_code)]

use std::os::raw::{c_char, c_int, c_void};

pub(crate) type Failure = *mut c_void;

#[repr(C)]
pub(crate) struct spindle_pool {
    _private: [u8; 0],
}
#[repr(C)]
pub(crate) struct spindle_scope {
    _private: [u8; 0],
}
#[repr(C)]
pub(crate) struct spindle_worker_start {
    _private: [u8; 0],
}
#[repr(C)]
pub(crate) struct spindle_deadlock_report {
    _private: [u8; 0],
}

#[repr(C, align(16))]
pub(crate) struct spindle_join_job {
    pub bytes: [u8; 64],
}

pub(crate) const SPINDLE_OK: c_int = 0;
pub(crate) const SPINDLE_E_LOW_STACK: c_int = 5;
pub(crate) const SPINDLE_E_INVALID: c_int = 1;
pub(crate) const SPINDLE_E_SYSTEM: c_int = 2;
pub(crate) const SPINDLE_E_GLOBAL_EXISTS: c_int = 3;
pub(crate) const SCOPE_FIFO: c_int = 1;
pub(crate) const SCOPE_IN_PLACE: c_int = 2;

#[repr(C)]
pub(crate) struct spindle_pool_options {
    pub num_threads: usize,
    pub stack_size: usize,
    pub user: *mut c_void,
    pub user_drop: Option<unsafe extern "C" fn(*mut c_void)>,
    pub thread_name: Option<unsafe extern "C" fn(*mut c_void, usize, *mut c_char, usize) -> usize>,
    pub start_handler: Option<unsafe extern "C" fn(*mut c_void, usize)>,
    pub exit_handler: Option<unsafe extern "C" fn(*mut c_void, usize)>,
    pub panic_handler: Option<unsafe extern "C" fn(*mut c_void, Failure)>,
    pub deadlock_handler: Option<unsafe extern "C" fn(*mut c_void, *const spindle_deadlock_report)>,
    pub acquire_thread_handler: Option<unsafe extern "C" fn(*mut c_void)>,
    pub release_thread_handler: Option<unsafe extern "C" fn(*mut c_void)>,
    pub max_spare_threads: usize,
    pub spawn_thread:
        Option<unsafe extern "C" fn(*mut c_void, usize, *mut spindle_worker_start) -> c_int>,
}

pub(crate) type BodyFn = unsafe extern "C" fn(*mut c_void) -> Failure;
pub(crate) type ScopeFn = unsafe extern "C" fn(*mut c_void, *mut spindle_scope) -> Failure;
pub(crate) type BcastFn = unsafe extern "C" fn(*mut c_void, usize, usize) -> Failure;
pub(crate) type ScopeBcastFn =
    unsafe extern "C" fn(*mut c_void, *mut spindle_scope, usize, usize) -> Failure;
pub(crate) type DropFn = unsafe extern "C" fn(*mut c_void);

extern "C" {
    pub(crate) fn spindle_pool_options_init(o: *mut spindle_pool_options);
    pub(crate) fn spindle_worker_run(start: *mut spindle_worker_start);
    pub(crate) fn spindle_pool_create(
        o: *const spindle_pool_options,
        out: *mut *mut spindle_pool,
        err: *mut c_char,
        errlen: usize,
    ) -> c_int;
    pub(crate) fn spindle_build_global(
        o: *const spindle_pool_options,
        err: *mut c_char,
        errlen: usize,
    ) -> c_int;
    pub(crate) fn spindle_global_pool() -> *mut spindle_pool;
    pub(crate) fn spindle_current_pool() -> *mut spindle_pool;
    pub(crate) fn spindle_pool_retain(p: *mut spindle_pool);
    pub(crate) fn spindle_pool_release(p: *mut spindle_pool);
    pub(crate) fn spindle_pool_num_threads(p: *const spindle_pool) -> usize;
    pub(crate) fn spindle_pool_current_thread_index(p: *const spindle_pool) -> isize;
    pub(crate) fn spindle_pool_same(a: *const spindle_pool, b: *const spindle_pool) -> c_int;
    pub(crate) fn spindle_pool_install(p: *mut spindle_pool, f: BodyFn, d: *mut c_void) -> Failure;

    pub(crate) fn spindle_join_push(
        j: *mut spindle_join_job,
        f: unsafe extern "C" fn(*mut c_void, c_int) -> Failure,
        d: *mut c_void,
    ) -> c_int;
    pub(crate) fn spindle_join_pop(j: *mut spindle_join_job) -> c_int;
    pub(crate) fn spindle_join_wait(j: *mut spindle_join_job) -> Failure;
    pub(crate) fn spindle_join_restore(j: *mut spindle_join_job);

    pub(crate) fn spindle_scope_run(
        p: *mut spindle_pool,
        flags: c_int,
        body: ScopeFn,
        d: *mut c_void,
        drop_failure: Option<DropFn>,
    ) -> Failure;
    pub(crate) fn spindle_scope_spawn(s: *mut spindle_scope, f: ScopeFn, d: *mut c_void) -> c_int;
    pub(crate) fn spindle_scope_spawn_broadcast(
        s: *mut spindle_scope,
        f: ScopeBcastFn,
        d: *mut c_void,
        drop: Option<DropFn>,
    ) -> c_int;
    pub(crate) fn spindle_scope_pool(s: *const spindle_scope) -> *mut spindle_pool;

    pub(crate) fn spindle_spawn(
        p: *mut spindle_pool,
        fifo: c_int,
        f: BodyFn,
        d: *mut c_void,
    ) -> c_int;
    pub(crate) fn spindle_broadcast(
        p: *mut spindle_pool,
        f: BcastFn,
        d: *mut c_void,
        drop_failure: Option<DropFn>,
    ) -> Failure;
    pub(crate) fn spindle_spawn_broadcast(
        p: *mut spindle_pool,
        f: BcastFn,
        d: *mut c_void,
        drop: Option<DropFn>,
    ) -> c_int;

    pub(crate) fn spindle_current_thread_index() -> isize;
    pub(crate) fn spindle_current_num_threads() -> usize;
    pub(crate) fn spindle_max_num_threads() -> usize;
    pub(crate) fn spindle_current_thread_has_pending_tasks() -> c_int;
    pub(crate) fn spindle_yield_now() -> c_int;
    pub(crate) fn spindle_yield_local() -> c_int;
    pub(crate) fn spindle_tlv_get() -> *mut c_void;
    pub(crate) fn spindle_tlv_set(v: *mut c_void);
    pub(crate) fn spindle_mark_blocked();
    pub(crate) fn spindle_mark_unblocked();
    pub(crate) fn spindle_ensure_stack(
        red_zone: usize,
        segment_size: usize,
        f: BodyFn,
        d: *mut c_void,
        failure: *mut Failure,
    ) -> c_int;
    pub(crate) fn spindle_remaining_stack() -> usize;
    pub(crate) fn spindle_stack_limit() -> usize;
    pub(crate) fn spindle_deadlock_report_len(r: *const spindle_deadlock_report) -> usize;
    pub(crate) fn spindle_deadlock_report_text(r: *const spindle_deadlock_report) -> *const c_char;
    pub(crate) fn spindle_deadlock_report_fail(
        r: *const spindle_deadlock_report,
        i: usize,
    ) -> c_int;
}
