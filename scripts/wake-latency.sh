#!/usr/bin/env bash
# How long the machine takes to start a thread woken on another CPU, with no pool involved
# (bench/README.md, "Idle CPUs"): a thread pinned to CPU 1 waits on a futex; the main thread,
# pinned to CPU 0, sleeps GAP us, wakes it and spins until it runs. Prints min/median/p90/max
# per gap, without and with a SCHED_IDLE spinner on each CPU (the benchmark's KeepAwake).
#   scripts/wake-latency.sh [rounds]      (default 40 per gap)
set -euo pipefail
rounds=${1:-40}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/wake.cpp" <<'CPP'
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

static std::atomic<int> word{0};
static std::atomic<bool> stop{false};
static std::atomic<long> ran_at{0};
static long now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
static void pin(int cpu) {
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}
int main(int argc, char** argv) {
    const int gap_us = std::atoi(argv[1]), n = std::atoi(argv[2]), spin = std::atoi(argv[3]);
    std::thread sleeper([&] {
        pin(1);
        for (int i = 0; i < n; ++i) {
            while (word.load() == 0)
                syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, nullptr, nullptr, 0);
            ran_at = now_ns();
            word = 0;
        }
    });
    std::vector<std::thread> spinners;
    for (int c = 0; spin && c < 2; ++c)
        spinners.emplace_back([c] {
            pin(c);
            sched_param p{};
            if (sched_setscheduler(0, SCHED_IDLE, &p) != 0)
                return;
            while (!stop.load(std::memory_order_relaxed))
                __builtin_ia32_pause();
        });
    pin(0);
    std::vector<double> us;
    for (int i = 0; i < n; ++i) {
        std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
        ran_at = 0;
        const long t0 = now_ns();
        word = 1;
        syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
        while (ran_at.load() == 0) {
        }
        us.push_back((ran_at - t0) / 1000.0);
    }
    stop = true;
    for (auto& t : spinners)
        t.join();
    sleeper.join();
    std::sort(us.begin(), us.end());
    std::printf("gap %6d us, %s: min %7.1f  median %7.1f  p90 %7.1f  max %7.1f us\n", gap_us,
                spin ? "SCHED_IDLE spinners" : "idle CPUs          ", us[0], us[us.size() / 2],
                us[us.size() * 9 / 10], us.back());
}
CPP
g++ -O2 -pthread "$dir/wake.cpp" -o "$dir/wake"
for gap in 100 2000 20000; do
  "$dir/wake" "$gap" "$rounds" 0
  "$dir/wake" "$gap" "$rounds" 1
done
