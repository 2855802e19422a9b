// kiln zoo NAME --out FILE [--seed N] | kiln zoo --list
#include <stdio.h>

#include <string>
#include <vector>

#include "toolchain/atomic_file.h"
#include "toolchain/cli/command.h"
#include "toolchain/cli/model_data.h"
#include "toolchain/zoo/reference_models.h"

namespace kiln {
namespace cli {

const char kZooUsage[] =
    "usage: kiln zoo NAME --out FILE.kiln [--seed N]\n"
    "       kiln zoo --list\n"
    "\n"
    "Writes one of the reference models (toolchain/zoo) with seeded random\n"
    "weights: the shapes Kiln is measured on against other runtimes\n"
    "(../shared/peers). Same name and seed, same bytes. The file is written\n"
    "atomically (a reader never sees half a model).\n"
    "\n"
    "models:\n"
    "  trivial          int8 [160] -> Reshape (the runtime's fixed cost)\n"
    "  mlp160           int8 [160] -> 256 -> 128 -> 8, ReLU (74,752 MACs)\n"
    "  mlp160-float-io  the same with float32 input and a float copy of the\n"
    "                   logits\n"
    "  blocknet         uint8 8x8x3 NHWC -> 3 depthwise-separable layers ->\n"
    "                   4 heads (465,792 MACs per block)\n"
    "  resnet18         int8 224x224x3 NHWC ResNet-18 -> 1000 logits\n"
    "                   (1,814,073,344 MACs)\n"
    "  all-ops          every operator of the format\n"
    "\n"
    "options:\n"
    "  --out FILE   where to write the model (required)\n"
    "  --seed N     weight seed (default 1)\n"
    "  --list       print the model names, one per line\n"
    "  -h, --help   show this help\n"
    "\n"
    "exit status: 0 ok, 1 the file could not be written, 2 bad usage\n";

namespace {

const char* const kNames[] = {"trivial",  "mlp160",   "mlp160-float-io",
                              "blocknet", "resnet18", "all-ops"};

bool Known(const std::string& name) {
  for (const char* n : kNames) {
    if (name == n) return true;
  }
  return false;
}

ModelBuilder Build(const std::string& name, uint32_t seed) {
  if (name == "trivial") return zoo::TrivialModel();
  if (name == "mlp160") return zoo::Mlp160(seed, false);
  if (name == "mlp160-float-io") return zoo::Mlp160(seed, true);
  if (name == "blocknet") return zoo::BlockNet(seed);
  if (name == "resnet18") return zoo::ResNet18(seed);
  return zoo::AllOpsModel(seed);
}

int UsageError(const std::string& message) {
  fprintf(stderr, "kiln zoo: %s\n(run 'kiln zoo --help')\n", message.c_str());
  return kExitUsage;
}

}  // namespace

int RunZoo(const Args& args) {
  std::string name, out;
  uint32_t seed = 1;
  bool list = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string value;
    bool missing = false;
    uint64_t n = 0;
    if (FlagValue(args, &i, "--out", &value, &missing)) {
      if (value.empty()) return UsageError("--out needs a file name");
      out = value;
    } else if (!missing && FlagValue(args, &i, "--seed", &value, &missing)) {
      if (value == "0") {
        seed = 0;
      } else if (!ParseCount(value, 999999999, &n)) {
        return UsageError("--seed wants an integer from 0 to 999999999, not '" +
                          value + "'");
      } else {
        seed = static_cast<uint32_t>(n);
      }
    } else if (missing) {
      return UsageError(a + " needs a value");
    } else if (a == "--list") {
      list = true;
    } else if (a.size() > 1 && a[0] == '-') {
      return UsageError("unknown option '" + a + "'");
    } else if (name.empty()) {
      name = a;
    } else {
      return UsageError("more than one NAME ('" + name + "', '" + a + "')");
    }
  }
  if (list) {
    if (!name.empty() || !out.empty()) {
      return UsageError("--list takes no NAME or --out");
    }
    for (const char* n : kNames) printf("%s\n", n);
    return kExitOk;
  }
  if (name.empty()) return UsageError("missing NAME (see --list)");
  if (!Known(name)) {
    return UsageError("unknown model '" + name + "' (see --list)");
  }
  if (out.empty()) return UsageError("missing --out FILE");
  const ModelBuilder builder = Build(name, seed);
  std::vector<uint8_t> bytes;
  std::string error;
  if (!builder.Build(&bytes, &error)) {
    // The zoo's models are fixed: this is a toolchain bug.
    fprintf(stderr, "kiln zoo: %s: %s\n", name.c_str(), error.c_str());
    return kExitFailure;
  }
  if (!WriteFileAtomic(out, bytes, &error)) {
    fprintf(stderr, "kiln zoo: %s\n", error.c_str());
    return kExitFailure;
  }
  printf("kiln zoo: wrote %s (%s, seed %u, %zu bytes)\n", out.c_str(),
         name.c_str(), seed, bytes.size());
  return kExitOk;
}

}  // namespace cli
}  // namespace kiln
