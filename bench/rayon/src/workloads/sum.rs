//! sum: the `par_iter().map(..).sum()` shape over a `Vec<u64>`:
//! `v.par_iter().map(|&x| x ^ (x >> 3)).sum::<u64>()`.
//! Mirrors bench/workloads/sum.cpp (`spindle::transform_reduce(v, 0, plus, x ^ (x >> 3))`).
//!
//! Input: n values from splitmix64 seeded 42 (`data.rs`), each the high 32 bits of an output
//! widened to u64, so the sum of up to 2^32 of them cannot overflow (no reliance on wrapping
//! arithmetic, which `sum` would reject under overflow checks). Generated once, untimed.

use super::data::{SplitMix64, SEED};
use super::{Instance, Workload};
use rayon::prelude::*;

pub struct Sum;

struct SumInstance {
    v: std::sync::Arc<Vec<u64>>, // shared with the capacity probe's kernel
    expected: u64,
}

fn generate(n: usize) -> Vec<u64> {
    let mut g = SplitMix64::new(SEED);
    (0..n).map(|_| g.next_u32() as u64).collect()
}

/// The rayon version (runs inside `ThreadPool::install`).
fn sum_rayon(v: &[u64]) -> u64 {
    v.par_iter().map(|&x| x ^ (x >> 3)).sum::<u64>()
}

/// Serial baseline T_S: the same iterator chain, sequential.
#[inline(never)]
fn sum_serial(v: &[u64]) -> u64 {
    v.iter().map(|&x| x ^ (x >> 3)).sum::<u64>()
}

/// Reference value: a plain indexed loop (independent of both timed versions).
fn sum_reference(v: &[u64]) -> u64 {
    let mut acc = 0u64;
    let mut i = 0;
    while i < v.len() {
        acc += v[i] ^ (v[i] >> 3);
        i += 1;
    }
    acc
}

impl Workload for Sum {
    fn name(&self) -> &'static str {
        "sum"
    }
    fn default_n(&self) -> u64 {
        1 << 22
    }
    fn prepare(&self, n: u64) -> Box<dyn Instance> {
        if n > (1u64 << 32) {
            eprintln!("spindle-rayon-bench: sum: n = {} too large (max 2^32)", n);
            std::process::exit(2);
        }
        let v = generate(n as usize);
        let expected = sum_reference(&v);
        Box::new(SumInstance {
            v: std::sync::Arc::new(v),
            expected,
        })
    }
}

impl Instance for SumInstance {
    fn expected(&self) -> Option<u64> {
        Some(self.expected)
    }
    fn n(&self) -> u64 {
        self.v.len() as u64
    }
    fn run_serial(&mut self) -> u64 {
        sum_serial(&self.v)
    }
    fn run_rayon(&mut self) -> u64 {
        sum_rayon(&self.v)
    }
    /// The serial sum of the probe thread's slice (capacity::probe_slice): T threads at once read
    /// disjoint data and share memory bandwidth as rayon's workers do.
    fn probe_kernel(&self) -> Option<super::Kernel> {
        let v = self.v.clone();
        super::kernel(move || {
            let (b, e) = crate::capacity::slice_bounds(v.len(), crate::capacity::probe_slice());
            sum_serial(&v[b..e])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees() {
        let v = generate(100_000);
        let r = sum_reference(&v);
        assert_eq!(sum_serial(&v), r);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        assert_eq!(pool.install(|| sum_rayon(&v)), r);
        assert_eq!(sum_reference(&[]), 0);
    }
}
