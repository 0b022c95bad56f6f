//! idle and wakeup: one job submitted from the main thread (not a pool worker) to an idle pool,
//! with `ThreadPool::install` (rayon workers run it; the caller blocks). Mirrors
//! bench/workloads/pool_job.hpp.
//!  - idle n: n ticks of { install an empty job; sleep 10 ms }. The figure is the CPU time over
//!    the ~n·10 ms (rayon PR #746's `noop` methodology).
//!  - wakeup n: n samples per rep of { sleep 10 ms; t0; install a job that returns its start
//!    time }; the rep's time is the mean start − t0.

use super::{Instance, Workload};
use std::time::{Duration, Instant};

const GAP: Duration = Duration::from_millis(10);

pub struct Idle;
pub struct Wakeup;

struct PoolJobInstance {
    count: u64,
    wakeup: bool,
    last_latency: Option<f64>,
}

impl PoolJobInstance {
    fn rep<S: FnMut(&mut dyn FnMut() -> Instant) -> Instant>(&mut self, mut submit: S) -> u64 {
        let mut done = 0u64;
        let mut sum = 0.0f64;
        for _ in 0..self.count {
            if self.wakeup {
                std::thread::sleep(GAP);
                let t0 = Instant::now();
                let started = submit(&mut || Instant::now());
                sum += started.saturating_duration_since(t0).as_secs_f64();
            } else {
                submit(&mut || Instant::now());
                std::thread::sleep(GAP);
            }
            done += 1;
        }
        self.last_latency = if self.wakeup {
            Some(sum / self.count as f64)
        } else {
            None
        };
        done
    }
}

fn prepare(n: u64, wakeup: bool) -> Box<dyn Instance> {
    if n > 100_000 {
        eprintln!("spindle-rayon-bench: idle/wakeup: n at most 100000");
        std::process::exit(2);
    }
    Box::new(PoolJobInstance {
        count: n,
        wakeup,
        last_latency: None,
    })
}

impl Workload for Idle {
    fn name(&self) -> &'static str {
        "idle"
    }
    fn default_n(&self) -> u64 {
        10
    }
    fn prepare(&self, n: u64) -> Box<dyn Instance> {
        prepare(n, false)
    }
}

impl Workload for Wakeup {
    fn name(&self) -> &'static str {
        "wakeup"
    }
    fn default_n(&self) -> u64 {
        10
    }
    fn prepare(&self, n: u64) -> Box<dyn Instance> {
        prepare(n, true)
    }
}

impl Instance for PoolJobInstance {
    fn n(&self) -> u64 {
        self.count
    }
    fn run_serial(&mut self) -> u64 {
        self.rep(|job| job())
    }
    fn run_rayon(&mut self) -> u64 {
        // Only reached through run_rayon_pool below (needs the pool itself).
        unreachable!("idle/wakeup run outside install")
    }
    fn run_rayon_pool(&mut self, pool: &rayon::ThreadPool) -> u64 {
        self.rep(|_job| pool.install(Instant::now))
    }
    fn check(&self, result: u64) -> bool {
        result == self.count
    }
    fn self_time(&self) -> Option<f64> {
        self.last_latency
    }
    fn scales(&self) -> bool {
        false
    }
}
