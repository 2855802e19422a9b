// The ONNX importer (toolchain/onnx/onnx_import.h) on arbitrary bytes: the
// protobuf parser, kiln's own validation, the ONNX checker, shape inference
// and the lowering. ImportOnnxBytes must return a consistent graph or false
// with a message, never crash, abort or allocate without bound. Seeds:
// fuzz/corpus/kiln_fuzz_onnx_import (small valid models of every lowering
// path, written with tests/onnx/onnx_test_graphs.h's builders).
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <string>

#include "toolchain/onnx/onnx_import.h"

namespace {

using kiln::onnx_import::ImportedGraph;
using kiln::onnx_import::ImportedOp;

// What the compiler relies on after a successful import.
void CheckGraph(const ImportedGraph& g) {
  const int32_t n = static_cast<int32_t>(g.values.size());
  if (g.input < 0 || g.input >= n) abort();
  for (const ImportedOp& op : g.ops) {
    if (op.output < 0 || op.output >= n) abort();
    for (int32_t in : op.inputs)
      if (in < 0 || in >= n) abort();
    size_t weights = op.weight_shape.empty() ? 0 : 1;
    for (int32_t d : op.weight_shape) weights *= static_cast<size_t>(d);
    if (weights != op.weights.size()) abort();
  }
  for (const auto& out : g.outputs)
    if (out.value < 0 || out.value >= n || out.logits >= n) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ImportedGraph graph;
  std::string error;
  if (kiln::onnx_import::ImportOnnxBytes(data, size, &graph, &error))
    CheckGraph(graph);
  else if (error.empty())
    abort();
  return 0;
}
