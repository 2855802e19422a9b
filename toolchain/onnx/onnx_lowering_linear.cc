// The linear ops: Conv -> Kiln Conv2D (weights reordered OIHW -> OHWI),
// Gemm/MatMul with a constant right operand -> FullyConnected, and what
// folds into them: a per-channel Add/Sub becomes the bias, an inference
// BatchNormalization scales the weights (or, with no foldable producer,
// becomes a depthwise 1x1 conv). Add of two equal-shape tensors is Kiln's
// Add. Weights that come through DequantizeLinear keep their int8 scales.
#include <math.h>

#include <algorithm>
#include <utility>

#include "toolchain/onnx/onnx_lowering.h"

namespace kiln {
namespace onnx_import {
namespace lowering {

using onnx::NodeProto;
using onnx::TensorProto;

Tensor Lowerer::EmitFullyConnected(const NodeProto& node, const Tensor& in,
                                   const std::string& value_name, int64_t n,
                                   std::vector<float> weights,
                                   std::vector<float> bias,
                                   std::vector<float> weight_scales) {
  if (in.dims.size() != 2)
    Fail(node, "needs a [N, K] input, got " + DimsString(in.dims));
  const int64_t k = in.dims[1];
  if (n < 1 || static_cast<int64_t>(weights.size()) != n * k)
    Fail(node,
         "weights do not match the input's " + std::to_string(k) + " features");
  if (bias.empty()) bias.assign(n, 0.0f);
  // A Scaler before this op: y = W (a x + b) + c = (W a) x + (W b + c).
  if (!in.pending_a.empty()) {
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < k; ++j) {
        float& w = weights[r * k + j];
        bias[r] += w * in.pending_b[j];
        w *= in.pending_a[j];
      }
    weight_scales.clear();  // the scaled weights need their own scales
  }
  // ONNX numbers the flattened [C, H, W] columns c*H*W + h*W + w; Kiln's
  // input holds the same element at (h*W + w)*C + c.
  if (!in.chw.empty()) {
    const int64_t c_n = in.chw[0], hw = in.chw[1] * in.chw[2];
    std::vector<float> permuted(weights.size());
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < c_n; ++c)
        for (int64_t p = 0; p < hw; ++p)
          permuted[r * k + p * c_n + c] = weights[r * k + c * hw + p];
    weights = std::move(permuted);
  }
  ImportedOp op = NewOp(node, ImportedOpKind::kFullyConnected, {in.value});
  op.weights = std::move(weights);
  op.weight_shape = {static_cast<int32_t>(n), static_cast<int32_t>(k)};
  op.bias = std::move(bias);
  op.weight_scales = std::move(weight_scales);
  Tensor out;
  out.dims = {1, n};
  out.value = AddValue(node, value_name, out.dims, {static_cast<int32_t>(n)});
  op.output = out.value;
  AddOp(std::move(op));
  return out;
}

namespace {

const std::vector<ImportedOpKind> kLinearKinds = {
    ImportedOpKind::kConv2D, ImportedOpKind::kFullyConnected};

// Quantization scales of DequantizeLinear'd weights, for an op whose
// output channels run along `out_axis` of the ONNX weight tensor.
std::vector<float> WeightScales(Lowerer& l, const NodeProto& node,
                                const Constant& w, int64_t out_axis,
                                int64_t out_channels) {
  if (!w.dequantized) return {};
  if (w.dq_type != TensorProto::INT8)
    l.Fail(node,
           "quantized weights must be int8 (Kiln weights are "
           "symmetric int8)");
  for (int64_t zp : w.dq_zero_points)
    if (zp != 0)
      l.Fail(node, "quantized weights have zero point " + std::to_string(zp) +
                       "; Kiln weights are symmetric (zero point 0)");
  if (w.dq_scales.size() == 1) return w.dq_scales;
  if (w.dq_axis != out_axis ||
      static_cast<int64_t>(w.dq_scales.size()) != out_channels)
    l.Fail(node, "weights are quantized along axis " +
                     std::to_string(w.dq_axis) +
                     "; Kiln needs per-tensor or per-output-channel (axis " +
                     std::to_string(out_axis) + ") scales");
  return w.dq_scales;
}

std::vector<float> FloatWeights(Lowerer& l, const NodeProto& node,
                                const Constant& w) {
  if (w.IsInt()) l.Fail(node, "integer weights need a DequantizeLinear");
  return w.f;
}

// A constant [N] / [1, N] / scalar broadcast to n values.
std::vector<float> VectorOf(Lowerer& l, const NodeProto& node,
                            const Constant& c, int64_t n,
                            const std::string& what) {
  std::vector<float> v = c.Floats();
  int64_t non_one = 0;
  for (int64_t d : c.dims) non_one += d != 1;
  if (v.size() == 1) return std::vector<float>(n, v[0]);
  if (static_cast<int64_t>(v.size()) != n || non_one > 1)
    l.Fail(node, what + " has dims " + DimsString(c.dims) + "; expected " +
                     std::to_string(n) + " values");
  return v;
}

// Folding a per-channel constant into the producing Conv / FC's bias.
void FoldBias(Lowerer& l, const NodeProto& node, int tensor_index,
              const Constant& c, float sign) {
  const int32_t producer = l.FoldableProducer(node, tensor_index, kLinearKinds);
  if (producer < 0)
    l.Fail(node,
           "adds a constant to a tensor that is not the sole output "
           "of a Conv/Gemm/MatMul; Kiln has no broadcasting Add");
  Tensor t = l.Alias(node, tensor_index);
  const int64_t channels = t.dims[1];
  if (c.dims.size() > t.dims.size())
    l.Fail(node, "the constant " + DimsString(c.dims) +
                     " has a higher rank than the tensor");
  // Right-align the constant's dims; only the channel axis may vary.
  const size_t offset = t.dims.size() - c.dims.size();
  bool per_channel = false;
  for (size_t j = 0; j < c.dims.size(); ++j) {
    const size_t axis = offset + j;
    if (c.dims[j] == 1) continue;
    if (axis == 1 && c.dims[j] == channels) {
      per_channel = true;
      continue;
    }
    l.Fail(node, "the constant " + DimsString(c.dims) +
                     " is not per-channel for " + DimsString(t.dims));
  }
  const std::vector<float> v = c.Floats();
  ImportedOp& op = l.graph_->ops[producer];
  if (op.bias.empty()) op.bias.assign(channels, 0.0f);
  for (int64_t o = 0; o < channels; ++o)
    op.bias[o] += sign * v[per_channel ? o : 0];
  l.graph_->values[t.value].quant.reset();  // now names the sum
  t.sole = true;
  t.logits = -1;
  l.SetTensor(node.output(0), std::move(t));
}

}  // namespace

void LowerConv(Lowerer& l, const NodeProto& node) {
  // `padded` differs from `x` when a Pad comes first: its zeros join the
  // conv's own padding.
  const Tensor padded = l.InputTensor(node, 0);
  std::vector<int64_t> extra_pads;
  const Tensor x = WithoutPendingPads(padded, &extra_pads);
  l.RequirePlain(node, x, false);
  if (x.dims.size() != 4)
    l.Fail(node, "only 2-D convolutions ([N, C, H, W] input) are supported");
  const Constant w = l.InputConstant(node, 1);
  if (w.dims.size() != 4)
    l.Fail(node, "weights must be [O, I, kh, kw], got " + DimsString(w.dims));
  const int64_t c = x.dims[1], h = padded.dims[2], wd = padded.dims[3];
  const int64_t o = w.dims[0], ig = w.dims[1], kh = w.dims[2], kw = w.dims[3];
  const int64_t group = AttrInt(l, node, "group", 1);
  if (group < 1 || ig * group != c || o % group != 0)
    l.Fail(node, "weights " + DimsString(w.dims) + " with group " +
                     std::to_string(group) + " do not fit " +
                     std::to_string(c) + " input channels");
  const auto kernel = AttrInts(l, node, "kernel_shape", {kh, kw});
  if (kernel != std::vector<int64_t>{kh, kw})
    l.Fail(node, "kernel_shape disagrees with the weights");
  WindowAxis ah, aw;
  ReadWindows(l, node, h, wd, kh, kw, &ah, &aw);
  MovePadsIntoWindows(l, node, extra_pads, &ah, &aw);

  ImportedOp op = l.NewOp(node, ImportedOpKind::kConv2D,
                          {l.ValueInShape(node, x, l.KilnShape(node, x.dims))});
  const std::vector<float> src = FloatWeights(l, node, w);
  op.weights.resize(src.size());
  for (int64_t oc = 0; oc < o; ++oc)
    for (int64_t i = 0; i < ig; ++i)
      for (int64_t y = 0; y < kh; ++y)
        for (int64_t xx = 0; xx < kw; ++xx)
          op.weights[((oc * kh + y) * kw + xx) * ig + i] =
              src[((oc * ig + i) * kh + y) * kw + xx];
  op.weight_shape = {static_cast<int32_t>(o), static_cast<int32_t>(kh),
                     static_cast<int32_t>(kw), static_cast<int32_t>(ig)};
  op.weight_scales = WeightScales(l, node, w, 0, o);
  if (l.HasInput(node, 2))
    op.bias = VectorOf(l, node, l.InputConstant(node, 2), o, "the bias");
  op.conv = ConvOptionsOf(ah, aw, group);
  AddWindowedOp(l, node, std::move(op), o, ah, aw);
}

void LowerGemm(Lowerer& l, const NodeProto& node) {
  const Tensor a = l.InputTensor(node, 0);
  l.RequirePlain(node, a, true);
  if (a.dims.size() != 2) l.Fail(node, "A must be [N, K]");
  if (AttrInt(l, node, "transA", 0) != 0)
    l.Fail(node, "transA=1 is not supported");
  const Constant b = l.InputConstant(node, 1);
  if (b.dims.size() != 2) l.Fail(node, "B must be a 2-D constant");
  const bool trans_b = AttrInt(l, node, "transB", 0) != 0;
  const float alpha = AttrFloat(l, node, "alpha", 1.0f);
  const float beta = AttrFloat(l, node, "beta", 1.0f);
  const int64_t k = a.dims[1];
  const int64_t n = trans_b ? b.dims[0] : b.dims[1];
  if ((trans_b ? b.dims[1] : b.dims[0]) != k)
    l.Fail(node, "B " + DimsString(b.dims) + " does not match A's " +
                     std::to_string(k) + " columns");
  const std::vector<float> src = FloatWeights(l, node, b);
  std::vector<float> weights(n * k);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < k; ++j)
      weights[r * k + j] = alpha * (trans_b ? src[r * k + j] : src[j * n + r]);
  std::vector<float> scales = WeightScales(l, node, b, trans_b ? 0 : 1, n);
  for (float& s : scales) s *= std::fabs(alpha);
  std::vector<float> bias;
  if (l.HasInput(node, 2)) {
    bias = VectorOf(l, node, l.InputConstant(node, 2), n, "C");
    for (float& v : bias) v *= beta;
  }
  l.SetTensor(
      node.output(0),
      l.EmitFullyConnected(node, a, node.output(0), n, std::move(weights),
                           std::move(bias), std::move(scales)));
}

void LowerMatMul(Lowerer& l, const NodeProto& node) {
  if (l.HasInput(node, 0) && l.Lookup(node, node.input(0)).is_constant)
    l.Fail(node, "only a constant right operand is supported");
  const Tensor a = l.InputTensor(node, 0);
  l.RequirePlain(node, a, true);
  if (a.dims.size() != 2) l.Fail(node, "A must be [N, K]");
  const Constant b = l.InputConstant(node, 1);
  if (b.dims.size() != 2) l.Fail(node, "B must be a 2-D constant");
  const int64_t k = a.dims[1], n = b.dims[1];
  if (b.dims[0] != k)
    l.Fail(node, "B " + DimsString(b.dims) + " does not match A's " +
                     std::to_string(k) + " columns");
  const std::vector<float> src = FloatWeights(l, node, b);
  std::vector<float> weights(n * k);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < k; ++j) weights[r * k + j] = src[j * n + r];
  l.SetTensor(
      node.output(0),
      l.EmitFullyConnected(node, a, node.output(0), n, std::move(weights), {},
                           WeightScales(l, node, b, 1, n)));
}

void LowerArithmetic(Lowerer& l, const NodeProto& node) {
  const std::string& type = node.op_type();
  const bool c0 = l.Lookup(node, node.input(0)).is_constant;
  if (node.input_size() < 2) l.Fail(node, "needs two inputs");
  const bool c1 = l.Lookup(node, node.input(1)).is_constant;
  if (c0 && c1) {
    l.SetConstant(node.output(0),
                  ConstantArithmetic(l, node, l.InputConstant(node, 0),
                                     l.InputConstant(node, 1)));
    return;
  }
  if (type == "Mul" || type == "Div")
    l.Fail(node, "is supported between constants only");
  if (!c0 && !c1) {
    if (type != "Add") l.Fail(node, "Sub of two tensors is not supported");
    const Tensor a = l.InputTensor(node, 0), b = l.InputTensor(node, 1);
    l.RequirePlain(node, a, true);
    l.RequirePlain(node, b, true);
    if (a.dims != b.dims || a.chw != b.chw)
      l.Fail(node, "adds " + DimsString(a.dims) + " and " + DimsString(b.dims) +
                       "; Kiln's Add needs equal shapes (no broadcasting)");
    const std::vector<int32_t> shape = l.graph_->values[a.value].shape;
    ImportedOp op = l.NewOp(node, ImportedOpKind::kAdd,
                            {a.value, l.ValueInShape(node, b, shape)});
    Tensor out;
    out.dims = a.dims;
    out.chw = a.chw;
    out.value = l.AddValue(node, node.output(0), out.dims, shape);
    op.output = out.value;
    l.AddOp(std::move(op));
    l.SetTensor(node.output(0), std::move(out));
    return;
  }
  if (c0 && type == "Sub")
    l.Fail(node, "subtracting a tensor from a constant is not supported");
  FoldBias(l, node, c0 ? 1 : 0, l.InputConstant(node, c0 ? 0 : 1),
           type == "Sub" ? -1.0f : 1.0f);
}

void LowerBatchNorm(Lowerer& l, const NodeProto& node) {
  const Tensor x = l.InputTensor(node, 0);
  l.RequirePlain(node, x, false);
  if (x.dims.size() != 4 && x.dims.size() != 2)
    l.Fail(node, "needs a [N, C, H, W] or [N, C] input");
  if (AttrInt(l, node, "training_mode", 0) != 0)
    l.Fail(node, "training_mode=1 is not supported (inference only)");
  if (AttrInt(l, node, "spatial", 1) != 1)
    l.Fail(node, "spatial=0 is not supported");
  l.RequireUnusedOutputs(node, 1);
  const int64_t c = x.dims[1];
  const std::vector<float> gamma =
      VectorOf(l, node, l.InputConstant(node, 1), c, "scale");
  const std::vector<float> beta =
      VectorOf(l, node, l.InputConstant(node, 2), c, "B");
  const std::vector<float> mean =
      VectorOf(l, node, l.InputConstant(node, 3), c, "mean");
  const std::vector<float> var =
      VectorOf(l, node, l.InputConstant(node, 4), c, "var");
  const float eps = AttrFloat(l, node, "epsilon", 1e-5f);
  // y = s * x + shift, s = gamma / sqrt(var + eps).
  std::vector<float> s(c), shift(c);
  for (int64_t k = 0; k < c; ++k) {
    const double denom = static_cast<double>(var[k]) + eps;
    if (!(denom > 0)) l.Fail(node, "var + epsilon is not positive");
    s[k] = static_cast<float>(gamma[k] / std::sqrt(denom));
    shift[k] = beta[k] - mean[k] * s[k];
  }
  const int32_t producer = l.FoldableProducer(node, 0, kLinearKinds);
  if (producer >= 0) {
    ImportedOp& op = l.graph_->ops[producer];
    const size_t row = op.weights.size() / c;
    if (op.bias.empty()) op.bias.assign(c, 0.0f);
    if (op.weight_scales.size() == 1)
      op.weight_scales.assign(c, op.weight_scales[0]);
    for (int64_t o = 0; o < c; ++o) {
      for (size_t j = 0; j < row; ++j) op.weights[o * row + j] *= s[o];
      op.bias[o] = op.bias[o] * s[o] + shift[o];
      // Keeps the graph's int8 weights: w * s quantizes with scale * |s|.
      if (!op.weight_scales.empty() && s[o] != 0.0f)
        op.weight_scales[o] *= std::fabs(s[o]);
    }
    Tensor t = l.Alias(node, 0);
    l.graph_->values[t.value].quant.reset();
    t.sole = true;
    l.SetTensor(node.output(0), std::move(t));
    return;
  }
  // A per-channel scale and shift: a depthwise 1x1 convolution ([N, C]
  // features run as a [1, 1, C] image and are reshaped back).
  const bool features = x.dims.size() == 2;
  const std::vector<int32_t> image_shape =
      features ? std::vector<int32_t>{1, 1, static_cast<int32_t>(c)}
               : l.KilnShape(node, x.dims);
  ImportedOp op = l.NewOp(node, ImportedOpKind::kConv2D,
                          {l.ValueInShape(node, x, image_shape)});
  op.weights = s;
  op.weight_shape = {static_cast<int32_t>(c), 1, 1, 1};
  op.bias = shift;
  op.conv.groups = static_cast<int32_t>(c);
  Tensor out;
  out.dims = x.dims;
  out.value = l.AddValue(node, node.output(0), out.dims, image_shape);
  op.output = out.value;
  l.AddOp(std::move(op));
  if (features) out.value = l.ValueInShape(node, out, {image_shape[2]});
  l.SetTensor(node.output(0), std::move(out));
}

}  // namespace lowering
}  // namespace onnx_import
}  // namespace kiln
