// matmul (bench/rayon/src/workloads/matmul.rs is the rayon side): C += A·B, n×n doubles (n a
// power of 2 >= 32), recursive 2×2 blocking, 8 products in two phases of 4 (nested join2), 32×32
// leaves (i-k-j loops). Entries are small integers, so the result is exact. Result: the sum of C.

#include "workloads/fork_join.hpp"
#include "workloads/workloads.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using bench::SplitMix64;

// C += A·B on n×n row-major blocks with leading dimension ld.

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

struct MatmulWorkload : bench::WorkloadBase {
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

bool is_power_of_2(std::uint64_t n) {
    return n != 0 && (n & (n - 1)) == 0;
}
std::string check_matmul_n(std::uint64_t n) {
    return (!is_power_of_2(n) || n < k_matmul_leaf || n > 8192)
               ? "n must be a power of 2 in [32, 8192]"
               : "";
}

}  // namespace

bench::WorkloadSpec bench::workload_matmul() {
    return {
        .name = "matmul",
        .default_n = 256,
        .check_n = check_matmul_n,
        .n_help = "matrix side, a power of 2 in [32, 8192] (default 256)",
        .run = bench::run_fork_join<MatmulWorkload>,
    };
}
