//! matmul: C += A·B for n×n row-major `f64` matrices (n a power of 2 >= 32), recursive 2×2
//! blocking: 8 block products in two phases of 4 (nested `join2`; each C block is written by
//! one task per phase), 32×32 leaves with i-k-j loops. Entries of A and B are 0..3 (the top 2
//! bits of splitmix64 seeded 42: A first, then B), so every sum is exact and the result does
//! not depend on the order of additions. Mirrors bench/workloads/matmul.cpp (`matmul`).
//! Result: the sum of C; checked against sum_k colsum_A(k)·rowsum_B(k) and two entries.

use super::data::{SplitMix64, SEED};
use super::fork::{Fork, RayonFork, SerialFork};
use super::{Instance, Workload};

const LEAF: usize = 32;

/// A raw block pointer that may cross threads: the recursion hands disjoint C blocks to
/// concurrent tasks (and A, B are only read). Used through methods only, so closures capture
/// the whole (Send) struct, not its raw field.
#[derive(Clone, Copy)]
struct P(*mut f64);
unsafe impl Send for P {}
unsafe impl Sync for P {}
impl P {
    #[inline]
    fn at(self, off: usize) -> P {
        P(unsafe { self.0.add(off) })
    }
    #[inline]
    fn ptr(self) -> *mut f64 {
        self.0
    }
}

#[inline(never)]
fn leaf(a: P, b: P, c: P, n: usize, ld: usize) {
    let (a, b, c) = (a.ptr(), b.ptr(), c.ptr());
    unsafe {
        for i in 0..n {
            for k in 0..n {
                let x = *a.add(i * ld + k);
                for j in 0..n {
                    *c.add(i * ld + j) += x * *b.add(k * ld + j);
                }
            }
        }
    }
}

fn matmul<F: Fork>(a: P, b: P, c: P, n: usize, ld: usize) {
    if n <= LEAF {
        leaf(a, b, c, n, ld);
        return;
    }
    let h = n / 2;
    let (a11, a12, a21, a22) = (a, a.at(h), a.at(h * ld), a.at(h * ld + h));
    let (b11, b12, b21, b22) = (b, b.at(h), b.at(h * ld), b.at(h * ld + h));
    let (c11, c12, c21, c22) = (c, c.at(h), c.at(h * ld), c.at(h * ld + h));
    F::join2(
        || {
            F::join2(
                || matmul::<F>(a11, b11, c11, h, ld),
                || matmul::<F>(a11, b12, c12, h, ld),
            )
        },
        || {
            F::join2(
                || matmul::<F>(a21, b11, c21, h, ld),
                || matmul::<F>(a21, b12, c22, h, ld),
            )
        },
    );
    F::join2(
        || {
            F::join2(
                || matmul::<F>(a12, b21, c11, h, ld),
                || matmul::<F>(a12, b22, c12, h, ld),
            )
        },
        || {
            F::join2(
                || matmul::<F>(a22, b21, c21, h, ld),
                || matmul::<F>(a22, b22, c22, h, ld),
            )
        },
    );
}

pub struct Matmul;

struct MatmulInstance {
    n: usize,
    a: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
    expected_sum: u64,
    expected_first: f64,
    expected_last: f64,
}

impl MatmulInstance {
    fn run<F: Fork>(&mut self) -> u64 {
        let n = self.n;
        let a = P(self.a.as_mut_ptr());
        let b = P(self.b.as_mut_ptr());
        let c = P(self.c.as_mut_ptr());
        matmul::<F>(a, b, c, n, n);
        let s: f64 = self.c.iter().sum();
        s as u64
    }
}

impl Workload for Matmul {
    fn name(&self) -> &'static str {
        "matmul"
    }
    fn default_n(&self) -> u64 {
        256
    }
    fn prepare(&self, n: u64) -> Box<dyn Instance> {
        if !n.is_power_of_two() || n < LEAF as u64 || n > 8192 {
            eprintln!("spindle-rayon-bench: matmul: n must be a power of 2 in [32, 8192]");
            std::process::exit(2);
        }
        let n = n as usize;
        let mut g = SplitMix64::new(SEED);
        let a: Vec<f64> = (0..n * n).map(|_| (g.next_u64() >> 62) as f64).collect();
        let b: Vec<f64> = (0..n * n).map(|_| (g.next_u64() >> 62) as f64).collect();
        let mut expected_sum = 0u64;
        for k in 0..n {
            let (mut ca, mut rb) = (0.0f64, 0.0f64);
            for i in 0..n {
                ca += a[i * n + k];
                rb += b[k * n + i];
            }
            expected_sum += (ca as u64) * (rb as u64);
        }
        let (mut first, mut last) = (0.0f64, 0.0f64);
        for k in 0..n {
            first += a[k] * b[k * n];
            last += a[(n - 1) * n + k] * b[k * n + n - 1];
        }
        Box::new(MatmulInstance {
            n,
            a,
            b,
            c: vec![0.0; n * n],
            expected_sum,
            expected_first: first,
            expected_last: last,
        })
    }
}

impl Instance for MatmulInstance {
    fn n(&self) -> u64 {
        self.n as u64
    }
    fn reset(&mut self) {
        for x in self.c.iter_mut() {
            *x = 0.0;
        }
    }
    #[inline(never)]
    fn run_serial(&mut self) -> u64 {
        self.run::<SerialFork>()
    }
    fn run_rayon(&mut self) -> u64 {
        self.run::<RayonFork>()
    }
    fn check(&self, result: u64) -> bool {
        result == self.expected_sum
            && self.c[0] == self.expected_first
            && self.c[self.n * self.n - 1] == self.expected_last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_and_rayon_check() {
        let mut inst = Matmul.prepare(128);
        let r = inst.run_serial();
        assert!(inst.check(r));
        inst.reset();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let r2 = inst.run_rayon_pool(&pool);
        assert_eq!(r2, r);
        assert!(inst.check(r2));
    }
}
