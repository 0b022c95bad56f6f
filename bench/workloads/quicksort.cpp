// quicksort (bench/rayon/src/workloads/quicksort.rs is the rayon side): the input of mergesort
// (bench/workloads/sorting.hpp), sorted in place: median of 3, Hoare partition (sequential), both
// sides in parallel (sequential below 32768), insertion sort below 32. Result: element n/2.

#include "workloads/sorting.hpp"
#include "workloads/workloads.hpp"

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace {

using bench::insertion_sort;
using bench::k_insertion;
using bench::k_sort_seq;

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

struct QuickSort {
    template <class Fork>
    static void sort(bench::SortInput& in) {
        quick_sort<Fork>(in.work.data(), in.work.size());
    }
};

}  // namespace

bench::WorkloadSpec bench::workload_quicksort() {
    return {
        .name = "quicksort",
        .default_n = std::uint64_t{1} << 22,
        .check_n = bench::check_sort_n,
        .n_help = "element count (default 4194304, max 2^31)",
        .run = bench::run_fork_join<bench::SortWorkload<QuickSort>>,
    };
}
