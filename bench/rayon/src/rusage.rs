//! Process CPU time and peak RSS via getrusage(2), declared by hand so the crate needs only
//! std + rayon (std already links libc). Layout is glibc/musl's `struct rusage`: two
//! `struct timeval` ({time_t, suseconds_t}, both `long` on Linux) followed by 14 `long`s.
//! On other targets both functions return 0.

#[cfg(target_os = "linux")]
mod imp {
    use std::os::raw::{c_int, c_long};

    #[repr(C)]
    struct Timeval {
        tv_sec: c_long,
        tv_usec: c_long,
    }

    #[repr(C)]
    struct Rusage {
        ru_utime: Timeval,
        ru_stime: Timeval,
        ru_maxrss: c_long,
        ru_rest: [c_long; 13],
    }

    extern "C" {
        fn getrusage(who: c_int, usage: *mut Rusage) -> c_int;
    }

    const RUSAGE_SELF: c_int = 0;

    fn get() -> Option<Rusage> {
        let mut ru = Rusage {
            ru_utime: Timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            ru_stime: Timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            ru_maxrss: 0,
            ru_rest: [0; 13],
        };
        // SAFETY: `ru` is a properly sized and aligned `struct rusage`.
        let rc = unsafe { getrusage(RUSAGE_SELF, &mut ru) };
        if rc == 0 {
            Some(ru)
        } else {
            None
        }
    }

    /// User + system CPU seconds of the whole process (all threads).
    pub fn cpu_seconds() -> f64 {
        match get() {
            Some(ru) => {
                let tv = |t: &Timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
                tv(&ru.ru_utime) + tv(&ru.ru_stime)
            }
            None => 0.0,
        }
    }

    /// Peak resident set size in KiB (Linux reports ru_maxrss in KiB).
    pub fn peak_rss_kb() -> u64 {
        match get() {
            Some(ru) => ru.ru_maxrss as u64,
            None => 0,
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub fn cpu_seconds() -> f64 {
        0.0
    }
    pub fn peak_rss_kb() -> u64 {
        0
    }
}

pub use imp::{cpu_seconds, peak_rss_kb};
