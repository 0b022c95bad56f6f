#include "common/child_process.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace spindle_test {

namespace {

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

}  // namespace

ChildResult run_child(const std::string& program,
                      const std::string& args,
                      int seconds,
                      const std::string& env) {
    static std::atomic<int> serial{0};
    const std::string base = ::testing::TempDir() + "spindle_child_" + std::to_string(::getpid()) +
                             "_" + std::to_string(serial.fetch_add(1));
    const std::string cmd = (env.empty() ? "" : "env " + env + " ") + "timeout -s KILL " +
                            std::to_string(seconds) + " '" + program + "' " + args + " >'" + base +
                            ".out' 2>'" + base + ".err'";
    const int status = std::system(cmd.c_str());
    ChildResult c;
    if (status != -1 && WIFEXITED(status))
        c.exit_code = WEXITSTATUS(status);
    c.out = slurp(base + ".out");
    c.err = slurp(base + ".err");
    std::remove((base + ".out").c_str());
    std::remove((base + ".err").c_str());
    return c;
}

std::size_t count_of(const std::string& s, const std::string& part) {
    std::size_t n = 0;
    for (std::size_t at = s.find(part); at != std::string::npos; at = s.find(part, at + 1))
        ++n;
    return n;
}

}  // namespace spindle_test
