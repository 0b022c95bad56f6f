// WorkerLocal<T>: one value per worker of a pool (the fork's WorkerLocal).
#pragma once

#include "spindle/detail/runtime.hpp"
#include "spindle/pool.hpp"

#include <cstddef>
#include <memory>
#include <new>
#include <stdexcept>
#include <utility>
#include <vector>

namespace spindle {

/// One T per worker, built by init(index) for every index of the pool, reachable from any job
/// running on that pool as the running worker's own value. Values sit on separate cache lines.
/// The worker that owns a value is the only one that touches it through get(); reading all of
/// them (into_inner, values) is for when the pool's work is done.
template <class T>
class WorkerLocal {
public:
    /// For the pool of the calling worker, else the global pool.
    template <class F>
    explicit WorkerLocal(F&& init)
        : WorkerLocal(ThreadPool::current() != nullptr ? *ThreadPool::current() : global_pool(),
                      std::forward<F>(init)) {}

    // Slot i is allocated for worker i, on its NUMA node where the OS can place memory per
    // node (a real machine with several nodes: the slot then takes whole pages); node_of(i)
    // says which node that is.
    template <class F>
    /// One value per worker of pool, the i-th made by init(i).
    WorkerLocal(ThreadPool& pool, F&& init) : m_registry(pool.registry()) {
        const std::size_t n = pool.max_threads();  // spare workers included
        m_values.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            std::size_t align = alignof(Padded);
            void* raw = detail::allocate_worker_local(m_registry, sizeof(Padded), align, i, &align);
            try {
                m_values.push_back(Ptr(new (raw) Padded(init(i)), Free{align}));
            } catch (...) {
                detail::free_worker_local(raw, align);
                throw;
            }
        }
    }

    /// The calling worker's value. Throws std::logic_error when the caller is not a worker of
    /// the pool this was created for (the fork panics the same way).
    T& get() {
        detail::WorkerCore* w = detail::current_worker();
        if (w == nullptr || w->registry != m_registry)
            throw std::logic_error(
                "spindle: WorkerLocal can only be used on the thread pool it was created on");
        return m_values[w->index]->value;
    }
    /// The calling worker's value (as get()).
    T& operator*() { return get(); }
    /// The calling worker's value (as get()).
    T* operator->() { return &get(); }

    /// The number of values, one per worker.
    std::size_t size() const noexcept { return m_values.size(); }
    /// The NUMA node that worker `index` runs on and its slot was allocated for, numbered as
    /// the pool's topology numbers them (0 on a single-node machine). Whether the pages are
    /// physically there is up to the OS (design-notes/0010-topology.md §4).
    int node_of(std::size_t index) const {
        if (index >= m_values.size())
            throw std::out_of_range("spindle: WorkerLocal::node_of: no such worker");
        return detail::registry_node_of(m_registry, index);
    }
    /// Every worker's value, by index.
    T& at(std::size_t index) { return m_values.at(index)->value; }

    /// Moves the values out, in worker order.
    std::vector<T> into_inner() && {
        std::vector<T> out;
        out.reserve(m_values.size());
        for (auto& p : m_values)
            out.push_back(std::move(p->value));
        m_values.clear();
        return out;
    }

private:
    struct alignas(64) Padded {
        explicit Padded(T v) : value(std::move(v)) {}
        T value;
    };
    struct Free {
        std::size_t align;
        void operator()(Padded* p) const noexcept {
            p->~Padded();
            detail::free_worker_local(p, align);
        }
    };
    using Ptr = std::unique_ptr<Padded, Free>;
    detail::Registry* m_registry;
    std::vector<Ptr> m_values;
};

}  // namespace spindle
