// The trained float model of a `kiln build`, rebuilt from its checkpoint
// without retraining: what `kiln export-onnx` writes as ONNX.
//
//   kiln::train::CheckpointSource source;
//   source.path = "out";                // DIR, or DIR/checkpoint.pt
//   kiln::train::CheckpointModel loaded;
//   if (!kiln::train::LoadCheckpointModel(source, &loaded, &error)) ...
//
// The params: source.params_path, or else the "train_params" property that
// `kiln build` stores in DIR/model.kiln. The dataset the params name is
// opened (LoadCheckpoint rebuilds the network from its shape and
// calibrates on it; calibration ranges do not matter for a float export).
// The split manifest is read if it exists and never written. The heads'
// decision policies come from DIR/model.kiln when it is there (fallback
// calibration chose them after training), else stay top-1.
//
// Defined in checkpoint_model.cc, which needs LibTorch (kiln_train) and is
// linked into the kiln executable only when KILN_WITH_TORCH is on: the
// declaration is weak, so callers test the function's address first.
#ifndef KILN_TOOLCHAIN_TRAIN_CHECKPOINT_MODEL_H_
#define KILN_TOOLCHAIN_TRAIN_CHECKPOINT_MODEL_H_

#include <string>
#include <vector>

#include "toolchain/train/float_model.h"

namespace kiln {
namespace train {

struct CheckpointSource {
  // A `kiln build` output directory (its checkpoint.pt and model.kiln), or
  // a checkpoint file (model.kiln looked for next to it).
  std::string path;
  // The params the checkpoint was trained with; empty = read them from
  // model.kiln.
  std::string params_path;
  bool quiet = false;  // dataset messages on stderr unless quiet
};

struct CheckpointModel {
  FloatModel model;
  std::string model_name;   // params file stem, or model.kiln's name
  std::string params_json;  // canonical TrainParamsJson of the params used
  std::string checkpoint_path;
  int32_t best_epoch = 0;
  // What the caller should tell the user: where the exported model may
  // differ from the compiled one (QAT, policies not found).
  std::vector<std::string> notes;
};

bool LoadCheckpointModel(const CheckpointSource& source,
                         CheckpointModel* loaded, std::string* error)
    __attribute__((weak));

}  // namespace train
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_TRAIN_CHECKPOINT_MODEL_H_
