// Pooling: MaxPool/AveragePool -> Kiln's 2-D pools (floor rounding, no
// dilation, padding smaller than the window), GlobalAveragePool -> Kiln's
// GlobalAveragePool. Kiln's AveragePool2D leaves padding out of the count;
// an AveragePool that counts it (count_include_pad=1, or zeros from a Pad
// before it) becomes a depthwise conv instead.
#include <utility>
#include <vector>

#include "toolchain/onnx/onnx_lowering.h"

namespace kiln {
namespace onnx_import {
namespace lowering {

using onnx::NodeProto;

namespace {

// The average of each window with padding counted: the window sum (padding
// taps 0) over kh * kw. That is a depthwise conv with every weight
// 1 / (kh * kw) and no bias, since Kiln's conv padding stands for the input
// zero point, i.e. real 0 (docs/quantization.md, Conv2D). Each channel's
// weights are all its max |w|, so they quantize exactly (127). The output
// is a new value: calibrated like any conv output, or quantized by the
// QuantizeLinear after it in a QDQ graph (else it keeps the input's
// quantization, see CheckQuantized).
void EmitAverageAsDepthwiseConv(Lowerer& l, const NodeProto& node,
                                const Tensor& x, const WindowAxis& ah,
                                const WindowAxis& aw) {
  const int64_t c = x.dims[1];
  ImportedOp op = l.NewOp(node, ImportedOpKind::kConv2D,
                          {l.ValueInShape(node, x, l.KilnShape(node, x.dims))});
  op.weights.assign(c * ah.kernel * aw.kernel,
                    static_cast<float>(1.0 / (ah.kernel * aw.kernel)));
  op.weight_shape = {static_cast<int32_t>(c), static_cast<int32_t>(ah.kernel),
                     static_cast<int32_t>(aw.kernel), 1};
  op.conv = ConvOptionsOf(ah, aw, c);
  AddWindowedOp(l, node, std::move(op), c, ah, aw);
}

}  // namespace

void LowerPool(Lowerer& l, const NodeProto& node) {
  const bool average = node.op_type() == "AveragePool";
  // An AveragePool may read a Pad's output (`padded`); a MaxPool may not:
  // the zeros would join its maximum, where Kiln's padding does not.
  const Tensor padded = l.InputTensor(node, 0);
  std::vector<int64_t> extra_pads;
  const Tensor x = WithoutPendingPads(padded, &extra_pads);
  l.RequirePlain(node, average ? x : padded, false);
  if (x.dims.size() != 4) l.Fail(node, "only 2-D pooling is supported");
  l.RequireUnusedOutputs(node, 1);
  const auto kernel = AttrInts(l, node, "kernel_shape", {});
  if (kernel.size() != 2) l.Fail(node, "kernel_shape must have 2 entries");
  WindowAxis ah, aw;
  ReadWindows(l, node, padded.dims[2], padded.dims[3], kernel[0], kernel[1],
              &ah, &aw);
  if (ah.dilation != 1 || aw.dilation != 1)
    l.Fail(node, "dilated pooling is not supported");
  if (AttrInt(l, node, "ceil_mode", 0) != 0) {
    // ONNX's ceil mode drops a last window that would start in the end
    // padding; it is fine whenever it yields the floor mode's size.
    for (const WindowAxis* a : {&ah, &aw}) {
      const int64_t span = a->in + a->pad_begin + a->pad_end - a->kernel;
      int64_t out = (span + a->stride - 1) / a->stride + 1;
      if ((out - 1) * a->stride >= a->in + a->pad_begin) --out;
      if (out != a->out)
        l.Fail(node, "ceil_mode=1 changes the output size (" +
                         std::to_string(out) + " instead of " +
                         std::to_string(a->out) + "); Kiln pools round down");
    }
  }
  const bool own_pads =
      ah.pad_begin || ah.pad_end || aw.pad_begin || aw.pad_end;
  const bool after_pad = extra_pads != std::vector<int64_t>{0, 0, 0, 0};
  const bool count_pads = AttrInt(l, node, "count_include_pad", 0) != 0;
  if (after_pad && own_pads && !count_pads)
    l.Fail(node,
           "averages a Pad's zeros (counted) and its own padding (not "
           "counted, count_include_pad=0); Kiln cannot mix both");
  MovePadsIntoWindows(l, node, extra_pads, &ah, &aw);
  if (average && (after_pad || (own_pads && count_pads))) {
    EmitAverageAsDepthwiseConv(l, node, x, ah, aw);
    return;
  }
  for (const WindowAxis* a : {&ah, &aw})
    if (a->pad_begin >= a->kernel || a->pad_end >= a->kernel)
      l.Fail(node, "padding must be smaller than the window");
  ImportedOp op = l.NewOp(
      node,
      average ? ImportedOpKind::kAveragePool2D : ImportedOpKind::kMaxPool2D,
      {l.ValueInShape(node, x, l.KilnShape(node, x.dims))});
  op.pool = PoolOptionsOf(ah, aw);
  AddWindowedOp(l, node, std::move(op), x.dims[1], ah, aw);
}

void LowerGlobalAveragePool(Lowerer& l, const NodeProto& node) {
  const Tensor x = l.InputTensor(node, 0);
  l.RequirePlain(node, x, false);
  if (x.dims.size() != 4) l.Fail(node, "needs a [N, C, H, W] input");
  ImportedOp op = l.NewOp(node, ImportedOpKind::kGlobalAveragePool,
                          {l.ValueInShape(node, x, l.KilnShape(node, x.dims))});
  Tensor out;
  out.dims = {1, x.dims[1], 1, 1};
  // Kiln writes [C]; later consumers reshape it when they need [1, 1, C].
  out.value = l.AddValue(node, node.output(0), out.dims,
                         {static_cast<int32_t>(x.dims[1])});
  op.output = out.value;
  l.AddOp(std::move(op));
  l.SetTensor(node.output(0), std::move(out));
}

}  // namespace lowering
}  // namespace onnx_import
}  // namespace kiln
