// Internal building blocks of the parallel algorithms (for_each.hpp, map.hpp,
// parallel_for.hpp, reduce.hpp, sort.hpp): entering a pool, rustc's fixed grouping and
// rayon's adaptive splitter. Built only on the public join(); users never name detail::.
#pragma once

#include "spindle/current.hpp"
#include "spindle/join.hpp"
#include "spindle/pool.hpp"

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <exception>
#include <iterator>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>

namespace spindle::detail {

// What the range-taking algorithms accept: random access, with a size known up front
// (std::vector, std::span, std::array, std::views::iota(a, b), ...).
template <class R>
concept index_range = std::ranges::random_access_range<R> && std::ranges::sized_range<R>;

// Runs f() on a worker: inline when the caller is one, else in the global pool (the calling
// thread blocks), as join() and scope() do. Entering once at the top keeps the algorithms'
// recursion, and the splitter's notion of "the worker that split", inside one pool.
template <class F>
std::invoke_result_t<F&> in_pool(F&& f) {
    if (!spindle::current_thread_index()) [[unlikely]]
        return spindle::global_pool().install(f);
    return f();
}

// The i-th element of a random-access range, given its begin iterator.
template <class It>
decltype(auto) element_at(const It& first, std::size_t i) {
    return first[static_cast<std::iter_difference_t<It>>(i)];
}

// ---------------------------------------------------------------------------------------------
// Fixed grouping (rustc's par_slice, rustc_data_structures/src/sync/parallel.rs)
// ---------------------------------------------------------------------------------------------

// rustc's group size: max(len / 128, 1) elements, so a range is cut into at most ~128..256
// groups whatever the worker count.
constexpr std::size_t rustc_group_size(std::size_t len) noexcept {
    return std::max<std::size_t>(len / 128, 1);
}

// Recursive halving of [lo, hi) with join down to ranges of at most `group` elements;
// leaf(lo, hi) runs each such range, and combine(left, right) merges two results (left
// covers the lower indices). The left half gets (hi - lo) / 2 elements, as in rustc. Both
// halves always run; leaf and combine are expected not to throw (they report failures in
// their result), else join's rule applies (the left exception wins).
template <class Leaf, class Combine>
auto fixed_groups(std::size_t lo, std::size_t hi, std::size_t group, Leaf& leaf, Combine& combine)
    -> std::invoke_result_t<Leaf&, std::size_t, std::size_t> {
    if (hi - lo <= group)
        return leaf(lo, hi);
    const std::size_t mid = lo + (hi - lo) / 2;
    auto [left, right] =
        spindle::join([&] { return detail::fixed_groups(lo, mid, group, leaf, combine); },
                      [&] { return detail::fixed_groups(mid, hi, group, leaf, combine); });
    return combine(std::move(left), std::move(right));
}

// Of two failures, the one from the lower indices (the left one) wins.
inline std::exception_ptr first_error(std::exception_ptr left, std::exception_ptr right) noexcept {
    return left ? left : right;
}

// Runs f(i) for every i in [lo, hi) in order, even after some threw; returns the exception of
// the first that threw, or null.
template <class F>
std::exception_ptr run_each(std::size_t lo, std::size_t hi, F& f) noexcept {
    std::exception_ptr error;
    for (std::size_t i = lo; i < hi; ++i) {
        try {
            f(i);
        } catch (...) {
            if (!error)
                error = std::current_exception();
        }
    }
    return error;
}

// ---------------------------------------------------------------------------------------------
// Adaptive splitting (rayon's Splitter / LengthSplitter, rayon/src/iter/plumbing/mod.rs)
// ---------------------------------------------------------------------------------------------

// A split budget that halves with every split and is refilled when work turns out to be
// stolen: a stolen half means some worker was idle, so more pieces are worth making there.
struct Splitter {
    std::size_t splits;       // splits left on this path
    std::size_t num_threads;  // of the pool the work runs in
    std::size_t min_len;      // never make a piece shorter than this (at least 1)

    bool try_split(std::size_t len, bool stolen) noexcept {
        if (len / 2 < min_len)  // both halves would have at least min_len elements
            return false;
        if (stolen) {
            splits = std::max(num_threads, splits / 2);
            return true;
        }
        if (splits > 0) {
            splits /= 2;
            return true;
        }
        return false;
    }
};

// Splits [lo, hi) in halves with join while the splitter agrees, and runs leaf(lo, hi) on
// each piece; combine(left, right) merges the halves' results (left = lower indices). `stolen`
// says whether this piece runs on another worker than the one that split it off; `origin` is
// that worker. Must run on a worker.
template <class Leaf, class Combine>
auto adaptive_split(
    std::size_t lo, std::size_t hi, Splitter splitter, bool stolen, Leaf& leaf, Combine& combine)
    -> std::invoke_result_t<Leaf&, std::size_t, std::size_t> {
    if (!splitter.try_split(hi - lo, stolen))
        return leaf(lo, hi);
    const std::size_t mid = lo + (hi - lo) / 2;
    const std::optional<std::size_t> origin = spindle::current_thread_index();
    // Each half compares the worker it starts on with the one that split it: fibers never
    // migrate, so a difference means the half was stolen (rayon's FnContext::migrated()).
    auto [left, right] = spindle::join(
        [&] {
            return detail::adaptive_split(lo, mid, splitter,
                                          spindle::current_thread_index() != origin, leaf, combine);
        },
        [&] {
            return detail::adaptive_split(mid, hi, splitter,
                                          spindle::current_thread_index() != origin, leaf, combine);
        });
    return combine(std::move(left), std::move(right));
}

// Runs adaptive_split over [0, len) with a fresh budget of current_num_threads() splits; call
// on a worker (see in_pool).
template <class Leaf, class Combine>
auto adaptive_split_all(std::size_t len, std::size_t min_len, Leaf& leaf, Combine& combine)
    -> std::invoke_result_t<Leaf&, std::size_t, std::size_t> {
    const std::size_t threads = spindle::current_num_threads();
    const Splitter splitter{threads, threads, std::max<std::size_t>(min_len, 1)};
    return detail::adaptive_split(0, len, splitter, false, leaf, combine);
}

}  // namespace spindle::detail
