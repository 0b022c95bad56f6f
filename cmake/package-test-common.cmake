# Helpers shared by the cmake -P scripts behind the package.* tests (test-find-package.cmake,
# test-pkg-config.cmake, test-subproject.cmake, test-without-hwloc.cmake).

# spindle_test_require(<script name> <var>...): every -D<var>=... must be given.
function(spindle_test_require script)
    foreach(var IN LISTS ARGN)
        if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
            message(FATAL_ERROR "${script}: -D${var}=... is required")
        endif()
    endforeach()
endfunction()

# spindle_test_step(<what> <command>...): runs the command; on failure stops the test with its
# exit status and output. Its stdout and stderr go to step_output in the caller's scope.
function(spindle_test_step what)
    message(STATUS "package test: ${what}")
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "package test: '${what}' failed (${rc})\n${out}\n${err}")
    endif()
    set(step_output "${out}${err}" PARENT_SCOPE)
endfunction()
