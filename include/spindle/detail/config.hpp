// Build-configuration macros shared by headers and sources.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define SPINDLE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SPINDLE_TSAN 1
#endif
#endif

// spindle's thread_local variables use the initial-exec TLS model: a direct %fs-relative
// access instead of a __tls_get_addr call, also when spindle is built as a shared library.
// (A library with such variables cannot be dlopen()ed late into a process whose static TLS
// space is exhausted; spindle's few words make that unlikely.)
#define SPINDLE_TLS_MODEL __attribute__((tls_model("initial-exec")))

#if defined(__SANITIZE_ADDRESS__)
#define SPINDLE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPINDLE_ASAN 1
#endif
#endif
