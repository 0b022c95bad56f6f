// Blocking sections and spare workers (design-notes/0005 §4, 0007 §4): a worker whose thread
// blocks outside spindle (BlockingSection, or a wait with no fiber to park on) counts as
// blocked, publishes its private jobs, gives its job token back, and wakes (or starts) a spare
// worker so that the pool keeps num_threads workers running. The deadlock accounting these
// feed is in deadlock.cpp.
#include "spindle/blocking.hpp"

#include "scheduler/blocked_list.hpp"
#include "scheduler/registry.hpp"
#include "spindle/detail/lock_order.hpp"
#include "util/fork.hpp"

#include <atomic>
#include <cstdio>
#include <exception>
#include <mutex>

namespace spindle::detail {

void Registry::section_begin(const char* label, WaitNode* node) noexcept {
    if (created_before_fork()) [[unlikely]]
        fatal_worker_used_after_fork("a BlockingSection");
    auto* w = static_cast<Worker*>(tl_worker);
    SPINDLE_LOCK_ORDER_ACQUIRE("Worker::m_blocked_lock", &w->m_blocked_lock);
    w->m_blocked_lock.lock();
    const bool outermost = w->m_section_depth++ == 0;
    if (outermost) {
        w->m_section_label = label;
        w->m_section_node = node;
        if (node != nullptr)
            blocked_link(w->m_blocked_head, *node);
        w->m_waiting.store(w->m_waiting.load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
    }
    w->m_blocked_lock.unlock();
    SPINDLE_LOCK_ORDER_RELEASE(&w->m_blocked_lock);
    if (!outermost)
        return;
    if (w->trace != nullptr) [[unlikely]]  // a wait with no fiber to park on: its kind
        trace_record_copy(w, TraceKind::section_begin,
                          label != nullptr ? label : (node != nullptr ? node->site.kind : ""));
    // Let thieves (and the spare) take what this worker has not started.
    w->deque.publish_all();
    w->call_release_handler();  // its job token, for the spare (0007)
    const std::size_t sections = m_in_sections.fetch_add(1, std::memory_order_relaxed) + 1;
    active_down();
    if (sections <= m_workers.size() - m_num_threads)
        start_or_wake_spare(sections);
}

void Registry::section_end(WaitNode* node) noexcept {
    auto* w = static_cast<Worker*>(tl_worker);
    // Outermost section: take a job token again (design-notes/0007). Only this thread writes
    // m_section_depth, so it reads it without the lock.
    if (w->m_section_depth == 1)
        w->call_acquire_handler();
    SPINDLE_LOCK_ORDER_ACQUIRE("Worker::m_blocked_lock", &w->m_blocked_lock);
    w->m_blocked_lock.lock();
    const bool outermost = --w->m_section_depth == 0;
    if (outermost) {
        if (node != nullptr)
            blocked_unlink(w->m_blocked_head, *node);
        w->m_section_label = nullptr;
        w->m_section_node = nullptr;
        w->m_waiting.store(w->m_waiting.load(std::memory_order_relaxed) - 1,
                           std::memory_order_relaxed);
    }
    w->m_blocked_lock.unlock();
    SPINDLE_LOCK_ORDER_RELEASE(&w->m_blocked_lock);
    if (!outermost)
        return;
    if (w->trace != nullptr) [[unlikely]]
        w->trace_cold(TraceKind::section_end);
    active_up();
    m_in_sections.fetch_sub(1, std::memory_order_relaxed);
}

void Registry::start_or_wake_spare(std::size_t rank) noexcept {
    Worker& spare = *m_workers[m_num_threads + rank - 1];
    {
        SPINDLE_LOCK_ORDER_GUARD("Registry::m_spare_mutex", &m_spare_mutex);
        std::lock_guard<std::mutex> lock(m_spare_mutex);
        if (m_spares_closed)
            return;
        if (rank > m_spares_started) {
            // Spares start in rank order, so rank == m_spares_started + 1 here unless an
            // earlier start failed; start every missing one up to rank.
            while (m_spares_started < rank) {
                Worker& s = *m_workers[m_num_threads + m_spares_started];
                active_up();  // it runs from the moment it exists
                try {
                    s.start(m_stack_size);
                } catch (const std::exception& e) {
                    active_down();
                    // Set once by the first failed start (exchange); read by no one else:
                    // only keeps the warning to one line per process. Orders nothing.
                    static std::atomic<bool> warned{false};
                    if (!warned.exchange(true))
                        std::fprintf(stderr,
                                     "spindle: warning: cannot start a spare worker (%s); "
                                     "blocking sections reduce the pool's parallelism\n",
                                     e.what());
                    return;
                }
                ++m_spares_started;
                m_spare_starts.store(m_spare_starts.load(std::memory_order_relaxed) + 1,
                                     std::memory_order_relaxed);
            }
            return;
        }
    }
    spare.wake();
}

}  // namespace spindle::detail

namespace spindle {

BlockingSection::BlockingSection(const char* label) noexcept : m_worker(detail::tl_worker) {
    if (m_worker != nullptr)
        static_cast<detail::Worker*>(m_worker)->registry->section_begin(label, nullptr);
}

BlockingSection::~BlockingSection() {
    if (m_worker != nullptr)
        static_cast<detail::Worker*>(m_worker)->registry->section_end(nullptr);
}

}  // namespace spindle
