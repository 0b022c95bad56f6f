// Child process for the affinity tests (topology_test.cpp): builds a default-sized pool with the
// placement named by argv[1] and prints what it got. With argv[2] = a CPU number it first
// narrows its own affinity mask to that CPU (as a container or a pinned CI job would), so the
// test does not need taskset; the tests also run it under `taskset -c 1`.
#include <spindle/spindle.hpp>

#include <sched.h>

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
    if (argc > 2) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(std::atoi(argv[2]), &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) {
            std::perror("sched_setaffinity");
            return 2;
        }
    }
    spindle::ThreadPool pool(
        spindle::PoolOptions{.placement = spindle::Placement::parse(argc > 1 ? argv[1] : "none")});
    std::printf("threads=%zu\n", pool.num_threads());
    const auto lines = pool.broadcast([](spindle::BroadcastContext c) {
        cpu_set_t set;
        CPU_ZERO(&set);
        sched_getaffinity(0, sizeof set, &set);
        std::string allowed;
        for (int i = 0; i < CPU_SETSIZE; ++i)
            if (CPU_ISSET(i, &set))
                allowed += (allowed.empty() ? "" : ",") + std::to_string(i);
        return "worker=" + std::to_string(c.index) + " cpu=" + std::to_string(sched_getcpu()) +
               " allowed=" + allowed;
    });
    const spindle::PoolStats st = pool.stats();
    for (std::size_t i = 0; i < lines.size(); ++i)
        std::printf("%s planned=%u bound=%d\n", lines[i].c_str(), st.workers[i].cpu,
                    st.workers[i].bound ? 1 : 0);
    return 0;
}
