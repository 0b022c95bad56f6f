//! sort: stable parallel sort of n `u32`: `v.par_sort()` (rayon's parallel merge sort).
//! Mirrors bench/workloads/sort.cpp (`spindle::stable_sort(v.begin(), v.end())`).
//!
//! Input: n values from splitmix64 seeded 42 (`data.rs`), the high 32 bits of each output.
//! Generated once, untimed; every repetition sorts a fresh copy of it (`reset`, untimed).
//! Check (untimed): the sorted vector equals a copy sorted once by `sort_unstable` (so it is
//! sorted and holds the same multiset). The reported result is the element at n/2 (the
//! median), which the C++ side reports too.

use super::data::{SplitMix64, SEED};
use super::{Instance, Workload};
use rayon::prelude::*;

pub struct Sort;

struct SortInstance {
    input: std::sync::Arc<Vec<u32>>, // shared with the capacity probe's kernel
    work: Vec<u32>,
    expected: Vec<u32>,
}

fn generate(n: usize) -> Vec<u32> {
    let mut g = SplitMix64::new(SEED);
    (0..n).map(|_| g.next_u32()).collect()
}

fn digest(v: &[u32]) -> u64 {
    if v.is_empty() {
        0
    } else {
        v[v.len() / 2] as u64
    }
}

/// The rayon version (runs inside `ThreadPool::install`): stable.
fn sort_rayon(v: &mut [u32]) {
    v.par_sort();
}

/// Serial baseline T_S: the standard library's stable sort.
#[inline(never)]
fn sort_serial(v: &mut [u32]) {
    v.sort();
}

impl Workload for Sort {
    fn name(&self) -> &'static str {
        "sort"
    }
    fn default_n(&self) -> u64 {
        1 << 22
    }
    fn prepare(&self, n: u64) -> Box<dyn Instance> {
        let input = generate(n as usize);
        let mut expected = input.clone();
        expected.sort_unstable();
        Box::new(SortInstance {
            work: input.clone(),
            input: std::sync::Arc::new(input),
            expected,
        })
    }
}

impl Instance for SortInstance {
    fn n(&self) -> u64 {
        self.input.len() as u64
    }
    fn reset(&mut self) {
        self.work.copy_from_slice(&self.input);
    }
    fn run_serial(&mut self) -> u64 {
        sort_serial(&mut self.work);
        digest(&self.work)
    }
    fn run_rayon(&mut self) -> u64 {
        sort_rayon(&mut self.work);
        digest(&self.work)
    }
    /// The serial sort of a private copy (the copy included, as reset() is beside every rep).
    fn probe_kernel(&self) -> Option<super::Kernel> {
        let input = self.input.clone();
        super::kernel(move || {
            let mut copy = input.to_vec();
            sort_serial(&mut copy);
            digest(&copy)
        })
    }
    fn check(&self, result: u64) -> bool {
        result == digest(&self.expected) && self.work == self.expected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees() {
        let input = generate(100_000);
        let mut expected = input.clone();
        expected.sort_unstable();
        let mut a = input.clone();
        sort_serial(&mut a);
        assert_eq!(a, expected);
        let mut b = input.clone();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| sort_rayon(&mut b));
        assert_eq!(b, expected);
    }
}
