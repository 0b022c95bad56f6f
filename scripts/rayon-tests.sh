#!/usr/bin/env bash
# rayon's and rayon-core's own test suites on spindle (bindings/rust/rayon-core).
#
#   scripts/rayon-tests.sh [rayon|core|binding|all]     (default: all)
#
# Copies Debian's rayon 1.6.1 and rayon-core 1.10.1 sources (librust-rayon-dev, found in
# /usr/share/cargo/registry) to a temporary directory, points rayon-core at the binding with
# [patch.crates-io], and runs `cargo test --offline` there:
#   binding:    the binding's own tests (bindings/rust/rayon-core/tests: deep recursion);
#   rayon:      its unit tests, tests/*.rs and doc tests, unmodified;
#   (rayon in the release profile: its octillion tests take minutes in debug);
#   rayon-core: in the debug profile, as upstream runs it (stack_overflow_crash relies on it),
#               its tests/*.rs and the src/**/test.rs files that use only public API, as
#               integration tests of a small crate that depends on the binding (crate:: paths
#               become rayon_core::). EXCLUDED below lists what cannot run, with the reason.
# Nothing of those sources is written into the repository.
#
# Environment: SPINDLE_BUILD_DIR=<a configured spindle build dir> links that build instead of
# building one (e.g. the asan-ubsan preset's: see bindings/rust/rayon-core/README.md);
# RAYON_TESTS_TMP keeps the work directory there (default: a fresh mktemp -d, removed after).
set -euo pipefail

what="${1:-all}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
registry=/usr/share/cargo/registry
rayon_src="$registry/rayon-1.6.1"
core_src="$registry/rayon-core-1.10.1"
if [ ! -d "$rayon_src" ] || [ ! -d "$core_src" ]; then
    echo "rayon-tests: $rayon_src or $core_src missing (scripts/setup-deps.sh --bench installs librust-rayon-dev)" >&2
    exit 1
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "rayon-tests: cargo not found; skipped" >&2
    exit 0
fi

work="${RAYON_TESTS_TMP:-}"
if [ -z "$work" ]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
# One target directory for both crates, so spindle and the binding are built once.
export CARGO_TARGET_DIR="$work/target"

# A SPINDLE_BUILD_DIR built with AddressSanitizer (the asan-ubsan preset): the Rust test
# programs are not instrumented, so ASan's runtime must be loaded first (LD_PRELOAD), through
# cargo's target runner so that cargo and rustc themselves run without it. LeakSanitizer is on;
# the one suppression is the global pool's worker threads, which are never joined (as rayon's
# global registry, it lives until the process exits): their std::thread packets stay allocated.
asan=0
if [ -n "${SPINDLE_BUILD_DIR:-}" ] && grep -q '^SPINDLE_SANITIZE:.*address' "$SPINDLE_BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
    asan=1
    libasan=$(gcc -print-file-name=libasan.so)
    printf 'leak:std::thread::builder::Builder::spawn_unchecked\n' > "$work/lsan.supp"
    cat > "$work/asan-runner.sh" <<RUNNER
#!/bin/sh
LD_PRELOAD="$libasan" LSAN_OPTIONS="suppressions=$work/lsan.supp\${LSAN_OPTIONS:+:\$LSAN_OPTIONS}" exec "\$@"
RUNNER
    chmod +x "$work/asan-runner.sh"
    host=$(rustc -vV | sed -n 's/^host: //p' | tr 'a-z-' 'A-Z_')
    export "CARGO_TARGET_${host}_RUNNER=$work/asan-runner.sh"
    echo "rayon-tests: spindle built with AddressSanitizer ($SPINDLE_BUILD_DIR): test programs run with LD_PRELOAD=$libasan"
fi

cargo_config() {  # $1: crate dir
    mkdir -p "$1/.cargo"
    cat > "$1/.cargo/config.toml" <<CFG
[source.crates-io]
replace-with = "debian"
[source.debian]
directory = "$registry"
[net]
offline = true
CFG
}

patch_lines() {
    printf '\n[patch.crates-io]\nrayon-core = { path = "%s/bindings/rust/rayon-core" }\n' "$repo"
}

# Tests of rayon-core that cannot run on the binding, one per line: "<file>::<test> <reason>".
# (Whole src/**/test.rs files that reach into internals are listed by file.)
EXCLUDED_CORE=(
    "unit_thread_pool workers_stop      reads the private ThreadPool.registry and Registry::wait_until_stopped"
    "unit_thread_pool sleeper_stop      reads the private ThreadPool.registry and Registry::wait_until_stopped"
)

# Removes test function $2 (its attributes, signature and body up to the closing brace in
# column 0) from file $1.
strip_test() {
    python3 - "$1" "$2" <<'PY'
import re, sys
path, name = sys.argv[1], sys.argv[2]
src = open(path).read()
m = re.search(r'((?:^#\[[^\n]*\n)+)^fn ' + re.escape(name) + r'\b.*?^\}\n', src, re.S | re.M)
if not m:
    sys.exit("rayon-tests: test %s not found in %s" % (name, path))
open(path, "w").write(src[:m.start()] + src[m.end():])
PY
}

run_rayon() {
    local dir="$work/rayon"
    rm -rf "$dir"
    cp -r "$rayon_src" "$dir"
    chmod -R u+w "$dir"
    rm -f "$dir/Cargo.lock" "$dir/.cargo-checksum.json"
    patch_lines >> "$dir/Cargo.toml"
    cargo_config "$dir"
    echo "== rayon 1.6.1 on spindle: cargo test (unit, tests/*.rs, doc tests)"
    local status=0
    (cd "$dir" && cargo test --offline --release >"$work/rayon.log" 2>&1) || status=$?
    grep -E "^test result|Running|Doc-tests|FAILED|panicked" "$work/rayon.log" || true
    # cargo's exit status decides (a test's expected output may say "error"); a run that
    # printed no test result at all did not test anything.
    if [ "$status" -ne 0 ] || ! grep -q "^test result" "$work/rayon.log"; then
        echo "rayon-tests: rayon's suite FAILED (log: $work/rayon.log)" >&2
        return 1
    fi
}

run_core() {
    local dir="$work/rayon-core-tests"
    rm -rf "$dir"
    mkdir -p "$dir/tests" "$dir/src"
    cat > "$dir/Cargo.toml" <<TOML
[package]
name = "rayon-core-tests"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
rayon-core = "1.10"

[dev-dependencies]
rand = "0.8"
rand_xorshift = "0.3"
scoped-tls = "1.0"
libc = "0.2"
crossbeam-utils = "0.8"
crossbeam-channel = "0.5"
TOML
    patch_lines >> "$dir/Cargo.toml"
    # The one crate-private helper the unit tests use (rayon-core's src/unwind.rs, restated).
    cat > "$dir/src/lib.rs" <<'RS'
pub mod unwind {
    pub fn halt_unwinding<F: FnOnce() -> R, R>(f: F) -> std::thread::Result<R> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
    }
}
RS
    cargo_config "$dir"
    # tests/*.rs as they are (stack_overflow_crash has its own harness).
    for f in "$core_src"/tests/*.rs; do
        cp "$f" "$dir/tests/"
    done
    if [ "$asan" = 1 ]; then
        # ASan handles the SIGSEGV itself (it reports the overflow and exits with status 1),
        # so the child never dies of the signal this test expects.
        rm -f "$dir/tests/stack_overflow_crash.rs"
        echo "excluded under ASan: stack_overflow_crash (ASan turns the overflow's SIGSEGV into exit status 1)"
    else
        printf '\n[[test]]\nname = "stack_overflow_crash"\npath = "tests/stack_overflow_crash.rs"\nharness = false\n' >> "$dir/Cargo.toml"
    fi
    # src/**/test.rs: public API only, crate:: and super:: paths made rayon_core:: paths.
    local f name
    for f in $(cd "$core_src/src" && find . -name test.rs | sort); do
        name="unit_$(echo "${f#./}" | sed 's|/test.rs||; s|/|_|g; s|^test.rs$|lib|')"
        [ "$name" = "unit_test.rs" ] && name=unit_lib
        sed -e 's/\bcrate::/rayon_core::/g' -e 's/\bsuper::/rayon_core::/g' \
            -e 's/rayon_core::unwind/rayon_core_tests::unwind/g' \
            -e 's/rayon_core::join::\*/rayon_core::*/' -e 's/^#!\[cfg(test)\]//' "$core_src/src/$f" > "$dir/tests/$name.rs"
    done
    local file test reason
    for entry in "${EXCLUDED_CORE[@]}"; do
        read -r file test reason <<< "$entry"
        strip_test "$dir/tests/$file.rs" "$test"
        echo "excluded: $file::$test ($reason)"
    done
    echo "== rayon-core 1.10.1's tests on spindle"
    local status=0
    (cd "$dir" && cargo test --offline --no-fail-fast >"$work/core.log" 2>&1) || status=$?
    grep -E "^test result|Running|FAILED|panicked|^error" "$work/core.log" || true
    # cargo's exit status decides: stack_overflow_crash's child prints "fatal runtime error:
    # stack overflow" when it crashes as the test expects.
    if [ "$status" -ne 0 ] || ! grep -q "^test result" "$work/core.log"; then
        echo "rayon-tests: rayon-core's suite FAILED (log: $work/core.log)" >&2
        return 1
    fi
}

run_binding() {
    echo "== the binding's own tests (bindings/rust/rayon-core/tests)"
    local status=0
    # No dependencies: nothing to fetch, and the target directory is the shared one.
    (cd "$repo/bindings/rust/rayon-core" && cargo test --offline >"$work/binding.log" 2>&1) || status=$?
    grep -E "^test result|Running|FAILED|panicked|^error" "$work/binding.log" || true
    if [ "$status" -ne 0 ] || ! grep -q "^test result" "$work/binding.log"; then
        echo "rayon-tests: the binding's tests FAILED (log: $work/binding.log)" >&2
        return 1
    fi
}

rc=0
case "$what" in
    rayon) run_rayon || rc=1 ;;
    core) run_core || rc=1 ;;
    binding) run_binding || rc=1 ;;
    all) run_binding || rc=1; run_rayon || rc=1; run_core || rc=1 ;;
    *) echo "usage: $0 [rayon|core|binding|all]" >&2; exit 2 ;;
esac
exit $rc
