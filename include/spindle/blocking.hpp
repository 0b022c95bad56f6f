// Blocking sections: code that blocks its OS thread outside spindle (a system mutex, a
// blocking read) tells the pool so (design-notes/0005, the fork's mark_blocked/mark_unblocked).
#pragma once

#include "spindle/detail/config.hpp"

#include <type_traits>
#include <utility>

namespace spindle {

/// While a BlockingSection lives on a worker, the worker counts as blocked, not running:
///   * deadlock detection reports it (kind "BlockingSection", with the label) when every
///     worker is asleep or blocked and nothing can run;
///   * the pool wakes a spare worker (PoolOptions::max_spare_threads) so that num_threads
///     workers keep running jobs meanwhile; its private jobs are published for thieves first.
/// On a thread that is not a worker it does nothing. Sections nest (the outermost counts).
/// Do not park inside one (no spindle waits, no join that might wait): the section means this
/// thread is blocked outside spindle.
class SPINDLE_API BlockingSection {
public:
    /// label: shown in deadlock reports; must outlive the section (a string literal, say).
    explicit BlockingSection(const char* label = nullptr) noexcept;
    ~BlockingSection();
    BlockingSection(const BlockingSection&) = delete;
    BlockingSection& operator=(const BlockingSection&) = delete;

private:
    void* m_worker;  ///< the worker it was entered on, or nullptr
};

/// Calls f() inside a BlockingSection and returns its result.
template <class F>
std::invoke_result_t<F&> blocking(F&& f, const char* label = nullptr) {
    BlockingSection section(label);
    return f();
}

}  // namespace spindle
