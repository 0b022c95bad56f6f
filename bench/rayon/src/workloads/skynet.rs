//! skynet(N): a 10-ary tree with N leaves (N a power of 10, at most 10^9); leaf i returns i, the
//! root returns the sum N(N-1)/2. Every inner node opens one `rayon::scope`, spawns 10 closures
//! writing into a local array, waits for all of them and sums.
//! Mirrors bench/workloads/skynet.cpp (`spindle::scope` + 10 × `s.spawn`).

use super::{Instance, Workload};

pub struct Skynet;

struct SkynetInstance {
    n: u64,
    expected: u64,
}

/// Parallel version: the subtree of `size` leaves whose first leaf index is `num`.
fn skynet(num: u64, size: u64) -> u64 {
    if size == 1 {
        return num;
    }
    let sub = size / 10;
    let mut sums = [0u64; 10];
    rayon::scope(|s| {
        for (i, slot) in sums.iter_mut().enumerate() {
            s.spawn(move |_| {
                *slot = skynet(num + i as u64 * sub, sub);
            });
        }
    });
    sums.iter().sum()
}

/// Serial baseline T_S.
#[inline(never)]
fn skynet_serial(num: u64, size: u64) -> u64 {
    if size == 1 {
        return num;
    }
    let sub = size / 10;
    let mut total = 0u64;
    for i in 0..10u64 {
        total += skynet_serial(num + i * sub, sub);
    }
    total
}

fn is_power_of_10(mut n: u64) -> bool {
    if n == 0 {
        return false;
    }
    while n % 10 == 0 {
        n /= 10;
    }
    n == 1
}

impl Workload for Skynet {
    fn name(&self) -> &'static str {
        "skynet"
    }
    fn default_n(&self) -> u64 {
        1_000_000
    }
    fn prepare(&self, n: u64) -> Box<dyn Instance> {
        if !is_power_of_10(n) || n > 1_000_000_000 {
            eprintln!("spindle-rayon-bench: skynet: n must be a power of 10, at most 10^9");
            std::process::exit(2);
        }
        Box::new(SkynetInstance {
            n,
            expected: n * (n - 1) / 2,
        })
    }
}

impl Instance for SkynetInstance {
    fn expected(&self) -> Option<u64> {
        Some(self.expected)
    }
    fn n(&self) -> u64 {
        self.n
    }
    fn run_serial(&mut self) -> u64 {
        skynet_serial(0, self.n)
    }
    fn run_rayon(&mut self) -> u64 {
        skynet(0, self.n)
    }
    fn probe_kernel(&self) -> Option<super::Kernel> {
        let n = self.n;
        super::kernel(move || skynet_serial(0, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(skynet_serial(0, 1000), 499_500);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        assert_eq!(pool.install(|| skynet(0, 10_000)), 49_995_000);
    }
}
