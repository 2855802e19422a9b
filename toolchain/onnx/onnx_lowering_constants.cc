// Constants in the lowering: initializers and Constant nodes read into
// Constant (sizes checked before allocating: the file is untrusted), and
// the shape arithmetic exporters write around Reshape (Shape, Gather,
// Add/Sub/Mul/Div between constants) folded at import time, so that only
// real tensors become Kiln values.
#include <math.h>
#include <string.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "toolchain/onnx/onnx_lowering.h"

namespace kiln {
namespace onnx_import {
namespace lowering {

using onnx::NodeProto;
using onnx::TensorProto;

namespace {

size_t ElementSize(int32_t type) {
  switch (type) {
    case TensorProto::FLOAT:
    case TensorProto::INT32:
      return 4;
    case TensorProto::DOUBLE:
    case TensorProto::INT64:
      return 8;
    case TensorProto::INT8:
    case TensorProto::UINT8:
      return 1;
    default:
      return 0;
  }
}

}  // namespace

int64_t Constant::Count() const { return Product(dims); }

std::vector<float> Constant::Floats() const {
  if (!IsInt()) return f;
  std::vector<float> out(i.size());
  for (size_t k = 0; k < i.size(); ++k) out[k] = static_cast<float>(i[k]);
  return out;
}

std::vector<int64_t> Constant::Ints() const {
  if (IsInt()) return i;
  std::vector<int64_t> out(f.size());
  for (size_t k = 0; k < f.size(); ++k) {
    if (!(std::fabs(f[k]) < 9.2e18f)) throw LoweringError("float out of range");
    out[k] = static_cast<int64_t>(f[k]);
  }
  return out;
}

bool ConstantFromTensorProto(const TensorProto& tensor, Constant* out,
                             std::string* why) {
  Constant c;
  const size_t size = ElementSize(tensor.data_type());
  if (size == 0) {
    *why = "unsupported dtype " + std::to_string(tensor.data_type()) +
           " (float, double, int8, uint8, int32, int64 only)";
    return false;
  }
  if (tensor.data_location() == TensorProto::EXTERNAL) {
    *why = "external data is not supported";
    return false;
  }
  int64_t count = 1;
  for (int64_t d : tensor.dims()) {
    if (d < 0 || (d != 0 && count > kMaxElements / d)) {
      *why = "negative dims or more than 2^31 - 1 elements";
      return false;
    }
    count *= d;
    c.dims.push_back(d);
  }
  const int32_t type = tensor.data_type();
  c.elem_type = type == TensorProto::DOUBLE ? TensorProto::FLOAT : type;
  const bool raw = tensor.has_raw_data();
  int64_t typed = 0;
  switch (type) {
    case TensorProto::FLOAT:
      typed = tensor.float_data_size();
      break;
    case TensorProto::DOUBLE:
      typed = tensor.double_data_size();
      break;
    case TensorProto::INT64:
      typed = tensor.int64_data_size();
      break;
    default:
      typed = tensor.int32_data_size();
      break;
  }
  // Sizes are checked before anything is allocated: a crafted dims field
  // must not turn into a huge allocation.
  if (raw) {
    if (typed != 0) {
      *why = "has both raw_data and typed data";
      return false;
    }
    if (tensor.raw_data().size() != static_cast<uint64_t>(count) * size) {
      *why = "raw_data holds " + std::to_string(tensor.raw_data().size()) +
             " bytes, dims " +
             DimsString(std::vector<int64_t>(tensor.dims().begin(),
                                             tensor.dims().end())) +
             " need " + std::to_string(count * static_cast<int64_t>(size));
      return false;
    }
  } else if (typed != count) {
    *why = "holds " + std::to_string(typed) + " values, its dims need " +
           std::to_string(count);
    return false;
  }
  const uint8_t* bytes =
      reinterpret_cast<const uint8_t*>(tensor.raw_data().data());
  for (int64_t k = 0; k < count; ++k) {
    switch (type) {
      case TensorProto::FLOAT: {
        float v;
        if (raw)
          memcpy(&v, bytes + 4 * k, 4);
        else
          v = tensor.float_data(k);
        c.f.push_back(v);
        break;
      }
      case TensorProto::DOUBLE: {
        double v;
        if (raw)
          memcpy(&v, bytes + 8 * k, 8);
        else
          v = tensor.double_data(k);
        c.f.push_back(static_cast<float>(v));
        break;
      }
      case TensorProto::INT64: {
        int64_t v;
        if (raw)
          memcpy(&v, bytes + 8 * k, 8);
        else
          v = tensor.int64_data(k);
        c.i.push_back(v);
        break;
      }
      case TensorProto::INT32: {
        int32_t v;
        if (raw)
          memcpy(&v, bytes + 4 * k, 4);
        else
          v = tensor.int32_data(k);
        c.i.push_back(v);
        break;
      }
      case TensorProto::INT8: {
        int64_t v = raw ? static_cast<int8_t>(bytes[k]) : tensor.int32_data(k);
        if (v < -128 || v > 127) {
          *why = "int8 value out of range";
          return false;
        }
        c.i.push_back(v);
        break;
      }
      default: {  // UINT8
        int64_t v = raw ? bytes[k] : tensor.int32_data(k);
        if (v < 0 || v > 255) {
          *why = "uint8 value out of range";
          return false;
        }
        c.i.push_back(v);
        break;
      }
    }
  }
  *out = std::move(c);
  return true;
}

Constant ConstantArithmetic(Lowerer& l, const NodeProto& node,
                            const Constant& a, const Constant& b) {
  const bool a_scalar = a.Count() == 1, b_scalar = b.Count() == 1;
  if (a.dims != b.dims && !a_scalar && !b_scalar)
    l.Fail(node, "broadcasting between constants " + DimsString(a.dims) +
                     " and " + DimsString(b.dims) + " is not supported");
  Constant out;
  out.dims = (a_scalar && !b_scalar) ? b.dims : a.dims;
  const int64_t n = out.Count();
  const std::string& op = node.op_type();
  if (a.IsInt() && b.IsInt()) {
    out.elem_type = a.elem_type;
    for (int64_t k = 0; k < n; ++k) {
      const int64_t x = a.i[a_scalar ? 0 : k], y = b.i[b_scalar ? 0 : k];
      int64_t r = 0;
      bool overflow = false;
      if (op == "Add") {
        overflow = __builtin_add_overflow(x, y, &r);
      } else if (op == "Sub") {
        overflow = __builtin_sub_overflow(x, y, &r);
      } else if (op == "Mul") {
        overflow = __builtin_mul_overflow(x, y, &r);
      } else {
        if (y == 0) l.Fail(node, "integer division by zero");
        overflow = x == std::numeric_limits<int64_t>::min() && y == -1;
        if (!overflow) r = x / y;
      }
      if (overflow) l.Fail(node, "integer overflow in constant arithmetic");
      out.i.push_back(r);
    }
  } else {
    const std::vector<float> fa = a.Floats(), fb = b.Floats();
    for (int64_t k = 0; k < n; ++k) {
      const float x = fa[a_scalar ? 0 : k], y = fb[b_scalar ? 0 : k];
      out.f.push_back(op == "Add"   ? x + y
                      : op == "Sub" ? x - y
                      : op == "Mul" ? x * y
                                    : x / y);
    }
  }
  return out;
}

void LowerConstant(Lowerer& l, const NodeProto& node) {
  if (node.attribute_size() != 1)
    l.Fail(node, "needs exactly one value attribute");
  const onnx::AttributeProto& a = node.attribute(0);
  Constant c;
  if (a.name() == "value" && a.type() == onnx::AttributeProto::TENSOR) {
    std::string why;
    if (!ConstantFromTensorProto(a.t(), &c, &why)) l.Fail(node, why);
  } else if (a.name() == "value_float") {
    c.f = {a.f()};
  } else if (a.name() == "value_floats") {
    c.f.assign(a.floats().begin(), a.floats().end());
    c.dims = {static_cast<int64_t>(c.f.size())};
  } else if (a.name() == "value_int") {
    c.elem_type = TensorProto::INT64;
    c.i = {a.i()};
  } else if (a.name() == "value_ints") {
    c.elem_type = TensorProto::INT64;
    c.i.assign(a.ints().begin(), a.ints().end());
    c.dims = {static_cast<int64_t>(c.i.size())};
  } else {
    l.Fail(node, "attribute '" + a.name() + "' is not supported");
  }
  l.SetConstant(node.output(0), std::move(c));
}

void LowerShape(Lowerer& l, const NodeProto& node) {
  // The batch dim reads as 1: Kiln lowers one item at a time.
  const std::vector<int64_t> dims = EntryDims(l, node, 0);
  const int64_t rank = static_cast<int64_t>(dims.size());
  int64_t start = AttrInt(l, node, "start", 0);
  int64_t end = AttrInt(l, node, "end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::min(std::max<int64_t>(start, 0), rank);
  end = std::min(std::max<int64_t>(end, start), rank);
  Constant c;
  c.elem_type = TensorProto::INT64;
  c.i.assign(dims.begin() + start, dims.begin() + end);
  c.dims = {end - start};
  l.SetConstant(node.output(0), std::move(c));
}

void LowerGather(Lowerer& l, const NodeProto& node) {
  if (!l.Lookup(node, node.input(0)).is_constant)
    l.Fail(node, "gathering from a computed tensor is not supported");
  const Constant& data = l.InputConstant(node, 0);
  const Constant& indices = l.InputConstant(node, 1);
  if (data.dims.size() != 1 || AttrInt(l, node, "axis", 0) != 0)
    l.Fail(node, "only gathers from 1-D constants are supported");
  Constant out;
  out.elem_type = data.elem_type;
  out.dims = indices.dims;
  const int64_t n = data.dims[0];
  for (int64_t index : indices.Ints()) {
    if (index < -n || index >= n) l.Fail(node, "index out of range");
    if (index < 0) index += n;
    if (data.IsInt())
      out.i.push_back(data.i[index]);
    else
      out.f.push_back(data.f[index]);
  }
  l.SetConstant(node.output(0), std::move(out));
}

}  // namespace lowering
}  // namespace onnx_import
}  // namespace kiln
