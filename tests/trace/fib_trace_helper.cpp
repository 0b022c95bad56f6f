// fib(n) by join on a traced pool: `trace_fib <n> <threads> <trace.json>` writes the trace and
// its HTML report (tests/trace/trace_test.cpp loads the report in a browser).
#include <spindle/spindle.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {
long fib(int n) {
    if (n < 2)
        return n;
    auto [a, b] = spindle::join([n] { return fib(n - 1); }, [n] { return fib(n - 2); });
    return a + b;
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s N THREADS TRACE.json\n", argv[0]);
        return 2;
    }
    const int n = std::atoi(argv[1]);
    spindle::PoolOptions o;
    o.num_threads = static_cast<std::size_t>(std::atoi(argv[2]));
    o.trace = argv[3];
    long r = 0;
    {
        spindle::ThreadPool pool(o);
        r = pool.install([&] { return spindle::trace_span("fib", [&] { return fib(n); }); });
    }
    std::printf("fib(%d) = %ld\n", n, r);
    return 0;
}
