// Placement plans and victim groups: pure functions of a Topology, tested on synthetic
// machines without binding anything (design-notes/0010-topology.md §2, §3).
#include "spindle/errors.hpp"
#include "topology/topology.hpp"
#include "util/assert.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace spindle {

namespace {

[[noreturn]] void bad_placement(std::string_view text, const char* why) {
    throw InvalidPoolOptions("spindle: placement '" + std::string(text) + "' " + why +
                             " (expected none, compact, spread, numa_node:K or cpus:LIST such "
                             "as cpus:0,2-3)");
}

bool parse_number(std::string_view s, unsigned& out) {
    if (s.empty() || s.size() > 7)
        return false;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

Placement Placement::parse(std::string_view text) {
    if (text == "none")
        return none();
    if (text == "compact")
        return compact();
    if (text == "spread")
        return spread();
    const auto colon = text.find(':');
    if (colon == std::string_view::npos)
        bad_placement(text, "is not a placement");
    const std::string_view head = text.substr(0, colon);
    const std::string_view rest = text.substr(colon + 1);
    if (head == "numa_node" || head == "node") {
        unsigned k = 0;
        if (!parse_number(rest, k))
            bad_placement(text, "does not name a node number");
        return numa_node(k);
    }
    if (head != "cpus")
        bad_placement(text, "is not a placement");
    std::vector<unsigned> cpus;
    std::string_view list = rest;
    while (!list.empty()) {
        const auto comma = list.find(',');
        const std::string_view item = list.substr(0, comma);
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        const auto dash = item.find('-');
        unsigned lo = 0;
        unsigned hi = 0;
        if (dash == std::string_view::npos) {
            if (!parse_number(item, lo))
                bad_placement(text, "has a CPU that is not a number");
            hi = lo;
        } else if (!parse_number(item.substr(0, dash), lo) ||
                   !parse_number(item.substr(dash + 1), hi) || hi < lo || hi - lo > 65536) {
            bad_placement(text, "has a CPU range that is not LOW-HIGH");
        }
        for (unsigned c = lo; c <= hi; ++c)
            cpus.push_back(c);
        if (comma != std::string_view::npos && list.empty())
            bad_placement(text, "ends with a comma");
    }
    if (cpus.empty())
        bad_placement(text, "lists no CPU");
    return Placement::cpus(std::move(cpus));
}

std::string Placement::to_string() const {
    switch (m_kind) {
        case Kind::none:
            return "none";
        case Kind::compact:
            return "compact";
        case Kind::spread:
            return "spread";
        case Kind::numa_node:
            return "numa_node:" + std::to_string(m_node);
        case Kind::cpus: {
            std::string s = "cpus:";
            for (std::size_t i = 0; i < m_cpus.size(); ++i)
                s += (i != 0 ? "," : "") + std::to_string(m_cpus[i]);
            return s;
        }
    }
    return "none";
}

const char* to_string(StealLevel level) noexcept {
    switch (level) {
        case StealLevel::smt:
            return "smt";
        case StealLevel::cache:
            return "cache";
        case StealLevel::node:
            return "node";
        case StealLevel::remote:
            return "remote";
        case StealLevel::spare:
            return "spare";
    }
    return "?";
}

}  // namespace spindle

namespace spindle::detail::topology {

namespace {

// Spread order of the PUs in `pus` (indices into t.pus, in logical order) from tree level
// `depth` down (0: node, 1: L3, 2: core, 3: the PUs themselves): the PUs are grouped by their
// id at that level (groups in order of first appearance), each group is ordered recursively,
// and the groups are dealt out one PU at a time (a group that runs out is skipped). So
// consecutive workers land on different nodes, then different caches, then different cores,
// and SMT siblings come last; asymmetric machines simply run out of some groups first.
std::vector<std::size_t> spread_order(const Topology& t,
                                      const std::vector<std::size_t>& pus,
                                      int depth) {
    if (depth == 3 || pus.size() <= 1)
        return pus;
    auto key = [&](std::size_t i) {
        const Pu& p = t.pus[i];
        return depth == 0 ? p.node : depth == 1 ? p.cache : p.core;
    };
    std::vector<int> keys;
    std::vector<std::vector<std::size_t>> groups;
    for (std::size_t i : pus) {
        const int k = key(i);
        auto it = std::find(keys.begin(), keys.end(), k);
        if (it == keys.end()) {
            keys.push_back(k);
            groups.emplace_back();
            it = keys.end() - 1;
        }
        groups[static_cast<std::size_t>(it - keys.begin())].push_back(i);
    }
    for (auto& g : groups)
        g = spread_order(t, g, depth + 1);
    std::vector<std::size_t> out;
    out.reserve(pus.size());
    for (std::size_t round = 0; out.size() < pus.size(); ++round)
        for (const auto& g : groups)
            if (round < g.size())
                out.push_back(g[round]);
    return out;
}

}  // namespace

std::vector<std::size_t> policy_order(const Topology& t, const Placement& policy) {
    std::vector<std::size_t> all(t.pus.size());
    for (std::size_t i = 0; i < all.size(); ++i)
        all[i] = i;
    switch (policy.kind()) {
        case Placement::Kind::none:
        case Placement::Kind::compact:
            return all;
        case Placement::Kind::spread:
            return spread_order(t, all, 0);
        case Placement::Kind::numa_node: {
            if (policy.node() >= t.num_nodes)
                throw InvalidPoolOptions(
                    "spindle: placement " + policy.to_string() + ": the topology (" +
                    t.description + ") has " + std::to_string(t.num_nodes) +
                    " NUMA node(s) with CPUs this process may use, numbered from 0");
            std::vector<std::size_t> out;
            for (std::size_t i : all)
                if (static_cast<std::size_t>(t.pus[i].node) == policy.node())
                    out.push_back(i);
            return out;
        }
        case Placement::Kind::cpus: {
            std::vector<std::size_t> out;
            for (unsigned c : policy.cpu_list()) {
                auto it = std::find_if(t.pus.begin(), t.pus.end(),
                                       [c](const Pu& p) { return p.os == c; });
                if (it == t.pus.end()) {
                    std::string have;
                    for (const Pu& p : t.pus)
                        have += (have.empty() ? "" : ",") + std::to_string(p.os);
                    throw InvalidPoolOptions("spindle: placement " + policy.to_string() + ": CPU " +
                                             std::to_string(c) +
                                             " is not one this process may use (" + have + ")");
                }
                out.push_back(static_cast<std::size_t>(it - t.pus.begin()));
            }
            return out;
        }
    }
    return all;
}

Plan make_plan(const Topology& t, const Placement& policy, std::size_t num_workers) {
    const std::vector<std::size_t> order = policy_order(t, policy);
    Plan plan;
    plan.pu.resize(num_workers);
    for (std::size_t w = 0; w < num_workers; ++w)
        plan.pu[w] = order[w % order.size()];
    plan.bind = policy.kind() != Placement::Kind::none && t.this_system;
    return plan;
}

std::vector<VictimGroup> victim_groups(const Topology& t,
                                       const Plan& plan,
                                       std::size_t at,
                                       std::size_t self) {
    VictimGroup smt{StealLevel::smt, {}};
    VictimGroup cache{StealLevel::cache, {}};
    VictimGroup node{StealLevel::node, {}};
    std::map<std::uint64_t, std::vector<std::size_t>> remote;  // by distance, nearest first
    const Pu& me = t.pus[at];
    for (std::size_t v = 0; v < plan.pu.size(); ++v) {
        if (v == self)
            continue;
        if (!t.from_hwloc) {  // flat: one group, as before topology existed
            node.workers.push_back(v);
            continue;
        }
        const Pu& other = t.pus[plan.pu[v]];
        if (plan.pu[v] == at || (me.core >= 0 && other.core == me.core))
            smt.workers.push_back(v);
        else if (me.cache >= 0 && other.cache == me.cache)
            cache.workers.push_back(v);
        else if (other.node == me.node)
            node.workers.push_back(v);
        else
            remote[t.node_distance(me.node, other.node)].push_back(v);
    }
    std::vector<VictimGroup> out;
    for (VictimGroup* g : {&smt, &cache, &node})
        if (!g->workers.empty())
            out.push_back(std::move(*g));
    for (auto& [distance, workers] : remote)
        out.push_back(VictimGroup{StealLevel::remote, std::move(workers)});
#if SPINDLE_ASSERTIONS
    // Every other worker exactly once, never self: each group ascends (so lists each worker at
    // most once within it) and the groups together list plan.pu.size() - 1 workers (or all).
    std::size_t listed = 0;
    bool has_self = false;
    for (const VictimGroup& g : out) {
        listed += g.workers.size();
        for (std::size_t i = 0; i < g.workers.size(); ++i) {
            has_self = has_self || g.workers[i] == self;
            SPINDLE_ASSERT(i == 0 || g.workers[i - 1] < g.workers[i],
                           "design-notes/0010, invariant 3");
        }
    }
    SPINDLE_ASSERT(!has_self && listed == plan.pu.size() - (self < plan.pu.size() ? 1 : 0),
                   "design-notes/0010, invariant 3");
#endif
    return out;
}

}  // namespace spindle::detail::topology
