//! false_dependency: the deadlock class that made rustc's fork stop stealing while it waits
//! (rust-lang/rust#143035), built so that it happens every time. The same steps as
//! bench/false_dependency.cpp (spindle), on rayon, with a query slot that waits as rustc's
//! `QueryLatch` does (a `Mutex` + `Condvar`: a second requester blocks its OS thread).
//!
//! Two workers. Query Q's computation joins A and B; A waits until B has started on the other
//! worker, so Q's worker then waits for B. B waits until task C has started, for at most
//! --patience-ms (default 50). C, injected from outside once B runs, is unrelated to Q's
//! subtasks, but asks for Q.
//!
//!   --wait scope  (default) Q joins with `rayon::join`, whose wait steals: Q's worker takes C
//!                 onto Q's own stack, C blocks that thread on Q's condvar, and Q can never
//!                 go on. The program reports `"completed":false` after --timeout-ms.
//!   --wait fork   the fork's semantics since #143035: the waiting thread runs only its own
//!                 unstarted subtask, else sleeps until it is done. No deadlock, but C cannot
//!                 start until B gave up waiting: the run takes the full patience.
//!
//! Prints one JSON line like bench_false_dependency; exit 0 when it completed.
//! Must build with Debian 12's rustc 1.63: std + rayon only.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

enum Slot {
    Empty,
    Running,
    Done(u64),
}

struct Query {
    slot: Mutex<Slot>,
    ready: Condvar,
}

impl Query {
    // rustc's way: the first requester computes; any other blocks its thread until the value
    // is there.
    fn get_or_compute(&self, compute: impl FnOnce() -> u64) -> u64 {
        let mut s = self.slot.lock().unwrap();
        loop {
            match *s {
                Slot::Done(v) => return v,
                Slot::Running => s = self.ready.wait(s).unwrap(),
                Slot::Empty => break,
            }
        }
        *s = Slot::Running;
        drop(s);
        let v = compute();
        *self.slot.lock().unwrap() = Slot::Done(v);
        self.ready.notify_all();
        v
    }
}

fn wait_flag(flag: &AtomicBool, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    while !flag.load(Ordering::Acquire) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

// The fork's join since #143035: b is offered to other workers; the caller runs a, then b if
// nobody took it, else sleeps (no stealing) until b is done.
fn fork_join<A, B>(a: A, b: B) -> (u64, u64)
where
    A: FnOnce() -> u64,
    B: FnOnce() -> u64 + Send + 'static,
{
    struct Shared {
        claimed: AtomicBool,
        result: Mutex<Option<u64>>,
        done: Condvar,
    }
    let shared = Arc::new(Shared {
        claimed: AtomicBool::new(false),
        result: Mutex::new(None),
        done: Condvar::new(),
    });
    let b = Arc::new(Mutex::new(Some(b)));
    let run_b = {
        let shared = shared.clone();
        let b = b.clone();
        move || {
            let f = b.lock().unwrap().take().unwrap();
            let v = f();
            *shared.result.lock().unwrap() = Some(v);
            shared.done.notify_all();
        }
    };
    {
        let shared = shared.clone();
        let run_b = run_b.clone();
        rayon::spawn(move || {
            if !shared.claimed.swap(true, Ordering::AcqRel) {
                run_b();
            }
        });
    }
    let ra = a();
    if !shared.claimed.swap(true, Ordering::AcqRel) {
        run_b();
    }
    let mut r = shared.result.lock().unwrap();
    while r.is_none() {
        r = shared.done.wait(r).unwrap();
    }
    (ra, r.unwrap())
}

fn main() {
    let mut patience_ms = 50u64;
    let mut timeout_ms = 5000u64;
    let mut wait = "scope".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--patience-ms" => patience_ms = args.next().and_then(|v| v.parse().ok()).unwrap_or(50),
            "--timeout-ms" => timeout_ms = args.next().and_then(|v| v.parse().ok()).unwrap_or(5000),
            "--wait" => wait = args.next().unwrap_or_default(),
            _ => {
                eprintln!("usage: false_dependency [--wait scope|fork] [--patience-ms P] [--timeout-ms T]");
                std::process::exit(2);
            }
        }
    }
    if wait != "scope" && wait != "fork" {
        eprintln!("false_dependency: --wait must be scope or fork");
        std::process::exit(2);
    }
    let patience = Duration::from_millis(patience_ms);
    let timeout = Duration::from_millis(timeout_ms);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let query = Arc::new(Query {
        slot: Mutex::new(Slot::Empty),
        ready: Condvar::new(),
    });
    let b_started = Arc::new(AtomicBool::new(false));
    let c_started = Arc::new(AtomicBool::new(false));
    let b_gave_up = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel::<(char, u64)>();
    let t0 = Instant::now();

    let compute_q = {
        let (b_started, c_started, b_gave_up) =
            (b_started.clone(), c_started.clone(), b_gave_up.clone());
        let fork = wait == "fork";
        move || -> u64 {
            let a = {
                let b_started = b_started.clone();
                move || {
                    wait_flag(&b_started, timeout); // B on the other worker
                    1u64
                }
            };
            let b = {
                let (b_started, c_started, b_gave_up) =
                    (b_started.clone(), c_started.clone(), b_gave_up.clone());
                move || {
                    b_started.store(true, Ordering::Release);
                    if !wait_flag(&c_started, patience) {
                        b_gave_up.store(true, Ordering::Relaxed);
                    }
                    2u64
                }
            };
            let (x, y) = if fork {
                fork_join(a, b)
            } else {
                rayon::join(a, b)
            };
            x + y
        }
    };
    {
        let (query, tx, compute_q) = (query.clone(), tx.clone(), compute_q.clone());
        pool.spawn(move || {
            let v = query.get_or_compute(compute_q);
            let _ = tx.send(('q', v));
        });
    }
    wait_flag(&b_started, timeout);
    let c_started_ms = Arc::new(Mutex::new(-1.0f64));
    {
        let (query, tx, c_started, c_started_ms) = (
            query.clone(),
            tx.clone(),
            c_started.clone(),
            c_started_ms.clone(),
        );
        pool.spawn(move || {
            // C: unrelated to Q's subtasks, injected from outside, asks for Q
            *c_started_ms.lock().unwrap() = t0.elapsed().as_secs_f64() * 1e3;
            c_started.store(true, Ordering::Release);
            let v = query.get_or_compute(compute_q);
            let _ = tx.send(('c', v * 10));
        });
    }
    let (mut q, mut c) = (None, None);
    let deadline = t0 + timeout;
    while q.is_none() || c.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(('q', v)) => q = Some(v),
            Ok((_, v)) => c = Some(v),
            Err(_) => break,
        }
    }
    let completed = q.is_some() && c.is_some();
    let checked = completed && q == Some(3) && c == Some(30);
    let c_ms = *c_started_ms.lock().unwrap();
    println!(
        "{{\"program\":\"false_dependency\",\"system\":\"rayon-{}\",\"lang\":\"rust\",\"threads\":2,\"patience_ms\":{},\"completed\":{},\"checked\":{},\"c_started_ms\":{:.3},\"total_ms\":{:.3},\"b_waited_full_patience\":{}}}",
        wait,
        patience_ms,
        completed,
        checked,
        c_ms,
        t0.elapsed().as_secs_f64() * 1e3,
        b_gave_up.load(Ordering::Relaxed)
    );
    // A deadlocked pool never finishes: leave without dropping it.
    std::process::exit(if checked { 0 } else { 1 });
}
