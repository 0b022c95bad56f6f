// spindle: a fiber-based work-stealing thread pool. Umbrella header; declares nothing itself.
#pragma once

#include "spindle/broadcast.hpp"
#include "spindle/context.hpp"
#include "spindle/current.hpp"
#include "spindle/errors.hpp"
#include "spindle/join.hpp"
#include "spindle/pool.hpp"
#include "spindle/scope.hpp"
#include "spindle/spawn.hpp"
#include "spindle/worker_local.hpp"
