// kiln run MODEL INPUT... [--top-k K] [--json]
//
// Classifies image files (or the rows of CSV / .npy feature files) with a
// model through the runtime: the model's own preprocessing spec turns each
// input into an item with kiln_preprocess_image / kiln_preprocess_features
// (the very functions a device calls, docs/preprocessing.md), the items run
// in batches, and every item's decisions are printed.
#include <math.h>
#include <stb/stb_image.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/kiln.h"
#include "toolchain/aligned_bytes.h"
#include "toolchain/cli/command.h"
#include "toolchain/cli/json_writer.h"
#include "toolchain/cli/model_data.h"
#include "toolchain/data/csv_reader.h"
#include "toolchain/data/image_folder.h"
#include "toolchain/data/npy_reader.h"
#include "toolchain/serialize.h"

namespace kiln {
namespace cli {

const char kRunUsage[] =
    "usage: kiln run MODEL.kiln INPUT... [--top-k K] [--json]\n"
    "\n"
    "Classifies each INPUT with MODEL through the Kiln runtime. The model's\n"
    "preprocessing spec (see 'kiln inspect') turns every input into an item,\n"
    "with the runtime's own kiln_preprocess_image / kiln_preprocess_features\n"
    "(docs/preprocessing.md):\n"
    "  image models   each INPUT is an image file (PNG, JPEG, BMP, PGM/PPM,\n"
    "                 TGA, ...; decoded with stb_image), converted to the\n"
    "                 model's channels, resized, equalized, gamma-corrected\n"
    "                 and normalized as the spec says\n"
    "  feature models each INPUT is a CSV file whose rows are items (a first\n"
    "                 row that is not all numbers is a header) or a .npy\n"
    "                 array of shape [N, features] or [features]\n"
    "A model without a spec is fed as if it had the identity spec: an\n"
    "[H, W, 1] or [H, W, 3] input takes HxW gray or RGB images (pixel / 255),\n"
    "any other input feature rows as they are.\n"
    "\n"
    "Prints per item and head the top K classes (the model's labels, else\n"
    "class ids) with their softmax probabilities from the int8 logits, the\n"
    "head's confidence and the fallback flag (1: do not trust, fall back).\n"
    "A model without heads gets each output's K largest values.\n"
    "\n"
    "options:\n"
    "  --top-k K   classes shown per head (default: the head's top_k)\n"
    "  --json      print one JSON object instead of text\n"
    "  -h, --help  show this help\n"
    "\n"
    "exit status: 0 ok, 1 failure (bad model, an input that cannot be read,\n"
    "decoded or fitted to the model; the other inputs are still classified),\n"
    "2 bad usage\n";

namespace {

constexpr size_t kChunkItems = 64;  // items per kiln_invoke
constexpr uint64_t kMaxInputFileBytes = uint64_t{256} << 20;

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs;
  int32_t top_k = 0;  // 0: each head's policy top_k
  bool json = false;
};

int UsageError(const std::string& message) {
  fprintf(stderr, "kiln run: %s\n(run 'kiln run --help')\n", message.c_str());
  return kExitUsage;
}

int Failure(const std::string& message) {
  fprintf(stderr, "kiln run: %s\n", message.c_str());
  return kExitFailure;
}

int ParseArgs(const Args& args, RunArgs* out) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string value;
    bool missing = false;
    if (FlagValue(args, &i, "--top-k", &value, &missing)) {
      uint64_t k = 0;
      if (!ParseCount(value, 65535, &k)) {
        return UsageError("--top-k needs a count in [1, 65535], not '" + value +
                          "'");
      }
      out->top_k = static_cast<int32_t>(k);
    } else if (missing) {
      return UsageError(a + " needs a value");
    } else if (a == "--json") {
      out->json = true;
    } else if (a.size() > 1 && a[0] == '-') {
      return UsageError("unknown option '" + a + "'");
    } else if (out->model.empty()) {
      out->model = a;
    } else {
      out->inputs.push_back(a);
    }
  }
  if (out->model.empty()) return UsageError("missing MODEL");
  if (out->inputs.empty()) return UsageError("missing INPUT (image or CSV)");
  return kExitOk;
}

std::string StatusText(kiln_status status, const kiln_error* err) {
  std::string s = kiln_status_string(status);
  if (err != nullptr && err->message[0] != '\0')
    s += std::string(": ") + err->message;
  return s;
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool EndsWith(const std::string& s, const char* suffix) {
  const size_t n = strlen(suffix);
  return s.size() >= n && Lower(s.substr(s.size() - n)) == suffix;
}

// ------------------------------------------------------------------ model

// A verified model with a context for kChunkItems items per step.
struct LoadedModel {
  AlignedBytes bytes;
  std::vector<uint8_t> arena;
  kiln_context* ctx = nullptr;
  kiln_preprocess_spec spec;
  bool has_spec = false;  // false: the identity spec below
  kiln_tensor_info input;
};

bool LoadModel(const std::string& path, LoadedModel* m, std::string* error) {
  std::vector<uint8_t> raw;
  if (!ReadFileBytes(path, &raw, error)) return false;
  m->bytes = AlignedBytes(raw);
  kiln_error err;
  memset(&err, 0, sizeof(err));
  size_t need = 0;
  kiln_status s = kiln_arena_size(m->bytes.data(), m->bytes.size(), kChunkItems,
                                  &need, &err);
  if (s == KILN_OK) {
    m->arena.resize(need);
    s = kiln_init(m->bytes.data(), m->bytes.size(), m->arena.data(),
                  m->arena.size(), &m->ctx, &err);
  }
  if (s != KILN_OK) {
    *error = path + ": " + StatusText(s, &err);
    return false;
  }
  if (kiln_num_inputs(m->ctx) != 1) {
    *error = path + ": the model has " +
             std::to_string(kiln_num_inputs(m->ctx)) +
             " graph inputs; kiln run feeds models with one";
    return false;
  }
  kiln_get_input_info(m->ctx, 0, &m->input);
  s = kiln_get_preprocess_spec(m->ctx, &m->spec);
  m->has_spec = s == KILN_OK;
  if (m->has_spec) return true;
  // The identity spec: pixels / 255 for image-shaped inputs, the features
  // as they are for the rest.
  kiln_preprocess_spec& spec = m->spec;
  memset(&spec, 0, sizeof(spec));
  spec.gamma = 1.0f;
  spec.input = m->input;
  const kiln_tensor_info& in = m->input;
  if (in.rank == 3 && (in.dims[2] == 1 || in.dims[2] == 3)) {
    spec.layout = KILN_LAYOUT_NHWC;
    spec.channel_order =
        in.dims[2] == 1 ? KILN_CHANNELS_GRAY : KILN_CHANNELS_RGB;
    spec.height = in.dims[0];
    spec.width = in.dims[1];
  } else {
    spec.layout = KILN_LAYOUT_FLAT;
  }
  kiln_error check;
  s = kiln_check_preprocess_spec(&spec, &check);
  if (s != KILN_OK) {
    *error = path +
             ": the model has no preprocessing spec and its input "
             "does not take images or features as they are: " +
             StatusText(s, &check);
    return false;
  }
  return true;
}

int64_t FeatureCount(const kiln_tensor_info& in) {
  int64_t n = 1;
  for (int32_t d = 0; d < in.rank; ++d) n *= in.dims[d];
  return n;
}

// ----------------------------------------------------------------- inputs

// Receives the items of the inputs, one at a time, and errors.
struct ItemSink {
  virtual ~ItemSink() = default;
  // `item` holds one input item (spec.input.item_bytes).
  virtual void Item(const std::string& name, const uint8_t* item) = 0;
  virtual void Error(const std::string& name, const std::string& message) = 0;
};

void ReadImage(const LoadedModel& m, const std::string& path,
               std::vector<uint8_t>* item, ItemSink* sink) {
  std::vector<uint8_t> bytes;
  std::string error;
  if (!ReadFileBytes(path, kMaxInputFileBytes, &bytes, &error)) {
    sink->Error(path, error);
    return;
  }
  int w = 0, h = 0, comp = 0;
  if (bytes.empty() ||
      !stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w,
                             &h, &comp)) {
    const char* why =
        bytes.empty() ? "the file is empty" : stbi_failure_reason();
    sink->Error(path, std::string("cannot decode image: ") +
                          (why != nullptr ? why : "unknown format"));
    return;
  }
  if (w <= 0 || h <= 0 || comp < 1 || comp > 4 ||
      int64_t{w} * h > data::kMaxImagePixels) {
    sink->Error(path, "image header says " + std::to_string(w) + "x" +
                          std::to_string(h) + " with " + std::to_string(comp) +
                          " channels, which is not plausible");
    return;
  }
  const kiln_preprocess_spec& s = m.spec;
  if (s.resize == KILN_RESIZE_NONE && (h != s.height || w != s.width)) {
    sink->Error(path, "image is " + std::to_string(h) + "x" +
                          std::to_string(w) + " (HxW) but the model takes " +
                          std::to_string(s.height) + "x" +
                          std::to_string(s.width) +
                          " and its preprocessing does not resize");
    return;
  }
  int dw = 0, dh = 0, dc = 0;
  stbi_uc* pixels = stbi_load_from_memory(
      bytes.data(), static_cast<int>(bytes.size()), &dw, &dh, &dc, 0);
  if (pixels == nullptr || dw != w || dh != h || dc != comp) {
    const char* why = stbi_failure_reason();
    if (pixels != nullptr) stbi_image_free(pixels);
    sink->Error(path, std::string("cannot decode image: ") +
                          (why != nullptr ? why : "inconsistent header"));
    return;
  }
  const kiln_status st =
      kiln_preprocess_image_spec(&s, pixels, h, w, comp, item->data());
  stbi_image_free(pixels);
  if (st != KILN_OK) {
    sink->Error(path, "preprocessing failed: " + StatusText(st, nullptr));
    return;
  }
  sink->Item(path, item->data());
}

void EmitFeatures(const LoadedModel& m, const std::string& name,
                  const float* values, std::vector<uint8_t>* item,
                  ItemSink* sink) {
  const kiln_status st = kiln_preprocess_features_spec(
      &m.spec, values, static_cast<size_t>(FeatureCount(m.input)),
      item->data());
  if (st != KILN_OK) {
    sink->Error(name, "preprocessing failed: " + StatusText(st, nullptr));
    return;
  }
  sink->Item(name, item->data());
}

void ReadCsvRows(const LoadedModel& m, const std::string& path,
                 std::vector<uint8_t>* item, ItemSink* sink) {
  std::vector<uint8_t> bytes;
  std::string error;
  if (!ReadFileBytes(path, kMaxInputFileBytes, &bytes, &error)) {
    sink->Error(path, error);
    return;
  }
  const std::string text(bytes.begin(), bytes.end());
  data::CsvTokenizer csv(path, text);
  const int64_t k = FeatureCount(m.input);
  std::vector<std::string> fields;
  std::vector<float> values;
  int64_t line = 0;
  size_t rows = 0;
  bool first = true;
  for (;;) {
    const auto status = csv.Next(&fields, &line, &error);
    if (status == data::CsvTokenizer::Status::kEnd) break;
    if (status == data::CsvTokenizer::Status::kError) {
      sink->Error(path, error);
      return;
    }
    const std::string name = path + ":" + std::to_string(line);
    values.resize(fields.size());
    std::string why;
    size_t bad = fields.size();
    for (size_t i = 0; i < fields.size() && bad == fields.size(); ++i) {
      if (!data::ParseCsvFloat(fields[i], &values[i], &why)) bad = i;
    }
    const bool was_first = first;
    first = false;
    if (bad != fields.size()) {
      if (was_first) continue;  // a header
      sink->Error(name, "column " + std::to_string(bad + 1) + ": " + why);
      continue;
    }
    ++rows;
    if (static_cast<int64_t>(values.size()) != k) {
      sink->Error(name, std::to_string(values.size()) +
                            " values, the model takes " + std::to_string(k));
      continue;
    }
    EmitFeatures(m, name, values.data(), item, sink);
  }
  if (rows == 0) sink->Error(path, "no rows of numbers");
}

void ReadNpyRows(const LoadedModel& m, const std::string& path,
                 std::vector<uint8_t>* item, ItemSink* sink) {
  data::NpyArray array;
  std::string error;
  if (!data::ReadNpy(path, &array, &error)) {
    sink->Error(path, error);
    return;
  }
  const int64_t k = FeatureCount(m.input);
  const int64_t total = array.ElementCount();
  const bool one_row = array.shape.size() <= 1;
  const int64_t per_row =
      one_row ? total : total / std::max<int64_t>(array.shape[0], 1);
  if (total == 0 || per_row != k ||
      (!one_row && per_row * array.shape[0] != total)) {
    sink->Error(path, "array " + array.Describe() + " does not hold rows of " +
                          std::to_string(k) + " features");
    return;
  }
  const int64_t n = total / k;
  for (int64_t r = 0; r < n; ++r) {
    EmitFeatures(m, one_row ? path : path + "[" + std::to_string(r) + "]",
                 array.values.data() + r * k, item, sink);
  }
}

// ---------------------------------------------------------------- results

struct Ranked {
  int32_t index;
  double value;  // logit (int8 steps) or output value
};

// The k largest values, ties to the lower index (as the runtime's top-k).
std::vector<Ranked> TopK(const std::vector<double>& values, int32_t k) {
  std::vector<Ranked> all(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    all[i] = {static_cast<int32_t>(i), values[i]};
  }
  const size_t n = std::min<size_t>(all.size(), static_cast<size_t>(k));
  std::partial_sort(all.begin(), all.begin() + n, all.end(),
                    [](const Ranked& a, const Ranked& b) {
                      return a.value > b.value ||
                             (a.value == b.value && a.index < b.index);
                    });
  all.resize(n);
  return all;
}

// Element i of one item of an output, as a real value.
double OutputValue(const kiln_tensor_info& info, const uint8_t* item,
                   size_t i) {
  switch (info.dtype) {
    case KILN_FLOAT32: {
      float f;
      memcpy(&f, item + 4 * i, 4);
      return f;
    }
    case KILN_UINT8:
      return info.scale * (static_cast<int32_t>(item[i]) - info.zero_point);
    case KILN_INT8:
      return info.scale * (static_cast<int32_t>(static_cast<int8_t>(item[i])) -
                           info.zero_point);
    default:
      return 0.0;
  }
}

const char* ConfidenceName(kiln_confidence_kind kind) {
  switch (kind) {
    case KILN_CONFIDENCE_TOP1_PROB:
      return "TOP1_PROB";
    case KILN_CONFIDENCE_TOPK_PROB:
      return "TOPK_PROB";
    case KILN_CONFIDENCE_MARGIN:
      return "MARGIN";
  }
  return "?";
}

// The confidence as a real: a probability, or a margin in logit steps.
double ConfidenceReal(kiln_confidence_kind kind, int32_t confidence) {
  return kind == KILN_CONFIDENCE_MARGIN ? confidence : confidence / 65536.0;
}

struct HeadResult {
  std::string name;
  kiln_confidence_kind kind;
  double confidence;
  double threshold;
  bool fallback;
  struct Entry {
    int32_t id;
    std::string label;  // empty when the model has none
    double probability;
    int32_t logit;
  };
  std::vector<Entry> top;
};

struct OutputResult {
  std::string name;
  std::vector<Ranked> top;
};

// Runs the collected items and prints them.
class Runner : public ItemSink {
 public:
  Runner(const LoadedModel& m, const RunArgs& args, JsonWriter* json)
      : m_(m), args_(args), json_(json) {
    const int32_t outputs = kiln_num_outputs(m.ctx);
    output_info_.resize(outputs);
    for (int32_t o = 0; o < outputs; ++o) {
      kiln_get_output_info(m.ctx, o, &output_info_[o]);
    }
    heads_ = kiln_num_heads(m.ctx);
    inputs_.reserve(kChunkItems * m.input.item_bytes);
  }

  void Item(const std::string& name, const uint8_t* item) override {
    names_.push_back(name);
    inputs_.insert(inputs_.end(), item, item + m_.input.item_bytes);
    if (names_.size() == kChunkItems) Flush();
  }

  void Error(const std::string& name, const std::string& message) override {
    errors_.push_back({name, message});
    fprintf(stderr, "kiln run: %s: %s\n", name.c_str(), message.c_str());
  }

  // Runs and prints what is pending. False when the runtime refuses.
  bool Flush() {
    const size_t n = names_.size();
    if (n == 0) return ok_;
    std::vector<std::vector<uint8_t>> outputs(output_info_.size());
    std::vector<void*> output_ptrs;
    for (size_t o = 0; o < outputs.size(); ++o) {
      outputs[o].resize(n * output_info_[o].item_bytes);
      output_ptrs.push_back(outputs[o].data());
    }
    std::vector<kiln_decision> decisions(n * static_cast<size_t>(heads_));
    const void* inputs[1] = {inputs_.data()};
    const kiln_status s = kiln_invoke(m_.ctx, n, inputs, output_ptrs.data(),
                                      heads_ > 0 ? decisions.data() : nullptr);
    if (s != KILN_OK) {
      fprintf(stderr, "kiln run: kiln_invoke: %s\n", kiln_status_string(s));
      ok_ = false;
    } else {
      for (size_t i = 0; i < n; ++i) {
        Print(names_[i], i, outputs, decisions);
      }
      items_ += n;
    }
    names_.clear();
    inputs_.clear();
    return ok_;
  }

  size_t items() const { return items_; }
  bool ok() const { return ok_ && errors_.empty(); }
  void WriteErrors() {
    if (json_ == nullptr) return;
    json_->EndArray();
    json_->Key("errors").BeginArray();
    for (const auto& [name, message] : errors_) {
      json_->BeginObject().Key("input").String(name);
      json_->Key("error").String(message).EndObject();
    }
    json_->EndArray();
  }

 private:
  HeadResult Head(int32_t h, size_t item,
                  const std::vector<std::vector<uint8_t>>& outputs,
                  const std::vector<kiln_decision>& decisions) const {
    kiln_head_info info;
    kiln_get_head_info(m_.ctx, h, &info);
    const kiln_decision& d = decisions[item * heads_ + h];
    const kiln_tensor_info& out = output_info_[info.output_index];
    const uint8_t* logits =
        outputs[info.output_index].data() + item * out.item_bytes;
    // Softmax over the dequantized logits, in double.
    std::vector<double> steps(info.num_classes);
    double max_step = -1e9;
    for (int32_t c = 0; c < info.num_classes; ++c) {
      steps[c] = static_cast<int8_t>(logits[c]);
      max_step = std::max(max_step, steps[c]);
    }
    double sum = 0.0;
    for (int32_t c = 0; c < info.num_classes; ++c) {
      sum += exp(out.scale * (steps[c] - max_step));
    }
    HeadResult r;
    r.name = info.name != nullptr ? info.name : "";
    r.kind = info.confidence;
    r.confidence = ConfidenceReal(info.confidence, d.confidence);
    r.threshold = ConfidenceReal(info.confidence, info.threshold);
    r.fallback = d.fallback != 0;
    const int32_t k = args_.top_k > 0 ? args_.top_k : info.top_k;
    for (const Ranked& c : TopK(steps, k)) {
      const char* label = kiln_head_label(m_.ctx, h, c.index);
      r.top.push_back({c.index, label != nullptr ? label : "",
                       exp(out.scale * (c.value - max_step)) / sum,
                       static_cast<int32_t>(c.value)});
    }
    return r;
  }

  OutputResult Output(int32_t o, size_t item,
                      const std::vector<std::vector<uint8_t>>& outputs) const {
    const kiln_tensor_info& info = output_info_[o];
    const size_t count = info.item_bytes / (info.dtype == KILN_FLOAT32 ? 4 : 1);
    std::vector<double> values(count);
    const uint8_t* data = outputs[o].data() + item * info.item_bytes;
    for (size_t i = 0; i < count; ++i) values[i] = OutputValue(info, data, i);
    OutputResult r;
    r.name = info.name != nullptr ? info.name : "";
    r.top = TopK(values, args_.top_k > 0 ? args_.top_k : 5);
    return r;
  }

  void Print(const std::string& name, size_t item,
             const std::vector<std::vector<uint8_t>>& outputs,
             const std::vector<kiln_decision>& decisions) {
    std::vector<HeadResult> heads;
    for (int32_t h = 0; h < heads_; ++h) {
      heads.push_back(Head(h, item, outputs, decisions));
    }
    std::vector<OutputResult> plain;
    if (heads_ == 0) {
      for (int32_t o = 0; o < static_cast<int32_t>(output_info_.size()); ++o) {
        plain.push_back(Output(o, item, outputs));
      }
    }
    if (json_ != nullptr) {
      PrintJson(name, heads, plain);
    } else {
      PrintText(name, heads, plain);
    }
  }

  void PrintText(const std::string& name, const std::vector<HeadResult>& heads,
                 const std::vector<OutputResult>& plain) const {
    printf("%s\n", name.c_str());
    for (const HeadResult& h : heads) {
      if (h.kind == KILN_CONFIDENCE_MARGIN) {
        printf(
            "  %s: fallback %d, confidence %.0f steps (MARGIN, threshold "
            "%.0f)\n",
            h.name.c_str(), h.fallback ? 1 : 0, h.confidence, h.threshold);
      } else {
        printf("  %s: fallback %d, confidence %.4f (%s, threshold %.4f)\n",
               h.name.c_str(), h.fallback ? 1 : 0, h.confidence,
               ConfidenceName(h.kind), h.threshold);
      }
      for (size_t i = 0; i < h.top.size(); ++i) {
        const HeadResult::Entry& e = h.top[i];
        const std::string label =
            e.label.empty() ? "class " + std::to_string(e.id)
                            : e.label + " (" + std::to_string(e.id) + ")";
        printf("    %zu. %-24s p %.4f  logit %d\n", i + 1, label.c_str(),
               e.probability, e.logit);
      }
    }
    for (const OutputResult& o : plain) {
      printf("  output %s:", o.name.c_str());
      for (const Ranked& r : o.top) printf("  [%d] %.6g", r.index, r.value);
      printf("\n");
    }
  }

  void PrintJson(const std::string& name, const std::vector<HeadResult>& heads,
                 const std::vector<OutputResult>& plain) const {
    JsonWriter& j = *json_;
    j.BeginObject().Key("input").String(name);
    j.Key("heads").BeginArray();
    for (const HeadResult& h : heads) {
      j.BeginObject().Key("name").String(h.name);
      j.Key("fallback").Bool(h.fallback);
      j.Key("confidence").Double(h.confidence);
      j.Key("confidence_kind").String(ConfidenceName(h.kind));
      j.Key("threshold").Double(h.threshold);
      j.Key("top").BeginArray();
      for (const HeadResult::Entry& e : h.top) {
        j.BeginObject().Key("class").Int(e.id);
        if (!e.label.empty()) j.Key("label").String(e.label);
        j.Key("probability").Double(e.probability);
        j.Key("logit").Int(e.logit).EndObject();
      }
      j.EndArray().EndObject();
    }
    j.EndArray();
    if (!plain.empty()) {
      j.Key("outputs").BeginArray();
      for (const OutputResult& o : plain) {
        j.BeginObject().Key("name").String(o.name);
        j.Key("top").BeginArray();
        for (const Ranked& r : o.top) {
          j.BeginObject().Key("index").Int(r.index);
          j.Key("value").Double(r.value).EndObject();
        }
        j.EndArray().EndObject();
      }
      j.EndArray();
    }
    j.EndObject();
  }

  const LoadedModel& m_;
  const RunArgs& args_;
  JsonWriter* json_;
  std::vector<kiln_tensor_info> output_info_;
  int32_t heads_ = 0;
  std::vector<std::string> names_;
  std::vector<uint8_t> inputs_;
  std::vector<std::pair<std::string, std::string>> errors_;
  size_t items_ = 0;
  bool ok_ = true;
};

int Run(const RunArgs& args) {
  LoadedModel m;
  std::string error;
  if (!LoadModel(args.model, &m, &error)) return Failure(error);
  const bool images = m.spec.layout != KILN_LAYOUT_FLAT;
  if (!m.has_spec) {
    fprintf(stderr,
            "kiln run: note: %s has no preprocessing spec; feeding %s as "
            "they are\n",
            args.model.c_str(),
            images ? "images (pixel / 255)" : "feature rows");
  }
  std::unique_ptr<JsonWriter> json;
  if (args.json) {
    json = std::make_unique<JsonWriter>(stdout);
    json->BeginObject().Key("model").String(args.model);
    json->Key("preprocess").String(m.has_spec ? "model" : "identity");
    json->Key("items").BeginArray();
  }
  Runner runner(m, args, json.get());
  std::vector<uint8_t> item(m.input.item_bytes);
  for (const std::string& path : args.inputs) {
    if (images) {
      ReadImage(m, path, &item, &runner);
    } else if (EndsWith(path, ".npy")) {
      ReadNpyRows(m, path, &item, &runner);
    } else {
      ReadCsvRows(m, path, &item, &runner);
    }
  }
  runner.Flush();
  if (json) {
    runner.WriteErrors();
    json->EndObject();
    json.reset();  // ends the document
  }
  return runner.ok() ? kExitOk : kExitFailure;
}

}  // namespace

int RunRun(const Args& args) {
  RunArgs parsed;
  const int usage = ParseArgs(args, &parsed);
  if (usage != kExitOk) return usage;
  try {
    return Run(parsed);
  } catch (const std::exception& e) {
    return Failure(std::string("internal error: ") + e.what());
  }
}

}  // namespace cli
}  // namespace kiln
