// map: call a function on every element of a random-access range, in parallel, and collect
// the results in input order (rustc's par_map).
//
//     std::vector<Module> modules = spindle::map(units, [](const Unit& u) { return compile(u); });
#pragma once

#include "spindle/detail/algorithm.hpp"

#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <new>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

namespace spindle {

namespace detail {

/// n uninitialised objects of type T; the owner constructs and destroys them.
template <class T>
class RawBuffer {
public:
    explicit RawBuffer(std::size_t n) : m_data(std::allocator<T>().allocate(n)), m_size(n) {}
    ~RawBuffer() { std::allocator<T>().deallocate(m_data, m_size); }
    RawBuffer(const RawBuffer&) = delete;
    RawBuffer& operator=(const RawBuffer&) = delete;
    T* data() const noexcept { return m_data; }

private:
    T* m_data;
    std::size_t m_size;
};

}  // namespace detail

namespace detail {

/// Results that are cheap and safe to default-construct and then assign go straight into the
/// returned vector: one allocation, no final pass of moves. (Not bool: std::vector<bool>
/// packs bits, so writes to neighbouring elements would race.)
template <class R>
inline constexpr bool map_assigns_v =
    std::is_nothrow_default_constructible_v<R>&& std::is_nothrow_move_assignable_v<R> &&
    !std::is_same_v<R, bool>;

template <class R, class It, class F>
std::vector<R> map_assign(It first, std::size_t len, const F& fn) {
    std::vector<R> out(len);
    auto each = [&](std::size_t i) { out[i] = std::invoke(fn, detail::element_at(first, i)); };
    auto leaf = [&](std::size_t lo, std::size_t hi) { return detail::run_each(lo, hi, each); };
    auto combine = [](std::exception_ptr left, std::exception_ptr right) noexcept {
        return detail::first_error(std::move(left), std::move(right));
    };
    std::exception_ptr error = detail::in_pool(
        [&] { return detail::fixed_groups(0, len, detail::rustc_group_size(len), leaf, combine); });
    if (error)
        std::rethrow_exception(error);  // out and every result in it are destroyed
    return out;
}

template <class R, class It, class F>
std::vector<R> map_construct(It first, std::size_t len, const F& fn) {
    detail::RawBuffer<R> buffer(len);
    R* const out = buffer.data();

    /// What leaf and combine return for a range [lo, hi): on success (error null) out[lo, hi)
    /// holds constructed results; on failure none of out[lo, hi) is constructed.
    struct Piece {
        std::exception_ptr error;
        std::size_t lo, hi;
    };
    auto leaf = [&](std::size_t lo, std::size_t hi) noexcept {
        Piece piece{nullptr, lo, hi};
        std::size_t built = hi;  // out[lo, built) is constructed
        for (std::size_t i = lo; i < hi; ++i) {
            try {
                if (!piece.error) {
                    // A prvalue result initialises the slot directly (no move).
                    ::new (static_cast<void*>(out + i))
                        R(std::invoke(fn, detail::element_at(first, i)));
                } else {
                    // The map has failed: the element still runs, its result is dropped.
                    (void)std::invoke(fn, detail::element_at(first, i));
                }
            } catch (...) {
                if (!piece.error) {
                    piece.error = std::current_exception();
                    built = i;
                }
            }
        }
        if (piece.error)
            std::destroy(out + lo, out + built);
        return piece;
    };
    auto combine = [&](Piece left, Piece right) noexcept {
        if (left.error && !right.error)
            std::destroy(out + right.lo, out + right.hi);
        else if (right.error && !left.error)
            std::destroy(out + left.lo, out + left.hi);
        return Piece{detail::first_error(std::move(left.error), std::move(right.error)), left.lo,
                     right.hi};
    };
    Piece all = detail::in_pool(
        [&] { return detail::fixed_groups(0, len, detail::rustc_group_size(len), leaf, combine); });
    if (all.error)
        std::rethrow_exception(all.error);

    /// Every out[i] is constructed now; they are destroyed however the move below ends.
    struct Destroy {
        R* first;
        std::size_t n;
        ~Destroy() { std::destroy_n(first, n); }
    } destroy{out, len};
    return std::vector<R>(std::make_move_iterator(out), std::make_move_iterator(out + len));
}

}  // namespace detail

/// Returns {f(r[0]), f(r[1]), ...} as a std::vector, in input order, with the calls made
/// potentially in parallel; grouping and the rules for f are those of spindle::for_each. The
/// result type R is f's result, decayed. R needs a move constructor and nothing else:
///   - if R is nothrow default-constructible and nothrow move-assignable (numbers, pointers,
///     std::string, std::vector, std::unique_ptr, ...) the vector is allocated up front and
///     each result is assigned to its element;
///   - otherwise (no default constructor, say) each result is built in place in uninitialised
///     storage and all are moved into the vector at the end, in one sequential pass.
///
/// Exceptions: every element runs even if some throw; afterwards every result built is
/// destroyed and the exception of the lowest-index element that threw is rethrown.
template <class Range, class F>
requires detail::index_range<Range> &&
    std::invocable<const F&, std::ranges::range_reference_t<Range>>
auto map(Range&& r, F f) -> std::vector<
    std::decay_t<std::invoke_result_t<const F&, std::ranges::range_reference_t<Range>>>> {
    using R = std::decay_t<std::invoke_result_t<const F&, std::ranges::range_reference_t<Range>>>;
    static_assert(!std::is_void_v<R>, "spindle::map: f must return a value; use for_each");
    static_assert(std::is_move_constructible_v<R>, "spindle::map: results must be movable");
    const std::size_t len = static_cast<std::size_t>(std::ranges::size(r));
    if (len == 0)
        return {};
    if constexpr (detail::map_assigns_v<R>)
        return detail::map_assign<R>(std::ranges::begin(r), len, f);
    else
        return detail::map_construct<R>(std::ranges::begin(r), len, f);
}

}  // namespace spindle
