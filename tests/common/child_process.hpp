// Runs a helper program (tests/<label>/*_helper.cpp) in a child process under a timeout and
// captures what it wrote, for tests of process-level behaviour (fatal errors, exit, fork).
#pragma once

#include <cstddef>
#include <string>

namespace spindle_test {

struct ChildResult {
    int exit_code = -1;  // -1: did not exit normally; 137: killed by the timeout
    std::string out;
    std::string err;
};

// Runs `program args` (args is pasted into a shell command line unquoted) under
// `timeout -s KILL seconds`, with stdout and stderr captured, and with the environment
// assignments in `env` ("NAME=value ...", unquoted) added.
ChildResult run_child(const std::string& program,
                      const std::string& args,
                      int seconds = 60,
                      const std::string& env = "");

inline bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

// Number of occurrences of part in s.
std::size_t count_of(const std::string& s, const std::string& part);

}  // namespace spindle_test
