//! Fork policies: each divide-and-conquer kernel (uts, matmul, mergesort, quicksort, integrate)
//! is written once, generic over `Fork`, and run as `SerialFork` (the serial baseline: plain
//! recursion) and `RayonFork`. The C++ side (bench/compare_systems.hpp) has the same two
//! shapes for serial, spindle, oneTBB and OpenMP.

pub trait Fork {
    /// Runs `a` and `b`, maybe in parallel: `b` is offered to thieves, `a` runs inline.
    fn join2<A: FnOnce() + Send, B: FnOnce() + Send>(a: A, b: B);
    /// `slots[i] = f(i)` for every i, one task per child (one scope, one spawn per child).
    fn for_each_child<F: Fn(usize) -> u64 + Sync>(slots: &mut [u64], f: &F);
}

pub struct SerialFork;
pub struct RayonFork;

impl Fork for SerialFork {
    #[inline]
    fn join2<A: FnOnce() + Send, B: FnOnce() + Send>(a: A, b: B) {
        a();
        b();
    }
    #[inline]
    fn for_each_child<F: Fn(usize) -> u64 + Sync>(slots: &mut [u64], f: &F) {
        for (i, s) in slots.iter_mut().enumerate() {
            *s = f(i);
        }
    }
}

impl Fork for RayonFork {
    #[inline]
    fn join2<A: FnOnce() + Send, B: FnOnce() + Send>(a: A, b: B) {
        rayon::join(a, b);
    }
    #[inline]
    fn for_each_child<F: Fn(usize) -> u64 + Sync>(slots: &mut [u64], f: &F) {
        rayon::scope(|s| {
            for (i, slot) in slots.iter_mut().enumerate() {
                s.spawn(move |_| *slot = f(i));
            }
        });
    }
}
