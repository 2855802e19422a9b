// The float interpreter of ImportedGraph, and the graph validation that
// makes running it safe.
#include "toolchain/onnx/graph_interpreter.h"

#include <math.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kiln/kiln.h"

namespace kiln {
namespace onnx_import {

namespace {

// The builder's bound on a tensor (builder_checks.cc): beyond it nothing
// compiles, and it keeps every index below exact in int64.
constexpr int64_t kMaxElements = int64_t(1) << 31;

using RowMajor =
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstRowMajorMap = Eigen::Map<const RowMajor>;
using StridedOutMap =
    Eigen::Map<RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;

std::string ShapeText(const std::vector<int32_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

void Check(bool condition, const std::string& message) {
  if (!condition) throw std::invalid_argument(message);
}

// ---- Validation ----

class GraphChecker {
 public:
  explicit GraphChecker(const ImportedGraph& g) : g_(g) {}

  void CheckAll() {
    Check(!g_.values.empty(), "the graph has no values");
    for (size_t v = 0; v < g_.values.size(); ++v) CheckValue(v);
    Check(g_.input >= 0 && static_cast<size_t>(g_.input) < g_.values.size(),
          "the graph input " + std::to_string(g_.input) +
              " is not a value index");
    Check(g_.input_type == DType::kFloat32 || g_.input_type == DType::kUInt8,
          std::string("the graph input is ") + DTypeName(g_.input_type) +
              ", expected FLOAT32 or UINT8");
    computed_.assign(g_.values.size(), false);
    computed_[static_cast<size_t>(g_.input)] = true;
    for (const ImportedOp& op : g_.ops) {
      try {
        CheckOp(op);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument("node '" + op.name + "' (" + op.op_type +
                                    " as " + ImportedOpKindName(op.kind) +
                                    "): " + e.what());
      }
    }
    Check(!g_.outputs.empty(), "the graph has no outputs");
    for (const ImportedOutput& out : g_.outputs) CheckOutput(out);
  }

 private:
  const ImportedValue& Value(int32_t index, const char* role) const {
    Check(index >= 0 && static_cast<size_t>(index) < g_.values.size(),
          std::string(role) + " " + std::to_string(index) +
              " is not a value index");
    return g_.values[static_cast<size_t>(index)];
  }

  void CheckValue(size_t v) const {
    const ImportedValue& value = g_.values[v];
    const std::string who = "value '" + value.name + "'";
    Check(!value.shape.empty() && value.shape.size() <= KILN_MAX_RANK,
          who + " has rank " + std::to_string(value.shape.size()) +
              ", not 1.." + std::to_string(KILN_MAX_RANK));
    int64_t count = 1;
    for (int32_t d : value.shape) {
      Check(d >= 1, who + " has shape " + ShapeText(value.shape) +
                        " with a dimension < 1");
      count *= d;
      Check(count <= kMaxElements, who + " is too large");
    }
    if (value.quant) {
      Check(value.quant->scale > 0.0f && isnormal(value.quant->scale),
            who + ": quantization scale " + std::to_string(value.quant->scale) +
                " is not a positive normal float");
      Check(value.quant->zero_point >= -128 && value.quant->zero_point <= 127,
            who + ": zero point " + std::to_string(value.quant->zero_point) +
                " is outside [-128, 127]");
    }
  }

  // An op input: a value computed before the op runs.
  const ImportedValue& Input(int32_t index) const {
    const ImportedValue& v = Value(index, "input");
    Check(computed_[static_cast<size_t>(index)],
          "input '" + v.name +
              "' is read before any op computes it (ops out of topological "
              "order, or a value nothing computes)");
    return v;
  }

  static void CheckFinite(const std::vector<float>& values, const char* what) {
    for (float x : values) {
      Check(std::isfinite(x), std::string("a ") + what + " is not finite");
    }
  }

  // Weights of shape `shape` (all dims >= 1), bias and weight scales of
  // out_c = shape[0] channels.
  static void CheckWeights(const ImportedOp& op, size_t rank) {
    Check(op.weight_shape.size() == rank,
          "weight shape " + ShapeText(op.weight_shape) + " is not of rank " +
              std::to_string(rank));
    int64_t count = 1;
    for (int32_t d : op.weight_shape) {
      Check(d >= 1, "weight shape " + ShapeText(op.weight_shape) +
                        " has a dimension < 1");
      count *= d;
      Check(count <= kMaxElements, "the weights are too large");
    }
    Check(static_cast<int64_t>(op.weights.size()) == count,
          std::to_string(op.weights.size()) + " weights for weight shape " +
              ShapeText(op.weight_shape));
    const size_t out_c = static_cast<size_t>(op.weight_shape[0]);
    Check(op.bias.empty() || op.bias.size() == out_c,
          std::to_string(op.bias.size()) + " biases for " +
              std::to_string(out_c) + " output channels");
    Check(op.weight_scales.empty() || op.weight_scales.size() == 1 ||
              op.weight_scales.size() == out_c,
          std::to_string(op.weight_scales.size()) + " weight scales for " +
              std::to_string(out_c) + " output channels");
    for (float s : op.weight_scales) {
      Check(s > 0.0f && isnormal(s), "weight scale " + std::to_string(s) +
                                         " is not a positive normal float");
    }
    CheckFinite(op.weights, "weight");
    CheckFinite(op.bias, "bias");
  }

  static void CheckNoWeights(const ImportedOp& op) {
    Check(op.weights.empty() && op.weight_shape.empty() && op.bias.empty() &&
              op.weight_scales.empty(),
          "this op takes no weights");
  }

  void CheckOp(const ImportedOp& op) {
    const ImportedValue& out = Value(op.output, "output");
    Check(!computed_[static_cast<size_t>(op.output)],
          "output '" + out.name +
              "' is already computed (by the graph "
              "input or an earlier op)");
    const bool has_activation = op.kind == ImportedOpKind::kConv2D ||
                                op.kind == ImportedOpKind::kFullyConnected ||
                                op.kind == ImportedOpKind::kAdd;
    Check(op.activation == Activation::kNone ||
              (has_activation && (op.activation == Activation::kRelu ||
                                  op.activation == Activation::kRelu6)),
          "unsupported fused activation");
    const size_t expected_inputs = op.kind == ImportedOpKind::kAdd ? 2
                                   : op.kind == ImportedOpKind::kConcat
                                       ? op.inputs.size()
                                       : 1;
    Check(op.inputs.size() == expected_inputs && !op.inputs.empty(),
          std::to_string(op.inputs.size()) + " inputs");
    std::vector<const ImportedValue*> in;
    for (int32_t i : op.inputs) in.push_back(&Input(i));
    const std::vector<int32_t> shape = OutputShape(op, in);
    Check(shape == out.shape, "output '" + out.name + "' has shape " +
                                  ShapeText(out.shape) + ", the op gives " +
                                  ShapeText(shape));
    computed_[static_cast<size_t>(op.output)] = true;
  }

  static std::vector<int32_t> OutputShape(
      const ImportedOp& op, const std::vector<const ImportedValue*>& in) {
    const std::vector<int32_t>& s = in[0]->shape;
    switch (op.kind) {
      case ImportedOpKind::kConv2D:
        return ConvShape(op, s);
      case ImportedOpKind::kFullyConnected:
        CheckWeights(op, 2);
        Check(op.weight_shape[1] == ShapeElementCount(s),
              "weights " + ShapeText(op.weight_shape) +
                  " do not match the input's " +
                  std::to_string(ShapeElementCount(s)) + " elements");
        return {op.weight_shape[0]};
      case ImportedOpKind::kAdd:
        CheckNoWeights(op);
        Check(in[1]->shape == s, "the inputs' shapes " + ShapeText(s) +
                                     " and " + ShapeText(in[1]->shape) +
                                     " differ (no broadcasting)");
        return s;
      case ImportedOpKind::kMaxPool2D:
      case ImportedOpKind::kAveragePool2D:
        CheckNoWeights(op);
        return PoolShape(op.pool, s);
      case ImportedOpKind::kGlobalAveragePool:
        CheckNoWeights(op);
        Check(s.size() == 3,
              "the input must be [H, W, C], not " + ShapeText(s));
        return {s[2]};
      case ImportedOpKind::kConcat:
        CheckNoWeights(op);
        return ConcatShape(op, in);
      case ImportedOpKind::kReshape:
        CheckNoWeights(op);
        return ReshapeShape(op.shape, s);
      case ImportedOpKind::kSoftmax:
      case ImportedOpKind::kLogistic:
        CheckNoWeights(op);
        return s;
    }
    throw std::invalid_argument("unknown op kind " +
                                std::to_string(static_cast<int>(op.kind)));
  }

  static std::vector<int32_t> ConvShape(const ImportedOp& op,
                                        const std::vector<int32_t>& s) {
    Check(s.size() == 3, "the input must be [H, W, C], not " + ShapeText(s));
    CheckWeights(op, 4);
    const Conv2DOptions& o = op.conv;
    const int32_t c = s[2], out_c = op.weight_shape[0];
    Check(o.groups >= 1 && c % o.groups == 0 && out_c % o.groups == 0,
          "groups " + std::to_string(o.groups) + " must divide in_c " +
              std::to_string(c) + " and out_c " + std::to_string(out_c));
    Check(op.weight_shape[3] == c / o.groups,
          "weights " + ShapeText(op.weight_shape) +
              " must be [out_c, kh, kw, in_c / groups] (in_c " +
              std::to_string(c) + ", groups " + std::to_string(o.groups) + ")");
    Check(o.stride_h >= 1 && o.stride_w >= 1 && o.dilation_h >= 1 &&
              o.dilation_w >= 1,
          "strides and dilations must be >= 1");
    Check(o.pad_top >= 0 && o.pad_left >= 0 && o.pad_bottom >= 0 &&
              o.pad_right >= 0,
          "padding must be >= 0");
    const int64_t oh = WindowOutputSize(s[0], op.weight_shape[1], o.stride_h,
                                        o.dilation_h, o.pad_top, o.pad_bottom);
    const int64_t ow = WindowOutputSize(s[1], op.weight_shape[2], o.stride_w,
                                        o.dilation_w, o.pad_left, o.pad_right);
    Check(oh >= 1 && ow >= 1 && oh * ow * out_c <= kMaxElements,
          "the kernel does not fit the padded input (or the output is too "
          "large)");
    return {static_cast<int32_t>(oh), static_cast<int32_t>(ow), out_c};
  }

  static std::vector<int32_t> PoolShape(const Pool2DOptions& o,
                                        const std::vector<int32_t>& s) {
    Check(s.size() == 3, "the input must be [H, W, C], not " + ShapeText(s));
    Check(o.filter_h >= 1 && o.filter_w >= 1 && o.stride_h >= 1 &&
              o.stride_w >= 1,
          "filter and strides must be >= 1");
    // As in Kiln (docs/format.md): a pad smaller than the filter leaves a
    // real element in every window.
    Check(o.pad_top >= 0 && o.pad_bottom >= 0 && o.pad_left >= 0 &&
              o.pad_right >= 0 && o.pad_top < o.filter_h &&
              o.pad_bottom < o.filter_h && o.pad_left < o.filter_w &&
              o.pad_right < o.filter_w,
          "padding must be in [0, filter)");
    const int64_t oh = WindowOutputSize(s[0], o.filter_h, o.stride_h, 1,
                                        o.pad_top, o.pad_bottom);
    const int64_t ow = WindowOutputSize(s[1], o.filter_w, o.stride_w, 1,
                                        o.pad_left, o.pad_right);
    Check(oh >= 1 && ow >= 1, "the filter does not fit the padded input");
    return {static_cast<int32_t>(oh), static_cast<int32_t>(ow), s[2]};
  }

  static std::vector<int32_t> ConcatShape(
      const ImportedOp& op, const std::vector<const ImportedValue*>& in) {
    std::vector<int32_t> shape = in[0]->shape;
    const int32_t rank = static_cast<int32_t>(shape.size());
    Check(op.axis >= -rank && op.axis < rank,
          "axis " + std::to_string(op.axis) + " is out of range for rank " +
              std::to_string(rank));
    const size_t a =
        static_cast<size_t>(op.axis < 0 ? op.axis + rank : op.axis);
    int64_t total = 0;
    for (const ImportedValue* v : in) {
      Check(v->shape.size() == shape.size(),
            "the inputs must have the same rank");
      for (size_t d = 0; d < shape.size(); ++d) {
        Check(d == a || v->shape[d] == shape[d],
              "the inputs " + ShapeText(shape) + " and " + ShapeText(v->shape) +
                  " differ off the axis");
      }
      total += v->shape[a];
    }
    Check(total <= INT32_MAX, "the output is too large");
    shape[a] = static_cast<int32_t>(total);
    return shape;
  }

  static std::vector<int32_t> ReshapeShape(const std::vector<int32_t>& target,
                                           const std::vector<int32_t>& s) {
    Check(!target.empty(), "the new shape is empty");
    std::vector<int32_t> shape = target;
    int64_t known = 1;
    int inferred = -1;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] == -1) {
        Check(inferred < 0, "more than one -1 in the new shape");
        inferred = static_cast<int>(i);
      } else {
        Check(shape[i] >= 1,
              "the new shape " + ShapeText(target) + " has a dimension < 1");
        known *= shape[i];
        Check(known <= kMaxElements, "the new shape is too large");
      }
    }
    const int64_t count = ShapeElementCount(s);
    if (inferred >= 0) {
      Check(count % known == 0, "the -1 of " + ShapeText(target) +
                                    " cannot be inferred from " + ShapeText(s));
      shape[static_cast<size_t>(inferred)] =
          static_cast<int32_t>(count / known);
    }
    Check(ShapeElementCount(shape) == count,
          "the new shape " + ShapeText(target) + " does not hold the " +
              std::to_string(count) + " elements of " + ShapeText(s));
    return shape;
  }

  void CheckOutput(const ImportedOutput& out) const {
    const std::string who = "graph output '" + out.name + "'";
    try {
      const ImportedValue& v = Value(out.value, "value");
      Check(computed_[static_cast<size_t>(out.value)],
            "value '" + v.name + "' is never computed");
      if (out.logits >= 0) {
        const ImportedValue& l = Value(out.logits, "logits");
        Check(computed_[static_cast<size_t>(out.logits)],
              "logits '" + l.name + "' are never computed");
        const int64_t classes = ShapeElementCount(l.shape);
        Check(out.labels.empty() ||
                  static_cast<int64_t>(out.labels.size()) == classes,
              std::to_string(out.labels.size()) + " labels for " +
                  std::to_string(classes) + " classes");
      } else {
        Check(out.logits == -1, "logits " + std::to_string(out.logits) +
                                    " is not a value index or -1");
      }
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(who + ": " + e.what());
    }
  }

  const ImportedGraph& g_;
  std::vector<bool> computed_;
};

// ---- Kernels ----

float ApplyActivation(Activation a, float x) {
  switch (a) {
    case Activation::kRelu:
      return std::max(x, 0.0f);
    case Activation::kRelu6:
      return std::min(std::max(x, 0.0f), 6.0f);
    default:
      return x;
  }
}

void BiasAndActivation(const ImportedOp& op, int64_t pixels, int32_t out_c,
                       float* out) {
  for (int64_t p = 0; p < pixels; ++p) {
    float* o = out + p * out_c;
    for (int32_t c = 0; c < out_c; ++c) {
      const float b = op.bias.empty() ? 0.0f : op.bias[static_cast<size_t>(c)];
      o[c] = ApplyActivation(op.activation, o[c] + b);
    }
  }
}

// Depthwise (one input channel per group): a direct loop, since a GEMM of
// depth kh * kw per channel gains nothing.
void DepthwiseConv(const ImportedOp& op, const std::vector<int32_t>& in_shape,
                   const float* in, const std::vector<int32_t>& out_shape,
                   float* out) {
  const Conv2DOptions& o = op.conv;
  const int32_t h = in_shape[0], w = in_shape[1], c = in_shape[2];
  const int32_t kh = op.weight_shape[1], kw = op.weight_shape[2];
  const int32_t oh = out_shape[0], ow = out_shape[1], out_c = out_shape[2];
  const int32_t m = out_c / c;  // depth multiplier
  const float* weights = op.weights.data();
  std::fill(out, out + static_cast<int64_t>(oh) * ow * out_c, 0.0f);
  for (int32_t oy = 0; oy < oh; ++oy) {
    for (int32_t ox = 0; ox < ow; ++ox) {
      float* o_px = out + (static_cast<int64_t>(oy) * ow + ox) * out_c;
      for (int32_t ky = 0; ky < kh; ++ky) {
        const int64_t iy =
            int64_t(oy) * o.stride_h - o.pad_top + int64_t(ky) * o.dilation_h;
        if (iy < 0 || iy >= h) continue;
        for (int32_t kx = 0; kx < kw; ++kx) {
          const int64_t ix = int64_t(ox) * o.stride_w - o.pad_left +
                             int64_t(kx) * o.dilation_w;
          if (ix < 0 || ix >= w) continue;
          const float* i_px = in + (iy * w + ix) * c;
          for (int32_t oc = 0; oc < out_c; ++oc) {
            o_px[oc] += i_px[oc / m] *
                        weights[(static_cast<int64_t>(oc) * kh + ky) * kw + kx];
          }
        }
      }
    }
  }
  BiasAndActivation(op, static_cast<int64_t>(oh) * ow, out_c, out);
}

// Any groups: per group, the input patches (im2col, zeros for padding) times
// the group's weights.
void Conv(const ImportedOp& op, const std::vector<int32_t>& in_shape,
          const float* in, const std::vector<int32_t>& out_shape, float* out,
          std::vector<float>* scratch) {
  const Conv2DOptions& o = op.conv;
  const int32_t h = in_shape[0], w = in_shape[1], c = in_shape[2];
  const int32_t kh = op.weight_shape[1], kw = op.weight_shape[2];
  const int32_t oh = out_shape[0], ow = out_shape[1], out_c = out_shape[2];
  const int32_t groups = o.groups;
  const int32_t group_c = c / groups, group_out = out_c / groups;
  if (group_c == 1 && groups > 1) {
    DepthwiseConv(op, in_shape, in, out_shape, out);
    return;
  }
  const int64_t pixels = static_cast<int64_t>(oh) * ow;
  const int64_t depth = static_cast<int64_t>(kh) * kw * group_c;
  const bool pointwise = kh == 1 && kw == 1 && o.stride_h == 1 &&
                         o.stride_w == 1 && o.pad_top == 0 && o.pad_left == 0 &&
                         o.pad_bottom == 0 && o.pad_right == 0 && groups == 1;
  std::vector<float>& patches = *scratch;  // reused across ops
  if (!pointwise) patches.resize(static_cast<size_t>(pixels * depth));
  for (int32_t g = 0; g < groups; ++g) {
    const float* a = in;  // pointwise: the input pixels are the patches
    if (!pointwise) {
      for (int32_t oy = 0; oy < oh; ++oy) {
        for (int32_t ox = 0; ox < ow; ++ox) {
          float* row = patches.data() + (int64_t(oy) * ow + ox) * depth;
          for (int32_t ky = 0; ky < kh; ++ky) {
            const int64_t iy = int64_t(oy) * o.stride_h - o.pad_top +
                               int64_t(ky) * o.dilation_h;
            for (int32_t kx = 0; kx < kw; ++kx, row += group_c) {
              const int64_t ix = int64_t(ox) * o.stride_w - o.pad_left +
                                 int64_t(kx) * o.dilation_w;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
                std::fill(row, row + group_c, 0.0f);
              } else {
                const float* src = in + (iy * w + ix) * c + g * group_c;
                std::copy(src, src + group_c, row);
              }
            }
          }
        }
      }
      a = patches.data();
    }
    const ConstRowMajorMap patch_matrix(a, pixels, depth);
    const ConstRowMajorMap weights(op.weights.data() + g * group_out * depth,
                                   group_out, depth);
    StridedOutMap result(out + g * group_out, pixels, group_out,
                         Eigen::OuterStride<>(out_c));
    result.noalias() = patch_matrix * weights.transpose();
  }
  BiasAndActivation(op, pixels, out_c, out);
}

void FullyConnected(const ImportedOp& op, const float* in, float* out) {
  const int32_t n = op.weight_shape[0], k = op.weight_shape[1];
  const ConstRowMajorMap weights(op.weights.data(), n, k);
  const Eigen::Map<const Eigen::VectorXf> x(in, k);
  Eigen::Map<Eigen::VectorXf> y(out, n);
  y.noalias() = weights * x;
  BiasAndActivation(op, 1, n, out);
}

void Pool(const ImportedOp& op, const std::vector<int32_t>& in_shape,
          const float* in, const std::vector<int32_t>& out_shape, float* out) {
  const Pool2DOptions& o = op.pool;
  const bool is_max = op.kind == ImportedOpKind::kMaxPool2D;
  const int32_t h = in_shape[0], w = in_shape[1], c = in_shape[2];
  const int32_t oh = out_shape[0], ow = out_shape[1];
  std::vector<double> acc(static_cast<size_t>(c));
  for (int32_t oy = 0; oy < oh; ++oy) {
    for (int32_t ox = 0; ox < ow; ++ox) {
      // The window clipped to the input: padding is not a value.
      const int64_t y0 =
          std::max<int64_t>(int64_t(oy) * o.stride_h - o.pad_top, 0);
      const int64_t y1 = std::min<int64_t>(
          int64_t(oy) * o.stride_h - o.pad_top + o.filter_h, h);
      const int64_t x0 =
          std::max<int64_t>(int64_t(ox) * o.stride_w - o.pad_left, 0);
      const int64_t x1 = std::min<int64_t>(
          int64_t(ox) * o.stride_w - o.pad_left + o.filter_w, w);
      float* o_px = out + (int64_t(oy) * ow + ox) * c;
      std::fill(acc.begin(), acc.end(), is_max ? -HUGE_VAL : 0.0);
      for (int64_t y = y0; y < y1; ++y) {
        for (int64_t x = x0; x < x1; ++x) {
          const float* i_px = in + (y * w + x) * c;
          for (int32_t ch = 0; ch < c; ++ch) {
            acc[ch] = is_max ? std::max<double>(acc[ch], i_px[ch])
                             : acc[ch] + i_px[ch];
          }
        }
      }
      const double count = static_cast<double>((y1 - y0) * (x1 - x0));
      for (int32_t ch = 0; ch < c; ++ch) {
        o_px[ch] = static_cast<float>(is_max ? acc[ch] : acc[ch] / count);
      }
    }
  }
}

void GlobalAveragePool(const std::vector<int32_t>& in_shape, const float* in,
                       float* out) {
  const int64_t pixels = int64_t(in_shape[0]) * in_shape[1];
  const int32_t c = in_shape[2];
  std::vector<double> acc(static_cast<size_t>(c), 0.0);
  for (int64_t p = 0; p < pixels; ++p) {
    for (int32_t ch = 0; ch < c; ++ch) acc[ch] += in[p * c + ch];
  }
  for (int32_t ch = 0; ch < c; ++ch) {
    out[ch] = static_cast<float>(acc[ch] / static_cast<double>(pixels));
  }
}

void Concat(const ImportedGraph& g, const ImportedOp& op,
            const std::vector<std::vector<float>>& values, float* out) {
  const std::vector<int32_t>& shape = g.values[op.output].shape;
  const int32_t rank = static_cast<int32_t>(shape.size());
  const size_t axis =
      static_cast<size_t>(op.axis < 0 ? op.axis + rank : op.axis);
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; ++d) outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  for (int64_t i = 0; i < outer; ++i) {
    for (int32_t v : op.inputs) {
      const int64_t chunk = g.values[v].shape[axis] * inner;
      const float* src = values[v].data() + i * chunk;
      out = std::copy(src, src + chunk, out);
    }
  }
}

void Softmax(const std::vector<int32_t>& shape, const float* in, float* out) {
  const int64_t n = shape.back();
  const int64_t rows = ShapeElementCount(shape) / n;
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * n;
    float* y = out + r * n;
    const float max = *std::max_element(x, x + n);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      y[i] = expf(x[i] - max);
      sum += y[i];
    }
    for (int64_t i = 0; i < n; ++i) {
      y[i] = static_cast<float>(y[i] / sum);
    }
  }
}

}  // namespace

int64_t ShapeElementCount(const std::vector<int32_t>& shape) {
  int64_t count = 1;
  for (int32_t d : shape) count *= d;
  return count;
}

bool ValidateImportedGraph(const ImportedGraph& g, std::string* error) {
  try {
    GraphChecker(g).CheckAll();
    return true;
  } catch (const std::exception& e) {
    if (error) *error = std::string("invalid imported graph: ") + e.what();
    return false;
  }
}

bool GraphInterpreter::Init(const ImportedGraph& g, std::string* error) {
  graph_ = nullptr;
  if (!ValidateImportedGraph(g, error)) return false;
  graph_ = &g;
  input_size_ = static_cast<size_t>(
      ShapeElementCount(g.values[static_cast<size_t>(g.input)].shape));
  return true;
}

void GraphInterpreter::Run(const float* item,
                           std::vector<std::vector<float>>* values) const {
  if (graph_ == nullptr) {  // Init failed or was never called
    values->clear();
    return;
  }
  const ImportedGraph& g = *graph_;
  // Buffers are reused from the previous call (no allocation, no page
  // faults in the steady state): every kernel writes all of its output.
  values->resize(g.values.size());
  for (std::vector<float>& v : *values) v.clear();
  // The im2col buffer, kept per thread for the same reason (Run may be
  // called from several threads at once).
  thread_local std::vector<float> scratch;
  std::vector<float>& input = (*values)[static_cast<size_t>(g.input)];
  input.assign(item, item + input_size_);
  for (const ImportedOp& op : g.ops) {
    const std::vector<int32_t>& out_shape = g.values[op.output].shape;
    std::vector<float>& out = (*values)[static_cast<size_t>(op.output)];
    out.resize(static_cast<size_t>(ShapeElementCount(out_shape)));
    const std::vector<float>& in = (*values)[static_cast<size_t>(op.inputs[0])];
    const std::vector<int32_t>& in_shape = g.values[op.inputs[0]].shape;
    switch (op.kind) {
      case ImportedOpKind::kConv2D:
        Conv(op, in_shape, in.data(), out_shape, out.data(), &scratch);
        break;
      case ImportedOpKind::kFullyConnected:
        FullyConnected(op, in.data(), out.data());
        break;
      case ImportedOpKind::kAdd: {
        const std::vector<float>& b = (*values)[op.inputs[1]];
        for (size_t i = 0; i < out.size(); ++i) {
          out[i] = ApplyActivation(op.activation, in[i] + b[i]);
        }
        break;
      }
      case ImportedOpKind::kMaxPool2D:
      case ImportedOpKind::kAveragePool2D:
        Pool(op, in_shape, in.data(), out_shape, out.data());
        break;
      case ImportedOpKind::kGlobalAveragePool:
        GlobalAveragePool(in_shape, in.data(), out.data());
        break;
      case ImportedOpKind::kConcat:
        Concat(g, op, *values, out.data());
        break;
      case ImportedOpKind::kReshape:
        std::copy(in.begin(), in.end(), out.begin());
        break;
      case ImportedOpKind::kSoftmax:
        Softmax(out_shape, in.data(), out.data());
        break;
      case ImportedOpKind::kLogistic:
        for (size_t i = 0; i < out.size(); ++i) {
          out[i] = 1.0f / (1.0f + expf(-in[i]));
        }
        break;
    }
  }
}

}  // namespace onnx_import
}  // namespace kiln
