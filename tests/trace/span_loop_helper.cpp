// The cost of a trace event: `trace_span_loop <spans> <trace.json | ->` runs that many empty
// spindle::trace_span calls on a 1-worker pool, traced to the file or (with -) not traced, and
// prints the time per event (2 events per span when traced). design-notes/0011 quotes it, and
// callgrind's instruction counts of two runs with different span counts.
#include <spindle/spindle.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s SPANS TRACE.json|-\n", argv[0]);
        return 2;
    }
    const long spans = std::atol(argv[1]);
    spindle::PoolOptions o{.num_threads = 1};
    if (std::string(argv[2]) != "-") {
        o.trace = argv[2];
        o.trace_max_events = static_cast<std::size_t>(2 * spans + 64);
    }
    double ns = 0;
    {
        spindle::ThreadPool pool(o);
        ns = pool.install([&] {
            const auto t0 = std::chrono::steady_clock::now();
            for (long i = 0; i < spans; ++i)
                spindle::trace_span("loop", [] {});
            return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0)
                .count();
        });
    }
    std::printf("spans %ld, %.2f ns per span, %.2f ns per event (2 per span)\n", spans,
                ns / static_cast<double>(spans), ns / static_cast<double>(2 * spans));
    return 0;
}
