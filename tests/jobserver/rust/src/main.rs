//! jsrust: the Rust `jobserver` crate on either side of spindle's jobserver.
//!
//!   jsrust client LOG W K MS      W threads run K tasks of MS ms; every task but those of
//!                                 thread 0 (the implicit token) holds a token from
//!                                 Client::from_env(); each logs "S <ns>" / "E <ns>" to LOG.
//!   jsrust server N -- CMD ARGS   Client::new(N), configure(CMD), run it, then check that all
//!                                 N tokens came back (exit 4 if not within 10 s).
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn log(path: &str, what: char) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .open(path)
        .expect("open log");
    let line = format!("{} {}\n", what, now_ns());
    f.write_all(line.as_bytes()).expect("write log");
}

fn client(args: &[String]) -> i32 {
    let logp = args[0].clone();
    let w: usize = args[1].parse().unwrap();
    let k: usize = args[2].parse().unwrap();
    let ms: u64 = args[3].parse().unwrap();
    let c = match unsafe { jobserver::Client::from_env() } {
        Some(c) => Arc::new(c),
        None => {
            eprintln!("jsrust: no jobserver in the environment");
            return 3;
        }
    };
    let next = Arc::new(AtomicUsize::new(0));
    let mut hs = Vec::new();
    for t in 0..w {
        let (c, next, logp) = (c.clone(), next.clone(), logp.clone());
        hs.push(std::thread::spawn(move || loop {
            let token = if t == 0 { None } else { Some(c.acquire().expect("acquire")) };
            if next.fetch_add(1, Ordering::SeqCst) >= k {
                return;
            }
            log(&logp, 'S');
            std::thread::sleep(Duration::from_millis(ms));
            log(&logp, 'E');
            drop(token);
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
    0
}

fn server(args: &[String]) -> i32 {
    let n: usize = args[0].parse().unwrap();
    assert_eq!(args[1], "--");
    let c = jobserver::Client::new(n).expect("Client::new");
    let mut cmd = std::process::Command::new(&args[2]);
    cmd.args(&args[3..]);
    c.configure(&mut cmd);
    let st = cmd.status().expect("spawn");
    if !st.success() {
        eprintln!("jsrust: child failed: {}", st);
        return 5;
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut got = Vec::new();
        for _ in 0..n {
            got.push(c.acquire().expect("acquire"));
            tx.send(got.len()).unwrap();
        }
        std::mem::forget(got);
    });
    let mut back = 0;
    while back < n {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(v) => back = v,
            Err(_) => break,
        }
    }
    println!("jsrust: {} of {} tokens back", back, n);
    if back == n {
        0
    } else {
        4
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let code = match args.get(1).map(|s| s.as_str()) {
        Some("client") if args.len() == 6 => client(&args[2..]),
        Some("server") if args.len() >= 5 => server(&args[2..]),
        _ => {
            eprintln!("usage: jsrust client LOG W K MS | jsrust server N -- CMD ARGS");
            2
        }
    };
    std::process::exit(code);
}
