# cmake -P script behind the ctest test package.find_package (see cmake/spindle-tests.cmake).
# Installs SPINDLE_BINARY_DIR into WORK_DIR/prefix, then configures, builds and runs the
# consumer project CONSUMER_SOURCE_DIR against that prefix with find_package(spindle CONFIG).
cmake_minimum_required(VERSION 3.25)

include("${CMAKE_CURRENT_LIST_DIR}/package-test-common.cmake")
spindle_test_require(test-find-package.cmake SPINDLE_BINARY_DIR CONSUMER_SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER BUILD_TYPE)

set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/consumer-build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")


spindle_test_step("install spindle into ${prefix}"
    "${CMAKE_COMMAND}" --install "${SPINDLE_BINARY_DIR}" --prefix "${prefix}" --config "${BUILD_TYPE}")
spindle_test_step("configure consumer"
    "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE_DIR}" -B "${build}" -G "${GENERATOR}"
        "-DCMAKE_PREFIX_PATH=${prefix}"
        "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
        "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
        "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}"
        # Only the install prefix may provide spindle, never the build tree.
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
spindle_test_step("build consumer"
    "${CMAKE_COMMAND}" --build "${build}" --config "${BUILD_TYPE}")

set(exe "${build}/consumer")
if(NOT EXISTS "${exe}" AND EXISTS "${build}/${BUILD_TYPE}/consumer")
    set(exe "${build}/${BUILD_TYPE}/consumer")
endif()
spindle_test_step("run consumer" "${exe}")
message(STATUS "package test: find_package(spindle CONFIG) from ${prefix} works")
