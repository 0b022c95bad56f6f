//! UTS (Unbalanced Tree Search), T1 shape: geometric branching with expected factor 4, the root
//! has 4 children, no children at the depth limit n. Child seeds come from SplitMix64's mixer
//! (`mix64(seed + (i + 1) * GOLDEN)`) instead of UTS's SHA-1, and each node does 32 mixing
//! rounds as its work (a stand-in for the SHA-1); the tree is therefore not the published T1
//! tree (4,130,071 nodes at depth 10) but has its shape. One task per child, counts in per-child
//! slots. Mirrors bench/workloads/uts.cpp (`uts`) exactly, including the floating-point
//! geometric draw, so both sides count the same nodes.

use super::data::mix64;
use super::fork::{Fork, RayonFork, SerialFork};
use super::{Instance, Workload};

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
const ROOT_SEED: u64 = 19; // UTS T1's -r 19
const ROOT_CHILDREN: u64 = 4;
const MEAN_CHILDREN: f64 = 4.0;
const ROUNDS: usize = 32;

pub struct Uts;

struct UtsInstance {
    max_depth: u32,
    expected: u64,
}

fn child_seed(seed: u64, i: u64) -> u64 {
    mix64(seed.wrapping_add((i + 1).wrapping_mul(GOLDEN)))
}

fn children(seed: u64, depth: u32, max_depth: u32) -> u64 {
    if depth >= max_depth {
        return 0;
    }
    if depth == 0 {
        return ROOT_CHILDREN;
    }
    let mut h = seed;
    for _ in 0..ROUNDS {
        h = mix64(h.wrapping_add(GOLDEN));
    }
    let u = (h >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0);
    let q = 1.0 - 1.0 / (1.0 + MEAN_CHILDREN);
    ((1.0 - u).ln() / q.ln()).floor() as u64
}

fn uts<F: Fork>(seed: u64, depth: u32, max_depth: u32) -> u64 {
    let k = children(seed, depth, max_depth) as usize;
    if k == 0 {
        return 1;
    }
    let mut local = [0u64; 32];
    let mut big: Vec<u64> = Vec::new();
    let slots: &mut [u64] = if k > 32 {
        big.resize(k, 0);
        &mut big[..]
    } else {
        &mut local[..k]
    };
    F::for_each_child(slots, &|i: usize| {
        uts::<F>(child_seed(seed, i as u64), depth + 1, max_depth)
    });
    1 + slots.iter().sum::<u64>()
}

/// Independent reference: explicit stack, no recursion.
fn reference(max_depth: u32) -> u64 {
    let mut stack = vec![(ROOT_SEED, 0u32)];
    let mut count = 0u64;
    while let Some((seed, depth)) = stack.pop() {
        count += 1;
        let k = children(seed, depth, max_depth);
        for i in 0..k {
            stack.push((child_seed(seed, i), depth + 1));
        }
    }
    count
}

impl Workload for Uts {
    fn name(&self) -> &'static str {
        "uts"
    }
    fn default_n(&self) -> u64 {
        9
    }
    fn prepare(&self, n: u64) -> Box<dyn Instance> {
        if n > 30 {
            eprintln!("spindle-rayon-bench: uts: depth limit at most 30");
            std::process::exit(2);
        }
        let max_depth = n as u32;
        Box::new(UtsInstance {
            max_depth,
            expected: reference(max_depth),
        })
    }
}

impl Instance for UtsInstance {
    fn expected(&self) -> Option<u64> {
        Some(self.expected)
    }
    fn n(&self) -> u64 {
        self.max_depth as u64
    }
    #[inline(never)]
    fn run_serial(&mut self) -> u64 {
        uts::<SerialFork>(ROOT_SEED, 0, self.max_depth)
    }
    fn run_rayon(&mut self) -> u64 {
        uts::<RayonFork>(ROOT_SEED, 0, self.max_depth)
    }
    fn probe_kernel(&self) -> Option<super::Kernel> {
        let d = self.max_depth;
        super::kernel(move || uts::<SerialFork>(ROOT_SEED, 0, d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_rayon_and_reference_agree() {
        let expected = reference(6);
        assert!(expected > 100);
        assert_eq!(uts::<SerialFork>(ROOT_SEED, 0, 6), expected);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        assert_eq!(pool.install(|| uts::<RayonFork>(ROOT_SEED, 0, 6)), expected);
        // Depth 10 (the quick size) has 749,392 nodes on both sides (bench/README.md).
        assert_eq!(reference(10), 749_392);
    }
}
