//! integrate: adaptive trapezoid quadrature of f(x) = (x²+1)x on [0, n]: split a panel in two
//! until |left + right - whole| < 1e-9, both halves as a join (libfork's and Taskflow's
//! `integrate`). Mirrors bench/workloads/integrate.cpp (`integrate`): same operations in the same
//! order (no FMA contraction on either side), so the result has the same bits everywhere; it
//! is reported as those bits and checked against n⁴/4 + n²/2 (relative 1e-9).

use super::fork::{Fork, RayonFork, SerialFork};
use super::{Instance, Workload};

const EPS: f64 = 1e-9;

fn f(x: f64) -> f64 {
    (x * x + 1.0) * x
}

fn integrate<F: Fork>(x1: f64, y1: f64, x2: f64, y2: f64, area: f64) -> f64 {
    let half = (x2 - x1) / 2.0;
    let x0 = x1 + half;
    let y0 = f(x0);
    let area_x1x0 = (y1 + y0) / 2.0 * half;
    let area_x0x2 = (y0 + y2) / 2.0 * half;
    let area_x1x2 = area_x1x0 + area_x0x2;
    if (area_x1x2 - area).abs() < EPS {
        return area_x1x2;
    }
    let (mut l, mut r) = (0.0f64, 0.0f64);
    F::join2(
        || l = integrate::<F>(x1, y1, x0, y0, area_x1x0),
        || r = integrate::<F>(x0, y0, x2, y2, area_x0x2),
    );
    l + r
}

pub struct Integrate;

struct IntegrateInstance {
    upper: u64,
}

impl IntegrateInstance {
    fn run<F: Fork>(&self) -> u64 {
        let x2 = self.upper as f64;
        let (y1, y2) = (f(0.0), f(x2));
        integrate::<F>(0.0, y1, x2, y2, (y1 + y2) / 2.0 * x2).to_bits()
    }
}

impl Workload for Integrate {
    fn name(&self) -> &'static str {
        "integrate"
    }
    fn default_n(&self) -> u64 {
        600
    }
    fn prepare(&self, n: u64) -> Box<dyn Instance> {
        if n > 1_000_000 {
            eprintln!("spindle-rayon-bench: integrate: n at most 10^6");
            std::process::exit(2);
        }
        Box::new(IntegrateInstance { upper: n })
    }
}

impl Instance for IntegrateInstance {
    fn n(&self) -> u64 {
        self.upper
    }
    #[inline(never)]
    fn run_serial(&mut self) -> u64 {
        self.run::<SerialFork>()
    }
    fn run_rayon(&mut self) -> u64 {
        self.run::<RayonFork>()
    }
    fn check(&self, bits: u64) -> bool {
        let r = f64::from_bits(bits);
        let x = self.upper as f64;
        let exact = x * x * x * x / 4.0 + x * x / 2.0;
        (r - exact).abs() <= 1e-9 * exact.max(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_and_rayon_give_the_same_bits() {
        let mut inst = IntegrateInstance { upper: 50 };
        let serial = inst.run_serial();
        assert!(inst.check(serial));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        assert_eq!(pool.install(|| inst.run::<RayonFork>()), serial);
    }
}
