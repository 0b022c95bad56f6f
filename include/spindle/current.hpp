// Questions about the calling thread: which worker is it, how big is its pool, and letting
// other work run.
#pragma once

#include "spindle/detail/config.hpp"

#include <cstddef>
#include <optional>

namespace spindle {

/// Index of the calling worker within its pool, or nullopt outside any pool.
SPINDLE_API std::optional<std::size_t> current_thread_index() noexcept;

/// Worker count of the calling worker's pool; outside any pool, of the global pool (which this
/// builds if it does not exist yet).
SPINDLE_API std::size_t current_num_threads();

/// What yield_now() did: ran another job (`executed`) or found none (`idle`).
enum class Yield { executed, idle };

/// On a worker: if another job (or a ready fiber) is waiting, lets it run to completion or
/// until it parks, then returns Yield::executed; returns Yield::idle when there was nothing to
/// run. The calling fiber is suspended meanwhile, so the other job runs on its own fiber, not
/// nested on the caller's stack (only when no fiber can be created at all does the job run
/// nested, as in rayon). Outside any pool: returns nullopt.
SPINDLE_API std::optional<Yield> yield_now();

}  // namespace spindle
