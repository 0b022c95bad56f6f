#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages spindle needs to build and test, and nothing else.
#
#   scripts/setup-deps.sh            build + test dependencies
#   scripts/setup-deps.sh --bench    also the benchmark peers: oneTBB, rayon, a Rust toolchain
#                                    (OpenMP is gcc's libgomp, installed with build-essential)
#
# Idempotent: asks dpkg which packages are missing and runs apt-get only when some are.
# Needs root (or passwordless sudo) only when something is missing.
set -euo pipefail

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
}

want_bench=0
for arg in "$@"; do
    case "$arg" in
        --bench) want_bench=1 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "setup-deps.sh: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
    esac
done

packages=(
    build-essential cmake ninja-build pkg-config git make
    libboost-context-dev libconcurrentqueue-dev libhwloc-dev
    libgtest-dev libgmock-dev googletest libbenchmark-dev
    librust-jobserver-dev
    # scripts/rayon-tests.sh: rayon 1.6.1 and rayon-core 1.10.1's sources and their
    # dev-dependencies, for rayon's own suites on the Rust binding (bindings/rust/rayon-core).
    librust-rayon-dev librust-rand-dev librust-rand-xorshift-dev librust-lazy-static-dev
    librust-scoped-tls-dev librust-cc-dev librust-libc-dev
    # docs.api_reference: the API reference of the public headers (docs/Doxyfile).
    doxygen
    # tests/trace: the trace report is loaded in headless Chromium (and python3 checks the JSON).
    chromium python3
)
# tests/jobserver cross-checks with Rust's jobserver crate (skipped without cargo).
if ! command -v cargo >/dev/null 2>&1 && [ ! -x "${HOME:-/root}/.cargo/bin/cargo" ]; then
    packages+=(cargo)
fi
if [ "$want_bench" = 1 ]; then
    # cargo: added above when missing (a rustup toolchain in ~/.cargo/bin is as good).
    # time: /usr/bin/time for bench/compiler_model/run.sh (CPU time of a make build).
    packages+=(libtbb-dev librust-rayon-dev time)
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "spindle: dpkg-query not found; this script supports Debian/Ubuntu only." >&2
    echo "spindle: install the equivalents of: ${packages[*]}" >&2
    exit 1
fi

missing=()
for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "install ok installed" ]; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "spindle: all build dependencies present"
    exit 0
fi

install_cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "spindle: missing packages: ${missing[*]}" >&2
    echo "spindle: run as root (or with sudo):" >&2
    echo "  $install_cmd" >&2
    exit 1
fi

echo "spindle: installing missing packages: ${missing[*]}"
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
