// Running the kiln executable from the train tests: the commands that need
// LibTorch (`kiln search`, `kiln blocks`) are linked into it, not into the
// test binary.
#ifndef KILN_TESTS_TRAIN_KILN_EXE_UTIL_H_
#define KILN_TESTS_TRAIN_KILN_EXE_UTIL_H_

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/toolchain/scratch_dir.h"

namespace kiln {
namespace train {

// The source tree, from this file's path.
inline std::string SourceDir() {
  const std::string file = __FILE__;
  const std::string tail = "tests/train/kiln_exe_util.h";
  return file.size() > tail.size() &&
                 file.compare(file.size() - tail.size(), tail.size(), tail) == 0
             ? file.substr(0, file.size() - tail.size())
             : std::string("./");
}

// build/tests/kiln_train_tests -> build/toolchain/kiln; $KILN_BIN wins.
inline std::string KilnBinary() {
  if (const char* env = getenv("KILN_BIN")) return env;
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "kiln";
  std::string exe(buf, static_cast<size_t>(n));
  exe = exe.substr(0, exe.rfind('/'));  // build/tests
  exe = exe.substr(0, exe.rfind('/'));  // build
  return exe + "/toolchain/kiln";
}

inline std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct KilnRun {
  int code = -1;
  std::string out, err;
};

// `kiln ARGS...` in `dir`.
inline KilnRun Kiln(const testing::ScratchDir& dir,
                    const std::vector<std::string>& args) {
  const std::string bin = KilnBinary();
  EXPECT_EQ(access(bin.c_str(), X_OK), 0)
      << bin << " is missing: build the kiln target (or set KILN_BIN)";
  std::string cmd = "cd " + Quote(dir.path()) + " && " + Quote(bin);
  for (const std::string& a : args) cmd += " " + Quote(a);
  cmd += " >" + Quote(dir.Path("stdout.txt")) + " 2>" +
         Quote(dir.Path("stderr.txt"));
  const int status = system(cmd.c_str());
  KilnRun r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFile(dir.Path("stdout.txt"));
  r.err = ReadFile(dir.Path("stderr.txt"));
  return r;
}

inline bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace train
}  // namespace kiln

#endif  // KILN_TESTS_TRAIN_KILN_EXE_UTIL_H_
