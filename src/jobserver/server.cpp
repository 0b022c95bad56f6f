// A GNU make jobserver created by this process for its children, as cargo does
// (design-notes/0007-jobserver.md, "Server").
#include "spindle/jobserver.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace spindle {
namespace {

[[noreturn]] void io_error(const std::string& what, int e) {
    throw JobserverError(JobserverErrorKind::Io,
                         "spindle: jobserver server: " + what + ": " + std::strerror(e));
}

// Writes n bytes of `byte` without blocking; throws if the pipe cannot hold them.
void preload(int fd, std::size_t n, std::uint8_t byte) {
    for (std::size_t i = 0; i < n; ++i) {
        for (;;) {
            if (::write(fd, &byte, 1) == 1)
                break;
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                throw JobserverError(JobserverErrorKind::Io,
                                     "spindle: jobserver server: the pipe holds only " +
                                         std::to_string(i) + " of " + std::to_string(n) +
                                         " tokens (pipe buffer too small)");
            io_error("preloading tokens", errno);
        }
    }
}

void set_nonblocking(int fd, bool on) {
    const int fl = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
}

// Distinguishes the fifos of several servers in one process. Written and read only by
// fetch_add in the constructor; no other memory depends on it.
std::atomic<unsigned> g_fifo_counter{0};

}  // namespace

JobserverServer::JobserverServer(std::size_t tokens, Style style, std::uint8_t byte)
    : m_style(style), m_tokens(tokens) {
    if (style == Style::Pipe) {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) < 0)
            io_error("pipe2", errno);
        m_read = p[0];
        m_write = p[1];
        // The description is ours alone until a child inherits it: non-blocking only while
        // preloading, then blocking again (what cargo's children see).
        set_nonblocking(m_write, true);
        try {
            preload(m_write, tokens, byte);
        } catch (...) {
            ::close(m_read);
            ::close(m_write);
            throw;
        }
        set_nonblocking(m_write, false);
        return;
    }
    const char* dir = std::getenv("TMPDIR");
    std::string d = dir != nullptr && *dir != '\0' ? dir : "/tmp";
    m_path = d + "/spindle-jobserver-" + std::to_string(::getpid()) + "-" +
             std::to_string(g_fifo_counter.fetch_add(1, std::memory_order_relaxed));
    if (::mkfifo(m_path.c_str(), 0600) < 0)
        io_error("mkfifo " + m_path, errno);
    m_read = ::open(m_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    m_write = m_read < 0 ? -1 : ::open(m_path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (m_read < 0 || m_write < 0) {
        const int e = errno;
        if (m_read >= 0)
            ::close(m_read);
        ::unlink(m_path.c_str());
        io_error("open " + m_path, e);
    }
    try {
        preload(m_write, tokens, byte);
    } catch (...) {
        ::close(m_read);
        ::close(m_write);
        ::unlink(m_path.c_str());
        throw;
    }
}

JobserverServer::~JobserverServer() {
    if (m_read >= 0)
        ::close(m_read);
    if (m_write >= 0)
        ::close(m_write);
    if (!m_path.empty())
        ::unlink(m_path.c_str());
}

std::string JobserverServer::auth() const {
    if (m_style == Style::Fifo)
        return "--jobserver-auth=fifo:" + m_path;
    return "--jobserver-auth=" + std::to_string(m_read) + "," + std::to_string(m_write);
}

std::string JobserverServer::makeflags() const {
    if (m_style == Style::Fifo)
        return "-j " + auth();
    const std::string rw = std::to_string(m_read) + "," + std::to_string(m_write);
    return "-j --jobserver-fds=" + rw + " --jobserver-auth=" + rw;
}

std::vector<std::string> JobserverServer::child_environment(
    const std::vector<std::string>& base) const {
    std::vector<std::string> env;
    for (const std::string& kv : base) {
        if (kv.starts_with("MAKEFLAGS=") || kv.starts_with("MFLAGS=") ||
            kv.starts_with("CARGO_MAKEFLAGS="))
            continue;
        env.push_back(kv);
    }
    const std::string v = makeflags();
    env.push_back("MAKEFLAGS=" + v);
    env.push_back("MFLAGS=" + v);
    env.push_back("CARGO_MAKEFLAGS=" + v);
    return env;
}

void JobserverServer::prepare_child() const noexcept {
    if (m_style != Style::Pipe)
        return;
    ::fcntl(m_read, F_SETFD, 0);
    ::fcntl(m_write, F_SETFD, 0);
}

std::vector<int> JobserverServer::fds() const {
    if (m_style != Style::Pipe)
        return {};
    return {m_read, m_write};
}

std::shared_ptr<TokenSource> JobserverServer::client() const {
    JobserverAuth a;
    a.word = auth();
    a.variable = "JobserverServer";
    a.value = makeflags();
    if (m_style == Style::Fifo) {
        a.style = JobserverAuth::Style::Fifo;
        a.path = m_path;
    } else {
        a.style = JobserverAuth::Style::Pipe;
        a.read_fd = m_read;
        a.write_fd = m_write;
    }
    return connect_jobserver(a);
}

std::vector<std::uint8_t> JobserverServer::drain() {
    std::vector<std::uint8_t> out;
    for (;;) {
        pollfd p{m_read, POLLIN, 0};
        const int n = ::poll(&p, 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (p.revents & POLLIN) == 0)
            return out;
        std::uint8_t b = 0;
        const ssize_t r = ::read(m_read, &b, 1);
        if (r == 1)
            out.push_back(b);
        else if (r < 0 && errno == EINTR)
            continue;
        else
            return out;
    }
}

}  // namespace spindle
