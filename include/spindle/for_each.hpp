// for_each / try_for_each: call a function on every element of a random-access range, in
// parallel, with rustc's grouping (par_for_each_in / try_par_for_each_in).
//
//     std::vector<Item> items = ...;
//     spindle::for_each(items, [](Item& item) { item.check(); });
//     std::optional<Error> e = spindle::try_for_each(
//         std::views::iota(0, n), [&](int i) -> std::optional<Error> { return step(i); });
#pragma once

#include "spindle/detail/algorithm.hpp"

#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>

namespace spindle {

namespace detail {
template <class T>
inline constexpr bool is_optional_v = false;
template <class T>
inline constexpr bool is_optional_v<std::optional<T>> = true;
}  // namespace detail

/// Calls f(element) once for every element of r (anything with random access and a size:
/// std::vector, std::span, std::views::iota(a, b), ...), potentially in parallel. f is called
/// concurrently, through a const reference, and receives what r's iterator dereferences to (so
/// it may modify a vector's elements).
///
/// Grouping, as rustc's par_for_each_in: the index range is halved recursively with join()
/// down to groups of max(len / 128, 1) elements; the elements of a group run in index order on
/// one worker. Outside any pool it runs in the global pool.
///
/// Exceptions, as rustc's parallel_guard: every element runs even if some throw; afterwards the
/// exception of the lowest-index element that threw is rethrown (the others are dropped).
template <class Range, class F>
requires detail::index_range<Range> &&
    std::invocable<const F&, std::ranges::range_reference_t<Range>>
void for_each(Range&& r, F f) {
    const std::size_t len = static_cast<std::size_t>(std::ranges::size(r));
    if (len == 0)
        return;
    const auto first = std::ranges::begin(r);
    const F& fn = f;
    auto each = [&](std::size_t i) { std::invoke(fn, detail::element_at(first, i)); };
    auto leaf = [&](std::size_t lo, std::size_t hi) { return detail::run_each(lo, hi, each); };
    auto combine = [](std::exception_ptr left, std::exception_ptr right) noexcept {
        return detail::first_error(std::move(left), std::move(right));
    };
    std::exception_ptr error = detail::in_pool(
        [&] { return detail::fixed_groups(0, len, detail::rustc_group_size(len), leaf, combine); });
    if (error)
        std::rethrow_exception(error);
}

/// Like for_each, for a fallible f that returns std::optional<E> (std::nullopt = success).
/// Every element runs, whatever the others returned. Returns the error of the lowest-index
/// element that failed, or std::nullopt. (rustc's try_par_for_each_in returns whichever error
/// was stored last, which depends on timing; this choice is deterministic, and it is what
/// rustc's serial mode returns.)
///
/// If some elements throw, the exception of the lowest-index one is rethrown, whatever errors
/// others returned (rustc resumes a panic in the same way). Errors other than the one returned
/// are destroyed.
template <class Range, class F>
requires detail::index_range<Range> &&
    std::invocable<const F&, std::ranges::range_reference_t<Range>> &&
    detail::is_optional_v<std::invoke_result_t<const F&, std::ranges::range_reference_t<Range>>>
        std::invoke_result_t<const F&, std::ranges::range_reference_t<Range>> try_for_each(
            Range&& r, F f) {
    using Result = std::invoke_result_t<const F&, std::ranges::range_reference_t<Range>>;
    struct Outcome {
        std::exception_ptr exception;  // of the lowest-index element that threw
        Result error;                  // of the lowest-index element that failed
    };
    const std::size_t len = static_cast<std::size_t>(std::ranges::size(r));
    if (len == 0)
        return std::nullopt;
    const auto first = std::ranges::begin(r);
    const F& fn = f;
    auto leaf = [&](std::size_t lo, std::size_t hi) {
        Outcome out{nullptr, std::nullopt};
        auto each = [&](std::size_t i) {
            Result e = std::invoke(fn, detail::element_at(first, i));
            if (e && !out.error)
                out.error = std::move(e);
        };
        out.exception = detail::run_each(lo, hi, each);
        return out;
    };
    auto combine = [](Outcome left, Outcome right) {
        if (!left.exception)
            left.exception = std::move(right.exception);
        if (!left.error)
            left.error = std::move(right.error);
        return left;
    };
    Outcome out = detail::in_pool(
        [&] { return detail::fixed_groups(0, len, detail::rustc_group_size(len), leaf, combine); });
    if (out.exception)
        std::rethrow_exception(out.exception);
    return std::move(out.error);
}

}  // namespace spindle
