// Tracing (PoolOptions::trace, design-notes/0011-trace.md): the Chrome trace JSON is well formed
// and holds the events of each worker with their labels; full buffers drop events and say so;
// the HTML report runs in a real browser without a script error.
#include "common/test_util.hpp"

#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const fs::path k_checker = fs::path(__FILE__).parent_path() / "check_trace.py";
const fs::path k_merger =
    fs::path(__FILE__).parent_path().parent_path().parent_path() / "scripts" / "trace-merge.py";

// A fresh directory for one test's files, under the build tree's working directory.
fs::path test_dir(const std::string& name) {
    const fs::path d = fs::current_path() / "trace-test-output" / name;
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Runs a shell command; returns its exit status (-1 when it did not exit normally).
int run(const std::string& cmd) {
    const int st = std::system(cmd.c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string check_command(const fs::path& trace, const std::string& args) {
    return "python3 '" + k_checker.string() + "' '" + trace.string() + "' " + args;
}

TEST(Trace, AScopeOfTwoWorkersRecordsSpawnsParksSectionsAndQueriesWithTheirWorkersAndLabels) {
    const fs::path dir = test_dir("scope");
    const fs::path json = dir / "scope.json";
    spindle::PoolOptions o{.num_threads = 2};
    o.trace = json.string();
    std::size_t span_worker = 99, park_worker = 99, section_worker = 99;
    std::size_t compute_worker = 99, wait_worker = 99, body_worker = 99, stolen_by = 99;
    {
        spindle::ThreadPool pool(o);
        spindle::Event gate("gate");
        spindle::Event started("started"), release("release");
        spindle::QueryMap<int, int> types("typeck");
        pool.install([&] {
            // Spawns run newest first when nobody steals them (run_own_spawns): each waiter is
            // spawned after the job that wakes it, which sleeps first, so the wait parks.
            spindle::scope([&](spindle::Scope& s) {
                // A span in a spawn.
                s.spawn([&] {
                    spindle::TraceSpan span("item-span");
                    span_worker = *pool.current_thread_index();
                });
                s.spawn([&] {
                    std::this_thread::sleep_for(50ms);  // let the waiter park
                    gate.set();
                });
                // A park on an Event and its resume.
                s.spawn([&] {
                    park_worker = *pool.current_thread_index();
                    gate.wait();
                });
            });
            // A steal: the body blocks its worker, so another worker (or the spare the section
            // wakes) takes the spawn from the body's deque.
            spindle::scope([&](spindle::Scope& s) {
                body_worker = *pool.current_thread_index();
                s.spawn([&] { stolen_by = *pool.current_thread_index(); });
                spindle::blocking([] { std::this_thread::sleep_for(50ms); }, "wait-for-thief");
            });
            // A blocking section.
            spindle::blocking(
                [&] {
                    section_worker = *pool.current_thread_index();
                    std::this_thread::sleep_for(2ms);
                },
                "read-file");
            // A query computed by one task while another waits for it.
            spindle::scope([&](spindle::Scope& s) {
                s.spawn([&] {
                    std::this_thread::sleep_for(50ms);  // let the waiter wait
                    release.set();
                });
                s.spawn([&] {
                    started.wait();
                    wait_worker = *pool.current_thread_index();
                    EXPECT_EQ(types.get_or_compute(7, [] { return -1; }), 49);
                });
                s.spawn([&] {
                    (void)types.get_or_compute(7, [&] {
                        compute_worker = *pool.current_thread_index();
                        started.set();
                        release.wait();
                        return 49;
                    });
                });
            });
        });
    }
    ASSERT_TRUE(fs::exists(json));
    ASSERT_TRUE(fs::exists(dir / "scope.html"));
    const std::string expect =
        " --dropped no --html '" + (dir / "scope.html").string() + "'" +               //
        " --expect 'B:item-span:" + std::to_string(span_worker) + "'" +                //
        " --expect 'i:park:" + std::to_string(park_worker) + ":label=gate'" +          //
        " --expect 'i:park:" + std::to_string(park_worker) + ":kind=Event'" +          //
        " --expect 'b:Event gate:" + std::to_string(park_worker) + "'" +               //
        " --expect 'i:resume:" + std::to_string(park_worker) + "'" +                   //
        " --expect 'B:blocking read-file:" + std::to_string(section_worker) + "'" +    //
        " --expect 'B:query typeck:" + std::to_string(compute_worker) + ":key=7'" +    //
        " --expect 'B:query wait typeck:" + std::to_string(wait_worker) + ":key=7'" +  //
        " --expect 'i:park:" + std::to_string(wait_worker) + ":kind=Query'" +          //
        // Some worker ran the install job; which ones ran spawns depends on the steals.
        " --expect 'B:job:*'" +
        // Taken by another worker unless none came within 50 ms (then the body ran it).
        (stolen_by != body_worker ? " --expect 'i:steal:" + std::to_string(stolen_by) +
                                        ":victim=" + std::to_string(body_worker) + "'"
                                  : std::string());
    EXPECT_EQ(run(check_command(json, expect)), 0) << read_file(json).substr(0, 4000);
}

// Workers that take jobserver tokens (use_token_source) record each acquire and release, and the
// trace has the pool's counter tracks: workers per state and tokens held.
TEST(Trace, TokensAndCounterTracksAreRecorded) {
    const fs::path dir = test_dir("tokens");
    const fs::path json = dir / "tokens.json";
    spindle::PoolOptions o{.num_threads = 2};
    o.trace = json.string();
    spindle::use_token_source(o, spindle::make_counting_tokens(1));
    {
        spindle::ThreadPool pool(o);
        pool.install([] {
            spindle::scope([](spindle::Scope& s) {
                for (int i = 0; i < 4; ++i)
                    s.spawn([] { std::this_thread::sleep_for(2ms); });
            });
        });
    }
    EXPECT_EQ(run(check_command(
                  json,
                  "--dropped no --expect 'i:token acquire:*' "
                  "--expect 'i:token release:*' --expect 'B:token wait:*' --expect C:workers:0 "
                  "--expect 'C:tokens held:0'")),
              0);
    // Every worker took a token when it started and gave it back when it stopped.
    const std::string text = read_file(json);
    std::size_t acquires = 0, releases = 0;
    for (std::size_t at = text.find("\"token acquire\""); at != std::string::npos;
         at = text.find("\"token acquire\"", at + 1))
        ++acquires;
    for (std::size_t at = text.find("\"token release\""); at != std::string::npos;
         at = text.find("\"token release\"", at + 1))
        ++releases;
    EXPECT_GE(acquires, 2u);
    EXPECT_EQ(acquires, releases);
}

TEST(Trace, AFullBufferDropsEventsAndTheTraceSaysSo) {
    const fs::path dir = test_dir("dropped");
    const fs::path json = dir / "dropped.json";
    spindle::PoolOptions o{.num_threads = 1};
    o.trace = json.string();
    o.trace_max_events = 50;
    {
        spindle::ThreadPool pool(o);
        pool.install([] {
            for (int i = 0; i < 1000; ++i)
                spindle::trace_span("many", [] {});
        });
    }
    EXPECT_EQ(run(check_command(json, "--dropped yes --expect B:many:0")), 0);
    const std::string text = read_file(json);
    // 1000 spans are 2000 events: at most 50 were kept on the worker.
    EXPECT_NE(text.find("\"capacity_per_worker\":50"), std::string::npos);
    EXPECT_EQ(text.find("\"dropped_events\":0"), std::string::npos);
}

TEST(Trace, APathWithPercentNAndPercentPNamesEachPoolsFile) {
    const fs::path dir = test_dir("names");
    spindle::PoolOptions o{.num_threads = 1};
    o.trace = (dir / "pool-%p-%n.json").string();
    int first = 0;
    {
        spindle::ThreadPool a(o);
        a.install([] { spindle::TraceSpan s("a"); });
    }
    {
        spindle::ThreadPool b(o);
        b.install([] { spindle::TraceSpan s("b"); });
    }
    int files = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        if (e.path().extension() == ".json") {
            ++files;
            EXPECT_EQ(name.rfind("pool-" + std::to_string(::getpid()) + "-", 0), 0u) << name;
            first += name.find("-1.json") != std::string::npos;
        }
    }
    EXPECT_EQ(files, 2);
    EXPECT_EQ(first, 1);
}

TEST(Trace, WithoutTracingASpanRecordsNothing) {
    spindle::ThreadPool pool(spindle::PoolOptions{.num_threads = 1});
    if (std::getenv("SPINDLE_TRACE") != nullptr)
        GTEST_SKIP() << "SPINDLE_TRACE is set";
    bool traced = true;
    pool.install([&] {
        spindle::TraceSpan span("x");
        traced = spindle::detail::traced_worker() != nullptr;
    });
    EXPECT_FALSE(traced);
    EXPECT_EQ(spindle::detail::traced_worker(), nullptr);  // not a worker
}

// Two processes' traces merged into one view (scripts/trace-merge.py, as bench/jobserver_build.sh
// --trace does): one time axis, both processes' workers, still well nested.
TEST(TraceMerge, TwoProcessesTracesMergeIntoOneWellFormedView) {
    const fs::path dir = test_dir("merge");
    for (const char* name : {"a", "b"})
        ASSERT_EQ(run(std::string("'") + SPINDLE_HELPER_FIB_TRACE + "' 20 2 '" +
                      (dir / (std::string(name) + ".json")).string() + "' >/dev/null"),
                  0);
    const fs::path merged = dir / "merged.json";
    ASSERT_EQ(run("python3 '" + k_merger.string() + "' '" + merged.string() + "' '" +
                  (dir / "a.json").string() + "' '" + (dir / "b.json").string() + "' >/dev/null"),
              0);
    EXPECT_EQ(run(check_command(merged, "--dropped no --expect 'B:fib:*' --html '" +
                                            (dir / "merged.html").string() + "'")),
              0);
    const std::string text = read_file(merged);
    std::size_t pids = 0;
    for (std::size_t at = text.find("\"process_name\""); at != std::string::npos;
         at = text.find("\"process_name\"", at + 1))
        ++pids;
    EXPECT_EQ(pids, 2u);
}

// The HTML report in a real browser: headless Chromium (scripts/setup-deps.sh installs Debian's
// `chromium`) loads the report of fib(30) at 2 workers from a file; the page marks its <body>
// data-report="ok" only when its script ran to the end, and window.onerror marks "error".
TEST(TraceReport, LoadsInHeadlessChromiumWithoutAScriptError) {
    ASSERT_EQ(run("command -v chromium >/dev/null 2>&1"), 0)
        << "chromium is not installed: run scripts/setup-deps.sh (Debian package chromium)";
    const fs::path dir = test_dir("report");
    const fs::path json = dir / "fib30-2w.json";
    const fs::path html = dir / "fib30-2w.html";
    ASSERT_EQ(run(std::string("'") + SPINDLE_HELPER_FIB_TRACE + "' 30 2 '" + json.string() +
                  "' >/dev/null"),
              0);
    ASSERT_EQ(
        run(check_command(json, "--dropped no --expect 'B:fib:*' --expect 'B:job:*' --html '" +
                                    html.string() + "'")),
        0);
    const std::string chromium =
        "timeout 120 chromium --headless --disable-gpu --no-sandbox --no-first-run "
        "--disable-dev-shm-usage --window-size=1400,900 --user-data-dir='" +
        (dir / "profile").string() + "' ";
    const fs::path dom = dir / "dom.html";
    ASSERT_EQ(run(chromium + "--dump-dom 'file://" + html.string() + "' > '" + dom.string() +
                  "' 2>'" + (dir / "chromium.log").string() + "'"),
              0)
        << read_file(dir / "chromium.log");
    const std::string text = read_file(dom);
    EXPECT_NE(text.find("data-report=\"ok\""), std::string::npos)
        << "the report's script did not finish:\n"
        << text.substr(0, 2000);
    EXPECT_EQ(text.find("data-report=\"error\""), std::string::npos) << text.substr(0, 2000);
    const fs::path png = dir / "fib30-2w.png";
    ASSERT_EQ(run(chromium + "--screenshot='" + png.string() + "' 'file://" + html.string() +
                  "' >/dev/null 2>&1"),
              0);
    ASSERT_TRUE(fs::exists(png));
    EXPECT_GT(fs::file_size(png), 10000u);

    // A report whose trace dropped events says so on the page.
    const fs::path dj = dir / "dropped.json";
    {
        spindle::PoolOptions o{.num_threads = 1};
        o.trace = dj.string();
        o.trace_max_events = 20;
        spindle::ThreadPool pool(o);
        pool.install([] {
            for (int i = 0; i < 100; ++i)
                spindle::trace_span("many", [] {});
        });
    }
    const fs::path ddom = dir / "dropped-dom.html";
    ASSERT_EQ(run(chromium + "--dump-dom 'file://" + (dir / "dropped.html").string() + "' > '" +
                  ddom.string() + "' 2>/dev/null"),
              0);
    const std::string dtext = read_file(ddom);
    EXPECT_NE(dtext.find("data-report=\"ok\""), std::string::npos);
    EXPECT_NE(dtext.find("id=\"dropped\""), std::string::npos);

    // A merged view of two processes runs too.
    for (const char* name : {"p1", "p2"})
        ASSERT_EQ(run(std::string("'") + SPINDLE_HELPER_FIB_TRACE + "' 20 2 '" +
                      (dir / (std::string(name) + ".json")).string() + "' >/dev/null"),
                  0);
    ASSERT_EQ(run("python3 '" + k_merger.string() + "' '" + (dir / "merged.json").string() + "' '" +
                  (dir / "p1.json").string() + "' '" + (dir / "p2.json").string() + "' >/dev/null"),
              0);
    const fs::path mdom = dir / "merged-dom.html";
    ASSERT_EQ(run(chromium + "--dump-dom 'file://" + (dir / "merged.html").string() + "' > '" +
                  mdom.string() + "' 2>/dev/null"),
              0);
    const std::string mtext = read_file(mdom);
    EXPECT_NE(mtext.find("data-report=\"ok\""), std::string::npos) << mtext.substr(0, 2000);
    EXPECT_NE(mtext.find("2 processes"), std::string::npos);
}

}  // namespace
