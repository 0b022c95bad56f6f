// QueryMap: single-flight memoisation with cycle detection — "how to handle multiple threads
// competing for a single query" (design-notes/0004-competing-for-a-query.md).
//
//   spindle::QueryMap<std::string, Type> types("type_of");
//   const Type& t = types.get_or_compute(name, [&] { return infer(name); });
//
// get_or_compute(key, f) runs f() exactly once per key. The first caller computes (inline, on
// its own task); every concurrent caller for the same key waits — a fiber on a pool worker
// parks, any other thread blocks — and receives the same value, or the same exception, as do
// all later callers. Values never move: the returned reference is valid for the map's life.
//
// Cycles. A computation that (directly, or through other queries, parallel subtasks started
// with join/scope inside it, or other QueryMap instances) waits for a query that its own chain
// of computations is computing would wait forever. Such a wait fails at once with
// QueryCycleError, whose keys() are the cycle in dependency order: keys()[0] is the query that
// was waited for, each key's computation waits for the next one's, and the last one is the
// waiter's innermost query (whose computation waits for keys()[0]). The computation that gets
// the error may catch it and go on (as rustc does: report and use an error value); if the
// error escapes f, that query completes with it and its waiters receive it.
//
// What a "chain" is: a computation runs with its query bound in spindle's propagated context
// (spindle/context.hpp), so every job created inside it — join's second closure, scope
// spawns, and also detached spawns — belongs to it. Start work that the computation does not
// wait for under without_query_chain(f); otherwise a wait inside that work counts as a wait
// of the computation and may be reported as a cycle that is not one.
#pragma once

#include "spindle/context.hpp"
#include "spindle/detail/config.hpp"
#include "spindle/detail/trace.hpp"
#include "spindle/detail/wait.hpp"
#include "spindle/stack.hpp"

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

namespace spindle {

/// A wait that would close a cycle of queries. Thrown by QueryMap::get_or_compute.
class SPINDLE_API QueryCycleError : public std::runtime_error {
public:
    /// keys: the cycle in dependency order (see the header comment); not empty.
    explicit QueryCycleError(std::vector<std::string> keys)
        : std::runtime_error(format(keys)),
          m_keys(std::make_shared<const std::vector<std::string>>(std::move(keys))) {}

    /// keys()[0] is the query that was waited for; the computation of keys()[i] waits for
    /// keys()[i + 1]; the last one (the waiter's innermost query) waits for keys()[0].
    const std::vector<std::string>& keys() const noexcept { return *m_keys; }

private:
    static std::string format(const std::vector<std::string>& keys) {
        std::string s = "spindle: query cycle: ";
        for (const std::string& k : keys)
            s += k + " -> ";
        s += keys.empty() ? std::string("?") : keys.front();
        return s;
    }
    /// Shared so that copying the exception (rethrow to several waiters) cannot throw.
    std::shared_ptr<const std::vector<std::string>> m_keys;
};

namespace detail {

struct QueryEntryBase;

/// One in-flight computation: the value bound to k_query_chain while f runs. It lives in the
/// context frame that with_context allocates, which every job created inside the computation
/// keeps alive, and each frame keeps its parent alive — so `parent` is valid as long as this is.
struct QueryJob {
    QueryJob(const QueryJob* p, const QueryEntryBase* e) noexcept
        : parent(p), entry(e), depth(p != nullptr ? p->depth + 1 : 0), jump(jump_for(p)) {}
    /// with_context moves its value into the frame; nobody else can see it before that.
    QueryJob(QueryJob&& o) noexcept
        : parent(o.parent),
          entry(o.entry),
          depth(o.depth),
          jump(o.jump),
          finished(o.finished.load(std::memory_order_relaxed)) {}
    QueryJob(const QueryJob&) = delete;
    QueryJob& operator=(const QueryJob&) = delete;
    QueryJob& operator=(QueryJob&&) = delete;

    /// The innermost query of the context that started this computation (the one that waits
    /// for this one to finish), or nullptr for a top-level call.
    const QueryJob* parent;
    /// The entry being computed; nullptr marks "no chain" (without_query_chain).
    const QueryEntryBase* entry;
    /// Ancestors: depth (0 for a top-level query) and a skew-binary jump pointer (Myers 1983),
    /// so that the ancestor at any depth is found in O(log depth) steps (ancestor_at): a cycle
    /// search in a chain of queries 200,000 deep does not walk the chain.
    const std::uint32_t depth;
    const QueryJob* const jump;
    /// Set when f has returned or thrown, before the entry is published. Written by the
    /// computing task (release store); read by cycle searches (acquire load, under the graph
    /// mutex), which stop at finished jobs: a finished computation waits for nothing. Pairs
    /// only with itself: everything else the search reads is guarded by the graph mutex.
    mutable std::atomic<bool> finished{false};
    /// The cycle search that last reached this job (find_query_cycle's epoch), so that a
    /// search visits each job once without a hash set: a chain of queries 200,000 deep is
    /// walked in well under a millisecond. Guarded by query_graph_mutex().
    mutable std::uint64_t search_epoch = 0;

    static const QueryJob* jump_for(const QueryJob* p) noexcept {
        if (p == nullptr)
            return nullptr;
        const QueryJob* j = p->jump;
        if (j != nullptr && j->jump != nullptr && p->depth - j->depth == j->depth - j->jump->depth)
            return j->jump;
        return p;
    }
};

/// x's ancestor (or x itself) at depth d <= x->depth.
inline const QueryJob* ancestor_at(const QueryJob* x, std::uint32_t d) noexcept {
    while (x->depth > d)
        x = (x->jump != nullptr && x->jump->depth >= d) ? x->jump : x->parent;
    return x;
}

/// The part of a QueryMap entry that the cycle search and the wait callbacks need.
struct QueryEntryBase {
    enum class State : std::uint8_t { computing, done, failed };

    /// The shard lock guarding this entry's state, waiters and waiting_jobs.
    SpinLock* lock = nullptr;
    /// The map's label or nullptr (for WaitSite and error messages).
    const char* label = nullptr;
    /// The key as text (for QueryCycleError and deadlock reports).
    std::string (*key_string)(const QueryEntryBase&) = nullptr;
    /// Guarded by *lock.
    State state = State::computing;
    WaitList waiters;
    /// The innermost query of each queued waiter that has one: the waits-for edges
    /// (job -> this entry) of the query graph. Written with *lock and the graph mutex both held
    /// (lock first); read by cycle searches with the graph mutex held.
    std::vector<const QueryJob*> waiting_jobs;
    /// The depth of this entry's computation (its QueryJob) once it has begun, else
    /// k_not_begun. A depth, not a pointer: the computation's job is freed when it finishes,
    /// while a search can find it, alive, as the ancestor at this depth of a job that waits
    /// for it. Written once by the computing task (release); read by cycle searches (acquire).
    static constexpr std::uint32_t k_not_begun = UINT32_MAX;
    std::atomic<std::uint32_t> computing_depth{k_not_begun};
    /// This entry's index in query_branches() while waiting_jobs is not empty. Guarded by the
    /// graph mutex.
    std::size_t branch_index = 0;
};

/// Guards every entry's waiting_jobs, across all QueryMaps (a cycle may run through several).
/// Taken only on slow paths: a wait on a query still being computed, the completion of a query
/// that had waiters, and cancelling a wait. Lock order: a shard lock, then this.
inline std::mutex& query_graph_mutex() {
    static std::mutex m;
    return m;
}

/// The entries whose waiting_jobs is not empty, across all maps: the only places where a
/// waits-for path can leave a chain of ancestors. Guarded by query_graph_mutex().
inline std::vector<QueryEntryBase*>& query_branches() {
    static std::vector<QueryEntryBase*> b;
    return b;
}
/// Adds the waits-for edge job -> e (caller holds e's lock and the graph mutex).
inline void add_wait_edge(QueryEntryBase& e, const QueryJob* job) {
    std::vector<QueryEntryBase*>& b = query_branches();
    if (e.waiting_jobs.empty()) {
        b.push_back(&e);  // may throw: then nothing changed
        e.branch_index = b.size() - 1;
        try {
            e.waiting_jobs.push_back(job);
        } catch (...) {
            b.pop_back();
            throw;
        }
        return;
    }
    e.waiting_jobs.push_back(job);
}
/// Called after e.waiting_jobs lost elements (caller holds the graph mutex).
inline void edges_removed(QueryEntryBase& e) noexcept {
    if (!e.waiting_jobs.empty())
        return;
    std::vector<QueryEntryBase*>& b = query_branches();
    const std::size_t i = e.branch_index;
    if (i < b.size() && b[i] == &e) {
        b[i] = b.back();
        b[i]->branch_index = i;
        b.pop_back();
    }
}

/// The propagated "innermost query" of the running task.
inline constinit const ContextKey<QueryJob> k_query_chain{};

inline const QueryJob* current_query_job() noexcept {
    const QueryJob* j = k_query_chain.get();
    return (j != nullptr && j->entry != nullptr) ? j : nullptr;
}

/// Is there a path of waits-for edges from the computation of `target` to `start`? Edges: a job
/// waits for each of its child computations (child.parent == job) and for every entry that one
/// of its tasks is queued on (job is in entry.waiting_jobs). Searches backwards from start
/// (breadth first over parents and the jobs waiting on each job's entry) and returns the keys
/// of the path found, target first, start last; empty if there is none. Caller holds
/// query_graph_mutex().
inline std::vector<std::string> find_query_cycle_exact(const QueryJob* start,
                                                       const QueryEntryBase* target) {
    constexpr std::size_t k_none = static_cast<std::size_t>(-1);
    struct Seen {
        const QueryJob* job;
        std::size_t pred;  // index (in seen) of the job this one waits for
    };
    /// Both guarded by the graph mutex, which the caller holds: one search at a time. The
    /// vector keeps its capacity from search to search.
    static std::uint64_t epoch = 0;
    static std::vector<Seen> seen;
    ++epoch;
    seen.clear();
    seen.push_back({start, k_none});
    start->search_epoch = epoch;
    for (std::size_t i = 0; i < seen.size(); ++i) {
        const QueryJob* j = seen[i].job;
        // acquire: pairs with the computing task's release store of finished.
        if (j->finished.load(std::memory_order_acquire))
            continue;
        if (j->entry == target) {
            std::vector<std::string> keys;
            for (std::size_t k = i; k != k_none; k = seen[k].pred) {
                const QueryEntryBase& e = *seen[k].job->entry;
                std::string s = e.key_string(e);
                keys.push_back(e.label != nullptr ? std::string(e.label) + "(" + s + ")" : s);
            }
            return keys;
        }
        auto visit = [&](const QueryJob* n) {
            if (n != nullptr && n->entry != nullptr && n->search_epoch != epoch) {
                n->search_epoch = epoch;
                seen.push_back({n, i});
            }
        };
        visit(j->parent);
        for (const QueryJob* w : j->entry->waiting_jobs)
            visit(w);
    }
    return {};
}

inline std::string query_key_text(const QueryJob* j) {
    const QueryEntryBase& e = *j->entry;
    std::string s = e.key_string(e);
    return e.label != nullptr ? std::string(e.label) + "(" + s + ")" : s;
}

/// find_query_cycle_exact's answer without walking chains of ancestors: a path from target's
/// computation to start consists of ancestor chains (a job waits for its children) joined by
/// waits-for edges, and such an edge can only leave a chain at an entry in query_branches().
/// So: from each chain head h (start, then every job waiting on a branch reached), test with
/// ancestor_at whether target's computation is above h (found) and which branch computations
/// are above h (their waiting jobs become heads). That ignores the finished flags: a path found
/// is checked job by job, and if a finished job (which waits for nothing) lies on it, the exact
/// search decides. Cost: O((heads + heads x branches) log depth), so chains shallower than a few
/// times the number of branches take the exact search. Caller holds the graph mutex.
inline std::vector<std::string> find_query_cycle(const QueryJob* start,
                                                 const QueryEntryBase* target) {
    const std::uint32_t td = target->computing_depth.load(std::memory_order_acquire);
    /// Not begun yet: it waits for nothing yet (its own later waits will find this edge).
    if (td == QueryEntryBase::k_not_begun)
        return {};
    /// A shallow chain is cheaper to walk than the branches are to scan.
    const std::vector<QueryEntryBase*>& branches = query_branches();
    if (start->depth <= 4 * branches.size() + 256)
        return find_query_cycle_exact(start, target);
    constexpr std::size_t k_none = static_cast<std::size_t>(-1);
    struct Head {
        const QueryJob* job;
        std::size_t pred;     // the head whose chain holds `via`
        const QueryJob* via;  // job waits on via's entry
    };
    static std::uint64_t epoch = 0;  ///< guarded by the graph mutex, as is search_epoch
    ++epoch;
    std::vector<Head> heads{{start, k_none, nullptr}};
    start->search_epoch = epoch;
    std::vector<char> used(branches.size(), 0);
    for (std::size_t i = 0; i < heads.size(); ++i) {
        const QueryJob* h = heads[i].job;
        // Every job above a live job is alive (each context frame keeps its parent), so
        // ancestor_at only ever reads live jobs.
        const QueryJob* t = h->depth >= td ? ancestor_at(h, td) : nullptr;
        if (t != nullptr && t->entry == target) {
            // Rebuild the path, target first: each segment runs from the job where it was
            // entered (t, or a branch's computation) down to the head below it.
            std::vector<const QueryJob*> path;
            const QueryJob* top = t;
            for (std::size_t k = i; k != k_none; top = heads[k].via, k = heads[k].pred) {
                std::vector<const QueryJob*> seg;
                for (const QueryJob* x = heads[k].job; x != top; x = x->parent)
                    seg.push_back(x);
                seg.push_back(top);
                path.insert(path.end(), seg.rbegin(), seg.rend());
            }
            for (const QueryJob* x : path)
                // acquire: pairs with the computing task's release store of finished.
                if (x->finished.load(std::memory_order_acquire))
                    return find_query_cycle_exact(start, target);
            std::vector<std::string> keys;
            keys.reserve(path.size());
            for (const QueryJob* x : path)
                keys.push_back(query_key_text(x));
            return keys;
        }
        for (std::size_t b = 0; b < branches.size(); ++b) {
            if (used[b] != 0)
                continue;
            const std::uint32_t bd = branches[b]->computing_depth.load(std::memory_order_acquire);
            if (bd == QueryEntryBase::k_not_begun || bd > h->depth)
                continue;
            const QueryJob* c = ancestor_at(h, bd);
            if (c->entry != branches[b])
                continue;
            used[b] = 1;
            for (const QueryJob* w : branches[b]->waiting_jobs)
                if (w->search_epoch != epoch) {
                    w->search_epoch = epoch;
                    heads.push_back({w, i, c});
                }
        }
    }
    return {};
}

/// Key to text: operator<< if there is one, else the type and the hash.
template <class K>
concept Streamable = requires(std::ostream& os, const K& k) {
    os << k;
};

template <class K, class Hash>
std::string query_key_to_string(const K& k) {
    if constexpr (Streamable<K>) {
        std::ostringstream os;
        os << k;
        return os.str();
    } else {
        std::ostringstream os;
        os << "<" << typeid(K).name() << " #" << std::hex << Hash{}(k) << ">";
        return os.str();
    }
}

}  // namespace detail

/// Runs f() outside any query chain: jobs it creates do not belong to the computation that
/// calls it (use it for detached work a computation does not wait for).
template <class F>
decltype(auto) without_query_chain(F&& f) {
    return with_context(detail::k_query_chain, detail::QueryJob(nullptr, nullptr),
                        std::forward<F>(f));
}

/// Single-flight memoisation with cycle detection: get_or_compute(key, f) runs f once per key;
/// concurrent callers of the same key park until its value or exception is ready, and a wait
/// that would close a cycle of queries throws QueryCycleError (design-notes/0004).
template <class K, class V, class Hash = std::hash<K>, class Eq = std::equal_to<K>>
class QueryMap {
public:
    QueryMap() = default;
    /// label: shown in QueryCycleError messages (label(key)) and in deadlock reports.
    explicit QueryMap(std::string label) : m_label(std::move(label)) {}
    QueryMap(const QueryMap&) = delete;
    QueryMap& operator=(const QueryMap&) = delete;
    /// Must not be called while any get_or_compute on this map is running.
    ~QueryMap() = default;

    /// The value of key, computing it with f() (which must return something V can be built
    /// from) if no caller has yet; see the header comment. Rethrows f's exception (to this and
    /// every other caller of key), QueryCycleError if waiting would close a cycle, or the error
    /// a deadlock breaker failed the wait with.
    template <class F>
    const V& get_or_compute(const K& key, F&& f) {
        // A query chain recurses through here: continue on a new stack segment when the
        // stack runs low (spindle/stack.hpp), so no depth of dependencies overflows.
        if (detail::stack_check_hit() && !detail::stack_check_cold()) [[unlikely]]
            return detail::call_on_segment(detail::k_default_segment_size,
                                           [&]() -> const V& { return get_or_compute(key, f); });
        Shard& s = shard_for(key);
        s.lock.lock();
        Entry* e;
        bool inserted;
        try {
            auto [it, ins] = s.map.try_emplace(key);
            e = &it->second;
            inserted = ins;
            if (inserted) {
                e->lock = &s.lock;
                e->label = m_label.empty() ? nullptr : m_label.c_str();
                e->key_string = &Entry::key_text;
                e->key = &it->first;
            }
        } catch (...) {
            s.lock.unlock();
            throw;
        }
        if (inserted) {
            s.lock.unlock();
            return compute(*e, f);
        }
        if (e->state == Entry::State::done) {
            s.lock.unlock();
            return *e->value;
        }
        if (e->state == Entry::State::failed) {
            std::exception_ptr err = e->error;
            s.lock.unlock();
            std::rethrow_exception(err);
        }
        return wait_cold(*e);  // releases s.lock
    }

    /// The value of key if it has been computed successfully, else nullptr (absent, still
    /// computing, or failed). Never waits.
    const V* try_get(const K& key) const {
        const Shard& s = shard_for(key);
        s.lock.lock();
        const V* r = nullptr;
        auto it = s.map.find(key);
        if (it != s.map.end() && it->second.state == Entry::State::done)
            r = &*it->second.value;
        s.lock.unlock();
        return r;
    }

    /// Number of keys ever requested: computing, done or failed.
    std::size_t size() const {
        std::size_t n = 0;
        for (const Shard& s : m_shards) {
            s.lock.lock();
            n += s.map.size();
            s.lock.unlock();
        }
        return n;
    }

    /// The map's label (shown in cycle errors and deadlock reports).
    const std::string& label() const noexcept { return m_label; }

private:
    struct Entry : detail::QueryEntryBase {
        const K* key = nullptr;  // the map node's key (node-based map: stable)
        std::optional<V> value;  // written by the computing task before state = done
        std::exception_ptr error;

        static std::string key_text(const detail::QueryEntryBase& b) {
            return detail::query_key_to_string<K, Hash>(*static_cast<const Entry&>(b).key);
        }
    };

    struct alignas(64) Shard {
        mutable detail::SpinLock lock;
        std::unordered_map<K, Entry, Hash, Eq> map;  // node-based: entries never move
    };
    static constexpr std::size_t k_shard_bits = 6;

    Shard& shard_for(const K& key) { return m_shards[shard_index(key)]; }
    const Shard& shard_for(const K& key) const { return m_shards[shard_index(key)]; }
    static std::size_t shard_index(const K& key) {
        const std::uint64_t h = static_cast<std::uint64_t>(Hash{}(key));
        return static_cast<std::size_t>((h * 0x9E3779B97F4A7C15ull) >> (64 - k_shard_bits));
    }

    /// The first caller of a key: run f with the query bound as the innermost of the chain,
    /// then publish the result and wake the waiters.
    template <class F>
    const V& compute(Entry& e, F& f) {
        // Fibers never migrate: the compute ends on the worker it began on (design-notes/0002).
        detail::WorkerCore* const traced = detail::traced_worker();
        if (traced != nullptr) [[unlikely]]
            detail::trace_record_copy(traced, detail::TraceKind::query_compute_begin,
                                      e.label != nullptr ? e.label : "", e.key_string(e));
        std::exception_ptr err;
        try {
            with_context(detail::k_query_chain, detail::QueryJob(detail::current_query_job(), &e),
                         [&] {
                             const detail::QueryJob* me = detail::k_query_chain.get();
                             // release: pairs with find_query_cycle's acquire load.
                             e.computing_depth.store(me->depth, std::memory_order_release);
                             struct Finish {
                                 const detail::QueryJob* job;
                                 // release: pairs with find_query_cycle's acquire load.
                                 ~Finish() { job->finished.store(true, std::memory_order_release); }
                             } finish{me};
                             e.value.emplace(std::invoke(f));
                         });
        } catch (...) {
            err = std::current_exception();
        }
        if (traced != nullptr) [[unlikely]]
            detail::trace_record(traced, detail::TraceKind::query_compute_end, nullptr);
        detail::WaitList woken;
        e.lock->lock();
        if (err) {
            e.error = err;
            e.state = Entry::State::failed;
        } else {
            e.state = Entry::State::done;
        }
        e.waiters.splice_to(woken);
        if (!e.waiting_jobs.empty()) {
            // Every waiting_jobs element belongs to a node just taken off the list.
            std::lock_guard<std::mutex> g(detail::query_graph_mutex());
            e.waiting_jobs.clear();
            detail::edges_removed(e);
        }
        e.lock->unlock();
        while (detail::WaitNode* n = woken.pop_front())
            detail::wake_node(*n);
        if (err)
            std::rethrow_exception(err);
        return *e.value;
    }

    /// Called with e's shard lock held and e computing.
    const V& wait_cold(Entry& e) {
        const detail::QueryJob* me = detail::current_query_job();
        if (me != nullptr) {
            std::vector<std::string> cycle;
            try {
                std::lock_guard<std::mutex> g(detail::query_graph_mutex());
                cycle = detail::find_query_cycle(me, &e);
                if (cycle.empty())
                    detail::add_wait_edge(e, me);
            } catch (...) {
                e.lock->unlock();
                throw;
            }
            if (!cycle.empty()) {
                e.lock->unlock();
                throw QueryCycleError(std::move(cycle));
            }
        }
        detail::WaitNode node(detail::WaitSite{"Query", e.label, &e, &cancel_wait, &describe});
        node.data = reinterpret_cast<std::uintptr_t>(me);
        detail::WorkerCore* const traced = detail::traced_worker();
        if (traced != nullptr) [[unlikely]]  // under the shard lock: key_string only reads
            detail::trace_record_copy(traced, detail::TraceKind::query_wait_begin,
                                      e.label != nullptr ? e.label : "", e.key_string(e));
        detail::block_current(node, &enqueue, &e);
        if (traced != nullptr) [[unlikely]]
            detail::trace_record(traced, detail::TraceKind::query_wait_end, nullptr);
        node.rethrow_if_failed();
        // Woken by compute(): the result is published. Taking the lock orders this read after
        // compute()'s writes regardless of how the wake-up itself synchronises.
        e.lock->lock();
        const bool ok = e.state == Entry::State::done;
        std::exception_ptr err = e.error;
        e.lock->unlock();
        if (!ok)
            std::rethrow_exception(err);
        return *e.value;
    }

    static void enqueue(detail::WaitNode& node, void* arg) {
        auto* e = static_cast<Entry*>(arg);
        e->waiters.push_back(node);
        e->lock->unlock();
    }

    /// WaitSite::cancel: unlink the node (and its waits-for edge) if it is still queued.
    static bool cancel_wait(detail::WaitNode& node) noexcept {
        auto* e = static_cast<Entry*>(const_cast<void*>(node.site.object));
        e->lock->lock();
        const bool queued = e->waiters.remove_if_queued(node);
        if (queued) {
            if (node.data != 0) {
                const auto* me = reinterpret_cast<const detail::QueryJob*>(node.data);
                std::lock_guard<std::mutex> g(detail::query_graph_mutex());
                for (auto it = e->waiting_jobs.begin(); it != e->waiting_jobs.end(); ++it) {
                    if (*it == me) {
                        e->waiting_jobs.erase(it);
                        break;
                    }
                }
                detail::edges_removed(*e);
            }
        }
        e->lock->unlock();
        return queued;
    }

    static std::string describe(const detail::WaitNode& node) {
        const auto* e = static_cast<const Entry*>(node.site.object);
        return "key " + Entry::key_text(*e);
    }

    std::array<Shard, std::size_t{1} << k_shard_bits> m_shards;
    std::string m_label;
};

}  // namespace spindle
