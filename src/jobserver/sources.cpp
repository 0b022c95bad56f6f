// The simple token sources (unlimited, in-process counting semaphore) and the generic waiting
// acquire shared by every source. See design-notes/0007-jobserver.md.
#include "spindle/detail/runtime.hpp"
#include "spindle/jobserver.hpp"
#include "util/assert.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace spindle {
namespace {
constexpr int k_recheck_ms = 200;
}  // namespace

std::optional<Token> TokenSource::acquire(int wake_fd) {
    // Only the gate's agent thread waits for a token of the jobserver, never a worker.
    SPINDLE_ASSERT(detail::current_worker() == nullptr, "design-notes/0007, invariant 4");
    for (;;) {
        if (auto t = try_acquire())
            return t;
        if (!alive())
            return std::nullopt;
        pollfd p[2] = {{poll_fd(), POLLIN, 0}, {wake_fd, POLLIN, 0}};
        // A negative fd is ignored by poll(); with neither fd there is nothing to wait for.
        if (p[0].fd < 0 && p[1].fd < 0)
            return std::nullopt;
        // A bounded wait: a description opened while writers existed gets no POLLHUP when
        // the last one closes (Linux fifo_open/pipe_poll compare writer-open counters), so a
        // server that dies is noticed by the read that follows a timeout.
        const int n = ::poll(p, 2, k_recheck_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw std::system_error(errno, std::generic_category(), "spindle: jobserver poll");
        }
        if (p[1].revents != 0)
            return std::nullopt;  // woken: the caller drains wake_fd
        // p[0] readable (or hung up: try_acquire sees the EOF and marks the source dead).
    }
}

namespace {

class UnlimitedTokens final : public TokenSource {
public:
    std::optional<Token> try_acquire() override { return Token{}; }
    void release(Token) noexcept override {}
    std::string describe() const override { return "unlimited tokens"; }
};

// An eventfd in semaphore mode: read takes 1 (EAGAIN at 0), write adds 1; poll says readable
// when the count is positive. No user-space state, so no lock.
class CountingTokens final : public TokenSource {
public:
    explicit CountingTokens(std::size_t n) : m_n(n) {
        if (n > 0xfffffffeULL)
            throw std::invalid_argument("spindle: make_counting_tokens: too many tokens");
        m_fd = ::eventfd(static_cast<unsigned>(n), EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
        if (m_fd < 0)
            throw std::system_error(errno, std::generic_category(), "spindle: eventfd");
    }
    ~CountingTokens() override { ::close(m_fd); }
    std::optional<Token> try_acquire() override {
        std::uint64_t v = 0;
        for (;;) {
            if (::read(m_fd, &v, sizeof v) == sizeof v)
                return Token{};
            if (errno != EINTR)
                return std::nullopt;  // EAGAIN: count is 0
        }
    }
    void release(Token) noexcept override {
        const std::uint64_t one = 1;
        while (::write(m_fd, &one, sizeof one) < 0 && errno == EINTR) {
        }
    }
    int poll_fd() const noexcept override { return m_fd; }
    std::string describe() const override {
        return "in-process counting semaphore (" + std::to_string(m_n) + " tokens)";
    }
    std::optional<std::size_t> limit_hint() const noexcept override { return m_n; }

private:
    std::size_t m_n;
    int m_fd = -1;
};

}  // namespace

std::shared_ptr<TokenSource> make_unlimited_tokens() {
    return std::make_shared<UnlimitedTokens>();
}

std::shared_ptr<TokenSource> make_counting_tokens(std::size_t tokens) {
    return std::make_shared<CountingTokens>(tokens);
}

}  // namespace spindle
