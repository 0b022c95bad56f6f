// spindle: a fiber-based work-stealing thread pool. Umbrella header; declares nothing itself.
#pragma once

#include "spindle/blocking.hpp"
#include "spindle/broadcast.hpp"
#include "spindle/condition_variable.hpp"
#include "spindle/context.hpp"
#include "spindle/current.hpp"
#include "spindle/deadlock.hpp"
#include "spindle/errors.hpp"
#include "spindle/event.hpp"
#include "spindle/for_each.hpp"
#include "spindle/future.hpp"
#include "spindle/jobserver.hpp"
#include "spindle/join.hpp"
#include "spindle/latch.hpp"
#include "spindle/map.hpp"
#include "spindle/mutex.hpp"
#include "spindle/parallel.hpp"
#include "spindle/parallel_for.hpp"
#include "spindle/pool.hpp"
#include "spindle/query_map.hpp"
#include "spindle/reduce.hpp"
#include "spindle/scope.hpp"
#include "spindle/semaphore.hpp"
#include "spindle/sort.hpp"
#include "spindle/spawn.hpp"
#include "spindle/stack.hpp"
#include "spindle/topology.hpp"
#include "spindle/trace.hpp"
#include "spindle/version.hpp"
#include "spindle/wait_group.hpp"
#include "spindle/worker_local.hpp"

/// \namespace spindle
/// spindle's public API: pools and their jobs (ThreadPool, join, scope, spawn, broadcast),
/// context propagation, growable stacks, the waits, single-flight queries, job tokens and the
/// parallel algorithms. Everything in spindle::detail is internal.
