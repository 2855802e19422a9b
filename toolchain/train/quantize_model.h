// From a trained float network (float_model.h) to an INT8 Kiln model, and
// the tools to check the result: a plain C++ float interpreter of the same
// network, a small wrapper over the real runtime, and a per-layer error
// report (SQNR of every layer's int8 output against the float one).
//
// No LibTorch here: everything works on train::FloatModel.
//
// Activation quantization (per tensor, asymmetric, from each layer's
// calibrated Range):
//   range widened to include 0 (ReLU/ReLU6 layers start at 0),
//   scale = (max - min) / 255, zero_point = round(-128 - min / scale)
//   clamped to [-128, 127]; a degenerate range (max == min) gets a tiny
//   positive scale. Pools keep their input's quantization (the builder's
//   rule), so their own Range is not used.
// The graph input: uint8 images become a UINT8 [H, W, C] input with scale
// input_scale_real and zero point 0, then a Quantize to int8 over the full
// pixel range (scale 255 * input_scale_real / 255, zero point -128: exact);
// float features become a FLOAT32 input and a Quantize with the parameters
// of FloatModel::input. Weights are per-channel symmetric (the builder).
#ifndef KILN_TOOLCHAIN_TRAIN_QUANTIZE_MODEL_H_
#define KILN_TOOLCHAIN_TRAIN_QUANTIZE_MODEL_H_

#include <stddef.h>
#include <stdint.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kiln/kiln.h"
#include "toolchain/aligned_bytes.h"
#include "toolchain/model_builder.h"
#include "toolchain/train/float_model.h"

namespace kiln {
namespace train {

// Metadata and build switches.
struct QuantizeOptions {
  std::string model_name = "model";
  std::string model_version = "1.0.0";
  std::string input_name = "input";
  // Training parameters as JSON text; stored as property "train_params"
  // when not empty.
  std::string params_json;
  std::string training_data_hash;  // SetTrainingDataHash when not empty
  std::string created_by;          // SetCreatedBy when not empty
  std::string toolchain_commit;    // SetToolchainCommit when not empty
  std::map<std::string, double> metrics;
  std::map<std::string, std::string> properties;
  std::optional<PreprocessDef> preprocess;
  // Also make every layer's output a graph output (after the heads'
  // logits), as the layer error report needs. Not for deployment.
  bool expose_layer_outputs = false;
};

// Where things ended up in the built graph.
struct QuantizedLayout {
  std::vector<TensorId> layer_tensor;  // per layer
  std::vector<QuantParams> layer_quant;
  // Graph output index of each layer's output, -1 when not an output.
  std::vector<int32_t> layer_output;
  std::vector<int32_t> head_output;  // per head
  QuantParams input_quant;           // of the int8 tensor after Quantize
};

// The activation rule above. Fails (false) on a non-finite range.
bool ActivationQuantParams(const Range& range, Activation activation,
                           QuantParams* out, std::string* error);

// Per-item output shape of every layer; checks the model's consistency
// (layer inputs point backwards, weight shapes, heads on FC layers).
bool InferLayerShapes(const FloatModel& model,
                      std::vector<std::vector<int32_t>>* shapes,
                      std::string* error);

// Builds the Kiln graph into *out (a fresh builder). Deterministic: the
// same model and options always give the same bytes.
bool BuildKilnModel(const FloatModel& model, const QuantizeOptions& options,
                    ModelBuilder* out, std::string* error);
bool BuildKilnModel(const FloatModel& model, const QuantizeOptions& options,
                    ModelBuilder* out, QuantizedLayout* layout,
                    std::string* error);
// BuildKilnModel + Build.
bool QuantizeModelToBytes(const FloatModel& model,
                          const QuantizeOptions& options,
                          std::vector<uint8_t>* bytes, std::string* error);

// ---- Float reference ----

// Runs the float network one item at a time (NHWC loops, no tricks).
class FloatInterpreter {
 public:
  bool Init(const FloatModel& model, std::string* error);
  size_t input_elements() const { return input_elements_; }
  const std::vector<int32_t>& layer_shape(size_t layer) const {
    return shapes_[layer];
  }
  // `x`: one item of real input values (images: raw * input_scale_real).
  // (*outputs)[l] receives layer l's output.
  void Run(const float* x, std::vector<std::vector<float>>* outputs) const;
  // One raw item as the runtime takes it: uint8 pixels or float features.
  void RunRaw(const void* item, std::vector<std::vector<float>>* outputs) const;

 private:
  const FloatModel* model_ = nullptr;
  std::vector<std::vector<int32_t>> shapes_;
  size_t input_elements_ = 0;
};

// ---- The real runtime ----

// A compiled model in a runtime context with room for `batch` items.
class KilnRunner {
 public:
  bool Load(const std::vector<uint8_t>& bytes, size_t batch,
            std::string* error);
  // Runs n items of the (single) graph input; outputs[j] gets n items of
  // graph output j (raw bytes), decisions n * num_heads entries
  // (item-major). Either may be null.
  bool Run(const void* items, size_t n,
           std::vector<std::vector<uint8_t>>* outputs,
           std::vector<kiln_decision>* decisions, std::string* error);
  kiln_context* context() const { return ctx_; }
  int32_t num_outputs() const;
  int32_t num_heads() const;
  kiln_tensor_info input_info() const;
  kiln_tensor_info output_info(int32_t index) const;
  kiln_head_info head_info(int32_t index) const;

 private:
  AlignedBytes model_;
  std::vector<uint8_t> arena_;
  kiln_context* ctx_ = nullptr;
};

// ---- Per-layer error ----

struct LayerError {
  std::string name;
  LayerKind kind = LayerKind::kConv2D;
  // End to end: the int8 model's output of this layer (real runtime,
  // dequantized) against the float network's. 10 log10(sum f^2 /
  // sum (f - q)^2) dB; +inf when exact. Includes every upstream error.
  double sqnr_db = 0.0;
  // The layer's own output quantization alone: the float output f against
  // f quantized with this tensor's scale and zero point (rounding and
  // clipping). A range that is too narrow or too wide shows up here even
  // when an upstream layer already spoils the end-to-end figure.
  double local_sqnr_db = 0.0;
  // False for pools, which inherit their input's quantization: they are not
  // blamed (their producer is).
  bool owns_quantization = true;
  Range calibrated;   // the model's Range
  Range observed;     // float output range on these inputs
  QuantParams quant;  // of the int8 tensor
  double max_abs_error = 0.0;
};

struct LayerErrorTable {
  std::vector<LayerError> layers;
  // Index of the layer with the lowest local SQNR among those that own
  // their quantization: the mis-calibrated one. -1 when none.
  int32_t worst = -1;
  // Index of the lowest end-to-end SQNR (often a layer downstream of
  // `worst`, which inherits its error).
  int32_t worst_end_to_end = -1;
};

// Quantizes `model` with every layer's output exposed, runs `count` raw
// items (uint8 or float, FloatModel::input_shape each) through the real
// runtime and the float interpreter, and compares layer by layer.
bool LayerErrorReport(const FloatModel& model, const void* items, size_t count,
                      LayerErrorTable* table, std::string* error);
// A Markdown table of the report, worst layers named at the end.
std::string FormatLayerErrorTable(const LayerErrorTable& table);

const char* LayerKindName(LayerKind kind);

}  // namespace train
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_TRAIN_QUANTIZE_MODEL_H_
