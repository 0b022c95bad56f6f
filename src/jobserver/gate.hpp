// The token gate: which pool workers may run jobs (design-notes/0007-jobserver.md).
//
// A worker runs jobs only while it holds a token. The pool owns the process's implicit token and
// never gives it away while it lives; explicit tokens come from a TokenSource through one
// acquisition agent thread that polls the source's fd together with an eventfd (no worker ever
// blocks in read()). A stopping worker hands its token straight to a waiting one; with nobody
// waiting, surplus explicit tokens go back to the source at once. The pool's own idle spinning
// before a worker sleeps (Tuning::idle_ns) is the grace period that keeps a busy pool from
// churning tokens (rust-lang/rust#64750).
//
// It plugs into the pool through PoolOptions::acquire_thread_handler / release_thread_handler,
// which the workers call when they start and wake, and when they sleep and exit: no scheduler
// code knows about tokens.
#pragma once

#include "spindle/jobserver.hpp"

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace spindle {

class TokenGate {
public:
    // max_explicit: most explicit tokens ever held at once (the source's limit_hint if smaller).
    TokenGate(std::shared_ptr<TokenSource> source, std::size_t max_explicit);
    // Stops the agent and gives every explicit token back. Every worker must have released.
    // In a child of fork() when the gate was created before the fork: does neither (the agent
    // does not exist there and the tokens are the parent's to give back) and returns.
    ~TokenGate();
    TokenGate(const TokenGate&) = delete;
    TokenGate& operator=(const TokenGate&) = delete;

    // The calling worker waits until it holds a token: a free one of the process (the implicit
    // token or an explicit one not in use), else one handed over by a stopping worker or read
    // by the agent. Completes even if the source never yields (the implicit token comes back).
    // A fatal error in a child of fork() when the gate was created before the fork.
    void acquire() noexcept;
    // The calling worker stops running jobs: its token goes to a waiting worker, else explicit
    // tokens beyond the running workers' go back to the source. The implicit token stays.
    void release() noexcept;

    TokenStats stats() const;
    const TokenSource& source() const noexcept { return *m_source; }

private:
    void agent_main() noexcept;
    void poke() noexcept;
    bool has_free_locked() const noexcept { return m_running < m_explicit.size() + 1; }
    // Waiting workers that no free token will serve.
    std::size_t demand_locked() const noexcept {
        const std::size_t free = m_explicit.size() + 1 - m_running;
        return m_waiting > free ? m_waiting - free : 0;
    }

    std::shared_ptr<TokenSource> m_source;
    std::size_t m_max_explicit;
    std::uint64_t m_fork_generation;  // src/util/fork.hpp: the agent exists only in this process
    int m_wake_fd = -1;               // eventfd: wakes the agent (demand changed, or stop)

    mutable std::mutex m_mutex;
    std::condition_variable m_cv;  // waiting workers; notified when a token becomes free
    // All under m_mutex. Invariant: m_running <= m_explicit.size() + 1 (the +1: implicit).
    std::size_t m_running = 0;      // workers holding a token
    std::size_t m_waiting = 0;      // workers blocked in acquire()
    std::vector<Token> m_explicit;  // explicit tokens the process holds (running or spare)
    bool m_stop = false;
    TokenStats m_stats;

    std::thread m_agent;
};

}  // namespace spindle
