# Sanitizers for every target of the build (library, tests, helpers, benchmarks), selected by
# SPINDLE_SANITIZE: "" (none), "address,undefined" or "thread". Included before any target is
# created, because add_compile_options/add_link_options only affect targets defined after them.
#
# Fiber switches must be announced to ASan and TSan; that is the library's job (src/fiber/),
# not the build's. There is deliberately no -Wno-tsan: the code keeps standalone fences out of
# TSan builds instead of silencing GCC's warning about them.

if(SPINDLE_SANITIZE STREQUAL "")
    return()
endif()

if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "spindle: SPINDLE_SANITIZE needs GCC or Clang (have ${CMAKE_CXX_COMPILER_ID})")
endif()

string(REPLACE "," ";" _spindle_sanitizers "${SPINDLE_SANITIZE}")
foreach(_s IN LISTS _spindle_sanitizers)
    if(NOT _s MATCHES "^(address|undefined|thread|leak)$")
        message(FATAL_ERROR "spindle: unknown sanitizer '${_s}' in SPINDLE_SANITIZE='${SPINDLE_SANITIZE}'; "
                            "use '', 'address,undefined' or 'thread'")
    endif()
endforeach()
if("thread" IN_LIST _spindle_sanitizers AND "address" IN_LIST _spindle_sanitizers)
    message(FATAL_ERROR "spindle: ThreadSanitizer cannot be combined with AddressSanitizer")
endif()

set(_spindle_sanitize_flags -fsanitize=${SPINDLE_SANITIZE} -fno-omit-frame-pointer -g)
if("undefined" IN_LIST _spindle_sanitizers)
    list(APPEND _spindle_sanitize_flags -fno-sanitize-recover=undefined)
endif()

add_compile_options(${_spindle_sanitize_flags})
add_link_options(${_spindle_sanitize_flags})
message(STATUS "spindle: sanitizers on: ${SPINDLE_SANITIZE}")
