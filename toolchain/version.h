// Which toolchain made a model: the version (CMake project version) and the
// git commit of the source tree it was built from, both stored in every
// model's metadata so a model file can be traced back to its code.
#ifndef KILN_TOOLCHAIN_VERSION_H_
#define KILN_TOOLCHAIN_VERSION_H_

namespace kiln {

// "<40 hex digits>", "<40 hex digits>-dirty" (uncommitted changes to tracked
// files at build time) or "unknown" (not built from a git checkout).
// Stamped at build time, so it follows commits without re-running CMake.
const char* ToolchainCommit();

}  // namespace kiln

#endif  // KILN_TOOLCHAIN_VERSION_H_
