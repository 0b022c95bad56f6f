//! rayon side of spindle's side-by-side benchmarks.
//!
//! Usage: spindle-rayon-bench <workload> --n N --threads T --reps R [--warmup W] [--system S]
//!
//! Prints one JSON line per (workload, system, threads) on stdout, e.g.
//! {"workload":"fib","system":"rayon","lang":"rust","threads":2,"n":30,"reps":7,"warmup":1,
//!  "calls_per_rep":4,"times_s":[...],"median_s":..,"min_s":..,"max_s":..,"cpu_s":[...],
//!  "cpu_median_s":..,"peak_rss_kb":..,"result":832040,"compiler":"rustc 1.xx.y ...",
//!  "checked":true}
//! plus the capacity fields of capacity.rs: "probes", "probe_alone_s", "probe_cpus", at T > 1
//! "capacity" and "capacities", then "probe_cpu_share", "flagged_probes"; at T > 1
//! "base_times_s", "base_median_s", "speedup", "efficiency" from a 1-worker pool whose reps
//! alternate with the T-worker ones; "flagged" (and "flag_reasons").
//! The C++ side (bench_compare, bench/compare.cpp) has the same CLI and output format.
//! Exit status: 0 if every result checked, 1 if a result was wrong, 2 on usage errors.
//!
//! Must build with Debian 12's rustc 1.63: no let-else, no std::hint::black_box, std + rayon only.

mod capacity;
mod rusage;
mod workloads;

use std::process;

use workloads::{Instance, Workload};

const USAGE: &str = "usage: spindle-rayon-bench <workload> --n N --threads T --reps R [--warmup W] [--system rayon|serial|all]
  workload   one of: WORKLOADS
  --n        problem size (fib: the argument; sum, sort, mergesort, quicksort: element count;
             nqueens: board size; skynet: leaves, a power of 10; uts: depth limit; matmul:
             matrix side, a power of 2 >= 32; integrate: upper bound; idle: ticks of 10 ms;
             wakeup: samples per rep; default: the quick size)
  --threads  rayon pool size (default: available parallelism); ignored by the serial system
  --reps     timed repetitions (default 7)
  --warmup   untimed repetitions after pool creation (default 1)
  --max-time S  stop timing once 3 or more reps took S seconds in total (default: no limit)
  --rep-ms M a rep runs the workload back to back until it lasted M ms (the count is
             fixed after the warm-up; default 10; 0: one call per rep); times_s are per
             call. Workloads that time themselves (wakeup, idle) make one call
  --system   rayon, serial or all (default all: serial first, then rayon)";

/// With --max-time, the fewest timed reps (the same rule as bench/compare_common.hpp).
const MIN_REPS: usize = 3;

struct Args {
    workload: String,
    n: Option<u64>,
    threads: usize,
    reps: usize,
    warmup: usize,
    /// --max-time: stop after MIN_REPS or more reps once the timed total passes it (0: no limit).
    max_time: f64,
    /// --rep-ms: a rep is calls back to back for at least this long (capacity::calls_per_rep).
    rep_ms: f64,
    systems: Vec<&'static str>,
}

fn usage_exit(msg: &str) -> ! {
    if !msg.is_empty() {
        eprintln!("spindle-rayon-bench: {}", msg);
    }
    eprintln!(
        "{}",
        USAGE.replace("WORKLOADS", &workloads::names().join(", "))
    );
    process::exit(2);
}

fn parse_num<T: std::str::FromStr>(flag: &str, v: Option<String>) -> T {
    match v {
        Some(s) => match s.parse::<T>() {
            Ok(x) => x,
            Err(_) => usage_exit(&format!("{}: not a number: {}", flag, s)),
        },
        None => usage_exit(&format!("{} needs a value", flag)),
    }
}

fn parse_args() -> Args {
    let mut it = std::env::args().skip(1);
    let mut workload: Option<String> = None;
    let mut n = None;
    let mut threads = 0usize;
    let mut reps = 7usize;
    let mut warmup = 1usize;
    let mut max_time = 0.0f64;
    let mut rep_ms = 10.0f64;
    let mut systems: Vec<&'static str> = vec!["serial", "rayon"];
    while let Some(a) = it.next() {
        // Accept both "--flag value" and "--flag=value".
        let (flag, inline) = match a.find('=') {
            Some(i) if a.starts_with("--") => (a[..i].to_string(), Some(a[i + 1..].to_string())),
            _ => (a.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next());
        match flag.as_str() {
            "--n" => n = Some(parse_num("--n", value())),
            "--threads" => threads = parse_num("--threads", value()),
            "--reps" => reps = parse_num("--reps", value()),
            "--warmup" => warmup = parse_num("--warmup", value()),
            "--max-time" => {
                max_time = parse_num("--max-time", value());
                if !(max_time >= 0.0) {
                    usage_exit("--max-time needs a number of seconds >= 0");
                }
            }
            "--rep-ms" => {
                rep_ms = parse_num("--rep-ms", value());
                if !(rep_ms >= 0.0 && rep_ms <= 1e6) {
                    usage_exit("--rep-ms needs a number of milliseconds in [0, 1e6]");
                }
            }
            "--system" => {
                systems = match value().as_deref() {
                    Some("rayon") => vec!["rayon"],
                    Some("serial") => vec!["serial"],
                    Some("all") => vec!["serial", "rayon"],
                    other => usage_exit(&format!("unknown --system {:?}", other)),
                }
            }
            "-h" | "--help" => {
                println!(
                    "{}",
                    USAGE.replace("WORKLOADS", &workloads::names().join(", "))
                );
                process::exit(0);
            }
            s if s.starts_with('-') => usage_exit(&format!("unknown option {}", s)),
            _ => {
                if workload.is_some() {
                    usage_exit(&format!("unexpected argument {}", a));
                }
                workload = Some(a.clone());
            }
        }
    }
    let workload = match workload {
        Some(w) => w,
        None => usage_exit("missing workload"),
    };
    if reps == 0 {
        usage_exit("--reps must be >= 1");
    }
    if threads == 0 {
        threads = std::thread::available_parallelism()
            .map(|x| x.get())
            .unwrap_or(1);
    }
    Args {
        workload,
        n,
        threads,
        reps,
        warmup,
        max_time,
        rep_ms,
        systems,
    }
}

fn median(sorted: &[f64]) -> f64 {
    let k = sorted.len();
    if k % 2 == 1 {
        sorted[k / 2]
    } else {
        0.5 * (sorted[k / 2 - 1] + sorted[k / 2])
    }
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    s
}

fn json_list(v: &[f64]) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{:.9}", x)).collect();
    format!("[{}]", items.join(","))
}

/// Runs warmup + timed reps of one system and prints its JSON line. Returns whether all results
/// checked. `pool` is None for the serial system; with `base` (T > 1: a 1-worker rayon pool) the
/// 1-worker and T-worker reps alternate, with a capacity probe after each pair (capacity.rs).
fn measure(
    args: &Args,
    w: &dyn Workload,
    system: &str,
    inst: &mut dyn Instance,
    pool: Option<&rayon::ThreadPool>,
    base: Option<&rayon::ThreadPool>,
) -> bool {
    let threads = if system == "serial" { 1 } else { args.threads };
    let mut checked = true;
    let mut result = 0u64;
    let mut series = capacity::Series::new(threads, inst.probe_kernel());
    // Calls per rep (capacity::calls_per_rep): 1 for the warm-up, then fixed from its last
    // T-worker rep, the same for the 1-worker reps so that both time the same sequence; 1 for a
    // workload that times itself.
    let calls = std::cell::Cell::new(1usize);
    let self_timed = std::cell::Cell::new(false);
    {
        let mut rep = |on_base: bool| -> capacity::Sample {
            let k = calls.get();
            let mut sum = capacity::Sample {
                figure_s: 0.0,
                cpu_s: 0.0,
                calls: k,
            };
            for _ in 0..k {
                inst.reset();
                let clock = capacity::RepClock::start();
                let r = match (pool, on_base) {
                    (None, _) => inst.run_serial(),
                    (Some(p), false) => inst.run_rayon_pool(p),
                    (Some(_), true) => inst.run_rayon_pool(base.unwrap()),
                };
                let mut one = clock.stop();
                if let Some(t) = inst.self_time() {
                    one.figure_s = t;
                    self_timed.set(true);
                }
                checked &= inst.check(r);
                result = r;
                sum.figure_s += one.figure_s;
                sum.cpu_s += one.cpu_s;
            }
            sum.figure_s /= k as f64;
            sum.cpu_s /= k as f64;
            sum
        };
        let mut after_warmup = |last: &capacity::Sample| {
            if !self_timed.get() {
                calls.set(capacity::calls_per_rep(args.rep_ms * 1e-3, last.figure_s));
            }
        };
        capacity::run_series(
            &mut series,
            args.reps,
            args.warmup,
            args.max_time,
            MIN_REPS,
            base.is_some(),
            &mut rep,
            &mut after_warmup,
        );
    }
    let times = series.times();
    let cpus = series.cpus();
    let st = sorted(&times);
    let sc = sorted(&cpus);
    println!(
        "{{\"workload\":\"{}\",\"system\":\"{}\",\"lang\":\"rust\",\"threads\":{},\"n\":{},\"reps\":{},\"warmup\":{},\
\"calls_per_rep\":{},\"times_s\":{},\"median_s\":{:.9},\"min_s\":{:.9},\"max_s\":{:.9},\"cpu_s\":{},\"cpu_median_s\":{:.9},\
\"peak_rss_kb\":{},\"result\":{}{},\"compiler\":\"{}\",\"checked\":{}}}",
        w.name(),
        system,
        threads,
        inst.n(),
        times.len(),
        args.warmup,
        calls.get(),
        json_list(&times),
        median(&st),
        st[0],
        st[st.len() - 1],
        json_list(&cpus),
        median(&sc),
        rusage::peak_rss_kb(),
        result,
        series.json(),
        env!("BENCH_RUSTC_VERSION"),
        checked
    );
    if !checked {
        eprintln!(
            "spindle-rayon-bench: {} {} threads={}: WRONG RESULT (last {})",
            w.name(),
            system,
            threads,
            result
        );
    }
    checked
}

/// A pool of `threads` workers; with pinned workers (capacity::worker_cpus) worker i pins itself
/// to allowed CPU i as it starts, as spindle's `Placement::cpus` does in bench/harness.hpp.
fn build_pool(threads: usize) -> rayon::ThreadPool {
    let cpus = capacity::worker_cpus(threads);
    let mut builder = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("rayon-{}", i));
    if !cpus.is_empty() {
        builder = builder.start_handler(move |i| {
            capacity::pin_this_thread(cpus[i % cpus.len()]);
        });
    }
    match builder.build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("spindle-rayon-bench: cannot build rayon pool: {}", e);
            process::exit(1);
        }
    }
}

fn main() {
    let args = parse_args();
    let w = match workloads::find(&args.workload) {
        Some(w) => w,
        None => usage_exit(&format!("unknown workload {}", args.workload)),
    };
    let n = args.n.unwrap_or_else(|| w.default_n());
    // Input preparation is untimed and shared by all systems.
    let mut inst = w.prepare(n);
    let mut ok = true;
    for &system in &args.systems {
        if system == "serial" {
            ok &= measure(&args, w, system, &mut *inst, None, None);
        } else {
            // Pool creation is outside the timed region; the warm-up reps absorb thread start-up.
            let pool = build_pool(args.threads);
            // T > 1: a 1-worker pool beside it, built the same way; their reps alternate.
            let base = if args.threads > 1 && inst.scales() {
                Some(build_pool(1))
            } else {
                None
            };
            // install: the body runs on a pool worker while this (main) thread blocks,
            // same as spindle::ThreadPool::install on the C++ side.
            ok &= measure(&args, w, system, &mut *inst, Some(&pool), base.as_ref());
        }
    }
    process::exit(if ok { 0 } else { 1 });
}

#[cfg(test)]
mod tests {
    use super::*;

    // The only test that sets BENCH_PIN_WORKERS (others only read it), so no other test races it.
    #[test]
    fn pinned_workers_run_on_their_cpus() {
        std::env::set_var("BENCH_PIN_WORKERS", "0");
        assert!(capacity::worker_cpus(2).is_empty());
        let unpinned = build_pool(2);
        let process = capacity::thread_cpus();
        for cpus in unpinned.broadcast(|_| capacity::thread_cpus()) {
            assert_eq!(cpus, process);
        }

        std::env::set_var("BENCH_PIN_WORKERS", "1");
        let want = capacity::worker_cpus(process.len() + 1);
        assert_eq!(want.len(), process.len() + 1);
        assert_eq!(want[..process.len()], process[..]);
        assert_eq!(want[process.len()], process[0]);
        let pool = build_pool(2);
        for (i, cpus) in pool
            .broadcast(|ctx| (ctx.index(), capacity::thread_cpus()))
            .into_iter()
        {
            assert_eq!(cpus, vec![want[i]], "worker {} runs on {:?}", i, cpus);
        }
        std::env::remove_var("BENCH_PIN_WORKERS");
    }
}
