// Activations. Relu and Clip(0, 6) have no standalone Kiln op: they fuse
// into the Conv/FullyConnected/Add producing their input. Softmax and
// Sigmoid are Kiln ops; their output remembers the logits' value so that a
// classifier head can report either.
#include <limits>
#include <utility>

#include "toolchain/onnx/onnx_lowering.h"

namespace kiln {
namespace onnx_import {
namespace lowering {

using onnx::NodeProto;

void LowerActivation(Lowerer& l, const NodeProto& node) {
  Activation act = Activation::kRelu;
  if (node.op_type() == "Clip") {
    float lo = -std::numeric_limits<float>::infinity();
    float hi = std::numeric_limits<float>::infinity();
    if (l.opset_ < 11) {
      lo = AttrFloat(l, node, "min", lo);
      hi = AttrFloat(l, node, "max", hi);
    } else {
      auto bound = [&](int index, float fallback) {
        if (!l.HasInput(node, index)) return fallback;
        const Constant& c = l.InputConstant(node, index);
        if (c.Count() != 1) l.Fail(node, "min/max must be scalars");
        return c.Floats()[0];
      };
      lo = bound(1, lo);
      hi = bound(2, hi);
    }
    if (lo == 0.0f && hi == 6.0f) {
      act = Activation::kRelu6;
    } else if (lo == 0.0f && hi >= std::numeric_limits<float>::max()) {
      act = Activation::kRelu;
    } else {
      l.Fail(node, "Clip(" + std::to_string(lo) + ", " + std::to_string(hi) +
                       ") is neither Relu (0, inf) nor Relu6 (0, 6)");
    }
  }
  const int32_t producer = l.FoldableProducer(
      node, 0,
      {ImportedOpKind::kConv2D, ImportedOpKind::kFullyConnected,
       ImportedOpKind::kAdd},
      /*allow_activation=*/true);
  if (producer < 0)
    l.Fail(node,
           "cannot be fused: its input is not the sole output of a "
           "Conv/Gemm/MatMul/Add (Kiln has no standalone activation)");
  // Relu after Relu6 or the reverse is Relu6; Relu after Relu is Relu.
  Activation& fused = l.graph_->ops[producer].activation;
  if (fused != Activation::kRelu6) fused = act;
  Tensor t = l.Alias(node, 0);
  l.graph_->values[t.value].quant.reset();  // the Q after it decides
  t.sole = true;
  l.SetTensor(node.output(0), std::move(t));
}

// Softmax and Sigmoid: Kiln ops whose input is the logits.
void LowerSoftmaxOrSigmoid(Lowerer& l, const NodeProto& node) {
  const Tensor x = l.InputTensor(node, 0);
  const bool softmax = node.op_type() == "Softmax";
  int32_t input = x.value;
  if (softmax) {
    const int64_t rank = static_cast<int64_t>(x.dims.size());
    const int64_t axis = NormalizeAxis(
        l, node, AttrInt(l, node, "axis", l.opset_ < 13 ? 1 : -1), rank);
    // Before opset 13 Softmax ran over all dims from `axis` on.
    const bool ok = (rank == 2 && axis == 1) ||
                    (rank == 4 && axis == 1 &&
                     (l.opset_ >= 13 || x.dims[2] * x.dims[3] == 1));
    if (!ok)
      l.Fail(node, "softmax over axis " + std::to_string(axis) + " of " +
                       DimsString(x.dims) +
                       " is not supported (Kiln: the class/channel axis)");
    l.RequirePlain(node, x, rank == 2);
    if (rank == 4 && x.dims[2] * x.dims[3] != 1)
      input = l.ValueInShape(node, x, l.KilnShape(node, x.dims));
  } else {
    l.RequirePlain(node, x, true);
  }
  ImportedOp op = l.NewOp(
      node, softmax ? ImportedOpKind::kSoftmax : ImportedOpKind::kLogistic,
      {input});
  Tensor out;
  out.dims = x.dims;
  out.chw = x.chw;
  out.logits = x.value;
  out.labels = x.labels;
  out.value =
      l.AddValue(node, node.output(0), out.dims, l.graph_->values[input].shape);
  op.output = out.value;
  l.AddOp(std::move(op));
  l.SetTensor(node.output(0), std::move(out));
}

}  // namespace lowering
}  // namespace onnx_import
}  // namespace kiln
