//! The extras of rustc's fork of rayon-core (`rustc_thread_pool`), so that a port needs no
//! further C ABI: the tlv, the deadlock handler, the acquire/release thread handlers,
//! `mark_blocked`/`mark_unblocked`, `Registry::current()`, and spindle's stack bounds for
//! stacker-style code. `ThreadPoolBuilder::build_scoped` is in the crate root, as in rayon-core.
//! design-notes/0008 maps each fork item here.

use crate::{ffi, global, Raw, ThreadPoolBuilder};
use std::fmt;
use std::os::raw::c_void;

/// The fork's thread-local value: one pointer, captured by `join` and at scope creation and
/// restored when they return; null in detached spawns (they may outlive what it points to).
pub mod tlv {
    /// The current value.
    #[inline]
    pub fn get() -> *const () {
        unsafe { crate::ffi::spindle_tlv_get() as *const () }
    }
    /// Sets the current value.
    #[inline]
    pub fn set(value: *const ()) {
        unsafe { crate::ffi::spindle_tlv_set(value as *mut std::os::raw::c_void) }
    }
}

impl<S> ThreadPoolBuilder<S> {
    /// The fork's deadlock handler: called (on spindle's monitor thread, not a worker) when
    /// every worker is blocked or parked and nothing can run; once per deadlock.
    pub fn deadlock_handler<H>(mut self, handler: H) -> Self
    where
        H: Fn() + Send + Sync + 'static,
    {
        self.deadlock_handler = Some(Box::new(handler));
        self
    }
    /// Called on a worker when it starts running jobs again (start, wake-up, end of a blocked
    /// section); rustc takes a jobserver token here.
    pub fn acquire_thread_handler<H>(mut self, handler: H) -> Self
    where
        H: Fn() + Send + Sync + 'static,
    {
        self.acquire_thread_handler = Some(Box::new(handler));
        self
    }
    /// Called on a worker when it stops running jobs (sleep, blocked section, exit).
    pub fn release_thread_handler<H>(mut self, handler: H) -> Self
    where
        H: Fn() + Send + Sync + 'static,
    {
        self.release_thread_handler = Some(Box::new(handler));
        self
    }
}

/// The fork's `Registry`: a counted reference to a pool.
pub struct Registry {
    raw: Raw,
}

impl Registry {
    /// The pool of the calling worker, else the global pool (as the fork's).
    pub fn current() -> Registry {
        let mut p = unsafe { ffi::spindle_current_pool() };
        if p.is_null() {
            p = global();
        }
        unsafe { ffi::spindle_pool_retain(p) };
        Registry { raw: Raw(p) }
    }
    /// The registry of a pool.
    pub fn of(pool: &crate::ThreadPool) -> Registry {
        unsafe { ffi::spindle_pool_retain(pool.raw.0) };
        Registry {
            raw: Raw(pool.raw.0),
        }
    }
    /// Number of workers.
    pub fn num_threads(&self) -> usize {
        unsafe { ffi::spindle_pool_num_threads(self.raw.0) }
    }
    /// Index of the calling worker in this registry.
    pub fn current_thread_index(&self) -> Option<usize> {
        let i = unsafe { ffi::spindle_pool_current_thread_index(self.raw.0) };
        if i < 0 {
            None
        } else {
            Some(i as usize)
        }
    }
}

impl Clone for Registry {
    fn clone(&self) -> Self {
        unsafe { ffi::spindle_pool_retain(self.raw.0) };
        Registry {
            raw: Raw(self.raw.0),
        }
    }
}

impl PartialEq for Registry {
    fn eq(&self, other: &Registry) -> bool {
        unsafe { ffi::spindle_pool_same(self.raw.0, other.raw.0) != 0 }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        unsafe { ffi::spindle_pool_release(self.raw.0) }
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry").field("id", &self.raw.0).finish()
    }
}

/// The calling worker is about to block its thread outside the pool (a Condvar, say): the pool
/// counts it as blocked (deadlock detection) and lets a spare worker run meanwhile. Pair with
/// `mark_unblocked` on the same thread. On spindle, prefer its parking waits: a blocked thread
/// also holds the fibers parked on it (design-notes/0008).
pub fn mark_blocked() {
    unsafe { ffi::spindle_mark_blocked() }
}

/// Ends `mark_blocked`'s section. The registry argument is the fork's; spindle knows the
/// worker from the thread.
pub fn mark_unblocked(_registry: &Registry) {
    unsafe { ffi::spindle_mark_unblocked() }
}

/// Bytes of stack left below the caller on the stack it runs on (a fiber, a segment or a
/// thread): what `stacker::remaining_stack()` should return on spindle.
pub fn remaining_stack() -> usize {
    unsafe { ffi::spindle_remaining_stack() }
}

/// The lowest usable address of the caller's stack.
pub fn stack_limit() -> usize {
    unsafe { ffi::spindle_stack_limit() }
}

/// rustc's `ensure_sufficient_stack`: runs `f` here when at least `red_zone` bytes are left,
/// else on a new stack segment of `segment_size` bytes (0, 0: spindle's defaults).
pub fn ensure_stack<R, F: FnOnce() -> R>(red_zone: usize, segment_size: usize, f: F) -> R {
    let mut c = crate::Call {
        f: Some(f),
        r: None,
    };
    let mut failure: ffi::Failure = std::ptr::null_mut();
    let rc = unsafe {
        ffi::spindle_ensure_stack(
            red_zone,
            segment_size,
            crate::call_tramp::<F, R>,
            &mut c as *mut _ as *mut c_void,
            &mut failure,
        )
    };
    if rc != ffi::SPINDLE_OK {
        panic!("rayon-core (spindle): no stack segment could be allocated");
    }
    if !failure.is_null() {
        crate::resume(failure);
    }
    c.r.unwrap()
}
