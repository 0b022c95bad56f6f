// The GNU make jobserver client and server against each other and against bad fds and paths
// (/work/shared/reference/jobserver.md §6.3 and §7 B).
#include "common/test_util.hpp"
#include "spindle/jobserver.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

using spindle::JobserverAuth;
using spindle::JobserverError;
using spindle::JobserverErrorKind;
using spindle::JobserverServer;
using spindle::Token;

std::size_t open_fd_count() {
    std::size_t n = 0;
    DIR* d = ::opendir("/proc/self/fd");
    while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.')
            ++n;
    ::closedir(d);
    return n - 1;  // the directory stream's own fd
}

JobserverAuth pipe_auth(int r, int w) {
    const std::string word = "--jobserver-auth=" + std::to_string(r) + "," + std::to_string(w);
    return spindle::parse_makeflags("MAKEFLAGS", " -j4 " + word);
}

JobserverAuth fifo_auth(const std::string& path) {
    return spindle::parse_makeflags("MAKEFLAGS", " -j4 --jobserver-auth=fifo:" + path);
}

JobserverErrorKind connect_error(const JobserverAuth& a, std::string* msg = nullptr) {
    try {
        spindle::connect_jobserver(a);
    } catch (const JobserverError& e) {
        if (msg != nullptr)
            *msg = e.what();
        return e.kind();
    }
    ADD_FAILURE() << "connected to " << a.word;
    return JobserverErrorKind::Io;
}

std::string temp_dir() {
    char tmpl[] = "/tmp/spindle-js-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    EXPECT_NE(d, nullptr);
    return d;
}

int fd_flags(int fd) {
    return ::fcntl(fd, F_GETFL);
}

class Pipe {
public:
    Pipe() { EXPECT_EQ(::pipe(m_fds), 0); }
    ~Pipe() {
        close_read();
        close_write();
    }
    int r() const { return m_fds[0]; }
    int w() const { return m_fds[1]; }
    void close_read() {
        if (m_fds[0] >= 0)
            ::close(m_fds[0]);
        m_fds[0] = -1;
    }
    void close_write() {
        if (m_fds[1] >= 0)
            ::close(m_fds[1]);
        m_fds[1] = -1;
    }

private:
    int m_fds[2] = {-1, -1};
};

TEST(JobserverClient, ServerAndClientPipe) {
    const std::size_t before = open_fd_count();
    {
        JobserverServer server(3, JobserverServer::Style::Pipe);
        const int rflags = fd_flags(server.fds()[0]);
        auto c = server.client();
        EXPECT_TRUE(c->alive());
        std::vector<Token> got;
        while (auto t = c->try_acquire())
            got.push_back(*t);
        EXPECT_EQ(got.size(), 3u);
        for (Token t : got)
            EXPECT_EQ(t.byte, '|');
        EXPECT_FALSE(c->try_acquire());
        for (Token t : got)
            c->release(t);
        // The client never changed the flags of the server's (inheritable) description.
        EXPECT_EQ(fd_flags(server.fds()[0]), rflags);
        EXPECT_EQ(fd_flags(server.fds()[0]) & O_NONBLOCK, 0);
        c.reset();
        EXPECT_EQ(server.drain().size(), 3u);
    }
    EXPECT_EQ(open_fd_count(), before);
}

TEST(JobserverClient, ServerAndClientFifo) {
    const std::size_t before = open_fd_count();
    std::string path;
    {
        JobserverServer server(2, JobserverServer::Style::Fifo, '+');
        path = server.fifo_path();
        struct stat st {};
        ASSERT_EQ(::stat(path.c_str(), &st), 0);
        EXPECT_TRUE(S_ISFIFO(st.st_mode));
        EXPECT_EQ(st.st_mode & 0777, 0600u);
        EXPECT_NE(server.makeflags().find("--jobserver-auth=fifo:" + path), std::string::npos);
        auto c = spindle::connect_jobserver(fifo_auth(path));
        auto a = c->try_acquire();
        auto b = c->acquire();
        ASSERT_TRUE(a && b);
        EXPECT_EQ(a->byte, '+');
        EXPECT_FALSE(c->try_acquire());
        c->release(*a);
        c->release(*b);
        c.reset();
        EXPECT_EQ(server.drain().size(), 2u);
    }
    EXPECT_NE(::access(path.c_str(), F_OK), 0);  // unlinked
    EXPECT_EQ(open_fd_count(), before);
}

std::vector<int> open_fds() {
    std::vector<int> fds;
    DIR* d = ::opendir("/proc/self/fd");
    while (dirent* e = ::readdir(d)) {
        const int fd = std::atoi(e->d_name);
        if (e->d_name[0] != '.' && fd != ::dirfd(d))
            fds.push_back(fd);
    }
    ::closedir(d);
    return fds;
}

TEST(JobserverClient, EveryFdItOpensIsCloseOnExec) {
    const std::vector<int> before = open_fds();
    JobserverServer server(1);
    auto c = server.client();
    JobserverServer fifo(1, JobserverServer::Style::Fifo);
    auto fc = fifo.client();
    auto counting = spindle::make_counting_tokens(1);
    for (int fd : open_fds()) {
        if (std::find(before.begin(), before.end(), fd) == before.end()) {
            EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0) << "fd " << fd;
        }
    }
}

TEST(JobserverClient, TokenBytesArePreserved) {
    Pipe p;
    const unsigned char bytes[] = {'+', '|', 'G', '\0', '\n', 0xff};
    ASSERT_EQ(::write(p.w(), bytes, sizeof bytes), static_cast<ssize_t>(sizeof bytes));
    auto c = spindle::connect_jobserver(pipe_auth(p.r(), p.w()));
    std::vector<Token> got;
    while (auto t = c->try_acquire())
        got.push_back(*t);
    ASSERT_EQ(got.size(), sizeof bytes);
    for (Token t : got)
        c->release(t);
    c.reset();
    unsigned char back[16];
    ::fcntl(p.r(), F_SETFL, O_NONBLOCK);  // our own test pipe: allowed here
    const ssize_t n = ::read(p.r(), back, sizeof back);
    ASSERT_EQ(n, static_cast<ssize_t>(sizeof bytes));
    std::vector<unsigned char> a(bytes, bytes + sizeof bytes), b(back, back + n);
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    EXPECT_EQ(a, b);
}

TEST(JobserverClient, NeverChangesInheritedFlags) {
    Pipe p;
    ASSERT_EQ(::write(p.w(), "+", 1), 1);
    const int rf = fd_flags(p.r()), wf = fd_flags(p.w());
    const int rd = ::fcntl(p.r(), F_GETFD), wd = ::fcntl(p.w(), F_GETFD);
    auto c = spindle::connect_jobserver(pipe_auth(p.r(), p.w()));
    auto t = c->try_acquire();
    ASSERT_TRUE(t);
    EXPECT_FALSE(c->try_acquire());  // non-blocking, although the inherited fd is blocking
    c->release(*t);
    EXPECT_EQ(fd_flags(p.r()), rf);
    EXPECT_EQ(fd_flags(p.w()), wf);
    EXPECT_EQ(::fcntl(p.r(), F_GETFD), rd);
    EXPECT_EQ(::fcntl(p.w(), F_GETFD), wd);
}

TEST(JobserverClient, AcquireWakesOnWakeFd) {
    JobserverServer server(0);
    auto c = server.client();
    const int ev = ::eventfd(0, EFD_CLOEXEC);
    std::thread waker([ev] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        const std::uint64_t one = 1;
        EXPECT_EQ(::write(ev, &one, sizeof one), 8);
    });
    EXPECT_FALSE(c->acquire(ev));  // returns on the wake-up, with no token
    waker.join();
    ::close(ev);
}

TEST(JobserverClient, ClosedFds) {
    Pipe p;
    const int r = p.r(), w = p.w();
    p.close_read();
    p.close_write();
    std::string msg;
    EXPECT_EQ(connect_error(pipe_auth(r, w), &msg), JobserverErrorKind::ClosedFd);
    EXPECT_NE(msg.find("'+' prefix"), std::string::npos) << msg;
    EXPECT_NE(msg.find("MAKEFLAGS="), std::string::npos) << msg;
}

TEST(JobserverClient, NotAPipe) {
    const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    const std::string dir = temp_dir();
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const std::string file = dir + "/f";
    const int file_fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    std::string msg;
    EXPECT_EQ(connect_error(pipe_auth(null_fd, null_fd), &msg), JobserverErrorKind::NotAPipe);
    EXPECT_NE(msg.find("character device"), std::string::npos) << msg;
    EXPECT_EQ(connect_error(pipe_auth(dir_fd, dir_fd), &msg), JobserverErrorKind::NotAPipe);
    EXPECT_NE(msg.find("directory"), std::string::npos) << msg;
    EXPECT_EQ(connect_error(pipe_auth(file_fd, file_fd), &msg), JobserverErrorKind::NotAPipe);
    EXPECT_NE(msg.find("regular file"), std::string::npos) << msg;
    ::close(null_fd);
    ::close(dir_fd);
    ::close(file_fd);
    ::unlink(file.c_str());
    ::rmdir(dir.c_str());
}

TEST(JobserverClient, ReversedFds) {
    Pipe p;
    std::string msg;
    EXPECT_EQ(connect_error(pipe_auth(p.w(), p.r()), &msg), JobserverErrorKind::BadAccessMode);
    EXPECT_NE(msg.find("not readable"), std::string::npos) << msg;
}

TEST(JobserverClient, BadFifoPaths) {
    const std::string dir = temp_dir();
    std::string msg;
    EXPECT_EQ(connect_error(fifo_auth(dir + "/missing"), &msg), JobserverErrorKind::CannotOpenPath);
    EXPECT_NE(msg.find("No such file"), std::string::npos) << msg;
    EXPECT_EQ(connect_error(fifo_auth(dir), &msg), JobserverErrorKind::NotAFifo);
    EXPECT_NE(msg.find("directory"), std::string::npos) << msg;
    const std::string file = dir + "/f";
    ::close(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    EXPECT_EQ(connect_error(fifo_auth(file), &msg), JobserverErrorKind::NotAFifo);
    EXPECT_NE(msg.find("regular file"), std::string::npos) << msg;
    if (::geteuid() != 0) {
        const std::string locked = dir + "/locked";
        ASSERT_EQ(::mkfifo(locked.c_str(), 0), 0);
        EXPECT_EQ(connect_error(fifo_auth(locked), &msg), JobserverErrorKind::CannotOpenPath);
        ::unlink(locked.c_str());
    }
    ::unlink(file.c_str());
    ::rmdir(dir.c_str());
}

TEST(JobserverClient, FifoCharacterDeviceIsAcceptedAndEofDegrades) {
    // /dev/null stands in for a CUSE jobserver (steve, guildmaster): accepted; its EOF means
    // "server gone", never a hang.
    auto c = spindle::connect_jobserver(fifo_auth("/dev/null"));
    EXPECT_FALSE(c->try_acquire());
    EXPECT_FALSE(c->alive());
    EXPECT_FALSE(c->acquire());
}

TEST(JobserverClient, FifoWithoutWriterDoesNotHang) {
    const std::string dir = temp_dir();
    const std::string path = dir + "/GmFIFO";
    ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
    auto c = spindle::connect_jobserver(fifo_auth(path));  // a blocking open would hang here
    EXPECT_FALSE(c->try_acquire());
    EXPECT_TRUE(c->alive());
    c.reset();
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
}

TEST(JobserverClient, EofOnReadMeansServerGone) {
    Pipe tokens, sink;  // R from one pipe, W to another: once tokens' writer is gone, EOF
    ASSERT_EQ(::write(tokens.w(), "+", 1), 1);
    auto c = spindle::connect_jobserver(pipe_auth(tokens.r(), sink.w()));
    tokens.close_write();
    auto t = c->try_acquire();
    ASSERT_TRUE(t);
    EXPECT_FALSE(c->acquire());  // EOF: no hang, source dead
    EXPECT_FALSE(c->alive());
    c->release(*t);  // dropped: nobody to give it to
}

TEST(JobserverClient, EpipeOnReleaseDoesNotKill) {
    Pipe tokens, sink;
    ASSERT_EQ(::write(tokens.w(), "+", 1), 1);
    auto c = spindle::connect_jobserver(pipe_auth(tokens.r(), sink.w()));
    auto t = c->try_acquire();
    ASSERT_TRUE(t);
    sink.close_read();  // no reader left on the write side: write() gives EPIPE + SIGPIPE
    c->release(*t);     // the default SIGPIPE disposition would kill the test process
    EXPECT_FALSE(c->alive());
    sigset_t pending;
    sigpending(&pending);
    EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
}

TEST(JobserverClient, CountingAndUnlimited) {
    auto s = spindle::make_counting_tokens(2);
    auto a = s->try_acquire(), b = s->try_acquire();
    EXPECT_TRUE(a && b);
    EXPECT_FALSE(s->try_acquire());
    s->release(*a);
    EXPECT_TRUE(s->acquire());
    EXPECT_NE(s->poll_fd(), -1);
    auto u = spindle::make_unlimited_tokens();
    for (int i = 0; i < 100; ++i)
        EXPECT_TRUE(u->try_acquire());
}

TEST(JobserverClient, ChildEnvironment) {
    JobserverServer server(1);
    const auto env = server.child_environment({"PATH=/bin", "MAKEFLAGS=old", "MFLAGS=old"});
    const std::string mf = server.makeflags();
    EXPECT_EQ(std::count(env.begin(), env.end(), "MAKEFLAGS=" + mf), 1);
    EXPECT_EQ(std::count(env.begin(), env.end(), "CARGO_MAKEFLAGS=" + mf), 1);
    EXPECT_EQ(std::count(env.begin(), env.end(), "MAKEFLAGS=old"), 0);
    const JobserverAuth a = spindle::parse_makeflags("CARGO_MAKEFLAGS", mf);
    EXPECT_EQ(a.style, JobserverAuth::Style::Pipe);
    EXPECT_EQ(a.read_fd, server.fds()[0]);
    EXPECT_EQ(a.write_fd, server.fds()[1]);
}

}  // namespace
