// ImportedGraph -> Kiln INT8 model, through ModelBuilder.
//
// The graph input: a FLOAT32 input and a Quantize to int8, or a UINT8 input
// (an ONNX uint8 input, or options.input_uint8_scale: images fed as raw
// pixels) and a Quantize. Then one Kiln op per ImportedOp, named after the
// ONNX node:
//
//   Conv2D          groups == C > 1 with weights [C * m, kh, kw, 1] ->
//                   DepthwiseConv2D; otherwise Conv2D (options.groups)
//   FullyConnected, Add, GlobalAveragePool, Concat     output quantization
//                   from the value (see below)
//   MaxPool2D, AveragePool2D, Reshape   keep their input's quantization
//   Softmax, Logistic  Kiln's fixed output quantization (1/256, -128)
//
// Quantization of a value: its `quant` when set (QDQ graphs: the graph's
// own scales; weights then use the op's weight_scales), otherwise its
// calibrated Range through train::ActivationQuantParams (with the op's
// fused activation). An op whose output quantization is fixed or inherited
// but whose value carries a different `quant` gets a Quantize (int8 ->
// int8) to it, so that a QDQ graph's scales are honoured everywhere.
//
// Graph outputs, in this order: for each ImportedOutput its int8 value and,
// when options.heads and the output has logits, its int8 logits (a decision
// head named after the output reads them); then, when
// options.float_outputs, a FLOAT32 copy (Dequantize) of each ImportedOutput
// value, named after the ONNX output, so callers get real values.
#ifndef KILN_TOOLCHAIN_ONNX_IMPORT_COMPILE_H_
#define KILN_TOOLCHAIN_ONNX_IMPORT_COMPILE_H_

#include <stdint.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "toolchain/model_builder.h"
#include "toolchain/onnx/imported_graph.h"
#include "toolchain/train/float_model.h"

namespace kiln {
namespace onnx_import {

struct ImportCompileOptions {
  // Metadata.
  std::string model_name = "model";
  std::string model_version = "1.0.0";  // semantic version
  std::string created_by;               // SetCreatedBy when not empty
  std::string training_data_hash;       // e.g. the calibration data's; optional
  // Stored as model properties (sorted by key), e.g. "source" -> the ONNX
  // file name. The compiler adds "onnx_producer" and "onnx_opset" from the
  // graph unless given here.
  std::map<std::string, std::string> properties;
  std::map<std::string, double> metrics;

  // Name of the graph input tensor; empty: the ONNX input's name.
  std::string input_name;

  // Decision heads: one per ImportedOutput with logits >= 0.
  bool heads = true;
  // The policy of every head without an entry in output_policies. Unset:
  // top_k = min(5, classes), TOP1_PROB, threshold 0 (never falls back).
  // When set, its top_k is capped at each head's class count.
  std::optional<DecisionPolicy> policy;
  // Per ImportedOutput name, used as given (top_k not capped).
  std::map<std::string, DecisionPolicy> output_policies;
  // Per ImportedOutput name: class labels replacing the graph's own (one
  // per class).
  std::map<std::string, std::vector<std::string>> labels;

  // Add the FLOAT32 copies of the outputs (Dequantize).
  bool float_outputs = true;

  // Stored in the model as its preprocessing spec (the runtime does not
  // apply it; `kiln run` and callers do). Unset: the graph's own
  // preprocess (ImportedGraph::preprocess), if any. A caller combining the
  // graph's with its own image preprocessing passes the result here.
  std::optional<PreprocessDef> preprocess;

  // Feed a FLOAT32 graph's input as raw uint8 values u, the graph's input
  // being u * input_uint8_scale (images whose preprocessing is just a
  // scale, e.g. 1/255): the model input becomes UINT8 (scale
  // input_uint8_scale, zero point 0). Without a QDQ quantization on the
  // input, its int8 quantization is then the exact full pixel range
  // (scale input_uint8_scale, zero point -128) rather than a calibrated
  // one. Must be a positive normal float.
  std::optional<float> input_uint8_scale;
};

// Where an ImportedOutput ended up: graph output indices (-1: none).
struct ImportedOutputLayout {
  int32_t int8_output = -1;
  int32_t logits_output = -1;  // == int8_output when value == logits
  int32_t float_output = -1;
  int32_t head = -1;  // head index
};

struct ImportCompileLayout {
  std::vector<ImportedOutputLayout> outputs;  // per ImportedOutput
  // The int8 quantization each value got (unset for values nothing
  // computes), the input's included.
  std::vector<std::optional<QuantParams>> value_quant;
  // The model's input: FLOAT32 or UINT8; for UINT8 its scale and zero
  // point (real = scale * (u - zero_point)).
  DType input_type = DType::kFloat32;
  QuantParams input_uint8;
};

// Validates the graph (ValidateImportedGraph) and builds the model into *b
// (a fresh builder). `ranges` (may be null for a fully QDQ graph): one
// Range per value, as CalibrateImportedGraph gives. False and *error when a
// value needs a quantization that neither its `quant` nor a range gives,
// when a range is not finite, or when the builder rejects an op (its
// message, prefixed with the ONNX node's name and op type). Deterministic.
bool BuildImportedGraph(const ImportedGraph& g,
                        const std::vector<train::Range>* ranges,
                        const ImportCompileOptions& options, ModelBuilder* b,
                        ImportCompileLayout* layout, std::string* error);

// BuildImportedGraph + ModelBuilder::Build: the model's bytes (the same
// graph, ranges and options always give the same bytes). `layout` may be
// null.
bool CompileImportedGraph(const ImportedGraph& g,
                          const std::vector<train::Range>* ranges,
                          const ImportCompileOptions& options,
                          std::vector<uint8_t>* bytes, std::string* error);
bool CompileImportedGraph(const ImportedGraph& g,
                          const std::vector<train::Range>* ranges,
                          const ImportCompileOptions& options,
                          std::vector<uint8_t>* bytes,
                          ImportCompileLayout* layout, std::string* error);

}  // namespace onnx_import
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_ONNX_IMPORT_COMPILE_H_
