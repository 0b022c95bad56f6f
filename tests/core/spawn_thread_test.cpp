// PoolOptions::spawn_thread: worker threads made by the embedder (rayon's spawn_handler).
#include <spindle/spindle.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

thread_local int tl_wrapped = 0;  // set by the embedder's thread around run()

TEST(SpawnThread, WorkersRunInsideTheEmbeddersThreads) {
    std::mutex m;
    std::vector<std::thread> threads;
    std::vector<std::size_t> indices;
    std::atomic<int> returned{0};
    {
        spindle::ThreadPool pool(spindle::PoolOptions{
            .num_threads = 3,
            .max_spare_threads = 0,
            .spawn_thread =
                [&](std::size_t i, std::function<void()> run) {
                    std::lock_guard<std::mutex> lock(m);
                    indices.push_back(i);
                    threads.emplace_back([&returned, i, run = std::move(run)] {
                        tl_wrapped = static_cast<int>(i) + 1;
                        run();
                        returned.fetch_add(1);
                    });
                },
        });
        auto seen = pool.broadcast([](spindle::BroadcastContext c) {
            return tl_wrapped == static_cast<int>(c.index) + 1;
        });
        EXPECT_EQ(seen, (std::vector<bool>{true, true, true}));
        auto [a, b] = pool.join([] { return tl_wrapped; }, [] { return tl_wrapped; });
        EXPECT_GT(a, 0);
        EXPECT_GT(b, 0);
    }
    // The destructor returned only after every run() did (the thread may still be finishing).
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(returned.load(), 3);
    EXPECT_EQ(indices, (std::vector<std::size_t>{0, 1, 2}));
}

TEST(SpawnThread, AThrowingSpawnFailsConstructionAndStopsTheStartedWorkers) {
    std::vector<std::thread> threads;
    std::atomic<int> exits{0};
    EXPECT_THROW(spindle::ThreadPool(spindle::PoolOptions{
                     .num_threads = 3,
                     .exit_handler = [&](std::size_t) { exits.fetch_add(1); },
                     .max_spare_threads = 0,
                     .spawn_thread =
                         [&](std::size_t i, std::function<void()> run) {
                             if (i == 2)
                                 throw std::runtime_error("no thread");
                             threads.emplace_back(std::move(run));
                         },
                 }),
                 std::runtime_error);
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(exits.load(), 2);
}

}  // namespace
