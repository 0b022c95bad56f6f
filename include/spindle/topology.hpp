// Placement: where a pool's workers run (PoolOptions::placement), and the steal levels that
// ThreadPool::stats() counts. How the topology shapes placement, stealing and memory:
// design-notes/0010-topology.md.
#pragma once

#include "spindle/detail/config.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace spindle {

/// Which CPUs a pool's workers run on. The plan is computed from the topology the pool sees
/// (PoolOptions::topology): hwloc's view of the machine restricted to the CPUs this process may
/// use (its affinity mask, which taskset and a container's cpuset set), or a synthetic or XML
/// machine for tests. Workers are bound to their CPUs only on the real machine and never with
/// none(); the plan also decides each worker's NUMA node (for its memory) and the order in which
/// it looks for victims, whether or not it is bound.
///
///   PoolOptions{.placement = spindle::Placement::spread()}
///   PoolOptions{.placement = spindle::Placement::parse("cpus:0,2-3")}
class SPINDLE_API Placement {
public:
    /// Which plan (see the factory functions).
    enum class Kind : std::uint8_t {
        none,       ///< no binding; victims ordered as for compact()
        compact,    ///< worker i on the i-th CPU in hwloc's order: SMT siblings, then cores, ...
        spread,     ///< workers dealt out over nodes, then L3 caches, then cores, siblings last
        numa_node,  ///< only the CPUs of one NUMA node, compact within it
        cpus,       ///< an explicit list of OS CPU numbers, worker i on the (i mod size)-th
    };

    Placement() = default;  ///< none()
    /// No binding (the default); victims ordered as for compact().
    static Placement none() { return Placement(); }
    /// Worker i on the i-th allowed CPU in hwloc's order (SMT siblings first, then cores).
    static Placement compact() { return Placement(Kind::compact); }
    /// Workers dealt out over NUMA nodes, then L3 caches, then cores, SMT siblings last.
    static Placement spread() { return Placement(Kind::spread); }
    /// The k-th NUMA node that has CPUs this process may use, as hwloc numbers them (lstopo's
    /// "NUMANode L#k").
    static Placement numa_node(std::size_t k) {
        Placement p(Kind::numa_node);
        p.m_node = k;
        return p;
    }
    /// OS CPU numbers (as taskset -c names them); each must be one the process may use.
    static Placement cpus(std::vector<unsigned> os_cpus) {
        Placement p(Kind::cpus);
        p.m_cpus = std::move(os_cpus);
        return p;
    }
    /// "none", "compact", "spread", "numa_node:K" (or "node:K"), "cpus:LIST" with LIST as
    /// taskset -c writes it ("0,2-3"). Throws InvalidPoolOptions for anything else.
    static Placement parse(std::string_view text);

    /// Which plan this is.
    Kind kind() const noexcept { return m_kind; }
    /// The node index of a numa_node(k) plan.
    std::size_t node() const noexcept { return m_node; }
    /// The CPU list of a cpus(...) plan.
    const std::vector<unsigned>& cpu_list() const noexcept { return m_cpus; }
    /// The form parse() accepts.
    std::string to_string() const;

private:
    explicit Placement(Kind k) : m_kind(k) {}
    Kind m_kind = Kind::none;
    std::size_t m_node = 0;
    std::vector<unsigned> m_cpus;
};

/// How far a victim is from the thief, nearest first (the order in which a worker looks): the
/// same core (an SMT sibling, or a worker planned on the same CPU), the same L3 cache, the same
/// NUMA node, another node (nearer nodes first, by hwloc's distance matrix or by hops in the
/// topology tree), and last the spare workers of blocking sections. Without hwloc every other
/// regular worker is at level node.
enum class StealLevel : std::uint8_t { smt, cache, node, remote, spare };
/// The number of StealLevel values (the size of the per-level counter arrays).
inline constexpr std::size_t k_steal_levels = 5;
/// "smt", "cache", "node", "remote", "spare".
SPINDLE_API const char* to_string(StealLevel level) noexcept;

}  // namespace spindle
