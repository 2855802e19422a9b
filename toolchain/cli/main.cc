// kiln: the offline toolchain's command line.
#include <stdio.h>

#include <exception>

#include "toolchain/cli/command.h"

int main(int argc, char** argv) {
  // Nothing below should throw, but an uncaught exception must still end in
  // a message and an exit code, not an abort.
  try {
    return kiln::cli::RunCli(kiln::cli::Args(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    fprintf(stderr, "kiln: internal error: %s\n", e.what());
  } catch (...) {
    fprintf(stderr, "kiln: internal error\n");
  }
  return kiln::cli::kExitFailure;
}
