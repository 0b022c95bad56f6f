// idle (bench/rayon/src/workloads/pool_job.rs is the rayon side): n ticks of one empty job
// submitted to an idle pool, then 10 ms of sleep; the figure is the CPU time burnt
// (bench/workloads/pool_job.hpp).

#include "workloads/pool_job.hpp"
#include "workloads/workloads.hpp"

bench::WorkloadSpec bench::workload_idle() {
    return {
        .name = "idle",
        .default_n = 10,
        .check_n = bench::check_pool_job_n,
        .n_help = "ticks of 10 ms (default 10, max 100000)",
        .run = bench::run_pool_job,
    };
}
