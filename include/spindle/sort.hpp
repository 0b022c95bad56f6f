// stable_sort: a parallel merge sort with a parallel merge.
//
//     spindle::stable_sort(items.begin(), items.end(),
//                          [](const Item& a, const Item& b) { return a.key < b.key; });
#pragma once

#include "spindle/detail/algorithm.hpp"

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace spindle {

namespace detail {

/// Pieces of at most this many elements are sorted by insertion.
inline constexpr std::size_t k_sort_insertion = 16;
/// Smallest piece the parallel sort and the parallel merge hand to one worker.
inline constexpr std::size_t k_sort_min_grain = 2048;

/// The sort moves elements between the sequence and a buffer of the same length; a Side names
/// one of the two. Index i of either holds a slot for element i of the sequence's range.
enum class Side : bool { seq, buf };

constexpr Side other(Side s) noexcept {
    return s == Side::seq ? Side::buf : Side::seq;
}

/// Move-assigns src to dst on a recovery path, where a second exception must not escape: if
/// the move throws, its exception is dropped (both elements are then valid but unspecified).
template <class T>
void restore(T& dst, T& src) noexcept {
    if constexpr (std::is_nothrow_move_assignable_v<T>) {
        dst = std::move(src);
    } else {
        try {
            dst = std::move(src);
        } catch (...) {
        }
    }
}

/// The state of one stable_sort call. S is the sequence's iterator type (T* for a contiguous
/// sequence); buf has room for as many elements as the sequence.
///
/// Element conservation. Every step that moves elements either completes or puts the elements
/// it took back where they came from, before it reports its exception; so after a comparator
/// exception the sequence holds exactly its original elements (in an unspecified order). This
/// holds as long as T's moves do not throw; if they do, the elements involved may be left
/// moved-from, but every constructed object is still destroyed exactly once.
template <class S, class T, class Comp>
class MergeSort {
public:
    MergeSort(S seq, T* buf, const Comp& comp, std::size_t cutoff) noexcept
        : m_seq(seq), m_buf(buf), m_comp(comp), m_cutoff(std::max<std::size_t>(cutoff, 1)) {}

    /// Sorts [lo, hi), handing pieces of at most cutoff elements to single workers, and leaves
    /// the result in dest[lo, hi). On entry the elements are in seq[lo, hi) and buf[lo, hi) is
    /// raw storage.
    /// Success (null): the sorted elements are in dest[lo, hi); buf[lo, hi) is constructed.
    /// Failure: the elements are in seq[lo, hi); buf[lo, hi) is raw storage again.
    std::exception_ptr sort_par(std::size_t lo, std::size_t hi, Side dest) {
        if (hi - lo <= m_cutoff)
            return sort_piece(lo, hi, dest);
        const std::size_t mid = lo + (hi - lo) / 2;
        const Side src = other(dest);
        auto [left, right] = spindle::join([&] { return sort_par(lo, mid, src); },
                                           [&] { return sort_par(mid, hi, src); });
        if (!left && !right) {
            std::exception_ptr error = merge_par(src, lo, mid, mid, hi, dest, lo);
            if (!error)
                return nullptr;
            // The failed merge put the elements back in src[lo, hi).
            release(lo, hi, src);
            return error;
        }
        if (!left)
            release(lo, mid, src);
        if (!right)
            release(mid, hi, src);
        return first_error(std::move(left), std::move(right));
    }

private:
    bool less(const T& a, const T& b) const { return static_cast<bool>(std::invoke(m_comp, a, b)); }

    template <class F>
    decltype(auto) with(Side s, F&& f) {
        if (s == Side::buf)
            return f(m_buf);
        return f(m_seq);
    }

    /// Calls f(src, dst) with the iterators of two different sides.
    template <class F>
    decltype(auto) with2(Side src, F&& f) {
        if (src == Side::buf)
            return f(m_buf, m_seq);
        return f(m_seq, m_buf);
    }

    /// After a failure next to a piece that succeeded: moves the piece's elements from `where`
    /// back to seq and destroys buf[lo, hi), as sort_par's failure contract requires.
    void release(std::size_t lo, std::size_t hi, Side where) noexcept {
        if (where == Side::buf)
            restore_range(m_buf, lo, hi, m_seq, lo);
        std::destroy(m_buf + lo, m_buf + hi);
    }

    template <class Src, class Dst>
    static void restore_range(
        Src src, std::size_t lo, std::size_t hi, Dst dst, std::size_t out) noexcept {
        for (std::size_t i = lo; i < hi; ++i)
            detail::restore(dst[out + (i - lo)], src[i]);
    }

    /// One worker's piece: construct buf[lo, hi) by moving the elements in, then sort
    /// sequentially. Same contract as sort_par.
    std::exception_ptr sort_piece(std::size_t lo, std::size_t hi, Side dest) noexcept {
        std::size_t i = lo;
        try {
            for (; i < hi; ++i)
                ::new (static_cast<void*>(m_buf + i)) T(std::move(m_seq[i]));
        } catch (...) {
            for (std::size_t k = lo; k < i; ++k) {
                detail::restore(m_seq[k], m_buf[k]);
                m_buf[k].~T();
            }
            return std::current_exception();
        }
        std::exception_ptr error = sort_seq(lo, hi, dest);
        if (error)  // the elements are in buf[lo, hi)
            release(lo, hi, Side::buf);
        return error;
    }

    /// Sequential merge sort of elements that are in buf[lo, hi), into dest[lo, hi); both
    /// sides are constructed. Failure: the elements are back in buf[lo, hi).
    std::exception_ptr sort_seq(std::size_t lo, std::size_t hi, Side dest) noexcept {
        if (hi - lo <= k_sort_insertion) {
            if (std::exception_ptr error = insertion_sort(m_buf + lo, hi - lo))
                return error;
            if (dest == Side::buf)
                return nullptr;
            return move_range(m_buf, lo, hi, m_seq);
        }
        const std::size_t mid = lo + (hi - lo) / 2;
        const Side src = other(dest);
        if (std::exception_ptr error = sort_seq(lo, mid, src))
            return error;  // the right half was not touched: all in buf
        if (std::exception_ptr error = sort_seq(mid, hi, src)) {
            if (src == Side::seq)
                restore_range(m_seq, lo, mid, m_buf, lo);
            return error;
        }
        std::exception_ptr error =
            with2(src, [&](auto s, auto d) { return merge_seq(s, lo, mid, mid, hi, d, lo); });
        if (error && src == Side::seq)
            restore_range(m_seq, lo, hi, m_buf, lo);
        return error;
    }

    /// Moves src[lo, hi) to dst[lo, hi); on failure moves back what it moved.
    template <class Src, class Dst>
    static std::exception_ptr move_range(Src src,
                                         std::size_t lo,
                                         std::size_t hi,
                                         Dst dst) noexcept {
        std::size_t i = lo;
        try {
            for (; i < hi; ++i)
                dst[i] = std::move(src[i]);
            return nullptr;
        } catch (...) {
            restore_range(dst, lo, i, src, lo);
            return std::current_exception();
        }
    }

    /// Stable insertion sort of a[0, n). Failure: a[0, n) holds its original elements.
    std::exception_ptr insertion_sort(T* a, std::size_t n) noexcept {
        for (std::size_t i = 1; i < n; ++i) {
            try {
                if (!less(a[i], a[i - 1]))
                    continue;
                T tmp(std::move(a[i]));
                T* hole = a + i;
                try {
                    do {
                        *hole = std::move(*(hole - 1));
                        --hole;
                    } while (hole != a && less(tmp, *(hole - 1)));
                    *hole = std::move(tmp);
                } catch (...) {
                    detail::restore(*hole, tmp);  // fill the hole: no element is lost
                    throw;
                }
            } catch (...) {
                return std::current_exception();
            }
        }
        return nullptr;
    }

    /// Stable merge of src[a, a_end) and src[b, b_end) (each sorted; on ties the first run's
    /// element goes first) into dst[out, out + total). Failure: the elements taken are moved
    /// back into src's two ranges (in merge order), so src holds them all again.
    template <class Src, class Dst>
    std::exception_ptr merge_seq(Src src,
                                 std::size_t a,
                                 std::size_t a_end,
                                 std::size_t b,
                                 std::size_t b_end,
                                 Dst dst,
                                 std::size_t out) noexcept {
        const std::size_t a0 = a;
        const std::size_t b0 = b;
        const std::size_t out0 = out;
        try {
            if (a < a_end && b < b_end) {
                for (;;) {
                    if (less(src[b], src[a])) {
                        dst[out] = std::move(src[b]);
                        ++out;
                        if (++b == b_end)
                            break;
                    } else {
                        dst[out] = std::move(src[a]);
                        ++out;
                        if (++a == a_end)
                            break;
                    }
                }
            }
            for (; a < a_end; ++a, ++out)
                dst[out] = std::move(src[a]);
            for (; b < b_end; ++b, ++out)
                dst[out] = std::move(src[b]);
            return nullptr;
        } catch (...) {
            // dst[out0, out) holds the elements taken from src[a0, a) and src[b0, b).
            restore_range(dst, out0, out0 + (a - a0), src, a0);
            restore_range(dst, out0 + (a - a0), out, src, b0);
            return std::current_exception();
        }
    }

    /// Parallel merge, same contract as merge_seq: split the longer run at its midpoint, find
    /// the matching split of the other run by binary search, merge both pairs with join.
    std::exception_ptr merge_par(Side s,
                                 std::size_t a,
                                 std::size_t a_end,
                                 std::size_t b,
                                 std::size_t b_end,
                                 Side d,
                                 std::size_t out) {
        const std::size_t na = a_end - a;
        const std::size_t nb = b_end - b;
        // A longer run of at least 2 makes both halves strictly smaller than the whole.
        if (na + nb <= m_cutoff || std::max(na, nb) < 2)
            return with2(s, [&](auto src, auto dst) {
                return merge_seq(src, a, a_end, b, b_end, dst, out);
            });
        std::size_t am = a;
        std::size_t bm = b;
        try {
            with(s, [&](auto src) {
                auto c = std::cref(m_comp);
                if (na >= nb) {
                    // Elements of b equal to src[am] must follow it: the first b not less.
                    am = a + na / 2;
                    bm = static_cast<std::size_t>(
                        std::lower_bound(src + b, src + b_end, src[am], c) - src);
                } else {
                    // Elements of a equal to src[bm] must precede it: the first a greater.
                    bm = b + nb / 2;
                    am = static_cast<std::size_t>(
                        std::upper_bound(src + a, src + a_end, src[bm], c) - src);
                }
            });
        } catch (...) {
            return std::current_exception();  // nothing has moved yet
        }
        const std::size_t out_mid = out + (am - a) + (bm - b);
        auto [left, right] =
            spindle::join([&] { return merge_par(s, a, am, b, bm, d, out); },
                          [&] { return merge_par(s, am, a_end, bm, b_end, d, out_mid); });
        if (left && !right)
            undo_merge(d, out_mid, s, am, a_end, bm, b_end);
        else if (right && !left)
            undo_merge(d, out, s, a, am, b, bm);
        return first_error(std::move(left), std::move(right));
    }

    /// Moves a completed merge's output back into its two source ranges.
    void undo_merge(Side d,
                    std::size_t out,
                    Side s,
                    std::size_t a,
                    std::size_t a_end,
                    std::size_t b,
                    std::size_t b_end) noexcept {
        (void)s;  // always other(d)
        with2(d, [&](auto dst, auto src) {
            restore_range(dst, out, out + (a_end - a), src, a);
            restore_range(dst, out + (a_end - a), out + (a_end - a) + (b_end - b), src, b);
        });
    }

    S m_seq;
    T* m_buf;
    const Comp& m_comp;
    std::size_t m_cutoff;  ///< pieces (of sort and merge) handed to a single worker
};

template <class It, class Comp>
void stable_sort_impl(It first, It last, const Comp& comp, std::size_t cutoff) {
    using T = std::iter_value_t<It>;
    static_assert(std::is_same_v<std::iter_reference_t<It>, T&>,
                  "spindle::stable_sort: the iterator must yield T& (no proxy references)");
    const std::size_t n = static_cast<std::size_t>(last - first);
    if (n < 2)
        return;
    T* const buf = std::allocator<T>().allocate(n);
    struct Free {
        T* p;
        std::size_t n;
        ~Free() { std::allocator<T>().deallocate(p, n); }
    } free_buf{buf, n};
    auto run = [&](auto seq) {
        MergeSort<decltype(seq), T, Comp> sort(seq, buf, comp, cutoff);
        std::exception_ptr error = detail::in_pool([&] { return sort.sort_par(0, n, Side::seq); });
        if (error)
            std::rethrow_exception(error);  // buf is raw storage again
        std::destroy_n(buf, n);
    };
    if constexpr (std::contiguous_iterator<It>)
        run(std::to_address(first));
    else
        run(first);
}

/// The element count below which a piece is sorted (or merged) by one worker: at least
/// k_sort_min_grain, and large enough for about 8 pieces per worker.
inline std::size_t sort_cutoff(std::size_t n, std::size_t threads) noexcept {
    return std::max(k_sort_min_grain, n / (8 * std::max<std::size_t>(threads, 1)));
}

}  // namespace detail

/// Sorts [first, last) by comp (a strict weak order; default operator<), keeping equal elements
/// in their original order, potentially in parallel. Outside any pool it runs in the global
/// pool.
///
/// Algorithm: merge sort. Ranges of at most cutoff = max(2048, n / (8 * num_threads)) elements
/// are sorted by one worker (a sequential merge sort over insertion-sorted runs of 16, using the
/// buffer); longer ones are halved with join and their sorted halves merged by a parallel
/// merge (the longer run split at its midpoint, the other at the matching position found by
/// binary search, both pairs merged with join down to cutoff elements). Allocates one buffer
/// of n elements (raw storage: T needs no default constructor; move-only types are fine).
/// comp is called concurrently, through a const reference.
///
/// Exceptions: if comp throws, the sort stops as soon as the pieces under way have finished
/// and rethrows the exception of the leftmost failing piece; [first, last) then holds exactly
/// its original elements in an unspecified order, and the buffer is freed. (This is why the
/// pieces are not sorted with std::stable_sort, which may leave elements in its own buffer.)
/// If T's move constructor or assignment throws, only the basic guarantee holds: the elements
/// are valid but some may be moved-from; nothing leaks.
template <std::random_access_iterator It, class Comp = std::less<>>
requires std::sortable<It, Comp>
void stable_sort(It first, It last, Comp comp = {}) {
    if (last - first < 2)
        return;
    const std::size_t n = static_cast<std::size_t>(last - first);
    detail::in_pool([&] {
        detail::stable_sort_impl(first, last, comp,
                                 detail::sort_cutoff(n, spindle::current_num_threads()));
    });
}

}  // namespace spindle
