//! compiler_model_rustc_today: bench/compiler_model's crate (the same model as
//! bench/compiler_model/model.hpp, constant for constant) compiled the way rustc is structured
//! today (design-notes/0015-one-framework.md):
//! - the front end on a rayon pool: every item's type-check is a memoised query whose slot
//!   waits as rustc's `QueryLatch` does (`Mutex` + `Condvar`: a second requester blocks its
//!   thread); a query's dependencies fan out with the fork's wait (the waiting thread runs only
//!   its own unstarted subtasks, else sleeps: rust-lang/rust#143035), so stealing never puts a
//!   query on a waiting stack. Each unit of front-end work holds a jobserver token, taken and
//!   given back around it through a proxy that keeps the process's implicit token (rustc's
//!   `jobserver::Proxy`);
//! - then codegen: the main thread as coordinator starts one thread per codegen unit as tokens
//!   come in (the implicit token first), as rustc's LLVM coordinator does.
//!
//!   compiler_model_rustc_today --crate K [--threads T] [--items N] [--concurrency-file PATH]
//!
//! Must build with Debian 12's rustc 1.63: std + rayon + jobserver + libc.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

const CGUS: u32 = 8;
const ROUNDS_PER_UNIT: u64 = 250;
const DEFAULT_ITEMS: u32 = 1000;

struct SplitMix64(u64);
impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }
}

struct Crate {
    items: u32,
    deps: Vec<Vec<u32>>,
    cost: Vec<u64>,
}

fn make_crate(index: u32, items: u32) -> Crate {
    let mut c = Crate {
        items,
        deps: vec![Vec::new(); items as usize],
        cost: vec![0; items as usize],
    };
    let mut g = SplitMix64(0xC0DE + u64::from(index));
    for i in 0..items {
        let n = g.next() % 4;
        for _ in 0..n {
            if i > 0 {
                c.deps[i as usize].push((g.next() % u64::from(i)) as u32);
            }
        }
        let mut units = 20 + g.next() % 100;
        if g.next() % 16 == 0 {
            units *= 10;
        }
        c.cost[i as usize] = units;
    }
    c
}

/// Threads working right now across all processes (a file run.sh creates), and the peak.
struct Counter {
    // [0] threads working now, [1] the peak: every thread of every process that maps the file
    // adds and reads them (relaxed: counts, ordering nothing). Null without a file.
    shared: *mut i64,
    local: AtomicI64,      // the same for this process's threads only
    local_peak: AtomicI64, // read once, after the front end and codegen are done
}
unsafe impl Sync for Counter {}
unsafe impl Send for Counter {}

fn bump_peak(peak: &AtomicI64, now: i64) {
    let mut p = peak.load(Ordering::Relaxed);
    while now > p {
        match peak.compare_exchange_weak(p, now, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break,
            Err(q) => p = q,
        }
    }
}

impl Counter {
    fn new(path: &str) -> Counter {
        let mut shared = std::ptr::null_mut();
        if !path.is_empty() {
            let cpath = std::ffi::CString::new(path).unwrap();
            unsafe {
                let fd = libc::open(cpath.as_ptr(), libc::O_RDWR);
                if fd >= 0 {
                    let p = libc::mmap(
                        std::ptr::null_mut(),
                        16,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_SHARED,
                        fd,
                        0,
                    );
                    libc::close(fd);
                    if p != libc::MAP_FAILED {
                        shared = p as *mut i64;
                    }
                }
            }
            if shared.is_null() {
                eprintln!(
                    "compiler_model: cannot map {}; counting this process only",
                    path
                );
            }
        }
        Counter {
            shared,
            local: AtomicI64::new(0),
            local_peak: AtomicI64::new(0),
        }
    }
    fn enter(&self) {
        bump_peak(
            &self.local_peak,
            self.local.fetch_add(1, Ordering::Relaxed) + 1,
        );
        if !self.shared.is_null() {
            let (running, peak) = unsafe {
                (
                    &*(self.shared as *const AtomicI64),
                    &*(self.shared.add(1) as *const AtomicI64),
                )
            };
            bump_peak(peak, running.fetch_add(1, Ordering::Relaxed) + 1);
        }
    }
    fn leave(&self) {
        self.local.fetch_sub(1, Ordering::Relaxed);
        if !self.shared.is_null() {
            unsafe { &*(self.shared as *const AtomicI64) }.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// rustc's jobserver proxy (`rustc_data_structures::jobserver::Proxy`), reduced: the process's
/// implicit token first; otherwise a waiter asks a helper thread for one of make's tokens and
/// sleeps until that token arrives or a token held here is given back to it. (A thread that
/// blocked reading make's pipe itself could wait for ever while the implicit token sat free.)
struct Proxy {
    helper: Option<jobserver::HelperThread>,
    state: Arc<(Mutex<ProxyState>, Condvar)>,
    acquired: Arc<AtomicUsize>,
}
#[derive(Default)]
struct ProxyState {
    implicit_free: bool,
    tokens: Vec<jobserver::Acquired>, // make's tokens handed to this process, not yet taken
    waiting: usize,
}
enum Token {
    Implicit,
    Explicit(jobserver::Acquired),
    Unlimited,
}
impl Proxy {
    fn new() -> Proxy {
        let state = Arc::new((
            Mutex::new(ProxyState {
                implicit_free: true,
                ..ProxyState::default()
            }),
            Condvar::new(),
        ));
        let acquired = Arc::new(AtomicUsize::new(0));
        let helper = unsafe { jobserver::Client::from_env() }.map(|client| {
            let (state, acquired) = (state.clone(), acquired.clone());
            client
                .into_helper_thread(move |t| {
                    let t = t.expect("compiler_model: reading a jobserver token");
                    acquired.fetch_add(1, Ordering::Relaxed);
                    let mut s = state.0.lock().unwrap();
                    if s.waiting > 0 {
                        s.tokens.push(t);
                        state.1.notify_one();
                    } // else: nobody waits any more; dropping it gives it back to make
                })
                .expect("compiler_model: starting the jobserver helper thread")
        });
        Proxy {
            helper,
            state,
            acquired,
        }
    }
    fn acquire(&self) -> Token {
        let (m, cv) = &*self.state;
        let mut s = m.lock().unwrap();
        if s.implicit_free {
            s.implicit_free = false;
            return Token::Implicit;
        }
        let helper = match &self.helper {
            Some(h) => h,
            None => return Token::Unlimited, // no jobserver: no limit
        };
        s.waiting += 1;
        helper.request_token();
        loop {
            if s.implicit_free {
                s.implicit_free = false;
                s.waiting -= 1;
                return Token::Implicit;
            }
            if let Some(t) = s.tokens.pop() {
                s.waiting -= 1;
                return Token::Explicit(t);
            }
            s = cv.wait(s).unwrap();
        }
    }
    fn release(&self, t: Token) {
        let (m, cv) = &*self.state;
        let mut s = m.lock().unwrap();
        match t {
            Token::Implicit => {
                s.implicit_free = true;
                cv.notify_one();
            }
            Token::Explicit(t) => {
                if s.waiting > 0 {
                    s.tokens.push(t); // straight to a waiter, as rustc's proxy hands it on
                    cv.notify_one();
                } // else dropped: back to make
            }
            Token::Unlimited => {}
        }
    }
}

fn work(seed: u64, units: u64, counter: &Counter) -> u64 {
    counter.enter();
    let mut x = seed;
    for _ in 0..units * ROUNDS_PER_UNIT {
        x ^= x >> 33;
        x = x.wrapping_mul(0xFF51AFD7ED558CCD);
        x ^= x >> 29;
    }
    counter.leave();
    x
}

enum Slot {
    Empty,
    Running,
    Done(u64),
}

struct FrontEnd<'a> {
    c: &'a Crate,
    slots: Vec<(Mutex<Slot>, Condvar)>,
    counter: &'a Counter,
    proxy: &'a Proxy,
}

impl<'a> FrontEnd<'a> {
    fn type_of(&self, i: u32) -> u64 {
        let (m, cv) = &self.slots[i as usize];
        {
            let mut s = m.lock().unwrap();
            loop {
                match *s {
                    Slot::Done(v) => return v,
                    Slot::Running => s = cv.wait(s).unwrap(), // blocks the thread, as rustc does
                    Slot::Empty => break,
                }
            }
            *s = Slot::Running;
        }
        let dv = self.fan_out(&self.c.deps[i as usize]);
        let mut seed = (u64::from(i) + 1).wrapping_mul(0x9E3779B97F4A7C15);
        for v in &dv {
            seed = seed.wrapping_add(*v);
        }
        let t = self.proxy.acquire();
        let v = work(seed, self.c.cost[i as usize], self.counter);
        self.proxy.release(t);
        *m.lock().unwrap() = Slot::Done(v);
        cv.notify_all();
        v
    }

    // The dependencies in parallel with the fork's wait: one claim job per dependency beyond
    // the first; the caller then runs every dependency nobody claimed and sleeps until the
    // others are done (no stealing while it waits).
    fn fan_out(&self, deps: &[u32]) -> Vec<u64> {
        let n = deps.len();
        if n <= 1 {
            return deps.iter().map(|&d| self.type_of(d)).collect();
        }
        struct Shared {
            claimed: Vec<std::sync::atomic::AtomicBool>,
            values: Mutex<(Vec<u64>, usize)>,
            done: Condvar,
        }
        let shared = Shared {
            claimed: (0..n)
                .map(|_| std::sync::atomic::AtomicBool::new(false))
                .collect(),
            values: Mutex::new((vec![0; n], 0)),
            done: Condvar::new(),
        };
        let run = |k: usize| {
            if !shared.claimed[k].swap(true, Ordering::AcqRel) {
                let v = self.type_of(deps[k]);
                let mut g = shared.values.lock().unwrap();
                g.0[k] = v;
                g.1 += 1;
                shared.done.notify_all();
            }
        };
        rayon::scope(|s| {
            for k in 1..n {
                let run = &run;
                s.spawn(move |_| run(k));
            }
            for k in 0..n {
                run(k);
            }
            let mut g = shared.values.lock().unwrap();
            while g.1 < n {
                g = shared.done.wait(g).unwrap(); // sleep: the fork's wait
            }
        });
        let g = shared.values.lock().unwrap();
        g.0.clone()
    }
}

fn main() {
    let mut crate_index = 0u32;
    let mut threads = 2usize;
    let mut items = DEFAULT_ITEMS;
    let mut conc = String::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next();
        match (a.as_str(), v) {
            ("--crate", Some(v)) => crate_index = v.parse().unwrap_or(0),
            ("--threads", Some(v)) => threads = v.parse().unwrap_or(0),
            ("--items", Some(v)) => items = v.parse().unwrap_or(0),
            ("--concurrency-file", Some(v)) => conc = v,
            _ => {
                eprintln!("usage: compiler_model_rustc_today --crate K [--threads T] [--items N] [--concurrency-file F]");
                std::process::exit(2);
            }
        }
    }
    if threads == 0 || items == 0 {
        eprintln!("compiler_model: --threads and --items must be positive");
        std::process::exit(2);
    }
    let c = make_crate(crate_index, items);
    let counter = Counter::new(&conc);
    let proxy = Proxy::new();
    let t0 = Instant::now();

    // Front end: every item type-checked on a rayon pool.
    let fe = FrontEnd {
        c: &c,
        slots: (0..items)
            .map(|_| (Mutex::new(Slot::Empty), Condvar::new()))
            .collect(),
        counter: &counter,
        proxy: &proxy,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    use rayon::prelude::*;
    pool.install(|| {
        (0..items).into_par_iter().for_each(|i| {
            fe.type_of(i);
        })
    });
    drop(pool);
    let typed: Vec<u64> = (0..items).map(|i| fe.type_of(i)).collect(); // all Done now

    // Codegen: a thread per unit, each started once it has a token.
    let unit_values = Arc::new(Mutex::new(vec![0u64; CGUS as usize]));
    std::thread::scope(|s| {
        for g in 0..CGUS {
            let token = proxy.acquire();
            let (c, typed, unit_values, counter, proxy) =
                (&c, &typed, unit_values.clone(), &counter, &proxy);
            s.spawn(move || {
                let mut seed = u64::from(g) + 1;
                let mut units = 0u64;
                let mut i = g;
                while i < c.items {
                    seed ^= typed[i as usize];
                    units += 2 * c.cost[i as usize];
                    i += CGUS;
                }
                let v = work(seed, units, counter);
                unit_values.lock().unwrap()[g as usize] = v;
                proxy.release(token);
            });
        }
    });
    let uv = unit_values.lock().unwrap();
    let mut result = 0u64;
    for (g, v) in uv.iter().enumerate() {
        result = result.wrapping_add((g as u64 + 1).wrapping_mul(*v));
    }
    println!(
        "{{\"program\":\"compiler_model\",\"system\":\"rustc-today\",\"lang\":\"rust\",\"crate\":{},\"threads\":{},\"items\":{},\"wall_s\":{:.6},\"result\":{},\"jobserver\":{},\"tokens_acquired\":{},\"process_peak_running\":{}}}",
        crate_index,
        threads,
        items,
        t0.elapsed().as_secs_f64(),
        result,
        proxy.helper.is_some(),
        proxy.acquired.load(Ordering::Relaxed),
        counter.local_peak.load(Ordering::Relaxed)
    );
}
