// Ops that move or relabel data without computing: Reshape, Flatten,
// Squeeze, Unsqueeze, Concat, the pass-throughs (Identity, Dropout, Cast)
// and zero Pad (folded into the Conv/AveragePool after it). ONNX tensors are
// NCHW, Kiln's are HWC, so a reshape is a Kiln Reshape only when both layouts
// list the elements in the same order; a [C, H, W] flattened for Gemm/MatMul
// stays in HWC order and is marked (Tensor::chw) for the linear op to permute
// its weights instead. On constants these ops just rewrite the constant's dims
// or data.
#include <string>
#include <utility>
#include <vector>

#include "toolchain/onnx/onnx_lowering.h"

namespace kiln {
namespace onnx_import {
namespace lowering {

using onnx::NodeProto;
using onnx::TensorProto;

namespace {

// Gives the tensor new ONNX dims, as a Kiln Reshape or no op at all.
void ReshapeTensor(Lowerer& l, const NodeProto& node, const Tensor& x,
                   const std::vector<int64_t>& dims) {
  l.RequirePlain(node, x, true);
  if (Product(dims) != Product(x.dims))
    l.Fail(node,
           "cannot reshape " + DimsString(x.dims) + " to " + DimsString(dims));
  if (dims == x.dims) {
    l.SetTensor(node.output(0), l.Alias(node, 0));
    return;
  }
  if (dims.empty() || dims[0] != 1)
    l.Fail(node, "the result " + DimsString(dims) +
                     " does not keep the batch dim first");
  std::vector<int32_t> shape;
  std::vector<int64_t> chw;
  if (!x.chw.empty()) {
    // Unflattening back to the original [C, H, W]: the data is in HWC
    // order already, i.e. Kiln's [H, W, C].
    if (dims != std::vector<int64_t>{1, x.chw[0], x.chw[1], x.chw[2]})
      l.Fail(node, "reshapes a flattened [C, H, W] tensor to " +
                       DimsString(dims) +
                       ", which would reorder data between ONNX (CHW) and "
                       "Kiln (HWC)");
    shape = l.KilnShape(node, dims);
  } else if (LayoutNeutral(x.dims) && LayoutNeutral(dims)) {
    shape = l.KilnShape(node, dims);
  } else if (x.dims.size() == 4 && dims.size() == 2) {
    // Flattening [C, H, W]: Kiln's data stays in HWC order; a following
    // Gemm/MatMul permutes its weight columns to match.
    shape = l.KilnShape(node, dims);
    chw = {x.dims[1], x.dims[2], x.dims[3]};
  } else {
    l.Fail(node, "reshaping " + DimsString(x.dims) + " to " + DimsString(dims) +
                     " would reorder data between ONNX's NCHW and Kiln's "
                     "NHWC layouts; only flattening before Gemm/MatMul is "
                     "supported");
  }
  Tensor out;
  out.dims = dims;
  out.chw = chw;
  const ImportedValue& in_value = l.graph_->values[x.value];
  if (in_value.shape == shape) {
    out = l.Alias(node, 0);
    out.dims = dims;
    out.chw = chw;
  } else {
    const std::optional<QuantParams> quant = in_value.quant;
    out.value = l.AddValue(node, node.output(0), dims, shape);
    l.graph_->values[out.value].quant = quant;
    ImportedOp op = l.NewOp(node, ImportedOpKind::kReshape, {x.value});
    op.shape = shape;
    op.output = out.value;
    l.AddOp(std::move(op));
  }
  l.SetTensor(node.output(0), std::move(out));
}

// Reshape semantics: 0 copies the input dim (unless allowzero), -1 infers.
std::vector<int64_t> ResolveReshape(Lowerer& l, const NodeProto& node,
                                    const std::vector<int64_t>& in,
                                    const std::vector<int64_t>& target) {
  const bool allow_zero = AttrInt(l, node, "allowzero", 0) != 0;
  std::vector<int64_t> out(target.size());
  int infer = -1;
  int64_t known = 1;
  for (size_t k = 0; k < target.size(); ++k) {
    int64_t d = target[k];
    if (d == 0 && !allow_zero) {
      if (k >= in.size()) l.Fail(node, "0 in the shape has no input dim");
      d = in[k];
    }
    if (d == -1) {
      if (infer >= 0) l.Fail(node, "more than one -1 in the shape");
      infer = static_cast<int>(k);
      continue;
    }
    if (d < 0 || d > kMaxElements || (d != 0 && known > kMaxElements / d))
      l.Fail(node, "invalid shape " + DimsString(target));
    out[k] = d;
    known *= d;
  }
  const int64_t total = Product(in);
  if (infer >= 0) {
    if (known == 0 || total % known != 0)
      l.Fail(node, "cannot infer -1 in " + DimsString(target));
    out[infer] = total / known;
  }
  if (Product(out) != total)
    l.Fail(node,
           "cannot reshape " + DimsString(in) + " to " + DimsString(target));
  return out;
}

void ReshapeEntry(Lowerer& l, const NodeProto& node,
                  const std::vector<int64_t>& dims) {
  const Entry& e = l.Lookup(node, node.input(0));
  if (e.is_constant) {
    Constant c = e.constant;
    c.dims = dims;
    l.SetConstant(node.output(0), std::move(c));
  } else {
    ReshapeTensor(l, node, l.InputTensor(node, 0), dims);
  }
}

std::vector<int64_t> AxesInput(Lowerer& l, const NodeProto& node) {
  if (l.opset_ < 13) return AttrInts(l, node, "axes", {});
  if (!l.HasInput(node, 1)) return {};
  return l.InputConstant(node, 1).Ints();
}

}  // namespace

void LowerReshape(Lowerer& l, const NodeProto& node) {
  const std::vector<int64_t> in = EntryDims(l, node, 0);
  ReshapeEntry(l, node,
               ResolveReshape(l, node, in, l.InputConstant(node, 1).Ints()));
}

void LowerFlatten(Lowerer& l, const NodeProto& node) {
  const std::vector<int64_t> in = EntryDims(l, node, 0);
  const int64_t axis =
      NormalizeAxis(l, node, AttrInt(l, node, "axis", 1), in.size() + 1);
  const bool is_tensor = !l.Lookup(node, node.input(0)).is_constant;
  if (is_tensor && axis != 1)
    l.Fail(node, "axis " + std::to_string(axis) +
                     " is not supported (Kiln flattens per item: axis 1)");
  int64_t outer = 1, inner = 1;
  for (size_t k = 0; k < in.size(); ++k)
    (static_cast<int64_t>(k) < axis ? outer : inner) *= in[k];
  ReshapeEntry(l, node, {outer, inner});
}

void LowerSqueeze(Lowerer& l, const NodeProto& node) {
  const std::vector<int64_t> in = EntryDims(l, node, 0);
  const bool is_tensor = !l.Lookup(node, node.input(0)).is_constant;
  std::vector<bool> drop(in.size(), false);
  std::vector<int64_t> axes = AxesInput(l, node);
  if (axes.empty()) {
    for (size_t k = is_tensor ? 1 : 0; k < in.size(); ++k) drop[k] = in[k] == 1;
  }
  for (int64_t a : axes) {
    const int64_t axis = NormalizeAxis(l, node, a, in.size());
    if (in[axis] != 1) l.Fail(node, "squeezes a dim that is not 1");
    if (is_tensor && axis == 0) l.Fail(node, "squeezes the batch dim");
    drop[axis] = true;
  }
  std::vector<int64_t> out;
  for (size_t k = 0; k < in.size(); ++k)
    if (!drop[k]) out.push_back(in[k]);
  ReshapeEntry(l, node, out);
}

void LowerUnsqueeze(Lowerer& l, const NodeProto& node) {
  const std::vector<int64_t> in = EntryDims(l, node, 0);
  const bool is_tensor = !l.Lookup(node, node.input(0)).is_constant;
  const std::vector<int64_t> axes = AxesInput(l, node);
  const size_t rank = in.size() + axes.size();
  if (axes.empty() || rank > 8) l.Fail(node, "invalid axes");
  std::vector<bool> added(rank, false);
  for (int64_t a : axes) {
    const int64_t axis = NormalizeAxis(l, node, a, rank);
    if (added[axis]) l.Fail(node, "repeated axis");
    if (is_tensor && axis == 0) l.Fail(node, "adds a dim before the batch dim");
    added[axis] = true;
  }
  std::vector<int64_t> out;
  size_t next = 0;
  for (size_t k = 0; k < rank; ++k) out.push_back(added[k] ? 1 : in[next++]);
  ReshapeEntry(l, node, out);
}

void LowerConcat(Lowerer& l, const NodeProto& node) {
  const int n = node.input_size();
  if (n < 1) l.Fail(node, "has no inputs");
  int constants = 0;
  for (int k = 0; k < n; ++k)
    constants += l.Lookup(node, node.input(k)).is_constant;
  const std::vector<int64_t> first = EntryDims(l, node, 0);
  const int64_t axis =
      NormalizeAxis(l, node, AttrInt(l, node, "axis", 0), first.size());
  std::vector<int64_t> dims = first;
  dims[axis] = 0;
  for (int k = 0; k < n; ++k) {
    const std::vector<int64_t> d = EntryDims(l, node, k);
    if (d.size() != first.size()) l.Fail(node, "inputs differ in rank");
    for (size_t j = 0; j < d.size(); ++j)
      if (static_cast<int64_t>(j) != axis && d[j] != first[j])
        l.Fail(node, "inputs differ outside the concat axis");
    dims[axis] += d[axis];
  }
  if (constants == n) {
    // Shape vectors and the like: concatenate the data.
    Constant out;
    const Constant& c0 = l.InputConstant(node, 0);
    out.elem_type = c0.elem_type;
    out.dims = dims;
    const int64_t outer =
        Product(std::vector<int64_t>(first.begin(), first.begin() + axis));
    const int64_t inner = Product(first, axis + 1);
    for (int64_t o = 0; o < outer; ++o)
      for (int k = 0; k < n; ++k) {
        const Constant& c = l.InputConstant(node, k);
        if (c.IsInt() != c0.IsInt()) l.Fail(node, "mixes dtypes");
        const int64_t chunk = c.dims[axis] * inner;
        for (int64_t j = 0; j < chunk; ++j) {
          if (c.IsInt())
            out.i.push_back(c.i[o * chunk + j]);
          else
            out.f.push_back(c.f[o * chunk + j]);
        }
      }
    l.SetConstant(node.output(0), std::move(out));
    return;
  }
  if (constants > 0)
    l.Fail(node, "concatenates constants with computed tensors");
  if (axis == 0) l.Fail(node, "concatenates along the batch dim");
  if (n > 16) l.Fail(node, "Kiln concatenates at most 16 inputs");
  int32_t kiln_axis = 0;
  if (first.size() == 4)
    kiln_axis = axis == 1 ? 2 : axis == 2 ? 0 : 1;
  else if (first.size() != 2)
    l.Fail(node, "rank-" + std::to_string(first.size()) +
                     " tensors are not supported");
  ImportedOp op = l.NewOp(node, ImportedOpKind::kConcat, {});
  for (int k = 0; k < n; ++k) {
    const Tensor t = l.InputTensor(node, k);
    l.RequirePlain(node, t, false);
    op.inputs.push_back(l.ValueInShape(node, t, l.KilnShape(node, t.dims)));
  }
  op.axis = kiln_axis;
  Tensor out;
  out.dims = dims;
  out.value = l.AddValue(node, node.output(0), dims, l.KilnShape(node, dims));
  op.output = out.value;
  l.AddOp(std::move(op));
  l.SetTensor(node.output(0), std::move(out));
}

// Identity, Dropout (inference), Cast to float: the same value.
void LowerPassThrough(Lowerer& l, const NodeProto& node) {
  const Entry& e = l.Lookup(node, node.input(0));
  if (node.op_type() == "Dropout") {
    l.RequireUnusedOutputs(node, 1);
    if (l.HasInput(node, 2)) {
      const Constant& training = l.InputConstant(node, 2);
      if (training.Count() != 1 || training.Ints()[0] != 0)
        l.Fail(node, "training_mode must be false");
    }
  }
  if (node.op_type() == "Cast") {
    const int64_t to = AttrInt(l, node, "to", 0);
    if (e.is_constant) {
      Constant c = e.constant;
      if (to == TensorProto::FLOAT || to == TensorProto::DOUBLE) {
        c.f = c.Floats();
        c.i.clear();
        c.elem_type = TensorProto::FLOAT;
      } else if (to == TensorProto::INT64 || to == TensorProto::INT32) {
        c.i = c.Ints();
        c.f.clear();
        c.elem_type = static_cast<int32_t>(to);
      } else {
        l.Fail(node, "cast of a constant to dtype " + std::to_string(to) +
                         " is not supported");
      }
      c.dequantized = c.quantized = false;
      l.SetConstant(node.output(0), std::move(c));
      return;
    }
    if (to != TensorProto::FLOAT)
      l.Fail(node, "only casts to float are supported (to=" +
                       std::to_string(to) + ")");
  }
  if (e.is_constant) {
    Constant c = e.constant;
    l.SetConstant(node.output(0), std::move(c));
  } else {
    l.SetTensor(node.output(0), l.Alias(node, 0));
  }
}

// Zero padding of H and W emits nothing: the tensor carries the pads to
// the Conv or AveragePool reading it, which pads with real zeros too.
// PyTorch exports nn.AvgPool2d(padding=p) (count_include_pad=True) as a Pad
// followed by an AveragePool without pads.
void LowerPad(Lowerer& l, const NodeProto& node) {
  const std::string mode = AttrString(l, node, "mode", "constant");
  if (mode != "constant")
    l.Fail(node, "mode '" + mode + "' is not supported (zero padding only)");
  std::vector<int64_t> pads;
  float value = 0.0f;
  if (l.opset_ < 11) {
    pads = AttrInts(l, node, "pads", {});
    value = AttrFloat(l, node, "value", 0.0f);
  } else {
    pads = l.InputConstant(node, 1).Ints();
    if (l.HasInput(node, 2)) {
      const Constant& c = l.InputConstant(node, 2);
      if (c.Count() != 1) l.Fail(node, "constant_value must be a scalar");
      value = c.Floats()[0];
    }
    if (l.HasInput(node, 3)) l.Fail(node, "the axes input is not supported");
  }
  if (value != 0.0f)
    l.Fail(node, "pads with " + std::to_string(value) +
                     "; Kiln folds zero padding only");
  std::vector<int64_t> total;
  Tensor t = WithoutPendingPads(l.Alias(node, 0), &total);
  l.RequirePlain(node, t, false);
  if (t.dims.size() != 4 || pads.size() != 8)
    l.Fail(node, "only pads of [N, C, H, W] tensors are supported");
  if (pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0)
    l.Fail(node, "pads N or C; Kiln folds padding of H and W only");
  // {top, left, bottom, right} from ONNX's {.., .., top, left, .., ..,
  // bottom, right}, added to an earlier Pad's.
  const int64_t add[4] = {pads[2], pads[3], pads[6], pads[7]};
  for (int k = 0; k < 4; ++k) {
    if (add[k] < 0) l.Fail(node, "negative pads (cropping) are not supported");
    if (add[k] > kMaxWindow || total[k] + add[k] > kMaxWindow)
      l.Fail(node, "pads out of range");
    total[k] += add[k];
  }
  if (total != std::vector<int64_t>{0, 0, 0, 0}) {
    t.dims[2] += total[0] + total[2];
    t.dims[3] += total[1] + total[3];
    t.pending_pads = total;
  }
  l.SetTensor(node.output(0), std::move(t));
}

Tensor WithoutPendingPads(const Tensor& t, std::vector<int64_t>* pads) {
  Tensor out = t;
  *pads = {0, 0, 0, 0};
  if (t.pending_pads.empty()) return out;
  *pads = t.pending_pads;
  out.pending_pads.clear();
  out.dims[2] -= (*pads)[0] + (*pads)[2];
  out.dims[3] -= (*pads)[1] + (*pads)[3];
  return out;
}

void MovePadsIntoWindows(Lowerer& l, const NodeProto& node,
                         const std::vector<int64_t>& pads, WindowAxis* ah,
                         WindowAxis* aw) {
  ah->in -= pads[0] + pads[2];
  ah->pad_begin += pads[0];
  ah->pad_end += pads[2];
  aw->in -= pads[1] + pads[3];
  aw->pad_begin += pads[1];
  aw->pad_end += pads[3];
  for (const WindowAxis* a : {ah, aw})
    if (a->pad_begin > 2 * kMaxWindow || a->pad_end > 2 * kMaxWindow)
      l.Fail(node, "pads out of range");
}

}  // namespace lowering
}  // namespace onnx_import
}  // namespace kiln
