# cmake -P script behind the ctest test package.subproject (see cmake/spindle-tests.cmake).
# Configures tests/package/subproject (spindle through add_subdirectory, shared, no build
# type), builds and runs its program, checks that the program uses libspindle.so, that the
# library exports its API but none of its internals (hidden visibility), and that installing
# the parent installs nothing of spindle's (SPINDLE_INSTALL is off there).
cmake_minimum_required(VERSION 3.25)

include("${CMAKE_CURRENT_LIST_DIR}/package-test-common.cmake")
spindle_test_require(test-subproject.cmake SPINDLE_SOURCE_DIR PARENT_SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER)

set(build "${WORK_DIR}/build")
set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")


spindle_test_step("configure the parent project"
    "${CMAKE_COMMAND}" -S "${PARENT_SOURCE_DIR}" -B "${build}" -G "${GENERATOR}"
        "-DSPINDLE_SOURCE_DIR=${SPINDLE_SOURCE_DIR}"
        "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
spindle_test_step("build the parent project" "${CMAKE_COMMAND}" --build "${build}")
spindle_test_step("run its program" "${build}/parent_app")

execute_process(COMMAND ldd "${build}/parent_app" OUTPUT_VARIABLE deps RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT deps MATCHES "libspindle\\.so")
    message(FATAL_ERROR "package test: parent_app does not load libspindle.so:\n${deps}")
endif()

# Hidden visibility: the library exports its API, not its internals (the scheduler's classes,
# the injector's queue, Boost.Context).
find_program(NM nm REQUIRED)
execute_process(COMMAND "${NM}" -D -C --defined-only "${build}/spindle/libspindle.so"
    OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "package test: nm -D failed on libspindle.so (${rc})")
endif()
string(REGEX MATCHALL "[^\n]*(spindle::detail::(Registry|Worker|Fiber|TokenGate|SpareWorker)::|moodycamel::|boost::)[^\n]*"
    leaked "${symbols}")
if(leaked)
    list(JOIN leaked "\n" leaked)
    message(FATAL_ERROR "package test: libspindle.so exports internal symbols:\n${leaked}")
endif()
if(NOT symbols MATCHES "spindle::ThreadPool::ThreadPool" OR NOT symbols MATCHES " spindle_join_push\n")
    message(FATAL_ERROR "package test: libspindle.so does not export its API:\n${symbols}")
endif()

spindle_test_step("install the parent project" "${CMAKE_COMMAND}" --install "${build}" --prefix "${prefix}")
file(GLOB_RECURSE installed RELATIVE "${prefix}" "${prefix}/*")
if(installed)
    message(FATAL_ERROR "package test: a subproject spindle installed files: ${installed}")
endif()
message(STATUS "package test: spindle as a shared subproject works and installs nothing")
