// Placement: where workers run, which NUMA node their memory belongs to, and in which order
// they look for victims to steal from. This is the one seam through which the topology
// (src/topology/, design-notes/0010-topology.md) enters the scheduler: the scheduler never
// reads the topology itself, only the precomputed answers below.
#pragma once

#include "spindle/topology.hpp"
#include "topology/topology.hpp"

#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

namespace spindle::detail {

using topology::VictimGroup;

// What a worker allocates that placement puts on its node (recorded for tests and stats).
enum class MemoryKind : std::uint8_t { fiber_stack, deque_buffer, worker_local };
inline constexpr std::size_t k_memory_kinds = 3;

class WorkerPlacement {
public:
    // num_workers regular workers planned by policy on t; num_slots - num_workers spares,
    // spare k standing in beside regular worker k mod num_workers (its node, its victims).
    WorkerPlacement(topology::Topology t,
                    const Placement& policy,
                    std::size_t num_workers,
                    std::size_t num_slots);

    // Victims of worker w (a regular or spare index) among the regular workers, nearest
    // group first (topology::victim_groups). A worker tries each group starting at a random
    // position within it, and moves to the next group only when the whole group had nothing
    // to steal. w itself never appears. The registry appends the spares as a last group.
    std::vector<VictimGroup> victim_levels(std::size_t w) const;
    // Called on worker w's thread before it runs anything: binds it when the plan says so.
    // Must not throw.
    void on_worker_start(std::size_t w) const noexcept;
    // Puts [p, p + len), allocated for worker w, on w's node (topology::bind_memory) and
    // records that kind as placed on that node. Returns the node. Any thread.
    int place_memory(MemoryKind kind, void* p, std::size_t len, std::size_t w) const noexcept;

    // The NUMA node (0 .. num_nodes-1) of worker w's planned CPU.
    int node_of(std::size_t w) const noexcept;
    // The OS CPU number worker w is planned on (a spare: its partner's).
    unsigned cpu_of(std::size_t w) const noexcept;
    // Whether worker w's thread is bound (set by on_worker_start; relaxed, orders nothing).
    bool bound(std::size_t w) const noexcept {
        return m_slots[w].bound.load(std::memory_order_relaxed);
    }
    // The node place_memory last recorded for worker w and that kind, or -1 if none yet.
    int recorded_node(std::size_t w, MemoryKind kind) const noexcept {
        return m_slots[w].placed[static_cast<std::size_t>(kind)].load(std::memory_order_relaxed);
    }
    // Whether the OS moved or bound any such memory (false on one node or a synthetic machine).
    bool memory_bound(std::size_t w, MemoryKind kind) const noexcept {
        return m_slots[w].membound[static_cast<std::size_t>(kind)].load(std::memory_order_relaxed);
    }

    const topology::Topology& topology() const noexcept { return m_topology; }
    const topology::Plan& plan() const noexcept { return m_plan; }
    const Placement& policy() const noexcept { return m_policy; }

private:
    std::size_t partner(std::size_t w) const noexcept {
        return w < m_plan.pu.size() ? w : (w - m_plan.pu.size()) % m_plan.pu.size();
    }
    struct Slot {
        // Written by the worker's own thread (bound) or by whoever allocates for it (placed,
        // membound); read by tests and stats. Relaxed: they order nothing.
        std::atomic<bool> bound{false};
        std::atomic<int> placed[k_memory_kinds] = {-1, -1, -1};
        std::atomic<bool> membound[k_memory_kinds] = {false, false, false};
    };
    topology::Topology m_topology;
    Placement m_policy;
    topology::Plan m_plan;
    std::unique_ptr<Slot[]> m_slots;
};

}  // namespace spindle::detail
