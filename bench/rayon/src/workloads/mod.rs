//! Workload registry. One file per workload; to add one (nqueens, mergesort, quicksort, integrate,
//! skynet, map-reduce, uts, matmul, ...):
//!   1. write `src/workloads/<name>.rs` with a unit struct implementing `Workload` and an
//!      instance type implementing `Instance`;
//!   2. add `mod <name>;` and an entry in `ALL` below.
//!
//! Keep the algorithm, sizes and sequential cutoffs identical to the C++ side
//! (bench/workloads/<name>.cpp, run by bench_compare) — see bench/README.md, "Fairness rules".

mod data;
mod fib;
mod fork;
mod integrate;
mod matmul;
mod mergesort;
mod nqueens;
mod pool_job;
mod query_graph;
mod quicksort;
mod skynet;
mod sort;
mod sorting;
mod sum;
mod uts;

pub use crate::capacity::Kernel;

/// A benchmark kind: knows its name, its quick default size and how to build an instance.
pub trait Workload: Sync {
    fn name(&self) -> &'static str;
    /// Size used when --n is not given (the quick/CI size).
    fn default_n(&self) -> u64;
    /// Builds inputs and the expected answer for size `n` (untimed, done once per process).
    fn prepare(&self, n: u64) -> Box<dyn Instance>;
}

/// One prepared problem. Results are reduced to a `u64` digest (fib value, solution count,
/// checksum of a sorted array, ...) that `check` validates.
pub trait Instance: Send {
    fn n(&self) -> u64;
    /// Untimed; called before every repetition (e.g. re-copy the unsorted input). Default: nothing.
    fn reset(&mut self) {}
    /// Plain sequential version (`#[inline(never)]` entry point).
    fn run_serial(&mut self) -> u64;
    /// rayon version; already running on a pool worker (inside `ThreadPool::install`).
    fn run_rayon(&mut self) -> u64;
    /// The known answer, when the check is equality with it (fib, nqueens, ...); None: the
    /// instance overrides `check`.
    fn expected(&self) -> Option<u64> {
        None
    }
    /// Whether `result` is right. Default: equal to `expected()` (false when there is none).
    fn check(&self, result: u64) -> bool {
        self.expected() == Some(result)
    }
    /// The serial version for the capacity probe (capacity.rs), when T threads may run it at once
    /// (it owns or shares what it reads); None: the probe's integer kernel.
    fn probe_kernel(&self) -> Option<Kernel> {
        None
    }
    /// Runs one rayon repetition given the pool; default: `run_rayon` inside `pool.install`.
    /// idle and wakeup override it to submit from outside the pool.
    fn run_rayon_pool(&mut self, pool: &rayon::ThreadPool) -> u64 {
        pool.install(|| self.run_rayon())
    }
    /// Whether a T-worker run also times a 1-worker pool for the speed-up (bench/capacity.hpp);
    /// idle and wakeup measure latency and CPU burnt, not speed-up: false.
    fn scales(&self) -> bool {
        true
    }
    /// The time of the last run when the workload measures itself (wakeup: mean latency);
    /// None: the wall time of the run.
    fn self_time(&self) -> Option<f64> {
        None
    }
}

/// A probe kernel from a closure (`Instance::probe_kernel`).
pub fn kernel(f: impl Fn() -> u64 + Send + Sync + 'static) -> Option<Kernel> {
    Some(std::sync::Arc::new(f))
}

static ALL: &[&dyn Workload] = &[
    &fib::Fib,
    &sum::Sum,
    &sort::Sort,
    &nqueens::NQueens,
    &skynet::Skynet,
    &query_graph::QueryGraph,
    &uts::Uts,
    &matmul::Matmul,
    &mergesort::MERGESORT,
    &quicksort::QUICKSORT,
    &integrate::Integrate,
    &pool_job::Idle,
    &pool_job::Wakeup,
];

pub fn find(name: &str) -> Option<&'static dyn Workload> {
    ALL.iter().copied().find(|w| w.name() == name)
}

pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|w| w.name()).collect()
}
