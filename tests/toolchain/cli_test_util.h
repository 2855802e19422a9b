// Runs the kiln CLI in-process for tests, capturing what it prints.
#ifndef KILN_TESTS_TOOLCHAIN_CLI_TEST_UTIL_H_
#define KILN_TESTS_TOOLCHAIN_CLI_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <stdio.h>

#include <string>
#include <vector>

#include "toolchain/cli/command.h"

namespace kiln {
namespace testing {

struct CliRun {
  int code;
  std::string out, err;
};

// `kiln ARGS...`: exit code, stdout and stderr.
inline CliRun Cli(const std::vector<std::string>& args) {
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int code = cli::RunCli(args);
  fflush(stdout);
  fflush(stderr);
  CliRun r{code, "", ""};
  r.out = ::testing::internal::GetCapturedStdout();
  r.err = ::testing::internal::GetCapturedStderr();
  return r;
}

inline bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace testing
}  // namespace kiln

#endif  // KILN_TESTS_TOOLCHAIN_CLI_TEST_UTIL_H_
