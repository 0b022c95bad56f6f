// What mergesort and quicksort (bench/workloads/mergesort.cpp, quicksort.cpp) share, as
// bench/rayon/src/workloads/sorting.rs: the cutoffs, the insertion sort below 32, and the
// workload around a kernel (the input, scratch, and an O(n) check: sorted + the same multiset,
// by a sum and a sum of hashes). Input: n u32 (splitmix64 seed 42, high bits). Result: element
// n/2.
#pragma once

#include "workloads/fork_join.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bench {

constexpr std::size_t k_insertion = 32;
constexpr std::size_t k_sort_seq = 32768;  // below this a subtree is sorted sequentially

inline void insertion_sort(std::uint32_t* a, std::size_t n) {
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

// mergesort or quicksort of the same input: `Sort::template sort<Fork>(in)` sorts in.work
// (in.scratch is its to use).
template <class Sort>
struct SortWorkload : WorkloadBase {
    SortInput in;
    explicit SortWorkload(std::uint64_t n) : in(n) {}
    std::uint64_t n() const { return in.input.size(); }
    void reset() { in.reset(); }
    bool check(std::uint64_t r) const { return in.check(r); }
    template <class Fork>
    std::uint64_t run() {
        Sort::template sort<Fork>(in);
        return in.digest();
    }
};

inline std::string check_sort_n(std::uint64_t n) {
    return n > (std::uint64_t{1} << 31) ? "n at most 2^31" : "";
}

}  // namespace bench
