# cmake -P script behind the ctest test package.without_hwloc (see cmake/spindle-tests.cmake):
# the build a machine without hwloc gets, checked end to end.
#   1. configures SOURCE_DIR into WORK_DIR/build with -DSPINDLE_WITH_HWLOC=OFF and checks that
#      configure says the topology is flat (and nothing about hwloc being on);
#   2. builds the library and the topology tests there, checks the library references no
#      hwloc symbol, and runs the tests (the flat fallback's: affinity mask, binding through
#      pthread_setaffinity_np, one victim group; hwloc-only tests skip themselves);
#   3. installs it and builds and runs tests/package/consumer against it with pkg-config unable
#      to find hwloc, as on a machine without libhwloc-dev; the installed config must not ask
#      for hwloc.
cmake_minimum_required(VERSION 3.25)

include("${CMAKE_CURRENT_LIST_DIR}/package-test-common.cmake")
spindle_test_require(test-without-hwloc.cmake SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER BUILD_TYPE)

set(build "${WORK_DIR}/build")
set(prefix "${WORK_DIR}/prefix")
set(consumer "${WORK_DIR}/consumer-build")
set(no_pc "${WORK_DIR}/no-pkgconfig")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}" "${no_pc}")


spindle_test_step("configure with SPINDLE_WITH_HWLOC=OFF"
    "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${build}" -G "${GENERATOR}"
        "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
        "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}"
        -DSPINDLE_WITH_HWLOC=OFF -DSPINDLE_BUILD_TESTS=ON -DSPINDLE_BUILD_BENCH=OFF
        -DSPINDLE_WERROR=ON)
if(NOT step_output MATCHES "SPINDLE_WITH_HWLOC=OFF: flat topology"
   OR step_output MATCHES "hwloc [0-9.]+ found")
    message(FATAL_ERROR "without-hwloc test: configure does not say the topology is flat:\n"
                        "${step_output}")
endif()

spindle_test_step("build the library and the topology tests"
    "${CMAKE_COMMAND}" --build "${build}" --target spindle spindle_topology_tests
        topology_affinity)
file(GLOB libs "${build}/libspindle.a" "${build}/libspindle.so*")
if(NOT libs)
    message(FATAL_ERROR "without-hwloc test: no libspindle in ${build}")
endif()
foreach(lib IN LISTS libs)
    if(NOT IS_SYMLINK "${lib}")
        file(STRINGS "${lib}" hwloc_refs REGEX "hwloc_topology_init")
        if(hwloc_refs)
            message(FATAL_ERROR "without-hwloc test: ${lib} references hwloc")
        endif()
    endif()
endforeach()
spindle_test_step("run the topology tests (flat fallback)" "${build}/spindle_topology_tests")
if(NOT step_output MATCHES "PASSED")
    message(FATAL_ERROR "without-hwloc test: the topology tests did not pass:\n${step_output}")
endif()

spindle_test_step("install into ${prefix}"
    "${CMAKE_COMMAND}" --install "${build}" --prefix "${prefix}" --config "${BUILD_TYPE}")
file(GLOB_RECURSE configs "${prefix}/*/spindle-config.cmake")
foreach(cfg IN LISTS configs)
    file(STRINGS "${cfg}" have REGEX "_spindle_have_hwloc ON")
    if(have)
        message(FATAL_ERROR "without-hwloc test: ${cfg} would ask for hwloc")
    endif()
endforeach()
# A consumer on a machine without hwloc: pkg-config finds no hwloc.pc.
set(ENV{PKG_CONFIG_LIBDIR} "${no_pc}")
set(ENV{PKG_CONFIG_PATH} "${no_pc}")
spindle_test_step("configure the consumer without hwloc"
    "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/package/consumer" -B "${consumer}"
        -G "${GENERATOR}"
        "-DCMAKE_PREFIX_PATH=${prefix}"
        "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
        "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}"
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
        -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON)
spindle_test_step("build the consumer" "${CMAKE_COMMAND}" --build "${consumer}")
spindle_test_step("run the consumer" "${consumer}/consumer")
message(STATUS "without-hwloc test: the flat build passes its tests and links a consumer without hwloc")
