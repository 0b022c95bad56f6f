# Test executables, one per label directory (included from the top-level CMakeLists.txt).
#
#   tests/<label>/*_test.cpp    -> executable spindle_<label>_tests, ctest LABELS <label>,
#                                  test names "<label>.<Suite>.<Test>"
#   tests/<label>/*_helper.cpp  -> executable <label>_<stem>; the test executable of the same
#                                  label gets SPINDLE_HELPER_<STEM>="<absolute path>"
#   tests/common/*.cpp          -> linked into every test executable
#   tests/package/              -> the installed-package check (package.find_package)
#
# Include paths for tests: include/ (public), src/ (white-box tests), tests/ (so shared test
# code is included as "common/<file>.hpp").
# New directories and files are picked up on the next build (CONFIGURE_DEPENDS globs).

set(_spindle_tests_dir "${PROJECT_SOURCE_DIR}/tests")

# Everything a test or helper links against.
function(_spindle_test_target target)
    target_include_directories(${target} PRIVATE "${_spindle_tests_dir}" "${PROJECT_SOURCE_DIR}/src")
    target_link_libraries(${target} PRIVATE spindle::spindle Boost::context)
    # What the library was built with (tests/core/assert_test.cpp checks it).
    target_compile_definitions(${target} PRIVATE "SPINDLE_TEST_EXPECT_ASSERTIONS=${SPINDLE_ASSERTIONS_ON}")
    if(SPINDLE_HAVE_HWLOC)
        target_compile_definitions(${target} PRIVATE SPINDLE_HAVE_HWLOC=1)
        target_link_libraries(${target} PRIVATE PkgConfig::SPINDLE_HWLOC)
    endif()
    spindle_warnings(${target})
endfunction()

file(GLOB _spindle_common_sources CONFIGURE_DEPENDS "${_spindle_tests_dir}/common/*.cpp")
if(_spindle_common_sources)
    # OBJECT, not STATIC: objects that only register things (gtest environments, listeners)
    # through static initialisers must not be dropped by the linker.
    add_library(spindle_test_common OBJECT ${_spindle_common_sources})
    _spindle_test_target(spindle_test_common)
    target_link_libraries(spindle_test_common PRIVATE GTest::gtest GTest::gmock)
endif()

file(GLOB _spindle_test_sources CONFIGURE_DEPENDS "${_spindle_tests_dir}/*/*_test.cpp")
set(_spindle_labels "")
foreach(src IN LISTS _spindle_test_sources)
    get_filename_component(dir "${src}" DIRECTORY)
    get_filename_component(label "${dir}" NAME)
    if(NOT label STREQUAL "common")
        list(APPEND _spindle_labels "${label}")
    endif()
endforeach()
list(REMOVE_DUPLICATES _spindle_labels)
list(SORT _spindle_labels)

foreach(label IN LISTS _spindle_labels)
    if(NOT label MATCHES "^[A-Za-z0-9_]+$")
        message(FATAL_ERROR "spindle: test directory tests/${label}/: use letters, digits and _ only")
    endif()
    set(exe spindle_${label}_tests)
    file(GLOB sources CONFIGURE_DEPENDS "${_spindle_tests_dir}/${label}/*_test.cpp")
    add_executable(${exe} ${sources})
    _spindle_test_target(${exe})
    target_link_libraries(${exe} PRIVATE GTest::gtest GTest::gtest_main GTest::gmock)
    # Data files next to the tests (tests/topology/*.xml).
    target_compile_definitions(${exe} PRIVATE
        "SPINDLE_TEST_DATA_DIR=\"${_spindle_tests_dir}/${label}\"")
    if(TARGET spindle_test_common)
        target_link_libraries(${exe} PRIVATE spindle_test_common)
    endif()

    file(GLOB helpers CONFIGURE_DEPENDS "${_spindle_tests_dir}/${label}/*_helper.cpp")
    foreach(helper IN LISTS helpers)
        get_filename_component(name "${helper}" NAME)
        string(REGEX REPLACE "_helper\\.cpp$" "" stem "${name}")
        string(MAKE_C_IDENTIFIER "${stem}" stem_id)
        string(TOUPPER "${stem_id}" stem_upper)
        set(helper_target ${label}_${stem_id})
        add_executable(${helper_target} "${helper}")
        _spindle_test_target(${helper_target})
        target_compile_definitions(${exe} PRIVATE
            "SPINDLE_HELPER_${stem_upper}=\"$<TARGET_FILE:${helper_target}>\"")
        add_dependencies(${exe} ${helper_target})
    endforeach()

    # Per-test hang guard. The wait label gets more: its 100,000-parked-fibers test needs about
    # two minutes under asan-ubsan, whose detect_stack_use_after_return gives every fiber a
    # fake stack of its own (8 s without that option).
    set(timeout 120)
    if(label STREQUAL "wait")
        set(timeout 360)
    endif()
    gtest_discover_tests(${exe}
        TEST_PREFIX "${label}."
        DISCOVERY_MODE PRE_TEST
        DISCOVERY_TIMEOUT 60
        PROPERTIES LABELS ${label} TIMEOUT ${timeout})
endforeach()

if(NOT _spindle_labels)
    message(STATUS "spindle: no tests/<label>/*_test.cpp yet")
else()
    message(STATUS "spindle: test labels: ${_spindle_labels}")
endif()

# package.find_package: install this build tree to a scratch prefix and build + run
# tests/package/consumer against it with find_package(spindle CONFIG). Sanitized builds are
# skipped: their flags are not part of the installed package's usage requirements.
if(SPINDLE_SANITIZE STREQUAL "" AND EXISTS "${_spindle_tests_dir}/package/consumer/CMakeLists.txt")
    add_test(NAME package.find_package
        COMMAND "${CMAKE_COMMAND}"
            "-DSPINDLE_BINARY_DIR=${PROJECT_BINARY_DIR}"
            "-DCONSUMER_SOURCE_DIR=${_spindle_tests_dir}/package/consumer"
            "-DWORK_DIR=${PROJECT_BINARY_DIR}/package-test"
            "-DGENERATOR=${CMAKE_GENERATOR}"
            "-DCXX_COMPILER=${CMAKE_CXX_COMPILER}"
            "-DCXX_FLAGS=${CMAKE_CXX_FLAGS}"
            "-DBUILD_TYPE=$<CONFIG>"
            -P "${PROJECT_SOURCE_DIR}/cmake/test-find-package.cmake")
    set_tests_properties(package.find_package PROPERTIES LABELS package TIMEOUT 300)
    # package.pkg_config: the same install, used through spindle.pc only (no CMake).
    add_test(NAME package.pkg_config
        COMMAND "${CMAKE_COMMAND}"
            "-DSPINDLE_BINARY_DIR=${PROJECT_BINARY_DIR}"
            "-DSOURCE=${_spindle_tests_dir}/package/pkgconfig/main.cpp"
            "-DWORK_DIR=${PROJECT_BINARY_DIR}/package-test-pkg-config"
            "-DCXX_COMPILER=${CMAKE_CXX_COMPILER}"
            "-DBUILD_TYPE=$<CONFIG>"
            "-DVERSION=${PROJECT_VERSION}"
            -P "${PROJECT_SOURCE_DIR}/cmake/test-pkg-config.cmake")
    set_tests_properties(package.pkg_config PROPERTIES LABELS package TIMEOUT 300)

    # package.subproject: spindle built by a parent project through add_subdirectory, shared.
    add_test(NAME package.subproject
        COMMAND "${CMAKE_COMMAND}"
            "-DSPINDLE_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
            "-DPARENT_SOURCE_DIR=${_spindle_tests_dir}/package/subproject"
            "-DWORK_DIR=${PROJECT_BINARY_DIR}/package-test-subproject"
            "-DGENERATOR=${CMAKE_GENERATOR}"
            "-DCXX_COMPILER=${CMAKE_CXX_COMPILER}"
            -P "${PROJECT_SOURCE_DIR}/cmake/test-subproject.cmake")
    set_tests_properties(package.subproject PROPERTIES LABELS package TIMEOUT 900)
endif()

# package.without_hwloc: a second build of this source tree with SPINDLE_WITH_HWLOC=OFF (the
# flat fallback's tests, and a consumer linking it where pkg-config finds no hwloc); minutes on
# a small machine, so only in unsanitized builds of a tree that has hwloc (without hwloc the
# main build already is that build).
if(SPINDLE_SANITIZE STREQUAL "" AND SPINDLE_HAVE_HWLOC)
    add_test(NAME package.without_hwloc
        COMMAND "${CMAKE_COMMAND}"
            "-DSOURCE_DIR=${PROJECT_SOURCE_DIR}"
            "-DWORK_DIR=${PROJECT_BINARY_DIR}/without-hwloc-test"
            "-DGENERATOR=${CMAKE_GENERATOR}"
            "-DCXX_COMPILER=${CMAKE_CXX_COMPILER}"
            "-DBUILD_TYPE=$<CONFIG>"
            -P "${PROJECT_SOURCE_DIR}/cmake/test-without-hwloc.cmake")
    set_tests_properties(package.without_hwloc PROPERTIES LABELS package TIMEOUT 1200)
endif()

# capi.abi: the C ABI exercised from a C program (tests/capi/capi_abi.c), label capi.
if(EXISTS "${_spindle_tests_dir}/capi/capi_abi.c")
    enable_language(C)
    add_executable(capi_abi "${_spindle_tests_dir}/capi/capi_abi.c")
    set_target_properties(capi_abi PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON)
    target_link_libraries(capi_abi PRIVATE spindle::spindle)
    target_compile_options(capi_abi PRIVATE -Wall -Wextra -Wpedantic)
    add_test(NAME capi.abi COMMAND capi_abi)
    set_tests_properties(capi.abi PROPERTIES LABELS capi TIMEOUT 120)
endif()

# docs: the design notes stay true to the tree (scripts/check-docs.sh), and the check fails
# on a broken citation (tests/docs/check_docs_fixture.sh, a fixture tree in a temp dir).
find_program(SPINDLE_BASH bash)
if(SPINDLE_BASH)
    add_test(NAME docs.notes_match_the_tree
        COMMAND "${SPINDLE_BASH}" "${PROJECT_SOURCE_DIR}/scripts/check-docs.sh")
    add_test(NAME docs.broken_citation_fails
        COMMAND "${SPINDLE_BASH}" "${_spindle_tests_dir}/docs/check_docs_fixture.sh")
    set_tests_properties(docs.notes_match_the_tree docs.broken_citation_fails
        PROPERTIES LABELS docs TIMEOUT 120)
    # docs.api_reference: Doxygen over the public headers with every public item documented
    # (docs/Doxyfile: undocumented items and broken references are errors).
    find_program(SPINDLE_DOXYGEN doxygen)
    if(SPINDLE_DOXYGEN)
        add_test(NAME docs.api_reference
            COMMAND "${CMAKE_COMMAND}" -E env "SPINDLE_DOCS_OUT=${PROJECT_BINARY_DIR}/docs-test"
                "${SPINDLE_DOXYGEN}" "${PROJECT_SOURCE_DIR}/docs/Doxyfile"
            WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}")
        set_tests_properties(docs.api_reference PROPERTIES LABELS docs TIMEOUT 300)
    else()
        message(STATUS "spindle: doxygen not found; test docs.api_reference not added "
                       "(scripts/setup-deps.sh installs it)")
    endif()
    # docs.readme_examples: the README's C++ blocks compile as a user's code would (-Wall
    # -Wextra -Werror) and run. Unsanitized builds only: the examples link the library alone.
    if(SPINDLE_SANITIZE STREQUAL "")
        set(_spindle_example_links "$<TARGET_FILE:spindle>" "$<TARGET_LINKER_FILE:Boost::context>")
        if(SPINDLE_HAVE_HWLOC)
            list(APPEND _spindle_example_links ${SPINDLE_HWLOC_LINK_LIBRARIES})
        endif()
        add_test(NAME docs.readme_examples
            COMMAND "${SPINDLE_BASH}" "${_spindle_tests_dir}/docs/readme_examples.sh"
                "${PROJECT_SOURCE_DIR}/README.md" "${PROJECT_BINARY_DIR}/readme-examples"
                "${CMAKE_CXX_COMPILER}"
                "${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/include"
                ${_spindle_example_links})
        set_tests_properties(docs.readme_examples PROPERTIES LABELS docs TIMEOUT 300)
    endif()
endif()
