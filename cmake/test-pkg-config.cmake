# cmake -P script behind the ctest test package.pkg_config (see cmake/spindle-tests.cmake).
# Installs SPINDLE_BINARY_DIR into WORK_DIR/prefix, then compiles SOURCE with only
# `pkg-config --cflags --libs spindle` from that prefix (no CMake on the consumer's side) under
# -Wall -Wextra -Werror, and runs it with the expected version as its argument.
cmake_minimum_required(VERSION 3.25)

foreach(var SPINDLE_BINARY_DIR SOURCE WORK_DIR CXX_COMPILER BUILD_TYPE VERSION)
    if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
        message(FATAL_ERROR "test-pkg-config.cmake: -D${var}=... is required")
    endif()
endforeach()

find_program(PKG_CONFIG NAMES pkg-config pkgconf REQUIRED)
set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run what out_var)
    message(STATUS "package test: ${what}")
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
        OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "package test: '${what}' failed (${rc})")
    endif()
    set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

run("install spindle into ${prefix}" ignored
    "${CMAKE_COMMAND}" --install "${SPINDLE_BINARY_DIR}" --prefix "${prefix}" --config "${BUILD_TYPE}")
file(GLOB_RECURSE pc_files "${prefix}/*/spindle.pc")
list(LENGTH pc_files n)
if(NOT n EQUAL 1)
    message(FATAL_ERROR "package test: expected one installed spindle.pc, found '${pc_files}'")
endif()
get_filename_component(pc_dir "${pc_files}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
run("pkg-config --modversion spindle" version "${PKG_CONFIG}" --modversion spindle)
if(NOT version STREQUAL VERSION)
    message(FATAL_ERROR "package test: spindle.pc says version '${version}', expected '${VERSION}'")
endif()
run("pkg-config --cflags --libs spindle" flags "${PKG_CONFIG}" --cflags --libs spindle)
message(STATUS "package test: flags: ${flags}")
separate_arguments(flags UNIX_COMMAND "${flags}")
run("compile and link with pkg-config's flags only" ignored
    "${CXX_COMPILER}" -std=c++20 -Wall -Wextra -Werror "${SOURCE}" -o "${WORK_DIR}/app" ${flags})
run("run the program" ignored "${WORK_DIR}/app" "${VERSION}")
message(STATUS "package test: pkg-config --cflags --libs spindle from ${prefix} works")
