// parallel: run a fixed set of closures, potentially in parallel, and wait for all of them
// (rustc's parallel! macro).
//
//     spindle::parallel([&] { check_types(); },
//                       [&] { check_borrows(); },
//                       [&] { check_consts(); });
#pragma once

#include "spindle/scope.hpp"

#include <array>
#include <cstddef>
#include <exception>
#include <tuple>
#include <type_traits>
#include <utility>

namespace spindle {

namespace detail {

template <class F>
void run_branch(F& f, std::exception_ptr& error) noexcept {
    try {
        (void)f();
    } catch (...) {
        error = std::current_exception();
    }
}

template <class Fns, std::size_t N, std::size_t... Is>
void parallel_branches(Fns& fns,
                       std::array<std::exception_ptr, N>& errors,
                       std::index_sequence<Is...>) {
    spindle::scope([&](Scope& s) {
        // Branches 1..N-1 are spawned last first: a worker pops its own jobs newest first, so
        // when nobody steals them they run in argument order after branch 0, as in serial
        // code (rustc's parallel! spawns in reverse for the same reason).
        auto spawn_one = [&]<std::size_t I>(std::integral_constant<std::size_t, I>) {
            auto& f = std::get<I>(fns);
            auto& error = errors[I];
            try {
                s.spawn([&f, &error] { detail::run_branch(f, error); });
            } catch (...) {
                // No memory for the job: run the branch here, so that every branch still runs.
                detail::run_branch(f, error);
            }
        };
        (spawn_one(std::integral_constant<std::size_t, N - 1 - Is>{}), ...);
        (void)spawn_one;  // unused when there is a single branch
        detail::run_branch(std::get<0>(fns), errors[0]);
    });
}

}  // namespace detail

/// Runs every closure fs...() once, potentially in parallel, and returns when all of them have
/// finished; their results, if any, are discarded. The first closure runs inline on the calling
/// worker; the others are spawned in a scope (spindle::scope), last first. Outside any pool it
/// runs in the global pool.
///
/// Exceptions, as rustc's parallel_guard: every closure runs even if some throw; afterwards
/// the exception of the first closure in argument order that threw is rethrown.
template <class... Fs>
requires(std::is_invocable_v<std::remove_reference_t<Fs>&>&&...) void parallel(Fs&&... fs) {
    constexpr std::size_t n = sizeof...(Fs);
    if constexpr (n == 0) {
        return;
    } else {
        std::tuple<std::remove_reference_t<Fs>&...> fns(fs...);
        std::array<std::exception_ptr, n> errors{};
        detail::parallel_branches(fns, errors, std::make_index_sequence<n - 1>{});
        for (std::exception_ptr& e : errors) {
            if (e)
                std::rethrow_exception(e);
        }
    }
}

}  // namespace spindle
