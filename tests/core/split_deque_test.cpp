// White-box tests of the split mode of the deque (spindle/detail/deque.hpp): the owner keeps
// `keep_shared` jobs published and the rest private; thieves see only published jobs and ask
// for more through the request flag. Sequential behaviour first, then an exactly-once stress.
#include "common/test_util.hpp"

#include <spindle/detail/deque.hpp>
#include <spindle/detail/job.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace {

using spindle::detail::Deque;
using spindle::detail::Job;
using spindle::detail::Steal;

void never_run(Job*) noexcept {}
std::vector<Job> make_jobs(std::size_t n) {
    return std::vector<Job>(n, Job{&never_run});
}

Job* steal_one(Deque& d) {
    Job* j = nullptr;
    for (;;) {
        const Steal s = d.steal(&j);
        if (s == Steal::success)
            return j;
        if (s == Steal::empty)
            return nullptr;
    }
}

TEST(SplitDeque, KeepsOnlyKeepSharedJobsPublished) {
    Deque d(16, false, /*keep_shared=*/1);
    auto jobs = make_jobs(5);
    bool published = false;
    ASSERT_TRUE(d.push(&jobs[0], &published));
    EXPECT_TRUE(published) << "the first job is published into an empty shared part";
    for (int i = 1; i < 5; ++i) {
        ASSERT_TRUE(d.push(&jobs[i], &published));
        EXPECT_FALSE(published) << "job " << i << " stays private: one job is already shared";
    }
    EXPECT_EQ(d.size_hint(), 5);
    // A thief sees the one published job, the oldest.
    EXPECT_EQ(steal_one(d), &jobs[0]);
    // Nothing else is published; the failed steal asks the owner for more.
    EXPECT_EQ(steal_one(d), nullptr);
    EXPECT_TRUE(d.looks_empty());
    // The owner's next push answers the request: half of the private jobs, oldest first.
    auto more = make_jobs(1);
    ASSERT_TRUE(d.push(&more[0], &published));
    EXPECT_TRUE(published);
    EXPECT_FALSE(d.looks_empty());
    EXPECT_EQ(steal_one(d), &jobs[1]);
    EXPECT_EQ(steal_one(d), &jobs[2]);
    EXPECT_EQ(steal_one(d), &jobs[3]);
    EXPECT_EQ(steal_one(d), nullptr) << "the newest jobs stay private";
    // The owner pops LIFO across the private/shared boundary and never sees a stolen job.
    EXPECT_EQ(d.pop(), &more[0]);
    EXPECT_EQ(d.pop(), &jobs[4]);
    EXPECT_EQ(d.pop(), nullptr);
    EXPECT_EQ(d.pop(), nullptr);
}

TEST(SplitDeque, OwnerPopsPublishedJobsBack) {
    Deque d(8, false, /*keep_shared=*/3);
    auto jobs = make_jobs(6);
    bool published = false;
    for (auto& j : jobs)
        ASSERT_TRUE(d.push(&j, &published));
    // Three oldest are shared, three newest private; the owner takes all six back, LIFO.
    for (int i = 5; i >= 0; --i)
        EXPECT_EQ(d.pop(), &jobs[i]) << i;
    EXPECT_EQ(d.pop(), nullptr);
    EXPECT_EQ(steal_one(d), nullptr);
    // Reusable after draining, also across the wrap-around of the 8 slots.
    for (int round = 0; round < 5; ++round) {
        for (auto& j : jobs)
            ASSERT_TRUE(d.push(&j, &published));
        EXPECT_EQ(steal_one(d), &jobs[0]);
        for (int i = 5; i >= 1; --i)
            EXPECT_EQ(d.pop(), &jobs[i]);
        EXPECT_EQ(d.pop(), nullptr);
    }
}

TEST(SplitDeque, FullAtCapacityWhateverIsPrivate) {
    Deque d(4, false, /*keep_shared=*/1);
    auto jobs = make_jobs(5);
    bool published = false;
    for (int i = 0; i < 4; ++i)
        ASSERT_TRUE(d.push(&jobs[i], &published));
    EXPECT_FALSE(d.push(&jobs[4], &published));
    d.publish_all();
    for (int i = 0; i < 4; ++i)
        EXPECT_EQ(steal_one(d), &jobs[i]);
    EXPECT_TRUE(d.push(&jobs[4], &published));
    EXPECT_EQ(d.pop(), &jobs[4]);
}

// One owner pushing and popping, several thieves stealing (more threads than cores), a tiny
// capacity: every job is taken exactly once, whether it was private or shared when taken.
TEST(SplitDeque, ConcurrentExactlyOnce) {
    const std::size_t n = spindle_test::under_sanitizer() ? 20000 : 200000;
    for (std::int64_t keep_shared : {std::int64_t{1}, std::int64_t{3}}) {
        Deque d(8, false, keep_shared);
        std::vector<Job> jobs = make_jobs(n);
        std::unique_ptr<std::atomic<int>[]> taken(new std::atomic<int>[n]);
        for (std::size_t i = 0; i < n; ++i)
            taken[i].store(0);
        std::atomic<bool> done{false};
        auto mark = [&](Job* j) { taken[static_cast<std::size_t>(j - jobs.data())].fetch_add(1); };
        std::vector<std::thread> thieves;
        for (int t = 0; t < 5; ++t)
            thieves.emplace_back([&] {
                while (!done.load(std::memory_order_acquire)) {
                    Job* j = nullptr;
                    if (d.steal(&j) == Steal::success)
                        mark(j);
                }
            });
        std::size_t next = 0;
        unsigned rng = 12345;
        while (next < n) {
            rng = rng * 1103515245 + 12345;
            bool published = false;
            if ((rng >> 16) % 3 != 0) {
                if (d.push(&jobs[next], &published))
                    ++next;
                else if (Job* j = d.pop())
                    mark(j);
            } else if (Job* j = d.pop()) {
                mark(j);
            }
        }
        while (Job* j = d.pop())
            mark(j);
        done.store(true, std::memory_order_release);
        for (auto& t : thieves)
            t.join();
        while (Job* j = steal_one(d))
            mark(j);
        for (std::size_t i = 0; i < n; ++i)
            ASSERT_EQ(taken[i].load(), 1) << "job " << i << " with keep_shared " << keep_shared;
    }
}

}  // namespace
