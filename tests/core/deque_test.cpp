// White-box tests of the bounded Chase-Lev deque (spindle/detail/deque.hpp): sequential
// behaviour against a std::deque model, boundary cases, and a concurrent exactly-once stress.
#include "common/test_util.hpp"

#include <spindle/detail/deque.hpp>
#include <spindle/detail/job.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace {

using spindle::detail::Deque;
using spindle::detail::Job;
using spindle::detail::Steal;
using spindle_test::scaled;

void never_run(Job*) noexcept {}

// Fake jobs: only their addresses matter.
std::vector<Job> make_jobs(std::size_t n) {
    return std::vector<Job>(n, Job{&never_run});
}

// ---- sequential -----------------------------------------------------------------------------

// The reference model: a std::deque of the jobs held, oldest at the front. pop takes the
// newest; a successful steal the oldest. How many jobs a split deque (keep_shared other than
// k_share_all) has published at a given moment is a tuning policy, so for those the model
// checks only what holds under any policy (a steal may come back empty while jobs are held
// privately); with k_share_all (classic Chase-Lev) it checks exact behaviour.
class Model {
public:
    explicit Model(std::size_t capacity) : m_cap(capacity) {}
    bool full() const { return m_items.size() == m_cap; }
    bool empty() const { return m_items.empty(); }
    std::size_t size() const { return m_items.size(); }
    void push(Job* j) { m_items.push_back(j); }
    Job* pop() {
        if (m_items.empty())
            return nullptr;
        Job* j = m_items.back();
        m_items.pop_back();
        return j;
    }
    Job* front() const { return m_items.empty() ? nullptr : m_items.front(); }
    void drop_front() { m_items.pop_front(); }

private:
    std::size_t m_cap;
    std::deque<Job*> m_items;
};

std::string keep_name(std::int64_t keep) {
    return keep == Deque::k_share_all ? std::string("all") : std::to_string(keep);
}

// Parameters: capacity, no_thieves. Each test runs for every keep_shared value in turn (one
// test per value would multiply the number of test processes ctest starts).
constexpr std::int64_t k_keeps[] = {Deque::k_share_all, 0, 1, 3};

class DequeSequential : public ::testing::TestWithParam<std::tuple<std::size_t, bool>> {
protected:
    std::size_t capacity() const { return std::get<0>(GetParam()); }
    bool no_thieves() const { return std::get<1>(GetParam()); }
    std::int64_t keep() const { return m_keep; }

    template <class F>
    void for_each_keep(F&& body) {
        for (std::int64_t k : k_keeps) {
            m_keep = k;
            SCOPED_TRACE("keep_shared " + keep_name(k));
            body();
            if (HasFatalFailure())
                return;
        }
    }

private:
    std::int64_t m_keep = Deque::k_share_all;
};

TEST_P(DequeSequential, FreshDequePopReturnsNothingAndStaysUsable) {
    for_each_keep([&] {
        Deque d(capacity(), no_thieves(), keep());
        EXPECT_EQ(d.capacity(), capacity());
        EXPECT_TRUE(d.looks_empty());
        EXPECT_EQ(d.size_hint(), 0);
        // Several pops on a fresh deque: the signed-index design must not underflow.
        for (int i = 0; i < 3; ++i)
            EXPECT_EQ(d.pop(), nullptr);
        EXPECT_TRUE(d.looks_empty());
        EXPECT_EQ(d.size_hint(), 0);

        auto jobs = make_jobs(2);
        bool flag = false;
        ASSERT_TRUE(d.push(&jobs[0], &flag));
        EXPECT_EQ(d.size_hint(), 1);
        ASSERT_TRUE(d.push(&jobs[1], &flag));
        EXPECT_EQ(d.size_hint(), 2);
        EXPECT_EQ(d.pop(), &jobs[1]);
        EXPECT_EQ(d.pop(), &jobs[0]);
        EXPECT_EQ(d.pop(), nullptr);
        EXPECT_TRUE(d.looks_empty());
        EXPECT_EQ(d.size_hint(), 0);
    });
}

TEST_P(DequeSequential, FreshDequeStealReturnsNothingAndStaysUsable) {
    for_each_keep([&] {
        Deque d(capacity(), no_thieves(), keep());
        Job* sentinel = reinterpret_cast<Job*>(std::uintptr_t{0x1234});
        Job* out = sentinel;
        for (int i = 0; i < 3; ++i) {
            EXPECT_EQ(d.steal(&out), Steal::empty);
            EXPECT_EQ(out, sentinel) << "a failed steal must not write *out";
        }
        EXPECT_EQ(d.pop(), nullptr);
        EXPECT_EQ(d.steal(&out), Steal::empty);

        // Usable afterwards: whatever is stealable comes out oldest first, the rest by pop.
        auto jobs = make_jobs(std::min<std::size_t>(capacity(), 3));
        bool flag = false;
        for (auto& j : jobs)
            ASSERT_TRUE(d.push(&j, &flag));
        std::vector<Job*> got;
        while (d.steal(&out) == Steal::success)
            got.push_back(out);
        for (std::size_t i = 0; i < got.size(); ++i)
            EXPECT_EQ(got[i], &jobs[i]);
        for (std::size_t i = jobs.size(); i-- > got.size();)
            EXPECT_EQ(d.pop(), &jobs[i]);
        EXPECT_EQ(d.pop(), nullptr);
        EXPECT_EQ(d.steal(&out), Steal::empty);
    });
}

TEST_P(DequeSequential, FullAtExactlyCapacity) {
    for_each_keep([&] {
        Deque d(capacity(), no_thieves(), keep());
        auto jobs = make_jobs(capacity() + 1);
        bool flag = false;
        for (std::size_t i = 0; i < capacity(); ++i)
            ASSERT_TRUE(d.push(&jobs[i], &flag)) << "push " << i << " of capacity " << capacity();
        EXPECT_EQ(d.size_hint(), static_cast<std::int64_t>(capacity()));

        // Full: push fails and changes nothing, including the out-parameter.
        for (int attempt = 0; attempt < 2; ++attempt) {
            bool f = true;
            EXPECT_FALSE(d.push(&jobs[capacity()], &f));
            EXPECT_TRUE(f) << "a failed push must not write *published_into_empty";
            f = false;
            EXPECT_FALSE(d.push(&jobs[capacity()], &f));
            EXPECT_FALSE(f);
            EXPECT_EQ(d.size_hint(), static_cast<std::int64_t>(capacity()));
        }

        // Contents intact: pops return LIFO order, the rejected job never appears.
        for (std::size_t i = capacity(); i-- > 0;)
            EXPECT_EQ(d.pop(), &jobs[i]);
        EXPECT_EQ(d.pop(), nullptr);
    });
}

TEST_P(DequeSequential, FullThenOneStealMakesRoomForOne) {
    for_each_keep([&] {
        Deque d(capacity(), no_thieves(), keep());
        auto jobs = make_jobs(capacity() + 1);
        bool flag = false;
        for (std::size_t i = 0; i < capacity(); ++i)
            ASSERT_TRUE(d.push(&jobs[i], &flag));
        EXPECT_FALSE(d.push(&jobs[capacity()], &flag));
        Job* out = nullptr;
        // With nothing shared (keep_shared 0) the first steal only asks the owner to publish;
        // a full deque cannot push, so publish everything as a worker does before spilling.
        if (d.steal(&out) != Steal::success) {
            d.publish_all();
            ASSERT_EQ(d.steal(&out), Steal::success);
        }
        EXPECT_EQ(out, &jobs[0]);
        EXPECT_TRUE(d.push(&jobs[capacity()], &flag));
        EXPECT_FALSE(d.push(&jobs[0], &flag));
        d.publish_all();
        for (std::size_t i = 1; i <= capacity(); ++i) {
            ASSERT_EQ(d.steal(&out), Steal::success);
            EXPECT_EQ(out, &jobs[i]);
        }
        EXPECT_EQ(d.steal(&out), Steal::empty);
        EXPECT_EQ(d.pop(), nullptr);
    });
}

TEST_P(DequeSequential, PublishAllMakesEveryJobStealable) {
    for_each_keep([&] {
        Deque d(capacity(), no_thieves(), keep());
        const std::size_t n = std::min<std::size_t>(capacity(), 6);
        auto jobs = make_jobs(n);
        bool flag = false;
        for (auto& j : jobs)
            ASSERT_TRUE(d.push(&j, &flag));
        d.publish_all();
        EXPECT_FALSE(d.looks_empty());
        Job* out = nullptr;
        for (std::size_t i = 0; i < n; ++i) {
            ASSERT_EQ(d.steal(&out), Steal::success) << i;
            EXPECT_EQ(out, &jobs[i]);
        }
        EXPECT_EQ(d.steal(&out), Steal::empty);
        EXPECT_TRUE(d.looks_empty());
    });
}

TEST_P(DequeSequential, KeepsTheOldestJobsShared) {
    for_each_keep([&] {
        // "The owner keeps keep_shared jobs (the oldest) published": right after n pushes, the
        // min(n, keep_shared) oldest jobs can be stolen without any request.
        Deque d(capacity(), no_thieves(), keep());
        const std::size_t n = std::min<std::size_t>(capacity(), 8);
        auto jobs = make_jobs(n);
        bool flag = false;
        for (auto& j : jobs)
            ASSERT_TRUE(d.push(&j, &flag));
        const std::size_t expect_shared =
            keep() == Deque::k_share_all
                ? n
                : std::min<std::size_t>(n, static_cast<std::size_t>(keep()));
        Job* out = nullptr;
        for (std::size_t i = 0; i < expect_shared; ++i) {
            ASSERT_EQ(d.steal(&out), Steal::success) << i;
            EXPECT_EQ(out, &jobs[i]);
        }
        if (expect_shared < n) {
            // Nothing more is shared: the steal fails and asks; the owner's next push publishes.
            EXPECT_EQ(d.steal(&out), Steal::empty);
            if (d.size_hint() < static_cast<std::int64_t>(capacity())) {
                Job extra{&never_run};
                ASSERT_TRUE(d.push(&extra, &flag));
                EXPECT_TRUE(flag) << "publishing into an empty shared part must be reported";
                ASSERT_EQ(d.steal(&out), Steal::success) << "the request was not honoured";
                EXPECT_EQ(out, &jobs[expect_shared]);
                EXPECT_EQ(d.pop(), &extra);
            }
        }
        std::size_t left = 0;
        while (d.pop() != nullptr)
            ++left;
        EXPECT_LE(left, n);
        EXPECT_TRUE(d.looks_empty());
    });
}

// Random op sequences checked step by step against the model.
TEST_P(DequeSequential, MatchesReferenceModelOnRandomOps) {
    for_each_keep([&] {
        const std::size_t cap = capacity();
        const bool exact = keep() == Deque::k_share_all;
        const std::size_t n_jobs = cap * 3 + 7;
        auto jobs = make_jobs(n_jobs);
        const std::size_t rounds = 16;
        const std::size_t ops_per_round = scaled(std::min<std::size_t>(cap * 40, 4000) + 400, 4);
        std::size_t steals_ok = 0;
        for (std::size_t round = 0; round < rounds; ++round) {
            std::mt19937_64 rng(0x5eed0000u + round * 131 + cap + (no_thieves() ? 7 : 0) +
                                static_cast<std::uint64_t>(keep() & 0xff) * 977);
            Deque d(cap, no_thieves(), keep());
            Model model(cap);
            // Bias the mix per round so that some rounds mostly fill (and hit "full") and some
            // mostly drain (and hit "empty").
            const unsigned push_weight = 2 + static_cast<unsigned>(round % 5);
            std::size_t next = 0;
            for (std::size_t op = 0; op < ops_per_round; ++op) {
                const unsigned r = static_cast<unsigned>(rng() % (push_weight + 5));
                SCOPED_TRACE("round " + std::to_string(round) + " op " + std::to_string(op));
                if (r < push_weight) {
                    Job* j = &jobs[next++ % n_jobs];
                    bool flag = false;
                    const bool was_empty = model.empty();
                    const bool ok = d.push(j, &flag);
                    ASSERT_EQ(ok, !model.full());
                    if (ok) {
                        model.push(j);
                        if (exact) {
                            ASSERT_EQ(flag, was_empty) << "published_into_empty";
                        } else if (flag) {
                            // Something was published: the shared part is not empty now.
                            ASSERT_FALSE(d.looks_empty());
                        }
                    }
                } else if (r < push_weight + 2) {
                    ASSERT_EQ(d.pop(), model.pop());
                } else if (r < push_weight + 4) {
                    Job* got = nullptr;
                    const Steal s = d.steal(&got);
                    ASSERT_NE(s, Steal::abort) << "no concurrent thief: a steal can never abort";
                    if (s == Steal::success) {
                        ASSERT_FALSE(model.empty());
                        ASSERT_EQ(got, model.front()) << "steal must take the oldest job";
                        model.drop_front();
                        ++steals_ok;
                    } else if (exact) {
                        ASSERT_TRUE(model.empty())
                            << "Chase-Lev steal came back empty with jobs held";
                    }
                } else {
                    const bool e = d.looks_empty();
                    if (exact || model.empty()) {
                        ASSERT_EQ(e, model.empty());
                    }
                }
                ASSERT_EQ(d.size_hint(), static_cast<std::int64_t>(model.size()));
            }
            // Drain: everything left comes out by pop, newest first.
            while (!model.empty())
                ASSERT_EQ(d.pop(), model.pop());
            EXPECT_EQ(d.pop(), nullptr);
            Job* got = nullptr;
            EXPECT_EQ(d.steal(&got), Steal::empty);
            EXPECT_TRUE(d.looks_empty());
        }
        EXPECT_GT(steals_ok, 0u) << "the op mix never stole anything";
    });
}

INSTANTIATE_TEST_SUITE_P(Capacities,
                         DequeSequential,
                         ::testing::Combine(::testing::Values(std::size_t{2},
                                                              std::size_t{4},
                                                              std::size_t{8},
                                                              std::size_t{1024}),
                                            ::testing::Bool()),
                         [](const auto& info) {
                             return "cap" + std::to_string(std::get<0>(info.param)) +
                                    (std::get<1>(info.param) ? "_no_thieves" : "_shared");
                         });

TEST(Deque, DefaultCapacityIs1024) {
    Deque d;
    EXPECT_EQ(d.capacity(), 1024u);
}

TEST(Deque, ShareAllReportsPushIntoEmpty) {
    // Classic Chase-Lev mode: every push publishes, and the flag is exactly "was empty".
    Deque d(8, false, Deque::k_share_all);
    auto jobs = make_jobs(3);
    bool flag = false;
    ASSERT_TRUE(d.push(&jobs[0], &flag));
    EXPECT_TRUE(flag);
    ASSERT_TRUE(d.push(&jobs[1], &flag));
    EXPECT_FALSE(flag);
    EXPECT_EQ(d.pop(), &jobs[1]);
    EXPECT_EQ(d.pop(), &jobs[0]);
    ASSERT_TRUE(d.push(&jobs[2], &flag));
    EXPECT_TRUE(flag) << "empty again after pops";
    Job* out = nullptr;
    ASSERT_EQ(d.steal(&out), Steal::success);
    ASSERT_TRUE(d.push(&jobs[0], &flag));
    EXPECT_TRUE(flag) << "empty again after a steal";
}

// ---- concurrent exactly-once ----------------------------------------------------------------

struct StressParams {
    std::size_t capacity;
    std::size_t thieves;
    std::int64_t keep_shared;
};

class DequeStress : public ::testing::TestWithParam<StressParams> {};

// One owner pushes N items (consuming one itself whenever push reports "full") and pops at
// random; several thieves steal concurrently (more threads than the CI machine's 2 cores).
// Every item must be consumed exactly once.
TEST_P(DequeStress, EveryItemConsumedExactlyOnce) {
    const StressParams p = GetParam();
    const std::size_t n = scaled(200'000, 10);
    auto jobs = make_jobs(n);
    std::unique_ptr<std::atomic<std::uint32_t>[]> counts(new std::atomic<std::uint32_t>[n]);
    for (std::size_t i = 0; i < n; ++i)
        counts[i].store(0, std::memory_order_relaxed);
    std::atomic<std::size_t> consumed{0};
    std::atomic<std::size_t> stolen{0};
    std::atomic<bool> bad_pointer{false};

    auto consume = [&](Job* j) {
        const auto idx = static_cast<std::size_t>(j - jobs.data());
        if (j < jobs.data() || idx >= n) {
            bad_pointer.store(true);
            return;
        }
        counts[idx].fetch_add(1, std::memory_order_relaxed);
        consumed.fetch_add(1, std::memory_order_relaxed);
    };

    Deque d(p.capacity, /*no_thieves=*/false, p.keep_shared);
    std::atomic<bool> owner_done{false};
    std::atomic<std::size_t> ready{0};

    std::vector<std::thread> thieves;
    for (std::size_t t = 0; t < p.thieves; ++t) {
        thieves.emplace_back([&] {
            ready.fetch_add(1);
            std::size_t mine = 0;
            for (;;) {
                // Read the flag before stealing: if the owner was done and the steal finds
                // the deque empty, it stays empty.
                const bool done = owner_done.load(std::memory_order_acquire);
                Job* j = nullptr;
                const Steal s = d.steal(&j);
                if (s == Steal::success) {
                    consume(j);
                    ++mine;
                } else if (s == Steal::empty) {
                    if (done)
                        break;
                    std::this_thread::yield();
                }
            }
            stolen.fetch_add(mine);
        });
    }
    while (ready.load() < p.thieves)
        std::this_thread::yield();

    std::mt19937 rng(static_cast<unsigned>(p.capacity * 1000 + p.thieves +
                                           static_cast<std::size_t>(p.keep_shared & 0xff)));
    std::size_t owner_pops = 0;
    for (std::size_t i = 0; i < n; ++i) {
        bool was_empty = false;
        while (!d.push(&jobs[i], &was_empty)) {
            // Full: consume one ourselves to make room (the thieves may also have made room
            // meanwhile, so pop may come back empty; then just retry the push).
            if (Job* j = d.pop()) {
                consume(j);
                ++owner_pops;
            }
        }
        if (rng() % 4 == 0) {
            if (Job* j = d.pop()) {
                consume(j);
                ++owner_pops;
            }
        }
    }
    while (Job* j = d.pop()) {
        consume(j);
        ++owner_pops;
    }
    owner_done.store(true, std::memory_order_release);
    for (auto& t : thieves)
        t.join();

    ASSERT_FALSE(bad_pointer.load()) << "a pop or steal returned a pointer that was never pushed";
    EXPECT_EQ(consumed.load(), n);
    EXPECT_EQ(owner_pops + stolen.load(), n);
    std::size_t lost = 0, duplicated = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = counts[i].load();
        if (c == 0)
            ++lost;
        if (c > 1)
            ++duplicated;
    }
    EXPECT_EQ(lost, 0u) << "items never consumed";
    EXPECT_EQ(duplicated, 0u) << "items consumed more than once";
    EXPECT_TRUE(d.looks_empty());
    EXPECT_EQ(d.pop(), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Mixes,
                         DequeStress,
                         ::testing::Values(StressParams{4, 3, Deque::k_share_all},
                                           StressParams{4, 7, Deque::k_share_all},
                                           StressParams{8, 5, Deque::k_share_all},
                                           StressParams{1024, 3, Deque::k_share_all},
                                           StressParams{4, 3, 1},
                                           StressParams{4, 7, 1},
                                           StressParams{8, 3, 3},
                                           StressParams{1024, 5, 1},
                                           StressParams{64, 3, 0}),
                         [](const auto& info) {
                             return "cap" + std::to_string(info.param.capacity) + "_thieves" +
                                    std::to_string(info.param.thieves) + "_keep" +
                                    keep_name(info.param.keep_shared);
                         });

// The last job: owner pop and a thief race for it through the CAS on top; exactly one wins.
TEST(DequeStress, LastItemRaceHasExactlyOneWinner) {
    const std::size_t rounds = scaled(20'000, 10);
    auto jobs = make_jobs(1);
    Deque d(4, false, Deque::k_share_all);
    std::atomic<std::size_t> round_go{0};
    std::atomic<std::size_t> thief_done{0};
    std::atomic<int> thief_got{0};
    std::size_t owner_wins = 0, thief_wins = 0, both = 0, none = 0;

    std::thread thief([&] {
        for (std::size_t r = 1; r <= rounds; ++r) {
            while (round_go.load(std::memory_order_acquire) < r)
                std::this_thread::yield();
            Job* j = nullptr;
            Steal s;
            do {
                s = d.steal(&j);
            } while (s == Steal::abort);
            thief_got.store(s == Steal::success && j == &jobs[0] ? 1 : 0,
                            std::memory_order_relaxed);
            thief_done.store(r, std::memory_order_release);
        }
    });

    for (std::size_t r = 1; r <= rounds; ++r) {
        bool was_empty = false;
        ASSERT_TRUE(d.push(&jobs[0], &was_empty));
        ASSERT_TRUE(was_empty);
        round_go.store(r, std::memory_order_release);
        Job* mine = d.pop();
        while (thief_done.load(std::memory_order_acquire) < r)
            std::this_thread::yield();
        const bool o = mine == &jobs[0];
        const bool t = thief_got.load(std::memory_order_relaxed) == 1;
        if (o && t)
            ++both;
        else if (o)
            ++owner_wins;
        else if (t)
            ++thief_wins;
        else
            ++none;
        ASSERT_TRUE(d.looks_empty());
    }
    thief.join();
    EXPECT_EQ(both, 0u) << "the last job was taken twice";
    EXPECT_EQ(none, 0u) << "the last job was lost";
    EXPECT_EQ(owner_wins + thief_wins, rounds);
}

}  // namespace
