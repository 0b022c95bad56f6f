// Records the compiler version in the binary so every JSON line says which rustc built rayon
// (Debian's rustc 1.63 and rustup's current rustc give very different rayon fib times).
use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().replace('"', "'"))
        .unwrap_or_else(|| "rustc unknown".to_string());
    println!("cargo:rustc-env=BENCH_RUSTC_VERSION={}", version);
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
}
