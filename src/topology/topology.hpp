// The machine as the pool sees it: discovery (the real machine through hwloc, a synthetic
// description, an XML file, or the flat fallback), placement plans and victim groups computed
// from it as pure functions, and the calls that bind threads and memory. The only layer that
// talks to hwloc (topology_hwloc.cpp, built only when hwloc is found); the scheduler reads the
// result through scheduler/placement.hpp. design-notes/0010-topology.md.
#pragma once

#include "spindle/topology.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace spindle::detail::topology {

// One processing unit (hardware thread) the pool may use. Ids are dense logical indices
// (hwloc's L#), -1 where the topology has no such level.
struct Pu {
    unsigned os = 0;  // the OS CPU number (what taskset and sched_setaffinity use)
    int core = -1;    // the core it belongs to (SMT siblings share it)
    int cache = -1;   // its L3 cache
    int node = 0;     // its NUMA node, 0 .. num_nodes-1
};

struct Topology {
    std::vector<Pu> pus;  // in hwloc's logical order: siblings, then cores, caches, nodes
    std::size_t num_nodes = 1;
    // num_nodes x num_nodes, row-major: hwloc's NUMA distance matrix when the topology has
    // one (distance_from_matrix), else hops through the topology tree (0 on the diagonal).
    std::vector<std::uint64_t> distance;
    bool distance_from_matrix = false;
    bool this_system = false;  // the real machine: threads and memory can be bound
    bool from_hwloc = false;   // false: the flat fallback
    std::string description;   // "machine", "synthetic:...", "xml:...", "flat (why)"
    // hwloc's topology object, kept for binding (null for the flat fallback). Shared by every
    // copy (the machine's is loaded once per process): hwloc allows concurrent reads, and
    // binding threads or memory only reads it.
    std::shared_ptr<void> handle;

    std::uint64_t node_distance(int a, int b) const noexcept {
        return distance[static_cast<std::size_t>(a) * num_nodes + static_cast<std::size_t>(b)];
    }
};

// The CPUs this process may use now: the calling thread's affinity mask (sched_getaffinity),
// which taskset, numactl and a container's cpuset restrict. Never empty.
std::vector<unsigned> allowed_cpus();

// The flat fallback: one node, every allowed CPU its own core, no caches.
Topology flat(std::string why);

// The topology named by spec (PoolOptions::topology; empty: SPINDLE_TOPOLOGY, else the
// machine):
//   "" or "machine"        the real machine through hwloc, restricted to allowed_cpus()
//   "flat"                 the flat fallback over allowed_cpus()
//   "xml:PATH", "*.xml"    an hwloc XML export (not this system: never bound)
//   "synthetic:DESC", DESC an hwloc synthetic description, e.g. "pack:2 numa:2 core:4 pu:2"
//                          (not this system: never bound)
// Without hwloc, or when hwloc cannot read the machine, the flat fallback with one warning on
// stderr per process. A synthetic or XML topology that hwloc rejects is an InvalidPoolOptions
// error (a build without hwloc warns and falls back instead).
Topology load(const std::string& spec);

// Which topology PU each regular worker runs on (or would, unbound).
struct Plan {
    std::vector<std::size_t> pu;  // per regular worker: an index into Topology::pus
    bool bind = false;            // bind the workers (not none(), and this_system)
};

// The PUs a policy uses, in the order workers take them (pure). Throws InvalidPoolOptions for
// a node or CPU the topology does not have.
std::vector<std::size_t> policy_order(const Topology& t, const Placement& policy);
// Worker i on policy_order()[i mod size] (pure).
Plan make_plan(const Topology& t, const Placement& policy, std::size_t num_workers);

// A group of victims at one distance from a thief.
struct VictimGroup {
    StealLevel level;
    std::vector<std::size_t> workers;  // worker indices, ascending
};
// The victim groups of a thief sitting on PU `at` among the regular workers of plan, nearest
// first, empty groups left out; `self` (a worker index, or SIZE_MAX for none) is not a victim.
// A flat topology yields one group, at level node.
std::vector<VictimGroup> victim_groups(const Topology& t,
                                       const Plan& plan,
                                       std::size_t at,
                                       std::size_t self);

// Binds the calling thread to the given PUs (indices into t.pus). Returns false, changing
// nothing, when t is not this system or the OS refused.
bool bind_thread(const Topology& t, const std::vector<std::size_t>& pus) noexcept;
// Asks for [p, p + len) to live on node: hwloc_set_area_membind(..., MIGRATE) on a real machine
// with more than one node. Returns false when nothing was done (one node, not this system, no
// hwloc, or the OS refused); the pages then stay where first touch put them.
bool bind_memory(const Topology& t, void* p, std::size_t len, int node) noexcept;

}  // namespace spindle::detail::topology
