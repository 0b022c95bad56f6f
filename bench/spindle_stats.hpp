// The JSON "stats" object of a spindle row of bench_compare: the pool's per-worker
// counters (spindle::ThreadPool::stats) over the timed reps, i.e. a snapshot taken after the
// last timed rep minus one taken before the first (warm-up excluded). Totals of every counter,
// the pool-wide counts, and jobs run / steals / search time per regular worker (spares are in the
// totals only).
#pragma once

#include "capacity.hpp"

#include <spindle/pool.hpp>

#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace bench {

inline std::string stats_json(const spindle::PoolStats& before, const spindle::PoolStats& after) {
    auto d = [](std::uint64_t a, std::uint64_t b) { return a >= b ? a - b : 0; };
    const spindle::WorkerStats t1 = after.total(), t0 = before.total();
    char buf[768];
    std::snprintf(
        buf, sizeof buf,
        ",\"stats\":{\"jobs_created\":%" PRIu64 ",\"jobs_run\":%" PRIu64
        ",\"jobs_injected\":%" PRIu64 ",\"steals_tried\":%" PRIu64 ",\"steals_succeeded\":%" PRIu64
        ",\"steal_requests_raised\":%" PRIu64 ",\"steal_requests_answered\":%" PRIu64
        ",\"parks\":%" PRIu64 ",\"resumes\":%" PRIu64 ",\"sleeps\":%" PRIu64 ",\"wakeups\":%" PRIu64
        ",\"fibers_created\":%" PRIu64 ",\"search_ns\":%" PRIu64 ",\"spare_starts\":%" PRIu64,
        d(t1.jobs_created, t0.jobs_created), d(t1.jobs_run, t0.jobs_run),
        d(after.jobs_injected, before.jobs_injected), d(t1.steals_tried, t0.steals_tried),
        d(t1.steals_succeeded, t0.steals_succeeded),
        d(t1.steal_requests_raised, t0.steal_requests_raised),
        d(t1.steal_requests_answered, t0.steal_requests_answered), d(t1.parks, t0.parks),
        d(t1.resumes, t0.resumes), d(t1.sleeps, t0.sleeps), d(t1.wakeups, t0.wakeups),
        d(t1.fibers_created, t0.fibers_created), d(t1.search_ns, t0.search_ns),
        d(after.spare_starts, before.spare_starts));
    std::string out = buf;
    // Steals by the victim's level (design-notes/0010): "steals_ok_remote", "steals_tried_node".
    for (std::size_t k = 0; k < spindle::k_steal_levels; ++k) {
        const char* level = spindle::to_string(static_cast<spindle::StealLevel>(k));
        std::snprintf(buf, sizeof buf, ",\"steals_ok_%s\":%" PRIu64 ",\"steals_tried_%s\":%" PRIu64,
                      level, d(t1.steals_succeeded_at[k], t0.steals_succeeded_at[k]), level,
                      d(t1.steals_tried_at[k], t0.steals_tried_at[k]));
        out += buf;
    }
    // Per regular worker, in index order: a worker's counters before the timed reps are found by
    // its index (the slots do not move).
    auto per_worker = [&](const char* key, std::uint64_t spindle::WorkerStats::*field) {
        out += ",\"";
        out += key;
        out += "\":[";
        bool first = true;
        for (const spindle::WorkerStats& w : after.workers) {
            if (w.spare)
                continue;
            std::uint64_t prev = 0;
            for (const spindle::WorkerStats& b : before.workers)
                if (b.index == w.index)
                    prev = b.*field;
            std::snprintf(buf, sizeof buf, "%s%" PRIu64, first ? "" : ",", d(w.*field, prev));
            out += buf;
            first = false;
        }
        out += "]";
    };
    per_worker("jobs_run_per_worker", &spindle::WorkerStats::jobs_run);
    per_worker("steals_succeeded_per_worker", &spindle::WorkerStats::steals_succeeded);
    per_worker("search_ns_per_worker", &spindle::WorkerStats::search_ns);
    out += "}";
    return out;
}

// Hooks for measure(): a snapshot after the warm-up into `before`, and the "stats" object of
// the timed reps. `pool` and `before` must outlive the run.
inline Hooks stats_hooks(const spindle::ThreadPool& pool, spindle::PoolStats& before) {
    Hooks h;
    h.before_timed = [&pool, &before] { before = pool.stats(); };
    h.extra_json = [&pool, &before] { return stats_json(before, pool.stats()); };
    return h;
}

}  // namespace bench
