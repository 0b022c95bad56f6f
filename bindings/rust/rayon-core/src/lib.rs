//! rayon-core 1.10's public API over spindle, a fiber-based work-stealing pool written in C++
//! (this repository; its C ABI is `include/spindle/spindle.h`). Swap it in under an unmodified
//! `rayon` with `[patch.crates-io]` (README.md, "Rust"). design-notes/0008 maps each item of
//! rayon-core and of rustc's fork to what implements it here.
//!
//! How it maps:
//! * `join`: `a` and an unstolen `b` run as direct Rust calls; the ABI only pushes `b`'s job
//!   (a 64-byte buffer on this stack), pops it back or waits for it. A stolen `b` runs through
//!   a trampoline on the thief.
//! * Panics never cross the ABI: every trampoline catches them (`catch_unwind`) and hands the
//!   payload to spindle as an opaque "failure" pointer, which join, scope, install and broadcast
//!   resume (`resume_unwind`) after they finished, as rayon does. A panic in a detached spawn
//!   goes to the builder's `panic_handler`, or aborts the process without one.
//! * `ThreadPool`'s `Drop` never waits: the pool finishes its queued jobs and stops in the
//!   background, and may be dropped on one of its own workers.
#![deny(missing_debug_implementations)]
#![warn(rust_2018_idioms)]

mod ffi;
pub mod fork;

use std::any::Any;
use std::error::Error;
use std::ffi::CStr;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::str::FromStr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, Once};

use ffi::Failure;

// ------------------------------------------------------------------------------------------
// Panics as failure values
// ------------------------------------------------------------------------------------------

type Payload = Box<dyn Any + Send + 'static>;

fn into_failure(p: Payload) -> Failure {
    Box::into_raw(Box::new(p)) as Failure
}
unsafe fn from_failure(f: Failure) -> Payload {
    *Box::from_raw(f as *mut Payload)
}
unsafe extern "C" fn drop_failure(f: Failure) {
    // A payload whose destructor panics must not unwind into C++.
    let _ = panic::catch_unwind(AssertUnwindSafe(|| drop(from_failure(f))));
}
fn resume(f: Failure) -> ! {
    panic::resume_unwind(unsafe { from_failure(f) })
}
fn abort_with(msg: &str) -> ! {
    eprintln!("rayon-core (spindle): {}; aborting", msg);
    std::process::abort()
}

/// Runs `f` and turns a panic into a failure value.
#[inline]
fn catch<F: FnOnce() -> Failure>(f: F) -> Failure {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(p) => into_failure(p),
    }
}

struct Call<F, R> {
    f: Option<F>,
    r: Option<R>,
}
unsafe extern "C" fn call_tramp<F: FnOnce() -> R, R>(d: *mut c_void) -> Failure {
    let c = &mut *(d as *mut Call<F, R>);
    let f = c.f.take().unwrap();
    catch(|| {
        c.r = Some(f());
        ptr::null_mut()
    })
}

// ------------------------------------------------------------------------------------------
// Pools
// ------------------------------------------------------------------------------------------

/// A handle on a spindle pool (reference-counted on the C side).
struct Raw(*mut ffi::spindle_pool);
unsafe impl Send for Raw {}
unsafe impl Sync for Raw {}

static GLOBAL: AtomicPtr<ffi::spindle_pool> = AtomicPtr::new(ptr::null_mut());
static GLOBAL_ONCE: Once = Once::new();

/// The global pool, built on first use with `ThreadPoolBuilder::new()` (RAYON_NUM_THREADS).
fn global() -> *mut ffi::spindle_pool {
    let g = GLOBAL.load(Ordering::Acquire);
    if !g.is_null() {
        return g;
    }
    global_cold()
}
#[cold]
fn global_cold() -> *mut ffi::spindle_pool {
    GLOBAL_ONCE.call_once(|| {
        let _ = ThreadPoolBuilder::new().build_global_inner();
    });
    let g = unsafe { ffi::spindle_global_pool() };
    if g.is_null() {
        abort_with("the global thread pool cannot be built");
    }
    GLOBAL.store(g, Ordering::Release);
    g
}

/// The current worker's pool, else the global one.
#[inline]
fn current_or_global() -> *mut ffi::spindle_pool {
    let p = unsafe { ffi::spindle_current_pool() };
    if p.is_null() {
        global()
    } else {
        p
    }
}

type PanicHandler = dyn Fn(Box<dyn Any + Send>) + Send + Sync;
type StartHandler = dyn Fn(usize) + Send + Sync;
type ExitHandler = dyn Fn(usize) + Send + Sync;
type DeadlockHandler = dyn Fn() + Send + Sync;
type ThreadHandler = dyn Fn() + Send + Sync;

/// What the C side's `user` pointer holds: every handler of one pool. Freed by `user_drop` once
/// the pool's last worker exited, which also releases threads parked in `ThreadBuilder::run`.
struct Handlers {
    names: Vec<String>,
    panic: Option<Box<PanicHandler>>,
    start: Option<Box<StartHandler>>,
    exit: Option<Box<ExitHandler>>,
    deadlock: Option<Box<DeadlockHandler>>,
    acquire: Option<Box<ThreadHandler>>,
    release: Option<Box<ThreadHandler>>,
    stack_size: Option<usize>,
    /// A custom spawn handler, valid only while the pool is being created (it is FnMut and not
    /// Send: spindle calls it on the creating thread, and a pool with one has no spare workers).
    custom_spawn: Mutex<Option<*mut (dyn FnMut(ThreadBuilder) -> io::Result<()> + 'static)>>,
    spawn_error: Arc<Mutex<Option<io::Error>>>,
}

impl Handlers {
    fn handle_panic(&self, p: Payload) {
        match &self.panic {
            Some(h) => {
                if panic::catch_unwind(AssertUnwindSafe(|| h(p))).is_err() {
                    abort_with("the panic handler panicked");
                }
            }
            None => abort_with("a job panicked and the pool has no panic_handler"),
        }
    }
}

unsafe impl Send for Handlers {}
unsafe impl Sync for Handlers {}

unsafe fn handlers<'a>(user: *mut c_void) -> &'a Handlers {
    &*(user as *const Handlers)
}
unsafe extern "C" fn h_drop(user: *mut c_void) {
    if panic::catch_unwind(AssertUnwindSafe(|| {
        drop(Box::from_raw(user as *mut Handlers))
    }))
    .is_err()
    {
        abort_with("a pool's handler panicked while it was dropped");
    }
}
unsafe extern "C" fn h_name(user: *mut c_void, i: usize, buf: *mut c_char, len: usize) -> usize {
    let h = handlers(user);
    let fallback;
    let name: &str = match h.names.get(i) {
        Some(n) => n,
        None => {
            fallback = format!("rayon-spare-{}", i);
            &fallback
        }
    };
    let n = name.len().min(len);
    ptr::copy_nonoverlapping(name.as_ptr() as *const c_char, buf, n);
    n
}
/// Token of a worker whose thread the embedder makes (see `ThreadBuilder::run`).
struct Start(*mut ffi::spindle_worker_start);
unsafe impl Send for Start {}

unsafe extern "C" fn h_spawn(
    user: *mut c_void,
    i: usize,
    start: *mut ffi::spindle_worker_start,
) -> c_int {
    let h = handlers(user);
    let name = h.names.get(i).cloned();
    let token = Start(start);
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        let custom = *h.custom_spawn.lock().unwrap();
        match custom {
            Some(f) => (*f)(ThreadBuilder {
                name,
                stack_size: h.stack_size,
                index: i,
                start: token,
            }),
            None => {
                // rayon's DefaultSpawn: a Rust thread, so it has its name and Rust's stack
                // overflow report.
                let mut b = std::thread::Builder::new();
                if let Some(name) = name {
                    b = b.name(name);
                }
                if let Some(size) = h.stack_size {
                    b = b.stack_size(size);
                }
                b.spawn(move || {
                    let t = token;
                    unsafe { ffi::spindle_worker_run(t.0) }
                })
                .map(|_| ())
            }
        }
    }));
    match result {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            *h.spawn_error.lock().unwrap() = Some(e);
            1
        }
        Err(p) => {
            *h.spawn_error.lock().unwrap() = Some(io::Error::new(
                io::ErrorKind::Other,
                "rayon-core (spindle): the spawn handler panicked",
            ));
            drop(p);
            1
        }
    }
}

unsafe extern "C" fn h_start(user: *mut c_void, i: usize) {
    let h = handlers(user);
    if let Some(f) = &h.start {
        if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| f(i))) {
            h.handle_panic(p);
        }
    }
}
unsafe extern "C" fn h_exit(user: *mut c_void, i: usize) {
    let h = handlers(user);
    if let Some(f) = &h.exit {
        if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| f(i))) {
            h.handle_panic(p);
        }
    }
}
unsafe extern "C" fn h_panic(user: *mut c_void, f: Failure) {
    handlers(user).handle_panic(from_failure(f));
}
unsafe extern "C" fn h_deadlock(user: *mut c_void, _r: *const ffi::spindle_deadlock_report) {
    let h = handlers(user);
    if let Some(f) = &h.deadlock {
        if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| f())) {
            h.handle_panic(p);
        }
    }
}
unsafe extern "C" fn h_acquire(user: *mut c_void) {
    let h = handlers(user);
    if let Some(f) = &h.acquire {
        if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| f())) {
            h.handle_panic(p);
        }
    }
}
unsafe extern "C" fn h_release(user: *mut c_void) {
    let h = handlers(user);
    if let Some(f) = &h.release {
        if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| f())) {
            h.handle_panic(p);
        }
    }
}

/// Represents a user created thread-pool (rayon's `ThreadPool`, on spindle).
///
/// Dropping it does not wait: queued and running jobs still finish, then the workers stop (and
/// run their exit handlers) in the background.
pub struct ThreadPool {
    raw: Raw,
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        unsafe { ffi::spindle_pool_release(self.raw.0) }
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("num_threads", &self.current_num_threads())
            .field("id", &self.raw.0)
            .finish()
    }
}

impl ThreadPool {
    #[deprecated(note = "Use `ThreadPoolBuilder::build`")]
    #[allow(deprecated)]
    /// Deprecated in favor of `ThreadPoolBuilder::build`.
    pub fn new(configuration: Configuration) -> Result<ThreadPool, Box<dyn Error>> {
        configuration.build()
    }

    fn ptr(&self) -> *mut ffi::spindle_pool {
        self.raw.0
    }

    /// Executes `op` within the threadpool. Any attempts to use `join`, `scope`, or parallel
    /// iterators will then operate within that threadpool.
    pub fn install<OP, R>(&self, op: OP) -> R
    where
        OP: FnOnce() -> R + Send,
        R: Send,
    {
        install_in(self.ptr(), op)
    }

    /// Executes `op` within every thread in the threadpool.
    pub fn broadcast<OP, R>(&self, op: OP) -> Vec<R>
    where
        OP: Fn(BroadcastContext<'_>) -> R + Sync,
        R: Send,
    {
        broadcast_in(self.ptr(), op)
    }

    /// Returns the (current) number of threads in the thread pool.
    pub fn current_num_threads(&self) -> usize {
        unsafe { ffi::spindle_pool_num_threads(self.ptr()) }
    }

    /// The index of the calling worker in this pool, or `None` when it is not one of them.
    pub fn current_thread_index(&self) -> Option<usize> {
        let i = unsafe { ffi::spindle_pool_current_thread_index(self.ptr()) };
        if i < 0 {
            None
        } else {
            Some(i as usize)
        }
    }

    /// Whether the calling worker of this pool has jobs in its local queue.
    pub fn current_thread_has_pending_tasks(&self) -> Option<bool> {
        self.current_thread_index()?;
        current_thread_has_pending_tasks()
    }

    /// Execute `oper_a` and `oper_b` in the thread-pool and return the results.
    pub fn join<A, B, RA, RB>(&self, oper_a: A, oper_b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        self.install(|| join(oper_a, oper_b))
    }

    /// Creates a scope that executes within this thread-pool.
    pub fn scope<'scope, OP, R>(&self, op: OP) -> R
    where
        OP: FnOnce(&Scope<'scope>) -> R + Send,
        R: Send,
    {
        run_scope(self.ptr(), 0, op)
    }

    /// Creates a FIFO scope that executes within this thread-pool.
    pub fn scope_fifo<'scope, OP, R>(&self, op: OP) -> R
    where
        OP: FnOnce(&ScopeFifo<'scope>) -> R + Send,
        R: Send,
    {
        run_scope_fifo(self.ptr(), ffi::SCOPE_FIFO, op)
    }

    /// Creates a scope that spawns work into this thread-pool; `op` runs on the caller.
    pub fn in_place_scope<'scope, OP, R>(&self, op: OP) -> R
    where
        OP: FnOnce(&Scope<'scope>) -> R,
    {
        run_scope(self.ptr(), ffi::SCOPE_IN_PLACE, op)
    }

    /// Creates a FIFO scope that spawns work into this thread-pool; `op` runs on the caller.
    pub fn in_place_scope_fifo<'scope, OP, R>(&self, op: OP) -> R
    where
        OP: FnOnce(&ScopeFifo<'scope>) -> R,
    {
        run_scope_fifo(self.ptr(), ffi::SCOPE_IN_PLACE | ffi::SCOPE_FIFO, op)
    }

    /// Spawns an asynchronous task in this thread-pool.
    pub fn spawn<OP>(&self, op: OP)
    where
        OP: FnOnce() + Send + 'static,
    {
        spawn_in(self.ptr(), 0, op)
    }

    /// Spawns an asynchronous task in this thread-pool, in FIFO order per worker.
    pub fn spawn_fifo<OP>(&self, op: OP)
    where
        OP: FnOnce() + Send + 'static,
    {
        spawn_in(self.ptr(), 1, op)
    }

    /// Spawns an asynchronous task on every thread in this thread-pool.
    pub fn spawn_broadcast<OP>(&self, op: OP)
    where
        OP: Fn(BroadcastContext<'_>) + Send + Sync + 'static,
    {
        spawn_broadcast_in(self.ptr(), op)
    }

    /// Lets another job run on the calling worker of this pool (rayon-core 1.11's API).
    pub fn yield_now(&self) -> Option<Yield> {
        self.current_thread_index()?;
        yield_now()
    }

    /// Lets a job of the calling worker's own queue run (rayon-core 1.11's API).
    pub fn yield_local(&self) -> Option<Yield> {
        self.current_thread_index()?;
        yield_local()
    }
}

fn install_in<OP, R>(pool: *mut ffi::spindle_pool, op: OP) -> R
where
    OP: FnOnce() -> R,
{
    let mut c = Call {
        f: Some(op),
        r: None,
    };
    let f = unsafe {
        ffi::spindle_pool_install(pool, call_tramp::<OP, R>, &mut c as *mut _ as *mut c_void)
    };
    if !f.is_null() {
        resume(f);
    }
    c.r.unwrap()
}

// ------------------------------------------------------------------------------------------
// Builder
// ------------------------------------------------------------------------------------------

/// The default way workers are created: spindle creates them.
#[derive(Debug, Default)]
pub struct DefaultSpawn;

/// Workers announced to a custom `spawn_handler` (see `ThreadBuilder`).
#[derive(Debug)]
pub struct CustomSpawn<F>(F);

/// How a builder treats `spawn_handler` (sealed).
pub trait ThreadSpawn {
    #[doc(hidden)]
    fn custom(&mut self) -> Option<&mut dyn FnMut(ThreadBuilder) -> io::Result<()>>;
}
impl ThreadSpawn for DefaultSpawn {
    fn custom(&mut self) -> Option<&mut dyn FnMut(ThreadBuilder) -> io::Result<()>> {
        None
    }
}
impl<F> ThreadSpawn for CustomSpawn<F>
where
    F: FnMut(ThreadBuilder) -> io::Result<()>,
{
    fn custom(&mut self) -> Option<&mut dyn FnMut(ThreadBuilder) -> io::Result<()>> {
        Some(&mut self.0)
    }
}

/// Thread builder handed to a custom `spawn_handler`.
///
/// `run()` runs spindle's worker (its run loop on this thread; jobs run on fibers of this
/// thread, so thread-locals set around `run()` are seen by every job of this worker) until the
/// pool stops. A builder that is dropped without `run()` leaves the pool waiting for it.
pub struct ThreadBuilder {
    name: Option<String>,
    stack_size: Option<usize>,
    index: usize,
    start: Start,
}

impl ThreadBuilder {
    /// Gets the index of this thread in the pool, within `0..num_threads`.
    pub fn index(&self) -> usize {
        self.index
    }
    /// Gets the string that was specified by `ThreadPoolBuilder::name()`.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    /// Gets the value that was specified by `ThreadPoolBuilder::stack_size()`.
    pub fn stack_size(&self) -> Option<usize> {
        self.stack_size
    }
    /// Executes the main loop for this thread. This will not return until the thread pool is
    /// dropped.
    pub fn run(self) {
        unsafe { ffi::spindle_worker_run(self.start.0) }
    }
}

impl fmt::Debug for ThreadBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadBuilder")
            .field("pool", &"spindle")
            .field("index", &self.index)
            .field("name", &self.name)
            .field("stack_size", &self.stack_size)
            .finish()
    }
}

/// Used to create a new `ThreadPool` or to configure the global rayon thread pool.
pub struct ThreadPoolBuilder<S = DefaultSpawn> {
    num_threads: usize,
    panic_handler: Option<Box<PanicHandler>>,
    get_thread_name: Option<Box<dyn FnMut(usize) -> String>>,
    stack_size: Option<usize>,
    start_handler: Option<Box<StartHandler>>,
    exit_handler: Option<Box<ExitHandler>>,
    pub(crate) deadlock_handler: Option<Box<DeadlockHandler>>,
    pub(crate) acquire_thread_handler: Option<Box<ThreadHandler>>,
    pub(crate) release_thread_handler: Option<Box<ThreadHandler>>,
    spawn_handler: S,
    breadth_first: bool,
}

/// Contains the rayon thread pool configuration (deprecated).
#[deprecated(note = "Use `ThreadPoolBuilder`")]
#[derive(Default)]
pub struct Configuration {
    builder: ThreadPoolBuilder,
}

/// Error when initializing a thread pool.
#[derive(Debug)]
pub struct ThreadPoolBuildError {
    kind: ErrorKind,
}

#[derive(Debug)]
enum ErrorKind {
    GlobalPoolAlreadyInitialized,
    IOError(io::Error),
}

impl Default for ThreadPoolBuilder {
    fn default() -> Self {
        ThreadPoolBuilder {
            num_threads: 0,
            panic_handler: None,
            get_thread_name: None,
            stack_size: None,
            start_handler: None,
            exit_handler: None,
            deadlock_handler: None,
            acquire_thread_handler: None,
            release_thread_handler: None,
            spawn_handler: DefaultSpawn,
            breadth_first: false,
        }
    }
}

impl ThreadPoolBuilder {
    /// Creates and returns a valid rayon thread pool builder, but does not initialize it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates a scoped `ThreadPool` initialized using this configuration: `wrapper` is called
    /// once per worker on a scoped thread and must call `run()`; `with_pool` gets the pool, and
    /// this returns once `with_pool` returned and the pool terminated.
    pub fn build_scoped<W, F, R>(self, wrapper: W, with_pool: F) -> Result<R, ThreadPoolBuildError>
    where
        W: Fn(ThreadBuilder) + Sync,
        F: FnOnce(&ThreadPool) -> R,
    {
        std::thread::scope(|scope| {
            let wrapper = &wrapper;
            let pool = self
                .spawn_handler(|thread| {
                    let mut builder = std::thread::Builder::new();
                    if let Some(name) = thread.name() {
                        builder = builder.name(name.to_string());
                    }
                    builder.spawn_scoped(scope, move || wrapper(thread))?;
                    Ok(())
                })
                .build()?;
            Ok(with_pool(&pool))
        })
    }
}

fn default_num_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

impl<S> ThreadPoolBuilder<S>
where
    S: ThreadSpawn,
{
    /// Creates a new `ThreadPool` initialized using this configuration.
    pub fn build(self) -> Result<ThreadPool, ThreadPoolBuildError> {
        let mut raw = ptr::null_mut();
        self.create(false, &mut raw)?;
        Ok(ThreadPool { raw: Raw(raw) })
    }

    /// Initializes the global thread pool with this configuration.
    pub fn build_global(self) -> Result<(), ThreadPoolBuildError> {
        let mut done = Err(ThreadPoolBuildError::new(
            ErrorKind::GlobalPoolAlreadyInitialized,
        ));
        let mut this = Some(self);
        GLOBAL_ONCE.call_once(|| {
            done = this.take().unwrap().build_global_inner();
        });
        if let Some(this) = this {
            // The global pool exists already; drop our handlers without building.
            drop(this);
        }
        done
    }

    fn build_global_inner(self) -> Result<(), ThreadPoolBuildError> {
        let mut raw = ptr::null_mut();
        self.create(true, &mut raw)?;
        let g = unsafe { ffi::spindle_global_pool() };
        GLOBAL.store(g, Ordering::Release);
        Ok(())
    }

    fn get_num_threads(&self) -> usize {
        let n = if self.num_threads > 0 {
            self.num_threads
        } else {
            let env = |name: &str| {
                std::env::var(name)
                    .ok()
                    .and_then(|s| usize::from_str(&s).ok())
            };
            match env("RAYON_NUM_THREADS") {
                Some(x) if x > 0 => x,
                Some(_) => default_num_threads(),
                None => match env("RAYON_RS_NUM_CPUS") {
                    Some(x) if x > 0 => x,
                    _ => default_num_threads(),
                },
            }
        };
        n.min(max_num_threads())
    }

    fn create(
        mut self,
        global: bool,
        out: &mut *mut ffi::spindle_pool,
    ) -> Result<(), ThreadPoolBuildError> {
        let mut n = self.get_num_threads();
        // Worker names, made here on the building thread (the closure is FnMut and not Send).
        // A panicking name closure ends the build as rayon's does: the workers before it were
        // started and are stopped again, then the panic goes on.
        let mut names = Vec::new();
        let mut name_panic = None;
        if let Some(f) = self.get_thread_name.as_mut() {
            for i in 0..n {
                match panic::catch_unwind(AssertUnwindSafe(|| f(i))) {
                    Ok(name) => names.push(name),
                    Err(p) => {
                        name_panic = Some(p);
                        n = i;
                        break;
                    }
                }
            }
        }
        if name_panic.is_some() && n == 0 {
            panic::resume_unwind(name_panic.unwrap());
        }
        // Lifetime erased: the pointer is only used inside the spindle_pool_create call below.
        let custom: Option<*mut (dyn FnMut(ThreadBuilder) -> io::Result<()> + 'static)> =
            self.spawn_handler.custom().map(|f| unsafe {
                std::mem::transmute(f as *mut (dyn FnMut(ThreadBuilder) -> io::Result<()> + '_))
            });
        let is_custom = custom.is_some();
        let spawn_error = Arc::new(Mutex::new(None::<io::Error>));
        let h = Box::new(Handlers {
            names,
            panic: self.panic_handler.take(),
            start: self.start_handler.take(),
            exit: self.exit_handler.take(),
            deadlock: self.deadlock_handler.take(),
            acquire: self.acquire_thread_handler.take(),
            release: self.release_thread_handler.take(),
            stack_size: self.stack_size,
            custom_spawn: Mutex::new(custom),
            spawn_error: spawn_error.clone(),
        });
        let hp: *const Handlers = &*h;
        let mut o = unsafe {
            let mut o = std::mem::MaybeUninit::<ffi::spindle_pool_options>::uninit();
            ffi::spindle_pool_options_init(o.as_mut_ptr());
            o.assume_init()
        };
        o.num_threads = n;
        o.stack_size = self.stack_size.unwrap_or(0);
        if !h.names.is_empty() {
            o.thread_name = Some(h_name);
        }
        o.start_handler = Some(h_start);
        o.exit_handler = Some(h_exit);
        if h.panic.is_some() {
            o.panic_handler = Some(h_panic);
        }
        if h.deadlock.is_some() {
            o.deadlock_handler = Some(h_deadlock);
        }
        if h.acquire.is_some() {
            o.acquire_thread_handler = Some(h_acquire);
        }
        if h.release.is_some() {
            o.release_thread_handler = Some(h_release);
        }
        o.spawn_thread = Some(h_spawn);
        if is_custom {
            o.max_spare_threads = 0; // spare workers would call the handler from other threads
        }
        o.user = Box::into_raw(h) as *mut c_void;
        o.user_drop = Some(h_drop);
        let mut err = [0 as c_char; 512];
        let rc = unsafe {
            let rc = if global {
                ffi::spindle_build_global(&o, err.as_mut_ptr(), err.len())
            } else {
                ffi::spindle_pool_create(&o, out, err.as_mut_ptr(), err.len())
            };
            if rc == ffi::SPINDLE_OK {
                *(*hp).custom_spawn.lock().unwrap() = None;
            }
            rc
        };
        let result = match rc {
            ffi::SPINDLE_OK => Ok(()),
            ffi::SPINDLE_E_GLOBAL_EXISTS => Err(ThreadPoolBuildError::new(
                ErrorKind::GlobalPoolAlreadyInitialized,
            )),
            _ if spawn_error.lock().unwrap().is_some() => {
                // The handlers were freed by the failed creation; the error was kept apart.
                let e = spawn_error.lock().unwrap().take().unwrap();
                Err(ThreadPoolBuildError::new(ErrorKind::IOError(e)))
            }
            _ => {
                let msg = unsafe { CStr::from_ptr(err.as_ptr()) }
                    .to_string_lossy()
                    .into_owned();
                let kind = if rc == ffi::SPINDLE_E_INVALID {
                    io::ErrorKind::InvalidInput
                } else {
                    io::ErrorKind::Other
                };
                Err(ThreadPoolBuildError::new(ErrorKind::IOError(
                    io::Error::new(kind, msg),
                )))
            }
        };
        if let Some(p) = name_panic {
            if result.is_ok() && !global {
                unsafe { ffi::spindle_pool_release(*out) };
            }
            panic::resume_unwind(p);
        }
        result
    }
}

impl<S> ThreadPoolBuilder<S> {
    /// Sets a custom function for spawning threads (see `ThreadBuilder` for what `run` does on
    /// spindle).
    pub fn spawn_handler<F>(self, spawn: F) -> ThreadPoolBuilder<CustomSpawn<F>>
    where
        F: FnMut(ThreadBuilder) -> io::Result<()>,
    {
        ThreadPoolBuilder {
            spawn_handler: CustomSpawn(spawn),
            num_threads: self.num_threads,
            panic_handler: self.panic_handler,
            get_thread_name: self.get_thread_name,
            stack_size: self.stack_size,
            start_handler: self.start_handler,
            exit_handler: self.exit_handler,
            deadlock_handler: self.deadlock_handler,
            acquire_thread_handler: self.acquire_thread_handler,
            release_thread_handler: self.release_thread_handler,
            breadth_first: self.breadth_first,
        }
    }

    /// Sets a closure which takes a thread index and returns the thread's name.
    pub fn thread_name<F>(mut self, closure: F) -> Self
    where
        F: FnMut(usize) -> String + 'static,
    {
        self.get_thread_name = Some(Box::new(closure));
        self
    }

    /// Sets the number of threads to be used in the rayon threadpool.
    pub fn num_threads(mut self, num_threads: usize) -> Self {
        self.num_threads = num_threads;
        self
    }

    /// Normally, whenever Rayon catches a panic, it tries to propagate it to someplace
    /// sensible; detached jobs' panics go to this handler.
    pub fn panic_handler<H>(mut self, panic_handler: H) -> Self
    where
        H: Fn(Box<dyn Any + Send>) + Send + Sync + 'static,
    {
        self.panic_handler = Some(Box::new(panic_handler));
        self
    }

    /// Sets the stack size of the worker threads (and of spindle's fibers).
    pub fn stack_size(mut self, stack_size: usize) -> Self {
        self.stack_size = Some(stack_size);
        self
    }

    /// (DEPRECATED) Suggest to worker threads that they execute spawned jobs in a "breadth-first"
    /// fashion. Accepted and ignored on spindle.
    #[deprecated(note = "use `scope_fifo` and `spawn_fifo` for similar effect")]
    pub fn breadth_first(mut self) -> Self {
        self.breadth_first = true;
        self
    }

    /// Sets a callback to be invoked on thread start.
    pub fn start_handler<H>(mut self, start_handler: H) -> Self
    where
        H: Fn(usize) + Send + Sync + 'static,
    {
        self.start_handler = Some(Box::new(start_handler));
        self
    }

    /// Sets a callback to be invoked on thread exit.
    pub fn exit_handler<H>(mut self, exit_handler: H) -> Self
    where
        H: Fn(usize) + Send + Sync + 'static,
    {
        self.exit_handler = Some(Box::new(exit_handler));
        self
    }
}

#[allow(deprecated)]
impl Configuration {
    /// Creates and return a valid rayon thread pool configuration, but does not initialize it.
    pub fn new() -> Configuration {
        Configuration {
            builder: ThreadPoolBuilder::new(),
        }
    }
    /// Deprecated in favor of `ThreadPoolBuilder::build`.
    pub fn build(self) -> Result<ThreadPool, Box<dyn Error + 'static>> {
        self.builder.build().map_err(Box::from)
    }
    /// Deprecated in favor of `ThreadPoolBuilder::thread_name`.
    pub fn thread_name<F>(mut self, closure: F) -> Self
    where
        F: FnMut(usize) -> String + 'static,
    {
        self.builder = self.builder.thread_name(closure);
        self
    }
    /// Deprecated in favor of `ThreadPoolBuilder::num_threads`.
    pub fn num_threads(mut self, num_threads: usize) -> Configuration {
        self.builder = self.builder.num_threads(num_threads);
        self
    }
    /// Deprecated in favor of `ThreadPoolBuilder::panic_handler`.
    pub fn panic_handler<H>(mut self, panic_handler: H) -> Configuration
    where
        H: Fn(Box<dyn Any + Send>) + Send + Sync + 'static,
    {
        self.builder = self.builder.panic_handler(panic_handler);
        self
    }
    /// Deprecated in favor of `ThreadPoolBuilder::stack_size`.
    pub fn stack_size(mut self, stack_size: usize) -> Self {
        self.builder = self.builder.stack_size(stack_size);
        self
    }
    /// Deprecated in favor of `ThreadPoolBuilder::breadth_first`.
    pub fn breadth_first(mut self) -> Self {
        self.builder = self.builder.breadth_first();
        self
    }
    /// Deprecated in favor of `ThreadPoolBuilder::start_handler`.
    pub fn start_handler<H>(mut self, start_handler: H) -> Configuration
    where
        H: Fn(usize) + Send + Sync + 'static,
    {
        self.builder = self.builder.start_handler(start_handler);
        self
    }
    /// Deprecated in favor of `ThreadPoolBuilder::exit_handler`.
    pub fn exit_handler<H>(mut self, exit_handler: H) -> Configuration
    where
        H: Fn(usize) + Send + Sync + 'static,
    {
        self.builder = self.builder.exit_handler(exit_handler);
        self
    }
    fn into_builder(self) -> ThreadPoolBuilder {
        self.builder
    }
}

impl ThreadPoolBuildError {
    fn new(kind: ErrorKind) -> ThreadPoolBuildError {
        ThreadPoolBuildError { kind }
    }
}

const GLOBAL_POOL_ALREADY_INITIALIZED: &str =
    "The global thread pool has already been initialized.";

impl Error for ThreadPoolBuildError {
    #[allow(deprecated)]
    fn description(&self) -> &str {
        match self.kind {
            ErrorKind::GlobalPoolAlreadyInitialized => GLOBAL_POOL_ALREADY_INITIALIZED,
            ErrorKind::IOError(ref e) => e.description(),
        }
    }
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.kind {
            ErrorKind::GlobalPoolAlreadyInitialized => None,
            ErrorKind::IOError(e) => Some(e),
        }
    }
}

impl fmt::Display for ThreadPoolBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::GlobalPoolAlreadyInitialized => GLOBAL_POOL_ALREADY_INITIALIZED.fmt(f),
            ErrorKind::IOError(e) => e.fmt(f),
        }
    }
}

/// Deprecated in favor of `ThreadPoolBuilder::build_global`.
#[deprecated(note = "use `ThreadPoolBuilder::build_global`")]
#[allow(deprecated)]
pub fn initialize(config: Configuration) -> Result<(), Box<dyn Error>> {
    config.into_builder().build_global().map_err(Box::from)
}

impl<S> fmt::Debug for ThreadPoolBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct ClosurePlaceholder;
        impl fmt::Debug for ClosurePlaceholder {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("<closure>")
            }
        }
        let p = |b: bool| if b { Some(ClosurePlaceholder) } else { None };
        f.debug_struct("ThreadPoolBuilder")
            .field("num_threads", &self.num_threads)
            .field("get_thread_name", &p(self.get_thread_name.is_some()))
            .field("panic_handler", &p(self.panic_handler.is_some()))
            .field("stack_size", &self.stack_size)
            .field("start_handler", &p(self.start_handler.is_some()))
            .field("exit_handler", &p(self.exit_handler.is_some()))
            .field("breadth_first", &self.breadth_first)
            .finish()
    }
}

#[allow(deprecated)]
impl fmt::Debug for Configuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.builder.fmt(f)
    }
}

// ------------------------------------------------------------------------------------------
// The calling thread
// ------------------------------------------------------------------------------------------

/// Returns the maximum number of threads that Rayon supports in a single thread-pool.
pub fn max_num_threads() -> usize {
    unsafe { ffi::spindle_max_num_threads() }
}

/// Returns the number of threads in the current registry (the global one outside a pool).
pub fn current_num_threads() -> usize {
    if unsafe { ffi::spindle_current_thread_index() } >= 0 {
        unsafe { ffi::spindle_current_num_threads() }
    } else {
        unsafe { ffi::spindle_pool_num_threads(global()) }
    }
}

/// The index of the current worker thread within its pool, or `None` outside any pool.
pub fn current_thread_index() -> Option<usize> {
    let i = unsafe { ffi::spindle_current_thread_index() };
    if i < 0 {
        None
    } else {
        Some(i as usize)
    }
}

/// Whether the current worker has jobs in its local queue; `None` outside any pool.
pub fn current_thread_has_pending_tasks() -> Option<bool> {
    match unsafe { ffi::spindle_current_thread_has_pending_tasks() } {
        r if r < 0 => None,
        r => Some(r != 0),
    }
}

/// Result of `yield_now()` or `yield_local()` (rayon-core 1.11's API).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Yield {
    /// Work was found and executed.
    Executed,
    /// No available work was found.
    Idle,
}

fn to_yield(r: c_int) -> Option<Yield> {
    match r {
        r if r < 0 => None,
        0 => Some(Yield::Idle),
        _ => Some(Yield::Executed),
    }
}

/// Lets another job run on the calling worker (on its own fiber); `None` outside any pool.
pub fn yield_now() -> Option<Yield> {
    to_yield(unsafe { ffi::spindle_yield_now() })
}

/// Lets a job of the calling worker's own queue run (nested); `None` outside any pool.
pub fn yield_local() -> Option<Yield> {
    to_yield(unsafe { ffi::spindle_yield_local() })
}

// ------------------------------------------------------------------------------------------
// join
// ------------------------------------------------------------------------------------------

/// Provides the calling context to a closure called by `join_context`.
#[derive(Debug)]
pub struct FnContext {
    migrated: bool,
    _marker: PhantomData<*mut ()>,
}

impl FnContext {
    #[inline]
    fn new(migrated: bool) -> Self {
        FnContext {
            migrated,
            _marker: PhantomData,
        }
    }
    /// Returns `true` if the closure was called from a different thread than it was provided.
    #[inline]
    pub fn migrated(&self) -> bool {
        self.migrated
    }
}

/// Takes two closures and *potentially* runs them in parallel. It returns a pair of the results
/// from those closures.
#[inline]
pub fn join<A, B, RA, RB>(oper_a: A, oper_b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    join_context(move |_| oper_a(), move |_| oper_b())
}

struct JoinB<B, RB> {
    f: Option<B>,
    r: Option<RB>,
}

unsafe extern "C" fn join_b_stolen<B, RB>(d: *mut c_void, migrated: c_int) -> Failure
where
    B: FnOnce(FnContext) -> RB,
{
    let st = &mut *(d as *mut JoinB<B, RB>);
    let f = st.f.take().unwrap();
    catch(|| {
        st.r = Some(f(FnContext::new(migrated != 0)));
        ptr::null_mut()
    })
}

/// Identical to `join`, except that the closures have a parameter that provides context for
/// the way the closure has been called.
#[inline]
pub fn join_context<A, B, RA, RB>(oper_a: A, oper_b: B) -> (RA, RB)
where
    A: FnOnce(FnContext) -> RA + Send,
    B: FnOnce(FnContext) -> RB + Send,
    RA: Send,
    RB: Send,
{
    join_impl(oper_a, oper_b, false)
}

#[inline(always)]
fn join_impl<A, B, RA, RB>(oper_a: A, oper_b: B, injected: bool) -> (RA, RB)
where
    A: FnOnce(FnContext) -> RA + Send,
    B: FnOnce(FnContext) -> RB + Send,
    RA: Send,
    RB: Send,
{
    let mut job = std::mem::MaybeUninit::<ffi::spindle_join_job>::uninit();
    let mut b = JoinB {
        f: Some(oper_b),
        r: None,
    };
    let pushed = unsafe {
        ffi::spindle_join_push(
            job.as_mut_ptr(),
            join_b_stolen::<B, RB>,
            &mut b as *mut JoinB<B, RB> as *mut c_void,
        )
    };
    if pushed != ffi::SPINDLE_OK {
        if pushed == ffi::SPINDLE_E_LOW_STACK {
            return join_on_new_segment(oper_a, b.f.take().unwrap(), injected);
        }
        return join_cold(oper_a, b.f.take().unwrap());
    }
    let job = job.as_mut_ptr();
    let ra = match panic::catch_unwind(AssertUnwindSafe(move || oper_a(FnContext::new(injected)))) {
        Ok(ra) => ra,
        Err(p) => join_a_panicked(job, &mut b, p),
    };
    if unsafe { ffi::spindle_join_pop(job) } != 0 {
        // Not stolen: run b here, as a direct call. If it panics, the unwinding passes through
        // here with the job already taken back; the context of the entry is put back first.
        struct Restore(*mut ffi::spindle_join_job);
        impl Drop for Restore {
            fn drop(&mut self) {
                unsafe { ffi::spindle_join_restore(self.0) }
            }
        }
        let guard = Restore(job);
        let rb = (b.f.take().unwrap())(FnContext::new(injected));
        std::mem::forget(guard);
        (ra, rb)
    } else {
        join_b_wait(job, &mut b, ra)
    }
}

// Less than the red zone left on this stack: the join continues on a new stack segment, as
// spindle::join does in C++, so deep recursion through join never overflows.
#[cold]
#[inline(never)]
fn join_on_new_segment<A, B, RA, RB>(oper_a: A, oper_b: B, injected: bool) -> (RA, RB)
where
    A: FnOnce(FnContext) -> RA + Send,
    B: FnOnce(FnContext) -> RB + Send,
    RA: Send,
    RB: Send,
{
    crate::fork::ensure_stack(0, 0, move || join_impl(oper_a, oper_b, injected))
}

#[cold]
#[inline(never)]
fn join_cold<A, B, RA, RB>(oper_a: A, oper_b: B) -> (RA, RB)
where
    A: FnOnce(FnContext) -> RA + Send,
    B: FnOnce(FnContext) -> RB + Send,
    RA: Send,
    RB: Send,
{
    // Not on a worker: run the join in the global pool (rayon's in_worker_cold), where `a`
    // counts as migrated.
    install_in(global(), move || join_impl(oper_a, oper_b, true))
}

#[inline(never)]
fn join_b_wait<B, RA, RB>(
    job: *mut ffi::spindle_join_job,
    b: &mut JoinB<B, RB>,
    ra: RA,
) -> (RA, RB) {
    let f = unsafe { ffi::spindle_join_wait(job) };
    if !f.is_null() {
        drop(ra);
        resume(f);
    }
    (ra, b.r.take().unwrap())
}

#[cold]
#[inline(never)]
fn join_a_panicked<B, RB>(job: *mut ffi::spindle_join_job, b: &mut JoinB<B, RB>, p: Payload) -> !
where
    B: FnOnce(FnContext) -> RB,
{
    // b still runs (here, or on its thief); its result or panic is dropped, a's panic goes on.
    unsafe {
        if ffi::spindle_join_pop(job) != 0 {
            let f = b.f.take().unwrap();
            let _ = panic::catch_unwind(AssertUnwindSafe(move || f(FnContext::new(false))));
            ffi::spindle_join_restore(job);
        } else {
            let f = ffi::spindle_join_wait(job);
            if !f.is_null() {
                drop_failure(f);
            }
        }
    }
    panic::resume_unwind(p)
}

// ------------------------------------------------------------------------------------------
// Scopes
// ------------------------------------------------------------------------------------------

/// Represents a fork-join scope which can be used to spawn any number of tasks.
pub struct Scope<'scope> {
    raw: *mut ffi::spindle_scope,
    marker: PhantomData<Box<dyn FnOnce(&Scope<'scope>) + Send + Sync + 'scope>>,
}

/// Represents a fork-join scope which can be used to spawn any number of tasks; those spawned
/// from one worker run in FIFO order.
pub struct ScopeFifo<'scope> {
    raw: *mut ffi::spindle_scope,
    marker: PhantomData<Box<dyn FnOnce(&ScopeFifo<'scope>) + Send + Sync + 'scope>>,
}

unsafe impl<'scope> Send for Scope<'scope> {}
unsafe impl<'scope> Sync for Scope<'scope> {}
unsafe impl<'scope> Send for ScopeFifo<'scope> {}
unsafe impl<'scope> Sync for ScopeFifo<'scope> {}

impl<'scope> fmt::Debug for Scope<'scope> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope").field("raw", &self.raw).finish()
    }
}
impl<'scope> fmt::Debug for ScopeFifo<'scope> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeFifo").field("raw", &self.raw).finish()
    }
}

/// Both scope kinds, for the shared trampolines.
trait RawScope: Sized {
    fn from_raw(raw: *mut ffi::spindle_scope) -> Self;
}
impl<'scope> RawScope for Scope<'scope> {
    fn from_raw(raw: *mut ffi::spindle_scope) -> Self {
        Scope {
            raw,
            marker: PhantomData,
        }
    }
}
impl<'scope> RawScope for ScopeFifo<'scope> {
    fn from_raw(raw: *mut ffi::spindle_scope) -> Self {
        ScopeFifo {
            raw,
            marker: PhantomData,
        }
    }
}

struct ScopeCall<OP, R> {
    op: Option<OP>,
    r: Option<R>,
}

unsafe extern "C" fn scope_body<S: RawScope, OP: FnOnce(&S) -> R, R>(
    d: *mut c_void,
    raw: *mut ffi::spindle_scope,
) -> Failure {
    let c = &mut *(d as *mut ScopeCall<OP, R>);
    let op = c.op.take().unwrap();
    let s = S::from_raw(raw);
    catch(|| {
        c.r = Some(op(&s));
        ptr::null_mut()
    })
}

fn run_scope_generic<S: RawScope, OP: FnOnce(&S) -> R, R>(
    pool: *mut ffi::spindle_pool,
    flags: c_int,
    op: OP,
) -> R {
    let mut c = ScopeCall {
        op: Some(op),
        r: None,
    };
    let f = unsafe {
        ffi::spindle_scope_run(
            pool,
            flags,
            scope_body::<S, OP, R>,
            &mut c as *mut _ as *mut c_void,
            Some(drop_failure),
        )
    };
    if !f.is_null() {
        drop(c.r.take());
        resume(f);
    }
    c.r.unwrap()
}

fn run_scope<'scope, OP, R>(pool: *mut ffi::spindle_pool, flags: c_int, op: OP) -> R
where
    OP: FnOnce(&Scope<'scope>) -> R,
{
    run_scope_generic::<Scope<'scope>, OP, R>(pool, flags, op)
}

fn run_scope_fifo<'scope, OP, R>(pool: *mut ffi::spindle_pool, flags: c_int, op: OP) -> R
where
    OP: FnOnce(&ScopeFifo<'scope>) -> R,
{
    run_scope_generic::<ScopeFifo<'scope>, OP, R>(pool, flags | ffi::SCOPE_FIFO, op)
}

unsafe extern "C" fn scope_spawn_tramp<S: RawScope, BODY: FnOnce(&S)>(
    d: *mut c_void,
    raw: *mut ffi::spindle_scope,
) -> Failure {
    let body = Box::from_raw(d as *mut BODY);
    let s = S::from_raw(raw);
    catch(move || {
        body(&s);
        ptr::null_mut()
    })
}

unsafe extern "C" fn scope_bcast_tramp<S: RawScope, BODY: Fn(&S, BroadcastContext<'_>)>(
    d: *mut c_void,
    raw: *mut ffi::spindle_scope,
    index: usize,
    n: usize,
) -> Failure {
    let body = &*(d as *const BODY);
    let s = S::from_raw(raw);
    catch(move || {
        body(&s, BroadcastContext::new(index, n));
        ptr::null_mut()
    })
}

unsafe extern "C" fn drop_box<T>(d: *mut c_void) {
    if panic::catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(d as *mut T)))).is_err() {
        abort_with("a closure's destructor panicked");
    }
}

fn scope_spawn<S: RawScope, BODY: FnOnce(&S)>(raw: *mut ffi::spindle_scope, body: BODY) {
    let b = Box::into_raw(Box::new(body)) as *mut c_void;
    if unsafe { ffi::spindle_scope_spawn(raw, scope_spawn_tramp::<S, BODY>, b) } != ffi::SPINDLE_OK
    {
        unsafe { drop(Box::from_raw(b as *mut BODY)) };
        panic!("rayon-core (spindle): cannot queue a scope spawn");
    }
}

fn scope_spawn_broadcast<S: RawScope, BODY: Fn(&S, BroadcastContext<'_>)>(
    raw: *mut ffi::spindle_scope,
    body: BODY,
) {
    let b = Box::into_raw(Box::new(body)) as *mut c_void;
    let rc = unsafe {
        ffi::spindle_scope_spawn_broadcast(
            raw,
            scope_bcast_tramp::<S, BODY>,
            b,
            Some(drop_box::<BODY>),
        )
    };
    if rc != ffi::SPINDLE_OK {
        unsafe { drop(Box::from_raw(b as *mut BODY)) };
        panic!("rayon-core (spindle): cannot queue a scope broadcast");
    }
}

impl<'scope> Scope<'scope> {
    /// Spawns a job into the fork-join scope `self`.
    pub fn spawn<BODY>(&self, body: BODY)
    where
        BODY: FnOnce(&Scope<'scope>) + Send + 'scope,
    {
        scope_spawn::<Scope<'scope>, BODY>(self.raw, body)
    }

    /// Spawns a job into every thread of the fork-join scope `self`.
    pub fn spawn_broadcast<BODY>(&self, body: BODY)
    where
        BODY: Fn(&Scope<'scope>, BroadcastContext<'_>) + Send + Sync + 'scope,
    {
        scope_spawn_broadcast::<Scope<'scope>, BODY>(self.raw, body)
    }
}

impl<'scope> ScopeFifo<'scope> {
    /// Spawns a job into the fork-join scope `self`; a worker's spawns run oldest first.
    pub fn spawn_fifo<BODY>(&self, body: BODY)
    where
        BODY: FnOnce(&ScopeFifo<'scope>) + Send + 'scope,
    {
        scope_spawn::<ScopeFifo<'scope>, BODY>(self.raw, body)
    }

    /// Spawns a job into every thread of the fork-join scope `self`.
    pub fn spawn_broadcast<BODY>(&self, body: BODY)
    where
        BODY: Fn(&ScopeFifo<'scope>, BroadcastContext<'_>) + Send + Sync + 'scope,
    {
        scope_spawn_broadcast::<ScopeFifo<'scope>, BODY>(self.raw, body)
    }
}

/// Creates a "fork-join" scope `s` and invokes the closure with a reference to `s`.
pub fn scope<'scope, OP, R>(op: OP) -> R
where
    OP: FnOnce(&Scope<'scope>) -> R + Send,
    R: Send,
{
    run_scope(current_or_global(), 0, op)
}

/// Creates a "fork-join" scope `s` with FIFO order, and invokes the closure with a reference
/// to `s`.
pub fn scope_fifo<'scope, OP, R>(op: OP) -> R
where
    OP: FnOnce(&ScopeFifo<'scope>) -> R + Send,
    R: Send,
{
    run_scope_fifo(current_or_global(), 0, op)
}

/// Creates a "fork-join" scope `s` and invokes the closure with a reference to `s`, on the
/// calling thread.
pub fn in_place_scope<'scope, OP, R>(op: OP) -> R
where
    OP: FnOnce(&Scope<'scope>) -> R,
{
    run_scope(current_or_global(), ffi::SCOPE_IN_PLACE, op)
}

/// Creates a "fork-join" scope `s` with FIFO order, and invokes the closure with a reference
/// to `s`, on the calling thread.
pub fn in_place_scope_fifo<'scope, OP, R>(op: OP) -> R
where
    OP: FnOnce(&ScopeFifo<'scope>) -> R,
{
    run_scope_fifo(current_or_global(), ffi::SCOPE_IN_PLACE, op)
}

// ------------------------------------------------------------------------------------------
// Detached spawns and broadcasts
// ------------------------------------------------------------------------------------------

unsafe extern "C" fn spawn_tramp<F: FnOnce()>(d: *mut c_void) -> Failure {
    let f = Box::from_raw(d as *mut F);
    catch(move || {
        f();
        ptr::null_mut()
    })
}

fn spawn_in<F: FnOnce() + Send + 'static>(pool: *mut ffi::spindle_pool, fifo: c_int, f: F) {
    let b = Box::into_raw(Box::new(f)) as *mut c_void;
    if unsafe { ffi::spindle_spawn(pool, fifo, spawn_tramp::<F>, b) } != ffi::SPINDLE_OK {
        unsafe { drop(Box::from_raw(b as *mut F)) };
        panic!("rayon-core (spindle): cannot queue a spawn");
    }
}

/// Fires off a task into the current thread-pool (the global one outside any pool).
pub fn spawn<F>(func: F)
where
    F: FnOnce() + Send + 'static,
{
    spawn_in(current_or_global(), 0, func)
}

/// Fires off a task into the current thread-pool; a worker's spawns run oldest first.
pub fn spawn_fifo<F>(func: F)
where
    F: FnOnce() + Send + 'static,
{
    spawn_in(current_or_global(), 1, func)
}

/// Provides context to a closure called by `broadcast`.
pub struct BroadcastContext<'a> {
    index: usize,
    num_threads: usize,
    _marker: PhantomData<&'a mut dyn Fn()>,
}

impl<'a> BroadcastContext<'a> {
    fn new(index: usize, num_threads: usize) -> Self {
        BroadcastContext {
            index,
            num_threads,
            _marker: PhantomData,
        }
    }
    /// Our index amongst the broadcast threads (ranges from `0..self.num_threads()`).
    #[inline]
    pub fn index(&self) -> usize {
        self.index
    }
    /// The number of threads receiving the broadcast in the thread pool.
    #[inline]
    pub fn num_threads(&self) -> usize {
        self.num_threads
    }
}

impl<'a> fmt::Debug for BroadcastContext<'a> {
    fn fmt(&self, fmt: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt.debug_struct("BroadcastContext")
            .field("index", &self.index)
            .field("num_threads", &self.num_threads)
            .finish()
    }
}

struct Bcast<'a, OP, R> {
    op: &'a OP,
    slots: *mut Option<R>,
}

unsafe extern "C" fn bcast_tramp<OP: Fn(BroadcastContext<'_>) -> R, R>(
    d: *mut c_void,
    index: usize,
    n: usize,
) -> Failure {
    let b = &*(d as *const Bcast<'_, OP, R>);
    catch(|| {
        *b.slots.add(index) = Some((b.op)(BroadcastContext::new(index, n)));
        ptr::null_mut()
    })
}

fn broadcast_in<OP, R>(pool: *mut ffi::spindle_pool, op: OP) -> Vec<R>
where
    OP: Fn(BroadcastContext<'_>) -> R + Sync,
    R: Send,
{
    let n = unsafe { ffi::spindle_pool_num_threads(pool) };
    let mut slots: Vec<Option<R>> = (0..n).map(|_| None).collect();
    let b = Bcast {
        op: &op,
        slots: slots.as_mut_ptr(),
    };
    let f = unsafe {
        ffi::spindle_broadcast(
            pool,
            bcast_tramp::<OP, R>,
            &b as *const _ as *mut c_void,
            Some(drop_failure),
        )
    };
    if !f.is_null() {
        drop(slots);
        resume(f);
    }
    slots.into_iter().map(|s| s.unwrap()).collect()
}

/// Executes `op` within every thread in the current threadpool.
pub fn broadcast<OP, R>(op: OP) -> Vec<R>
where
    OP: Fn(BroadcastContext<'_>) -> R + Sync,
    R: Send,
{
    broadcast_in(current_or_global(), op)
}

unsafe extern "C" fn spawn_bcast_tramp<OP: Fn(BroadcastContext<'_>)>(
    d: *mut c_void,
    index: usize,
    n: usize,
) -> Failure {
    let op = &*(d as *const OP);
    catch(|| {
        op(BroadcastContext::new(index, n));
        ptr::null_mut()
    })
}

fn spawn_broadcast_in<OP>(pool: *mut ffi::spindle_pool, op: OP)
where
    OP: Fn(BroadcastContext<'_>) + Send + Sync + 'static,
{
    let b = Box::into_raw(Box::new(op)) as *mut c_void;
    let rc = unsafe {
        ffi::spindle_spawn_broadcast(pool, spawn_bcast_tramp::<OP>, b, Some(drop_box::<OP>))
    };
    if rc != ffi::SPINDLE_OK {
        unsafe { drop(Box::from_raw(b as *mut OP)) };
        panic!("rayon-core (spindle): cannot queue a broadcast");
    }
}

/// Spawns an asynchronous task on every thread in the current thread-pool.
pub fn spawn_broadcast<OP>(op: OP)
where
    OP: Fn(BroadcastContext<'_>) + Send + Sync + 'static,
{
    spawn_broadcast_in(current_or_global(), op)
}
