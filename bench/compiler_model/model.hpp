// The crate model shared by bench/compiler_model/compiler_model.cpp; bench/compiler_model/rust/
// src/main.rs has the same constants and the same arithmetic, line for line.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace model {

inline constexpr std::uint32_t CGUS = 8;
inline constexpr std::uint64_t ROUNDS_PER_UNIT = 250;
inline constexpr std::uint32_t DEFAULT_ITEMS = 1000;

struct SplitMix64 {
    std::uint64_t s;
    std::uint64_t next() {
        std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
};

struct Crate {
    std::uint32_t items = 0;
    std::vector<std::vector<std::uint32_t>> deps;
    std::vector<std::uint64_t> cost;  // front-end units per item
};

inline Crate make_crate(std::uint32_t index, std::uint32_t items) {
    Crate c;
    c.items = items;
    c.deps.resize(items);
    c.cost.resize(items);
    SplitMix64 g{0xC0DEull + index};
    for (std::uint32_t i = 0; i < items; ++i) {
        const std::uint64_t n = g.next() % 4;
        for (std::uint64_t k = 0; k < n && i > 0; ++k)
            c.deps[i].push_back(static_cast<std::uint32_t>(g.next() % i));
        std::uint64_t units = 20 + g.next() % 100;
        if (g.next() % 16 == 0)
            units *= 10;
        c.cost[i] = units;
    }
    return c;
}

// How many threads of all processes are working right now, in a file shared by them (run.sh
// creates it), and the peak. Without a file, only this process's.
class Counter {
public:
    explicit Counter(const std::string& path) {
        if (!path.empty()) {
            const int fd = ::open(path.c_str(), O_RDWR);
            if (fd >= 0) {
                void* p = ::mmap(nullptr, 2 * sizeof(std::int64_t), PROT_READ | PROT_WRITE,
                                 MAP_SHARED, fd, 0);
                ::close(fd);
                if (p != MAP_FAILED)
                    m_shared = static_cast<std::int64_t*>(p);
            }
            if (m_shared == nullptr)
                std::fprintf(stderr, "compiler_model: cannot map %s; counting this process only\n",
                             path.c_str());
        }
    }
    void enter() {
        bump_peak(m_local_peak, m_local.fetch_add(1, std::memory_order_relaxed) + 1);
        if (m_shared != nullptr) {
            std::atomic_ref<std::int64_t> running(m_shared[0]);
            std::atomic_ref<std::int64_t> peak(m_shared[1]);
            const std::int64_t now = running.fetch_add(1, std::memory_order_relaxed) + 1;
            std::int64_t p = peak.load(std::memory_order_relaxed);
            while (now > p && !peak.compare_exchange_weak(p, now, std::memory_order_relaxed)) {
            }
        }
    }
    void leave() {
        m_local.fetch_sub(1, std::memory_order_relaxed);
        if (m_shared != nullptr)
            std::atomic_ref<std::int64_t>(m_shared[0]).fetch_sub(1, std::memory_order_relaxed);
    }
    std::int64_t local_peak() const { return m_local_peak.load(); }

private:
    static void bump_peak(std::atomic<std::int64_t>& peak, std::int64_t now) {
        std::int64_t p = peak.load(std::memory_order_relaxed);
        while (now > p && !peak.compare_exchange_weak(p, now, std::memory_order_relaxed)) {
        }
    }
    // [0] threads working now, [1] the peak: every thread of every process that maps the file
    // adds and reads them (relaxed: counts, ordering nothing). Null without a file.
    std::int64_t* m_shared = nullptr;
    std::atomic<std::int64_t> m_local{0};       // the same for this process's threads only
    std::atomic<std::int64_t> m_local_peak{0};  // read once, after the pool is gone
};

// `units` units of work folded into seed (the same mix as the Rust twin).
inline std::uint64_t work(std::uint64_t seed, std::uint64_t units, Counter& counter) {
    counter.enter();
    std::uint64_t x = seed;
    for (std::uint64_t r = 0; r < units * ROUNDS_PER_UNIT; ++r) {
        x ^= x >> 33;
        x *= 0xFF51AFD7ED558CCDull;
        x ^= x >> 29;
    }
    counter.leave();
    return x;
}

inline std::uint64_t type_check(const Crate& c,
                                std::uint32_t i,
                                const std::vector<std::uint64_t>& dep_values,
                                Counter& counter) {
    std::uint64_t seed = (static_cast<std::uint64_t>(i) + 1) * 0x9E3779B97F4A7C15ull;
    for (std::uint64_t v : dep_values)
        seed += v;
    return work(seed, c.cost[i], counter);
}

inline std::uint64_t codegen(const Crate& c,
                             std::uint32_t unit,
                             const std::vector<std::uint64_t>& item_values,
                             Counter& counter) {
    std::uint64_t seed = static_cast<std::uint64_t>(unit) + 1, units = 0;
    for (std::uint32_t i = unit, k = 0; i < c.items; i += CGUS, ++k) {
        seed ^= item_values[k];
        units += 2 * c.cost[i];
    }
    return work(seed, units, counter);
}

inline std::uint64_t combine(const std::vector<std::uint64_t>& unit_values) {
    std::uint64_t r = 0;
    for (std::size_t g = 0; g < unit_values.size(); ++g)
        r += (g + 1) * unit_values[g];
    return r;
}

struct Args {
    std::uint32_t crate_index = 0;
    std::size_t threads = 2;
    std::uint32_t items = DEFAULT_ITEMS;
    std::string concurrency_file;
};

inline bool parse_args(int argc, char** argv, Args& a) {
    for (int i = 1; i < argc; ++i) {
        const bool has = i + 1 < argc;
        if (std::strcmp(argv[i], "--crate") == 0 && has)
            a.crate_index = static_cast<std::uint32_t>(std::strtoul(argv[++i], nullptr, 10));
        else if (std::strcmp(argv[i], "--threads") == 0 && has)
            a.threads = std::strtoul(argv[++i], nullptr, 10);
        else if (std::strcmp(argv[i], "--items") == 0 && has)
            a.items = static_cast<std::uint32_t>(std::strtoul(argv[++i], nullptr, 10));
        else if (std::strcmp(argv[i], "--concurrency-file") == 0 && has)
            a.concurrency_file = argv[++i];
        else {
            std::fprintf(stderr,
                         "usage: %s --crate K [--threads T] [--items N] [--concurrency-file F]\n",
                         argv[0]);
            return false;
        }
    }
    if (a.threads == 0 || a.items == 0) {
        std::fprintf(stderr, "compiler_model: --threads and --items must be positive\n");
        return false;
    }
    return true;
}

}  // namespace model
