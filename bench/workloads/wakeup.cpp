// wakeup (bench/rayon/src/workloads/pool_job.rs is the rayon side): n samples per rep of the
// latency from submitting one job to a pool idle for 10 ms to the job's start
// (bench/workloads/pool_job.hpp).

#include "workloads/pool_job.hpp"
#include "workloads/workloads.hpp"

bench::WorkloadSpec bench::workload_wakeup() {
    return {
        .name = "wakeup",
        .default_n = 10,
        .check_n = bench::check_pool_job_n,
        .n_help = "samples per rep (default 10, max 100000)",
        .run = bench::run_pool_job,
    };
}
