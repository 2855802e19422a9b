// QuantizeLinear/DequantizeLinear. On a tensor, a Q/DQ pair sets the
// value's Kiln quantization (uint8 zero points shift by -128 to int8) and
// passes the value through; on a constant, Q quantizes a float weight and
// DQ keeps the int8 data's scales so the linear op can reuse them.
#include <math.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "toolchain/onnx/onnx_lowering.h"

namespace kiln {
namespace onnx_import {
namespace lowering {

using onnx::NodeProto;
using onnx::TensorProto;

namespace {

// Scale and zero point inputs of QuantizeLinear/DequantizeLinear.
struct QdqParams {
  std::vector<float> scales;
  std::vector<int64_t> zero_points;
  int32_t type = TensorProto::UINT8;
  int64_t axis = -1;  // -1: per tensor
};

QdqParams ReadQdqParams(Lowerer& l, const NodeProto& node,
                        const std::vector<int64_t>& dims, int32_t x_type) {
  QdqParams p;
  p.scales = l.InputConstant(node, 1).Floats();
  for (float s : p.scales)
    if (!(s > 0.0f) || !std::isfinite(s))
      l.Fail(node, "scales must be positive and finite");
  if (l.HasInput(node, 2)) {
    const Constant& zp = l.InputConstant(node, 2);
    p.type = zp.elem_type;
    p.zero_points = zp.Ints();
  } else {
    p.type = x_type;
    p.zero_points.assign(p.scales.size(), 0);
  }
  if (p.zero_points.size() != p.scales.size())
    l.Fail(node, "scale and zero point sizes differ");
  if (p.scales.size() > 1) {
    p.axis = NormalizeAxis(l, node, AttrInt(l, node, "axis", 1), dims.size());
    if (dims[p.axis] != static_cast<int64_t>(p.scales.size()))
      l.Fail(node, "the scales do not match dim " + std::to_string(p.axis));
  } else if (p.scales.empty()) {
    l.Fail(node, "no scale");
  }
  return p;
}

QuantParams KilnQuant(Lowerer& l, const NodeProto& node, const QdqParams& p) {
  if (p.scales.size() != 1)
    l.Fail(node, "per-axis quantization of activations is not supported");
  QuantParams q;
  q.scale = p.scales[0];
  if (p.type == TensorProto::UINT8)
    q.zero_point = static_cast<int32_t>(p.zero_points[0]) - 128;
  else if (p.type == TensorProto::INT8)
    q.zero_point = static_cast<int32_t>(p.zero_points[0]);
  else
    l.Fail(node, "activations must be quantized to int8 or uint8");
  return q;
}

bool SameQuant(const QuantParams& a, const QuantParams& b) {
  return a.zero_point == b.zero_point &&
         std::fabs(a.scale - b.scale) <= 1e-6f * std::fabs(a.scale);
}

// Per element: which scale / zero point applies.
int64_t ChannelOf(const std::vector<int64_t>& dims, int64_t axis, int64_t k) {
  if (axis < 0) return 0;
  return (k / Product(dims, axis + 1)) % dims[axis];
}

}  // namespace

void LowerQuantize(Lowerer& l, const NodeProto& node) {
  l.had_qdq_ = true;
  const Entry& e = l.Lookup(node, node.input(0));
  const std::vector<int64_t> dims = EntryDims(l, node, 0);
  const QdqParams p = ReadQdqParams(l, node, dims, TensorProto::UINT8);
  if (p.type != TensorProto::UINT8 && p.type != TensorProto::INT8)
    l.Fail(node, "only int8/uint8 quantization is supported");
  const int64_t lo = p.type == TensorProto::INT8 ? -128 : 0;
  if (e.is_constant) {
    // A float weight quantized in the graph (PyTorch exports it so).
    const Constant& x = e.constant;
    Constant q;
    q.dims = x.dims;
    q.elem_type = p.type;
    q.quantized = true;
    const std::vector<float> f = x.Floats();
    for (size_t k = 0; k < f.size(); ++k) {
      if (!std::isfinite(f[k])) l.Fail(node, "quantizes a non-finite value");
      const int64_t ch = ChannelOf(x.dims, p.axis, k);
      const double v = std::nearbyint(f[k] / p.scales[ch]) + p.zero_points[ch];
      q.i.push_back(static_cast<int64_t>(
          std::min<double>(std::max<double>(v, lo), lo + 255)));
    }
    l.SetConstant(node.output(0), std::move(q));
    return;
  }
  const QuantParams q = KilnQuant(l, node, p);
  Tensor t = l.Alias(node, 0);
  std::optional<QuantParams>& current = l.graph_->values[t.value].quant;
  if (current && !SameQuant(*current, q))
    l.Fail(node, "quantizes '" + l.graph_->values[t.value].name +
                     "' differently from an earlier QuantizeLinear");
  current = q;
  t.quantized_int = true;
  l.SetTensor(node.output(0), std::move(t));
}

void LowerDequantize(Lowerer& l, const NodeProto& node) {
  l.had_qdq_ = true;
  const Entry& e = l.Lookup(node, node.input(0));
  if (e.is_constant) {
    const Constant& x = e.constant;
    if (!x.IsInt()) l.Fail(node, "dequantizes a float constant");
    const QdqParams p = ReadQdqParams(l, node, x.dims, x.elem_type);
    if (p.type != x.elem_type)
      l.Fail(node, "zero point and data dtypes differ");
    Constant f;
    f.dims = x.dims;
    f.dequantized = true;
    f.dq_scales = p.scales;
    f.dq_zero_points = p.zero_points;
    f.dq_axis = p.axis;
    f.dq_type = x.elem_type;
    for (size_t k = 0; k < x.i.size(); ++k) {
      const int64_t ch = ChannelOf(x.dims, p.axis, k);
      f.f.push_back(static_cast<float>(
          static_cast<double>(x.i[k] - p.zero_points[ch]) * p.scales[ch]));
    }
    l.SetConstant(node.output(0), std::move(f));
    return;
  }
  const Tensor& x = l.InputTensor(node, 0);
  if (!x.quantized_int)
    l.Fail(node, "dequantizes a tensor that no QuantizeLinear produced");
  const QdqParams p = ReadQdqParams(l, node, x.dims, TensorProto::UINT8);
  const QuantParams q = KilnQuant(l, node, p);
  const auto& current = l.graph_->values[x.value].quant;
  if (!current || !SameQuant(*current, q))
    l.Fail(node, "parameters differ from its QuantizeLinear's");
  Tensor t = l.Alias(node, 0);
  t.quantized_int = false;
  l.SetTensor(node.output(0), std::move(t));
}

}  // namespace lowering
}  // namespace onnx_import
}  // namespace kiln
