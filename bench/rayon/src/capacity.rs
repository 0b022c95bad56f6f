//! Capacity calibration and interleaved reps: the same method as bench/capacity.hpp on the C++
//! side, line for line, so the figures of the two languages are comparable (bench/README.md,
//! "Capacity and efficiency").
//!
//! Capacity: how many CPUs' worth of work the machine gives this process right now. A probe times
//! a serial kernel alone on each of the run's CPUs in turn, then on T threads at once (one per
//! CPU, pinned, started together); its capacity = sum over the T threads of (the fastest alone
//! time / that thread's co-run time), i.e. T x alone / co-run. A run's capacity is the median of
//! its probes'. The probe threads run while the pools are idle (after a settle sleep). The kernel
//! is the workload's own serial version where it has one that may run on several threads at once
//! (`Instance::probe_kernel`; "probe_kernel":"workload"), repeated so one timing lasts >= ~10 ms,
//! so the capacity holds what the CPUs share for that instruction mix (memory bandwidth for sum,
//! a core's ports for hyperthread siblings); otherwise ("mix") a fixed integer kernel (8 lanes of
//! integer mixing kept in registers: no memory traffic; ~10 ms).
//!
//! Time-sharing with other processes slows alone and co-run alike; the probe's CPU share shows it
//! (thread CPU time / wall time of the kernel runs; bench/capacity.hpp says why not the
//! run-queue wait of /proc/self/task/*/schedstat).
//!
//! Interleaving: a T-worker run also builds a 1-worker `ThreadPool` and alternates reps 1, T, 1,
//! T, ... with a probe after every pair; efficiency = speed-up / capacity. A run is flagged when
//! its capacity < 0.9 x T or its probe CPU share < 0.9.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Iterations of the probe kernel (the same as bench/capacity.hpp's k_probe_iters): ~10 ms.
pub const PROBE_ITERS: u64 = 2_000_000;
/// A timing of the workload's own kernel lasts at least this long (as long as the integer one).
pub const PROBE_TARGET_S: f64 = 0.010;
/// A probe whose capacity is below this fraction of the thread count, or whose threads ran for
/// less than this fraction of their wall time, is flagged.
pub const PROBE_FLAG_FRACTION: f64 = 0.9;
/// Sleep before each probe and between the 1-worker and the T-worker rep.
pub const SETTLE: Duration = Duration::from_millis(2);
/// Before the final probe of a run that is not interleaved.
pub const SETTLE_LONG: Duration = Duration::from_millis(20);

/// Keeps a value in a general register and opaque to the optimizer (C++: an empty asm with a
/// "+r" operand).
#[inline(always)]
fn opaque(z: u64) -> u64 {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        let mut z = z;
        // SAFETY: an empty asm block that only names z as an in/out register.
        unsafe {
            std::arch::asm!("/* {0} */", inout(reg) z, options(nomem, nostack, preserves_flags))
        };
        z
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        // SAFETY: reads a valid, initialized local.
        unsafe { std::ptr::read_volatile(&z) }
    }
}

/// The probe kernel: 8 lanes of SplitMix64's finalizer.
#[inline(never)]
pub fn probe_kernel(seed: u64, iters: u64) -> u64 {
    const LANES: usize = 8;
    let mut x = [0u64; LANES];
    for (i, v) in x.iter_mut().enumerate() {
        *v = seed.wrapping_add(i as u64);
    }
    for _ in 0..iters {
        for v in x.iter_mut() {
            let mut z = v.wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            *v = opaque(z);
        }
    }
    x.iter().fold(0, |s, &v| s ^ v)
}

#[cfg(target_os = "linux")]
mod affinity {
    use std::os::raw::c_int;

    /// glibc's cpu_set_t: 1024 bits.
    #[repr(C)]
    pub struct CpuSet {
        bits: [u64; 16],
    }

    /// glibc's struct sched_param.
    #[repr(C)]
    struct SchedParam {
        sched_priority: c_int,
    }
    const SCHED_IDLE: c_int = 5;

    extern "C" {
        fn sched_getaffinity(pid: c_int, size: usize, mask: *mut CpuSet) -> c_int;
        fn sched_setaffinity(pid: c_int, size: usize, mask: *const CpuSet) -> c_int;
        fn sched_setscheduler(pid: c_int, policy: c_int, param: *const SchedParam) -> c_int;
    }

    /// Moves the calling thread to SCHED_IDLE (runs only when nothing else on its CPU wants to).
    pub fn set_idle_priority() -> bool {
        let p = SchedParam { sched_priority: 0 };
        // SAFETY: a valid sched_param; pid 0 is the calling thread.
        unsafe { sched_setscheduler(0, SCHED_IDLE, &p) == 0 }
    }

    /// The CPUs this process may run on, ascending.
    pub fn allowed_cpus() -> Vec<usize> {
        let mut set = CpuSet { bits: [0; 16] };
        // SAFETY: `set` is a properly sized cpu_set_t; pid 0 is the calling thread.
        let rc = unsafe { sched_getaffinity(0, std::mem::size_of::<CpuSet>(), &mut set) };
        let mut out = Vec::new();
        if rc == 0 {
            for c in 0..1024 {
                if set.bits[c / 64] & (1u64 << (c % 64)) != 0 {
                    out.push(c);
                }
            }
        }
        out
    }

    /// Pins the calling thread to one CPU.
    pub fn pin_this_thread(cpu: usize) -> bool {
        if cpu >= 1024 {
            return false;
        }
        let mut set = CpuSet { bits: [0; 16] };
        set.bits[cpu / 64] |= 1u64 << (cpu % 64);
        // SAFETY: as above; pid 0 applies the mask to the calling thread.
        unsafe { sched_setaffinity(0, std::mem::size_of::<CpuSet>(), &set) == 0 }
    }
}

#[cfg(not(target_os = "linux"))]
mod affinity {
    pub fn allowed_cpus() -> Vec<usize> {
        Vec::new()
    }
    pub fn pin_this_thread(_cpu: usize) -> bool {
        false
    }
    pub fn set_idle_priority() -> bool {
        false
    }
}

/// Whether the pools' workers are pinned, worker i to the i-th CPU of this process's affinity
/// list (`BENCH_PIN_WORKERS=1`; scripts/bench.sh sets it unless `--no-pin-workers` or
/// `--no-pin`): the same rule as bench/capacity.hpp's `pin_workers_requested` for every system.
pub fn pin_workers_requested() -> bool {
    std::env::var("BENCH_PIN_WORKERS").map_or(false, |v| v == "1")
}

/// The CPUs of workers 0..n-1 when workers are pinned (worker i on the (i mod k)-th of the k
/// allowed CPUs), empty when they are not. Ask on a thread that has the process's affinity.
pub fn worker_cpus(n: usize) -> Vec<usize> {
    if !pin_workers_requested() {
        return Vec::new();
    }
    let cpus = affinity::allowed_cpus();
    if cpus.is_empty() {
        return Vec::new();
    }
    (0..n).map(|i| cpus[i % cpus.len()]).collect()
}

/// Pins the calling thread to one CPU; false if that failed.
pub fn pin_this_thread(cpu: usize) -> bool {
    affinity::pin_this_thread(cpu)
}

/// The CPUs the calling thread may run on, ascending (empty where unknown).
#[cfg(test)]
pub fn thread_cpus() -> Vec<usize> {
    affinity::allowed_cpus()
}

/// Keeps every allowed CPU out of the idle state while it lives: one thread per CPU, pinned,
/// under SCHED_IDLE, spinning with a pause (bench/capacity.hpp's KeepAwake, which says why it
/// exists and why it is off by default). On with BENCH_KEEP_AWAKE=1.
pub struct KeepAwake {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// CPU time (ns) used so far by the spinners of the live KeepAwake, kept current by each spinner
/// (a read per 64 pauses), so that a rep's CPU time can leave the spinning out (RepClock).
/// Written (fetch_add) by every spinner, read by RepClock; relaxed: only differences of the sum
/// are used, and nothing is ordered by it. KeepAwake's `stop` flag is likewise relaxed: set by
/// its Drop, polled by the spinners, with `join` doing the ordering.
static SPIN_CPU_NS: AtomicU64 = AtomicU64::new(0);

/// The spinners' CPU time so far, in seconds (bench/capacity.hpp's KeepAwake::spin_cpu_seconds).
pub fn spin_cpu_seconds() -> f64 {
    SPIN_CPU_NS.load(Ordering::Relaxed) as f64 * 1e-9
}

impl KeepAwake {
    pub fn new() -> KeepAwake {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut threads = Vec::new();
        if std::env::var("BENCH_KEEP_AWAKE").map_or(false, |v| v == "1") {
            for cpu in affinity::allowed_cpus() {
                let stop = stop.clone();
                threads.push(std::thread::spawn(move || {
                    affinity::pin_this_thread(cpu);
                    if !affinity::set_idle_priority() {
                        return; // without SCHED_IDLE it would compete: do nothing
                    }
                    let mut reported = 0u64;
                    let mut k = 0u32;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        std::hint::spin_loop();
                        if k % 64 == 0 {
                            let now = (thread_clock::thread_cpu_seconds() * 1e9) as u64;
                            SPIN_CPU_NS.fetch_add(now.saturating_sub(reported), Ordering::Relaxed);
                            reported = now;
                        }
                        k = k.wrapping_add(1);
                    }
                }));
            }
        }
        KeepAwake { stop, threads }
    }
    pub fn on(&self) -> bool {
        !self.threads.is_empty()
    }
}

impl Drop for KeepAwake {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

pub fn median_of(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let k = s.len();
    if k % 2 == 1 {
        s[k / 2]
    } else {
        0.5 * (s[k / 2 - 1] + s[k / 2])
    }
}

#[cfg(target_os = "linux")]
mod thread_clock {
    use std::os::raw::{c_int, c_long};

    #[repr(C)]
    struct Timespec {
        tv_sec: c_long,
        tv_nsec: c_long,
    }

    extern "C" {
        fn clock_gettime(clock: c_int, tp: *mut Timespec) -> c_int;
    }

    const CLOCK_THREAD_CPUTIME_ID: c_int = 3;

    /// CPU time of the calling thread: time it actually ran.
    pub fn thread_cpu_seconds() -> f64 {
        let mut ts = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid struct timespec.
        if unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
            return 0.0;
        }
        ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
    }
}

#[cfg(not(target_os = "linux"))]
mod thread_clock {
    pub fn thread_cpu_seconds() -> f64 {
        0.0
    }
}

static SINK: AtomicU64 = AtomicU64::new(1);

#[derive(Clone, Copy)]
struct Timed {
    wall_s: f64,
    cpu_s: f64,
}

thread_local! {
    static PROBE_SLICE: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((0, 1)) };
}

/// Which part of its input a probe kernel covers: (index, count), slice `index` of `count`
/// (bench/capacity.hpp's ProbeSlice, which says why). Run alone on the run's CPU i, or as thread
/// i of the T that run at once: (i, T); calibration: (0, T).
pub fn probe_slice() -> (usize, usize) {
    PROBE_SLICE.with(|c| c.get())
}

fn set_probe_slice(index: usize, count: usize) {
    PROBE_SLICE.with(|c| c.set((index, count)));
}

/// [begin, end) of slice `index` of `count` of [0, n) (ProbeSlice::begin/end).
pub fn slice_bounds(n: usize, (index, count): (usize, usize)) -> (usize, usize) {
    let begin = |i: usize| n / count * i + i.min(n % count);
    (begin(index), begin(index + 1))
}

/// The workload's serial version for the probe: safe to run on several threads at once.
pub type Kernel = std::sync::Arc<dyn Fn() -> u64 + Send + Sync>;

/// The kernel once: the workload's (`reps` times) or the integer one.
fn run_kernel(kernel: &Option<Kernel>, reps: usize) -> u64 {
    let r = match kernel {
        Some(k) => (0..reps).fold(0u64, |r, _| r ^ k()),
        None => probe_kernel(SINK.load(Ordering::Relaxed), PROBE_ITERS),
    };
    SINK.fetch_xor(r & 1, Ordering::Relaxed);
    r
}

fn time_kernel(kernel: &Option<Kernel>, reps: usize) -> Timed {
    let c0 = thread_clock::thread_cpu_seconds();
    let t0 = Instant::now();
    run_kernel(kernel, reps);
    let wall_s = t0.elapsed().as_secs_f64();
    let c1 = thread_clock::thread_cpu_seconds();
    Timed {
        wall_s,
        cpu_s: c1 - c0,
    }
}

pub struct CapacityProbe {
    threads: usize,
    cpus: Vec<usize>,
    alone: Vec<Vec<f64>>,   // [cpu][probe] wall times
    per_probe: Vec<f64>,    // capacity of each probe (threads > 1)
    share: Vec<f64>,        // CPU share of each probe
    kernel: Option<Kernel>, // the workload's serial version, or None: the integer kernel
    kernel_reps: usize,     // calls of `kernel` per timing (calibrate())
}

impl CapacityProbe {
    /// threads: the thread count of the run; probe thread i runs on the run's CPU i mod (number
    /// of allowed CPUs).
    pub fn new(threads: usize, kernel: Option<Kernel>) -> CapacityProbe {
        let threads = threads.max(1);
        let mut all = affinity::allowed_cpus();
        if all.is_empty() {
            all.push(0);
        }
        let cpus: Vec<usize> = all.into_iter().take(threads).collect();
        let alone = vec![Vec::new(); cpus.len()];
        CapacityProbe {
            threads,
            cpus,
            alone,
            per_probe: Vec::new(),
            share: Vec::new(),
            kernel,
            kernel_reps: 0,
        }
    }

    /// How many calls of the workload's kernel make one timing of >= PROBE_TARGET_S: one untimed
    /// call (caches, page faults), then one timed, on the run's first CPU.
    fn calibrate(&mut self) {
        let kernel = self.kernel.clone();
        let cpu_id = self.cpus.first().copied().unwrap_or(0);
        let count = self.threads;
        self.kernel_reps = std::thread::spawn(move || {
            affinity::pin_this_thread(cpu_id);
            set_probe_slice(0, count);
            run_kernel(&kernel, 1);
            let one = time_kernel(&kernel, 1).wall_s.max(1e-6);
            (PROBE_TARGET_S / one).ceil().clamp(1.0, 10000.0) as usize
        })
        .join()
        .unwrap();
    }

    /// One probe: settle, the kernel alone on each CPU in turn, then on all at once (threads > 1).
    pub fn probe(&mut self, settle: Duration) {
        std::thread::sleep(settle);
        if self.kernel.is_some() && self.kernel_reps == 0 {
            self.calibrate();
        }
        let (kernel, reps) = (self.kernel.clone(), self.kernel_reps);
        let mut alone = Vec::with_capacity(self.cpus.len());
        let (mut wall, mut cpu) = (0.0f64, 0.0f64);
        for (c, &cpu_id) in self.cpus.iter().enumerate() {
            let k = kernel.clone();
            let count = self.threads;
            let a = std::thread::spawn(move || {
                affinity::pin_this_thread(cpu_id);
                set_probe_slice(c, count);
                time_kernel(&k, reps)
            })
            .join()
            .unwrap();
            alone.push(a);
            self.alone[c].push(a.wall_s);
            wall += a.wall_s;
            cpu += a.cpu_s;
        }
        if self.threads > 1 {
            let n = self.threads;
            let arrived = std::sync::Arc::new(AtomicUsize::new(0));
            let handles: Vec<_> = (0..n)
                .map(|i| {
                    let cpu_id = self.cpus[i % self.cpus.len()];
                    let arrived = arrived.clone();
                    let k = kernel.clone();
                    std::thread::spawn(move || {
                        affinity::pin_this_thread(cpu_id);
                        set_probe_slice(i, n);
                        arrived.fetch_add(1, Ordering::AcqRel);
                        while arrived.load(Ordering::Acquire) < n {
                            std::hint::spin_loop();
                        }
                        time_kernel(&k, reps)
                    })
                })
                .collect();
            let co: Vec<Timed> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            // The reference: the fastest CPU alone (a 1-worker pool's thread is not pinned).
            let r = alone.iter().map(|a| a.wall_s).fold(f64::INFINITY, f64::min);
            let mut cap = 0.0;
            for c in &co {
                cap += r / c.wall_s;
                wall += c.wall_s;
                cpu += c.cpu_s;
            }
            self.per_probe.push(cap);
        }
        self.share.push(if wall > 0.0 {
            (cpu / wall).min(1.0)
        } else {
            1.0
        });
    }

    pub fn probes(&self) -> usize {
        self.share.len()
    }
    /// The median of the probes' capacities (threads > 1).
    pub fn capacity(&self) -> f64 {
        median_of(&self.per_probe)
    }
    /// The median over the probes of the kernel's CPU time / wall time.
    pub fn cpu_share(&self) -> f64 {
        median_of(&self.share)
    }
    fn flag_below(&self) -> f64 {
        PROBE_FLAG_FRACTION * self.threads as f64
    }
    pub fn low_capacity(&self) -> bool {
        self.threads > 1 && self.capacity() < self.flag_below()
    }
    pub fn low_share(&self) -> bool {
        self.cpu_share() < PROBE_FLAG_FRACTION
    }
    pub fn flagged_probes(&self) -> usize {
        let b = self.flag_below();
        (0..self.share.len())
            .filter(|&k| {
                (self.threads > 1 && self.per_probe[k] < b) || self.share[k] < PROBE_FLAG_FRACTION
            })
            .count()
    }
    pub fn alone_median_s(&self) -> f64 {
        if self.alone.is_empty() {
            0.0
        } else {
            median_of(&self.alone[0])
        }
    }

    /// JSON fields (each with a leading comma), the same as the C++ side's.
    pub fn json(&self) -> String {
        let cpus: Vec<String> = self.cpus.iter().map(|c| c.to_string()).collect();
        let mut out = format!(
            ",\"probes\":{},\"probe_kernel\":\"{}\",\"probe_kernel_reps\":{},\"probe_alone_s\":{:.9},\"probe_cpus\":[{}]",
            self.probes(),
            if self.kernel.is_some() { "workload" } else { "mix" },
            if self.kernel.is_some() { self.kernel_reps } else { 1 },
            self.alone_median_s(),
            cpus.join(",")
        );
        if self.threads > 1 && !self.per_probe.is_empty() {
            let caps: Vec<String> = self.per_probe.iter().map(|c| format!("{:.4}", c)).collect();
            out += &format!(
                ",\"capacity\":{:.4},\"capacities\":[{}]",
                self.capacity(),
                caps.join(",")
            );
        }
        out += &format!(
            ",\"probe_cpu_share\":{:.4},\"flagged_probes\":{}",
            self.cpu_share(),
            self.flagged_probes()
        );
        out
    }
}

/// One timed rep: its figure (the wall time, or what the workload measured itself) and the
/// process CPU time over it.
#[derive(Clone, Copy)]
pub struct Sample {
    /// Per call.
    pub figure_s: f64,
    /// Per call.
    pub cpu_s: f64,
    /// Calls the rep made (calls_per_rep); figure_s * calls: its wall time.
    pub calls: usize,
}

/// At most this many calls per rep (bench/capacity.hpp's k_max_calls_per_rep).
pub const MAX_CALLS_PER_REP: usize = 1000;

/// How many back-to-back calls make a rep of at least `rep_s` seconds, given one call's time
/// `call_s` (bench/capacity.hpp's calls_per_rep, which says why): 1 when either is 0.
pub fn calls_per_rep(rep_s: f64, call_s: f64) -> usize {
    if !(rep_s > 0.0) || !(call_s > 0.0) {
        return 1;
    }
    let k = (rep_s / call_s).ceil(); // >= 1: both are > 0
    if k >= MAX_CALLS_PER_REP as f64 {
        MAX_CALLS_PER_REP
    } else {
        k as usize
    }
}

/// Times one rep (bench/capacity.hpp's RepClock).
pub struct RepClock {
    c0: f64,
    t0: Instant,
}

impl RepClock {
    pub fn start() -> RepClock {
        let c0 = crate::rusage::cpu_seconds() - spin_cpu_seconds();
        RepClock {
            c0,
            t0: Instant::now(),
        }
    }
    pub fn stop(&self) -> Sample {
        let figure_s = self.t0.elapsed().as_secs_f64();
        let c1 = crate::rusage::cpu_seconds() - spin_cpu_seconds();
        Sample {
            figure_s,
            cpu_s: c1 - self.c0,
            calls: 1,
        }
    }
}

pub struct Series {
    pub reps: Vec<Sample>,
    pub base_reps: Vec<Sample>,
    pub probe: CapacityProbe,
    /// The run kept every CPU out of idle (KeepAwake).
    pub keep_awake: bool,
    /// Worker i ran pinned to allowed CPU i (pin_workers_requested).
    pub pinned_workers: bool,
}

fn figures(v: &[Sample]) -> Vec<f64> {
    v.iter().map(|s| s.figure_s).collect()
}

impl Series {
    /// kernel: the workload's serial version for the capacity probe, or None.
    pub fn new(threads: usize, kernel: Option<Kernel>) -> Series {
        Series {
            reps: Vec::new(),
            base_reps: Vec::new(),
            probe: CapacityProbe::new(threads, kernel),
            keep_awake: false,
            pinned_workers: pin_workers_requested(),
        }
    }
    pub fn times(&self) -> Vec<f64> {
        figures(&self.reps)
    }
    pub fn cpus(&self) -> Vec<f64> {
        self.reps.iter().map(|s| s.cpu_s).collect()
    }
    pub fn speedup(&self) -> f64 {
        if self.base_reps.is_empty() {
            0.0
        } else {
            median_of(&figures(&self.base_reps)) / median_of(&self.times())
        }
    }
    pub fn efficiency(&self) -> f64 {
        let cap = self.probe.capacity();
        if self.base_reps.is_empty() || cap.is_nan() || cap <= 0.0 {
            0.0
        } else {
            self.speedup() / cap
        }
    }
    /// Why the run is flagged ("" if it is not): capacity, share, joined by '+'.
    pub fn flag_reasons(&self) -> String {
        let mut r: Vec<&str> = Vec::new();
        if self.probe.low_capacity() {
            r.push("capacity");
        }
        if self.probe.low_share() {
            r.push("share");
        }
        r.join("+")
    }
    /// JSON fields (each with a leading comma), the same as the C++ side's.
    pub fn json(&self) -> String {
        let mut out = self.probe.json();
        if !self.base_reps.is_empty() {
            let b: Vec<String> = figures(&self.base_reps)
                .iter()
                .map(|x| format!("{:.9}", x))
                .collect();
            out += &format!(
                ",\"base_threads\":1,\"base_times_s\":[{}],\"base_median_s\":{:.9},\"speedup\":{:.4},\"efficiency\":{:.4}",
                b.join(","),
                median_of(&figures(&self.base_reps)),
                self.speedup(),
                self.efficiency()
            );
        }
        out += if self.keep_awake {
            ",\"keep_awake\":true"
        } else {
            ",\"keep_awake\":false"
        };
        out += if self.pinned_workers {
            ",\"pinned_workers\":true"
        } else {
            ",\"pinned_workers\":false"
        };
        let why = self.flag_reasons();
        if why.is_empty() {
            out += ",\"flagged\":false";
        } else {
            out += &format!(",\"flagged\":true,\"flag_reasons\":\"{}\"", why);
        }
        out
    }
}

/// Warm-up and timed reps of one system (bench/capacity.hpp's run_series). `rep(false)` runs one
/// rep on the T-worker pool, `rep(true)` one on the 1-worker pool (only called when `has_base`).
/// With a base: warm-up base, rep; probe; then rounds of base, settle, rep, probe. Without:
/// probe, warm-up, reps back to back, probe (after a longer settle). `min_reps`/`max_time`: the
/// --max-time rule on the T-worker reps. `after_warmup` gets the last warm-up rep on the T-worker
/// pool (when there was a warm-up; the caller sets its calls per rep from it).
#[allow(clippy::too_many_arguments)]
pub fn run_series(
    s: &mut Series,
    reps: usize,
    warmup: usize,
    max_time: f64,
    min_reps: usize,
    has_base: bool,
    rep: &mut dyn FnMut(bool) -> Sample,
    after_warmup: &mut dyn FnMut(&Sample),
) {
    let awake = KeepAwake::new();
    s.keep_awake = awake.on();
    let stop = |s: &Series| {
        max_time > 0.0
            && s.reps.len() >= min_reps
            && s.reps
                .iter()
                .map(|r| r.figure_s * r.calls as f64)
                .sum::<f64>()
                >= max_time
    };
    if !has_base {
        s.probe.probe(SETTLE);
        let mut last = None;
        for _ in 0..warmup {
            last = Some(rep(false));
        }
        if let Some(l) = &last {
            after_warmup(l);
        }
        for _ in 0..reps {
            s.reps.push(rep(false));
            if stop(s) {
                break;
            }
        }
        s.probe.probe(SETTLE_LONG);
        return;
    }
    let mut last = None;
    for _ in 0..warmup {
        rep(true);
        std::thread::sleep(SETTLE);
        last = Some(rep(false));
    }
    if let Some(l) = &last {
        after_warmup(l);
    }
    s.probe.probe(SETTLE);
    for _ in 0..reps {
        s.base_reps.push(rep(true));
        std::thread::sleep(SETTLE);
        s.reps.push(rep(false));
        s.probe.probe(SETTLE);
        if stop(s) {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The same value as bench::probe_kernel(1, 1000) in bench/capacity.hpp: one kernel.
    #[test]
    fn probe_slices_tile_the_input() {
        for n in [0usize, 1, 7, 4194304] {
            for count in 1..5 {
                let mut next = 0;
                for i in 0..count {
                    let (b, e) = slice_bounds(n, (i, count));
                    assert_eq!(b, next);
                    assert!(e >= b && e - b <= n / count + 1);
                    next = e;
                }
                assert_eq!(next, n);
            }
        }
        assert_eq!(probe_slice(), (0, 1));
    }

    #[test]
    fn kernel_matches_cpp() {
        assert_eq!(probe_kernel(1, 1000), 6528238120710861507);
        assert_ne!(probe_kernel(2, 1000), probe_kernel(1, 1000));
    }

    #[test]
    fn probe_reports_capacity() {
        let mut p = CapacityProbe::new(2, None);
        p.probe(Duration::from_millis(0));
        assert_eq!(p.probes(), 1);
        assert!(p.cpu_share() > 0.0 && p.cpu_share() <= 1.0);
        let cpus = affinity::allowed_cpus().len().max(1).min(2) as f64;
        // Some capacity, at most the CPUs it ran on with generous slack for noise.
        assert!(p.capacity() > 0.0 && p.capacity() < 2.0 * cpus + 1.0);
        assert!(p.json().contains("\"capacity\":"));
    }

    #[test]
    fn workload_kernel_is_calibrated_and_named() {
        use std::sync::atomic::AtomicUsize;
        use std::sync::Arc;
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let k: Kernel = Arc::new(move || {
            c.fetch_add(1, Ordering::Relaxed);
            probe_kernel(5, 20_000) // ~0.1 ms: a timing needs many calls
        });
        let mut p = CapacityProbe::new(2, Some(k));
        p.probe(Duration::from_millis(0));
        assert!(p.kernel_reps > 1, "reps {}", p.kernel_reps);
        // calibration (2 calls), then alone on each CPU and on both at once: reps calls each
        let cpus = p.cpus.len();
        assert_eq!(
            calls.load(Ordering::Relaxed),
            2 + p.kernel_reps * (cpus + 2)
        );
        assert!(p.capacity() > 0.0);
        let j = p.json();
        assert!(j.contains("\"probe_kernel\":\"workload\""), "{}", j);
        assert!(CapacityProbe::new(2, None)
            .json()
            .contains("\"probe_kernel\":\"mix\""));
    }

    #[test]
    fn calls_per_rep_fills_the_rep() {
        assert_eq!(calls_per_rep(0.0, 0.001), 1); // --rep-ms 0: one call
        assert_eq!(calls_per_rep(0.01, 0.0), 1); // no time measured
        assert_eq!(calls_per_rep(0.01, 0.02), 1); // a call longer than the rep
        assert_eq!(calls_per_rep(0.01, 0.003), 4); // ceil(10 / 3)
        assert_eq!(calls_per_rep(0.01, 0.001), 10);
        assert_eq!(calls_per_rep(1.0, 1e-9), MAX_CALLS_PER_REP);
    }

    #[test]
    fn series_flags_and_fields() {
        let mut s = Series::new(2, None);
        let mut rep = |_on_base: bool| {
            let c = RepClock::start();
            let _ = probe_kernel(3, 1000);
            c.stop()
        };
        run_series(&mut s, 3, 1, 0.0, 3, true, &mut rep, &mut |_| {});
        assert_eq!(s.reps.len(), 3);
        assert_eq!(s.base_reps.len(), 3);
        let j = s.json();
        for key in &["\"speedup\":", "\"efficiency\":", "\"flagged\":"] {
            assert!(j.contains(key), "{} missing in {}", key, j);
        }
    }
}
