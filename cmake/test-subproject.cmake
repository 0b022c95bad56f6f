# cmake -P script behind the ctest test package.subproject (see cmake/spindle-tests.cmake).
# Configures tests/package/subproject (spindle through add_subdirectory, shared, no build
# type), builds and runs its program, checks that the program uses libspindle.so, and that
# installing the parent installs nothing of spindle's (SPINDLE_INSTALL is off there).
cmake_minimum_required(VERSION 3.25)

foreach(var SPINDLE_SOURCE_DIR PARENT_SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER)
    if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
        message(FATAL_ERROR "test-subproject.cmake: -D${var}=... is required")
    endif()
endforeach()

set(build "${WORK_DIR}/build")
set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(step what)
    message(STATUS "package test: ${what}")
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "package test: '${what}' failed (${rc})")
    endif()
endfunction()

step("configure the parent project"
    "${CMAKE_COMMAND}" -S "${PARENT_SOURCE_DIR}" -B "${build}" -G "${GENERATOR}"
        "-DSPINDLE_SOURCE_DIR=${SPINDLE_SOURCE_DIR}"
        "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
step("build the parent project" "${CMAKE_COMMAND}" --build "${build}")
step("run its program" "${build}/parent_app")

execute_process(COMMAND ldd "${build}/parent_app" OUTPUT_VARIABLE deps RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT deps MATCHES "libspindle\\.so")
    message(FATAL_ERROR "package test: parent_app does not load libspindle.so:\n${deps}")
endif()

step("install the parent project" "${CMAKE_COMMAND}" --install "${build}" --prefix "${prefix}")
file(GLOB_RECURSE installed RELATIVE "${prefix}" "${prefix}/*")
if(installed)
    message(FATAL_ERROR "package test: a subproject spindle installed files: ${installed}")
endif()
message(STATUS "package test: spindle as a shared subproject works and installs nothing")
