// The lock-order checker (spindle/detail/lock_order.hpp; design-notes/0013-lock-audit.md).
//
// State: a graph of lock classes, global, behind its own std::mutex (g_graph.m, which the
// checker does not track and never holds while calling anything but itself and stdio). An
// edge A -> B means "B was taken while A was held"; it keeps where that was first seen (who,
// and a backtrace). The held locks are per fiber (Fiber::lock_held) or, on a thread that
// never ran a fiber, per thread; only their own thread touches them.
#include "util/lock_order.hpp"

#include "fiber/fiber.hpp"
#include "spindle/detail/wait_util.hpp"

#include <execinfo.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace spindle::detail {

#if SPINDLE_LOCK_ORDER_CHECK

namespace {

constexpr int k_frames = 24;

struct Site {
    std::string who;  // "worker 1", "thread 0x..."
    void* frames[k_frames];
    int n = 0;
};

struct Edge {
    int to;
    Site site;
};

struct Class {
    std::string name;
    const void* obj = nullptr;  // a one-object class: its object; nullptr for a named class
    bool live = false;
    std::vector<Edge> out;
};

struct Graph {
    std::mutex m;
    std::vector<Class> classes;
    std::vector<int> free_ids;
    std::unordered_map<std::string, int> by_name;
    std::unordered_map<const void*, int> by_obj;
};

// Never destroyed: locks are taken and released during static destruction too.
Graph& graph() {
    static Graph* g = new Graph;
    return *g;
}

// Whether any one-object class exists (lets lock_order_forget skip the lock).
std::atomic<bool> g_any_object_class{false};

thread_local LockOrderHeld tl_held;

// SPINDLE_LOCK_ORDER=0 turns the checker off for a process (tests that deadlock on purpose,
// to exercise the deadlock detector, design-notes/0005).
bool on() noexcept {
    static const bool v = [] {
        const char* e = std::getenv("SPINDLE_LOCK_ORDER");
        return e == nullptr || std::strcmp(e, "0") != 0;
    }();
    return v;
}

LockOrderHeld& held() noexcept {
    Fiber* f = running_fiber();
    return f != nullptr ? f->lock_held : tl_held;
}

// A new live class named `name` (for an object class, `obj`): a freed id if there is one.
int new_class(Graph& g, std::string name, const void* obj) {
    int id;
    if (!g.free_ids.empty()) {
        id = g.free_ids.back();
        g.free_ids.pop_back();
    } else {
        id = static_cast<int>(g.classes.size());
        g.classes.emplace_back();
    }
    g.classes[id].name = std::move(name);
    g.classes[id].obj = obj;
    g.classes[id].live = true;
    return id;
}

int class_of(Graph& g, const char* cls, const void* obj) {
    if (cls != nullptr) {
        auto [it, fresh] = g.by_name.try_emplace(cls, -1);
        if (fresh)
            it->second = new_class(g, std::string("\"") + cls + "\"", nullptr);
        return it->second;
    }
    auto [it, fresh] = g.by_obj.try_emplace(obj, -1);
    if (!fresh)
        return it->second;
    char buf[64];
    std::snprintf(buf, sizeof buf, "unlabelled spindle::Mutex at %p", obj);
    it->second = new_class(g, buf, obj);
    g_any_object_class.store(true, std::memory_order_relaxed);
    return it->second;
}

const Edge* edge(const Graph& g, int a, int b) {
    for (const Edge& e : g.classes[a].out)
        if (e.to == b)
            return &e;
    return nullptr;
}

// A path from `from` to `to` (the classes after `from`, ending with `to`), or empty.
std::vector<int> path(const Graph& g, int from, int to) {
    std::vector<int> parent(g.classes.size(), -2);
    std::vector<int> stack{from};
    parent[from] = -1;
    while (!stack.empty()) {
        const int c = stack.back();
        stack.pop_back();
        for (const Edge& e : g.classes[c].out) {
            if (parent[e.to] != -2)
                continue;
            parent[e.to] = c;
            if (e.to == to) {
                std::vector<int> p;
                for (int x = to; x != from; x = parent[x])
                    p.push_back(x);
                std::reverse(p.begin(), p.end());
                return p;
            }
            stack.push_back(e.to);
        }
    }
    return {};
}

void capture(Site& s) {
    s.who = describe_holder(current_holder());
    s.n = ::backtrace(s.frames, k_frames);
}

void print_site(const Site& s) {
    std::fprintf(stderr, "      on %s:\n", s.who.c_str());
    std::fflush(stderr);
    // Skip the checker's own frames (capture, record, lock_order_acquire).
    const int skip = s.n > 3 ? 3 : 0;
    ::backtrace_symbols_fd(s.frames + skip, s.n - skip, STDERR_FILENO);
}

[[noreturn]] void report(const Graph& g, int a, int b, const Site& now, const std::vector<int>& p) {
    std::fprintf(stderr,
                 "spindle: fatal: lock-order inversion (lock-order checker, "
                 "design-notes/0013-lock-audit.md)\n"
                 "  %s is taken while holding %s,\n"
                 "  but %s -> %s was seen before: two tasks taking them in these two orders at "
                 "the same time deadlock, even though this run did not.\n"
                 "  %s -> %s, now\n",
                 g.classes[b].name.c_str(), g.classes[a].name.c_str(), g.classes[b].name.c_str(),
                 g.classes[a].name.c_str(), g.classes[a].name.c_str(), g.classes[b].name.c_str());
    print_site(now);
    int from = b;
    for (int to : p) {
        std::fprintf(stderr, "  %s -> %s, first seen\n", g.classes[from].name.c_str(),
                     g.classes[to].name.c_str());
        if (const Edge* e = edge(g, from, to))
            print_site(e->site);
        from = to;
    }
    std::fprintf(stderr,
                 "  Take these locks in one order everywhere. (Frames: addr2line -Cfe BINARY "
                 "+OFFSET.)\n");
    std::fflush(stderr);
    std::abort();
}

// Records held -> (cls, obj) for every held lock; aborts on an inversion.
void record(const LockOrderHeld& h, const char* cls, const void* obj) {
    Graph& g = graph();
    std::lock_guard<std::mutex> lock(g.m);
    const int b = class_of(g, cls, obj);
    Site site;
    bool captured = false;
    for (std::uint32_t i = 0; i < h.n; ++i) {
        const int a = class_of(g, h.held[i].cls, h.held[i].obj);
        if (a == b || edge(g, a, b) != nullptr)
            continue;  // same class (nesting within a class is not checked), or known
        if (!captured) {
            capture(site);
            captured = true;
        }
        const std::vector<int> p = path(g, b, a);
        if (!p.empty())
            report(g, a, b, site, p);
        g.classes[a].out.push_back(Edge{b, site});
    }
}

void push(LockOrderHeld& h, const char* cls, const void* obj) noexcept {
    if (h.n < LockOrderHeld::k_max)
        h.held[h.n++] = {cls, obj};
    else
        ++h.overflow;
}

}  // namespace

void lock_order_acquire(const char* cls, const void* obj) noexcept {
    if (!on())
        return;
    LockOrderHeld& h = held();
    if (h.n != 0) {
        try {
            record(h, cls, obj);
        } catch (...) {
            // Out of memory in the checker: the order is not recorded; the program goes on.
        }
    }
    push(h, cls, obj);
}

void lock_order_acquired_try(const char* cls, const void* obj) noexcept {
    if (on())
        push(held(), cls, obj);
}

void lock_order_release(const void* obj) noexcept {
    LockOrderHeld& h = held();
    for (std::uint32_t i = h.n; i-- > 0;) {
        if (h.held[i].obj == obj) {
            std::copy(h.held + i + 1, h.held + h.n, h.held + i);
            --h.n;
            return;
        }
    }
    // Not held by this fiber: beyond k_max, or released for it on another fiber (a
    // ConditionVariable's wait releases its mutex from the fiber it switches to, after
    // lock_order_release on the waiter's own fiber).
    if (h.overflow > 0)
        --h.overflow;
}

void lock_order_forget(const void* obj) noexcept {
    if (!g_any_object_class.load(std::memory_order_relaxed))
        return;
    Graph& g = graph();
    std::lock_guard<std::mutex> lock(g.m);
    const auto it = g.by_obj.find(obj);
    if (it == g.by_obj.end())
        return;
    const int id = it->second;
    g.by_obj.erase(it);
    for (Class& c : g.classes) {
        auto& out = c.out;
        out.erase(std::remove_if(out.begin(), out.end(), [&](const Edge& e) { return e.to == id; }),
                  out.end());
    }
    g.classes[id] = Class{};
    try {
        g.free_ids.push_back(id);
    } catch (...) {
    }
}

bool lock_order_check_enabled() noexcept {
    return on();
}

#else  // release: the hooks are compiled out; these exist for callers built without NDEBUG.

void lock_order_acquire(const char*, const void*) noexcept {}
void lock_order_acquired_try(const char*, const void*) noexcept {}
void lock_order_release(const void*) noexcept {}
void lock_order_forget(const void*) noexcept {}
bool lock_order_check_enabled() noexcept {
    return false;
}

#endif

}  // namespace spindle::detail
