// ModelBuilder: float weights and quantization parameters in, a valid Kiln
// model out.
//
//   kiln::ModelBuilder b;
//   auto x = b.AddInput("image", kiln::DType::kInt8, {28, 28, 1}, 0.02f, 0);
//   auto y = b.Conv2D(x, weights, {8, 3, 3, 1}, bias, {}, {0.05f, -128},
//                     kiln::Activation::kRelu);
//   ...
//   b.AddOutput(logits);
//   b.AddHead("digit", logits, labels, {1, kiln::ConfidenceKind::kTop1Prob,
//                                       0.6f});
//   std::vector<uint8_t> bytes;
//   std::string error;
//   if (!b.Build(&bytes, &error)) ...
//
// Errors are sticky: an invalid call records a message and returns
// kNoTensor; every later call is a no-op, and Finish/Build return false with
// the first message. No exception leaves the builder.
//
// Quantization (docs/quantization.md): weights are symmetric int8 per output
// channel, biases int32 at scale input_scale * weight_scale[c], every
// multiplier comes from QuantizeMultiplier over the real-multiplier
// functions of kernels/requant.h, exactly what the runtime recomputes.
// Activations are NHWC; shapes are per item (the batch is implicit).
#ifndef KILN_TOOLCHAIN_MODEL_BUILDER_H_
#define KILN_TOOLCHAIN_MODEL_BUILDER_H_

#include <stdint.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "toolchain/model_def.h"

namespace kiln {

// Index of a tensor in the model being built.
using TensorId = int32_t;
constexpr TensorId kNoTensor = -1;

// Affine quantization of an int8 (or uint8) tensor.
struct QuantParams {
  float scale = 0.0f;
  int32_t zero_point = 0;
};

struct Conv2DOptions {
  int32_t stride_h = 1, stride_w = 1;
  int32_t dilation_h = 1, dilation_w = 1;
  int32_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int32_t groups = 1;
};

struct Pool2DOptions {
  int32_t filter_h = 1, filter_w = 1;
  int32_t stride_h = 1, stride_w = 1;
  int32_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
};

// When a head's answer is trusted. threshold_real is a probability in [0, 1]
// for the probability kinds, stored as lround(threshold_real * 65536) (Q16),
// and a logit difference in real units for MARGIN, stored as
// ceil(threshold_real / logit_scale) steps (with a 1e-6 relative allowance
// for float32 representation error). Every head gets an exp_table (beta 1,
// the logits' scale), MARGIN heads too so that callers can still report a
// probability.
struct DecisionPolicy {
  int32_t top_k = 1;
  ConfidenceKind confidence = ConfidenceKind::kTop1Prob;
  float threshold_real = 0.0f;
};

// Output size of a sliding window along one dimension, the formula Conv2D
// and the pools use (see Conv2D below); 0 when no window fits. Shared with
// the ONNX importer's graph checks so both always agree.
int64_t WindowOutputSize(int64_t in, int64_t kernel, int64_t stride,
                         int64_t dilation, int64_t pad_before,
                         int64_t pad_after);

class ModelBuilder {
 public:
  ModelBuilder();

  // ---- Graph inputs and outputs ----
  // A graph input with per-item `shape`. INT8/UINT8 take scale and zero
  // point; FLOAT32 is not quantized and ignores them.
  TensorId AddInput(const std::string& name, DType dtype,
                    const std::vector<int32_t>& shape, float scale = 0.0f,
                    int32_t zero_point = 0);
  void AddOutput(TensorId tensor);

  // ---- Operators ----
  // Each returns its output tensor. `name` names the operator and its output
  // tensor (constants get "<name>/weights" etc.); empty picks "<kind>_<n>".

  // input [H, W, C] int8; weights OHWI [out_c, kh, kw, C / groups], float,
  // row-major; bias [out_c] (empty: zeros). Output [OH, OW, out_c] with
  // OH = (H + pad_top + pad_bottom - dilation_h * (kh - 1) - 1) / stride_h + 1.
  //
  // weight_scales (Conv2D, DepthwiseConv2D, FullyConnected): empty, the
  // builder picks symmetric per-channel scales (max |w| / 127); otherwise
  // the caller's per-output-channel scales (out_c of them, or one for every
  // channel), e.g. those a QDQ graph quantized its weights with. Each must
  // be a positive normal float; the weights become
  // clamp(round_half_away(w / s[c]), -128, 127), so weights that are exact
  // multiples of s[c] (dequantized int8 values) keep their int8 values,
  // -128 included (the kernels are exact for it).
  TensorId Conv2D(TensorId input, const std::vector<float>& weights,
                  const std::vector<int32_t>& weight_shape,
                  const std::vector<float>& bias, const Conv2DOptions& options,
                  QuantParams output, Activation activation = Activation::kNone,
                  const std::string& name = "",
                  const std::vector<float>& weight_scales = {});
  // Conv2D with groups = C: weights [C * multiplier, kh, kw, 1].
  // options.groups is ignored.
  TensorId DepthwiseConv2D(TensorId input, const std::vector<float>& weights,
                           const std::vector<int32_t>& weight_shape,
                           const std::vector<float>& bias,
                           const Conv2DOptions& options, QuantParams output,
                           Activation activation = Activation::kNone,
                           const std::string& name = "",
                           const std::vector<float>& weight_scales = {});
  // input: any per-item shape of K elements; weights [N, K]; output [N].
  TensorId FullyConnected(TensorId input, const std::vector<float>& weights,
                          const std::vector<int32_t>& weight_shape,
                          const std::vector<float>& bias, QuantParams output,
                          Activation activation = Activation::kNone,
                          const std::string& name = "",
                          const std::vector<float>& weight_scales = {});
  // Elementwise sum of two int8 tensors of the same shape.
  TensorId Add(TensorId a, TensorId b, QuantParams output,
               Activation activation = Activation::kNone,
               const std::string& name = "");
  // Pools keep the input's quantization. Each padding must be smaller than
  // the filter so that no window is all padding.
  TensorId AveragePool2D(TensorId input, const Pool2DOptions& options,
                         const std::string& name = "");
  TensorId MaxPool2D(TensorId input, const Pool2DOptions& options,
                     const std::string& name = "");
  // [H, W, C] -> [C].
  TensorId GlobalAveragePool(TensorId input, QuantParams output,
                             const std::string& name = "");
  // Concatenation of int8 tensors along a per-item `axis` (negative counts
  // from the end). Inputs quantized like `output` are copied exactly.
  TensorId Concat(const std::vector<TensorId>& inputs, int32_t axis,
                  QuantParams output, const std::string& name = "");
  // Same bytes, new per-item shape; one dim may be -1 (inferred).
  TensorId Reshape(TensorId input, const std::vector<int32_t>& shape,
                   const std::string& name = "");
  // Over the last dim; output scale 1/256, zero point -128.
  TensorId Softmax(TensorId input, float beta = 1.0f,
                   const std::string& name = "");
  // Output scale 1/256, zero point -128.
  TensorId Logistic(TensorId input, const std::string& name = "");
  // UINT8 / INT8 / FLOAT32 -> INT8 with `output` parameters.
  TensorId Quantize(TensorId input, QuantParams output,
                    const std::string& name = "");
  // INT8 -> FLOAT32.
  TensorId Dequantize(TensorId input, const std::string& name = "");

  // ---- Decisions ----
  // `logits` must already be an INT8 graph output of shape [classes].
  // `labels` is empty or has one label per class.
  void AddHead(const std::string& name, TensorId logits,
               const std::vector<std::string>& labels,
               const DecisionPolicy& policy);

  // ---- Metadata ----
  void SetModelName(const std::string& name);
  // A semantic version "MAJOR.MINOR.PATCH[-pre][+build]".
  void SetModelVersion(const std::string& semver);
  void SetTrainingDataHash(const std::string& hash);
  // Defaults to the project's version (the toolchain is versioned with it).
  void SetToolchainVersion(const std::string& version);
  void SetToolchainCommit(const std::string& commit);
  void SetCreatedBy(const std::string& created_by);
  // Metrics and properties are stored sorted by key; setting a key again
  // replaces its value.
  void SetMetric(const std::string& key, double value);
  void SetProperty(const std::string& key, const std::string& value);
  void SetPreprocess(const PreprocessDef& preprocess);

  // ---- Result ----
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  // The tensor behind an id (nullptr if invalid), e.g. to read an inferred
  // shape or quantization.
  const TensorDef* tensor(TensorId id) const;

  // Plans memory and returns the finished model, after the runtime itself
  // has verified it (kiln_init on the serialized bytes): a model the runtime
  // would reject is an error here, never a file. May be called repeatedly;
  // the same calls always give the same model.
  bool Finish(ModelDef* model, std::string* error) const;
  // Finish + SerializeModel.
  bool Build(std::vector<uint8_t>* bytes, std::string* error) const;

 private:
  // Runs `body` unless an error is pending; turns an exception from it into
  // the sticky error, prefixed with `what`.
  TensorId Guard(const std::string& what,
                 const std::function<TensorId()>& body);

  const TensorDef& Get(TensorId id, const char* role) const;
  const TensorDef& GetInt8(TensorId id, const char* role) const;
  std::string OpName(const std::string& requested, OpKind kind) const;
  TensorId AddTensor(TensorDef tensor);
  TensorId AddActivation(const std::string& name, DType type,
                         std::vector<int32_t> shape,
                         const QuantizationDef* quantization);
  TensorId AddConstant(const std::string& name, DType type,
                       std::vector<int32_t> shape, std::vector<uint8_t> bytes,
                       std::optional<QuantizationDef> quantization);
  TensorId AddOp(OperatorDef op);
  TensorId AddExpTable(const std::string& name, float input_scale, float beta);
  // Shared by Conv2D and FullyConnected: quantizes weights (with
  // `weight_scales` when given) and bias, adds the constants and fills in
  // the requantization. Returns {weights, bias}.
  std::pair<TensorId, TensorId> AddWeightsAndBias(
      const std::string& name, const TensorDef& input,
      const std::vector<float>& weights, std::vector<int32_t> weight_shape,
      const std::vector<float>& bias, QuantParams output,
      const std::vector<float>& weight_scales, RequantDef* requant);
  TensorId Pool2D(OpKind kind, TensorId input, const Pool2DOptions& options,
                  const std::string& name);
  void Fail(const std::string& message);

  ModelDef model_;
  std::set<std::string> names_;  // tensor names, kept unique
  std::map<std::string, double> metrics_;
  std::map<std::string, std::string> properties_;
  std::string error_;
};

}  // namespace kiln

#endif  // KILN_TOOLCHAIN_MODEL_BUILDER_H_
