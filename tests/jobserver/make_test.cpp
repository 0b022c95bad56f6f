// spindle pools under a real GNU make, an emulated fifo server, and Rust's jobserver crate
// (/work/shared/reference/jobserver.md §7). Each process is tests/jobserver/jsprobe_helper.cpp:
// a pool of W workers whose tasks append "S <ns>" / "E <ns>" to a shared log, from which the
// test computes how many tasks of all processes ran at once. Every command runs under
// `timeout`, so a deadlock fails the test instead of hanging it.
#include "common/test_util.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;

const std::string k_probe = SPINDLE_HELPER_JSPROBE;

struct Result {
    int rc = -1;
    std::string out;
    std::string err;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

class MakeTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/spindle-make-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        m_dir = tmpl;
        if (std::system("make --version >/dev/null 2>&1") != 0)
            GTEST_SKIP() << "GNU make not found (scripts/setup-deps.sh installs it)";
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(m_dir, ec);
    }

    // Runs `cmd` in the test directory with a clean make environment and a hang guard.
    Result run(const std::string& cmd, int limit_s = 100) {
        const fs::path out = m_dir / "stdout", err = m_dir / "stderr";
        const std::string full = "cd '" + m_dir.string() +
                                 "' && env -u MAKEFLAGS -u MFLAGS -u CARGO_MAKEFLAGS -u MAKELEVEL "
                                 "timeout " +
                                 std::to_string(limit_s) + " sh -c '" + cmd + "' >'" +
                                 out.string() + "' 2>'" + err.string() + "'";
        const int st = std::system(full.c_str());
        Result r;
        r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        r.out = slurp(out);
        r.err = slurp(err);
        return r;
    }

    void write(const std::string& name, const std::string& text) {
        std::ofstream(m_dir / name) << text;
    }

    // Greatest number of tasks running at once in `log` (an E and an S at the same instant:
    // the E came first, it released the token the S took).
    int max_concurrency(const std::string& log = "log", int* tasks = nullptr) {
        std::ifstream in(m_dir / log);
        std::vector<std::pair<long long, int>> ev;
        char kind = 0;
        long long t = 0;
        while (in >> kind >> t)
            ev.emplace_back(t, kind == 'S' ? 1 : 0);
        std::sort(ev.begin(), ev.end());
        int cur = 0, max = 0, starts = 0;
        for (auto [when, start] : ev) {
            cur += start ? 1 : -1;
            starts += start;
            max = std::max(max, cur);
        }
        if (tasks != nullptr)
            *tasks = starts;
        return max;
    }

    std::string probe(int workers, int tasks, int ms, const std::string& extra = "") {
        return k_probe + " --workers " + std::to_string(workers) + " --tasks " +
               std::to_string(tasks) + " --ms " + std::to_string(ms) + " --log " +
               (m_dir / "log").string() + extra;
    }

    // A Makefile with `recipes` targets, each running `cmd` (with `prefix` before it).
    void makefile(int recipes, const std::string& prefix, const std::string& cmd) {
        std::string all = "all:", rules;
        for (int i = 0; i < recipes; ++i) {
            all += " t" + std::to_string(i);
            rules += "t" + std::to_string(i) + ":\n\t" + prefix + cmd + "\n";
        }
        write("Makefile", all + "\n.PHONY: all\n" + rules);
    }

    static bool leaked(const Result& r) {
        return r.err.find("INTERNAL: Exiting with") != std::string::npos ||
               r.err.find("jobserver tokens available") != std::string::npos;
    }

    fs::path m_dir;
};

const int k_tasks = static_cast<int>(spindle_test::scaled(16, 2));

TEST_F(MakeTest, ConcurrencyNeverExceedsN) {
    makefile(4, "+@", probe(6, k_tasks, 15));
    for (int n : {1, 2, 3, 4}) {
        fs::remove(m_dir / "log");
        const Result r = run("make -j" + std::to_string(n));
        ASSERT_EQ(r.rc, 0) << r.err;
        EXPECT_FALSE(leaked(r)) << r.err;
        int tasks = 0;
        const int max = max_concurrency("log", &tasks);
        EXPECT_EQ(tasks, 4 * k_tasks);
        EXPECT_LE(max, n) << "make -j" << n << "\n" << r.out;
        EXPECT_GE(max, 1);
        std::printf("make -j%d: peak %d tasks at once\n", n, max);
    }
}

TEST_F(MakeTest, TokenSourceFromPlainThreads) {
    // No pool: W std::threads, thread 0 on the implicit token, the others on explicit tokens.
    makefile(4, "+@", probe(5, k_tasks, 10, " --mode threads"));
    const Result r = run("make -j3");
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_FALSE(leaked(r)) << r.err;
    int tasks = 0;
    EXPECT_LE(max_concurrency("log", &tasks), 3);
    EXPECT_EQ(tasks, 4 * k_tasks);
}

TEST_F(MakeTest, OneWorkerPerProcess) {
    makefile(5, "+@", probe(1, k_tasks, 5));
    const Result r = run("make -j3");
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_FALSE(leaked(r)) << r.err;
    EXPECT_LE(max_concurrency(), 3);
}

TEST_F(MakeTest, SubMake) {
    makefile(3, "+@", probe(4, k_tasks, 10));
    write("Top.mk", "all: sub1 sub2\nsub1 sub2:\n\t@$(MAKE) -s -f Makefile\n");
    const Result r = run("make -j3 -f Top.mk");
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_FALSE(leaked(r)) << r.err;
    EXPECT_LE(max_concurrency(), 3);
}

TEST_F(MakeTest, WithoutPlusPrefixTheFdsAreClosed) {
    makefile(2, "@", probe(2, 4, 5));
    const Result r = run("make -j2");
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.err.find("'+' prefix"), std::string::npos) << r.err;
    EXPECT_FALSE(leaked(r)) << r.err;
}

TEST_F(MakeTest, StaleFdsAreNotAPipe) {
    // §8.3: the fd numbers make advertises now name /dev/null (the numbers depend on what
    // the test runner left open, so they are read from MAKEFLAGS).
    makefile(1, "@",
             "set -- $$(echo \"$$MAKEFLAGS\" | sed -n "
             "'s/.*--jobserver-auth=\\([0-9]*\\),\\([0-9]*\\).*/\\1 \\2/p'); "
             "eval \"exec $$1</dev/null $$2>/dev/null\"; " +
                 probe(2, 4, 5));
    const Result r = run("make -j2");
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.err.find("not a pipe"), std::string::npos) << r.err;
}

TEST_F(MakeTest, NegativeControlsAreDetected) {
    makefile(1, "+@", k_probe + " --mode leak");
    Result r = run("make -j3");
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_TRUE(leaked(r)) << "the leak check cannot see a leaked token:\n" << r.err;
    makefile(4, "+@", probe(6, k_tasks, 15, " --mode ignore"));
    fs::remove(m_dir / "log");
    r = run("make -j2");
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_GT(max_concurrency(), 2) << "a jobserver-ignoring probe went unnoticed";
}

TEST_F(MakeTest, AKilledProcessLeavesTheBuildAbleToFinish) {
    std::string rules = "all: t0 t1 t2 bad\nt0 t1 t2:\n\t+@" + probe(4, k_tasks, 10) +
                        "\nbad:\n\t+@" + probe(4, k_tasks, 10, " --die-after 2") + "\n";
    write("Makefile", rules);
    const Result r = run("make -k -j3");
    EXPECT_NE(r.rc, 0);  // make reports the killed recipe
    EXPECT_NE(r.rc, 124) << "make hung";
    int tasks = 0;
    max_concurrency("log", &tasks);
    EXPECT_GE(tasks, 3 * k_tasks + 2);  // the three healthy recipes all finished
    const std::size_t done = std::count(r.out.begin(), r.out.end(), '\n');
    EXPECT_EQ(done, 3u) << r.out;
}

TEST_F(MakeTest, SpindleServerPipeAndFifo) {
    for (const char* style : {"pipe", "fifo"}) {
        fs::remove(m_dir / "log");
        // T = 2 tokens, C = 3 clients started directly: at most T + C at once (ninja's rule).
        const std::string p = probe(6, k_tasks, 10);
        const Result r = run(k_probe + " serve 2 " + style + " -- /bin/sh -c \"" + p + " & " + p +
                             " & " + p + " & wait\"");
        ASSERT_EQ(r.rc, 0) << style << "\n" << r.out << r.err;
        EXPECT_NE(r.out.find("serve: 2 of 2 tokens back"), std::string::npos) << r.out;
        int tasks = 0;
        EXPECT_LE(max_concurrency("log", &tasks), 5);
        EXPECT_EQ(tasks, 3 * k_tasks);
    }
}

TEST_F(MakeTest, JobserverThatDisappearsDegradesToTheImplicitToken) {
    // R (fd 3) is a fifo whose only writers are the shell's fd 5, closed at once, and a
    // background `sleep` that exits 50 ms into the run; W (fd 4) is another fifo. The probe
    // reads the one token, then sees EOF mid-run, says so once and finishes on its implicit
    // token.
    const std::string cmd =
        "mkfifo r w && exec 5<>r 6<>w 3<r 4>w && printf + >&5 && "
        "{ sleep 0.05 >&5 & } && exec 5>&- && "
        "MAKEFLAGS=\" -j3 --jobserver-auth=3,4\" " +
        probe(4, 30, 30);
    const Result r = run(cmd);
    ASSERT_EQ(r.rc, 0) << r.err;
    int tasks = 0;
    max_concurrency("log", &tasks);
    EXPECT_EQ(tasks, 30);
    EXPECT_NE(r.err.find("is gone"), std::string::npos) << r.err;
}

// Rust's jobserver crate (Debian librust-jobserver-dev), built offline.
class RustCrossCheck : public MakeTest {
protected:
    void SetUp() override {
        MakeTest::SetUp();
        if (IsSkipped())
            return;
        std::string cargo;
        for (std::string c : {std::string("cargo"),
                              std::string(std::getenv("HOME") ? std::getenv("HOME") : "/root") +
                                  "/.cargo/bin/cargo"}) {
            if (std::system(("command -v " + c + " >/dev/null 2>&1").c_str()) == 0) {
                cargo = c;
                break;
            }
        }
        if (cargo.empty())
            GTEST_SKIP() << "cargo not found: Rust cross-check skipped (scripts/setup-deps.sh "
                            "installs cargo and librust-jobserver-dev)";
        if (!fs::exists("/usr/share/cargo/registry/jobserver-0.1.24") &&
            std::system("ls -d /usr/share/cargo/registry/jobserver-* >/dev/null 2>&1") != 0)
            GTEST_SKIP() << "librust-jobserver-dev not installed: Rust cross-check skipped";
        const fs::path crate = fs::path(__FILE__).parent_path() / "rust";
        const fs::path target = fs::path(k_probe).parent_path() / "jobserver-rust-target";
        const Result r = run("cd " + crate.string() + " && " + cargo +
                                 " build --offline --quiet --target-dir " + target.string(),
                             110);
        ASSERT_EQ(r.rc, 0) << "cargo build of tests/jobserver/rust failed:\n" << r.err;
        m_rust = (target / "debug" / "jsrust").string();
    }
    std::string m_rust;
};

TEST_F(RustCrossCheck, RustClientOfSpindleServer) {
    const std::string log = (m_dir / "log").string();
    const Result r = run(k_probe + " serve 2 pipe -- " + m_rust + " client " + log + " 6 " +
                         std::to_string(k_tasks) + " 10");
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("serve: 2 of 2 tokens back"), std::string::npos) << r.out;
    int tasks = 0;
    EXPECT_LE(max_concurrency("log", &tasks), 3);
    EXPECT_EQ(tasks, k_tasks);
}

TEST_F(RustCrossCheck, SpindleClientOfRustServer) {
    const Result r = run(m_rust + " server 2 -- " + probe(6, k_tasks, 10));
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("jsrust: 2 of 2 tokens back"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("acquired="), std::string::npos) << r.out;  // it used the jobserver
    int tasks = 0;
    EXPECT_LE(max_concurrency("log", &tasks), 3);
    EXPECT_EQ(tasks, k_tasks);
}

TEST_F(RustCrossCheck, RustAndSpindleUnderOneMake) {
    const std::string log = (m_dir / "log").string();
    write("Makefile", "all: a b c d\na b:\n\t+@" + probe(4, k_tasks, 10) + "\nc d:\n\t+@" + m_rust +
                          " client " + log + " 4 " + std::to_string(k_tasks) + " 10\n");
    const Result r = run("make -j3");
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_FALSE(leaked(r)) << r.err;
    EXPECT_LE(max_concurrency(), 3);
}

}  // namespace
