// integrate (bench/rayon/src/workloads/integrate.rs is the rayon side): adaptive trapezoid
// quadrature of f(x) = (x²+1)x on [0, n], |new - old| < 1e-9 (libfork's and Taskflow's
// `integrate`). Result: the bits of the double (the same on every system and in Rust: same
// operations in the same order), checked against the exact integral.

#include "workloads/fork_join.hpp"
#include "workloads/workloads.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

namespace {

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

struct IntegrateWorkload : bench::WorkloadBase {
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

std::string check_integrate_n(std::uint64_t n) {
    return n > 1000000 ? "n at most 10^6" : "";
}

}  // namespace

bench::WorkloadSpec bench::workload_integrate() {
    return {
        .name = "integrate",
        .default_n = 600,
        .check_n = check_integrate_n,
        .n_help = "upper bound (default 600, max 10^6)",
        .run = bench::run_fork_join<IntegrateWorkload>,
    };
}
