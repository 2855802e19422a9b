// GraphInterpreter: runs an ImportedGraph in float, one item at a time, and
// gives every value's output. It is the float reference the import is
// tested against (the source framework's outputs must match it) and what
// calibration observes, so its semantics are ONNX's, in Kiln's layout:
//
//   Conv2D          NHWC input, OHWI weights, groups (depthwise included),
//                   strides, dilations, zero padding; + bias, activation
//   FullyConnected  y = W x + b over the input's flattened (NHWC) elements
//   Add             elementwise, identical shapes; activation
//   MaxPool2D       padding never wins (it is not a value)
//   AveragePool2D   padding excluded from the average and its count (ONNX
//                   count_include_pad = 0; docs/format.md)
//   GlobalAveragePool [H, W, C] -> [C]
//   Concat          along the per-item axis
//   Reshape         same elements in the same order
//   Softmax         over the last dim; Logistic elementwise
//   activations     Relu max(x, 0), Relu6 min(max(x, 0), 6)
//
// Conv and FullyConnected run on Eigen (im2col + GEMM), so that ResNet-18
// at 224x224 (1.8 GMAC) takes a fraction of a second per item.
//
// The items are what the graph input holds: preprocessed floats (the
// graph's own `preprocess` is NOT applied here) in the input value's
// per-item shape (NHWC for images). For a UINT8 input they are the real
// values the input represents.
#ifndef KILN_TOOLCHAIN_ONNX_GRAPH_INTERPRETER_H_
#define KILN_TOOLCHAIN_ONNX_GRAPH_INTERPRETER_H_

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "toolchain/onnx/imported_graph.h"

namespace kiln {
namespace onnx_import {

// Checks everything the interpreter and the compiler rely on, so that
// neither can crash or misread memory on a bad graph: value and op indices,
// shapes (every op's output shape recomputed from its inputs and options),
// weight and bias sizes against their shapes, finite weights, weight
// scales, value quantizations, topological order (every op input computed
// before it is read, every value computed at most once), graph outputs,
// logits and labels. False and *error naming the op or value otherwise.
bool ValidateImportedGraph(const ImportedGraph& g, std::string* error);

// Number of elements of a per-item shape (1 for an empty shape).
int64_t ShapeElementCount(const std::vector<int32_t>& shape);

class GraphInterpreter {
 public:
  // Validates `g` (ValidateImportedGraph) and keeps a pointer to it: the
  // graph must outlive the interpreter and not change while it is used.
  bool Init(const ImportedGraph& g, std::string* error);

  // Elements of one item (of the graph input).
  size_t input_size() const { return input_size_; }

  // Runs one item (input_size() floats). values->at(v) gets value v's
  // output (ShapeElementCount(shape) floats, row-major in Kiln layout);
  // values no op computes are left empty. Without a successful Init,
  // *values is cleared. Safe to call from several threads at once.
  void Run(const float* item, std::vector<std::vector<float>>* values) const;

 private:
  const ImportedGraph* graph_ = nullptr;
  size_t input_size_ = 0;
};

}  // namespace onnx_import
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_ONNX_GRAPH_INTERPRETER_H_
