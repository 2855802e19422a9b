// ImportedGraph: an ONNX model lowered to Kiln's operator set, still in
// float. It is the meeting point of the ONNX importer's two halves:
//
//   onnx_lowering   ModelProto (checked, shapes inferred) -> ImportedGraph
//   import_compile  ImportedGraph + value ranges          -> Kiln model
//
// Everything here is already in Kiln's conventions, so the compiler never
// looks at ONNX again: per-item shapes (batch dim dropped), NHWC activations
// ([H, W, C] for what ONNX holds as [N, C, H, W]), conv weights OHWI, fully
// connected weights [N, K] with K in the input's NHWC flattening order,
// BatchNormalization folded into the preceding conv or fully connected op,
// Relu / Clip fused into their producer as an Activation, Flatten/Reshape/
// Squeeze/Unsqueeze that do not move data folded into a Reshape (or away),
// and QuantizeLinear/DequantizeLinear pairs turned into the quantization of
// the value they sit on.
//
// No ONNX or protobuf types appear in this header: the compiler, the float
// interpreter and their tests include it without the ONNX headers.
#ifndef KILN_TOOLCHAIN_ONNX_IMPORTED_GRAPH_H_
#define KILN_TOOLCHAIN_ONNX_IMPORTED_GRAPH_H_

#include <stdint.h>

#include <optional>
#include <string>
#include <vector>

#include "toolchain/model_builder.h"
#include "toolchain/model_def.h"

namespace kiln {
namespace onnx_import {

// A tensor flowing between ops (never a constant: weights live in the ops).
struct ImportedValue {
  std::string name;            // the ONNX value name
  std::vector<int32_t> shape;  // per item, Kiln layout ([H, W, C] or [K])
  // Set when a QDQ graph quantizes this value: the scale and the zero point
  // converted to Kiln's int8 (an ONNX uint8 zero point z becomes z - 128;
  // the represented reals are identical).
  std::optional<QuantParams> quant;
};

enum class ImportedOpKind {
  kConv2D,  // groups in conv.groups; depthwise when groups == C == out_c / m
  kFullyConnected,
  kAdd,
  kMaxPool2D,
  kAveragePool2D,
  kGlobalAveragePool,
  kConcat,
  kReshape,
  kSoftmax,   // over the last dim
  kLogistic,  // elementwise sigmoid
};

const char* ImportedOpKindName(ImportedOpKind kind);

struct ImportedOp {
  ImportedOpKind kind = ImportedOpKind::kConv2D;
  std::string name;             // the ONNX node's name (or "<op_type>_<index>")
  std::string op_type;          // the ONNX op it came from, for messages
  std::vector<int32_t> inputs;  // value indices
  int32_t output = -1;          // value index

  // kConv2D: OHWI [out_c, kh, kw, C / groups]. kFullyConnected: [N, K].
  std::vector<float> weights;
  std::vector<int32_t> weight_shape;
  std::vector<float> bias;  // [out_c] / [N]; empty means zeros
  // QDQ graphs: the per-output-channel scales the ONNX weights were
  // quantized with (one entry = per tensor), so that the compiled model
  // uses the graph's own int8 weights. Empty: the compiler picks them
  // (symmetric per channel, max |w| / 127).
  std::vector<float> weight_scales;

  Conv2DOptions conv;  // kConv2D
  Pool2DOptions pool;  // kMaxPool2D, kAveragePool2D
  // kConv2D, kFullyConnected, kAdd: a fused Relu or Clip(0, 6).
  Activation activation = Activation::kNone;
  int32_t axis = -1;           // kConcat: per-item axis in Kiln layout
  std::vector<int32_t> shape;  // kReshape: the new per-item shape
};

struct ImportedOutput {
  int32_t value = -1;
  std::string name;  // the ONNX graph output's name
  // For a classifier: the value holding its logits (before a final Softmax
  // or Sigmoid, or the value itself), which a decision head reads; -1 when
  // the output is not a classifier's (a regressor, an embedding).
  int32_t logits = -1;
  std::vector<std::string> labels;  // class labels when the model names them
  // The decision policy a Kiln-exported model carries for this head
  // (metadata "kiln.head.<name>.policy"); the compiler uses it unless the
  // caller sets one.
  std::optional<DecisionPolicy> policy;
};

struct ImportedGraph {
  std::vector<ImportedValue> values;
  std::vector<ImportedOp> ops;  // in execution (topological) order

  // The single graph input. ONNX image inputs [N, C, H, W] become [H, W, C]:
  // callers feed NHWC items. The input is FLOAT32, or UINT8 when the ONNX
  // input is uint8.
  int32_t input = -1;
  DType input_type = DType::kFloat32;
  // True when the ONNX input was NCHW and was transposed to NHWC.
  bool input_was_nchw = false;

  std::vector<ImportedOutput> outputs;

  // Preprocessing the graph starts with that Kiln runs before quantizing
  // the input (scikit-learn's Scaler/Normalizer at the graph input): mean,
  // std and feature normalization, per PreprocessDef.
  std::optional<PreprocessDef> preprocess;

  // True when the ONNX graph was a QDQ graph: every value the compiler
  // needs quantization for has `quant` set, and no calibration is needed.
  bool quantized = false;

  std::string producer;  // "pytorch 1.13.1", "skl2onnx 1.13", ...
  int64_t opset = 0;     // default-domain opset version
};

}  // namespace onnx_import
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_ONNX_IMPORTED_GRAPH_H_
