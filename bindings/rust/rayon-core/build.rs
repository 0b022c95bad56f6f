// Builds spindle (the C++ library of this repository) with its own CMake project and links it
// statically, with Boost.Context, hwloc (when spindle found it) and libstdc++.
//
// Environment:
//   SPINDLE_BUILD_DIR  an already configured and built spindle build directory to link instead
//                      (e.g. build/asan-ubsan: see README.md, "From Rust: rayon on spindle").
//   CMAKE_*_COMPILER_LAUNCHER, CCACHE_*  passed through to CMake (ccache).
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn run(cmd: &mut Command) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("spindle build: cannot run {:?}: {}", cmd, e));
    if !status.success() {
        panic!("spindle build: {:?} failed with {}", cmd, status);
    }
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let repo = manifest
        .join("../../..")
        .canonicalize()
        .expect("spindle build: the repository root (three levels above the crate)");
    println!("cargo:rerun-if-env-changed=SPINDLE_BUILD_DIR");
    println!("cargo:rerun-if-changed={}", repo.join("src").display());
    println!("cargo:rerun-if-changed={}", repo.join("include").display());
    println!(
        "cargo:rerun-if-changed={}",
        repo.join("CMakeLists.txt").display()
    );

    let build_dir = match env::var_os("SPINDLE_BUILD_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            run(Command::new("cmake")
                .arg("--build")
                .arg(&dir)
                .arg("--target")
                .arg("spindle"));
            dir
        }
        None => {
            let dir = PathBuf::from(env::var("OUT_DIR").unwrap()).join("spindle-build");
            let jobs = env::var("NUM_JOBS").unwrap_or_else(|_| "2".to_string());
            run(Command::new("cmake")
                .arg("-S")
                .arg(&repo)
                .arg("-B")
                .arg(&dir)
                .arg("-DCMAKE_BUILD_TYPE=Release")
                .arg("-DSPINDLE_BUILD_TESTS=OFF")
                .arg("-DSPINDLE_BUILD_BENCH=OFF")
                .arg("-DCMAKE_POSITION_INDEPENDENT_CODE=ON"));
            run(Command::new("cmake")
                .arg("--build")
                .arg(&dir)
                .arg("--target")
                .arg("spindle")
                .arg("-j")
                .arg(jobs));
            dir
        }
    };
    println!("cargo:rustc-link-search=native={}", build_dir.display());
    println!("cargo:rustc-link-lib=static=spindle");
    println!("cargo:rustc-link-lib=dylib=boost_context");
    if have_hwloc(&build_dir) {
        println!("cargo:rustc-link-lib=dylib=hwloc");
    }
    println!("cargo:rustc-link-lib=dylib=stdc++");
    if sanitized(&build_dir) {
        // The C++ side was built with ASan/UBSan: their runtimes must come first.
        println!("cargo:rustc-link-lib=dylib=asan");
        println!("cargo:rustc-link-lib=dylib=ubsan");
    }
}

fn cache(build_dir: &Path) -> String {
    std::fs::read_to_string(build_dir.join("CMakeCache.txt")).unwrap_or_default()
}

fn have_hwloc(build_dir: &Path) -> bool {
    cache(build_dir)
        .lines()
        .any(|l| l.starts_with("SPINDLE_HWLOC_FOUND:INTERNAL=1"))
}

fn sanitized(build_dir: &Path) -> bool {
    cache(build_dir)
        .lines()
        .any(|l| l.starts_with("SPINDLE_SANITIZE:") && l.contains("address"))
}
