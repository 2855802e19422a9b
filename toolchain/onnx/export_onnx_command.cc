// `kiln export-onnx BUILD_DIR|CHECKPOINT --out MODEL.onnx`: the float
// network of a `kiln build`, rebuilt from its checkpoint
// (train::LoadCheckpointModel, LibTorch) and written as ONNX
// (ExportFloatModelToOnnx). A thin CLI: the work is in those two.
#include <stdio.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "toolchain/atomic_file.h"
#include "toolchain/cli/command.h"
#include "toolchain/onnx/onnx_export.h"
#include "toolchain/train/checkpoint_model.h"
#include "toolchain/version.h"

namespace kiln {
namespace cli {

const char kExportOnnxUsage[] =
    "usage: kiln export-onnx BUILD_DIR|CHECKPOINT.pt --out MODEL.onnx\n"
    "                        [--params PARAMS.json] [--name NAME] [--quiet]\n"
    "\n"
    "Writes the trained float network of a `kiln build` as ONNX (opset 13)\n"
    "for Netron, ONNX Runtime and other tools. The network is rebuilt from\n"
    "BUILD_DIR/checkpoint.pt (or the checkpoint given) with the params in\n"
    "BUILD_DIR/model.kiln, or PARAMS.json when given; the dataset the params\n"
    "name must be readable (nothing is trained or written besides --out).\n"
    "The heads' decision policies come from BUILD_DIR/model.kiln.\n"
    "\n"
    "The ONNX model takes FLOAT real values: for image models\n"
    "x = pixels * input_scale_real as [batch, C, H, W] (NCHW; mean/std are\n"
    "folded into the first layer), for feature models the features as\n"
    "[batch, D]. It outputs each head's float logits as [batch, classes],\n"
    "named after the head; labels and policies are in metadata_props.\n"
    "`kiln build` writes the same thing to BUILD_DIR/model.onnx (with the\n"
    "weights after quantization-aware training, when the params ask for it).\n";

namespace {

int Fail(const std::string& message) {
  fprintf(stderr, "kiln export-onnx: %s\n", message.c_str());
  return kExitFailure;
}

int Usage(const std::string& message) {
  fprintf(stderr, "kiln export-onnx: %s\n(run 'kiln export-onnx --help')\n",
          message.c_str());
  return kExitUsage;
}

// "[batch, 1, 8, 8] (NCHW): x = uint8 pixels * 0.0625", as the ONNX input.
std::string InputText(const train::FloatModel& m) {
  const std::vector<int32_t>& s = m.input_shape;
  const bool image = s.size() == 3;
  const std::vector<int32_t> dims =
      image ? std::vector<int32_t>{s[2], s[0], s[1]} : s;
  std::string text = "[batch";
  for (int32_t d : dims) text += ", " + std::to_string(d);
  text += image ? "] (NCHW): x = " : "]: x = ";
  if (!m.uint8_input) return text + "the float features";
  char scale[32];
  snprintf(scale, sizeof scale, "%g", m.input_scale_real);
  return text + (image ? "uint8 pixels * " : "uint8 features * ") + scale;
}

}  // namespace

int RunExportOnnx(const Args& args) {
  train::CheckpointSource source;
  std::string out_path, name;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if (a == "--out" && has_value) {
      out_path = args[++i];
    } else if (a == "--params" && has_value) {
      source.params_path = args[++i];
    } else if (a == "--name" && has_value) {
      name = args[++i];
    } else if (a == "--quiet") {
      source.quiet = true;
    } else if (!a.empty() && a[0] != '-' && source.path.empty()) {
      source.path = a;
    } else {
      return Usage("unexpected argument '" + a + "'");
    }
  }
  if (source.path.empty() || out_path.empty()) {
    return Usage("needs BUILD_DIR (or CHECKPOINT.pt) and --out MODEL.onnx");
  }
  if (!train::LoadCheckpointModel) {
    return Fail(
        "this kiln was built without LibTorch (KILN_WITH_TORCH=OFF), which "
        "reading a checkpoint needs; `kiln build` in a LibTorch build writes "
        "DIR/model.onnx itself");
  }

  // Never overwrite an input.
  std::error_code ec;
  const std::filesystem::path src(source.path);
  const bool is_dir = std::filesystem::is_directory(src, ec);
  const std::filesystem::path dir = is_dir ? src : src.parent_path();
  const std::vector<std::string> inputs = {
      is_dir ? (src / "checkpoint.pt").string() : source.path,
      (dir / "model.kiln").string(), source.params_path};
  for (const std::string& input : inputs) {
    if (!input.empty() && SameFile(out_path, input)) {
      return Fail("--out " + out_path + " is the input " + input +
                  ": refusing to overwrite it");
    }
  }
  if (std::filesystem::is_directory(out_path, ec)) {
    return Fail("--out " + out_path + " is a directory");
  }

  std::string error;
  train::CheckpointModel loaded;
  if (!train::LoadCheckpointModel(source, &loaded, &error)) return Fail(error);
  OnnxExportOptions options;
  options.model_name = name.empty() ? loaded.model_name : name;
  options.producer_version = ToolchainCommit();
  options.metadata["kiln.train_params"] = loaded.params_json;
  std::vector<uint8_t> bytes;
  if (!ExportFloatModelToOnnx(loaded.model, options, &bytes, &error) ||
      !WriteFileAtomic(out_path, bytes, &error)) {
    return Fail(error);
  }
  for (const std::string& note : loaded.notes) {
    fprintf(stderr, "kiln export-onnx: note: %s\n", note.c_str());
  }
  const train::FloatModel& m = loaded.model;
  printf("onnx        %s (%zu bytes, opset 13)\n", out_path.c_str(),
         bytes.size());
  printf("from        %s (best epoch %d)\n", loaded.checkpoint_path.c_str(),
         loaded.best_epoch);
  printf("input       \"input\" float %s\n", InputText(m).c_str());
  for (const train::FloatHead& head : m.heads) {
    printf("head        \"%s\": float logits [batch, %d]\n", head.name.c_str(),
           m.layers[head.layer].weight_shape[0]);
  }
  return kExitOk;
}

}  // namespace cli
}  // namespace kiln
