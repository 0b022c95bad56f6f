#include "scheduler/placement.hpp"

#include <cstdio>

namespace spindle::detail {

WorkerPlacement::WorkerPlacement(topology::Topology t,
                                 const Placement& policy,
                                 std::size_t num_workers,
                                 std::size_t num_slots)
    : m_topology(std::move(t)),
      m_policy(policy),
      m_plan(topology::make_plan(m_topology, policy, num_workers)),
      m_slots(std::make_unique<Slot[]>(num_slots)) {}

std::vector<VictimGroup> WorkerPlacement::victim_levels(std::size_t w) const {
    const std::size_t p = partner(w);
    // A spare thief sits beside its partner, which is then its nearest victim.
    return topology::victim_groups(m_topology, m_plan, m_plan.pu[p],
                                   w < m_plan.pu.size() ? w : static_cast<std::size_t>(-1));
}

void WorkerPlacement::on_worker_start(std::size_t w) const noexcept {
    if (!m_plan.bind)
        return;
    const std::size_t p = partner(w);
    std::vector<std::size_t> pus;
    if (w == p) {
        pus.push_back(m_plan.pu[w]);
    } else {
        // A spare stands in for whichever worker is blocked, so it may run anywhere on its
        // partner's node.
        const int node = m_topology.pus[m_plan.pu[p]].node;
        for (std::size_t i = 0; i < m_topology.pus.size(); ++i)
            if (m_topology.pus[i].node == node)
                pus.push_back(i);
    }
    const bool ok = topology::bind_thread(m_topology, pus);
    m_slots[w].bound.store(ok, std::memory_order_relaxed);
    if (!ok) {
        static std::atomic<bool> warned{false};
        if (!warned.exchange(true, std::memory_order_relaxed))
            std::fprintf(stderr,
                         "spindle: warning: cannot bind worker %zu to CPU %u (placement %s); "
                         "workers run unbound\n",
                         w, cpu_of(w), m_policy.to_string().c_str());
    }
}

int WorkerPlacement::place_memory(MemoryKind kind,
                                  void* p,
                                  std::size_t len,
                                  std::size_t w) const noexcept {
    const int node = node_of(w);
    const auto k = static_cast<std::size_t>(kind);
    if (topology::bind_memory(m_topology, p, len, node))
        m_slots[w].membound[k].store(true, std::memory_order_relaxed);
    m_slots[w].placed[k].store(node, std::memory_order_relaxed);
    return node;
}

int WorkerPlacement::node_of(std::size_t w) const noexcept {
    return m_topology.pus[m_plan.pu[partner(w)]].node;
}

unsigned WorkerPlacement::cpu_of(std::size_t w) const noexcept {
    return m_topology.pus[m_plan.pu[partner(w)]].os;
}

}  // namespace spindle::detail
