// C++ side of the divide-and-conquer and pool-behaviour benchmarks against rayon
// (bench/rayon, `spindle-rayon-bench uts|matmul|mergesort|quicksort|integrate|idle|wakeup`), for
// every C++ system: serial, spindle, oneTBB and OpenMP tasks (bench/compare_systems.hpp).
//
// Usage:
//   bench_suite_compare <workload> --n N --threads T --reps R [--warmup W]
//                       [--system serial|spindle|tbb|omp|all] [--list-systems]
//
// Same CLI and JSON lines as the other compare programs and the rayon binary. Exit status: 0 if
// every result checked, 1 if a result was wrong (or a system threw), 2 on usage errors, 3 if the
// requested system is not compiled in.
//
// Every kernel is written once, as a template over the fork policy (SerialFork, SpindleFork,
// TbbFork, OmpFork), so all C++ systems run the same algorithm with the same cutoffs; the serial
// baseline is the SerialFork instance (plain recursion). The Rust files
// bench/rayon/src/workloads/<name>.rs mirror each kernel line by line. Sizes, cutoffs and the
// reasons for them: bench/README.md.
//
//   uts        Unbalanced Tree Search, T1 shape (geometric, expected branching 4, root 4
//              children, depth limit n), SplitMix64-derived child seeds instead of SHA-1; one
//              task per child. Result: node count.
//   matmul     C += A·B, n×n doubles (n a power of 2 >= 32), recursive 2×2 blocking, 8 products
//              in two phases of 4 (nested join2), 32×32 leaves (i-k-j loops). Entries are small
//              integers, so the result is exact. Result: the sum of C.
//   mergesort  n u32 (splitmix64 seed 42, high bits), ping-pong merge sort: halves in
//              parallel (sequential below 32768), parallel merge (sequential below 65536),
//              insertion sort below 32. Result: element n/2.
//   quicksort  the same input, in place: median of 3, Hoare partition (sequential), both sides
//              in parallel (sequential below 32768), insertion sort below 32. Result: element n/2.
//   integrate  adaptive trapezoid quadrature of f(x) = (x²+1)x on [0, n], |new - old| < 1e-9
//              (libfork's and Taskflow's `integrate`). Result: the bits of the double (the same
//              on every system and in Rust: same operations in the same order).
//   idle       n ticks: submit one empty job to the idle pool, wait for it, sleep 10 ms. Wall ~
//              n·10 ms; the figure is the CPU time (rayon PR #746's `noop` methodology).
//   wakeup     n samples per rep: the pool idles 10 ms, then one job is submitted from outside
//              and records when it starts. The rep's time is the mean submit→start latency.
// For idle and wakeup the caller never works: T pool threads run the job (spindle install; TBB
// task_arena(T, 0) + enqueue; OpenMP a team of T+1 whose thread 1 runs it).
//
// This is a plain program with its own main (Google Benchmark's benchmark_main is not linked).

#include "capacity.hpp"
#include "compare_common.hpp"
#include "compare_systems.hpp"
#include "spindle_stats.hpp"

#include <spindle/spindle.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using bench::System;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// SplitMix64 (bench/rayon/src/workloads/data.rs has the same constants).

constexpr std::uint64_t k_golden = 0x9E3779B97F4A7C15ull;

std::uint64_t mix64(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct SplitMix64 {
    std::uint64_t state;
    std::uint64_t next_u64() {
        state += k_golden;
        return mix64(state);
    }
    std::uint32_t next_u32() { return static_cast<std::uint32_t>(next_u64() >> 32); }
};

// ---------------------------------------------------------------------------------------------
// UTS, T1 shape.

constexpr std::uint64_t k_uts_root_seed = 19;  // UTS T1's -r 19
constexpr std::uint64_t k_uts_root_children = 4;
constexpr double k_uts_mean_children = 4.0;  // geometric, expected branching factor b = 4
constexpr int k_uts_rounds = 32;             // mixes per node: the stand-in for UTS's SHA-1

std::uint64_t uts_child_seed(std::uint64_t seed, std::uint64_t i) {
    return mix64(seed + (i + 1) * k_golden);
}

// Number of children of the node with this seed at this depth (0 at the depth limit).
std::uint64_t uts_children(std::uint64_t seed, std::uint32_t depth, std::uint32_t max_depth) {
    if (depth >= max_depth)
        return 0;
    if (depth == 0)
        return k_uts_root_children;
    std::uint64_t h = seed;
    for (int r = 0; r < k_uts_rounds; ++r)
        h = mix64(h + k_golden);
    // u uniform in [0, 1) from 53 bits; geometric with P(k) = (1-p)^k p, p = 1 / (1 + b).
    const double u = static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);
    const double q = 1.0 - 1.0 / (1.0 + k_uts_mean_children);
    return static_cast<std::uint64_t>(std::floor(std::log(1.0 - u) / std::log(q)));
}

template <class Fork>
std::uint64_t uts(std::uint64_t seed, std::uint32_t depth, std::uint32_t max_depth) {
    const std::uint64_t k = uts_children(seed, depth, max_depth);
    if (k == 0)
        return 1;
    std::uint64_t local[32];
    std::vector<std::uint64_t> big;
    std::uint64_t* slots = local;
    if (k > 32) {
        big.assign(k, 0);
        slots = big.data();
    }
    Fork::for_each_child(k, [&](std::size_t i) {
        slots[i] = uts<Fork>(uts_child_seed(seed, i), depth + 1, max_depth);
    });
    std::uint64_t total = 1;
    for (std::uint64_t i = 0; i < k; ++i)
        total += slots[i];
    return total;
}

// Independent reference: explicit stack, no recursion.
std::uint64_t uts_reference(std::uint32_t max_depth) {
    struct Node {
        std::uint64_t seed;
        std::uint32_t depth;
    };
    std::vector<Node> stack{{k_uts_root_seed, 0}};
    std::uint64_t count = 0;
    while (!stack.empty()) {
        const Node nd = stack.back();
        stack.pop_back();
        ++count;
        const std::uint64_t k = uts_children(nd.seed, nd.depth, max_depth);
        for (std::uint64_t i = 0; i < k; ++i)
            stack.push_back({uts_child_seed(nd.seed, i), nd.depth + 1});
    }
    return count;
}

// ---------------------------------------------------------------------------------------------
// matmul: C += A·B on n×n row-major blocks with leading dimension ld.

constexpr std::size_t k_matmul_leaf = 32;

void matmul_leaf(const double* a, const double* b, double* c, std::size_t n, std::size_t ld) {
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t k = 0; k < n; ++k) {
            const double x = a[i * ld + k];
            for (std::size_t j = 0; j < n; ++j)
                c[i * ld + j] += x * b[k * ld + j];
        }
    }
}

template <class Fork>
void matmul(const double* a, const double* b, double* c, std::size_t n, std::size_t ld) {
    if (n <= k_matmul_leaf) {
        matmul_leaf(a, b, c, n, ld);
        return;
    }
    const std::size_t h = n / 2;
    const double *a11 = a, *a12 = a + h, *a21 = a + h * ld, *a22 = a + h * ld + h;
    const double *b11 = b, *b12 = b + h, *b21 = b + h * ld, *b22 = b + h * ld + h;
    double *c11 = c, *c12 = c + h, *c21 = c + h * ld, *c22 = c + h * ld + h;
    // Phase 1: the four products that use A's left column of blocks.
    Fork::join2(
        [&] {
            Fork::join2([&] { matmul<Fork>(a11, b11, c11, h, ld); },
                        [&] { matmul<Fork>(a11, b12, c12, h, ld); });
        },
        [&] {
            Fork::join2([&] { matmul<Fork>(a21, b11, c21, h, ld); },
                        [&] { matmul<Fork>(a21, b12, c22, h, ld); });
        });
    // Phase 2: the four that use its right column (each C block is written by one task a phase).
    Fork::join2(
        [&] {
            Fork::join2([&] { matmul<Fork>(a12, b21, c11, h, ld); },
                        [&] { matmul<Fork>(a12, b22, c12, h, ld); });
        },
        [&] {
            Fork::join2([&] { matmul<Fork>(a22, b21, c21, h, ld); },
                        [&] { matmul<Fork>(a22, b22, c22, h, ld); });
        });
}

// ---------------------------------------------------------------------------------------------
// mergesort and quicksort of u32.

constexpr std::size_t k_insertion = 32;
constexpr std::size_t k_sort_seq = 32768;   // below this a subtree is sorted sequentially
constexpr std::size_t k_merge_seq = 65536;  // below this a merge runs sequentially

void insertion_sort(std::uint32_t* a, std::size_t n) {
    for (std::size_t i = 1; i < n; ++i) {
        const std::uint32_t x = a[i];
        std::size_t j = i;
        while (j > 0 && a[j - 1] > x) {
            a[j] = a[j - 1];
            --j;
        }
        a[j] = x;
    }
}

void merge_seq(const std::uint32_t* a,
               std::size_t na,
               const std::uint32_t* b,
               std::size_t nb,
               std::uint32_t* out) {
    std::size_t i = 0, j = 0, k = 0;
    // Branch-free step (written the same way in sorting.rs): on random keys a branch here is
    // mispredicted half the time, and whether a compiler turns it into a cmov is luck.
    while (i < na && j < nb) {
        const std::uint32_t x = a[i], y = b[j];
        const bool take_a = x <= y;
        out[k++] = take_a ? x : y;
        i += take_a;
        j += !take_a;
    }
    out = std::copy(a + i, a + na, out + k);
    std::copy(b + j, b + nb, out);
}

// First index in b[0..nb) whose element is >= x.
std::size_t lower_bound_u32(const std::uint32_t* b, std::size_t nb, std::uint32_t x) {
    std::size_t lo = 0, hi = nb;
    while (lo < hi) {
        const std::size_t mid = lo + (hi - lo) / 2;
        if (b[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

template <class Fork>
void merge_par(const std::uint32_t* a,
               std::size_t na,
               const std::uint32_t* b,
               std::size_t nb,
               std::uint32_t* out) {
    if (na + nb <= k_merge_seq) {
        merge_seq(a, na, b, nb, out);
        return;
    }
    if (na < nb) {
        std::swap(a, b);
        std::swap(na, nb);
    }
    const std::size_t ma = na / 2;
    const std::size_t mb = lower_bound_u32(b, nb, a[ma]);
    Fork::join2([&] { merge_par<Fork>(a, ma, b, mb, out); },
                [&] { merge_par<Fork>(a + ma, na - ma, b + mb, nb - mb, out + ma + mb); });
}

// Sorts src[0..n); the result ends in dst if to_dst, else in src; the other is scratch.
template <class Fork>
void merge_sort(std::uint32_t* src, std::uint32_t* dst, std::size_t n, bool to_dst) {
    if (n <= k_insertion) {
        if (to_dst) {
            std::copy(src, src + n, dst);
            insertion_sort(dst, n);
        } else {
            insertion_sort(src, n);
        }
        return;
    }
    if constexpr (!std::is_same_v<Fork, bench::SerialFork>) {
        if (n <= k_sort_seq) {
            merge_sort<bench::SerialFork>(src, dst, n, to_dst);
            return;
        }
    }
    const std::size_t h = n / 2;
    Fork::join2([&] { merge_sort<Fork>(src, dst, h, !to_dst); },
                [&] { merge_sort<Fork>(src + h, dst + h, n - h, !to_dst); });
    if (to_dst)
        merge_par<Fork>(src, h, src + h, n - h, dst);
    else
        merge_par<Fork>(dst, h, dst + h, n - h, src);
}

template <class Fork>
void quick_sort(std::uint32_t* a, std::size_t n) {
    if (n <= k_insertion) {
        insertion_sort(a, n);
        return;
    }
    if constexpr (!std::is_same_v<Fork, bench::SerialFork>) {
        if (n <= k_sort_seq) {
            quick_sort<bench::SerialFork>(a, n);
            return;
        }
    }
    // Median of three, left in the middle: a[0] <= a[mid] <= a[n-1].
    const std::size_t mid = n / 2;
    if (a[mid] < a[0])
        std::swap(a[mid], a[0]);
    if (a[n - 1] < a[0])
        std::swap(a[n - 1], a[0]);
    if (a[n - 1] < a[mid])
        std::swap(a[n - 1], a[mid]);
    const std::uint32_t pivot = a[mid];
    // Hoare partition: [0, j] <= pivot <= [j+1, n), both non-empty.
    std::size_t i = 0, j = n - 1;
    while (true) {
        while (a[i] < pivot)
            ++i;
        while (a[j] > pivot)
            --j;
        if (i >= j)
            break;
        std::swap(a[i], a[j]);
        ++i;
        --j;
    }
    const std::size_t left = j + 1;
    Fork::join2([&] { quick_sort<Fork>(a, left); }, [&] { quick_sort<Fork>(a + left, n - left); });
}

// ---------------------------------------------------------------------------------------------
// integrate.

constexpr double k_integrate_eps = 1e-9;

double integrand(double x) {
    return (x * x + 1.0) * x;
}

template <class Fork>
double integrate(double x1, double y1, double x2, double y2, double area) {
    const double half = (x2 - x1) / 2;
    const double x0 = x1 + half;
    const double y0 = integrand(x0);
    const double area_x1x0 = (y1 + y0) / 2 * half;
    const double area_x0x2 = (y0 + y2) / 2 * half;
    const double area_x1x2 = area_x1x0 + area_x0x2;
    if (std::fabs(area_x1x2 - area) < k_integrate_eps)
        return area_x1x2;
    double l = 0, r = 0;
    Fork::join2([&] { l = integrate<Fork>(x1, y1, x0, y0, area_x1x0); },
                [&] { r = integrate<Fork>(x0, y0, x2, y2, area_x0x2); });
    return l + r;
}

// ---------------------------------------------------------------------------------------------
// Workloads. body<Fork>() runs the kernel inside whatever system context the harness entered.

struct Workload {
    virtual ~Workload() = default;
    virtual std::uint64_t n() const = 0;
    virtual void reset() {}
    virtual bool check(std::uint64_t r) const = 0;
    // Time of the last run when the workload measures itself (wakeup); < 0: wall time.
    virtual double self_time() const { return -1; }
    // The serial version for the capacity probe (bench/capacity.hpp), when it may run on several
    // threads at once; empty: the probe's integer kernel.
    virtual std::function<std::uint64_t()> probe_kernel() const { return {}; }
};

// Fork-join workloads: one kernel, four instantiations.
struct ForkJoinWorkload : Workload {
    virtual std::uint64_t body_serial() = 0;
    virtual std::uint64_t body_spindle() = 0;
#if SPINDLE_BENCH_HAVE_TBB
    virtual std::uint64_t body_tbb() = 0;
#endif
#ifdef _OPENMP
    virtual std::uint64_t body_omp() = 0;
#endif
};

#if SPINDLE_BENCH_HAVE_TBB
#define BENCH_TBB_BODY(expr)            \
    std::uint64_t body_tbb() override { \
        return expr(bench::TbbFork);    \
    }
#else
#define BENCH_TBB_BODY(expr)
#endif
#ifdef _OPENMP
#define BENCH_OMP_BODY(expr)            \
    std::uint64_t body_omp() override { \
        return expr(bench::OmpFork);    \
    }
#else
#define BENCH_OMP_BODY(expr)
#endif
#define BENCH_BODIES(expr)                  \
    std::uint64_t body_serial() override {  \
        return expr(bench::SerialFork);     \
    }                                       \
    std::uint64_t body_spindle() override { \
        return expr(bench::SpindleFork);    \
    }                                       \
    BENCH_TBB_BODY(expr)                    \
    BENCH_OMP_BODY(expr)

struct UtsWorkload : ForkJoinWorkload {
    std::uint32_t max_depth;
    std::uint64_t expected;
    explicit UtsWorkload(std::uint64_t n)
        : max_depth(static_cast<std::uint32_t>(n)), expected(uts_reference(max_depth)) {}
    std::uint64_t n() const override { return max_depth; }
    bool check(std::uint64_t r) const override { return r == expected; }
#define UTS_RUN(F) uts<F>(k_uts_root_seed, 0, max_depth)
    BENCH_BODIES(UTS_RUN)
    std::function<std::uint64_t()> probe_kernel() const override {
        return [d = max_depth] { return uts<bench::SerialFork>(k_uts_root_seed, 0, d); };
    }
};

struct MatmulWorkload : ForkJoinWorkload {
    std::size_t size;
    std::vector<double> a, b, c;
    std::uint64_t expected_sum = 0;
    double expected_first = 0, expected_last = 0;
    explicit MatmulWorkload(std::uint64_t n) : size(n), a(n * n), b(n * n), c(n * n) {
        SplitMix64 g{42};
        for (auto& x : a)
            x = static_cast<double>(g.next_u64() >> 62);  // 0..3: every sum below is exact
        for (auto& x : b)
            x = static_cast<double>(g.next_u64() >> 62);
        // sum(C) = sum_k (column k of A summed) * (row k of B summed).
        for (std::size_t k = 0; k < size; ++k) {
            double ca = 0, rb = 0;
            for (std::size_t i = 0; i < size; ++i) {
                ca += a[i * size + k];
                rb += b[k * size + i];
            }
            expected_sum += static_cast<std::uint64_t>(ca) * static_cast<std::uint64_t>(rb);
        }
        for (std::size_t k = 0; k < size; ++k) {
            expected_first += a[k] * b[k * size];
            expected_last += a[(size - 1) * size + k] * b[k * size + size - 1];
        }
    }
    std::uint64_t n() const override { return size; }
    void reset() override { std::fill(c.begin(), c.end(), 0.0); }
    std::uint64_t digest() const {
        double s = 0;
        for (double x : c)
            s += x;
        return static_cast<std::uint64_t>(s);
    }
    bool check(std::uint64_t r) const override {
        return r == expected_sum && c.front() == expected_first && c.back() == expected_last;
    }
#define MATMUL_RUN(F) (matmul<F>(a.data(), b.data(), c.data(), size, size), digest())
    BENCH_BODIES(MATMUL_RUN)
};

// Shared by mergesort and quicksort: input, scratch, and an O(n) check (sorted + the same
// multiset, by a sum and a sum of hashes).
struct SortInput {
    std::vector<std::uint32_t> input, work, scratch;
    std::uint64_t sum = 0, hash = 0;
    explicit SortInput(std::uint64_t n) : input(n), work(n), scratch(n) {
        SplitMix64 g{42};
        for (auto& x : input)
            x = g.next_u32();
        for (std::uint32_t x : input) {
            sum += x;
            hash += mix64(x);
        }
    }
    void reset() { std::copy(input.begin(), input.end(), work.begin()); }
    std::uint64_t digest() const { return work.empty() ? 0 : work[work.size() / 2]; }
    bool check(std::uint64_t r) const {
        if (r != digest() || !std::is_sorted(work.begin(), work.end()))
            return false;
        std::uint64_t s = 0, h = 0;
        for (std::uint32_t x : work) {
            s += x;
            h += mix64(x);
        }
        return s == sum && h == hash;
    }
};

struct MergesortWorkload : ForkJoinWorkload {
    SortInput in;
    explicit MergesortWorkload(std::uint64_t n) : in(n) {}
    std::uint64_t n() const override { return in.input.size(); }
    void reset() override { in.reset(); }
    bool check(std::uint64_t r) const override { return in.check(r); }
#define MSORT_RUN(F) \
    (merge_sort<F>(in.work.data(), in.scratch.data(), in.work.size(), false), in.digest())
    BENCH_BODIES(MSORT_RUN)
};

struct QuicksortWorkload : ForkJoinWorkload {
    SortInput in;
    explicit QuicksortWorkload(std::uint64_t n) : in(n) {}
    std::uint64_t n() const override { return in.input.size(); }
    void reset() override { in.reset(); }
    bool check(std::uint64_t r) const override { return in.check(r); }
#define QSORT_RUN(F) (quick_sort<F>(in.work.data(), in.work.size()), in.digest())
    BENCH_BODIES(QSORT_RUN)
};

struct IntegrateWorkload : ForkJoinWorkload {
    std::uint64_t upper;
    explicit IntegrateWorkload(std::uint64_t n) : upper(n) {}
    std::uint64_t n() const override { return upper; }
    template <class Fork>
    std::uint64_t run() const {
        const double x2 = static_cast<double>(upper);
        const double y1 = integrand(0.0), y2 = integrand(x2);
        const double r = integrate<Fork>(0.0, y1, x2, y2, (y1 + y2) / 2 * x2);
        std::uint64_t bits;
        std::memcpy(&bits, &r, sizeof bits);
        return bits;
    }
    bool check(std::uint64_t bits) const override {
        double r;
        std::memcpy(&r, &bits, sizeof r);
        const double x = static_cast<double>(upper);
        const double exact = x * x * x * x / 4 + x * x / 2;
        return std::fabs(r - exact) <= 1e-9 * std::max(1.0, exact);
    }
#define INTEGRATE_RUN(F) run<F>()
    BENCH_BODIES(INTEGRATE_RUN)
};

// ---------------------------------------------------------------------------------------------
// Pool behaviour: submit one job from this (non-worker) thread to an idle pool of T threads.

constexpr auto k_idle_gap = std::chrono::milliseconds(10);

struct PoolJobWorkload : Workload {
    std::uint64_t count;
    double last_latency = -1;
    // Written by the job when it starts; read by the submitter once the job has finished. Plain
    // data: install(), the end of the OpenMP region and tbb_done's release/acquire order the two.
    Clock::time_point started{};
    // TBB only: set to 1 by the enqueued job (release, then notify_one) when it is done; the
    // submitter waits for it (acquire, atomic wait) and resets it to 0 before the next job. A
    // member, not a local, so the job's notify never touches a dead object.
    std::atomic<int> tbb_done{0};

    explicit PoolJobWorkload(std::uint64_t n) : count(n) {}
    std::uint64_t n() const override { return count; }
    bool check(std::uint64_t r) const override { return r == count; }
    double self_time() const override { return last_latency; }
};
struct IdleWorkload : PoolJobWorkload {
    using PoolJobWorkload::PoolJobWorkload;
};
struct WakeupWorkload : PoolJobWorkload {
    using PoolJobWorkload::PoolJobWorkload;
};

// ---------------------------------------------------------------------------------------------
// CLI and measurement.

using bench::available_parallelism;
using bench::compiler_string;
using bench::json_list;
using bench::median_of_sorted;
using bench::peak_rss_kb;

constexpr const char* k_prog = "bench_suite_compare";
constexpr const char* k_usage =
    "usage: bench_suite_compare <workload> --n N --threads T --reps R [--warmup W]\n"
    "                           [--system serial|spindle|tbb|omp|all] [--list-systems]\n"
    "  workload   uts | matmul | mergesort | quicksort | integrate | idle | wakeup\n"
    "  --n        uts: depth limit (default 9); matmul: matrix side, a power of 2 >= 32 (256);\n"
    "             mergesort, quicksort: element count (4194304); integrate: upper bound (600);\n"
    "             idle: ticks of 10 ms (10); wakeup: samples per rep (10)\n"
    "  --threads  pool size (default: available parallelism); ignored by the serial system\n"
    "  --reps     timed repetitions (default 7)\n"
    "  --warmup   untimed repetitions after pool creation (default 1)\n"
    "  --max-time S  stop timing once 3 or more reps took S seconds in total (default: no limit)\n"
    "  --system   one system, or all available ones in order (default all)\n"
    "  --list-systems  print the systems this build has and exit\n";

struct Args {
    std::string workload;
    std::uint64_t n = 0;  // 0: the workload's quick default
    std::size_t threads = 0;
    std::size_t reps = 7;
    std::size_t warmup = 1;
    double max_time = 0;  // --max-time: stop after 3+ reps once the timed total passes it
    std::vector<System> systems;
};

[[noreturn]] void usage_exit(const std::string& msg) {
    if (!msg.empty())
        std::fprintf(stderr, "%s: %s\n", k_prog, msg.c_str());
    std::fputs(k_usage, stderr);
    std::exit(2);
}

std::uint64_t parse_u64(const std::string& flag, const char* s) {
    if (s == nullptr)
        usage_exit(flag + " needs a value");
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s, &end, 10);
    if (*s == '\0' || *s == '-' || end == nullptr || *end != '\0' || errno != 0)
        usage_exit(flag + ": not a number: " + s);
    return static_cast<std::uint64_t>(v);
}

bool is_power_of_2(std::uint64_t n) {
    return n != 0 && (n & (n - 1)) == 0;
}

Args parse_args(int argc, char** argv) {
    Args a;
    bool have_workload = false;
    std::string system = "all";
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        std::string flag = arg;
        std::string inline_value;
        bool has_inline = false;
        if (arg.rfind("--", 0) == 0) {
            auto eq = arg.find('=');
            if (eq != std::string::npos) {
                flag = arg.substr(0, eq);
                inline_value = arg.substr(eq + 1);
                has_inline = true;
            }
        }
        auto value = [&]() -> const char* {
            if (has_inline)
                return inline_value.c_str();
            return (i + 1 < argc) ? argv[++i] : nullptr;
        };
        if (flag == "--n") {
            a.n = parse_u64(flag, value());
        } else if (flag == "--threads") {
            a.threads = static_cast<std::size_t>(parse_u64(flag, value()));
        } else if (flag == "--reps") {
            a.reps = static_cast<std::size_t>(parse_u64(flag, value()));
        } else if (flag == "--max-time") {
            const char* v = value();
            char* end = nullptr;
            a.max_time = v ? std::strtod(v, &end) : -1;
            if (v == nullptr || *v == '\0' || *end != '\0' || !(a.max_time >= 0))
                usage_exit("--max-time needs a number of seconds >= 0");
        } else if (flag == "--warmup") {
            a.warmup = static_cast<std::size_t>(parse_u64(flag, value()));
        } else if (flag == "--system") {
            const char* v = value();
            system = v ? v : "";
        } else if (flag == "--list-systems") {
            bench::print_available_systems();
            std::exit(0);
        } else if (flag == "-h" || flag == "--help") {
            std::fputs(k_usage, stdout);
            std::exit(0);
        } else if (!flag.empty() && flag[0] == '-') {
            usage_exit("unknown option " + flag);
        } else {
            if (have_workload)
                usage_exit("unexpected argument " + arg);
            a.workload = arg;
            have_workload = true;
        }
    }
    if (!have_workload)
        usage_exit("missing workload");
    if (system == "all") {
        for (System s : {System::serial, System::spindle, System::tbb, System::omp})
            if (bench::system_available(s))
                a.systems.push_back(s);
    } else {
        System s{};
        if (!bench::parse_system(system, s))
            usage_exit("unknown --system " + system);
        if (!bench::system_available(s))
            bench::unavailable_exit(k_prog, s);
        a.systems.push_back(s);
    }
    if (a.reps == 0)
        usage_exit("--reps must be >= 1");
    const std::string& w = a.workload;
    if (w == "uts") {
        if (a.n == 0)
            a.n = 9;
        if (a.n > 30)
            usage_exit("uts: depth limit at most 30");
    } else if (w == "matmul") {
        if (a.n == 0)
            a.n = 256;
        if (!is_power_of_2(a.n) || a.n < k_matmul_leaf || a.n > 8192)
            usage_exit("matmul: n must be a power of 2 in [32, 8192]");
    } else if (w == "mergesort" || w == "quicksort") {
        if (a.n == 0)
            a.n = std::uint64_t{1} << 22;
        if (a.n > (std::uint64_t{1} << 31))
            usage_exit(w + ": n at most 2^31");
    } else if (w == "integrate") {
        if (a.n == 0)
            a.n = 600;
        if (a.n > 1000000)
            usage_exit("integrate: n at most 10^6");
    } else if (w == "idle" || w == "wakeup") {
        if (a.n == 0)
            a.n = 10;
        if (a.n > 100000)
            usage_exit(w + ": n at most 100000");
    } else {
        usage_exit("unknown workload " + w);
    }
    if (a.threads == 0)
        a.threads = available_parallelism();
    return a;
}

// Warm-up + timed reps of one system; prints its JSON line; returns whether all checked. With
// `base_run` (T > 1: the same kernel on a 1-worker pool of the same system) the 1-worker and
// T-worker reps alternate, with a capacity probe after each pair (bench/capacity.hpp);
// `hooks` add a stats snapshot and fields (the pool's counters).
template <class Run>
bool measure(const Args& args,
             Workload& w,
             System sys,
             std::size_t threads,
             Run&& run,
             const std::function<std::uint64_t()>& base_run = {},
             const bench::Hooks& hooks = {}) {
    bool checked = true;
    std::uint64_t result = 0;
    auto timed = [&](auto& f) {
        w.reset();
        bench::RepClock clock;
        clock.start();
        const std::uint64_t r = f();
        bench::Sample sample = clock.stop();
        if (!w.check(r))
            checked = false;
        result = r;
        const double self = w.self_time();
        if (self >= 0)
            sample.figure_s = self;
        return sample;
    };
    bench::Series s(threads, w.probe_kernel());
    std::function<bench::Sample()> base;
    if (base_run)
        base = [&] { return timed(base_run); };
    bench::SeriesOptions o;
    o.reps = args.reps;
    o.warmup = args.warmup;
    o.max_time = args.max_time;
    o.threads = threads;
    o.before_timed = hooks.before_timed;
    bench::run_series(
        s, o, [&] { return timed(run); }, base);
    const std::vector<double> times = s.times(), cpus = s.cpus();
    std::vector<double> st = times, sc = cpus;
    std::sort(st.begin(), st.end());
    std::sort(sc.begin(), sc.end());
    std::printf(
        "{\"workload\":\"%s\",\"system\":\"%s\",\"lang\":\"cpp\",\"threads\":%zu,\"n\":%" PRIu64
        ",\"reps\":%zu,\"warmup\":%zu,\"times_s\":%s,\"median_s\":%.9f,\"min_s\":%.9f,"
        "\"max_s\":%.9f,\"cpu_s\":%s,\"cpu_median_s\":%.9f,\"peak_rss_kb\":%ld,\"result\":%" PRIu64
        "%s%s,\"compiler\":\"%s\",\"checked\":%s}\n",
        args.workload.c_str(), bench::system_name(sys), threads, w.n(), times.size(), args.warmup,
        json_list(times).c_str(), median_of_sorted(st), st.front(), st.back(),
        json_list(cpus).c_str(), median_of_sorted(sc), peak_rss_kb(), result, s.json().c_str(),
        hooks.extra_json ? hooks.extra_json().c_str() : "", compiler_string(),
        checked ? "true" : "false");
    std::fflush(stdout);
    if (!checked) {
        std::fprintf(stderr, "%s: %s %s threads=%zu: WRONG RESULT (last %" PRIu64 ")\n", k_prog,
                     args.workload.c_str(), bench::system_name(sys), threads, result);
    }
    return checked;
}

bool run_fork_join(const Args& args, ForkJoinWorkload& w, System sys) {
    const std::size_t t = args.threads;
    switch (sys) {
        case System::serial:
            return measure(args, w, sys, 1, [&] { return w.body_serial(); });
        case System::spindle: {
            spindle::PoolOptions opts;
            opts.num_threads = t;
            spindle::ThreadPool pool(opts);
            spindle::PoolStats stats0;  // the counters after the warm-up (bench/spindle_stats.hpp)
            // T > 1: a 1-worker pool beside it; their reps alternate (bench/capacity.hpp).
            std::optional<spindle::ThreadPool> base_pool;
            std::function<std::uint64_t()> base_run;
            if (t > 1) {
                spindle::PoolOptions base_opts;
                base_opts.num_threads = 1;
                base_pool.emplace(base_opts);
                base_run = [&] { return base_pool->install([&] { return w.body_spindle(); }); };
            }
            return measure(
                args, w, sys, t, [&] { return pool.install([&] { return w.body_spindle(); }); },
                base_run, bench::stats_hooks(pool, stats0));
        }
        case System::tbb: {
#if SPINDLE_BENCH_HAVE_TBB
            bench::TbbContext ctx(t);
            return measure(args, w, sys, t, [&] { return ctx.run([&] { return w.body_tbb(); }); });
#else
            bench::unavailable_exit(k_prog, sys);
#endif
        }
        case System::omp: {
#ifdef _OPENMP
            return measure(args, w, sys, t,
                           [&] { return bench::omp_run_tasks(t, [&] { return w.body_omp(); }); });
#else
            bench::unavailable_exit(k_prog, sys);
#endif
        }
    }
    return false;
}

// idle and wakeup: `submit(job)` runs job on a pool thread and returns when it finished.
template <class Submit>
std::uint64_t pool_job_rep(PoolJobWorkload& w, bool wakeup, Submit&& submit) {
    std::uint64_t done = 0;
    double latency_sum = 0;
    for (std::uint64_t i = 0; i < w.count; ++i) {
        if (wakeup) {
            std::this_thread::sleep_for(k_idle_gap);  // the pool goes idle
            const auto t0 = Clock::now();
            submit([&] { w.started = Clock::now(); });
            latency_sum += std::chrono::duration<double>(w.started - t0).count();
        } else {
            submit([] {});
            std::this_thread::sleep_for(k_idle_gap);
        }
        ++done;
    }
    w.last_latency = wakeup ? latency_sum / static_cast<double>(w.count) : -1;
    return done;
}

bool run_pool_job(const Args& args, PoolJobWorkload& w, bool wakeup, System sys) {
    const std::size_t t = args.threads;
    switch (sys) {
        case System::serial:
            return measure(args, w, sys, 1,
                           [&] { return pool_job_rep(w, wakeup, [](auto&& job) { job(); }); });
        case System::spindle: {
            spindle::PoolOptions opts;
            opts.num_threads = t;
            spindle::ThreadPool pool(opts);
            spindle::PoolStats stats0;  // the counters after the warm-up (bench/spindle_stats.hpp)
            return measure(
                args, w, sys, t,
                [&] { return pool_job_rep(w, wakeup, [&](auto&& job) { pool.install(job); }); }, {},
                bench::stats_hooks(pool, stats0));
        }
        case System::tbb: {
#if SPINDLE_BENCH_HAVE_TBB
            bench::TbbContext ctx(t, /*caller_works=*/false);
            return measure(args, w, sys, t, [&] {
                return pool_job_rep(w, wakeup, [&](auto&& job) {
                    w.tbb_done.store(0, std::memory_order_relaxed);
                    ctx.arena().enqueue([&w, &job] {
                        job();
                        w.tbb_done.store(1, std::memory_order_release);
                        w.tbb_done.notify_one();
                    });
                    while (w.tbb_done.load(std::memory_order_acquire) == 0)
                        w.tbb_done.wait(0, std::memory_order_acquire);
                });
            });
#else
            bench::unavailable_exit(k_prog, sys);
#endif
        }
        case System::omp: {
#ifdef _OPENMP
            return measure(args, w, sys, t, [&] {
                return pool_job_rep(w, wakeup, [&](auto&& job) {
                    auto* pj = &job;
#pragma omp parallel num_threads(static_cast <int>(t + 1))
                    {
                        if (omp_get_thread_num() == 1)
                            (*pj)();
                    }
                });
            });
#else
            bench::unavailable_exit(k_prog, sys);
#endif
        }
    }
    return false;
}

std::unique_ptr<Workload> make_workload(const Args& args) {
    const std::string& w = args.workload;
    if (w == "uts")
        return std::make_unique<UtsWorkload>(args.n);
    if (w == "matmul")
        return std::make_unique<MatmulWorkload>(args.n);
    if (w == "mergesort")
        return std::make_unique<MergesortWorkload>(args.n);
    if (w == "quicksort")
        return std::make_unique<QuicksortWorkload>(args.n);
    if (w == "integrate")
        return std::make_unique<IntegrateWorkload>(args.n);
    if (w == "idle")
        return std::make_unique<IdleWorkload>(args.n);
    return std::make_unique<WakeupWorkload>(args.n);
}

}  // namespace

int main(int argc, char** argv) {
    const Args args = parse_args(argc, argv);
    bool ok = true;
    try {
        std::unique_ptr<Workload> w = make_workload(args);  // input generation: untimed
        for (System sys : args.systems) {
            bool r;
            if (auto* fj = dynamic_cast<ForkJoinWorkload*>(w.get()))
                r = run_fork_join(args, *fj, sys);
            else
                r = run_pool_job(args, static_cast<PoolJobWorkload&>(*w), args.workload == "wakeup",
                                 sys);
            ok = ok && r;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: exception: %s\n", k_prog, e.what());
        return 1;
    } catch (...) {
        std::fprintf(stderr, "%s: unknown exception\n", k_prog);
        return 1;
    }
    return ok ? 0 : 1;
}
