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
// A plain program on bench/harness.hpp (CLI, series, JSON line); no Google Benchmark.

#include "harness.hpp"

#include <spindle/spindle.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using bench::System;
using Clock = std::chrono::steady_clock;

// SplitMix64 and its mixer: bench/harness.hpp (bench/rayon/src/workloads/data.rs has the same).
using bench::k_golden;
using bench::mix64;
using bench::SplitMix64;

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
    // One phase: the four products C11 += At·Bl, C12 += At·Br, C21 += Ab·Bl, C22 += Ab·Br of
    // one column of A's blocks (top At, bottom Ab) and one row of B's (left Bl, right Br); each
    // C block is written by one task a phase.
    auto phase = [&](const double* at, const double* ab, const double* bl, const double* br) {
        Fork::join2(
            [&] {
                Fork::join2([&] { matmul<Fork>(at, bl, c11, h, ld); },
                            [&] { matmul<Fork>(at, br, c12, h, ld); });
            },
            [&] {
                Fork::join2([&] { matmul<Fork>(ab, bl, c21, h, ld); },
                            [&] { matmul<Fork>(ab, br, c22, h, ld); });
            });
    };
    phase(a11, a21, b11, b12);  // phase 1: A's left column of blocks
    phase(a12, a22, b21, b22);  // phase 2: its right column
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
// Workloads: n(), reset() (untimed, before every rep), check(result) (untimed, after it),
// probe_kernel() (bench::RepSpec), and for the fork-join ones run<Fork>(), the kernel inside
// whatever system context the harness entered: one kernel, four instantiations.

struct WorkloadBase {
    void reset() {}
    // The serial version for the capacity probe (bench/capacity.hpp), when it may run on several
    // threads at once; empty: the probe's integer kernel.
    std::function<std::uint64_t()> probe_kernel() const { return {}; }
};

struct UtsWorkload : WorkloadBase {
    std::uint32_t max_depth;
    std::uint64_t expected;

    explicit UtsWorkload(std::uint64_t n)
        : max_depth(static_cast<std::uint32_t>(n)), expected(uts_reference(max_depth)) {}
    std::uint64_t n() const { return max_depth; }
    bool check(std::uint64_t r) const { return r == expected; }
    template <class Fork>
    std::uint64_t run() const {
        return uts<Fork>(k_uts_root_seed, 0, max_depth);
    }
    std::function<std::uint64_t()> probe_kernel() const {
        return [d = max_depth] { return uts<bench::SerialFork>(k_uts_root_seed, 0, d); };
    }
};

struct MatmulWorkload : WorkloadBase {
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
    std::uint64_t n() const { return size; }
    void reset() { std::fill(c.begin(), c.end(), 0.0); }
    std::uint64_t digest() const {
        double s = 0;
        for (double x : c)
            s += x;
        return static_cast<std::uint64_t>(s);
    }
    bool check(std::uint64_t r) const {
        return r == expected_sum && c.front() == expected_first && c.back() == expected_last;
    }
    template <class Fork>
    std::uint64_t run() {
        matmul<Fork>(a.data(), b.data(), c.data(), size, size);
        return digest();
    }
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

// mergesort (Quick = false) and quicksort (Quick = true) of the same input.
template <bool Quick>
struct SortWorkload : WorkloadBase {
    SortInput in;
    explicit SortWorkload(std::uint64_t n) : in(n) {}
    std::uint64_t n() const { return in.input.size(); }
    void reset() { in.reset(); }
    bool check(std::uint64_t r) const { return in.check(r); }
    template <class Fork>
    std::uint64_t run() {
        if constexpr (Quick)
            quick_sort<Fork>(in.work.data(), in.work.size());
        else
            merge_sort<Fork>(in.work.data(), in.scratch.data(), in.work.size(), false);
        return in.digest();
    }
};

struct IntegrateWorkload : WorkloadBase {
    std::uint64_t upper;
    explicit IntegrateWorkload(std::uint64_t n) : upper(n) {}
    std::uint64_t n() const { return upper; }
    template <class Fork>
    std::uint64_t run() const {
        const double x2 = static_cast<double>(upper);
        const double y1 = integrand(0.0), y2 = integrand(x2);
        const double r = integrate<Fork>(0.0, y1, x2, y2, (y1 + y2) / 2 * x2);
        std::uint64_t bits;
        std::memcpy(&bits, &r, sizeof bits);
        return bits;
    }
    bool check(std::uint64_t bits) const {
        double r;
        std::memcpy(&r, &bits, sizeof r);
        const double x = static_cast<double>(upper);
        const double exact = x * x * x * x / 4 + x * x / 2;
        return std::fabs(r - exact) <= 1e-9 * std::max(1.0, exact);
    }
};

// ---------------------------------------------------------------------------------------------
// Pool behaviour: submit one job from this (non-worker) thread to an idle pool of T threads.

constexpr auto k_idle_gap = std::chrono::milliseconds(10);

struct PoolJobWorkload : WorkloadBase {
    std::uint64_t count;
    bool wakeup;  // wakeup (the latency of each job) or idle (the CPU burnt between them)
    double last_latency = -1;
    // Written by the job when it starts; read by the submitter once the job has finished. Plain
    // data: install(), the end of the OpenMP region and tbb_done's release/acquire order the two.
    Clock::time_point started{};
    // TBB only: set to 1 by the enqueued job (release, then notify_one) when it is done; the
    // submitter waits for it (acquire, atomic wait) and resets it to 0 before the next job. A
    // member, not a local, so the job's notify never touches a dead object.
    std::atomic<int> tbb_done{0};

    PoolJobWorkload(std::uint64_t n, bool is_wakeup) : count(n), wakeup(is_wakeup) {}
    std::uint64_t n() const { return count; }
    bool check(std::uint64_t r) const { return r == count; }
};

// ---------------------------------------------------------------------------------------------
// The program.

bool is_power_of_2(std::uint64_t n) {
    return n != 0 && (n & (n - 1)) == 0;
}
std::string check_uts_n(std::uint64_t n) {
    return n > 30 ? "depth limit at most 30" : "";
}
std::string check_matmul_n(std::uint64_t n) {
    return (!is_power_of_2(n) || n < k_matmul_leaf || n > 8192)
               ? "n must be a power of 2 in [32, 8192]"
               : "";
}
std::string check_sort_n(std::uint64_t n) {
    return n > (std::uint64_t{1} << 31) ? "n at most 2^31" : "";
}
std::string check_integrate_n(std::uint64_t n) {
    return n > 1000000 ? "n at most 10^6" : "";
}
std::string check_pool_job_n(std::uint64_t n) {
    return n > 100000 ? "n at most 100000" : "";
}

const bench::ProgramSpec k_spec{
    "bench_suite_compare",
    {{"uts", 9, check_uts_n},
     {"matmul", 256, check_matmul_n},
     {"mergesort", std::uint64_t{1} << 22, check_sort_n},
     {"quicksort", std::uint64_t{1} << 22, check_sort_n},
     {"integrate", 600, check_integrate_n},
     {"idle", 10, check_pool_job_n},
     {"wakeup", 10, check_pool_job_n}},
    "uts | matmul | mergesort | quicksort | integrate | idle | wakeup",
    "uts: depth limit (default 9); matmul: matrix side, a power of 2 >= 32 (256);\n"
    "             mergesort, quicksort: element count (4194304); integrate: upper bound (600);\n"
    "             idle: ticks of 10 ms (10); wakeup: samples per rep (10)",
};

template <class W>
bool run_fork_join(const bench::Args& args) {
    W w(args.n);  // input generation: untimed
    return bench::measure_systems(
        args, bench::rep_spec(w),
        bench::fork_bodies([&w]<class Fork>() -> std::uint64_t { return w.template run<Fork>(); }));
}

// idle and wakeup: `submit(job)` runs job on a pool thread and returns when it finished.
template <class Submit>
std::uint64_t pool_job_rep(PoolJobWorkload& w, Submit&& submit) {
    std::uint64_t done = 0;
    double latency_sum = 0;
    for (std::uint64_t i = 0; i < w.count; ++i) {
        if (w.wakeup) {
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
    w.last_latency = w.wakeup ? latency_sum / static_cast<double>(w.count) : -1;
    return done;
}

// For idle and wakeup the caller never works: T pool threads run the job, and there is no
// 1-worker pool beside spindle's.
bool run_pool_job(const bench::Args& args) {
    PoolJobWorkload w(args.n, args.workload == "wakeup");
    bench::RepSpec spec = bench::rep_spec(w);
    spec.self_time = [&w] { return w.last_latency; };
    const std::size_t t = args.threads;
    bool ok = true;
    for (System sys : args.systems) {
        bool r = true;
        switch (sys) {
            case System::serial:
                r = bench::measure(args, spec, "serial", 1,
                                   [&] { return pool_job_rep(w, [](auto&& job) { job(); }); });
                break;
            case System::spindle:
                r = bench::measure_spindle(
                    args, spec, "spindle",
                    [&](spindle::ThreadPool& pool) {
                        return pool_job_rep(w, [&](auto&& job) { pool.install(job); });
                    },
                    /*with_base=*/false);
                break;
            case System::tbb: {
#if SPINDLE_BENCH_HAVE_TBB
                bench::TbbContext ctx(t, /*caller_works=*/false);
                r = bench::measure(args, spec, "tbb", t, [&] {
                    return pool_job_rep(w, [&](auto&& job) {
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
#endif
                break;
            }
            case System::omp: {
#ifdef _OPENMP
                r = bench::measure(args, spec, "omp", t, [&] {
                    return pool_job_rep(w, [&](auto&& job) {
                        auto* pj = &job;
#pragma omp parallel num_threads(static_cast <int>(t + 1))
                        {
                            if (omp_get_thread_num() == 1)
                                (*pj)();
                        }
                    });
                });
#endif
                break;
            }
        }
        ok = ok && r;
    }
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    return bench::run_main(k_spec, argc, argv, [](const bench::Args& args) {
        const std::string& w = args.workload;
        if (w == "uts")
            return run_fork_join<UtsWorkload>(args);
        if (w == "matmul")
            return run_fork_join<MatmulWorkload>(args);
        if (w == "mergesort")
            return run_fork_join<SortWorkload<false>>(args);
        if (w == "quicksort")
            return run_fork_join<SortWorkload<true>>(args);
        if (w == "integrate")
            return run_fork_join<IntegrateWorkload>(args);
        return run_pool_job(args);
    });
}
