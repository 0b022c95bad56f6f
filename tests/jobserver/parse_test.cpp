// The MAKEFLAGS parser against every row of the bad-input table
// (/work/shared/reference/jobserver.md §6.3) and the word-splitting rules (§1.1, §7 C).
#include "spindle/jobserver.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace {

using spindle::JobserverAuth;
using spindle::JobserverError;
using spindle::JobserverErrorKind;
using spindle::parse_makeflags;
using Style = JobserverAuth::Style;

JobserverErrorKind error_of(const std::string& value, std::string* message = nullptr) {
    try {
        parse_makeflags("MAKEFLAGS", value);
    } catch (const JobserverError& e) {
        if (message != nullptr)
            *message = e.what();
        return e.kind();
    }
    ADD_FAILURE() << "no error for " << value;
    return JobserverErrorKind::Io;
}

TEST(JobserverParse, SplitsLikeMake) {
    using V = std::vector<std::string>;
    EXPECT_EQ(spindle::split_makeflags(" -j4 --jobserver-auth=3,4"),
              (V{"-j4", "--jobserver-auth=3,4"}));
    EXPECT_EQ(spindle::split_makeflags("a\\ b\\\\c\t d"), (V{"a b\\c", "d"}));
    EXPECT_EQ(spindle::split_makeflags("k -j3 -- X=a\\ b"), (V{"k", "-j3"}));
    EXPECT_EQ(spindle::split_makeflags(""), V{});
    EXPECT_EQ(spindle::split_makeflags("   "), V{});
}

TEST(JobserverParse, AbsentOrNoJobserverWord) {
    EXPECT_EQ(parse_makeflags("MAKEFLAGS", "").style, Style::None);
    EXPECT_EQ(parse_makeflags("MAKEFLAGS", " -j").style, Style::None);
    const JobserverAuth a = parse_makeflags("MAKEFLAGS", "k -j8");
    EXPECT_EQ(a.style, Style::None);
    ASSERT_TRUE(a.jobs.has_value());
    EXPECT_EQ(*a.jobs, 8u);
}

TEST(JobserverParse, PipeStyleAndLegacyFds) {
    JobserverAuth a = parse_makeflags("MAKEFLAGS", " -j4 --jobserver-auth=3,4");
    EXPECT_EQ(a.style, Style::Pipe);
    EXPECT_EQ(a.read_fd, 3);
    EXPECT_EQ(a.write_fd, 4);
    EXPECT_EQ(*a.jobs, 4u);
    EXPECT_FALSE(a.dry_run);
    a = parse_makeflags("MAKEFLAGS", " -j2 --jobserver-fds=5,6");
    EXPECT_EQ(a.style, Style::Pipe);
    EXPECT_EQ(a.read_fd, 5);
    EXPECT_EQ(a.word, "--jobserver-fds=5,6");
    // cargo writes both spellings; -auth wins over -fds wherever it is.
    a = parse_makeflags("CARGO_MAKEFLAGS", "-j --jobserver-auth=7,8 --jobserver-fds=6,7");
    EXPECT_EQ(a.read_fd, 7);
    EXPECT_EQ(a.variable, "CARGO_MAKEFLAGS");
}

TEST(JobserverParse, LastWordWinsAndDoubleDashStops) {
    JobserverAuth a = parse_makeflags("MAKEFLAGS", " --jobserver-auth=3,4 --jobserver-auth=5,6");
    EXPECT_EQ(a.read_fd, 5);
    // §8.1: a variable override must not mislead the parser.
    a = parse_makeflags("MAKEFLAGS", "k -j3 --jobserver-auth=3,4 -- X=a\\ --jobserver-auth=9,9");
    EXPECT_EQ(a.style, Style::Pipe);
    EXPECT_EQ(a.read_fd, 3);
    EXPECT_EQ(a.write_fd, 4);
    // make 4.4's invalidation comes last, before "--".
    a = parse_makeflags("MAKEFLAGS", " -j2 --jobserver-auth=3,4 --jobserver-auth=-2,-2 -- X=1");
    EXPECT_EQ(a.style, Style::Disabled);
}

TEST(JobserverParse, DryRun) {
    EXPECT_TRUE(parse_makeflags("MAKEFLAGS", "n -j3 --jobserver-auth=3,4").dry_run);
    EXPECT_TRUE(parse_makeflags("MAKEFLAGS", "kns").dry_run);
    EXPECT_FALSE(parse_makeflags("MAKEFLAGS", "k -j3").dry_run);
    EXPECT_FALSE(parse_makeflags("MAKEFLAGS", " --no-print-directory").dry_run);
}

TEST(JobserverParse, NegativeFdsMeanDisabled) {
    EXPECT_EQ(parse_makeflags("MAKEFLAGS", " --jobserver-auth=-2,-2").style, Style::Disabled);
    EXPECT_EQ(parse_makeflags("MAKEFLAGS", " --jobserver-auth=-1,4").style, Style::Disabled);
    EXPECT_EQ(parse_makeflags("MAKEFLAGS", " --jobserver-fds=3,-1").style, Style::Disabled);
}

TEST(JobserverParse, FifoStyle) {
    JobserverAuth a = parse_makeflags("MAKEFLAGS", " -j4 --jobserver-auth=fifo:/tmp/GmFIFO12");
    EXPECT_EQ(a.style, Style::Fifo);
    EXPECT_EQ(a.path, "/tmp/GmFIFO12");
    a = parse_makeflags("MAKEFLAGS", " --jobserver-auth=fifo:/tmp/a\\ b");
    EXPECT_EQ(a.path, "/tmp/a b");
}

TEST(JobserverParse, MalformedValuesAreCannotParse) {
    for (const char* v :
         {" --jobserver-auth=", " --jobserver-auth=3", " --jobserver-auth=3,",
          " --jobserver-auth=a,b", " --jobserver-auth=3,4,5", " --jobserver-auth=99999999999,4",
          " --jobserver-auth=fifo:", " --jobserver-fds=x", " --jobserver-auth=,4"}) {
        std::string msg;
        EXPECT_EQ(error_of(v, &msg), JobserverErrorKind::CannotParse) << v;
        EXPECT_NE(msg.find("MAKEFLAGS="), std::string::npos) << msg;
        EXPECT_NE(msg.find(std::string(v).substr(1)), std::string::npos) << msg;
    }
}

TEST(JobserverParse, OtherStringIsUnknownStyle) {
    std::string msg;
    EXPECT_EQ(error_of(" -j4 --jobserver-auth=gmake_semaphore_1234", &msg),
              JobserverErrorKind::UnknownStyle);
    EXPECT_NE(msg.find("Windows semaphore"), std::string::npos) << msg;
    EXPECT_NE(msg.find("gmake_semaphore_1234"), std::string::npos) << msg;
}

// discover_jobserver() reads the environment: CARGO_MAKEFLAGS, then MAKEFLAGS, then MFLAGS.
class EnvGuard {
public:
    EnvGuard() {
        for (const char* n : {"CARGO_MAKEFLAGS", "MAKEFLAGS", "MFLAGS"}) {
            const char* v = std::getenv(n);
            m_saved.emplace_back(n, v ? std::optional<std::string>(v) : std::nullopt);
            ::unsetenv(n);
        }
    }
    ~EnvGuard() {
        for (auto& [n, v] : m_saved) {
            if (v)
                ::setenv(n.c_str(), v->c_str(), 1);
            else
                ::unsetenv(n.c_str());
        }
    }

private:
    std::vector<std::pair<std::string, std::optional<std::string>>> m_saved;
};

TEST(JobserverParse, DiscoveryOrder) {
    EnvGuard g;
    EXPECT_EQ(spindle::discover_jobserver().style, Style::None);
    EXPECT_EQ(spindle::jobserver_from_env(spindle::JobserverPolicy::Throw), nullptr);
    ::setenv("MFLAGS", "-j --jobserver-auth=11,12", 1);
    EXPECT_EQ(spindle::discover_jobserver().variable, "MFLAGS");
    ::setenv("MAKEFLAGS", " -j2 --jobserver-auth=-2,-2", 1);
    EXPECT_EQ(spindle::discover_jobserver().variable, "MAKEFLAGS");
    EXPECT_EQ(spindle::discover_jobserver().style, Style::Disabled);
    EXPECT_EQ(spindle::jobserver_from_env(spindle::JobserverPolicy::Throw), nullptr);
    ::setenv("CARGO_MAKEFLAGS", "-j --jobserver-auth=bogus", 1);
    EXPECT_THROW(spindle::discover_jobserver(), JobserverError);  // CARGO_MAKEFLAGS wins
    EXPECT_THROW(spindle::jobserver_from_env(spindle::JobserverPolicy::Throw), JobserverError);
    EXPECT_EQ(spindle::jobserver_from_env(spindle::JobserverPolicy::Quiet), nullptr);
    ::setenv("CARGO_MAKEFLAGS", "n -j --jobserver-auth=3,4", 1);
    EXPECT_EQ(spindle::jobserver_from_env(spindle::JobserverPolicy::Throw), nullptr);  // make -n
}

}  // namespace
