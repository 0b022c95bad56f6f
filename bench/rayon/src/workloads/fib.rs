//! fib(n) with one `rayon::join` per call and no sequential cutoff: pure spawn/join/steal overhead.
//! Mirrors bench/workloads/fib.cpp (`spindle::join`), and rayon-demo's `fibonacci_join_1_2`
//! (first closure = fib(n-1), second = fib(n-2)).

use super::{Instance, Workload};

pub struct Fib;

struct FibInstance {
    n: u64,
    expected: u64,
}

/// Parallel fib: identical decomposition to the C++ side, no cutoff.
fn fib(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = rayon::join(|| fib(n - 1), || fib(n - 2));
    a + b
}

/// Serial baseline T_S.
#[inline(never)]
fn fib_serial(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    fib_serial(n - 1) + fib_serial(n - 2)
}

/// Known value, computed iteratively (independent of both timed versions). fib(93) is the
/// largest that fits in a u64.
fn fib_reference(n: u64) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        let c = a.wrapping_add(b);
        a = b;
        b = c;
    }
    a
}

impl Workload for Fib {
    fn name(&self) -> &'static str {
        "fib"
    }
    fn default_n(&self) -> u64 {
        30
    }
    fn prepare(&self, n: u64) -> Box<dyn Instance> {
        if n > 93 {
            eprintln!("spindle-rayon-bench: fib: n = {} overflows u64 (max 93)", n);
            std::process::exit(2);
        }
        Box::new(FibInstance {
            n,
            expected: fib_reference(n),
        })
    }
}

impl Instance for FibInstance {
    fn expected(&self) -> Option<u64> {
        Some(self.expected)
    }
    fn n(&self) -> u64 {
        self.n
    }
    fn run_serial(&mut self) -> u64 {
        fib_serial(self.n)
    }
    fn run_rayon(&mut self) -> u64 {
        fib(self.n)
    }
    fn probe_kernel(&self) -> Option<super::Kernel> {
        let n = self.n;
        super::kernel(move || fib_serial(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(fib_reference(0), 0);
        assert_eq!(fib_reference(1), 1);
        assert_eq!(fib_reference(30), 832_040);
        assert_eq!(fib_reference(35), 9_227_465);
        assert_eq!(fib_reference(93), 12_200_160_415_121_876_738);
        assert_eq!(fib_serial(20), 6765);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        assert_eq!(pool.install(|| fib(20)), 6765);
    }
}
