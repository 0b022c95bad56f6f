// GNU make jobserver client, pipe (R,W) and fifo (fifo:PATH) styles. The checklist it follows
// is /work/shared/reference/jobserver.md §6; design-notes/0007-jobserver.md explains it.
//
// Fds: the client never touches the inherited descriptors' flags (O_NONBLOCK lives in the open
// file description, shared with make and every sibling). It reads and writes through private
// descriptions: /proc/self/fd/N reopened for a pipe, its own open() of a fifo, all
// O_NONBLOCK|O_CLOEXEC. The inherited fds are left open and unchanged (children told about them
// in MAKEFLAGS may still need them).
//
// SIGPIPE: a write to a pipe without readers raises SIGPIPE (MSG_NOSIGNAL exists only for
// sockets). release() blocks SIGPIPE in the calling thread around its write and, on EPIPE,
// consumes the signal it caused, so the process is never killed and its disposition is untouched.
#include "spindle/jobserver.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace spindle {
namespace {

std::string quote(std::string_view s) {
    return "'" + std::string(s) + "'";
}

std::string file_type(mode_t m) {
    if (S_ISREG(m))
        return "a regular file";
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISSOCK(m))
        return "a socket";
    if (S_ISLNK(m))
        return "a symbolic link";
    if (S_ISFIFO(m))
        return "a pipe";
    return "an unknown file type";
}

void close_fd(int fd) noexcept {
    if (fd >= 0)
        ::close(fd);
}

class MakeClient final : public TokenSource {
public:
    MakeClient(int rd, int wr, std::string desc, std::optional<std::size_t> hint)
        : m_rd(rd), m_wr(wr), m_desc(std::move(desc)), m_hint(hint) {}
    ~MakeClient() override {
        close_fd(m_rd);
        close_fd(m_wr);
    }

    std::optional<Token> try_acquire() override {
        if (!alive())
            return std::nullopt;
        for (;;) {
            unsigned char b = 0;
            const ssize_t n = ::read(m_rd, &b, 1);
            if (n == 1)
                return Token{b};
            if (n == 0) {
                gone("end of file on read: every writer has exited");
                return std::nullopt;
            }
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return std::nullopt;  // no free token now (or a sibling sniped it)
            gone(std::string("read failed: ") + std::strerror(errno));
            return std::nullopt;
        }
    }

    void release(Token t) noexcept override {
        if (!alive())
            return;  // the server is gone: nobody to give it to
        sigset_t pipe_set;
        sigset_t old_mask;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
        sigset_t pending;
        sigpending(&pending);
        const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
        const unsigned char b = t.byte;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        for (;;) {
            const ssize_t n = ::write(m_wr, &b, 1);
            if (n == 1)
                break;
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                // Pipe full (one-page pipes, cargo#9739): wait for room, but never forever.
                if (std::chrono::steady_clock::now() > deadline) {
                    gone("the pipe stayed full for 10 s; a token was dropped");
                    break;
                }
                pollfd p{m_wr, POLLOUT, 0};
                ::poll(&p, 1, 100);
                continue;
            }
            const int e = n < 0 ? errno : EIO;
            if (e == EPIPE && !was_pending) {
                const timespec zero{};
                while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
                }
            }
            gone(std::string("write failed: ") + std::strerror(e));
            break;
        }
        pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    }

    int poll_fd() const noexcept override { return m_rd; }
    // acquire: Only this thread reads m_dead's flag change; relaxed loads elsewhere are fine
    // because a stale "alive" only costs one more failing read.
    bool alive() const noexcept override { return !m_dead.load(std::memory_order_acquire); }
    std::string describe() const override { return m_desc; }
    std::optional<std::size_t> limit_hint() const noexcept override { return m_hint; }

private:
    void gone(const std::string& why) noexcept {
        // Written by any thread that sees the server vanish (read EOF, EBADF, EPIPE); read by
        // alive(). release pairs with the acquire load there (the message below is the only
        // data that follows, and it is printed once by the exchange's winner).
        if (m_dead.exchange(true, std::memory_order_acq_rel))
            return;
        try {
            const std::string msg = "spindle: warning: " + m_desc + " is gone (" + why +
                                    "); continuing on the implicit token only\n";
            const ssize_t ignored = ::write(STDERR_FILENO, msg.data(), msg.size());
            (void)ignored;
        } catch (...) {
            // Out of memory for a warning: stay silent rather than fail the build.
        }
    }

    int m_rd;
    int m_wr;
    std::string m_desc;
    std::optional<std::size_t> m_hint;
    std::atomic<bool> m_dead{false};
};

std::string auth_where(const JobserverAuth& a) {
    return a.variable.empty() ? quote(a.word) : a.variable + "=" + quote(a.value);
}

// A private description of inherited fd `fd` opened with `flags` (Linux: /proc/self/fd/N gives
// a new open file description of the same pipe). Falls back to F_DUPFD_CLOEXEC where /proc is
// missing; the dup shares flags, so reads are made only after poll() reports a token, which can
// still block if a sibling snipes it from a blocking pipe (documented limitation).
int private_fd(int fd, int flags) {
    const std::string p = "/proc/self/fd/" + std::to_string(fd);
    int r = ::open(p.c_str(), flags | O_NONBLOCK | O_CLOEXEC);
    if (r < 0)
        r = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return r;
}

std::shared_ptr<TokenSource> connect_pipe(const JobserverAuth& a,
                                          const JobserverClientOptions& opts) {
    const int fds[2] = {a.read_fd, a.write_fd};
    const std::string pair = std::to_string(a.read_fd) + "," + std::to_string(a.write_fd);
    for (int fd : fds) {
        if (::fcntl(fd, F_GETFD) < 0)
            throw JobserverError(JobserverErrorKind::ClosedFd,
                                 "spindle: jobserver fds " + pair + " from " + auth_where(a) +
                                     " are closed (fd " + std::to_string(fd) +
                                     "): is the recipe missing a '+' prefix or $(MAKE)?");
    }
    for (int fd : fds) {
        struct stat st {};
        if (::fstat(fd, &st) < 0)
            throw JobserverError(JobserverErrorKind::ClosedFd,
                                 "spindle: cannot fstat jobserver fd " + std::to_string(fd) +
                                     " from " + auth_where(a) + ": " + std::strerror(errno));
        const bool ok = S_ISFIFO(st.st_mode) || (opts.allow_sockets && S_ISSOCK(st.st_mode));
        if (!ok)
            throw JobserverError(JobserverErrorKind::NotAPipe,
                                 "spindle: jobserver fd " + std::to_string(fd) + " from " +
                                     auth_where(a) + " is " + file_type(st.st_mode) +
                                     ", not a pipe; the jobserver fds are stale (inherited "
                                     "from a make that did not pass them to this recipe)");
    }
    const int racc = ::fcntl(a.read_fd, F_GETFL) & O_ACCMODE;
    const int wacc = ::fcntl(a.write_fd, F_GETFL) & O_ACCMODE;
    if (racc != O_RDONLY && racc != O_RDWR)
        throw JobserverError(JobserverErrorKind::BadAccessMode,
                             "spindle: jobserver fd " + std::to_string(a.read_fd) + " from " +
                                 auth_where(a) + " is not readable (are R and W reversed?)");
    if (wacc != O_WRONLY && wacc != O_RDWR)
        throw JobserverError(JobserverErrorKind::BadAccessMode,
                             "spindle: jobserver fd " + std::to_string(a.write_fd) + " from " +
                                 auth_where(a) + " is not writable (are R and W reversed?)");
    const int rd = private_fd(a.read_fd, O_RDONLY);
    if (rd < 0)
        throw JobserverError(JobserverErrorKind::Io, "spindle: cannot reopen jobserver fd " +
                                                         std::to_string(a.read_fd) + ": " +
                                                         std::strerror(errno));
    const int wr = private_fd(a.write_fd, O_WRONLY);
    if (wr < 0) {
        const int e = errno;
        ::close(rd);
        throw JobserverError(JobserverErrorKind::Io, "spindle: cannot reopen jobserver fd " +
                                                         std::to_string(a.write_fd) + ": " +
                                                         std::strerror(e));
    }
    std::optional<std::size_t> hint;
    if (a.jobs)
        hint = *a.jobs - 1;
    return std::make_shared<MakeClient>(
        rd, wr, "GNU make jobserver (pipe " + pair + " from " + a.variable + ")", hint);
}

std::shared_ptr<TokenSource> connect_fifo(const JobserverAuth& a) {
    // Never a blocking open: a fifo whose server died has no writer and would block forever.
    const int rd = ::open(a.path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (rd < 0)
        throw JobserverError(JobserverErrorKind::CannotOpenPath,
                             "spindle: cannot open jobserver fifo " + quote(a.path) + " from " +
                                 auth_where(a) + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(rd, &st) < 0 || !(S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))) {
        const std::string type = file_type(st.st_mode);
        ::close(rd);
        throw JobserverError(JobserverErrorKind::NotAFifo,
                             "spindle: jobserver path " + quote(a.path) + " from " + auth_where(a) +
                                 " is " + type + ", not a fifo");
    }
    const int wr = ::open(a.path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (wr < 0) {
        const int e = errno;
        ::close(rd);
        throw JobserverError(JobserverErrorKind::CannotOpenPath,
                             "spindle: cannot open jobserver fifo " + quote(a.path) +
                                 " for writing: " + std::strerror(e));
    }
    std::optional<std::size_t> hint;
    if (a.jobs)
        hint = *a.jobs - 1;
    return std::make_shared<MakeClient>(
        rd, wr, "GNU make jobserver (fifo " + a.path + " from " + a.variable + ")", hint);
}

}  // namespace

std::shared_ptr<TokenSource> connect_jobserver(const JobserverAuth& auth,
                                               const JobserverClientOptions& options) {
    switch (auth.style) {
        case JobserverAuth::Style::Pipe:
            return connect_pipe(auth, options);
        case JobserverAuth::Style::Fifo:
            return connect_fifo(auth);
        case JobserverAuth::Style::None:
        case JobserverAuth::Style::Disabled:
            break;
    }
    return nullptr;
}

std::shared_ptr<TokenSource> jobserver_from_env(JobserverPolicy policy,
                                                const JobserverClientOptions& options) {
    try {
        const JobserverAuth a = discover_jobserver();
        if (a.dry_run)
            return nullptr;
        if (options.respect_serial_make && a.style == JobserverAuth::Style::None &&
            a.variable == "MAKEFLAGS" && (!a.j_flag || a.jobs == std::size_t{1}) &&
            std::getenv("MAKELEVEL") != nullptr)
            return make_counting_tokens(0);
        return connect_jobserver(a, options);
    } catch (const JobserverError& e) {
        if (policy == JobserverPolicy::Throw)
            throw;
        if (policy == JobserverPolicy::Warn)
            std::fprintf(stderr, "spindle: warning: %s; continuing without a jobserver\n",
                         e.what() + std::strlen("spindle: "));
        return nullptr;
    }
}

}  // namespace spindle
