//! Shared by mergesort and quicksort: the input (n u32 from splitmix64 seeded 42, high bits, as
//! in sort.rs), the sequential pieces, and an O(n) check (sorted, same sum and same sum of
//! mix64 hashes as the input). Mirrors bench/workloads/sorting.hpp.

use super::data::{mix64, SplitMix64, SEED};
use super::{Instance, Workload};

pub const INSERTION: usize = 32;
/// Below this a subtree is sorted sequentially.
pub const SORT_SEQ: usize = 32768;
/// Below this a merge runs sequentially.
pub const MERGE_SEQ: usize = 65536;

pub struct SortInput {
    pub input: Vec<u32>,
    pub work: Vec<u32>,
    pub scratch: Vec<u32>,
    sum: u64,
    hash: u64,
}

impl SortInput {
    pub fn new(n: usize) -> SortInput {
        let mut g = SplitMix64::new(SEED);
        let input: Vec<u32> = (0..n).map(|_| g.next_u32()).collect();
        let (sum, hash) = sums(&input);
        SortInput {
            work: input.clone(),
            scratch: vec![0; n],
            input,
            sum,
            hash,
        }
    }
    pub fn reset(&mut self) {
        self.work.copy_from_slice(&self.input);
    }
    pub fn digest(&self) -> u64 {
        if self.work.is_empty() {
            0
        } else {
            self.work[self.work.len() / 2] as u64
        }
    }
    pub fn check(&self, r: u64) -> bool {
        r == self.digest()
            && self.work.windows(2).all(|w| w[0] <= w[1])
            && sums(&self.work) == (self.sum, self.hash)
    }
}

fn sums(v: &[u32]) -> (u64, u64) {
    let (mut s, mut h) = (0u64, 0u64);
    for &x in v {
        s = s.wrapping_add(x as u64);
        h = h.wrapping_add(mix64(x as u64));
    }
    (s, h)
}

pub fn insertion_sort(a: &mut [u32]) {
    for i in 1..a.len() {
        unsafe {
            let x = *a.get_unchecked(i);
            let mut j = i;
            while j > 0 && *a.get_unchecked(j - 1) > x {
                *a.get_unchecked_mut(j) = *a.get_unchecked(j - 1);
                j -= 1;
            }
            *a.get_unchecked_mut(j) = x;
        }
    }
}

pub fn merge_seq(a: &[u32], b: &[u32], out: &mut [u32]) {
    let (na, nb) = (a.len(), b.len());
    assert!(out.len() == na + nb);
    let (mut i, mut j, mut k) = (0, 0, 0);
    unsafe {
        while i < na && j < nb {
            // Branch-free step, as in bench/workloads/mergesort.cpp.
            let (x, y) = (*a.get_unchecked(i), *b.get_unchecked(j));
            let take_a = x <= y;
            *out.get_unchecked_mut(k) = if take_a { x } else { y };
            i += take_a as usize;
            j += (!take_a) as usize;
            k += 1;
        }
    }
    out[k..k + (na - i)].copy_from_slice(&a[i..]);
    k += na - i;
    out[k..].copy_from_slice(&b[j..]);
}

/// First index in b whose element is >= x.
pub fn lower_bound(b: &[u32], x: u32) -> usize {
    let (mut lo, mut hi) = (0usize, b.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if b[mid] < x {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// A sort workload over a `SortInput` (mergesort, quicksort): its name and its serial and rayon
/// sorts; the sizes, the reset, the digest and the check are shared.
pub struct SortWorkload {
    pub name: &'static str,
    pub serial: fn(&mut SortInput),
    pub rayon: fn(&mut SortInput),
}

struct SortInstance {
    s: SortInput,
    serial: fn(&mut SortInput),
    rayon: fn(&mut SortInput),
}

impl Workload for SortWorkload {
    fn name(&self) -> &'static str {
        self.name
    }
    fn default_n(&self) -> u64 {
        1 << 22
    }
    fn prepare(&self, n: u64) -> Box<dyn Instance> {
        if n > (1u64 << 31) {
            eprintln!("spindle-rayon-bench: {}: n at most 2^31", self.name);
            std::process::exit(2);
        }
        Box::new(SortInstance {
            s: SortInput::new(n as usize),
            serial: self.serial,
            rayon: self.rayon,
        })
    }
}

impl Instance for SortInstance {
    fn n(&self) -> u64 {
        self.s.input.len() as u64
    }
    fn reset(&mut self) {
        self.s.reset();
    }
    #[inline(never)]
    fn run_serial(&mut self) -> u64 {
        (self.serial)(&mut self.s);
        self.s.digest()
    }
    fn run_rayon(&mut self) -> u64 {
        (self.rayon)(&mut self.s);
        self.s.digest()
    }
    fn check(&self, result: u64) -> bool {
        self.s.check(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each sort workload's serial sort, then its rayon sort on 2 threads, sorts 300,000 inputs
    /// as `sort_unstable` does (large enough for the parallel merges and halves), and the check
    /// accepts the result.
    #[test]
    fn sort_workloads_sort_like_sort_unstable() {
        for w in [
            &super::super::mergesort::MERGESORT,
            &super::super::quicksort::QUICKSORT,
        ] {
            assert_sorts_like_sort_unstable(w);
        }
    }

    fn assert_sorts_like_sort_unstable(w: &SortWorkload) {
        let mut s = SortInput::new(300_000);
        let mut expected = s.input.clone();
        expected.sort_unstable();
        (w.serial)(&mut s);
        assert_eq!(s.work, expected);
        s.reset();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| (w.rayon)(&mut s));
        assert_eq!(s.work, expected);
        assert!(s.check(s.digest()));
    }
}
