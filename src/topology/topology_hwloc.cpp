// hwloc discovery, binding and memory placement (design-notes/0010-topology.md §1). Built only
// when CMake finds hwloc; the only file of spindle that includes hwloc.h.
#include "topology/hwloc_backend.hpp"

#include <hwloc.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace spindle::detail::topology {

namespace {

struct TopologyDeleter {
    void operator()(hwloc_topology_t t) const noexcept { hwloc_topology_destroy(t); }
};

struct Bitmap {
    hwloc_bitmap_t b = hwloc_bitmap_alloc();
    ~Bitmap() { hwloc_bitmap_free(b); }
    Bitmap() = default;
    Bitmap(const Bitmap&) = delete;
    Bitmap& operator=(const Bitmap&) = delete;
};

hwloc_topology_t raw(const Topology& t) noexcept {
    return static_cast<hwloc_topology_t>(t.handle.get());
}

int logical_or(hwloc_obj_t o) {
    return o != nullptr ? static_cast<int>(o->logical_index) : -1;
}

// Hops between two NUMA nodes through the tree: from each node's parent up to their common
// ancestor (0 for the same node).
std::uint64_t hops(hwloc_topology_t t, hwloc_obj_t a, hwloc_obj_t b) {
    if (a == b)
        return 0;
    hwloc_obj_t pa = a->parent;
    hwloc_obj_t pb = b->parent;
    hwloc_obj_t common = hwloc_get_common_ancestor_obj(t, pa, pb);
    return 1 + static_cast<std::uint64_t>(pa->depth - common->depth) +
           static_cast<std::uint64_t>(pb->depth - common->depth);
}

}  // namespace

std::string hwloc_load(Source source, const std::string& arg, Topology& out) {
    hwloc_topology_t raw_topology = nullptr;
    if (hwloc_topology_init(&raw_topology) != 0)
        return "hwloc_topology_init failed";
    std::shared_ptr<hwloc_topology> owner(raw_topology, TopologyDeleter{});
    hwloc_topology_t t = raw_topology;
    if (source == Source::synthetic && hwloc_topology_set_synthetic(t, arg.c_str()) != 0)
        return "hwloc does not accept it as a synthetic description (e.g. \"pack:2 numa:2 "
               "l3:2 core:4 pu:2\"; lstopo(1) explains the syntax)";
    if (source == Source::xml && hwloc_topology_set_xml(t, arg.c_str()) != 0)
        return "hwloc cannot read it as an XML topology file";
    if (hwloc_topology_load(t) != 0)
        return "hwloc_topology_load failed";

    if (source == Source::machine) {
        // Only the CPUs this process may use: its affinity mask (taskset, numactl). hwloc
        // already leaves out the CPUs that the cgroup cpuset forbids; the mask is what the
        // kernel reports for both, so restrict to it. CPU-less nodes (memory only) go too.
        const std::vector<unsigned> allowed = allowed_cpus();
        Bitmap set;
        for (unsigned c : allowed)
            hwloc_bitmap_set(set.b, c);
        hwloc_bitmap_and(set.b, set.b, hwloc_topology_get_topology_cpuset(t));
        if (hwloc_bitmap_iszero(set.b))
            return "none of the CPUs this process may use is in hwloc's topology";
        if (hwloc_topology_restrict(t, set.b, HWLOC_RESTRICT_FLAG_REMOVE_CPULESS) != 0)
            return "hwloc_topology_restrict to the process's allowed CPUs failed";
    }

    Topology result;
    const int num_nodes = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
    // Nodes with at least one PU, densely numbered in hwloc's logical order.
    std::vector<hwloc_obj_t> nodes;
    std::map<unsigned, int> dense;  // hwloc logical index -> our node id
    for (int i = 0; i < num_nodes; ++i) {
        hwloc_obj_t n = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(i));
        if (n == nullptr || hwloc_bitmap_iszero(n->cpuset))
            continue;
        dense[n->logical_index] = static_cast<int>(nodes.size());
        nodes.push_back(n);
    }
    if (nodes.empty())
        return "the topology has no NUMA node with CPUs";

    const int num_pus = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
    for (int i = 0; i < num_pus; ++i) {
        hwloc_obj_t pu = hwloc_get_obj_by_type(t, HWLOC_OBJ_PU, static_cast<unsigned>(i));
        Pu p;
        p.os = pu->os_index;
        p.core = logical_or(hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_CORE, pu));
        p.cache = logical_or(hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_L3CACHE, pu));
        p.node = -1;
        for (std::size_t k = 0; k < nodes.size(); ++k)
            if (hwloc_bitmap_isset(nodes[k]->cpuset, pu->os_index)) {
                p.node = static_cast<int>(k);
                break;
            }
        if (p.node < 0)
            return "a PU belongs to no NUMA node";
        result.pus.push_back(p);
    }
    if (result.pus.empty())
        return "the topology has no PU";

    const std::size_t nn = nodes.size();
    result.num_nodes = nn;
    result.distance.assign(nn * nn, 0);
    // hwloc's NUMA distance matrix (from the OS's SLIT table, or from an XML file) when one
    // covers every node; otherwise hops through the tree.
    unsigned nr = 1;
    hwloc_distances_s* d = nullptr;
    bool have_matrix = false;
    if (nn > 1 && hwloc_distances_get_by_type(t, HWLOC_OBJ_NUMANODE, &nr, &d, 0, 0) == 0 &&
        nr >= 1 && d != nullptr) {
        std::vector<int> index_of(nn, -1);
        for (unsigned i = 0; i < d->nbobjs; ++i) {
            auto it = dense.find(d->objs[i]->logical_index);
            if (it != dense.end())
                index_of[static_cast<std::size_t>(it->second)] = static_cast<int>(i);
        }
        have_matrix = std::find(index_of.begin(), index_of.end(), -1) == index_of.end();
        if (have_matrix)
            for (std::size_t a = 0; a < nn; ++a)
                for (std::size_t b = 0; b < nn; ++b)
                    result.distance[a * nn + b] =
                        d->values[static_cast<std::size_t>(index_of[a]) * d->nbobjs +
                                  static_cast<std::size_t>(index_of[b])];
    }
    if (d != nullptr)
        hwloc_distances_release(t, d);
    if (!have_matrix)
        for (std::size_t a = 0; a < nn; ++a)
            for (std::size_t b = 0; b < nn; ++b)
                result.distance[a * nn + b] = hops(t, nodes[a], nodes[b]);
    result.distance_from_matrix = have_matrix;
    result.this_system = source == Source::machine && hwloc_topology_is_thissystem(t) != 0;
    result.from_hwloc = true;
    result.description = source == Source::machine     ? std::string("machine")
                         : source == Source::synthetic ? "synthetic:" + arg
                                                       : "xml:" + arg;
    result.handle = std::shared_ptr<void>(owner, owner.get());
    out = std::move(result);
    return {};
}

bool hwloc_bind_thread(const Topology& t, const std::vector<std::size_t>& pus) noexcept {
    Bitmap set;
    for (std::size_t i : pus)
        hwloc_bitmap_set(set.b, t.pus[i].os);
    return hwloc_set_cpubind(raw(t), set.b, HWLOC_CPUBIND_THREAD) == 0;
}

bool hwloc_bind_memory(const Topology& t, void* p, std::size_t len, int node) noexcept {
    hwloc_obj_t target = nullptr;
    int seen = -1;
    const int num_nodes = hwloc_get_nbobjs_by_type(raw(t), HWLOC_OBJ_NUMANODE);
    for (int i = 0; i < num_nodes && target == nullptr; ++i) {
        hwloc_obj_t n = hwloc_get_obj_by_type(raw(t), HWLOC_OBJ_NUMANODE, static_cast<unsigned>(i));
        if (n != nullptr && !hwloc_bitmap_iszero(n->cpuset) && ++seen == node)
            target = n;
    }
    if (target == nullptr)
        return false;
    return hwloc_set_area_membind(raw(t), p, len, target->nodeset, HWLOC_MEMBIND_BIND,
                                  HWLOC_MEMBIND_BYNODESET | HWLOC_MEMBIND_MIGRATE) == 0;
}

}  // namespace spindle::detail::topology
