// Bounded Chase-Lev work-stealing deque of Job pointers.
//
// Algorithm: Chase & Lev, "Dynamic circular work-stealing deque", SPAA 2005, with the C11
// memory orders of Le, Pop, Cohen, Zappa Nardelli, "Correct and efficient work-stealing for
// weak memory models", PPoPP 2013, doi:10.1145/2442516.2442524. Differences from the paper
// (see design-notes/0001-scheduler.md, "The deque"):
//   * indices are signed 64-bit: pop() on a fresh empty deque computes bottom-1 = -1 < top,
//     never a huge unsigned value (the unsigned-underflow bug of the printed listing);
//   * the buffer never grows: push() reports "full" and the worker spills half of the deque
//     to the pool's injector, so no old buffer ever has to be reclaimed;
//   * slots are std::atomic<Job*>: a thief may read a slot the owner is overwriting after
//     wrap-around; the value read is discarded unless the thief's CAS on top succeeds;
//   * under ThreadSanitizer (which does not model stand-alone fences) each fence is folded
//     into the neighbouring access (release store / seq_cst accesses), as crossbeam does;
//   * a deque with no possible thief (a pool of one worker) pops without any fence;
//   * split deque (after Lace: van Dijk & van de Pol, Euro-Par 2014 workshops,
//     doi:10.1007/978-3-319-14313-2_18): jobs in [top, split) are shared and may be stolen;
//     jobs in [split, bottom) are private to the owner, which pushes and pops them with
//     plain loads and stores, no fence and no RMW. The owner keeps `keep_shared` jobs (the
//     oldest, i.e. the biggest in divide and conquer) published, and publishes more when a
//     thief asks (request flag). Only a pop that reaches the shared part pays the Chase-Lev
//     fence. With keep_shared = k_share_all every job is published at once: plain Chase-Lev;
//   * the owner's push and pop each make one test, of bottom against a limit the owner keeps
//     (settle()) and thieves lower when they raise a flag (raise()): room, nothing to publish,
//     the job private, no request; everything else is the slow path (push_slow, pop_slow).
#pragma once

#include "spindle/detail/config.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace spindle::detail {

struct Job;

enum class Steal { empty, abort, success };

// What Deque::push did. published_into_empty: it published jobs into a shared part that the
// owner saw empty; only then may a worker about to sleep have found nothing to steal, so only
// then does the caller need the wake-up check.
enum class Pushed : std::uint8_t { full, pushed, published_into_empty };

class SPINDLE_API Deque {
public:
    // keep_shared value meaning "publish every job as soon as it is pushed".
    static constexpr std::int64_t k_share_all = INT64_MAX;

    // capacity: a power of two >= 2. no_thieves: true when no other thread will ever call
    // steal() (then pop() never fences). keep_shared: how many jobs the owner keeps published
    // for thieves (see the header comment); k_share_all gives classic Chase-Lev behaviour.
    explicit Deque(std::size_t capacity = 1024,
                   bool no_thieves = false,
                   std::int64_t keep_shared = k_share_all)
        : m_push_limit(keep_shared > 0 ? k_push_slow : static_cast<std::int64_t>(capacity)),
          m_mask(static_cast<std::int64_t>(capacity) - 1),
          m_keep_shared(keep_shared),
          m_no_thieves(no_thieves),
          m_slots(new std::atomic<Job*>[capacity]) {
        for (std::size_t i = 0; i < capacity; ++i)
            m_slots[i].store(nullptr, std::memory_order_relaxed);
    }

    Deque(const Deque&) = delete;
    Deque& operator=(const Deque&) = delete;

    std::size_t capacity() const noexcept { return static_cast<std::size_t>(m_mask + 1); }
    // The slot buffer, for placing it on the owner's NUMA node (scheduler/placement.hpp).
    void* buffer() const noexcept { return m_slots.get(); }
    std::size_t buffer_bytes() const noexcept { return capacity() * sizeof(std::atomic<Job*>); }

    // Owner only. Returns Pushed::full (and changes nothing) when the deque is full.
    Pushed push(Job* job) noexcept {
        const std::int64_t b = m_bottom.load(std::memory_order_relaxed);
        // One test: below the limit the deque has room and nothing is to be published (see
        // settle()). relaxed: the owner's own stores it reads in program order; a k_slow from
        // raise() not seen yet only delays the answer to the next push or pop.
        if (b >= m_push_limit.load(std::memory_order_relaxed)) [[unlikely]]
            return push_slow(job);
        m_slots[b & m_mask].store(job, std::memory_order_relaxed);
        m_bottom.store(b + 1, std::memory_order_relaxed);  // owner-private; thieves only read hints
        return Pushed::pushed;
    }
    // As push(); returns false when full (leaving *published_into_empty alone), else sets
    // *published_into_empty (tests use this form).
    bool push(Job* job, bool* published_into_empty) noexcept {
        const Pushed p = push(job);
        if (p == Pushed::full)
            return false;
        *published_into_empty = p == Pushed::published_into_empty;
        return true;
    }

    // Owner only. Takes the most recently pushed job, or nullptr when empty.
    Job* pop() noexcept {
        bool ignored = false;
        return pop(&ignored);
    }
    // As pop(); *published_into_empty as for push() (pop answers thieves' requests too).
    Job* pop(bool* published_into_empty) noexcept {
        const std::int64_t b = m_bottom.load(std::memory_order_relaxed) - 1;
        // One test: at or above the limit the job is private (nobody else can touch
        // [split, bottom)) and no flag is raised (see settle()). relaxed: as in push().
        if (b >= m_pop_limit.load(std::memory_order_relaxed)) [[likely]] {
            m_bottom.store(b, std::memory_order_relaxed);
            return m_slots[b & m_mask].load(std::memory_order_relaxed);
        }
        const Popped p = pop_slow();
        *published_into_empty = p.published_into_empty;
        return p.job;
    }

    // Owner only: pop() when the newest job is `job` and private with no flag raised (join's
    // fast path; the same one test as pop()); false, changing nothing, in every other case.
    bool pop_if_newest(const Job* job) noexcept {
        const std::int64_t b = m_bottom.load(std::memory_order_relaxed) - 1;
        if (b < m_pop_limit.load(std::memory_order_relaxed) ||
            m_slots[b & m_mask].load(std::memory_order_relaxed) != job) [[unlikely]]
            return false;
        m_bottom.store(b, std::memory_order_relaxed);
        return true;
    }

    // Any thread. On success stores the oldest shared job in *out. Returns empty when the
    // shared part is empty (or looked empty, below); if the owner holds private jobs, asks it
    // to publish some.
    Steal steal(Job** out) noexcept {
#ifdef SPINDLE_TSAN
        std::int64_t t = m_top.load(std::memory_order_seq_cst);
#else
        // acquire on top: pairs with the CAS of an earlier thief (kept as in the paper, see
        // design-notes/0001).
        std::int64_t t = m_top.load(std::memory_order_acquire);
#endif
        // Nothing shared: give up before the fence, so that idle workers looking at empty
        // deques pay none. relaxed: a stale split only makes this thief miss a job, never take
        // one; no sleeper relies on steal() to see work (it probes with looks_empty() after its
        // SleepFence), and push_spill, the owner, reads a split it wrote itself.
        if (const std::int64_t s0 = m_split_shared.load(std::memory_order_relaxed); t >= s0) {
            request_if_private(s0);
            return Steal::empty;
        }
#ifdef SPINDLE_TSAN
        const std::int64_t s = m_split_shared.load(std::memory_order_seq_cst);
#else
        // StealFence (seq_cst): pairs with PopFence in pop_shared().
        std::atomic_thread_fence(std::memory_order_seq_cst);
        // acquire: pairs with the release store of split in publish_cold(); makes the slots
        // and the jobs' contents visible.
        const std::int64_t s = m_split_shared.load(std::memory_order_acquire);
#endif
        if (t >= s) {
            request_if_private(s);
            return Steal::empty;
        }
        Job* job = m_slots[t & m_mask].load(std::memory_order_relaxed);
        // seq_cst: pairs with the CAS in pop_shared() and in other thieves; only the winner
        // keeps job.
        if (!m_top.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                           std::memory_order_relaxed))
            return Steal::abort;
        // The shared part fell below keep_shared: the owner refills it at its next push.
        if (s - (t + 1) < m_keep_shared && m_keep_shared != k_share_all)
            raise(k_refill);
        *out = job;
        return Steal::success;
    }

    // Any thread: true when no job is published for thieves. Used by a worker about to sleep,
    // after its SleepFence (relaxed suffices there); under TSan there is no fence, so the
    // loads themselves are seq_cst. When the owner holds private jobs, this also asks it to
    // publish (the sleeper will be woken by that publication).
    bool looks_empty() noexcept {
#ifdef SPINDLE_TSAN
        constexpr auto order = std::memory_order_seq_cst;
#else
        constexpr auto order = std::memory_order_relaxed;
#endif
        const std::int64_t s = m_split_shared.load(order);
        if (m_top.load(order) < s)
            return false;
        request_if_private(s);
        return true;
    }
    // Any thread; a hint only: jobs held, shared and private.
    std::int64_t size_hint() const noexcept {
        const auto n =
            m_bottom.load(std::memory_order_relaxed) - m_top.load(std::memory_order_relaxed);
        return n < 0 ? 0 : n;
    }
    // Owner only: the index one past the newest job (positions only grow with pushes).
    std::int64_t owner_bottom() const noexcept {
        return m_bottom.load(std::memory_order_relaxed);
    }
    // Any thread, statistics: requests thieves raised on this deque / that its owner answered by
    // publishing (a request raised twice before the owner looked is answered once).
    std::uint64_t requests_raised() const noexcept {
        return m_requests_raised.load(std::memory_order_relaxed);
    }
    std::uint64_t requests_answered() const noexcept {
        return m_requests_answered.load(std::memory_order_relaxed);
    }
    // Owner only: publishes every private job (used before spilling to the injector).
    void publish_all() noexcept {
        const std::int64_t b = m_bottom.load(std::memory_order_relaxed);
        if (b > m_split)
            set_split(b);
        settle();
    }

private:
    void set_split(std::int64_t s) noexcept {
        m_split = s;
        // release: publishes the slots below s (pairs with the acquire load in steal()).
        m_split_shared.store(s, std::memory_order_release);
    }

    // m_flags bits: a thief found nothing shared while the owner held private jobs / the
    // shared part fell below keep_shared (a steal).
    static constexpr std::uint32_t k_request = 1;
    static constexpr std::uint32_t k_refill = 2;
    // Limits meaning "take the slow path": every index is at or above k_push_slow and below
    // k_pop_slow.
    static constexpr std::int64_t k_push_slow = INT64_MIN;
    static constexpr std::int64_t k_pop_slow = INT64_MAX;

    // Owner only, after every change of split, top (its own) or the flags, before its next
    // push or pop: the limits for the one test of push() and of pop().
    //   push: top + capacity (the deque is full at that index; top only grows, so a limit from
    //     an older top is lower, never higher, than the true one) when nothing is to be
    //     published, else k_push_slow (the shared part is below keep_shared, or a flag is up).
    //   pop: split (below it the jobs are shared; every publication, which raises split, is
    //     followed by a settle() before the next pop), else k_pop_slow (a request is up: pop
    //     answers requests too, see pop_slow()).
    void settle() noexcept {
        // acquire: pairs with the seq_cst CAS on top in steal(); a push below the limit reuses
        // a slot only after the thief that took its previous occupant has finished reading it.
        const std::int64_t t = m_top.load(std::memory_order_acquire);
        const bool refill = m_split - t < m_keep_shared;
        // seq_cst stores, then a seq_cst load of the flags: pairs with raise(), which sets a
        // flag and then stores the slow limits, all seq_cst. Either this load sees the flag, or
        // raise()'s stores come after ours in the total order and win; either way no raised
        // flag sits behind limits that let push() and pop() pass.
        m_push_limit.store(refill ? k_push_slow : t + m_mask + 1, std::memory_order_seq_cst);
        m_pop_limit.store(m_split, std::memory_order_seq_cst);
        const std::uint32_t flags = m_flags.load(std::memory_order_seq_cst);
        if (flags != 0)
            m_push_limit.store(k_push_slow, std::memory_order_seq_cst);
        if ((flags & k_request) != 0)
            m_pop_limit.store(k_pop_slow, std::memory_order_seq_cst);
    }

    // Any thread (a thief, a sleeper's probe, the owner in push_spill): raises a flag for the
    // owner's next push or pop. Written only when not yet set, so idle thieves do not bounce
    // the owner's cache lines.
    void raise(std::uint32_t flag) noexcept {
        if ((m_flags.load(std::memory_order_relaxed) & flag) != 0)
            return;
        // seq_cst, all: see settle().
        const std::uint32_t before = m_flags.fetch_or(flag, std::memory_order_seq_cst);
        m_push_limit.store(k_push_slow, std::memory_order_seq_cst);
        if (flag == k_request) {
            if ((before & k_request) == 0)
                m_requests_raised.fetch_add(1, std::memory_order_relaxed);
            m_pop_limit.store(k_pop_slow, std::memory_order_seq_cst);
        }
    }

    struct Popped {
        Job* job;
        bool published_into_empty;
    };

    // The pop that met the limit: the private part is empty, or a flag is raised.
    [[gnu::noinline]] Popped pop_slow() noexcept {
        const std::int64_t b = m_bottom.load(std::memory_order_relaxed) - 1;
        if (b >= m_split) {  // private
            m_bottom.store(b, std::memory_order_relaxed);
            // A thief asked for work: answer here too, not only in push(), or the tail of a
            // loop of spawns (pushes done, pops left) would run on this worker alone.
            const bool published = m_flags.load(std::memory_order_relaxed) != 0 &&
                                   publish_cold(b, m_top.load(std::memory_order_relaxed), m_split);
            settle();
            return {m_slots[b & m_mask].load(std::memory_order_relaxed), published};
        }
        if (m_no_thieves)
            return {pop_unshared(), false};
        // Nothing shared either: give up without the PopFence. relaxed suffices: top only grows,
        // so a stale value that already reaches split proves the shared part empty (an idle or
        // just woken worker looks at its empty deque first, design-notes/0001 §3).
        if (m_top.load(std::memory_order_relaxed) >= m_split)
            return {nullptr, false};
        return {pop_shared(), false};
    }

    // The push that met the limit: full, or something to publish.
    [[gnu::noinline]] Pushed push_slow(Job* job) noexcept {
        const std::int64_t b = m_bottom.load(std::memory_order_relaxed);
        // acquire: as in settle().
        const std::int64_t t = m_top.load(std::memory_order_acquire);
        if (b - t > m_mask) {
            settle();
            return Pushed::full;
        }
        m_slots[b & m_mask].store(job, std::memory_order_relaxed);
        m_bottom.store(b + 1, std::memory_order_relaxed);
        const bool into_empty = publish_cold(b + 1, t, m_split);
        settle();
        return into_empty ? Pushed::published_into_empty : Pushed::pushed;
    }

    // Returns true when it published into a shared part that was empty. Clears the flags; the
    // caller settles the limits afterwards.
    bool publish_cold(std::int64_t b, std::int64_t t, std::int64_t s) noexcept {
        // Publish up to keep_shared jobs, or half of the private ones on request, oldest first.
        std::int64_t want = m_keep_shared == k_share_all ? b - s : m_keep_shared - (s - t);
        // The exchange clears what it reads: a flag raised after it stays up for the next slow
        // path. seq_cst: see settle(); also the sleeper's request (design-notes/0001, "A
        // request"), cleared before the caller's WakeFence.
        const std::uint32_t flags = m_flags.load(std::memory_order_relaxed) != 0
                                        ? m_flags.exchange(0, std::memory_order_seq_cst)
                                        : 0;
        if ((flags & k_request) != 0) {
            m_requests_answered.store(m_requests_answered.load(std::memory_order_relaxed) + 1,
                                      std::memory_order_relaxed);
            const std::int64_t half = (b - s + 1) / 2;
            if (want < half)
                want = half;
        }
        const std::int64_t new_split = (s + want < b) ? s + want : b;
        if (want <= 0 || new_split <= s)
            return false;  // nothing private to publish
        set_split(new_split);
        return s == t;
    }

    void request_if_private(std::int64_t s) noexcept {
        // A hint: the owner reads it at its next push or pop.
        if (m_bottom.load(std::memory_order_relaxed) > s)
            raise(k_request);
    }

    // No thief exists, but jobs were published (k_share_all, or publish_all() before a spill in
    // a pool of one): no race, no fence.
    Job* pop_unshared() noexcept {
        const std::int64_t s = m_split - 1;
        if (m_top.load(std::memory_order_relaxed) > s)
            return nullptr;
        m_split = s;
        m_split_shared.store(s, std::memory_order_relaxed);
        m_bottom.store(s, std::memory_order_relaxed);
        settle();
        return m_slots[s & m_mask].load(std::memory_order_relaxed);
    }

    [[gnu::noinline]] Job* pop_shared() noexcept {
        // The private part is empty: take the newest shared job, racing thieves as in
        // Chase-Lev, with split playing the role of bottom.
        const std::int64_t s = m_split - 1;
        m_split = s;
        // PopFence, folded into a seq_cst exchange and a seq_cst load (one `xchg` on x86):
        // the new split and the load of top below must not be reordered (Dekker-style); pairs
        // with StealFence in steal(). Either the thief sees the smaller split or we see its
        // incremented top.
        m_split_shared.exchange(s, std::memory_order_seq_cst);
        std::int64_t t = m_top.load(std::memory_order_seq_cst);
        if (t > s) {  // empty: restore
            set_split(s + 1);
            return nullptr;
        }
        Job* job = m_slots[s & m_mask].load(std::memory_order_relaxed);
        if (t == s) {  // last job: race thieves for it through top
            // seq_cst: pairs with the CAS in steal(); exactly one of them wins index t.
            if (!m_top.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                               std::memory_order_relaxed))
                job = nullptr;
            set_split(s + 1);
            m_bottom.store(s + 1, std::memory_order_relaxed);
        } else {
            m_bottom.store(s, std::memory_order_relaxed);
        }
        settle();  // the shared part shrank: refill it at the next push
        return job;
    }

    // m_top: written by thieves (CAS in steal) and by the owner (CAS in pop_shared on the last
    // job); read by both. m_split_shared: the end of the shared part; written only by the owner
    // (release store when publishing, seq_cst exchange in pop_shared), read by thieves.
    // m_bottom: written only by the owner (relaxed: the private part needs no ordering); read
    // by thieves as a hint of private work. m_split: the owner's plain copy of the split.
    // m_flags (k_request, k_refill): raised by thieves (and sleepers' probes) with a seq_cst
    // fetch_or in raise(), read by the owner in its slow paths and cleared by it in
    // publish_cold (seq_cst exchange). m_push_limit / m_pop_limit: the one test of push() /
    // pop(), on the owner's line; written by the owner (settle(), seq_cst) and by raise() (the
    // slow values, seq_cst), read by the owner's push / pop (relaxed); settle() says why no
    // raised flag is missed. Separate cache lines so that thieves polling top and split do not
    // slow the owner's pushes.
    // Statistics, relaxed, order nothing: m_requests_raised is incremented (RMW) by the thief
    // that raises k_request, m_requests_answered only by the owner when it clears it; read by
    // ThreadPool::stats().
    alignas(64) std::atomic<std::int64_t> m_top{0};
    alignas(64) std::atomic<std::int64_t> m_split_shared{0};
    std::atomic<std::uint32_t> m_flags{0};
    std::atomic<std::uint64_t> m_requests_raised{0};
    std::atomic<std::uint64_t> m_requests_answered{0};
    alignas(64) std::atomic<std::int64_t> m_bottom{0};
    std::atomic<std::int64_t> m_push_limit;
    std::atomic<std::int64_t> m_pop_limit{0};
    std::int64_t m_split = 0;
    const std::int64_t m_mask;
    const std::int64_t m_keep_shared;
    const bool m_no_thieves;
    const std::unique_ptr<std::atomic<Job*>[]> m_slots;
};

}  // namespace spindle::detail
