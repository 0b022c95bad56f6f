// Deadlock accounting and detection, blocking sections and spare workers (design-notes/0005).
//
// The pool counts the threads that run code (m_active) and, per worker, the waits that are
// blocked there (parked fibers, and the worker's own thread when it is in a blocking section).
// The worker whose sleep brings m_active to zero while something waits kicks the monitor
// thread; the monitor declares a deadlock when m_active stayed zero, with m_epoch unchanged,
// for the whole grace period (PoolOptions::deadlock_delay), and calls the handler once for
// that epoch.
#include "spindle/deadlock.hpp"

#include "scheduler/registry.hpp"
#include "spindle/blocking.hpp"
#include "util/fatal.hpp"

#include <cstdio>
#include <sstream>
#include <string>

namespace spindle::detail {

namespace {

void link(WaitNode*& head, WaitNode& n) noexcept {
    n.reg_prev = nullptr;
    n.reg_next = head;
    if (head != nullptr)
        head->reg_prev = &n;
    head = &n;
}

void unlink(WaitNode*& head, WaitNode& n) noexcept {
    if (n.reg_prev != nullptr)
        n.reg_prev->reg_next = n.reg_next;
    else
        head = n.reg_next;
    if (n.reg_next != nullptr)
        n.reg_next->reg_prev = n.reg_prev;
    n.reg_next = n.reg_prev = nullptr;
}

}  // namespace

// ---- accounting, on the worker's own thread ------------------------------------------------

void Registry::blocked_begin(WaitNode& node) noexcept {
    auto* w = static_cast<Worker*>(node.worker);
    w->m_blocked_lock.lock();
    link(w->m_blocked_head, node);
    w->m_waiting.store(w->m_waiting.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    w->m_blocked_lock.unlock();
}

void Registry::blocked_end(WaitNode& node) noexcept {
    auto* w = static_cast<Worker*>(node.worker);
    w->m_blocked_lock.lock();
    unlink(w->m_blocked_head, node);
    w->m_waiting.store(w->m_waiting.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    w->m_blocked_lock.unlock();
}

void Registry::section_begin(const char* label, WaitNode* node) noexcept {
    auto* w = static_cast<Worker*>(tl_worker);
    w->m_blocked_lock.lock();
    const bool outermost = w->m_section_depth++ == 0;
    if (outermost) {
        w->m_section_label = label;
        w->m_section_node = node;
        if (node != nullptr)
            link(w->m_blocked_head, *node);
        w->m_waiting.store(w->m_waiting.load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
    }
    w->m_blocked_lock.unlock();
    if (!outermost)
        return;
    // Let thieves (and the spare) take what this worker has not started.
    w->deque.publish_all();
    call_handler(options().release_thread_handler);  // its job token, for the spare (0007)
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
        call_handler(options().acquire_thread_handler);
    w->m_blocked_lock.lock();
    const bool outermost = --w->m_section_depth == 0;
    if (outermost) {
        if (node != nullptr)
            unlink(w->m_blocked_head, *node);
        w->m_section_label = nullptr;
        w->m_section_node = nullptr;
        w->m_waiting.store(w->m_waiting.load(std::memory_order_relaxed) - 1,
                           std::memory_order_relaxed);
    }
    w->m_blocked_lock.unlock();
    if (!outermost)
        return;
    active_up();
    m_in_sections.fetch_sub(1, std::memory_order_relaxed);
}

void Registry::start_or_wake_spare(std::size_t rank) noexcept {
    Worker& spare = *m_workers[m_num_threads + rank - 1];
    {
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

void Registry::active_up() noexcept {
    // seq_cst (both): see m_active. The epoch first: a monitor that reads the new count also
    // reads a new epoch.
    m_epoch.fetch_add(1, std::memory_order_seq_cst);
    m_active.fetch_add(1, std::memory_order_seq_cst);
}

void Registry::active_down() noexcept {
    if (m_active.fetch_sub(1, std::memory_order_seq_cst) == 1 && any_waiting())
        kick_monitor();
}

bool Registry::any_waiting() const noexcept {
    for (const auto& w : m_workers)
        if (w->m_waiting.load(std::memory_order_relaxed) != 0)
            return true;
    return false;
}

void Registry::kick_monitor() noexcept {
    {
        std::lock_guard<std::mutex> lock(m_monitor_mutex);
        m_monitor_kick = true;
    }
    m_monitor_cv.notify_one();
}

// ---- the monitor thread --------------------------------------------------------------------

void Registry::monitor_main() noexcept {
    pthread_setname_np(pthread_self(), "spindle-monitor");
    std::unique_lock<std::mutex> lock(m_monitor_mutex);
    for (;;) {
        m_monitor_cv.wait(lock, [&] { return m_monitor_kick || m_monitor_stop; });
        if (m_monitor_stop)
            return;
        m_monitor_kick = false;
        // Confirm: nothing may run, nothing may change, for a whole grace period.
        for (;;) {
            const std::uint64_t epoch = m_epoch.load(std::memory_order_seq_cst);
            if (m_active.load(std::memory_order_seq_cst) != 0 || !any_waiting() ||
                epoch == m_reported_epoch)
                break;
            const bool stopped = m_monitor_cv.wait_for(lock, m_options.deadlock_delay,
                                                       [&] { return m_monitor_stop; });
            if (stopped)
                return;
            m_monitor_kick = false;
            if (m_active.load(std::memory_order_seq_cst) != 0 ||
                m_epoch.load(std::memory_order_seq_cst) != epoch)
                continue;  // something ran: look again
            lock.unlock();
            report_deadlock(epoch);
            lock.lock();
            break;
        }
    }
}

void Registry::report_deadlock(std::uint64_t epoch) {
    DeadlockReport report;
    report.m_registry = this;
    try {
        for (std::size_t i = 0; i < m_workers.size(); ++i) {
            Worker& w = *m_workers[i];
            w.m_blocked_lock.lock();
            for (WaitNode* n = w.m_blocked_head; n != nullptr; n = n->reg_next) {
                DeadlockWaiter d;
                d.worker = i;
                d.kind = n->site.kind;
                if (n->site.label != nullptr)
                    d.label = n->site.label;
                if (n->site.describe != nullptr)
                    d.detail = n->site.describe(*n);
                if (n == w.m_section_node)
                    d.detail += d.detail.empty() ? "blocks its thread (no fiber to park on)"
                                                 : "; blocks its thread (no fiber to park on)";
                d.can_fail = n->site.cancel != nullptr;
                report.m_waiters.push_back(std::move(d));
                report.m_nodes.push_back(n);
            }
            if (w.m_section_depth > 0 && w.m_section_node == nullptr) {
                DeadlockWaiter d;
                d.worker = i;
                d.kind = "BlockingSection";
                if (w.m_section_label != nullptr)
                    d.label = w.m_section_label;
                report.m_waiters.push_back(std::move(d));
                report.m_nodes.push_back(nullptr);
            }
            w.m_blocked_lock.unlock();
        }
    } catch (...) {
        // Out of memory while describing: report what we have.
    }
    if (report.m_waiters.empty())
        return;
    // A change since the snapshot means it was no deadlock after all.
    if (m_epoch.load(std::memory_order_seq_cst) != epoch ||
        m_active.load(std::memory_order_seq_cst) != 0)
        return;
    m_reported_epoch = epoch;
    if (m_options.deadlock_handler) {
        try {
            m_options.deadlock_handler(report);
        } catch (...) {
            detached_exception(std::current_exception());
        }
        return;
    }
    const std::string text = report.to_string();
    std::fprintf(stderr,
                 "spindle: deadlock: no worker of the pool can run and %zu task(s) wait "
                 "(no PoolOptions::deadlock_handler; they keep waiting):\n%s",
                 report.m_waiters.size(), text.c_str());
    std::fflush(stderr);
}

bool Registry::fail_wait(std::size_t wi, WaitNode* node, std::exception_ptr e) noexcept {
    if (wi >= m_workers.size() || node == nullptr)
        return false;
    Worker& w = *m_workers[wi];
    w.m_blocked_lock.lock();
    bool found = false;
    for (WaitNode* n = w.m_blocked_head; n != nullptr; n = n->reg_next)
        found = found || n == node;
    bool failed = false;
    if (found && node->site.cancel != nullptr && node->site.cancel(*node)) {
        // Unlinked from its primitive: nobody else will wake it. It cannot leave blocked_end
        // (which takes m_blocked_lock) before we are done with it.
        node->error = std::move(e);
        wake_node(*node);
        failed = true;
    }
    w.m_blocked_lock.unlock();
    return failed;
}

}  // namespace spindle::detail

namespace spindle {

std::string DeadlockReport::to_string() const {
    std::ostringstream out;
    for (const DeadlockWaiter& d : m_waiters) {
        out << "  worker " << d.worker;
        if (d.kind == "BlockingSection")
            out << " is blocked in a BlockingSection";
        else
            out << " waits on " << d.kind;
        if (!d.label.empty())
            out << " '" << d.label << "'";
        if (!d.detail.empty())
            out << " (" << d.detail << ")";
        out << "\n";
    }
    return out.str();
}

bool DeadlockReport::fail(std::size_t i, std::exception_ptr e) const {
    if (i >= m_nodes.size() || m_registry == nullptr)
        return false;
    return m_registry->fail_wait(m_waiters[i].worker, m_nodes[i], std::move(e));
}

bool DeadlockReport::fail(std::size_t i) const {
    return fail(i, std::make_exception_ptr(DeadlockError("spindle: deadlock:\n" + to_string())));
}

ThreadPool::KeepActive::KeepActive(ThreadPool& pool) noexcept : m_registry(pool.registry()) {
    m_registry->active_up();
}

ThreadPool::KeepActive::~KeepActive() {
    m_registry->active_down();
}

BlockingSection::BlockingSection(const char* label) noexcept : m_worker(detail::tl_worker) {
    if (m_worker != nullptr)
        static_cast<detail::Worker*>(m_worker)->registry->section_begin(label, nullptr);
}

BlockingSection::~BlockingSection() {
    if (m_worker != nullptr)
        static_cast<detail::Worker*>(m_worker)->registry->section_end(nullptr);
}

}  // namespace spindle
