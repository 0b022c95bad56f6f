#include "common/test_util.hpp"

#include <spindle/join.hpp>
#include <spindle/pool.hpp>

#include <dirent.h>

#include <cstdlib>

namespace spindle_test {

std::uint64_t fib_join(unsigned n, unsigned cutoff) {
    if (n < 2)
        return n;
    if (n <= cutoff)
        return fib_serial(n);
    auto [a, b] = spindle::join([n, cutoff] { return fib_join(n - 1, cutoff); },
                                [n, cutoff] { return fib_join(n - 2, cutoff); });
    return a + b;
}

void warm_up_thread_creation() {
    spindle::ThreadPool warm(spindle::PoolOptions{.num_threads = 2});
    (void)warm.install([] { return 0; });
}

long count_dir_entries(const char* path) {
    DIR* d = ::opendir(path);
    if (d == nullptr)
        return -1;
    long n = 0;
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name != "." && name != "..")
            ++n;
    }
    ::closedir(d);
    return n;
}

ScopedEnv::ScopedEnv(const char* name, const char* value) : m_name(name) {
    if (const char* old = std::getenv(name))
        m_old = old;
    if (value != nullptr)
        ::setenv(name, value, 1);
    else
        ::unsetenv(name);
}

ScopedEnv::~ScopedEnv() {
    if (m_old)
        ::setenv(m_name.c_str(), m_old->c_str(), 1);
    else
        ::unsetenv(m_name.c_str());
}

}  // namespace spindle_test
