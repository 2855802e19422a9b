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
  std::string model_name;            // metadata model_name, may be empty
  std::vector<int32_t> input_shape;  // the graph input's per-item shape
  bool input_float = false;          // float32 features, else uint8
  bool has_params = false;           // the model carried train_params
  train::TrainParams params;         // defaults when !has_params
  std::string dataset_spec;          // what was opened
  data::Dataset dataset;             // relabels applied
  std::string relabels;              // the relabels CSV applied, or ""
  // The manifest the splits came from ("" = none named). When it names a
  // file that does not exist, manifest_found is false and every sample got
  // its split by the params' rule (the same split a fresh `kiln build`
  // would give it).
  std::string manifest;
  bool manifest_found = false;
  // Worth telling the user, not fatal (a missing manifest, relabels whose
  // hashes no sample has). One line each, no trailing newline.
  std::vector<std::string> warnings;
  // One per sample. Samples in the manifest keep their split; others get
  // one by the manifest's rule (or params.split), in memory only.
  std::vector<data::Split> splits;
  // Resolved against the dataset, in the model's head order (matched by
  // head name; a model head with no params head is an error, except that a
  // plain classifier's single head pairs with the dataset's whatever its
  // name). Named after the model's heads.
  std::vector<train::HeadInfo> heads;
};

// Reads and verifies the model, opens its dataset and resolves splits and
// heads. False and *error ("<file>: <problem>") on any failure: unreadable
// or invalid model, no dataset named anywhere, a dataset whose items do not
// match the model's input, unmapped classes, a head whose classes differ
// from the model's labels. A manifest given in options must exist; one
// named only by the params may be missing (see manifest_found). Head class
// ids follow the model's label order (resolved labels are matched to the
// model's by name, so a reordered class list still scores correctly).
bool OpenModelData(const std::string& model_path,
                   const ModelDataOptions& options, ModelData* out,
                   std::string* error);

// Opens a second model on the data of `reference` (an OpenModelData
// result): the same dataset, relabels and splits, so both are evaluated on
// the same items. The model's own params resolve its heads. False and
// *error when its input differs from the reference model's, or as for
// OpenModelData.
bool OpenModelDataOn(const std::string& model_path, const ModelData& reference,
                     ModelData* out, std::string* error);

// Indices of the samples in `which` ("train", "valid", "test" or "all").
// False and *error for another name or a split without samples.
bool SplitIndices(const ModelData& data, const std::string& which,
                  std::vector<size_t>* indices, std::string* error);

// labels[h][k]: head h's class of sample indices[k].
std::vector<std::vector<int32_t>> HeadLabels(
    const ModelData& data, const std::vector<size_t>& indices);

// The raw input items of `indices`, contiguous, as the runtime takes them.
std::vector<uint8_t> GatherItems(const data::Dataset& dataset,
                                 const std::vector<size_t>& indices);

// Command-line helpers for the commands that take ModelDataOptions.

// If args[*i] is `flag` followed by its value ("--data SPEC") or is
// "flag=VALUE", stores the value, moves *i to the last argument used and
// returns true. *missing (which may be null) is set when args[*i] is the
// flag but no value follows.
bool FlagValue(const std::vector<std::string>& args, size_t* i,
               const char* flag, std::string* value, bool* missing);
// FlagValue for --data, --manifest and --relabels into *options.
bool ModelDataFlag(const std::vector<std::string>& args, size_t* i,
                   ModelDataOptions* options, bool* missing);
// The --batch / --repeats syntax: 1 to 9 decimal digits, in [1, max].
bool ParseCount(const std::string& text, uint64_t max, uint64_t* value);

// Which items to run and how to time them (eval, compare).
struct RunOptions {
  std::string split = "test";  // test, valid, train or all
  size_t batch = 64;           // items per timed runtime call
  int32_t repeats = 5;         // timed passes
};
// FlagValue for --split, --batch and --repeats into *options. When the flag
// is taken but its value is bad, *usage_error says why (else it is
// cleared).
bool RunOptionFlag(const std::vector<std::string>& args, size_t* i,
                   RunOptions* options, bool* missing,
                   std::string* usage_error);

}  // namespace cli
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_CLI_MODEL_DATA_H_
