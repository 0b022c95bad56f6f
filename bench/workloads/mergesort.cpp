// mergesort (bench/rayon/src/workloads/mergesort.rs is the rayon side): ping-pong merge sort of
// n u32 (bench/workloads/sorting.hpp): halves in parallel (sequential below 32768), parallel
// merge (sequential below 65536), insertion sort below 32. Result: element n/2.

#include "workloads/sorting.hpp"
#include "workloads/workloads.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace {

using bench::insertion_sort;
using bench::k_insertion;
using bench::k_sort_seq;

constexpr std::size_t k_merge_seq = 65536;  // below this a merge runs sequentially

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

struct MergeSort {
    template <class Fork>
    static void sort(bench::SortInput& in) {
        merge_sort<Fork>(in.work.data(), in.scratch.data(), in.work.size(), false);
    }
};

}  // namespace

bench::WorkloadSpec bench::workload_mergesort() {
    return {
        .name = "mergesort",
        .default_n = std::uint64_t{1} << 22,
        .check_n = bench::check_sort_n,
        .n_help = "element count (default 4194304, max 2^31)",
        .run = bench::run_fork_join<bench::SortWorkload<MergeSort>>,
    };
}
