// jsprobe: a process doing "real work" on a spindle pool under a jobserver, for the make tests
// and the build-like benchmark (/work/shared/reference/jobserver.md §7).
//
//   jsprobe [--workers W] [--tasks K] [--ms D] [--log FILE] [--mode M] [--die-after N]
//     --mode pool     (default) pool of W workers gated by jobserver_from_env() (a serial
//                     make counts as one job: respect_serial_make)
//     --mode ignore   the same pool, no jobserver (negative control: exceeds N)
//     --mode leak     reads one token from the jobserver and exits (negative control)
//     --mode threads  W std::threads; thread 0 runs on the implicit token, the others take a
//                     token from the TokenSource directly for each task
//     --die-after N   SIGKILLs itself after its N-th task starts (a process killed mid-run)
//   jsprobe serve N pipe|fifo -- CMD ARGS...   runs CMD under a JobserverServer with N tokens,
//     then checks that all N came back ("serve: 3 of 3 tokens back", exit 4 if not).
//
// Every task appends "S <ns>\n" when it starts and "E <ns>\n" when it ends to FILE
// (CLOCK_MONOTONIC, O_APPEND, one write each), so a test can compute how many tasks of all
// processes ran at once. At exit it prints "jsprobe: tasks=K acquired=.. released=.. ..".
#include "spindle/jobserver.hpp"
#include "spindle/pool.hpp"
#include "spindle/scope.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

std::string g_log;
int g_die_after = 0;
std::atomic<int> g_started{0};

void log_event(char what) {
    if (g_log.empty())
        return;
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char buf[64];
    const int n = std::snprintf(buf, sizeof buf, "%c %lld\n", what,
                                static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec);
    const int fd = ::open(g_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || ::write(fd, buf, static_cast<std::size_t>(n)) != n) {
        std::perror("jsprobe: log");
        std::_Exit(3);
    }
    ::close(fd);
}

// One task: busy work for `ms` milliseconds (real CPU work, not a sleep).
void task(int ms) {
    log_event('S');
    if (g_die_after > 0 && g_started.fetch_add(1) + 1 >= g_die_after)
        ::kill(::getpid(), SIGKILL);
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    volatile std::uint64_t x = 1;
    while (std::chrono::steady_clock::now() < end)
        for (int i = 0; i < 1000; ++i)
            x = x * 6364136223846793005ULL + 1;
    log_event('E');
}

int serve(int argc, char** argv) {
    // jsprobe serve N STYLE -- CMD ARGS
    if (argc < 6 || std::strcmp(argv[4], "--") != 0) {
        std::fprintf(stderr, "usage: jsprobe serve N pipe|fifo -- CMD ARGS...\n");
        return 2;
    }
    const std::size_t n = std::strtoul(argv[2], nullptr, 10);
    const auto style = std::strcmp(argv[3], "fifo") == 0 ? spindle::JobserverServer::Style::Fifo
                                                         : spindle::JobserverServer::Style::Pipe;
    spindle::JobserverServer server(n, style);
    std::vector<std::string> base;
    for (char** e = environ; *e != nullptr; ++e)
        base.emplace_back(*e);
    const std::vector<std::string> env = server.child_environment(base);
    std::vector<char*> envp;
    for (const std::string& s : env)
        envp.push_back(const_cast<char*>(s.c_str()));
    envp.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        server.prepare_child();
        ::execve(argv[5], argv + 5, envp.data());
        std::perror("jsprobe serve: execve");
        std::_Exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const std::vector<std::uint8_t> back = server.drain();
    std::printf("serve: %zu of %zu tokens back\n", back.size(), n);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "serve: child failed (status %d)\n", status);
        return 5;
    }
    return back.size() == n ? 0 : 4;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::strcmp(argv[1], "serve") == 0)
        return serve(argc, argv);
    int workers = 4, tasks = 8, ms = 20;
    std::string mode = "pool";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--workers")
            workers = std::atoi(argv[i + 1]);
        else if (a == "--tasks")
            tasks = std::atoi(argv[i + 1]);
        else if (a == "--ms")
            ms = std::atoi(argv[i + 1]);
        else if (a == "--log")
            g_log = argv[i + 1];
        else if (a == "--mode")
            mode = argv[i + 1];
        else if (a == "--die-after")
            g_die_after = std::atoi(argv[i + 1]);
        else {
            std::fprintf(stderr, "jsprobe: unknown option %s\n", a.c_str());
            return 2;
        }
    }
    if (mode == "leak") {
        auto src = spindle::jobserver_from_env(spindle::JobserverPolicy::Throw);
        if (src && src->acquire())
            std::printf("jsprobe: leaked one token\n");
        return 0;
    }
    if (mode == "threads") {
        // A thread waits for a token together with `done`, an eventfd that becomes readable
        // when the tasks run out: a thread must never sit in acquire() after the work is gone
        // (its process would never exit and never give make back its slot, ref §8.4).
        auto src = spindle::jobserver_from_env();
        const int done = ::eventfd(0, EFD_CLOEXEC);
        std::atomic<int> next{0};
        std::vector<std::thread> ts;
        for (int t = 0; t < workers; ++t)
            ts.emplace_back([&, t] {
                for (;;) {
                    if (next.load() >= tasks)
                        return;
                    std::optional<spindle::Token> tok;
                    if (t != 0) {
                        if (!src)
                            return;
                        tok = src->acquire(done);
                        if (!tok)
                            return;  // done, or the source is gone: thread 0 finishes
                    }
                    const bool more = next.fetch_add(1) < tasks;
                    if (more)
                        task(ms);
                    if (tok)
                        src->release(*tok);
                    if (!more || next.load() >= tasks) {
                        const std::uint64_t one = 1;
                        if (::write(done, &one, sizeof one) != sizeof one)
                            std::_Exit(3);
                    }
                    if (!more)
                        return;
                }
            });
        for (auto& th : ts)
            th.join();
        ::close(done);
        std::printf("jsprobe: tasks=%d\n", tasks);
        return 0;
    }
    spindle::PoolOptions opts;
    opts.num_threads = static_cast<std::size_t>(workers);
    std::shared_ptr<spindle::TokenGate> gate;
    if (mode == "pool")
        gate = spindle::use_token_source(
            opts, spindle::jobserver_from_env(spindle::JobserverPolicy::Warn,
                                              {.respect_serial_make = true}));
    else if (mode != "ignore") {
        std::fprintf(stderr, "jsprobe: unknown mode %s\n", mode.c_str());
        return 2;
    }
    {
        spindle::ThreadPool pool(opts);
        pool.scope([&](spindle::Scope& s) {
            for (int i = 0; i < tasks; ++i)
                s.spawn([ms] { task(ms); });
        });
    }
    if (gate) {
        const spindle::TokenStats st = spindle::token_stats(*gate);
        std::printf(
            "jsprobe: tasks=%d acquired=%llu released=%llu handoffs=%llu waits=%llu "
            "dropped_late=%llu\n",
            tasks, static_cast<unsigned long long>(st.acquired),
            static_cast<unsigned long long>(st.released),
            static_cast<unsigned long long>(st.handoffs), static_cast<unsigned long long>(st.waits),
            static_cast<unsigned long long>(st.dropped_late));
    } else {
        std::printf("jsprobe: tasks=%d (no jobserver)\n", tasks);
    }
    return 0;
}
