// The parent project's program: links spindle's shared library built as a subproject.
#include <spindle/spindle.hpp>

#include <atomic>

int main() {
    spindle::PoolOptions options;
    options.num_threads = 2;
    spindle::ThreadPool pool(options);
    std::atomic<int> ran{0};
    pool.scope([&](spindle::Scope& s) {
        for (int i = 0; i < 100; ++i)
            s.spawn([&] { ran.fetch_add(1, std::memory_order_relaxed); });
    });
    const auto [a, b] =
        pool.install([] { return spindle::join([] { return 1; }, [] { return 2; }); });
    return ran.load() == 100 && a + b == 3 && spindle::version.major == SPINDLE_VERSION_MAJOR ? 0
                                                                                              : 1;
}
