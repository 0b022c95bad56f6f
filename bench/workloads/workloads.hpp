// The workloads of bench_compare (bench/compare.cpp), one file each under bench/workloads/, as
// the rayon crate's bench/rayon/src/workloads/<name>.rs: each file defines its kernels, its check
// and the function below that describes it to the harness (bench/harness.hpp's WorkloadSpec:
// name, default size, systems, switches, and the function that measures it). To add one: write
// bench/workloads/<name>.cpp, declare its function here and list it in bench/compare.cpp.
#pragma once

#include "harness.hpp"

namespace bench {

WorkloadSpec workload_fib();
WorkloadSpec workload_sum();
WorkloadSpec workload_sort();
WorkloadSpec workload_nqueens();
WorkloadSpec workload_skynet();
WorkloadSpec workload_uts();
WorkloadSpec workload_matmul();
WorkloadSpec workload_mergesort();
WorkloadSpec workload_quicksort();
WorkloadSpec workload_integrate();
WorkloadSpec workload_idle();
WorkloadSpec workload_wakeup();
WorkloadSpec workload_query_graph();

}  // namespace bench
