// parallel_for: call a function on every integer of [begin, end), potentially in parallel,
// splitting the range adaptively as rayon's parallel iterators do.
//
//     spindle::parallel_for(std::size_t{0}, rows.size(), [&](std::size_t i) { blur(rows[i]); });
#pragma once

#include "spindle/detail/algorithm.hpp"

#include <concepts>
#include <cstddef>
#include <exception>
#include <type_traits>

namespace spindle {

/// Calls f(i) once for every i in [begin, end) (nothing when end <= begin), potentially in
/// parallel. begin and end have the same integer type; f is called concurrently, through a
/// const reference.
///
/// Splitting, as rayon's Splitter/LengthSplitter: the range is halved with join() while a split
/// budget lasts. The budget starts at current_num_threads() and halves with each split; when a
/// half turns out to run on another worker than the one that split it off (it was stolen,
/// seen by comparing current_thread_index() at its start with the splitter's), its budget is
/// reset to max(num_threads, budget / 2). A piece is never split into halves shorter than
/// min_len (values below 1 count as 1). Each piece calls f on its indices in increasing order.
/// So few pieces are made while workers are busy, and more where they are idle. Outside any
/// pool it runs in the global pool.
///
/// Exceptions: every index runs even if some calls throw; afterwards the exception of the
/// lowest index that threw is rethrown.
template <std::integral I, class F>
requires(!std::same_as<I, bool>) && std::invocable<const F&, I> void parallel_for(
                                        I begin, I end, F f, std::size_t min_len = 1) {
    using U = std::make_unsigned_t<I>;
    static_assert(sizeof(U) <= sizeof(std::size_t), "spindle::parallel_for: index type too wide");
    if (!(begin < end))
        return;
    /// end - begin computed in the unsigned type cannot overflow, and fits in it.
    const std::size_t len =
        static_cast<std::size_t>(static_cast<U>(static_cast<U>(end) - static_cast<U>(begin)));
    const F& fn = f;
    auto each = [&](std::size_t k) {
        // begin + k < end, computed without signed overflow (C++20 converts modulo 2^n).
        fn(static_cast<I>(static_cast<U>(static_cast<U>(begin) + static_cast<U>(k))));
    };
    auto leaf = [&](std::size_t lo, std::size_t hi) { return detail::run_each(lo, hi, each); };
    auto combine = [](std::exception_ptr left, std::exception_ptr right) noexcept {
        return detail::first_error(std::move(left), std::move(right));
    };
    std::exception_ptr error =
        detail::in_pool([&] { return detail::adaptive_split_all(len, min_len, leaf, combine); });
    if (error)
        std::rethrow_exception(error);
}

}  // namespace spindle
