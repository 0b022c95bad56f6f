//! quicksort: n u32 in place: median of three, Hoare partition (sequential), both sides in
//! parallel (sequentially below 32768 elements), insertion sort below 32. Mirrors
//! bench/suite_compare.cpp (`quick_sort`). Result: element n/2.

use super::fork::{Fork, RayonFork, SerialFork};
use super::sorting::{insertion_sort, SortInput, INSERTION, SORT_SEQ};
use super::{Instance, Workload};

fn quick_sort<F: Fork>(a: &mut [u32], parallel: bool) {
    let n = a.len();
    if n <= INSERTION {
        insertion_sort(a);
        return;
    }
    if parallel && n <= SORT_SEQ {
        quick_sort::<SerialFork>(a, false);
        return;
    }
    let mid = n / 2;
    if a[mid] < a[0] {
        a.swap(mid, 0);
    }
    if a[n - 1] < a[0] {
        a.swap(n - 1, 0);
    }
    if a[n - 1] < a[mid] {
        a.swap(n - 1, mid);
    }
    let pivot = a[mid];
    let (mut i, mut j) = (0usize, n - 1);
    unsafe {
        loop {
            while *a.get_unchecked(i) < pivot {
                i += 1;
            }
            while *a.get_unchecked(j) > pivot {
                j -= 1;
            }
            if i >= j {
                break;
            }
            let p = a.as_mut_ptr();
            std::ptr::swap(p.add(i), p.add(j));
            i += 1;
            j -= 1;
        }
    }
    let (l, r) = a.split_at_mut(j + 1);
    F::join2(
        || quick_sort::<F>(l, parallel),
        || quick_sort::<F>(r, parallel),
    );
}

pub struct Quicksort;

struct QuicksortInstance {
    s: SortInput,
}

impl Workload for Quicksort {
    fn name(&self) -> &'static str {
        "quicksort"
    }
    fn default_n(&self) -> u64 {
        1 << 22
    }
    fn prepare(&self, n: u64) -> Box<dyn Instance> {
        if n > (1u64 << 31) {
            eprintln!("spindle-rayon-bench: quicksort: n at most 2^31");
            std::process::exit(2);
        }
        Box::new(QuicksortInstance {
            s: SortInput::new(n as usize),
        })
    }
}

impl Instance for QuicksortInstance {
    fn n(&self) -> u64 {
        self.s.input.len() as u64
    }
    fn reset(&mut self) {
        self.s.reset();
    }
    #[inline(never)]
    fn run_serial(&mut self) -> u64 {
        quick_sort::<SerialFork>(&mut self.s.work, false);
        self.s.digest()
    }
    fn run_rayon(&mut self) -> u64 {
        quick_sort::<RayonFork>(&mut self.s.work, true);
        self.s.digest()
    }
    fn check(&self, result: u64) -> bool {
        self.s.check(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_like_sort_unstable() {
        let mut s = SortInput::new(300_000);
        let mut expected = s.input.clone();
        expected.sort_unstable();
        quick_sort::<SerialFork>(&mut s.work, false);
        assert_eq!(s.work, expected);
        s.reset();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| quick_sort::<RayonFork>(&mut s.work, true));
        assert_eq!(s.work, expected);
        // Many equal keys still terminate and sort.
        let mut dup: Vec<u32> = (0..100_000u32).map(|i| i % 7).collect();
        quick_sort::<SerialFork>(&mut dup, false);
        assert!(dup.windows(2).all(|w| w[0] <= w[1]));
    }
}
