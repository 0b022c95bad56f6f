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

// SPINDLE_API marks what the library exports. spindle is compiled with hidden visibility
// (CMakeLists.txt), so a shared libspindle's dynamic symbol table holds only the declarations
// marked here: the public API, and the few detail:: functions and thread-locals that the
// header templates call (design-notes/0001's fast paths). Everything else stays internal.
// Harmless in a static library. (ELF only: a Windows port would switch to dllexport here.)
#if defined(__GNUC__) || defined(__clang__)
#define SPINDLE_API __attribute__((visibility("default")))
#else
#define SPINDLE_API
#endif
