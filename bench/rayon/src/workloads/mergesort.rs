//! mergesort: n u32, ping-pong merge sort: the halves are sorted in parallel (sequentially below
//! 32768 elements), then merged by a parallel merge (split the longer run at its midpoint,
//! binary-search the other; sequential below 65536), insertion sort below 32; one n-element
//! scratch buffer. Mirrors bench/workloads/mergesort.cpp (`merge_sort`). Result: element n/2.

use super::fork::{Fork, RayonFork, SerialFork};
use super::sorting::{
    insertion_sort, lower_bound, merge_seq, SortInput, SortWorkload, INSERTION, MERGE_SEQ, SORT_SEQ,
};

fn merge_par<F: Fork>(a: &[u32], b: &[u32], out: &mut [u32]) {
    let (mut a, mut b) = (a, b);
    if a.len() + b.len() <= MERGE_SEQ {
        merge_seq(a, b, out);
        return;
    }
    if a.len() < b.len() {
        std::mem::swap(&mut a, &mut b);
    }
    let ma = a.len() / 2;
    let mb = lower_bound(b, a[ma]);
    let (o1, o2) = out.split_at_mut(ma + mb);
    let (a1, a2) = a.split_at(ma);
    let (b1, b2) = b.split_at(mb);
    F::join2(|| merge_par::<F>(a1, b1, o1), || merge_par::<F>(a2, b2, o2));
}

/// Sorts src; the result ends in dst if to_dst, else in src; the other is scratch.
fn merge_sort<F: Fork>(src: &mut [u32], dst: &mut [u32], to_dst: bool, parallel: bool) {
    let n = src.len();
    if n <= INSERTION {
        if to_dst {
            dst.copy_from_slice(src);
            insertion_sort(dst);
        } else {
            insertion_sort(src);
        }
        return;
    }
    if parallel && n <= SORT_SEQ {
        merge_sort::<SerialFork>(src, dst, to_dst, false);
        return;
    }
    let h = n / 2;
    {
        let (s1, s2) = src.split_at_mut(h);
        let (d1, d2) = dst.split_at_mut(h);
        F::join2(
            || merge_sort::<F>(s1, d1, !to_dst, parallel),
            || merge_sort::<F>(s2, d2, !to_dst, parallel),
        );
    }
    if to_dst {
        let (l, r) = src.split_at(h);
        merge_par::<F>(l, r, dst);
    } else {
        let (l, r) = dst.split_at(h);
        merge_par::<F>(l, r, src);
    }
}

#[inline(never)]
fn sort_serial(s: &mut SortInput) {
    merge_sort::<SerialFork>(&mut s.work, &mut s.scratch, false, false);
}

fn sort_rayon(s: &mut SortInput) {
    merge_sort::<RayonFork>(&mut s.work, &mut s.scratch, false, true);
}

pub static MERGESORT: SortWorkload = SortWorkload {
    name: "mergesort",
    serial: sort_serial,
    rayon: sort_rayon,
};
