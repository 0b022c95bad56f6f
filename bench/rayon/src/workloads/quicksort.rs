//! quicksort: n u32 in place: median of three, Hoare partition (sequential), both sides in
//! parallel (sequentially below 32768 elements), insertion sort below 32. Mirrors
//! bench/workloads/quicksort.cpp (`quick_sort`). Result: element n/2.

use super::fork::{Fork, RayonFork, SerialFork};
use super::sorting::{insertion_sort, SortInput, SortWorkload, INSERTION, SORT_SEQ};

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

#[inline(never)]
fn sort_serial(s: &mut SortInput) {
    quick_sort::<SerialFork>(&mut s.work, false);
}

fn sort_rayon(s: &mut SortInput) {
    quick_sort::<RayonFork>(&mut s.work, true);
}

pub static QUICKSORT: SortWorkload = SortWorkload {
    name: "quicksort",
    serial: sort_serial,
    rayon: sort_rayon,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_equal_keys_terminate_and_sort() {
        let mut dup: Vec<u32> = (0..100_000u32).map(|i| i % 7).collect();
        quick_sort::<SerialFork>(&mut dup, false);
        assert!(dup.windows(2).all(|w| w[0] <= w[1]));
    }
}
