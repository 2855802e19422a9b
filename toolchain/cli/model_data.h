// What `kiln eval`, `kiln compare` and `kiln review` need to look at a
// compiled model on data: the model file, the training params stored in its
// metadata (property "train_params"), the dataset they name (or one given on
// the command line), label fixes, the persistent splits (read, never
// written) and each head's true label for every sample.
#ifndef KILN_TOOLCHAIN_CLI_MODEL_DATA_H_
#define KILN_TOOLCHAIN_CLI_MODEL_DATA_H_

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "toolchain/data/dataset.h"
#include "toolchain/data/split_manifest.h"
#include "toolchain/train/heads.h"
#include "toolchain/train/params.h"

namespace kiln {
namespace cli {

struct ModelDataOptions {
  std::string dataset;   // overrides params.dataset when not empty
  std::string manifest;  // overrides params.split.manifest when not empty
  std::string relabels;  // overrides params.relabels when not empty
};

struct ModelData {
  std::vector<uint8_t> model_bytes;  // the .kiln file as read
  bool has_params = false;           // the model carried train_params
  train::TrainParams params;         // defaults when !has_params
  data::Dataset dataset;             // relabels applied
  // One per sample. Samples in the manifest keep their split; others get
  // one by the manifest's rule (or params.split), in memory only.
  std::vector<data::Split> splits;
  // Resolved against the dataset, in the model's head order (matched by
  // head name; a model head with no params head is an error).
  std::vector<train::HeadInfo> heads;
};

// Reads and verifies the model, opens its dataset and resolves splits and
// heads. False and *error ("<file>: <problem>") on any failure: unreadable
// or invalid model, no dataset named anywhere, a dataset whose items do not
// match the model's input, unmapped classes.
bool OpenModelData(const std::string& model_path,
                   const ModelDataOptions& options, ModelData* out,
                   std::string* error);

// Indices of the samples in `which` ("train", "valid", "test" or "all").
bool SplitIndices(const ModelData& data, const std::string& which,
                  std::vector<size_t>* indices, std::string* error);

// labels[h][k]: head h's class of sample indices[k].
std::vector<std::vector<int32_t>> HeadLabels(
    const ModelData& data, const std::vector<size_t>& indices);

// The raw input items of `indices`, contiguous, as the runtime takes them.
std::vector<uint8_t> GatherItems(const data::Dataset& dataset,
                                 const std::vector<size_t>& indices);

}  // namespace cli
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_CLI_MODEL_DATA_H_
