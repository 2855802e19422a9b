// The kiln command line: subcommand table and dispatch.
#include <stdio.h>
#include <string.h>

#include "kiln/kiln.h"
#include "toolchain/cli/command.h"

namespace kiln {
namespace cli {
namespace {

const Command kCommands[] = {
    {"build",
     "train, quantize, calibrate the fallback, compile and evaluate (params "
     "file)",
     kBuildUsage, RunBuild},
    {"search",
     "hyperparameter search over a search-space file (random or TPE), "
     "writes the best params",
     kSearchUsage, RunSearch},
    {"inspect", "print what a .kiln model contains, after verifying it",
     kInspectUsage, RunInspect},
    {"demo", "build, load and run the block network end to end", kDemoUsage,
     RunDemo},
    {"data", "open a dataset, assign persistent train/valid/test splits",
     kDataUsage, RunData},
    {"eval",
     "evaluate a .kiln model on its dataset through the runtime: accuracy, "
     "coverage, confusion, latency",
     kEvalUsage, RunEval},
    {"compare",
     "evaluate two models on the same items side by side; exit 3 on a "
     "regression",
     kCompareUsage, RunCompare},
    {"review", "review a model's mistakes and suspect labels on its dataset",
     kReviewUsage, RunReview},
    {"bench",
     "time a .kiln model through the runtime: latency, throughput, kernel "
     "path",
     kBenchUsage, RunBench},
    {"zoo", "write a reference model (mlp160, blocknet, resnet18, ...)",
     kZooUsage, RunZoo},
    {"import",
     "import an ONNX model (PyTorch, scikit-learn, QDQ): check, lower, "
     "quantize with calibration data, compile",
     kImportUsage, RunImport},
    {"export-onnx", "write a trained Kiln float model as ONNX",
     kExportOnnxUsage, RunExportOnnx},
    {"run",
     "classify image files (or feature rows) with a .kiln model: "
     "preprocessing, top-k, fallback flag",
     kRunUsage, RunRun},
    {"blocklab",
     "the reference block coder: encode, decode, label blocks, read TLG8 "
     "dumps",
     kBlocklabUsage, RunBlocklab},
    {"blocks",
     "train the block side-information model, compile it, report the "
     "guided search against exhaustive search and heuristics",
     kBlocksUsage, RunBlocks},
};

void PrintHelp(FILE* out) {
  fprintf(out,
          "usage: kiln <command> [options]\n"
          "\n"
          "The Kiln toolchain %s.\n"
          "\n"
          "commands:\n",
          KILN_VERSION_STRING);
  for (const Command& c : kCommands) {
    if (c.run == nullptr) continue;  // not linked into this binary
    fprintf(out, "  %-11s %s\n", c.name, c.summary);
  }
  fprintf(out,
          "\n"
          "Run 'kiln <command> --help' for a command's options.\n");
}

bool IsHelp(const char* arg) {
  return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 ||
         strcmp(arg, "help") == 0;
}

}  // namespace

int RunCli(const Args& argv) {
  if (argv.empty()) {
    PrintHelp(stderr);
    return kExitUsage;
  }
  const char* name = argv[0].c_str();
  if (IsHelp(name)) {
    PrintHelp(stdout);
    return kExitOk;
  }
  if (strcmp(name, "--version") == 0) {
    printf("kiln %s\n", KILN_VERSION_STRING);
    return kExitOk;
  }
  for (const Command& c : kCommands) {
    if (c.run == nullptr || strcmp(name, c.name) != 0) continue;
    const Args args(argv.begin() + 1, argv.end());
    for (const std::string& a : args) {
      if (a == "--help" || a == "-h") {
        fputs(c.usage, stdout);
        return kExitOk;
      }
    }
    return c.run(args);
  }
  fprintf(stderr, "kiln: unknown %s '%s'; run 'kiln --help'\n",
          name[0] == '-' ? "option" : "command", name);
  return kExitUsage;
}

}  // namespace cli
}  // namespace kiln
