//! nqueens(N): count the placements of N queens on an N×N board.
//! Mirrors bench/workloads/nqueens.cpp (`spindle::scope` + `s.spawn` per free column).
//!
//! Bitmask search: `cols` = occupied columns, `d1`/`d2` = squares of the current row attacked
//! along the two diagonals (shifted one step per row); masks are u32, N <= 16. Every node with at
//! least one free column opens one `rayon::scope` and spawns one closure per free column (lowest
//! bit first), each writing its count into a slot of a local array; the slots are summed after
//! the scope. No sequential cutoff: the only leaves are row == N (1) and dead ends (0).
//! Checked against the published counts (OEIS A000170).

use super::{Instance, Workload};

pub struct NQueens;

struct NQueensInstance {
    n: u64,
    expected: u64,
}

/// Published solution counts (OEIS A000170), index N.
const COUNTS: [u64; 17] = [
    1, 1, 0, 0, 2, 10, 4, 40, 92, 352, 724, 2680, 14200, 73712, 365596, 2279184, 14772512,
];

/// Parallel version: identical decomposition to the C++ side.
fn nqueens(n: u32, row: u32, cols: u32, d1: u32, d2: u32) -> u64 {
    if row == n {
        return 1;
    }
    let full = (1u32 << n) - 1;
    let mut avail = !(cols | d1 | d2) & full;
    if avail == 0 {
        return 0;
    }
    let mut counts = [0u64; 32];
    rayon::scope(|s| {
        for slot in counts.iter_mut() {
            if avail == 0 {
                break;
            }
            let bit = avail & avail.wrapping_neg();
            avail &= avail - 1;
            s.spawn(move |_| {
                *slot = nqueens(n, row + 1, cols | bit, (d1 | bit) << 1, (d2 | bit) >> 1);
            });
        }
    });
    counts.iter().sum()
}

/// Serial baseline T_S: the same search, plain recursion.
#[inline(never)]
fn nqueens_serial(n: u32, row: u32, cols: u32, d1: u32, d2: u32) -> u64 {
    if row == n {
        return 1;
    }
    let full = (1u32 << n) - 1;
    let mut avail = !(cols | d1 | d2) & full;
    let mut total = 0u64;
    while avail != 0 {
        let bit = avail & avail.wrapping_neg();
        avail &= avail - 1;
        total += nqueens_serial(n, row + 1, cols | bit, (d1 | bit) << 1, (d2 | bit) >> 1);
    }
    total
}

impl Workload for NQueens {
    fn name(&self) -> &'static str {
        "nqueens"
    }
    fn default_n(&self) -> u64 {
        11
    }
    fn prepare(&self, n: u64) -> Box<dyn Instance> {
        if n < 1 || n > 16 {
            eprintln!("spindle-rayon-bench: nqueens: n must be 1..16");
            std::process::exit(2);
        }
        Box::new(NQueensInstance {
            n,
            expected: COUNTS[n as usize],
        })
    }
}

impl Instance for NQueensInstance {
    fn expected(&self) -> Option<u64> {
        Some(self.expected)
    }
    fn n(&self) -> u64 {
        self.n
    }
    fn run_serial(&mut self) -> u64 {
        nqueens_serial(self.n as u32, 0, 0, 0, 0)
    }
    fn run_rayon(&mut self) -> u64 {
        nqueens(self.n as u32, 0, 0, 0, 0)
    }
    fn probe_kernel(&self) -> Option<super::Kernel> {
        let n = self.n as u32;
        super::kernel(move || nqueens_serial(n, 0, 0, 0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        for n in 1..=10u32 {
            assert_eq!(nqueens_serial(n, 0, 0, 0, 0), COUNTS[n as usize]);
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        assert_eq!(pool.install(|| nqueens(8, 0, 0, 0, 0)), 92);
    }
}
