// Built by the ctest test package.pkg_config with nothing but the compiler and
// `pkg-config --cflags --libs spindle` (cmake/test-pkg-config.cmake), as a Makefile would.
#include <spindle/spindle.hpp>

#include <cstdio>
#include <cstring>

static_assert(SPINDLE_VERSION ==
              SPINDLE_VERSION_MAJOR * 10000 + SPINDLE_VERSION_MINOR * 100 + SPINDLE_VERSION_PATCH);

int main(int argc, char** argv) {
    // The version the test expects (the project's), passed on the command line.
    if (argc != 2 || std::strcmp(argv[1], SPINDLE_VERSION_STRING) != 0) {
        std::fprintf(stderr, "version header says %s\n", SPINDLE_VERSION_STRING);
        return 2;
    }
    spindle::PoolOptions options;
    options.num_threads = 2;
    spindle::ThreadPool pool(options);
    const int sum = pool.install([] {
        auto [a, b] = spindle::join([] { return 20; }, [] { return 22; });
        return a + b;
    });
    return sum == 42 ? 0 : 1;
}
