// kiln import MODEL.onnx --out MODEL.kiln [--calib PATH] [--eval PATH] ...
//
// ONNX in, verified INT8 Kiln model out: load + check + lower
// (onnx_import.h), calibrate float graphs on --calib items
// (import_calibration.h), optionally calibrate the heads' fallback
// thresholds, compile (import_compile.h), and report the INT8 model against
// the float graph on calibration-disjoint --eval items.
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "toolchain/atomic_file.h"
#include "toolchain/cli/command.h"
#include "toolchain/cli/model_data.h"
#include "toolchain/data/idx_reader.h"
#include "toolchain/data/npy_reader.h"
#include "toolchain/onnx/import_calibration.h"
#include "toolchain/onnx/import_compile.h"
#include "toolchain/onnx/import_evaluation.h"
#include "toolchain/onnx/import_inputs.h"
#include "toolchain/onnx/onnx_import.h"
#include "toolchain/train/fallback_calibration.h"
#include "toolchain/train/quantize_model.h"

namespace kiln {
namespace cli {

const char kImportUsage[] =
    "usage: kiln import MODEL.onnx --out MODEL.kiln [--calib PATH]\n"
    "                   [--calib-count N] [--calibration minmax|kl|\n"
    "                   percentile[:P]] [--eval PATH] [--eval-count N]\n"
    "                   [image preprocessing] [head options] [--name NAME]\n"
    "                   [--version SEMVER]\n"
    "\n"
    "Imports an ONNX model (PyTorch, scikit-learn's ai.onnx.ml linear\n"
    "models, QDQ INT8 graphs) into a verified INT8 Kiln model. The ONNX\n"
    "checker and shape inference run first; every node is lowered to Kiln's\n"
    "operators or the import fails naming the node, its op type and why\n"
    "(docs/onnx.md lists what is supported).\n"
    "\n"
    "Float graphs are quantized with activation ranges calibrated on --calib\n"
    "items; QDQ graphs keep the scales and int8 weights they carry (--calib\n"
    "is then optional). Items (--calib, --eval) come from:\n"
    "  FILE.npy  [N, ...] as the ONNX model takes them (NCHW images are\n"
    "            transposed to Kiln's NHWC)\n"
    "  FILE.csv  one item per row (a non-numeric first row is a header)\n"
    "  *idx3-ubyte[.gz]  IDX gray images (MNIST, Fashion-MNIST)\n"
    "  DIR       image files, decoded and preprocessed by the runtime with\n"
    "            the options below; class sub-folders give labels\n"
    "Feature models keep scikit-learn's Scaler/Normalizer as the model's\n"
    "preprocessing, applied by the runtime.\n"
    "\n"
    "options:\n"
    "  --out FILE            the .kiln file to write (atomically; never an\n"
    "                        input)\n"
    "  --calib PATH          calibration items\n"
    "  --calib-count N       use at most N calibration items (default 256)\n"
    "  --calibration M       activation ranges: minmax (default), kl, or\n"
    "                        percentile[:P] (P default 99.99)\n"
    "  --eval PATH           evaluation items, disjoint from --calib: prints\n"
    "                        INT8 vs float agreement and error per output\n"
    "  --eval-count N        use at most N evaluation items (default 1000)\n"
    "  --eval-labels FILE    class ids of the --eval items (1-D integer .npy\n"
    "                        or IDX1 labels): also report\n"
    "                        int8 and float top-1 accuracy\n"
    "  --eval-reference P    another runtime's outputs on the --eval items,\n"
    "                        P<output name>.npy each (e.g. ONNX Runtime's):\n"
    "                        report the INT8 outputs' distance in steps\n"
    "  --eval-skip N         skip the first N evaluation items (use one file\n"
    "                        for both: --calib-count N --eval-skip N)\n"
    "image preprocessing (models with an image input; stored in the model,\n"
    "applied by kiln_preprocess_image; docs/preprocessing.md):\n"
    "  --resize bilinear|nearest  resize any image to the model's size\n"
    "  --channels rgb|bgr|gray    the model's channel order (default rgb, or\n"
    "                        gray for one channel)\n"
    "  --mean a,b,c  --std a,b,c  real = (v / 255 - mean) / std per channel\n"
    "                        (defaults 0 and 1)\n"
    "  --equalize            per-channel histogram equalization\n"
    "  --gamma G             v = 255 (v / 255)^G (default 1: off)\n"
    "heads (one per classifier output: a Softmax/Sigmoid output's logits or\n"
    "a LinearClassifier):\n"
    "  --head OUTPUT         also take graph output OUTPUT (repeatable, or\n"
    "                        'all') as a classifier's logits and give it a\n"
    "                        head (outputs without Softmax/Sigmoid)\n"
    "  --no-heads            no decision heads\n"
    "  --top-k K             candidates per head (default min(5, classes))\n"
    "  --confidence KIND     top1 (default), topk or margin\n"
    "  --threshold T         fallback when the confidence is below T\n"
    "  --fallback-target A   calibrate T (and k up to --top-k) on the --calib\n"
    "                        items so that accepted items reach top-k\n"
    "                        accuracy A, against their labels (image\n"
    "                        folders) or else the float model's top-1\n"
    "  --labels FILE         class labels, one per line, for every head\n"
    "  --name NAME --version SEMVER   model metadata\n"
    "  -h, --help            show this help\n"
    "\n"
    "exit status: 0 ok, 1 failure (unsupported or malformed model, bad data,\n"
    "I/O), 2 bad usage\n";

namespace {

using onnx_import::ImportedGraph;
using onnx_import::ImportItems;

struct ImportArgs {
  std::string model, out, calib, eval;
  uint64_t calib_count = 256, eval_count = 1000, eval_skip = 0;
  train::CalibrationParams calibration;
  // Image preprocessing.
  bool image_flags = false;
  ResizeMode resize = ResizeMode::kNone;
  ChannelOrder channels = ChannelOrder::kNone;
  std::vector<float> mean, std;
  bool equalize = false;
  float gamma = 1.0f;
  // Heads.
  bool heads = true;
  int32_t top_k = 0;  // 0: default
  ConfidenceKind confidence = ConfidenceKind::kTop1Prob;
  float threshold = 0.0f;
  double fallback_target = 0.0;  // 0: no calibration
  std::string labels;
  std::vector<std::string> head_outputs;  // --head: outputs taken as logits
  std::string eval_labels;
  std::string eval_reference;  // prefix of <output>.npy files
  std::string name, version = "1.0.0";
};

int UsageError(const std::string& message) {
  fprintf(stderr, "kiln import: %s\n(run 'kiln import --help')\n",
          message.c_str());
  return kExitUsage;
}

int Failure(const std::string& message) {
  fprintf(stderr, "kiln import: %s\n", message.c_str());
  return kExitFailure;
}

bool ParseFloatText(const std::string& text, float* value) {
  if (text.empty()) return false;
  char* end = nullptr;
  const float v = strtof(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) return false;
  *value = v;
  return true;
}

bool ParseFloatList(const std::string& text, std::vector<float>* out) {
  out->clear();
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    float v = 0;
    if (!ParseFloatText(part, &v)) return false;
    out->push_back(v);
  }
  return !out->empty() && out->size() <= 4;
}

int ParseArgs(const Args& args, ImportArgs* out) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string v;
    bool missing = false;
    auto flag = [&](const char* name) {
      return !missing && FlagValue(args, &i, name, &v, &missing);
    };
    if (flag("--out")) {
      out->out = v;
    } else if (flag("--calib")) {
      out->calib = v;
    } else if (flag("--eval")) {
      out->eval = v;
    } else if (flag("--calib-count")) {
      if (!ParseCount(v, 1000000, &out->calib_count))
        return UsageError("--calib-count: not a count in [1, 1000000]: " + v);
    } else if (flag("--eval-count")) {
      if (!ParseCount(v, 1000000, &out->eval_count))
        return UsageError("--eval-count: not a count in [1, 1000000]: " + v);
    } else if (flag("--eval-skip")) {
      if (v != "0" && !ParseCount(v, 100000000, &out->eval_skip))
        return UsageError("--eval-skip: not a count: " + v);
    } else if (flag("--calibration")) {
      if (v == "minmax") {
        out->calibration.method = train::CalibrationMethod::kMinMax;
      } else if (v == "kl") {
        out->calibration.method = train::CalibrationMethod::kKl;
      } else if (v.rfind("percentile", 0) == 0) {
        out->calibration.method = train::CalibrationMethod::kPercentile;
        if (v.size() > 10) {
          float p = 0;
          if (v[10] != ':' || !ParseFloatText(v.substr(11), &p) || p <= 50 ||
              p > 100)
            return UsageError(
                "--calibration percentile:P needs P in (50, 100]");
          out->calibration.percentile = p;
        }
      } else {
        return UsageError("--calibration: minmax, kl or percentile[:P], not " +
                          v);
      }
    } else if (flag("--resize")) {
      out->image_flags = true;
      if (v == "bilinear")
        out->resize = ResizeMode::kBilinear;
      else if (v == "nearest")
        out->resize = ResizeMode::kNearest;
      else
        return UsageError("--resize: bilinear or nearest, not " + v);
    } else if (flag("--channels")) {
      out->image_flags = true;
      if (v == "rgb")
        out->channels = ChannelOrder::kRGB;
      else if (v == "bgr")
        out->channels = ChannelOrder::kBGR;
      else if (v == "gray")
        out->channels = ChannelOrder::kGray;
      else
        return UsageError("--channels: rgb, bgr or gray, not " + v);
    } else if (flag("--mean")) {
      out->image_flags = true;
      if (!ParseFloatList(v, &out->mean))
        return UsageError("--mean: 1 to 4 comma-separated numbers: " + v);
    } else if (flag("--std")) {
      out->image_flags = true;
      if (!ParseFloatList(v, &out->std))
        return UsageError("--std: 1 to 4 comma-separated numbers: " + v);
      for (float s : out->std)
        if (s == 0) return UsageError("--std: a standard deviation of 0");
    } else if (flag("--gamma")) {
      out->image_flags = true;
      if (!ParseFloatText(v, &out->gamma) || out->gamma <= 0 || out->gamma > 10)
        return UsageError("--gamma: a number in (0, 10]: " + v);
    } else if (flag("--top-k")) {
      uint64_t k = 0;
      if (!ParseCount(v, KILN_MAX_TOP_K, &k))
        return UsageError("--top-k: 1.." + std::to_string(KILN_MAX_TOP_K));
      out->top_k = int32_t(k);
    } else if (flag("--confidence")) {
      if (v == "top1")
        out->confidence = ConfidenceKind::kTop1Prob;
      else if (v == "topk")
        out->confidence = ConfidenceKind::kTopKProb;
      else if (v == "margin")
        out->confidence = ConfidenceKind::kMargin;
      else
        return UsageError("--confidence: top1, topk or margin, not " + v);
    } else if (flag("--threshold")) {
      if (!ParseFloatText(v, &out->threshold) || out->threshold < 0)
        return UsageError("--threshold: a number >= 0: " + v);
    } else if (flag("--fallback-target")) {
      float t = 0;
      if (!ParseFloatText(v, &t) || t <= 0 || t > 1)
        return UsageError("--fallback-target: an accuracy in (0, 1]: " + v);
      out->fallback_target = t;
    } else if (flag("--labels")) {
      out->labels = v;
    } else if (flag("--head")) {
      out->head_outputs.push_back(v);
    } else if (flag("--eval-labels")) {
      out->eval_labels = v;
    } else if (flag("--eval-reference")) {
      out->eval_reference = v;
    } else if (flag("--name")) {
      out->name = v;
    } else if (flag("--version")) {
      out->version = v;
    } else if (missing) {
      return UsageError(a + " needs a value");
    } else if (a == "--equalize") {
      out->image_flags = true;
      out->equalize = true;
    } else if (a == "--no-heads") {
      out->heads = false;
    } else if (a.size() > 1 && a[0] == '-') {
      return UsageError("unknown option '" + a + "'");
    } else if (out->model.empty()) {
      out->model = a;
    } else {
      return UsageError("more than one MODEL ('" + out->model + "', '" + a +
                        "')");
    }
  }
  if (out->model.empty()) return UsageError("missing MODEL.onnx");
  if (out->out.empty()) return UsageError("missing --out FILE");
  for (const std::string& input :
       {out->model, out->calib, out->eval, out->labels, out->eval_labels}) {
    if (SameFile(out->out, input) || out->out == input)
      return UsageError("--out '" + out->out + "' would overwrite the input '" +
                        input + "'");
  }
  if (out->fallback_target > 0 && out->calib.empty())
    return UsageError("--fallback-target needs --calib items");
  if (!out->eval_reference.empty() && out->eval.empty())
    return UsageError("--eval-reference needs --eval items");
  if (!out->eval_labels.empty() && out->eval.empty())
    return UsageError("--eval-labels needs --eval items");
  if (!out->head_outputs.empty() && !out->heads)
    return UsageError("--head and --no-heads contradict each other");
  if (out->fallback_target > 0 && !out->heads)
    return UsageError("--fallback-target needs heads (drop --no-heads)");
  return kExitOk;
}

bool ReadLabels(const std::string& path, std::vector<std::string>* labels,
                std::string* error) {
  std::ifstream f(path);
  if (!f) {
    *error = path + ": cannot open";
    return false;
  }
  std::string line;
  while (std::getline(f, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    labels->push_back(line);
  }
  if (labels->empty()) {
    *error = path + ": no labels";
    return false;
  }
  return true;
}

// The model's preprocessing: the graph's own (feature models) or the image
// flags (image models). Flags on a feature model are a usage error.
bool MergePreprocess(const ImportArgs& args, const ImportedGraph& g,
                     std::optional<PreprocessDef>* out, std::string* error) {
  *out = g.preprocess;
  const std::vector<int32_t>& shape = g.values[size_t(g.input)].shape;
  const bool image = shape.size() == 3;
  if (!args.image_flags) {
    if (image && !out->has_value()) {
      // Record the image layout even without flags, so `kiln run` can feed
      // image files of the model's size.
      PreprocessDef p;
      p.layout = Layout::kNHWC;
      p.channel_order =
          shape[2] == 1 ? ChannelOrder::kGray : ChannelOrder::kRGB;
      p.height = shape[0];
      p.width = shape[1];
      *out = p;
    }
    return true;
  }
  if (!image) {
    *error = "image preprocessing options given, but the model's input is [" +
             std::to_string(shape.empty() ? 0 : shape[0]) +
             "...], not an image";
    return false;
  }
  if (out->has_value()) {
    *error = "the graph already carries its own preprocessing";
    return false;
  }
  const int32_t c = shape[2];
  PreprocessDef p;
  p.layout = Layout::kNHWC;
  p.channel_order = args.channels != ChannelOrder::kNone ? args.channels
                    : c == 1                             ? ChannelOrder::kGray
                                                         : ChannelOrder::kRGB;
  p.height = shape[0];
  p.width = shape[1];
  p.resize = args.resize;
  p.equalize = args.equalize;
  p.gamma = args.gamma;
  auto per_channel = [&](const std::vector<float>& v, const char* what,
                         std::vector<float>* dst) {
    if (v.empty()) return true;
    if (v.size() == 1) {
      dst->assign(size_t(c), v[0]);
      return true;
    }
    if (int32_t(v.size()) != c) {
      *error = std::string("--") + what + " has " + std::to_string(v.size()) +
               " values, the model has " + std::to_string(c) + " channels";
      return false;
    }
    *dst = v;
    return true;
  };
  // The default of the one left out (mean 0, std 1) is filled in below.
  if (!per_channel(args.mean, "mean", &p.mean) ||
      !per_channel(args.std, "std", &p.std))
    return false;
  if (p.mean.empty() && !p.std.empty()) p.mean.assign(size_t(c), 0.0f);
  if (p.std.empty() && !p.mean.empty()) p.std.assign(size_t(c), 1.0f);
  *out = p;
  return true;
}

std::string OpSummary(const ImportedGraph& g) {
  std::map<std::string, int> counts;
  for (const auto& op : g.ops)
    ++counts[onnx_import::ImportedOpKindName(op.kind)];
  std::string s;
  for (const auto& [k, n] : counts)
    s += (s.empty() ? "" : ", ") + k + " " + std::to_string(n);
  return s;
}

std::string ShapeText(const std::vector<int32_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

// Sets a calibrated policy per head output from the int8 logits of the
// calibration items (the runtime's own confidences; fallback_calibration.h).
bool CalibrateHeads(const ImportArgs& args, const ImportedGraph& g,
                    const ImportItems& calib, const std::vector<uint8_t>& model,
                    const onnx_import::ImportCompileLayout& layout,
                    onnx_import::ImportCompileOptions* options,
                    std::string* error) {
  train::KilnRunner runner;
  if (!runner.Load(model, 16, error)) return false;
  std::vector<std::vector<uint8_t>> logits(g.outputs.size());
  std::vector<std::vector<uint8_t>> outputs;
  for (size_t first = 0; first < calib.count; first += 16) {
    const size_t n = std::min<size_t>(16, calib.count - first);
    if (!runner.Run(calib.values.data() + first * calib.item_elements, n,
                    &outputs, nullptr, error))
      return false;
    for (size_t o = 0; o < g.outputs.size(); ++o) {
      const int32_t lo = layout.outputs[o].logits_output;
      if (layout.outputs[o].head < 0 || lo < 0) continue;
      logits[o].insert(logits[o].end(), outputs[size_t(lo)].begin(),
                       outputs[size_t(lo)].end());
    }
  }
  for (size_t o = 0; o < g.outputs.size(); ++o) {
    const onnx_import::ImportedOutputLayout& lo = layout.outputs[o];
    if (lo.head < 0 || lo.logits_output < 0) continue;
    std::vector<int32_t> labels = calib.labels;
    const char* against = "labels";
    if (labels.empty()) {
      if (!onnx_import::FloatTop1(g, o, calib, &labels, error)) return false;
      against = "the float model's top-1";
    }
    const kiln_tensor_info info = runner.output_info(lo.logits_output);
    train::FallbackOptions fo;
    fo.target = args.fallback_target;
    fo.confidence = args.confidence;
    fo.max_k = args.top_k > 0 ? args.top_k : 5;
    train::HeadCalibration hc;
    if (!train::CalibrateFallback(
            reinterpret_cast<const int8_t*>(logits[o].data()), calib.count,
            int32_t(info.item_bytes), info.scale, info.zero_point, labels, fo,
            &hc, error))
      return false;
    options->output_policies[g.outputs[o].name] = hc.policy;
    printf(
        "fallback '%s': top-%d, threshold %.4g, coverage %.2f%%, accepted "
        "accuracy %.2f%% against %s on %zu calibration items%s\n",
        g.outputs[o].name.c_str(), hc.policy.top_k,
        double(hc.policy.threshold_real), 100.0 * hc.coverage,
        100.0 * hc.accuracy, against, calib.count,
        hc.target_met ? "" : " (target NOT met)");
  }
  return true;
}

// Class ids for the evaluation items: a 1-D integer .npy or an IDX1 labels
// file (*idx1-ubyte[.gz]), one id per item (the same skip applies).
bool ReadEvalLabels(const std::string& path, uint64_t skip, ImportItems* eval,
                    std::string* error) {
  std::vector<int64_t> ids;
  const bool idx = path.find("idx1-ubyte") != std::string::npos;
  if (idx) {
    std::vector<uint32_t> dims;
    std::vector<uint8_t> bytes;
    if (!data::ReadIdxUint8(path, 1, &dims, &bytes, error)) return false;
    ids.assign(bytes.begin(), bytes.end());
  } else {
    data::NpyArray a;
    if (!data::ReadNpy(path, &a, error)) return false;
    if (a.integers.empty() || a.shape.size() != 1) {
      *error = path + ": need a 1-D integer array, got " + a.Describe();
      return false;
    }
    ids = a.integers;
  }
  if (ids.size() < skip + eval->count) {
    *error = path + ": " + std::to_string(ids.size()) + " labels for " +
             std::to_string(skip + eval->count) + " items";
    return false;
  }
  eval->labels.clear();
  for (size_t i = 0; i < eval->count; ++i) {
    const int64_t v = ids[skip + i];
    if (v < 0 || v > INT32_MAX) {
      *error = path + ": label " + std::to_string(v) + " at " +
               std::to_string(skip + i);
      return false;
    }
    eval->labels.push_back(int32_t(v));
  }
  return true;
}

// PREFIX<output>.npy per graph output (missing files: no reference for that
// output), rows [skip, skip + count).
bool ReadReference(const std::string& prefix, const ImportedGraph& g,
                   uint64_t skip, size_t count,
                   std::vector<std::vector<float>>* out, std::string* error) {
  out->assign(g.outputs.size(), {});
  size_t found = 0;
  for (size_t o = 0; o < g.outputs.size(); ++o) {
    const std::string path = prefix + g.outputs[o].name + ".npy";
    if (!std::filesystem::exists(path)) continue;
    data::NpyArray a;
    if (!data::ReadNpy(path, &a, error)) return false;
    if (a.shape.empty() || uint64_t(a.shape[0]) < skip + count) {
      *error = path + ": " + a.Describe() + " has fewer than " +
               std::to_string(skip + count) + " rows";
      return false;
    }
    const size_t per_row = size_t(a.ElementCount() / a.shape[0]);
    (*out)[o].assign(a.values.begin() + long(skip * per_row),
                     a.values.begin() + long((skip + count) * per_row));
    ++found;
  }
  if (found == 0) {
    *error = "no " + prefix + "<output>.npy file for any output";
    return false;
  }
  return true;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

}  // namespace

int RunImport(const Args& argv) {
  ImportArgs args;
  if (int rc = ParseArgs(argv, &args); rc != kExitOk) return rc;
  std::string error;
  auto t0 = std::chrono::steady_clock::now();

  ImportedGraph g;
  if (!onnx_import::ImportOnnxFile(args.model, &g, &error))
    return Failure(args.model + ": " + error);
  printf("%s: %s, opset %lld, input %s%s, %zu ops (%s), %s graph\n",
         args.model.c_str(), g.producer.empty() ? "?" : g.producer.c_str(),
         (long long)g.opset, ShapeText(g.values[size_t(g.input)].shape).c_str(),
         g.input_was_nchw ? " (NHWC; ONNX NCHW)" : "", g.ops.size(),
         OpSummary(g).c_str(), g.quantized ? "QDQ int8" : "float");

  for (const std::string& name : args.head_outputs) {
    bool found = false;
    for (auto& o : g.outputs) {
      if (name != "all" && name != o.name) continue;
      found = true;
      if (o.logits < 0) o.logits = o.value;
    }
    if (!found)
      return UsageError("--head: the model has no output '" + name + "'");
  }

  onnx_import::ImportCompileOptions options;
  options.model_name = args.name.empty()
                           ? std::filesystem::path(args.model).stem().string()
                           : args.name;
  options.model_version = args.version;
  options.created_by = "kiln import";
  options.properties["source"] =
      std::filesystem::path(args.model).filename().string();
  options.heads = args.heads;
  if (args.top_k > 0 || args.threshold > 0 ||
      args.confidence != ConfidenceKind::kTop1Prob) {
    DecisionPolicy p;
    p.top_k = args.top_k > 0 ? args.top_k : 5;
    p.confidence = args.confidence;
    p.threshold_real = args.threshold;
    options.policy = p;
  }
  if (!args.labels.empty()) {
    std::vector<std::string> labels;
    if (!ReadLabels(args.labels, &labels, &error)) return Failure(error);
    for (const auto& o : g.outputs)
      if (o.logits >= 0) options.labels[o.name] = labels;
  }
  if (!MergePreprocess(args, g, &options.preprocess, &error))
    return UsageError(error);

  ImportItems calib;
  std::vector<train::Range> ranges;
  if (!args.calib.empty()) {
    if (!onnx_import::LoadImportItems(args.calib, g, options.preprocess, 0,
                                      args.calib_count, &calib, &error))
      return Failure("--calib: " + error);
  }
  if (!g.quantized) {
    if (args.calib.empty())
      return Failure(
          "a float model needs calibration items (--calib FILE.npy|FILE.csv|"
          "DIR) to choose its int8 activation ranges");
    t0 = std::chrono::steady_clock::now();
    if (!onnx_import::CalibrateImportedGraph(g, calib.values.data(),
                                             calib.count, args.calibration,
                                             &ranges, &error))
      return Failure("calibration: " + error);
    printf("calibration: %zu items from %s in %.1f s\n", calib.count,
           args.calib.c_str(), Seconds(t0));
  }

  std::vector<uint8_t> bytes;
  onnx_import::ImportCompileLayout layout;
  const std::vector<train::Range>* r = g.quantized ? nullptr : &ranges;
  if (!onnx_import::CompileImportedGraph(g, r, options, &bytes, &layout,
                                         &error))
    return Failure("compile: " + error);
  if (args.fallback_target > 0) {
    if (!CalibrateHeads(args, g, calib, bytes, layout, &options, &error))
      return Failure("fallback calibration: " + error);
    if (!onnx_import::CompileImportedGraph(g, r, options, &bytes, &layout,
                                           &error))
      return Failure("compile: " + error);
  }
  if (!WriteFileAtomic(args.out, bytes, &error)) return Failure(error);
  int heads = 0;
  for (const auto& o : layout.outputs) heads += o.head >= 0;
  printf("wrote %s: %zu bytes, %d head%s\n", args.out.c_str(), bytes.size(),
         heads, heads == 1 ? "" : "s");

  if (!args.eval.empty()) {
    ImportItems eval;
    if (!onnx_import::LoadImportItems(args.eval, g, options.preprocess,
                                      args.eval_skip, args.eval_count, &eval,
                                      &error))
      return Failure("--eval: " + error);
    if (!args.eval_labels.empty() &&
        !ReadEvalLabels(args.eval_labels, args.eval_skip, &eval, &error))
      return Failure("--eval-labels: " + error);
    std::vector<std::vector<float>> reference;
    if (!args.eval_reference.empty() &&
        !ReadReference(args.eval_reference, g, args.eval_skip, eval.count,
                       &reference, &error))
      return Failure("--eval-reference: " + error);
    onnx_import::ImportEvaluation report;
    if (!onnx_import::EvaluateImport(g, bytes, layout, eval, &report, &error,
                                     reference.empty() ? nullptr : &reference))
      return Failure("evaluation: " + error);
    printf("evaluation on %zu items of %s (int8 runtime vs float graph):\n",
           eval.count, args.eval.c_str());
    for (const auto& e : report.outputs) {
      printf(
          "  %-16s max |error| %.4g (%.2f steps of %.4g), mean %.4g, "
          "cosine %.6f",
          e.name.c_str(), e.max_abs_error, e.max_error_steps, double(e.scale),
          e.mean_abs_error, e.cosine);
      if (e.top1_agreement >= 0)
        printf(", top-1 agreement %.2f%% (%zu/%zu)", 100.0 * e.top1_agreement,
               e.top1_agreeing, e.items);
      if (e.int8_accuracy >= 0)
        printf(", accuracy int8 %.2f%% float %.2f%%", 100.0 * e.int8_accuracy,
               100.0 * e.float_accuracy);
      if (e.fallback_rate >= 0)
        printf(", fallback %.2f%%", 100.0 * e.fallback_rate);
      if (e.reference_max_steps >= 0)
        printf(", vs reference: max %.2f steps, %.3f%% within 1 step",
               e.reference_max_steps, 100.0 * e.reference_within_one_step);
      printf("\n");
    }
    printf("  runtime: %.1f us per item (batches of 16, median)\n",
           report.runtime_us_per_item);
  }
  return kExitOk;
}

}  // namespace cli
}  // namespace kiln
