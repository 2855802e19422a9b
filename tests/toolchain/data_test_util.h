// Helpers for the data source tests: a scratch directory removed at the end
// of the test, and writers for small plain, gzip and IDX files.
#ifndef KILN_TESTS_TOOLCHAIN_DATA_TEST_UTIL_H_
#define KILN_TESTS_TOOLCHAIN_DATA_TEST_UTIL_H_

#include <ftw.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "tests/toolchain/scratch_dir.h"

namespace kiln {
namespace testing {

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  FILE* f = fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  ASSERT_EQ(fclose(f), 0);
}

inline void WriteGzip(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
  }
  ASSERT_EQ(gzclose(f), Z_OK);
}

inline std::string ReadBytes(const std::string& path) {
  std::string bytes;
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) return bytes;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), f)) > 0) bytes.append(buffer, n);
  fclose(f);
  return bytes;
}

inline std::string BigEndian32(uint32_t v) {
  std::string s(4, '\0');
  s[0] = static_cast<char>(v >> 24);
  s[1] = static_cast<char>(v >> 16);
  s[2] = static_cast<char>(v >> 8);
  s[3] = static_cast<char>(v);
  return s;
}

// An IDX file of unsigned bytes: header for `dims`, then `payload` as is
// (which need not match the header, for the corruption tests).
inline std::string IdxBytes(const std::vector<uint32_t>& dims,
                            const std::string& payload) {
  std::string s = BigEndian32(0x00000800u | static_cast<uint32_t>(dims.size()));
  for (uint32_t d : dims) s += BigEndian32(d);
  return s + payload;
}

inline std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace testing
}  // namespace kiln

#endif  // KILN_TESTS_TOOLCHAIN_DATA_TEST_UTIL_H_
