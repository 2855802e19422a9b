// kiln inspect MODEL [--json] [--batch N]
#include <stdio.h>
#include <stdlib.h>

#include <string>

#include "toolchain/aligned_bytes.h"
#include "toolchain/cli/command.h"
#include "toolchain/cli/inspect_report.h"
#include "toolchain/model_reader.h"
#include "toolchain/runtime_check.h"
#include "toolchain/serialize.h"

namespace kiln {
namespace cli {

const char kInspectUsage[] =
    "usage: kiln inspect MODEL [--json] [--batch N]\n"
    "\n"
    "Verifies MODEL (FlatBuffers structure, then the runtime's semantic\n"
    "checks) and prints everything in it: versions, metadata, inputs and\n"
    "outputs, tensors, operators, the memory plan, the arena size the runtime\n"
    "asks for, and the decision heads.\n"
    "\n"
    "options:\n"
    "  --json       print JSON instead of text\n"
    "  --batch N    also report the arena size for N items per step\n"
    "               (default 1)\n"
    "  -h, --help   show this help\n"
    "\n"
    "exit status: 0 ok, 1 unreadable or invalid model, 2 bad usage\n";

namespace {

struct InspectArgs {
  std::string model;
  bool json = false;
  size_t batch = 1;
};

int UsageError(const std::string& message) {
  fprintf(stderr, "kiln inspect: %s\n(run 'kiln inspect --help')\n",
          message.c_str());
  return kExitUsage;
}

bool ParseBatch(const std::string& text, size_t* batch) {
  if (text.empty() || text.size() > 9) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  *batch = strtoul(text.c_str(), nullptr, 10);
  return *batch >= 1;
}

// Returns kExitOk, or the exit code of a usage error already reported.
int ParseArgs(const Args& args, InspectArgs* out) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      out->json = true;
    } else if (a == "--batch" || a.rfind("--batch=", 0) == 0) {
      std::string value;
      if (a == "--batch") {
        if (i + 1 == args.size()) return UsageError("--batch needs a value");
        value = args[++i];
      } else {
        value = a.substr(8);
      }
      if (!ParseBatch(value, &out->batch)) {
        return UsageError(
            "--batch wants an integer from 1 to 999999999, "
            "not '" +
            value + "'");
      }
    } else if (a.size() > 1 && a[0] == '-') {
      return UsageError("unknown option '" + a + "'");
    } else if (out->model.empty()) {
      out->model = a;
    } else {
      return UsageError("more than one MODEL ('" + out->model + "', '" + a +
                        "')");
    }
  }
  if (out->model.empty()) return UsageError("missing MODEL");
  return kExitOk;
}

int ModelError(const std::string& path, const std::string& message) {
  fprintf(stderr, "kiln inspect: %s: %s\n", path.c_str(), message.c_str());
  return kExitFailure;
}

}  // namespace

int RunInspect(const Args& args) {
  InspectArgs opts;
  if (const int code = ParseArgs(args, &opts); code != kExitOk) return code;

  std::vector<uint8_t> bytes;
  std::string error;
  if (!ReadFileBytes(opts.model, &bytes, &error)) {
    fprintf(stderr, "kiln inspect: %s\n", error.c_str());
    return kExitFailure;
  }
  const AlignedBytes model(bytes);
  // Structure first (never touch an unverified FlatBuffer), then the
  // runtime's semantic checks, and only then print anything.
  ModelDef def;
  if (!ParseModel(model.data(), model.size(), &def, &error)) {
    return ModelError(opts.model, error);
  }
  InspectFacts facts;
  facts.path = opts.model;
  facts.file_bytes = model.size();
  facts.batch = opts.batch;
  if (!RuntimeVerify(model, &error)) {
    return ModelError(opts.model, "rejected by the runtime: " + error);
  }
  if (!RuntimeArenaSize(model, 1, &facts.arena_bytes_batch1, &error) ||
      !RuntimeArenaSize(model, opts.batch, &facts.arena_bytes_batch, &error)) {
    return ModelError(
        opts.model,
        "no arena size for batch " + std::to_string(opts.batch) + ": " + error);
  }
  if (opts.json) {
    PrintInspectJson(def, facts, stdout);
  } else {
    PrintInspectText(def, facts, stdout);
  }
  return kExitOk;
}

}  // namespace cli
}  // namespace kiln
