// The sleep protocol: how an idle worker goes to sleep on a futex, and how whoever publishes
// work wakes it, without a wake-up ever being lost (design-notes/0001 §4, "Why no wake-up is
// lost"; rayon-core's src/sleep/README.md and the "Worker thread parking/unparking" comment of
// Go's runtime/proc.go are the models). Everything of it is in sleep.cpp, except the publishers'
// fast half, notify_published (include/spindle/detail/runtime.hpp), which is inline in the join
// fast path and says so.
//
// Vocabulary.
//   sleeper      an idle worker that has looked for work for the idle budget (below) and found
//                none: it announces itself, looks once more, and waits on its sleep word.
//   publisher    any thread that makes work visible to sleepers: a job in a shared part of a
//                deque, in the injector, in a broadcast queue, a fiber made ready from another
//                thread, or the pool's end (`terminating`).
//   m_sleepers   Registry: the workers between their announcement and their wake-up (below).
//   m_sleep_word Worker: 1 while that worker sleeps or is about to, else 0.
//   SleepFence / WakeFence  the two seq_cst fences (or RMWs) that pair up, one per side.
//
// The sleeper's side (Worker::sleep_cold):
//   S1. m_sleepers += 1 (seq_cst RMW): publishers that check the count now see a sleeper.
//   S2. m_sleep_word = 1 (seq_cst): wakers that scan the workers now see this one.
//   S3. SleepFence (seq_cst), then the last look (has_work_for_sleeper): the ready fibers, the
//       broadcast count, the injector's count, `terminating`, every deque's shared part (a
//       deque with only private jobs gets a steal request: its owner's answer is a publication
//       into an empty shared part, P1 below).
//   S4. Work found: cancel. Exchange m_sleep_word 1 -> 0; if the exchange read 1, undo S1.
//   S5. Nothing: commit (active_down, give the job token back) and futex-wait while the word
//       is 1.
//
// The publisher's side, one of (design-notes/0001, invariant 7):
//   P1. A push or pop that publishes into an empty shared part (Deque::publish_cold):
//       publish, WakeFence (seq_cst), load m_sleepers (relaxed): not 0 -> wake_one_sleeper,
//       which wakes a sleeper of the publisher's NUMA node first (Registry::wake_one_near).
//       (notify_published, inline in runtime.hpp; under TSan the fence and load are one
//       seq_cst fetch_add(0).)
//   P2. inject / inject_bulk (registry.cpp): enqueue, m_injected += n (seq_cst RMW), wake_one.
//   P3. make_ready from another thread (worker.cpp): push on m_remote_ready (seq_cst CAS),
//       then wake() that worker. push_broadcast: the count (seq_cst RMW), then wake().
//   P4. shutdown: `terminating` (seq_cst store), then wake_all.
// Waking (Worker::wake, Registry::wake_one): load the word (seq_cst); if 1, active_up, then
// exchange it 1 -> 0 (seq_cst); the exchange that reads 1 decrements m_sleepers and notifies
// the futex. Chaining: a thief that stole and left jobs behind, or a worker that took an
// injected job with more queued, wakes the next sleeper (steal_from_others, take_injected).
//
// Why no wake-up is lost. Every operation named above is seq_cst, so all of them sit in one
// total order S. Take a publisher P and a sleeper W.
//   - P's fence (or RMW) comes before W's S1-S3 in S: W's last look after its SleepFence reads
//     P's publication or a later one, so W finds the work and cancels (S4).
//   - W's S1 comes before P's fence in S: P's load of m_sleepers reads W's increment or a later
//     value, so P wakes someone. "A later value" is enough: a later decrement belongs to a
//     worker whose word already went 1 -> 0, an awake worker (invariant 6).
//   - wake_one reads W's word as 0 because W is between S1 and S2: that load precedes W's S2 in
//     S, so P's publication does too, and W's last look (S3) finds it.
//   - A waker and W's own cancel race for the word: one exchange reads 1, so m_sleepers is
//     decremented exactly once per S1.
// The proof with the steal request's case is in design-notes/0001 ("Proof").
//
// Rejected (design-notes/0001 "Rejected alternatives"): touching sleep state on every push
// (rayon's jobs event counter: a shared cache line per push), sleepers decrementing their own
// count (it overstates the sleepers while wakers' exchanges are in flight), one mutex and
// condition variable per pool (every sleep and wake serialised).
//
// The idle budget: before S1, an idle worker keeps looking for Tuning::idle_ns (a time, not a
// round count: design-notes/0001 "Tuning"), `pause` for the first k_pause_rounds rounds and
// sched_yield after; see keep_looking() below.
#pragma once

#include "scheduler/registry.hpp"

#include <sched.h>

#include <chrono>
#include <cstdint>

namespace spindle::detail {

// Rounds of searching for work with a pause in between, before the rounds with sched_yield.
constexpr unsigned k_pause_rounds = 16;

inline std::uint64_t now_ns() noexcept {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// The idle budget. Round `round` (1 for the first) of a search for work that began at
// `search_start` (now_ns): true, after a pause or a sched_yield, while the budget lasts; false
// when the worker should go to sleep (Worker::sleep_cold). A round count took 30 us on a quiet
// machine and milliseconds on a loaded one, where each sched_yield gives the CPU away.
inline bool keep_looking(const Tuning& tuning,
                         unsigned round,
                         std::uint64_t search_start) noexcept {
    if (tuning.idle_rounds != 0 ? round >= tuning.idle_rounds
                                : now_ns() - search_start >= tuning.idle_ns)
        return false;
    if (round < k_pause_rounds)
        cpu_relax();
    else
        sched_yield();
    return true;
}

}  // namespace spindle::detail
