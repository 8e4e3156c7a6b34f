// The version of vatic: the one place it is written. The top-level
// CMakeLists.txt reads it from here for the project, the package files and the
// shared libraries' SOVERSION (the major number, or 0.MINOR before 1.0), so a
// release bumps this header and nothing else.
//
// VATIC_VERSION compares numerically: MAJOR * 10000 + MINOR * 100 + PATCH.
// `vatic::library_version()` is what the linked library was built as: a
// program can compare it with VATIC_VERSION_STRING, the headers it compiled
// against, and refuse a mismatch.
#pragma once

#define VATIC_VERSION_MAJOR 0
#define VATIC_VERSION_MINOR 2
#define VATIC_VERSION_PATCH 0

#define VATIC_VERSION (VATIC_VERSION_MAJOR * 10000 + VATIC_VERSION_MINOR * 100 + VATIC_VERSION_PATCH)
#define VATIC_VERSION_STRING "0.2.0"

namespace vatic {

// The version the vatic libraries in use were built from (VATIC_VERSION_STRING
// at their build).
const char* library_version() noexcept;

}  // namespace vatic
