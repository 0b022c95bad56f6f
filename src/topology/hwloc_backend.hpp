// The hwloc half of the topology layer (topology_hwloc.cpp, built only when CMake found hwloc:
// the CMakeLists convention for sources whose name mentions hwloc). topology.cpp calls it only
// under SPINDLE_HAVE_HWLOC.
#pragma once

#include "topology/topology.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace spindle::detail::topology {

enum class Source { machine, synthetic, xml };

// Fills out from hwloc. Returns an empty string on success, else what went wrong.
std::string hwloc_load(Source source, const std::string& arg, Topology& out);
bool hwloc_bind_thread(const Topology& t, const std::vector<std::size_t>& pus) noexcept;
bool hwloc_bind_memory(const Topology& t, void* p, std::size_t len, int node) noexcept;

}  // namespace spindle::detail::topology
