// Writing a file so that readers see either the old contents or the new,
// never a torn mix.
#ifndef KILN_TOOLCHAIN_ATOMIC_FILE_H_
#define KILN_TOOLCHAIN_ATOMIC_FILE_H_

#include <stdint.h>

#include <string>
#include <vector>

namespace kiln {

// Writes `bytes` to a new temporary file next to `path` (same directory, so
// the rename cannot cross file systems), fsyncs it, renames it over `path`
// and fsyncs the directory. On any failure the temporary is removed, `path`
// is left as it was, and *error says what went wrong. The new file gets mode
// 0644 (before the umask).
bool WriteFileAtomic(const std::string& path, const std::vector<uint8_t>& bytes,
                     std::string* error);

// True when `a` and `b` both name one existing file (through links or
// different spellings): how commands refuse an output that would overwrite
// one of their inputs. False when either is empty or does not exist.
bool SameFile(const std::string& a, const std::string& b);

}  // namespace kiln

#endif  // KILN_TOOLCHAIN_ATOMIC_FILE_H_
