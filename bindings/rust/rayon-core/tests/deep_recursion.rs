//! Recursion through `join` and `scope` far deeper than one fiber stack holds completes with
//! default options: the binding continues on a new stack segment when the red zone is reached,
//! as spindle's C++ `join` and `scope` do.

use rayon_core::ThreadPoolBuilder;

// Each level keeps a 512-byte buffer alive across the join, so 20,000 levels need > 10 MB of
// stack: five times the default 2 MiB fiber stack.
const DEPTH: u32 = 20_000;

fn deep_join(n: u32) -> u64 {
    let buf = [n as u8; 512];
    if n == 0 {
        return 1;
    }
    let (a, b) = rayon_core::join(|| deep_join(n - 1), || u64::from(buf[0] & 1));
    a + b + u64::from(std::hint::black_box(&buf)[511] & 0)
}

fn deep_scope(n: u32) -> u64 {
    let buf = [n as u8; 512];
    if n == 0 {
        return 1;
    }
    let mut below = 0;
    rayon_core::scope(|s| {
        s.spawn(|_| {
            std::hint::black_box(&buf);
        });
        below = deep_scope(n - 1);
    });
    below + u64::from(buf[0] & 0)
}

fn expected_join(n: u32) -> u64 {
    // 1 at the bottom, plus (k & 1) for every level k = 1..=n.
    1 + u64::from((1..=n).filter(|k| (*k as u8) & 1 == 1).count() as u32)
}

#[test]
fn join_recursion_deeper_than_a_fiber_stack() {
    for threads in [1, 2] {
        let pool = ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        assert_eq!(pool.install(|| deep_join(DEPTH)), expected_join(DEPTH));
    }
}

#[test]
fn scope_recursion_deeper_than_a_fiber_stack() {
    for threads in [1, 2] {
        let pool = ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        assert_eq!(pool.install(|| deep_scope(DEPTH)), 1);
    }
}
