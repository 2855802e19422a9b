#include "toolchain/cli/model_data.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <algorithm>
#include <utility>

#include "kiln/kiln.h"
#include "toolchain/aligned_bytes.h"
#include "toolchain/data/relabels.h"
#include "toolchain/data/sources.h"
#include "toolchain/model_reader.h"
#include "toolchain/serialize.h"
#include "toolchain/train/quantize_model.h"

namespace kiln {
namespace cli {
namespace {

// Far beyond any model meant for a small device, well below the
// FlatBuffers limit of 2 GiB.
constexpr uint64_t kMaxModelBytes = uint64_t{1} << 30;

bool Fail(std::string* error, const std::string& message) {
  *error = message;
  return false;
}

std::string ShapeText(const std::vector<int32_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += "x";
    s += std::to_string(shape[i]);
  }
  return s.empty() ? "scalar" : s;
}

const char* DTypeText(kiln_dtype type) {
  switch (type) {
    case KILN_INT8:
      return "int8";
    case KILN_UINT8:
      return "uint8";
    case KILN_INT32:
      return "int32";
    case KILN_FLOAT32:
      return "float32";
  }
  return "?";
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string Join(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "'" : ", '") + n + "'";
  return s;
}

// The model's input must take the dataset's items as they are.
bool CheckInput(const kiln_tensor_info& in, const data::Dataset& dataset,
                std::string* error) {
  const std::vector<int32_t> model_shape(in.dims, in.dims + in.rank);
  const bool type_ok = (dataset.feature_type == data::FeatureType::kUint8 &&
                        in.dtype == KILN_UINT8) ||
                       (dataset.feature_type == data::FeatureType::kFloat32 &&
                        in.dtype == KILN_FLOAT32);
  if (type_ok && model_shape == dataset.item_shape) return true;
  return Fail(
      error,
      "the dataset's items (" + ShapeText(dataset.item_shape) + " " +
          (dataset.feature_type == data::FeatureType::kUint8 ? "uint8"
                                                             : "float32") +
          ") do not match the model's input (" + ShapeText(model_shape) + " " +
          DTypeText(in.dtype) + ")");
}

// Pairs the model's heads with the params' heads and renumbers each head's
// classes into the model's label order.
bool MatchHeads(const train::KilnRunner& runner,
                const train::TrainParams& params,
                std::vector<train::HeadInfo> resolved,
                std::vector<train::HeadInfo>* out, std::string* error) {
  out->clear();
  const int32_t count = runner.num_heads();
  if (count <= 0) return Fail(error, "the model has no decision heads");
  std::vector<std::string> resolved_names;
  for (const train::HeadInfo& h : resolved) resolved_names.push_back(h.name);
  for (int32_t m = 0; m < count; ++m) {
    const kiln_head_info info = runner.head_info(m);
    const std::string name = info.name != nullptr ? info.name : "";
    train::HeadInfo head;
    // A plain classifier's one head is named after the dataset, which may
    // be spelled differently on the command line: pair it regardless.
    if (params.model.kind != train::ModelKind::kMultitask && count == 1 &&
        resolved.size() == 1) {
      head = resolved[0];
    } else {
      auto it = std::find_if(
          resolved.begin(), resolved.end(),
          [&](const train::HeadInfo& h) { return h.name == name; });
      if (it == resolved.end()) {
        return Fail(error, "the model's head '" + name +
                               "' is not among the heads its params declare (" +
                               Join(resolved_names) + ")");
      }
      head = *it;
    }
    head.name = name;
    std::vector<std::string> model_labels;
    bool has_labels = true;
    for (int32_t c = 0; c < info.num_classes; ++c) {
      const char* l = kiln_head_label(runner.context(), m, c);
      if (l == nullptr) {
        has_labels = false;
        break;
      }
      model_labels.push_back(l);
    }
    if (static_cast<size_t>(info.num_classes) != head.labels.size()) {
      return Fail(error, "head '" + name + "' has " +
                             std::to_string(info.num_classes) +
                             " classes in the model but " +
                             std::to_string(head.labels.size()) +
                             " in the dataset (" + Join(head.labels) + ")");
    }
    if (has_labels && model_labels != head.labels) {
      // Same classes in another order: renumber. Otherwise a mismatch.
      std::vector<int32_t> to_model(head.labels.size(), -1);
      for (size_t c = 0; c < head.labels.size(); ++c) {
        auto it =
            std::find(model_labels.begin(), model_labels.end(), head.labels[c]);
        if (it == model_labels.end()) {
          return Fail(error, "head '" + name + "': the dataset's class '" +
                                 head.labels[c] +
                                 "' is not one of the model's labels (" +
                                 Join(model_labels) + ")");
        }
        to_model[c] = static_cast<int32_t>(it - model_labels.begin());
      }
      for (int32_t& id : head.class_of) id = to_model[static_cast<size_t>(id)];
      head.labels = model_labels;
    }
    out->push_back(std::move(head));
  }
  return true;
}

// The model file: read, structure-checked, verified by the runtime (left
// loaded in *runner), its metadata read. `problem` has no file prefix.
bool ReadModel(const std::string& model_path, ModelData* d,
               train::KilnRunner* runner, std::string* problem,
               bool* prefixed) {
  *prefixed = true;  // ReadFileBytes names the file itself
  if (!ReadFileBytes(model_path, kMaxModelBytes, &d->model_bytes, problem)) {
    return false;
  }
  *prefixed = false;
  ModelDef def;
  {
    const AlignedBytes aligned(d->model_bytes);
    if (!ParseModel(aligned.data(), aligned.size(), &def, problem)) {
      *problem = "not a valid Kiln model: " + *problem;
      return false;
    }
  }
  if (!runner->Load(d->model_bytes, 1, problem)) {
    *problem = "rejected by the runtime: " + *problem;
    return false;
  }
  const kiln_tensor_info in = runner->input_info();
  d->input_shape.assign(in.dims, in.dims + in.rank);
  d->input_float = in.dtype == KILN_FLOAT32;
  if (def.metadata.has_value()) {
    d->model_name = def.metadata->model_name;
    for (const KeyValueDef& kv : def.metadata->properties) {
      if (kv.key != "train_params") continue;
      if (!train::ParseTrainParams(kv.value, &d->params, problem)) {
        *problem = "its train_params metadata does not parse: " + *problem;
        return false;
      }
      d->has_params = true;
    }
  }
  return true;
}

}  // namespace

bool OpenModelData(const std::string& model_path,
                   const ModelDataOptions& options, ModelData* out,
                   std::string* error) {
  *out = ModelData();
  ModelData& d = *out;
  std::string problem;
  auto fail = [&](const std::string& message) {
    return Fail(error, model_path + ": " + message);
  };

  train::KilnRunner runner;
  bool prefixed = false;
  if (!ReadModel(model_path, &d, &runner, &problem, &prefixed)) {
    return prefixed ? Fail(error, problem) : fail(problem);
  }

  // The dataset.
  d.dataset_spec =
      !options.dataset.empty() ? options.dataset : d.params.dataset;
  if (d.dataset_spec.empty()) {
    return fail(d.has_params
                    ? "its train_params name no dataset; pass --data SPEC"
                    : "the model carries no train_params metadata naming "
                      "its dataset; pass --data SPEC");
  }
  if (!data::OpenDataset(d.dataset_spec, &d.dataset, &problem)) {
    return fail(problem);
  }
  if (d.dataset.task != data::Task::kClassification) {
    return fail("dataset '" + d.dataset_spec +
                "' is a regression dataset; evaluation needs class labels");
  }
  if (!CheckInput(runner.input_info(), d.dataset, &problem)) {
    return fail("dataset '" + d.dataset_spec + "': " + problem);
  }

  // Label fixes, before the splits (as `kiln build` does).
  d.relabels = !options.relabels.empty() ? options.relabels : d.params.relabels;
  if (!d.relabels.empty()) {
    data::RelabelStats stats;
    if (!data::ApplyRelabels(d.relabels, &d.dataset, &stats, &problem)) {
      return fail("relabels: " + problem);
    }
    if (stats.unknown_hashes > 0) {
      d.warnings.push_back("relabels '" + d.relabels +
                           "': " + std::to_string(stats.unknown_hashes) +
                           " fixed hashes match no sample of this dataset");
    }
  }

  // Splits: the manifest's entries, the rule for the rest; never saved.
  d.manifest =
      !options.manifest.empty() ? options.manifest : d.params.split.manifest;
  data::SplitManifest manifest;
  if (!d.manifest.empty()) {
    d.manifest_found = FileExists(d.manifest);
    if (!d.manifest_found && !options.manifest.empty()) {
      return fail("split manifest '" + d.manifest + "' does not exist");
    }
    if (d.manifest_found &&
        !data::LoadSplitManifest(d.manifest, &manifest, &problem)) {
      return fail(problem);
    }
    if (!d.manifest_found) {
      d.warnings.push_back(
          "split manifest '" + d.manifest +
          "' (from the model's params) not found; splits assigned by the "
          "params' seed and ratios (pass --manifest FILE to use another)");
    }
  }
  if (!data::AssignSplits(d.dataset, d.params.split, &manifest, &d.splits,
                          nullptr, &problem)) {
    return fail(problem);
  }

  // Heads.
  std::vector<train::HeadInfo> resolved;
  if (!train::ResolveHeads(d.params, d.dataset, &resolved, &problem)) {
    return fail(problem);
  }
  if (!MatchHeads(runner, d.params, std::move(resolved), &d.heads, &problem)) {
    return fail(problem);
  }
  return true;
}

bool OpenModelDataOn(const std::string& model_path, const ModelData& reference,
                     ModelData* out, std::string* error) {
  *out = ModelData();
  ModelData& d = *out;
  std::string problem;
  auto fail = [&](const std::string& message) {
    return Fail(error, model_path + ": " + message);
  };
  train::KilnRunner runner;
  bool prefixed = false;
  if (!ReadModel(model_path, &d, &runner, &problem, &prefixed)) {
    return prefixed ? Fail(error, problem) : fail(problem);
  }
  if (d.input_shape != reference.input_shape ||
      d.input_float != reference.input_float) {
    return fail(std::string("its input (") + ShapeText(d.input_shape) +
                (d.input_float ? " float32" : " uint8") +
                ") differs from the other model's (" +
                ShapeText(reference.input_shape) +
                (reference.input_float ? " float32" : " uint8") + ")");
  }
  d.dataset_spec = reference.dataset_spec;
  d.dataset = reference.dataset;
  d.relabels = reference.relabels;
  d.manifest = reference.manifest;
  d.manifest_found = reference.manifest_found;
  d.splits = reference.splits;
  if (!CheckInput(runner.input_info(), d.dataset, &problem)) {
    return fail("dataset '" + d.dataset_spec + "': " + problem);
  }
  std::vector<train::HeadInfo> resolved;
  if (!train::ResolveHeads(d.params, d.dataset, &resolved, &problem) ||
      !MatchHeads(runner, d.params, std::move(resolved), &d.heads, &problem)) {
    return fail(problem);
  }
  return true;
}

bool SplitIndices(const ModelData& data, const std::string& which,
                  std::vector<size_t>* indices, std::string* error) {
  indices->clear();
  data::Split split = data::Split::kNone;
  if (which == "train") {
    split = data::Split::kTrain;
  } else if (which == "valid") {
    split = data::Split::kValid;
  } else if (which == "test") {
    split = data::Split::kTest;
  } else if (which != "all") {
    return Fail(error,
                "unknown split '" + which + "' (train, valid, test or all)");
  }
  for (size_t i = 0; i < data.splits.size(); ++i) {
    if (split == data::Split::kNone || data.splits[i] == split) {
      indices->push_back(i);
    }
  }
  if (indices->empty()) {
    return Fail(error, "dataset '" + data.dataset_spec +
                           "' has no samples in the " + which + " split");
  }
  return true;
}

std::vector<std::vector<int32_t>> HeadLabels(
    const ModelData& data, const std::vector<size_t>& indices) {
  std::vector<std::vector<int32_t>> labels(data.heads.size());
  for (size_t h = 0; h < data.heads.size(); ++h) {
    labels[h].reserve(indices.size());
    for (size_t i : indices) {
      labels[h].push_back(
          data.heads[h].class_of[static_cast<size_t>(data.dataset.labels[i])]);
    }
  }
  return labels;
}

std::vector<uint8_t> GatherItems(const data::Dataset& dataset,
                                 const std::vector<size_t>& indices) {
  const size_t bytes = dataset.item_byte_size();
  std::vector<uint8_t> out(indices.size() * bytes);
  for (size_t k = 0; k < indices.size(); ++k) {
    std::copy_n(dataset.item_bytes(indices[k]), bytes, out.data() + k * bytes);
  }
  return out;
}

bool FlagValue(const std::vector<std::string>& args, size_t* i,
               const char* flag, std::string* value, bool* missing) {
  if (missing != nullptr) *missing = false;
  const std::string& a = args[*i];
  const size_t n = strlen(flag);
  if (a.compare(0, n, flag) != 0) return false;
  if (a.size() > n && a[n] == '=') {
    *value = a.substr(n + 1);
    return true;
  }
  if (a.size() != n) return false;
  if (*i + 1 >= args.size()) {
    if (missing != nullptr) *missing = true;
    return false;
  }
  *value = args[++*i];
  return true;
}

bool ModelDataFlag(const std::vector<std::string>& args, size_t* i,
                   ModelDataOptions* options, bool* missing) {
  bool local = false;
  bool* m = missing != nullptr ? missing : &local;
  return FlagValue(args, i, "--data", &options->dataset, m) ||
         (!*m && FlagValue(args, i, "--manifest", &options->manifest, m)) ||
         (!*m && FlagValue(args, i, "--relabels", &options->relabels, m));
}

bool ParseCount(const std::string& text, uint64_t max, uint64_t* value) {
  if (text.empty() || text.size() > 9) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  *value = strtoull(text.c_str(), nullptr, 10);
  return *value >= 1 && *value <= max;
}

bool RunOptionFlag(const std::vector<std::string>& args, size_t* i,
                   RunOptions* options, bool* missing,
                   std::string* usage_error) {
  usage_error->clear();
  std::string value;
  uint64_t n = 0;
  if (FlagValue(args, i, "--split", &value, missing)) {
    if (value != "test" && value != "valid" && value != "train" &&
        value != "all") {
      *usage_error =
          "--split wants test, valid, train or all, not '" + value + "'";
    } else {
      options->split = value;
    }
    return true;
  }
  if (*missing) return false;
  if (FlagValue(args, i, "--batch", &value, missing)) {
    if (!ParseCount(value, 999999999, &n)) {
      *usage_error =
          "--batch wants an integer from 1 to 999999999, not '" + value + "'";
    } else {
      options->batch = static_cast<size_t>(n);
    }
    return true;
  }
  if (*missing) return false;
  if (FlagValue(args, i, "--repeats", &value, missing)) {
    if (!ParseCount(value, 1000, &n)) {
      *usage_error =
          "--repeats wants an integer from 1 to 1000, not '" + value + "'";
    } else {
      options->repeats = static_cast<int32_t>(n);
    }
    return true;
  }
  return false;
}

}  // namespace cli
}  // namespace kiln
