// compiler_model: one crate's compilation in miniature, on one spindle pool — the unified design
// of design-notes/0015-one-framework.md. Its twin, bench/compiler_model/rust (today's rustc
// structure: a rayon pool for the front end, then separate codegen threads that each take a
// jobserver token), uses the same model, constant for constant (model.hpp's comments say which).
// bench/compiler_model/run.sh builds K crates under `make -jN`, sharing make's jobserver.
//
// The model (seeded by the crate index, splitmix64):
// - ITEMS items (--items, default 1000); item i depends on (next() % 4) items drawn uniformly
//   from [0, i).
// - type-checking item i is a memoised query: it first asks for its dependencies (in parallel),
//   then works 20 + next() % 100 units, 1 item in 16 ten times that.
// - CGUS codegen units; item i belongs to unit i % CGUS; a unit needs its items type-checked,
//   then works 2 x the sum of its items' front-end units (coarse jobs, as LLVM's are).
// - a unit of work = ROUNDS_PER_UNIT rounds of a 64-bit mix (about a microsecond here), counted
//   in a shared "running" counter (--concurrency-file) so that run.sh can report the peak
//   number of threads working at once across all processes.
// - result: the wrapping sum over units of (unit index + 1) x (unit value); checked against the
//   Rust twin's.
//
// Unified: the front end's queries (spindle::QueryMap) and the codegen units are jobs of the
// same pool; a codegen unit starts as soon as it is spawned and asks for its items itself, so
// codegen overlaps type-checking; every worker runs only while it holds a token (the pool's
// token gate over make's jobserver: spindle::use_token_source), and a worker that finishes a
// front-end query goes straight on to codegen with the same token.
//
//   bench_compiler_model --crate K [--threads T] [--items N] [--concurrency-file PATH]
// prints one JSON line {"program":"compiler_model","system":"spindle-unified",...}.
#include "model.hpp"

#include <spindle/jobserver.hpp>
#include <spindle/spindle.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <ranges>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
    model::Args a;
    if (!model::parse_args(argc, argv, a))
        return 2;
    const model::Crate crate = model::make_crate(a.crate_index, a.items);
    model::Counter counter(a.concurrency_file);

    spindle::PoolOptions opts;
    opts.num_threads = a.threads;
    // Under make: every worker runs only while it holds one of make's tokens (or the implicit
    // one); outside make, no limit.
    auto gate = spindle::use_token_source(opts, spindle::jobserver_from_env());
    const auto t0 = std::chrono::steady_clock::now();
    std::uint64_t result = 0;
    {
        spindle::ThreadPool pool(opts);
        spindle::QueryMap<std::uint32_t, std::uint64_t> types("type_of");
        std::function<std::uint64_t(std::uint32_t)> type_of = [&](std::uint32_t i) {
            return types.get_or_compute(i, [&] {
                const std::vector<std::uint32_t>& deps = crate.deps[i];
                std::vector<std::uint64_t> dv(deps.size());
                spindle::for_each(std::views::iota(std::size_t{0}, deps.size()),
                                  [&](std::size_t k) { dv[k] = type_of(deps[k]); });
                return model::type_check(crate, i, dv, counter);
            });
        };
        std::vector<std::uint64_t> unit_values(model::CGUS);
        pool.install([&] {
            spindle::scope([&](spindle::Scope& s) {
                for (std::uint32_t g = 0; g < model::CGUS; ++g) {
                    s.spawn([&, g] {
                        std::vector<std::uint64_t> tv;
                        for (std::uint32_t i = g; i < crate.items; i += model::CGUS)
                            tv.push_back(type_of(i));
                        unit_values[g] = model::codegen(crate, g, tv, counter);
                    });
                }
            });
        });
        result = model::combine(unit_values);
    }
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const spindle::TokenStats ts = gate ? spindle::token_stats(*gate) : spindle::TokenStats{};
    std::printf(
        "{\"program\":\"compiler_model\",\"system\":\"spindle-unified\",\"lang\":\"cpp\","
        "\"crate\":%u,\"threads\":%zu,\"items\":%u,\"wall_s\":%.6f,\"result\":%llu,"
        "\"jobserver\":%s,\"tokens_acquired\":%llu,\"process_peak_running\":%lld}\n",
        a.crate_index, a.threads, crate.items, wall, static_cast<unsigned long long>(result),
        gate ? "true" : "false", static_cast<unsigned long long>(ts.acquired),
        static_cast<long long>(counter.local_peak()));
    return 0;
}
