// spindle: a fiber-based work-stealing thread pool. Umbrella header; declares nothing itself.
#pragma once

#include "spindle/broadcast.hpp"
#include "spindle/context.hpp"
#include "spindle/current.hpp"
#include "spindle/errors.hpp"
#include "spindle/for_each.hpp"
#include "spindle/join.hpp"
#include "spindle/map.hpp"
#include "spindle/parallel.hpp"
#include "spindle/parallel_for.hpp"
#include "spindle/pool.hpp"
#include "spindle/reduce.hpp"
#include "spindle/scope.hpp"
#include "spindle/sort.hpp"
#include "spindle/spawn.hpp"
#include "spindle/worker_local.hpp"
