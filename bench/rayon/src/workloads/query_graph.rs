//! query_graph N: the compiler's query system in miniature, the way rustc's rayon fork waits
//! today. Mirrors bench/workloads/query_graph.cpp (spindle::QueryMap); every constant has a twin
//! there.
//!
//! The graph: N memoised queries in 16 layers (layer l = queries [l*N/16, (l+1)*N/16)); each
//! query above layer 0 depends on 4 queries (duplicates allowed) from the 3 layers below, drawn
//! by splitmix64 seeded 0x5eed (layer l-1-(r % min(l,3)), then an index uniform in that layer);
//! then 1 query in 32 is blocking (next() % 32 == 0). N/4 items with 3 roots each from the top 4
//! layers (same PRNG, continued). Computing query i: its dependencies in parallel (one task per
//! dependency), then a 20 us sleep if it is blocking (a short blocking operation: it blocks the
//! OS thread on both sides), then 2000 rounds of a 64-bit mix seeded with
//! (i+1)*0x9E3779B97F4A7C15 + the sum of the dependencies' values. The driver runs one task per
//! item; an item's task asks for its roots one after the other. Result: sum over items j of
//! (2j+1) * (sum of item j's root values), wrapping; checked against the serial evaluation.
//!
//! How a request waits, as in rustc (`QueryLatch::wait_on`): a query's slot is a
//! `Mutex<State>` + `Condvar`; the first requester marks it running and computes it; any
//! other requester of a running query **blocks its OS thread** on the condvar until the
//! computing thread stores the value and calls `notify_all`.
//!
//! How a computation waits for its parallel subtasks (SPINDLE_QUERY_FANOUT):
//! - `fork` (default): the fork's semantics since rust-lang/rust#143035 — the waiting thread
//!   runs only its *own* not-yet-started subtasks, then sleeps (here: on a Mutex/Condvar) until
//!   the ones other threads took are done; workers take new work only in their main loop. Built
//!   from `rayon::spawn` (one claim job per subtask beyond the first) plus an atomic claim
//!   counter, because upstream rayon-core has no non-stealing wait.
//! - `scope`: plain upstream `rayon::scope` (one `spawn` per subtask). Its wait steals any job,
//!   so a thread can start, on top of a computation it has not finished, a task that requests
//!   that very query and then blocks on it: the false dependency that made the fork stop
//!   stealing while waiting. It can deadlock at 2 threads or more; use it to show that.
//!
//! Must build with Debian 12's rustc 1.63: std + rayon only.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::{Instance, Workload};

const LAYERS: u32 = 16;
const DEPS: u32 = 4;
const LOOKBACK: u32 = 3;
const BLOCK_ONE_IN: u64 = 32;
const BLOCK_TIME: Duration = Duration::from_micros(20);
const WORK_ROUNDS: u32 = 2000;
const ROOTS_PER_ITEM: usize = 3;
const ROOT_LAYERS: u64 = 4;
const SEED: u64 = 0x5eed;

pub struct QueryGraph;

struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

struct Graph {
    n: u32,
    dep_begin: Vec<u32>,
    deps: Vec<u32>,
    blocking: Vec<bool>,
    items: Vec<[u32; ROOTS_PER_ITEM]>,
}

impl Graph {
    fn deps_of(&self, i: u32) -> &[u32] {
        &self.deps[self.dep_begin[i as usize] as usize..self.dep_begin[i as usize + 1] as usize]
    }
}

fn build_graph(n: u32) -> Graph {
    let start = |l: u32| ((l as u64) * (n as u64) / (LAYERS as u64)) as u32;
    let size = |l: u32| start(l + 1) - start(l);
    let mut rng = SplitMix64(SEED);
    let mut g = Graph {
        n,
        dep_begin: vec![0],
        deps: Vec::new(),
        blocking: Vec::new(),
        items: Vec::new(),
    };
    let mut layer = 0u32;
    for i in 0..n {
        while i >= start(layer + 1) {
            layer += 1;
        }
        if layer > 0 {
            for _ in 0..DEPS {
                let back = 1 + (rng.next() % (layer.min(LOOKBACK) as u64)) as u32;
                let tl = layer - back;
                g.deps
                    .push(start(tl) + (rng.next() % (size(tl) as u64)) as u32);
            }
        }
        g.dep_begin.push(g.deps.len() as u32);
        g.blocking.push(rng.next() % BLOCK_ONE_IN == 0);
    }
    for _ in 0..n / 4 {
        let mut roots = [0u32; ROOTS_PER_ITEM];
        for r in roots.iter_mut() {
            let tl = LAYERS - 1 - (rng.next() % ROOT_LAYERS) as u32;
            *r = start(tl) + (rng.next() % (size(tl) as u64)) as u32;
        }
        g.items.push(roots);
    }
    g
}

/// The fixed work of a query, after its dependencies' values are known.
fn query_value(g: &Graph, i: u32, dep_sum: u64) -> u64 {
    if g.blocking[i as usize] {
        std::thread::sleep(BLOCK_TIME);
    }
    let mut x = (i as u64 + 1)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(dep_sum);
    for _ in 0..WORK_ROUNDS {
        x ^= x >> 29;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 32;
    }
    x
}

fn combine(results: &[u64]) -> u64 {
    results.iter().enumerate().fold(0u64, |acc, (j, r)| {
        acc.wrapping_add((2 * j as u64 + 1).wrapping_mul(*r))
    })
}

// ---- serial baseline: memoised depth-first evaluation ----

fn serial_get(g: &Graph, memo: &mut Vec<Option<u64>>, i: u32) -> u64 {
    if let Some(v) = memo[i as usize] {
        return v;
    }
    let mut sum = 0u64;
    for &d in g.deps_of(i) {
        sum = sum.wrapping_add(serial_get(g, memo, d));
    }
    let v = query_value(g, i, sum);
    memo[i as usize] = Some(v);
    v
}

#[inline(never)]
fn run_serial(g: &Graph) -> u64 {
    let mut memo = vec![None; g.n as usize];
    let mut results = vec![0u64; g.items.len()];
    for (j, roots) in g.items.iter().enumerate() {
        for &r in roots.iter() {
            results[j] = results[j].wrapping_add(serial_get(g, &mut memo, r));
        }
    }
    combine(&results)
}

// ---- rayon with blocking query waits ----

enum State {
    New,
    Running,
    Done(u64),
}

/// One query's slot: rustc's QueryLatch in miniature.
struct Slot {
    state: Mutex<State>,
    latch: Condvar,
}

#[derive(Clone, Copy, PartialEq)]
enum FanOut {
    Fork,
    Scope,
}

struct Ctx {
    g: Arc<Graph>,
    memo: Vec<Slot>,
    fan_out: FanOut,
}

#[derive(Clone, Copy)]
enum What {
    /// The dependencies of query i.
    Deps(u32),
    /// The items.
    Items,
}

fn run_one(ctx: &Arc<Ctx>, what: What, j: usize) -> u64 {
    match what {
        What::Deps(i) => get(ctx, ctx.g.deps_of(i)[j]),
        What::Items => {
            let mut r = 0u64;
            for &root in ctx.g.items[j].iter() {
                r = r.wrapping_add(get(ctx, root));
            }
            r
        }
    }
}

fn get(ctx: &Arc<Ctx>, i: u32) -> u64 {
    let slot = &ctx.memo[i as usize];
    {
        let mut st = slot.state.lock().unwrap();
        loop {
            match *st {
                State::Done(v) => return v,
                State::New => {
                    *st = State::Running;
                    break;
                }
                // Blocks the thread (QueryLatch::wait_on).
                State::Running => st = slot.latch.wait(st).unwrap(),
            }
        }
    }
    let k = ctx.g.deps_of(i).len();
    let vals = fan_out(ctx, What::Deps(i), k);
    let sum = vals.iter().fold(0u64, |a, v| a.wrapping_add(*v));
    let v = query_value(&ctx.g, i, sum);
    *slot.state.lock().unwrap() = State::Done(v);
    slot.latch.notify_all();
    v
}

/// Shared state of one fork-style fan-out.
struct Fan {
    ctx: Arc<Ctx>,
    what: What,
    k: usize,
    next: AtomicUsize,
    results: Vec<AtomicU64>,
    remaining: Mutex<usize>,
    done: Condvar,
}

/// Claims the next not-yet-started subtask and runs it; false if none was left.
fn claim_and_run(f: &Fan) -> bool {
    let j = f.next.fetch_add(1, Ordering::Relaxed);
    if j >= f.k {
        return false;
    }
    let v = run_one(&f.ctx, f.what, j);
    // Published to the owner by the mutex below.
    f.results[j].store(v, Ordering::Relaxed);
    let mut r = f.remaining.lock().unwrap();
    *r -= 1;
    if *r == 0 {
        f.done.notify_all();
    }
    true
}

fn fan_out(ctx: &Arc<Ctx>, what: What, k: usize) -> Vec<u64> {
    if k == 0 {
        return Vec::new();
    }
    match ctx.fan_out {
        FanOut::Scope => {
            let results: Vec<AtomicU64> = (0..k).map(|_| AtomicU64::new(0)).collect();
            rayon::scope(|s| {
                for j in 0..k {
                    let results = &results;
                    s.spawn(move |_| results[j].store(run_one(ctx, what, j), Ordering::Relaxed));
                }
            });
            results.iter().map(|r| r.load(Ordering::Relaxed)).collect()
        }
        FanOut::Fork => {
            let fan = Arc::new(Fan {
                ctx: Arc::clone(ctx),
                what,
                k,
                next: AtomicUsize::new(0),
                results: (0..k).map(|_| AtomicU64::new(0)).collect(),
                remaining: Mutex::new(k),
                done: Condvar::new(),
            });
            for _ in 1..k {
                let f = Arc::clone(&fan);
                rayon::spawn(move || {
                    claim_and_run(&f);
                });
            }
            // Run our own subtasks that nobody has started...
            while claim_and_run(&fan) {}
            // ...then sleep until the ones other threads took are done (no stealing).
            let mut r = fan.remaining.lock().unwrap();
            while *r > 0 {
                r = fan.done.wait(r).unwrap();
            }
            drop(r);
            fan.results
                .iter()
                .map(|r| r.load(Ordering::Relaxed))
                .collect()
        }
    }
}

struct QueryGraphInstance {
    n: u64,
    g: Arc<Graph>,
    expected: u64,
    fan_out: FanOut,
    ctx: Option<Arc<Ctx>>,
}

impl Workload for QueryGraph {
    fn name(&self) -> &'static str {
        "query_graph"
    }
    fn default_n(&self) -> u64 {
        4000
    }
    fn prepare(&self, n: u64) -> Box<dyn Instance> {
        if !(64..=100_000_000).contains(&n) {
            eprintln!("spindle-rayon-bench: query_graph: --n must be between 64 and 100000000");
            std::process::exit(2);
        }
        let fan_out = match std::env::var("SPINDLE_QUERY_FANOUT").as_deref() {
            Err(_) | Ok("fork") => FanOut::Fork,
            Ok("scope") => FanOut::Scope,
            Ok(other) => {
                eprintln!(
                    "spindle-rayon-bench: query_graph: SPINDLE_QUERY_FANOUT must be fork or scope, not {:?}",
                    other
                );
                std::process::exit(2);
            }
        };
        let g = Arc::new(build_graph(n as u32));
        let expected = run_serial(&g);
        Box::new(QueryGraphInstance {
            n,
            g,
            expected,
            fan_out,
            ctx: None,
        })
    }
}

impl Instance for QueryGraphInstance {
    fn expected(&self) -> Option<u64> {
        Some(self.expected)
    }
    fn n(&self) -> u64 {
        self.n
    }
    fn reset(&mut self) {
        self.ctx = None;
        self.ctx = Some(Arc::new(Ctx {
            g: Arc::clone(&self.g),
            memo: (0..self.g.n)
                .map(|_| Slot {
                    state: Mutex::new(State::New),
                    latch: Condvar::new(),
                })
                .collect(),
            fan_out: self.fan_out,
        }));
    }
    fn run_serial(&mut self) -> u64 {
        run_serial(&self.g)
    }
    fn run_rayon(&mut self) -> u64 {
        let ctx = Arc::clone(self.ctx.as_ref().expect("reset() before run_rayon()"));
        let m = ctx.g.items.len();
        let results = fan_out(&ctx, What::Items, m);
        combine(&results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rayon_matches_serial() {
        for &mode in &[FanOut::Fork] {
            let g = Arc::new(build_graph(256));
            let expected = run_serial(&g);
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap();
            let ctx = Arc::new(Ctx {
                g: Arc::clone(&g),
                memo: (0..g.n)
                    .map(|_| Slot {
                        state: Mutex::new(State::New),
                        latch: Condvar::new(),
                    })
                    .collect(),
                fan_out: mode,
            });
            let r = pool.install(|| combine(&fan_out(&ctx, What::Items, g.items.len())));
            assert_eq!(r, expected);
        }
    }
}
