# cmake -P script behind the ctest test package.pkg_config (see cmake/spindle-tests.cmake).
# Installs SPINDLE_BINARY_DIR into WORK_DIR/prefix, then compiles SOURCE with only
# `pkg-config --cflags --libs spindle` from that prefix (no CMake on the consumer's side) under
# -Wall -Wextra -Werror, and runs it with the expected version as its argument.
cmake_minimum_required(VERSION 3.25)

include("${CMAKE_CURRENT_LIST_DIR}/package-test-common.cmake")
spindle_test_require(test-pkg-config.cmake SPINDLE_BINARY_DIR SOURCE WORK_DIR CXX_COMPILER BUILD_TYPE VERSION)

find_program(PKG_CONFIG NAMES pkg-config pkgconf REQUIRED)
set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")


spindle_test_step("install spindle into ${prefix}"
    "${CMAKE_COMMAND}" --install "${SPINDLE_BINARY_DIR}" --prefix "${prefix}" --config "${BUILD_TYPE}")
file(GLOB_RECURSE pc_files "${prefix}/*/spindle.pc")
list(LENGTH pc_files n)
if(NOT n EQUAL 1)
    message(FATAL_ERROR "package test: expected one installed spindle.pc, found '${pc_files}'")
endif()
get_filename_component(pc_dir "${pc_files}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
spindle_test_step("pkg-config --modversion spindle" "${PKG_CONFIG}" --modversion spindle)
string(STRIP "${step_output}" version)
if(NOT version STREQUAL VERSION)
    message(FATAL_ERROR "package test: spindle.pc says version '${version}', expected '${VERSION}'")
endif()
spindle_test_step("pkg-config --cflags --libs spindle" "${PKG_CONFIG}" --cflags --libs spindle)
string(STRIP "${step_output}" flags)
message(STATUS "package test: flags: ${flags}")
separate_arguments(flags UNIX_COMMAND "${flags}")
spindle_test_step("compile and link with pkg-config's flags only"
    "${CXX_COMPILER}" -std=c++20 -Wall -Wextra -Werror "${SOURCE}" -o "${WORK_DIR}/app" ${flags})
spindle_test_step("run the program" "${WORK_DIR}/app" "${VERSION}")
message(STATUS "package test: pkg-config --cflags --libs spindle from ${prefix} works")
