// Uses the installed spindle through its public umbrella header only.
#include <spindle/spindle.hpp>

int main() {
    spindle::ThreadPool pool(spindle::PoolOptions{.num_threads = 2});
    const int sum = pool.install([] {
        auto [a, b] = spindle::join([] { return 20; }, [] { return 22; });
        return a + b;
    });
    return sum == 42 ? 0 : 1;
}
