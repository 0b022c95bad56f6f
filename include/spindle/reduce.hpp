// reduce / transform_reduce: combine every element of a random-access range with an
// associative operation, potentially in parallel, splitting adaptively as parallel_for does.
//
//     long total = spindle::reduce(values, 0L, std::plus<>{});
//     long squares = spindle::transform_reduce(values, 0L, std::plus<>{},
//                                              [](long v) { return v * v; });
#pragma once

#include "spindle/detail/algorithm.hpp"

#include <concepts>
#include <cstddef>
#include <functional>
#include <ranges>
#include <type_traits>
#include <utility>

namespace spindle {

/// Returns identity ⊕ t(r[0]) ⊕ t(r[1]) ⊕ ... ⊕ t(r[n-1]), where a ⊕ b is reduce_op(a, b) and
/// t is transform_op; identity when r is empty. Outside any pool it runs in the global pool.
///
/// Splitting is adaptive (see spindle::parallel_for; min_len as there). Each piece starts from
/// a copy of identity and folds its elements in index order, acc = reduce_op(move(acc),
/// t(x)); two adjacent pieces are combined as reduce_op(left, right). So:
///   - the operands always keep their index order: reduce_op need not be commutative;
///   - reduce_op must be associative, and identity an identity for it (it is used once per
///     piece), for the result to be the serial one;
///   - the bracketing (which pieces are formed) depends on timing, so an operation that is only
///     approximately associative (floating-point addition) may give different results from run
///     to run.
/// reduce_op and transform_op are called concurrently, through const references. T must be
/// copy constructible (identity is copied for each piece) and move assignable.
///
/// Exceptions: a piece stops at the first call that throws, the other pieces go on; after all
/// pieces have finished, the exception of the leftmost (lowest-index) failing call is
/// rethrown. Unlike for_each, not every element is visited after a failure.
template <class Range, class T, class ReduceOp, class TransformOp>
requires detail::index_range<Range> &&
    std::invocable<const TransformOp&, std::ranges::range_reference_t<Range>>
        T transform_reduce(Range&& r,
                           T identity,
                           ReduceOp reduce_op,
                           TransformOp transform_op,
                           std::size_t min_len = 1) {
    const std::size_t len = static_cast<std::size_t>(std::ranges::size(r));
    if (len == 0)
        return identity;
    const auto first = std::ranges::begin(r);
    const ReduceOp& rop = reduce_op;
    const TransformOp& top = transform_op;
    auto leaf = [&](std::size_t lo, std::size_t hi) {
        T acc = identity;
        // An iterator walk, not first[i]: gcc keeps a pointer increment per element here where
        // indexing cost a counter, a shift and an add (10 % slower on a memory-bound sum).
        using Diff = std::iter_difference_t<decltype(first)>;
        const auto last = first + static_cast<Diff>(hi);
        for (auto it = first + static_cast<Diff>(lo); it != last; ++it)
            acc = std::invoke(rop, std::move(acc), std::invoke(top, *it));
        return acc;
    };
    auto combine = [&](T left, T right) -> T {
        return std::invoke(rop, std::move(left), std::move(right));
    };
    return detail::in_pool(
        [&]() -> T { return detail::adaptive_split_all(len, min_len, leaf, combine); });
}

/// transform_reduce with the identity transform: identity ⊕ r[0] ⊕ ... ⊕ r[n-1]. The same
/// guarantees; op is called as op(T, element) within a piece and op(T, T) between pieces.
template <class Range, class T, class Op>
requires detail::index_range<Range> T reduce(Range&& r,
                                             T identity,
                                             Op op,
                                             std::size_t min_len = 1) {
    return spindle::transform_reduce(std::forward<Range>(r), std::move(identity), std::move(op),
                                     std::identity{}, min_len);
}

}  // namespace spindle
