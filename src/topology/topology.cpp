// Discovery and binding, with the flat fallback (design-notes/0010-topology.md §1, §4).
#include "topology/topology.hpp"

#include "spindle/errors.hpp"
#if SPINDLE_HAVE_HWLOC
#include "topology/hwloc_backend.hpp"
#endif

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace spindle::detail::topology {

namespace {

// One warning per process, however many pools fall back.
void warn_flat_once(const std::string& why) {
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true, std::memory_order_relaxed))
        std::fprintf(stderr,
                     "spindle: warning: %s; using a flat topology (all workers equally near, "
                     "no binding, no NUMA placement)\n",
                     why.c_str());
}

bool ends_with(const std::string& s, const char* suffix) {
    const std::string x(suffix);
    return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

}  // namespace

std::vector<unsigned> allowed_cpus() {
    std::vector<unsigned> out;
    // A mask as large as the kernel's: CPU_ALLOC sizes beyond CPU_SETSIZE for big machines.
    for (int ncpus = 1024; ncpus <= (1 << 20); ncpus *= 2) {
        cpu_set_t* set = CPU_ALLOC(static_cast<std::size_t>(ncpus));
        if (set == nullptr)
            break;
        const std::size_t bytes = CPU_ALLOC_SIZE(static_cast<std::size_t>(ncpus));
        CPU_ZERO_S(bytes, set);
        if (sched_getaffinity(0, bytes, set) == 0) {
            for (int c = 0; c < ncpus; ++c)
                if (CPU_ISSET_S(static_cast<std::size_t>(c), bytes, set))
                    out.push_back(static_cast<unsigned>(c));
            CPU_FREE(set);
            break;
        }
        CPU_FREE(set);
        if (errno != EINVAL)
            break;  // EINVAL: the mask is smaller than the kernel's; try a larger one
    }
    if (out.empty())
        out.push_back(0);  // cannot tell: one CPU, never more than the process may have
    return out;
}

Topology flat(std::string why) {
    Topology t;
    const std::vector<unsigned> cpus = allowed_cpus();
    t.pus.reserve(cpus.size());
    for (std::size_t i = 0; i < cpus.size(); ++i)
        t.pus.push_back(Pu{cpus[i], static_cast<int>(i), -1, 0});
    t.num_nodes = 1;
    t.distance = {0};
    t.this_system = true;
    t.from_hwloc = false;
    t.description = "flat (" + why + ")";
    return t;
}

Topology load(const std::string& requested) {
    std::string spec = requested;
    if (spec.empty())
        if (const char* v = std::getenv("SPINDLE_TOPOLOGY"))
            spec = v;
    if (spec == "flat")
        return flat("requested");
    bool machine = spec.empty() || spec == "machine";
    std::string arg = spec;
    bool xml = false;
    if (spec.rfind("xml:", 0) == 0) {
        xml = true;
        arg = spec.substr(4);
    } else if (ends_with(spec, ".xml")) {
        xml = true;
    } else if (spec.rfind("synthetic:", 0) == 0) {
        arg = spec.substr(10);
    }
#if SPINDLE_HAVE_HWLOC
    // The real machine costs hwloc a walk of sysfs (4 ms per pool on the dev VM, which doubled
    // the cost of creating a pool), so it is read once per process and allowed-CPU mask; a
    // synthetic or XML machine is read each time (cheap, and a file may change).
    // Never destroyed: a pool of a static destructor's time may still load (Registry copies
    // keep the hwloc object alive on their own).
    static std::mutex& cache_mutex = *new std::mutex;
    static auto& cache = *new std::vector<std::pair<std::vector<unsigned>, Topology>>;
    std::vector<unsigned> mask;
    if (machine) {
        mask = allowed_cpus();
        std::lock_guard<std::mutex> lock(cache_mutex);
        for (const auto& [m, cached] : cache)
            if (m == mask)
                return cached;
    }
    Topology t;
    const Source source = machine ? Source::machine : xml ? Source::xml : Source::synthetic;
    const std::string error = hwloc_load(source, arg, t);
    if (error.empty()) {
        if (machine) {
            std::lock_guard<std::mutex> lock(cache_mutex);
            if (cache.size() < 16)
                cache.emplace_back(std::move(mask), t);
        }
        return t;
    }
    if (!machine)
        throw InvalidPoolOptions("spindle: PoolOptions::topology / SPINDLE_TOPOLOGY '" + spec +
                                 "': " + error);
    warn_flat_once("hwloc cannot read this machine's topology (" + error + ")");
    return flat("hwloc failed: " + error);
#else
    (void)xml;
    if (machine)
        return flat("built without hwloc");
    warn_flat_once("topology '" + spec + "' needs hwloc, and spindle was built without it");
    return flat("built without hwloc; '" + spec + "' ignored");
#endif
}

bool bind_thread(const Topology& t, const std::vector<std::size_t>& pus) noexcept {
    if (!t.this_system || pus.empty())
        return false;
#if SPINDLE_HAVE_HWLOC
    if (t.from_hwloc)
        return hwloc_bind_thread(t, pus);
#endif
    cpu_set_t set;
    CPU_ZERO(&set);
    for (std::size_t i : pus) {
        if (t.pus[i].os >= CPU_SETSIZE)
            return false;
        CPU_SET(t.pus[i].os, &set);
    }
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

bool bind_memory(const Topology& t, void* p, std::size_t len, int node) noexcept {
    if (!t.this_system || t.num_nodes < 2 || p == nullptr || len == 0)
        return false;
#if SPINDLE_HAVE_HWLOC
    if (t.from_hwloc)
        return hwloc_bind_memory(t, p, len, node);
#endif
    (void)node;
    return false;  // the flat fallback has one node
}

}  // namespace spindle::detail::topology
