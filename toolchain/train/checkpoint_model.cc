// LoadCheckpointModel (checkpoint_model.h): params + dataset + checkpoint ->
// the FloatModel `kiln build` quantized, through trainer.h's LoadCheckpoint.
#include "toolchain/train/checkpoint_model.h"

#include <filesystem>
#include <system_error>

#include "toolchain/aligned_bytes.h"
#include "toolchain/data/split_manifest.h"
#include "toolchain/model_reader.h"
#include "toolchain/serialize.h"
#include "toolchain/train/params.h"
#include "toolchain/train/trainer.h"
#include "toolchain/train/training_data.h"

namespace kiln {
namespace train {
namespace {

namespace fs = std::filesystem;

// A .kiln model of a `kiln build` is small; anything this large is not one.
constexpr uint64_t kMaxKilnBytes = uint64_t(1) << 31;

bool ReadKilnModel(const std::string& path, ModelDef* def, std::string* error) {
  std::vector<uint8_t> bytes;
  if (!ReadFileBytes(path, kMaxKilnBytes, &bytes, error)) return false;
  const AlignedBytes aligned(bytes);  // ParseModel wants aligned data
  if (!ParseModel(aligned.data(), aligned.size(), def, error)) {
    *error = path + ": " + *error;
    return false;
  }
  return true;
}

const std::string* Property(const ModelDef& def, const std::string& key) {
  if (!def.metadata) return nullptr;
  for (const KeyValueDef& kv : def.metadata->properties) {
    if (kv.key == key) return &kv.value;
  }
  return nullptr;
}

// The splits for LoadCheckpoint's calibration, without writing anything:
// the manifest if it exists (the same train split as the build), else the
// split rule alone.
bool SplitsWithoutWriting(const TrainParams& params,
                          const data::Dataset& dataset,
                          std::vector<data::Split>* splits,
                          std::string* error) {
  data::SplitManifest manifest;
  std::error_code ec;
  if (!params.split.manifest.empty() && fs::exists(params.split.manifest, ec) &&
      !data::LoadSplitManifest(params.split.manifest, &manifest, error)) {
    return false;
  }
  return data::AssignSplits(dataset, params.split, &manifest, splits, nullptr,
                            error);
}

}  // namespace

bool LoadCheckpointModel(const CheckpointSource& source,
                         CheckpointModel* loaded, std::string* error) {
  *loaded = CheckpointModel();
  std::error_code ec;
  if (source.path.empty()) {
    *error = "no build directory or checkpoint given";
    return false;
  }
  const fs::path path(source.path);
  if (!fs::exists(path, ec)) {
    *error = source.path + " does not exist";
    return false;
  }
  const bool is_dir = fs::is_directory(path, ec);
  const fs::path dir = is_dir ? path : path.parent_path();
  loaded->checkpoint_path =
      is_dir ? (path / "checkpoint.pt").string() : path.string();
  if (!fs::is_regular_file(loaded->checkpoint_path, ec)) {
    *error = "no checkpoint " + loaded->checkpoint_path +
             " (kiln build writes DIR/checkpoint.pt)";
    return false;
  }

  // The compiled model next to it, if any: params and policies.
  const std::string kiln_path = (dir / "model.kiln").string();
  ModelDef compiled;
  bool have_compiled = false;
  if (fs::is_regular_file(kiln_path, ec)) {
    if (!ReadKilnModel(kiln_path, &compiled, error)) return false;
    have_compiled = true;
  }

  TrainParams params;
  if (!source.params_path.empty()) {
    if (!LoadTrainParams(source.params_path, &params, error)) return false;
    loaded->model_name = fs::path(source.params_path).stem().string();
  } else {
    const std::string* json =
        have_compiled ? Property(compiled, "train_params") : nullptr;
    if (!json) {
      *error = "no --params given and " +
               (have_compiled ? kiln_path + " holds no train_params"
                              : "no " + kiln_path + " to read them from");
      return false;
    }
    if (!ParseTrainParams(*json, &params, error)) {
      *error = kiln_path + ": train_params: " + *error;
      return false;
    }
    loaded->model_name = compiled.metadata->model_name;
  }
  if (loaded->model_name.empty()) loaded->model_name = "model";
  loaded->params_json = TrainParamsJson(params);

  data::Dataset dataset;
  if (!OpenTrainingDataset(params, &dataset, source.quiet, error)) return false;
  std::vector<data::Split> splits;
  if (!SplitsWithoutWriting(params, dataset, &splits, error)) return false;
  TrainResult result;
  if (!LoadCheckpoint(loaded->checkpoint_path, params, dataset, splits, &result,
                      error)) {
    return false;
  }
  loaded->model = std::move(result.model);
  loaded->best_epoch = result.metrics.best_epoch;

  // Policies: fallback calibration chose them after training; the
  // checkpoint cannot know them.
  if (have_compiled) {
    for (FloatHead& head : loaded->model.heads) {
      bool found = false;
      for (const HeadDef& def : compiled.heads) {
        if (def.name != head.name) continue;
        if (def.labels != head.labels) {
          *error = kiln_path + ": head '" + head.name +
                   "' has other labels than the params give: not the model "
                   "of this checkpoint";
          return false;
        }
        head.policy.top_k = def.policy.top_k;
        head.policy.confidence = def.policy.confidence;
        head.policy.threshold_real = def.policy.threshold_real;
        found = true;
      }
      if (!found) {
        *error = kiln_path + " has no head '" + head.name +
                 "': not the model of this checkpoint";
        return false;
      }
    }
  } else {
    loaded->notes.push_back("no " + kiln_path +
                            ": the heads' decision policies are the default "
                            "(top-1, no threshold)");
  }
  if (params.qat.epochs > 0) {
    loaded->notes.push_back(
        "the params ask for quantization-aware training: the checkpoint holds "
        "the float weights before it, not the fine-tuned ones in model.kiln "
        "(kiln build's own DIR/model.onnx has those)");
  }
  return true;
}

}  // namespace train
}  // namespace kiln
