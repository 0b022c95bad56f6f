// Placement: where workers run and in which order they look for victims to steal from.
// This is the one seam through which topology enters the scheduler: the flat placement here
// treats every worker as equally near; the hwloc placement (NUMA issue) will order victims by
// distance (SMT sibling, shared cache, same node, remote) and bind threads. The scheduler
// never reads the topology itself.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace spindle::detail {

class Placement {
public:
    virtual ~Placement() = default;
    // Victims of worker w grouped by distance, nearest group first. A worker tries each group
    // starting at a random position within it, and moves to the next group only when the
    // whole group had nothing to steal. w itself never appears.
    virtual std::vector<std::vector<std::size_t>> victim_levels(std::size_t w) const = 0;
    // Called on worker w's thread before it runs anything (binding); must not throw.
    virtual void on_worker_start(std::size_t w) const noexcept = 0;
};

// All workers at the same distance; no binding.
std::unique_ptr<Placement> make_flat_placement(std::size_t num_workers);

}  // namespace spindle::detail
