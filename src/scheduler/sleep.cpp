// The sleep protocol, both sides (the steps S1-S5 and P1-P4 and why no wake-up is lost:
// sleep.hpp; design-notes/0001 §4). The publishers' inline fast half is notify_published in
// include/spindle/detail/runtime.hpp; inject and inject_bulk (P2) are in registry.cpp beside
// the injector, make_ready and push_broadcast (P3) in worker.cpp.
#include "scheduler/sleep.hpp"

#include "scheduler/registry.hpp"
#include "scheduler/worker.hpp"
#include "trace/buffer.hpp"
#include "util/assert.hpp"
#include "util/fork.hpp"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace spindle::detail {

// ---- the sleeper's side -----------------------------------------------------------------------

// S3's last look, at every source of work, after the SleepFence (the counts are seq_cst loads;
// the deque probes, looks_empty, are relaxed, and seq_cst under TSan, which has no fence). A
// deque with only private jobs gets a steal request from looks_empty: its owner's answer
// publishes into an empty shared part (P1).
bool Worker::has_stealable_work() noexcept {
    if (m_broadcast_count.load(std::memory_order_seq_cst) != 0)
        return true;
    if (m_registry->has_injected())
        return true;
    for (std::size_t i = 0; i < m_registry->num_slots(); ++i)
        if (i != index && !m_registry->worker(i).deque.looks_empty())
            return true;
    return !deque.looks_empty();
}

bool Worker::has_work_for_sleeper(bool jobs_allowed) noexcept {
    if (m_ready_head != nullptr)
        return true;
    if (m_remote_ready.load(std::memory_order_seq_cst) != nullptr)
        return true;
    if (m_registry->terminating())
        return true;
    // A worker that may not take jobs sleeps until one of its fibers is made ready (a
    // make_ready wakes it directly) or it is admitted again (wake_one considers it then).
    if (!jobs_allowed)
        return may_take_jobs() && has_stealable_work();
    return has_stealable_work();
}

bool Worker::sleep_cold(bool jobs_allowed) noexcept {
    if (m_registry->created_before_fork()) [[unlikely]]
        fatal_worker_used_after_fork("the worker ran out of work");
    std::atomic<std::uint32_t>& count = m_registry->sleepers();
    // Awake: the last sleep's word went 1 -> 0 (or there was none); only this worker sets 1.
    SPINDLE_ASSERT(m_sleep_word.load(std::memory_order_relaxed) == 0,
                   "design-notes/0001, invariant 6");
    // S1, S2 (sleep.hpp). seq_cst: both pair with the publishers' fences and RMWs (P1-P4).
    const std::uint32_t sleeping = count.fetch_add(1, std::memory_order_seq_cst);
    SPINDLE_ASSERT(sleeping < m_registry->num_slots(), "design-notes/0001, invariant 6");
    m_sleep_word.store(1, std::memory_order_seq_cst);
#ifndef SPINDLE_TSAN
    // S3's SleepFence: pairs with WakeFence in notify_published() (P1); orders S1 before the
    // relaxed deque probes of the last look.
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
    if (has_work_for_sleeper(jobs_allowed)) {
        // S4, cancel: races a waker's exchange in wake(); the one that reads 1 undoes S1.
        if (m_sleep_word.exchange(0, std::memory_order_seq_cst) == 1) {
            const std::uint32_t before = count.fetch_sub(1, std::memory_order_seq_cst);
            SPINDLE_ASSERT(before > 0, "design-notes/0001, invariant 6");
        }
        return false;
    }
    // S5, committed: from here on only a waker ends the sleep, and it counts this worker as
    // running again (active_up) before it does.
    const bool at_fiber_limit = !jobs_allowed && m_suspended >= m_max_suspended;
    if (at_fiber_limit)
        m_asleep_at_fiber_limit.store(m_suspended, std::memory_order_relaxed);
    m_registry->active_down();
    counters.sleeps.bump();
    if (trace != nullptr) [[unlikely]]
        trace_cold(TraceKind::sleep);
    call_release_handler();
    while (m_sleep_word.load(std::memory_order_acquire) == 1)
        m_sleep_word.wait(1, std::memory_order_acquire);
    counters.wakeups.bump();
    if (trace != nullptr) [[unlikely]]
        trace_cold(TraceKind::wake);
    if (at_fiber_limit)
        m_asleep_at_fiber_limit.store(0, std::memory_order_relaxed);
    call_acquire_handler();
    return true;
}

// ---- waking -----------------------------------------------------------------------------------

bool Worker::wake() noexcept {
    // seq_cst: the waker's work was published before this; pairs with the sleeper's S2
    // and S4 (sleep.hpp).
    // A 0 here means the worker is not asleep (or not yet: then its re-check sees the work).
    if (m_sleep_word.load(std::memory_order_seq_cst) == 0)
        return false;
    // Count the worker as running before it can run, so that no wake-up in flight looks like
    // a deadlock (design-notes/0005); undone if it was not asleep after all.
    m_registry->active_up();
    if (m_sleep_word.exchange(0, std::memory_order_seq_cst) == 1) {
        const std::uint32_t before = m_registry->sleepers().fetch_sub(1, std::memory_order_seq_cst);
        SPINDLE_ASSERT(before > 0, "design-notes/0001, invariant 6");
        m_sleep_word.notify_one();
        return true;
    }
    m_registry->active_down();
    return false;
}

std::uint32_t Registry::wake_one() noexcept {
    const std::uint32_t sleepers = m_sleepers.load(std::memory_order_seq_cst);
    if (sleepers == 0)
        return 0;
    // Regular workers, and the spare workers that blocking sections admit now (a spare that
    // no section needs would go back to sleep without looking at the work).
    const std::size_t n = m_num_threads + std::min(m_in_sections.load(std::memory_order_relaxed),
                                                   m_workers.size() - m_num_threads);
    const std::size_t start =
        static_cast<std::size_t>(m_wake_cursor.fetch_add(1, std::memory_order_relaxed) % n);
    for (std::size_t i = 0; i < n; ++i) {
        Worker& w = *m_workers[(start + i) % n];
        // seq_cst load: a 0 read here is ordered before that worker's S2, so its last look (S3)
        // will see what we published (sleep.hpp).
        if (w.m_sleep_word.load(std::memory_order_seq_cst) == 1 && w.wake())
            return sleepers;
    }
    return 0;
}

std::uint32_t Registry::wake_one_near(std::size_t near) noexcept {
    if (near >= m_node_peers.size() || m_node_peers[near].empty())
        return wake_one();
    const std::uint32_t sleepers = m_sleepers.load(std::memory_order_seq_cst);
    if (sleepers == 0)
        return 0;
    const std::vector<std::size_t>& peers = m_node_peers[near];
    const std::size_t n = peers.size();
    const std::size_t start =
        static_cast<std::size_t>(m_wake_cursor.fetch_add(1, std::memory_order_relaxed) % n);
    for (std::size_t i = 0; i < n; ++i) {
        Worker& w = *m_workers[peers[(start + i) % n]];
        // seq_cst load: as in wake_one().
        if (w.m_sleep_word.load(std::memory_order_seq_cst) == 1 && w.wake())
            return sleepers;
    }
    return wake_one();  // none of the node's workers sleeps: a remote one
}

std::uint32_t Registry::wake_one_for_waiter() noexcept {
    // Only for a thread outside every pool: a worker of another pool does not block, it parks
    // the waiting fiber and goes on running its own pool's jobs on that CPU.
    if (!m_worker_on_cpu.empty() && current_worker() == nullptr) {
        const std::uint32_t sleepers = m_sleepers.load(std::memory_order_seq_cst);
        // Only into an idle pool: then the submitter blocks at once (wait_latch), where with a
        // worker awake it would spin first and hold up a worker woken on its own CPU.
        const int cpu = sleepers >= m_num_threads ? sched_getcpu() : -1;
        if (cpu >= 0 && static_cast<std::size_t>(cpu) < m_worker_on_cpu.size()) {
            if (const int k = m_worker_on_cpu[static_cast<std::size_t>(cpu)]; k >= 0) {
                Worker& w = *m_workers[static_cast<std::size_t>(k)];
                // seq_cst load: as in wake_one().
                if (w.m_sleep_word.load(std::memory_order_seq_cst) == 1 && w.wake())
                    return sleepers;
            }
        }
    }
    return wake_one();
}

void Registry::wake_all() noexcept {
    for (auto& w : m_workers)
        w->wake();
}

// ---- the publisher's side --------------------------------------------------------------------

// P1's slow half: notify_published (runtime.hpp) found a sleeper after its WakeFence.
void wake_one_sleeper(WorkerCore* w) noexcept {
    w->registry->wake_one_near(w->index);
}

}  // namespace spindle::detail
