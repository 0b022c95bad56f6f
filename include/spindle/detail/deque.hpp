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
//   * a deque with no possible thief (a pool of one worker) pops without any fence.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "spindle/detail/config.hpp"

namespace spindle::detail {

struct Job;

enum class Steal { empty, abort, success };

class Deque {
  public:
    // capacity: a power of two >= 2. single_owner: true when no other thread will ever call
    // steal() (then pop() skips its fence). The owner may still call steal() itself.
    explicit Deque(std::size_t capacity = 1024, bool no_thieves = false)
        : m_mask(static_cast<std::int64_t>(capacity) - 1),
          m_no_thieves(no_thieves),
          m_slots(new std::atomic<Job*>[capacity]) {
        for (std::size_t i = 0; i < capacity; ++i) m_slots[i].store(nullptr, std::memory_order_relaxed);
    }

    Deque(const Deque&) = delete;
    Deque& operator=(const Deque&) = delete;

    std::size_t capacity() const noexcept { return static_cast<std::size_t>(m_mask + 1); }

    // Owner only. Returns false (and changes nothing) when the deque is full. *was_empty is
    // set when the owner saw no other job in the deque: only then may a sleeping worker have
    // missed work, so only then does the caller need the wake-up check.
    bool push(Job* job, bool* was_empty) noexcept {
        const std::int64_t b = m_bottom.load(std::memory_order_relaxed);
        // acquire: pairs with the seq_cst CAS on top in steal(); a slot is reused only after
        // the thief that took its previous occupant has finished reading it.
        const std::int64_t t = m_top.load(std::memory_order_acquire);
        if (b - t > m_mask) return false;
        *was_empty = (b == t);
        m_slots[b & m_mask].store(job, std::memory_order_relaxed);
#ifdef SPINDLE_TSAN
        m_bottom.store(b + 1, std::memory_order_release);
#else
        // PushFence (release): publishes the slot and the job's contents before the new
        // bottom; pairs with the acquire load of bottom in steal().
        std::atomic_thread_fence(std::memory_order_release);
        m_bottom.store(b + 1, std::memory_order_relaxed);
#endif
        return true;
    }

    // Owner only. Takes the most recently pushed job, or nullptr when empty.
    Job* pop() noexcept {
        if (m_no_thieves) return pop_unshared();
        const std::int64_t b = m_bottom.load(std::memory_order_relaxed) - 1;
        // PopFence, folded into a seq_cst exchange and a seq_cst load (one `xchg` on x86,
        // cheaper than `mov` + `mfence`): the new bottom and the load of top below must not be
        // reordered (Dekker-style); pairs with StealFence in steal(). Either the thief sees the
        // smaller bottom or we see its incremented top.
        m_bottom.exchange(b, std::memory_order_seq_cst);
        std::int64_t t = m_top.load(std::memory_order_seq_cst);
        if (t > b) {  // empty: restore
            m_bottom.store(b + 1, std::memory_order_relaxed);
            return nullptr;
        }
        Job* job = m_slots[b & m_mask].load(std::memory_order_relaxed);
        if (t == b) {  // last job: race thieves for it through top
            // seq_cst: pairs with the CAS in steal(); exactly one of them wins index t.
            if (!m_top.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                               std::memory_order_relaxed))
                job = nullptr;
            m_bottom.store(b + 1, std::memory_order_relaxed);
        }
        return job;
    }

    // Any thread. On success stores the oldest job in *out.
    Steal steal(Job** out) noexcept {
#ifdef SPINDLE_TSAN
        std::int64_t t = m_top.load(std::memory_order_seq_cst);
        const std::int64_t b = m_bottom.load(std::memory_order_seq_cst);
#else
        // acquire on top: pairs with the CAS of an earlier thief (kept as in the paper, see
        // design-notes/0001). StealFence (seq_cst): pairs with PopFence.
        std::int64_t t = m_top.load(std::memory_order_acquire);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        // acquire: pairs with PushFence; makes the slot and the job's contents visible.
        const std::int64_t b = m_bottom.load(std::memory_order_acquire);
#endif
        if (t >= b) return Steal::empty;
        Job* job = m_slots[t & m_mask].load(std::memory_order_relaxed);
        // seq_cst: pairs with the CAS in pop() and in other thieves; only the winner keeps job.
        if (!m_top.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                           std::memory_order_relaxed))
            return Steal::abort;
        *out = job;
        return Steal::success;
    }

    // Any thread; a hint only (may be stale by the time it returns).
    // Used by a worker about to sleep, after its SleepFence (relaxed suffices there); under
    // TSan there is no fence, so the loads themselves are seq_cst.
    bool looks_empty() const noexcept {
#ifdef SPINDLE_TSAN
        constexpr auto order = std::memory_order_seq_cst;
#else
        constexpr auto order = std::memory_order_relaxed;
#endif
        return m_top.load(order) >= m_bottom.load(order);
    }
    std::int64_t size_hint() const noexcept {
        const auto n = m_bottom.load(std::memory_order_relaxed) - m_top.load(std::memory_order_relaxed);
        return n < 0 ? 0 : n;
    }

  private:
    Job* pop_unshared() noexcept {
        const std::int64_t b = m_bottom.load(std::memory_order_relaxed) - 1;
        const std::int64_t t = m_top.load(std::memory_order_relaxed);
        if (t > b) return nullptr;
        m_bottom.store(b, std::memory_order_relaxed);
        return m_slots[b & m_mask].load(std::memory_order_relaxed);
    }

    // m_top: written by thieves (CAS in steal) and by the owner (CAS in pop on the last job);
    // read by both. m_bottom: written only by the owner; read by thieves. Separate cache lines
    // so that thieves polling top do not slow the owner's pushes.
    alignas(64) std::atomic<std::int64_t> m_top{0};
    alignas(64) std::atomic<std::int64_t> m_bottom{0};
    alignas(64) const std::int64_t m_mask;
    const bool m_no_thieves;
    const std::unique_ptr<std::atomic<Job*>[]> m_slots;
};

}  // namespace spindle::detail
