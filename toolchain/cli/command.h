// The kiln CLI's subcommands. Adding one: write `int RunX(const Args&)` and
// a help text, and list it in kCommands (dispatch.cc). The dispatcher answers
// `-h`/`--help` anywhere in a command's arguments with its usage text.
#ifndef KILN_TOOLCHAIN_CLI_COMMAND_H_
#define KILN_TOOLCHAIN_CLI_COMMAND_H_

#include <string>
#include <vector>

namespace kiln {
namespace cli {

// Exit codes shared by every subcommand.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  // the work failed (bad model, I/O, ...)
constexpr int kExitUsage = 2;    // the command line was wrong
// `kiln compare`: the work succeeded and found B worse than A beyond the
// given limits (accuracy, coverage or latency).
constexpr int kExitRegression = 3;

// The arguments after the subcommand name.
using Args = std::vector<std::string>;

struct Command {
  const char* name;
  const char* summary;  // one line for `kiln --help`
  const char* usage;    // full text for `kiln NAME --help`
  int (*run)(const Args& args);
};

// Runs the command line without the program name: {"inspect", "m.kiln"}.
// Returns the exit code.
int RunCli(const Args& argv);

// `kiln build` lives with the LibTorch trainer (toolchain/train/
// build_command.cc) and is linked into the kiln executable only when it is
// built with LibTorch; elsewhere these stay null and the command is absent.
extern const char kBuildUsage[] __attribute__((weak));
int RunBuild(const Args& args) __attribute__((weak));
// `kiln search` (toolchain/train/search_command.cc), likewise.
extern const char kSearchUsage[] __attribute__((weak));
int RunSearch(const Args& args) __attribute__((weak));

// `kiln blocklab` (toolchain/blocklab/blocklab_command.cc): the reference
// block coder, its datasets and the TLG8 dump reader; linked into the kiln
// executable with kiln_blocklab.
extern const char kBlocklabUsage[] __attribute__((weak));
int RunBlocklab(const Args& args) __attribute__((weak));
// `kiln blocks` (toolchain/blocklab/train/): train the block side-information
// model, compile it and report the guided search; needs LibTorch.
extern const char kBlocksUsage[] __attribute__((weak));
int RunBlocks(const Args& args) __attribute__((weak));

// `kiln import` and `kiln export-onnx` (toolchain/onnx/, Debian's libonnx):
// linked into the kiln executable with kiln_onnx (KILN_WITH_ONNX).
extern const char kImportUsage[] __attribute__((weak));
int RunImport(const Args& args) __attribute__((weak));
extern const char kExportOnnxUsage[] __attribute__((weak));
int RunExportOnnx(const Args& args) __attribute__((weak));

// Subcommands.
extern const char kInspectUsage[];
int RunInspect(const Args& args);
extern const char kDemoUsage[];
int RunDemo(const Args& args);
extern const char kDataUsage[];
int RunData(const Args& args);
extern const char kEvalUsage[];
int RunEval(const Args& args);
extern const char kCompareUsage[];
int RunCompare(const Args& args);
extern const char kReviewUsage[];
int RunReview(const Args& args);
extern const char kBenchUsage[];
int RunBench(const Args& args);
extern const char kZooUsage[];
int RunZoo(const Args& args);
extern const char kRunUsage[];
int RunRun(const Args& args);

}  // namespace cli
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_CLI_COMMAND_H_
