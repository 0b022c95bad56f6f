// The token gate (see gate.hpp and design-notes/0007-jobserver.md).
#include "jobserver/gate.hpp"

#include "spindle/detail/lock_order.hpp"
#include "spindle/detail/trace.hpp"
#include "spindle/pool.hpp"
#include "util/assert.hpp"
#include "util/fatal.hpp"
#include "util/fork.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <new>
#include <system_error>

namespace spindle {

TokenGate::TokenGate(std::shared_ptr<TokenSource> source, std::size_t max_explicit)
    : m_source(std::move(source)),
      m_max_explicit(max_explicit),
      m_fork_generation(detail::fork_generation_at_creation()) {
    if (auto hint = m_source->limit_hint(); hint && *hint < m_max_explicit)
        m_max_explicit = *hint;
    m_wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m_wake_fd < 0)
        throw std::system_error(errno, std::generic_category(), "spindle: token gate eventfd");
    m_agent = std::thread([this] { agent_main(); });
}

TokenGate::~TokenGate() {
    if (detail::created_before_fork(m_fork_generation)) {
        // A child of fork(): the agent thread is not here (joining its handle could even wait
        // for an unrelated thread of the child: glibc reuses the descriptors), its lock may be
        // held for ever, and the explicit tokens go back from the parent. Abandon the handle
        // (moved to the heap: a joinable std::thread member would terminate the process). No
        // worker waits on m_cv here: a pool that could is abandoned too, and holds the gate.
        detail::keep_abandoned(new (std::nothrow) std::thread(std::move(m_agent)));
        if (m_agent.joinable())
            detail::fatal("out of memory while abandoning a token gate in a child of fork()");
        ::close(m_wake_fd);
        return;
    }
    {
        SPINDLE_LOCK_ORDER_GUARD("TokenGate::m_mutex", &m_mutex);
        std::lock_guard lk(m_mutex);
        m_stop = true;
    }
    poke();
    m_agent.join();
    std::vector<Token> back;
    {
        SPINDLE_LOCK_ORDER_GUARD("TokenGate::m_mutex", &m_mutex);
        std::lock_guard lk(m_mutex);
        if (m_running != 0 || m_waiting != 0)
            detail::fatal("token gate destroyed while %zu workers still hold a token", m_running);
        back.swap(m_explicit);
        m_stats.released += back.size();
    }
    for (Token t : back)
        m_source->release(t);
    ::close(m_wake_fd);
}

void TokenGate::poke() noexcept {
    const std::uint64_t one = 1;
    while (::write(m_wake_fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

void TokenGate::acquire() noexcept {
    if (detail::created_before_fork(m_fork_generation)) [[unlikely]]
        detail::fatal(
            "a jobserver token gate (spindle::use_token_source) created before fork() was used "
            "by a worker in the child process, where its agent thread does not exist; call "
            "use_token_source again in the child");
    SPINDLE_LOCK_ORDER_ACQUIRE("TokenGate::m_mutex", &m_mutex);
    std::unique_lock lk(m_mutex);
    if (!has_free_locked()) {
        ++m_waiting;
        ++m_stats.waits;
        lk.unlock();
        SPINDLE_LOCK_ORDER_RELEASE(&m_mutex);
        poke();  // demand went up: the agent asks the source
        SPINDLE_LOCK_ORDER_ACQUIRE("TokenGate::m_mutex", &m_mutex);
        lk.lock();
        m_cv.wait(lk, [&] { return has_free_locked(); });
        --m_waiting;
    }
    ++m_running;
    SPINDLE_ASSERT(m_running <= m_explicit.size() + 1, "design-notes/0007, invariant 1");
    // Taking a free token may leave other waiters without one (a token the agent meant for a
    // waiter, taken here first): the agent must look at the demand again.
    const bool more = demand_locked() > 0;
    lk.unlock();
    SPINDLE_LOCK_ORDER_RELEASE(&m_mutex);
    if (more)
        poke();
}

void TokenGate::release() noexcept {
    std::vector<Token> surplus;
    {
        SPINDLE_LOCK_ORDER_GUARD("TokenGate::m_mutex", &m_mutex);
        std::lock_guard lk(m_mutex);
        if (m_running == 0)
            detail::fatal("token gate: release() without a token");
        --m_running;
        if (m_waiting > 0) {
            // Hand over without touching the source: the waiter finds a free token.
            ++m_stats.handoffs;
            m_cv.notify_one();
            return;
        }
        // Keep one token per running worker plus the implicit one; the rest goes back.
        while (m_explicit.size() > m_running) {
            surplus.push_back(m_explicit.back());
            m_explicit.pop_back();
        }
        m_stats.released += surplus.size();
    }
    for (Token t : surplus)
        m_source->release(t);
}

TokenStats TokenGate::stats() const {
    SPINDLE_LOCK_ORDER_GUARD("TokenGate::m_mutex", &m_mutex);
    std::lock_guard lk(m_mutex);
    return m_stats;
}

void TokenGate::agent_main() noexcept {
    pthread_setname_np(pthread_self(), "spindle-tokens");
    for (;;) {
        bool want = false;
        {
            SPINDLE_LOCK_ORDER_GUARD("TokenGate::m_mutex", &m_mutex);
            std::lock_guard lk(m_mutex);
            if (m_stop)
                return;
            // Waiters beyond the free tokens (a free token may be on its way to a notified
            // waiter that has not run yet: it does not count as demand).
            want = demand_locked() > 0 && m_explicit.size() < m_max_explicit && m_source->alive();
        }
        std::optional<Token> t;
        if (want) {
            try {
                t = m_source->acquire(m_wake_fd);
            } catch (const std::exception& e) {
                detail::fatal("token gate: %s", e.what());
            }
        } else {
            pollfd p{m_wake_fd, POLLIN, 0};
            while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
            }
        }
        std::uint64_t drained = 0;
        while (::read(m_wake_fd, &drained, sizeof drained) < 0 && errno == EINTR) {
        }
        if (!t)
            continue;
        bool keep = false;
        {
            SPINDLE_LOCK_ORDER_GUARD("TokenGate::m_mutex", &m_mutex);
            std::lock_guard lk(m_mutex);
            keep = !m_stop && demand_locked() > 0 && m_explicit.size() < m_max_explicit;
            if (keep) {
                m_explicit.push_back(*t);
                ++m_stats.acquired;
                m_cv.notify_one();
            } else {
                // Demand went away while we read (drop-safe request): give it straight back.
                ++m_stats.acquired;
                ++m_stats.dropped_late;
                ++m_stats.released;
            }
        }
        if (!keep)
            m_source->release(*t);
    }
}

std::shared_ptr<TokenGate> use_token_source(PoolOptions& options,
                                            std::shared_ptr<TokenSource> source) {
    if (!source)
        return nullptr;
    auto gate =
        std::make_shared<TokenGate>(std::move(source), std::numeric_limits<std::size_t>::max());
    auto prev_acquire = std::move(options.acquire_thread_handler);
    auto prev_release = std::move(options.release_thread_handler);
    options.acquire_thread_handler = [gate, prev_acquire] {
        if (detail::WorkerCore* w = detail::traced_worker()) [[unlikely]]
            detail::trace_record(w, detail::TraceKind::token_wait, "token");
        gate->acquire();
        if (detail::WorkerCore* w = detail::traced_worker()) [[unlikely]]
            detail::trace_record(w, detail::TraceKind::token_acquire, "token");
        if (prev_acquire)
            prev_acquire();
    };
    options.release_thread_handler = [gate, prev_release] {
        if (detail::WorkerCore* w = detail::traced_worker()) [[unlikely]]
            detail::trace_record(w, detail::TraceKind::token_release, "token");
        struct Release {
            TokenGate& g;
            ~Release() { g.release(); }
        } r{*gate};
        if (prev_release)
            prev_release();
    };
    return gate;
}

TokenStats token_stats(const TokenGate& gate) {
    return gate.stats();
}

}  // namespace spindle
