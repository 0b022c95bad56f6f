// Deadlock accounting and detection (design-notes/0005). Blocking sections and spare workers,
// which feed the same accounting, are in blocking.cpp; the blocked-wait list in
// blocked_list.hpp.
//
// The pool counts the threads that run code (m_active) and, per worker, the waits that are
// blocked there (parked fibers, and the worker's own thread when it is in a blocking section).
// The worker whose sleep brings m_active to zero while something waits kicks the monitor
// thread; the monitor declares a deadlock when m_active stayed zero, with m_epoch unchanged,
// for the whole grace period (PoolOptions::deadlock_delay), and calls the handler once for
// that epoch.
#include "spindle/deadlock.hpp"

#include "scheduler/blocked_list.hpp"
#include "scheduler/registry.hpp"
#include "spindle/detail/lock_order.hpp"
#include "util/assert.hpp"
#include "util/fatal.hpp"
#include "util/fork.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace spindle::detail {

namespace {

#if defined(NDEBUG) || !defined(__GLIBC__)
constexpr bool k_check_held_mutexes = false;
#else
// Debug builds on glibc: every second the monitor looks for a worker blocked on a std::mutex
// that its own thread holds (check_held_mutexes).
constexpr bool k_check_held_mutexes = true;
#endif
constexpr std::chrono::seconds k_held_mutex_period{1};

// The address a thread waits on in futex(FUTEX_WAIT), from /proc/self/task/<tid>/syscall
// ("202 0x7f.. 0x80 0x2 ..."), or 0 when it is in no such wait or the file cannot be read.
std::uintptr_t futex_wait_address(int tid) noexcept {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[256];
    const ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    long nr = -1;
    unsigned long addr = 0;
    unsigned long op = 0;
    if (std::sscanf(buf, "%ld %lx %lx", &nr, &addr, &op) != 3 || nr != SYS_futex)
        return 0;
    const unsigned long cmd = op & FUTEX_CMD_MASK;
    return cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET ? addr : 0;
}

// True when addr holds a glibc mutex that is locked with waiters (lock word 2) and owned by
// thread tid. Read with process_vm_readv: the kernel copies (or reports EFAULT), so a stale
// address can neither crash the monitor nor trip a sanitizer.
bool glibc_mutex_owned_by(std::uintptr_t addr, int tid) noexcept {
    struct {
        int lock;
        unsigned count;
        int owner;  // __pthread_mutex_s: __lock, __count, __owner (every glibc architecture)
    } m{};
    iovec local{&m, sizeof m};
    iovec remote{reinterpret_cast<void*>(addr), sizeof m};
    if (::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0) != static_cast<ssize_t>(sizeof m))
        return false;
    return m.lock == 2 && m.owner == tid;
}

}  // namespace

// ---- accounting, on the worker's own thread ------------------------------------------------

void Registry::blocked_begin(WaitNode& node) noexcept {
    auto* w = static_cast<Worker*>(node.worker);
    SPINDLE_ASSERT(tl_worker == w, "design-notes/0005, invariant 3");
    SPINDLE_LOCK_ORDER_ACQUIRE("Worker::m_blocked_lock", &w->m_blocked_lock);
    w->m_blocked_lock.lock();
    blocked_link(w->m_blocked_head, node);
    w->m_waiting.store(w->m_waiting.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    w->m_blocked_lock.unlock();
    SPINDLE_LOCK_ORDER_RELEASE(&w->m_blocked_lock);
}

void Registry::blocked_end(WaitNode& node) noexcept {
    auto* w = static_cast<Worker*>(node.worker);
    SPINDLE_ASSERT(tl_worker == w, "design-notes/0005, invariant 3");
    SPINDLE_LOCK_ORDER_ACQUIRE("Worker::m_blocked_lock", &w->m_blocked_lock);
    w->m_blocked_lock.lock();
    blocked_unlink(w->m_blocked_head, node);
    w->m_waiting.store(w->m_waiting.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    w->m_blocked_lock.unlock();
    SPINDLE_LOCK_ORDER_RELEASE(&w->m_blocked_lock);
}

void Registry::active_up() noexcept {
    // seq_cst (both): see m_active. The epoch first: a monitor that reads the new count also
    // reads a new epoch.
    m_epoch.fetch_add(1, std::memory_order_seq_cst);
    m_active.fetch_add(1, std::memory_order_seq_cst);
}

void Registry::active_down() noexcept {
    const std::int64_t before = m_active.fetch_sub(1, std::memory_order_seq_cst);
    // Every decrement undoes an increment: the count never goes below zero.
    SPINDLE_ASSERT(before > 0, "design-notes/0005, invariant 1");
    if (before == 1 && any_waiting())
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
        SPINDLE_LOCK_ORDER_GUARD("Registry::m_monitor_mutex", &m_monitor_mutex);
        std::lock_guard<std::mutex> lock(m_monitor_mutex);
        m_monitor_kick = true;
    }
    m_monitor_cv.notify_one();
}

// ---- the monitor thread --------------------------------------------------------------------

void Registry::monitor_main() noexcept {
    std::vector<std::uintptr_t>& suspects = m_held_mutex_suspects;
    if (k_check_held_mutexes) {
        try {
            suspects.resize(m_workers.size());
        } catch (...) {
        }
    }
    // Named after its only allocation: from then on the monitor allocates nothing until a
    // report, so a thread of this name is past its start-up (the fork tests wait for it before
    // they fork: tests/core/process_helper.cpp, settle; design-notes/0009).
    pthread_setname_np(pthread_self(), "spindle-monitor");
    SPINDLE_LOCK_ORDER_ACQUIRE("Registry::m_monitor_mutex", &m_monitor_mutex);
    std::unique_lock<std::mutex> lock(m_monitor_mutex);
    for (;;) {
        const auto kicked = [&] { return m_monitor_kick || m_monitor_stop; };
        if (!suspects.empty()) {
            // Debug builds: look at the workers every period even when nothing kicks us (a
            // worker blocked on a std::mutex counts as running, so no deadlock is detected).
            if (!m_monitor_cv.wait_for(lock, k_held_mutex_period, kicked)) {
                lock.unlock();
                SPINDLE_LOCK_ORDER_RELEASE(&m_monitor_mutex);
                check_held_mutexes();
                SPINDLE_LOCK_ORDER_ACQUIRE("Registry::m_monitor_mutex", &m_monitor_mutex);
                lock.lock();
                continue;
            }
        } else {
            m_monitor_cv.wait(lock, kicked);
        }
        if (m_monitor_stop) {
            SPINDLE_LOCK_ORDER_RELEASE(&m_monitor_mutex);
            return;
        }
        m_monitor_kick = false;
        // Confirm: nothing may run, nothing may change, for a whole grace period.
        for (;;) {
            const std::uint64_t epoch = m_epoch.load(std::memory_order_seq_cst);
            if (m_active.load(std::memory_order_seq_cst) != 0 || !any_waiting() ||
                epoch == m_reported_epoch)
                break;
            const bool stopped = m_monitor_cv.wait_for(lock, m_options.deadlock_delay,
                                                       [&] { return m_monitor_stop; });
            if (stopped) {
                SPINDLE_LOCK_ORDER_RELEASE(&m_monitor_mutex);
                return;
            }
            m_monitor_kick = false;
            if (m_active.load(std::memory_order_seq_cst) != 0 ||
                m_epoch.load(std::memory_order_seq_cst) != epoch)
                continue;  // something ran: look again
            lock.unlock();
            SPINDLE_LOCK_ORDER_RELEASE(&m_monitor_mutex);
            report_deadlock(epoch);
            SPINDLE_LOCK_ORDER_ACQUIRE("Registry::m_monitor_mutex", &m_monitor_mutex);
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
            SPINDLE_LOCK_ORDER_ACQUIRE("Worker::m_blocked_lock", &w.m_blocked_lock);
            w.m_blocked_lock.lock();
            // Released on every way out, an allocation failure in a description included
            // (the catch below reports what was gathered).
            struct Unlock {
                Worker& w;
                ~Unlock() {
                    w.m_blocked_lock.unlock();
                    SPINDLE_LOCK_ORDER_RELEASE(&w.m_blocked_lock);
                }
            } unlock{w};
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
    // The monitor skips an epoch it has reported: one report (handler call) per epoch.
    SPINDLE_ASSERT(epoch != m_reported_epoch, "design-notes/0005, invariant 5");
    m_reported_epoch = epoch;
    try {
        report.m_cause = fiber_limit_cause();
        report.m_text = report.to_string();
    } catch (...) {
        // Out of memory: the report goes without its text (fail(i) builds it again).
    }
    SPINDLE_ASSERT(tl_worker == nullptr, "design-notes/0005, invariant 5");
    if (m_options.deadlock_handler) {
        try {
            m_options.deadlock_handler(report);
        } catch (...) {
            detached_exception(std::current_exception());
        }
        return;
    }
    const std::string lines = report.waiter_lines();
    // "no worker of the pool can run and 3 task(s) wait", or with the cause: "the fiber limit
    // (...) is reached: ..., and 3 task(s) wait".
    std::fprintf(stderr,
                 "spindle: deadlock: %s%s %zu task(s) wait (no PoolOptions::deadlock_handler; "
                 "they keep waiting):\n%s",
                 report.m_cause.empty() ? "no worker of the pool can run" : report.m_cause.c_str(),
                 report.m_cause.empty() ? " and" : ", and", report.m_waiters.size(), lines.c_str());
    std::fflush(stderr);
}

std::string Registry::fiber_limit_cause() const {
    // Read without locks: the workers sleep (m_active was 0); a stale value only changes text.
    std::int64_t queued = std::max<std::int64_t>(0, m_injected.load(std::memory_order_relaxed));
    std::vector<std::pair<std::size_t, std::size_t>> at_limit;  // (worker, suspended fibers)
    for (std::size_t i = 0; i < m_workers.size(); ++i) {
        const Worker& w = *m_workers[i];
        queued += w.deque.size_hint();
        queued += w.m_broadcast_count.load(std::memory_order_relaxed);
        if (const std::size_t f = w.m_asleep_at_fiber_limit.load(std::memory_order_relaxed))
            at_limit.emplace_back(i, f);
    }
    if (at_limit.empty() || queued == 0)
        return {};
    constexpr std::size_t k_listed = 8;
    std::ostringstream out;
    out << "the fiber limit (PoolOptions::max_fibers = " << m_max_fibers << ") is reached: ";
    for (std::size_t k = 0; k < at_limit.size() && k < k_listed; ++k)
        out << (k == 0 ? "" : ", ") << "worker " << at_limit[k].first << " holds "
            << at_limit[k].second << (k == 0 ? " suspended fibers" : "");
    if (at_limit.size() > k_listed)
        out << " (and " << at_limit.size() - k_listed << " more workers at the limit)";
    out << ", so " << (at_limit.size() == 1 ? "it starts" : "they start") << " none of the "
        << queued << " queued job(s)";
    return out.str();
}

void Registry::check_held_mutexes() noexcept {
    std::vector<std::uintptr_t>& suspects = m_held_mutex_suspects;
    // A worker thread that waits on a pthread mutex (a std::mutex) that it holds itself waits
    // for ever: a task on it locked the mutex, then waited in spindle (its fiber parked, the
    // worker went on), and another task on the same worker now locks it. Reported when seen
    // in two looks in a row on the same mutex, so that a thread that was just acquiring it
    // between our two reads is never mistaken for one.
    for (std::size_t i = 0; i < m_workers.size() && i < suspects.size(); ++i) {
        Worker& w = *m_workers[i];
        const int tid = w.m_tid.load(std::memory_order_acquire);  // pairs with the store
        std::uintptr_t addr = 0;
        if (tid != 0 && w.m_sleep_word.load(std::memory_order_relaxed) == 0)
            addr = futex_wait_address(tid);
        if (addr != 0 && !(glibc_mutex_owned_by(addr, tid) && futex_wait_address(tid) == addr))
            addr = 0;
        if (addr != 0 && addr == suspects[i])
            fatal(  // m_name: written before the thread started, so before its m_tid store
                "worker %zu (%s) is blocked for ever on a std::mutex (pthread mutex at %p) that "
                "its own thread holds: a task on this worker locked it, then waited in spindle "
                "(join, scope, install or a spindle primitive) while holding it, and another "
                "task on the worker locks it now. Unlock std::mutexes before waiting, or use "
                "spindle::Mutex (spindle/mutex.hpp)",
                i, w.m_name.c_str(), reinterpret_cast<void*>(addr));
        suspects[i] = addr;
    }
}

bool Registry::fail_wait(std::size_t wi, WaitNode* node, std::exception_ptr e) noexcept {
    if (wi >= m_workers.size() || node == nullptr)
        return false;
    Worker& w = *m_workers[wi];
    SPINDLE_LOCK_ORDER_ACQUIRE("Worker::m_blocked_lock", &w.m_blocked_lock);
    w.m_blocked_lock.lock();
    bool found = false;
    for (WaitNode* n = w.m_blocked_head; n != nullptr; n = n->reg_next)
        found = found || n == node;
    bool failed = false;
    if (found && node->site.cancel != nullptr && node->site.cancel(*node)) {
        // Unlinked from its primitive: nobody else will wake it. It cannot leave blocked_end
        // (which takes m_blocked_lock) before we are done with it.
        SPINDLE_ASSERT(!node->error, "design-notes/0005, invariant 4");
        node->error = std::move(e);
        wake_node(*node);
        failed = true;
    }
    w.m_blocked_lock.unlock();
    SPINDLE_LOCK_ORDER_RELEASE(&w.m_blocked_lock);
    return failed;
}

}  // namespace spindle::detail

namespace spindle {

namespace {

// " waits on Mutex 'b' (held by worker 0)", or the plural " wait on ...".
void describe_wait(std::ostringstream& out, const DeadlockWaiter& d, bool plural) {
    if (d.kind == "BlockingSection")
        out << (plural ? " are" : " is") << " blocked in a BlockingSection";
    else
        out << (plural ? " wait on " : " waits on ") << d.kind;
    if (!d.label.empty())
        out << " '" << d.label << "'";
    if (!d.detail.empty())
        out << " (" << d.detail << ")";
}

}  // namespace

std::string DeadlockReport::waiter_lines() const {
    // Identical waits share a line (design-notes/0005, "The report"): 100,000 tasks parked on
    // one event make one line, not 100,000. Lines keep the order of their first waiter.
    struct Group {
        std::size_t first;                              // index of its first waiter
        const void* object;                             // the primitive, or nullptr
        std::size_t count;                              // its waiters
        std::map<std::size_t, std::size_t> per_worker;  // worker -> its waiters in the group
        const std::size_t* same_text;                   // groups that print alike
    };
    std::vector<Group> groups;
    std::unordered_map<std::string, std::size_t> group_of;
    std::unordered_map<std::string, std::size_t> text_groups;  // same kind, label and detail
    std::string key;
    for (std::size_t i = 0; i < m_waiters.size(); ++i) {
        const DeadlockWaiter& d = m_waiters[i];
        // The same primitive, waited on in the same way (its detail names e.g. a mutex's
        // holder or a query's key); two unlabelled events stay apart.
        const void* object =
            i < m_nodes.size() && m_nodes[i] != nullptr ? m_nodes[i]->site.object : nullptr;
        key.assign(d.kind);
        key += '\0';
        key += d.label;
        key += '\0';
        key += d.detail;
        const std::size_t text_size = key.size();
        key += '\0';
        key.append(reinterpret_cast<const char*>(&object), sizeof object);
        const auto [it, fresh] = group_of.try_emplace(key, groups.size());
        if (fresh) {
            const auto text = text_groups.try_emplace(key.substr(0, text_size), 0).first;
            ++text->second;
            // unordered_map nodes are stable: the count stays valid while groups are added.
            groups.push_back(Group{i, object, 0, {}, &text->second});
        }
        Group& g = groups[it->second];
        ++g.count;
        ++g.per_worker[d.worker];
    }
    constexpr std::size_t k_listed = 8;  // workers named on a merged line
    std::ostringstream out;
    for (const Group& g : groups) {
        const DeadlockWaiter& d = m_waiters[g.first];
        // Lines that would read alike (two unlabelled events) name their primitive's address.
        const bool name_object = *g.same_text > 1 && g.object != nullptr;
        if (g.count == 1) {
            out << "  worker " << d.worker;
            describe_wait(out, d, false);
            if (name_object)
                out << " at " << g.object;
            out << "\n";
            continue;
        }
        out << "  " << g.count << " tasks";
        describe_wait(out, d, true);
        if (name_object)
            out << " at " << g.object;
        out << ":";
        std::size_t listed = 0;
        for (const auto& [worker, n] : g.per_worker) {
            if (listed == k_listed)
                break;
            out << (listed++ == 0 ? " " : ", ") << "worker " << worker << ": " << n;
        }
        if (g.per_worker.size() > k_listed)
            out << " and " << g.per_worker.size() - k_listed << " more workers";
        out << "\n";
    }
    return out.str();
}

std::string DeadlockReport::to_string() const {
    if (m_cause.empty())
        return waiter_lines();
    return "  " + m_cause + "\n" + waiter_lines();
}

bool DeadlockReport::fail(std::size_t i, std::exception_ptr e) const {
    if (i >= m_nodes.size() || m_registry == nullptr)
        return false;
    return m_registry->fail_wait(m_waiters[i].worker, m_nodes[i], std::move(e));
}

bool DeadlockReport::fail(std::size_t i) const {
    // The text made once per report: a handler that fails 100,000 waiters does not build it
    // 100,000 times.
    return fail(i, std::make_exception_ptr(DeadlockError("spindle: deadlock:\n" +
                                                         (m_text.empty() ? to_string() : m_text))));
}

ThreadPool::KeepActive::KeepActive(ThreadPool& pool) noexcept : m_registry(pool.registry()) {
    if (m_registry->created_before_fork()) [[unlikely]]
        detail::fatal_pool_used_after_fork("keep_active");
    m_registry->active_up();
}

ThreadPool::KeepActive::~KeepActive() {
    m_registry->active_down();
}

}  // namespace spindle
