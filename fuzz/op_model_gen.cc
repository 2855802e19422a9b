#include "fuzz/op_model_gen.h"

#include <float.h>
#include <math.h>
#include <stdio.h>

#include <algorithm>

#include "toolchain/model_builder.h"

namespace kiln_fuzz {
namespace {

using kiln::Activation;
using kiln::DType;
using kiln::ModelBuilder;
using kiln::QuantParams;
using kiln::TensorId;

// Small shapes keep every run well under a millisecond.
constexpr int32_t kMaxSide = 8;
constexpr int32_t kMaxChannels = 8;

enum class Op {
  kConv2D,
  kConv1x1,
  kConv3x3,
  kDepthwise,
  kFullyConnected,
  kAdd,
  kAveragePool,
  kMaxPool,
  kGlobalAveragePool,
  kConcat,
  kReshape,
  kSoftmax,
  kLogistic,
  kQuantize,
  kDequantize,
  kCount
};

const char* OpName(Op op) {
  static const char* const kNames[] = {
      "Conv2D",         "Conv2D1x1", "Conv2D3x3",   "DepthwiseConv2D",
      "FullyConnected", "Add",       "AveragePool", "MaxPool",
      "GlobalAvgPool",  "Concat",    "Reshape",     "Softmax",
      "Logistic",       "Quantize",  "Dequantize"};
  return kNames[static_cast<int>(op)];
}

// A scale: mostly 2^[-24, 24] with a random mantissa (requantization
// multipliers then span the whole range the builder accepts and beyond),
// sometimes an extreme or invalid value the builder must refuse cleanly.
float Scale(FuzzInput* in) {
  if ((in->Byte() & 15) == 15) {
    static const float kExtreme[] = {FLT_MIN,
                                     FLT_MAX,
                                     1e-40f /* subnormal */,
                                     0.0f,
                                     -1.0f,
                                     NAN,
                                     INFINITY,
                                     1.0f / 256,
                                     ldexpf(1.0f, -100),
                                     ldexpf(1.0f, 100)};
    return kExtreme[in->Pick(sizeof(kExtreme) / sizeof(kExtreme[0]))];
  }
  const int e = in->Int32In(-24, 24);
  return ldexpf(1.0f + in->Byte() / 256.0f, e);
}

QuantParams Quant(FuzzInput* in) {
  QuantParams q;
  q.scale = Scale(in);
  q.zero_point = in->Int32In(-128, 127);
  return q;
}

// Weights or biases: int8-like steps of a per-tensor magnitude in
// 2^[lo, hi]; rarely raw float bits (NaN, infinities) for the builder to
// refuse.
std::vector<float> Floats(FuzzInput* in, size_t n, int lo, int hi) {
  std::vector<float> v(n);
  if ((in->Byte() & 31) == 31) {
    for (float& x : v) x = in->RawFloat();
    return v;
  }
  const float magnitude = ldexpf(1.0f, in->Int32In(lo, hi));
  for (float& x : v) {
    x = static_cast<int8_t>(in->Byte()) / 127.0f * magnitude;
  }
  return v;
}

std::vector<float> Bias(FuzzInput* in, size_t n) {
  if (in->Bool()) return {};  // zeros
  return Floats(in, n, -20, 30);
}

Activation Act(FuzzInput* in) { return static_cast<Activation>(in->Pick(3)); }

std::vector<int32_t> Shape(FuzzInput* in, int min_rank, int max_rank,
                           int32_t max_dim) {
  std::vector<int32_t> shape(
      static_cast<size_t>(in->IntIn(min_rank, max_rank)));
  for (int32_t& d : shape) d = in->Int32In(1, max_dim);
  return shape;
}

int64_t Elements(const std::vector<int32_t>& shape) {
  int64_t n = 1;
  for (int32_t d : shape) n *= d;
  return n;
}

std::string ShapeText(const std::vector<int32_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    s += (i ? "," : "") + std::to_string(shape[i]);
  }
  return s + "]";
}

std::string QuantText(QuantParams q) {
  char text[48];
  snprintf(text, sizeof(text), "(%g,%d)", static_cast<double>(q.scale),
           static_cast<int>(q.zero_point));
  return text;
}

// Everything GenerateOpModel needs while it builds one model.
struct Gen {
  FuzzInput* in;
  ModelBuilder b;
  std::string text;

  TensorId Input(const std::string& name, DType type,
                 const std::vector<int32_t>& shape) {
    const QuantParams q = Quant(in);
    text += " " + name + ShapeText(shape) + QuantText(q);
    return b.AddInput(name, type, shape, q.scale, q.zero_point);
  }
  TensorId Image(const std::string& name) {
    std::vector<int32_t> shape = {in->Int32In(1, kMaxSide),
                                  in->Int32In(1, kMaxSide),
                                  in->Int32In(1, kMaxChannels)};
    return Input(name, DType::kInt8, shape);
  }
  QuantParams Output() {
    const QuantParams q = Quant(in);
    text += " out" + QuantText(q);
    return q;
  }

  TensorId Conv(Op op);
  TensorId Pool(Op op);
  TensorId Concat();
  TensorId Reshape(TensorId x);
  TensorId Build(Op op);
  void Head(TensorId out);
};

TensorId Gen::Conv(Op op) {
  const TensorId x = Image("x");
  const kiln::TensorDef* t = b.tensor(x);
  if (t == nullptr) return kiln::kNoTensor;
  const int32_t c = t->shape[2];
  kiln::Conv2DOptions o;
  int32_t kh = 1, kw = 1;
  if (op == Op::kConv3x3) {
    kh = kw = 3;
    o.stride_h = o.stride_w = in->Int32In(1, 2);
    o.pad_top = o.pad_left = o.pad_bottom = o.pad_right = in->Int32In(0, 1);
  } else if (op == Op::kConv1x1) {
    o.stride_h = o.stride_w = in->Int32In(1, 2);
  } else {  // general and depthwise
    kh = in->Int32In(1, 4);
    kw = in->Int32In(1, 4);
    o.stride_h = in->Int32In(1, 3);
    o.stride_w = in->Int32In(1, 3);
    o.dilation_h = in->Int32In(1, 2);
    o.dilation_w = in->Int32In(1, 2);
    o.pad_top = in->Int32In(0, 2);
    o.pad_left = in->Int32In(0, 2);
    o.pad_bottom = in->Int32In(0, 2);
    o.pad_right = in->Int32In(0, 2);
  }
  int32_t groups = 1, out_c = 0;
  if (op == Op::kDepthwise) {
    out_c = c * in->Int32In(1, 2);
  } else {
    if (op == Op::kConv2D) {  // a divisor of c
      groups = in->Int32In(1, c);
      while (c % groups != 0) --groups;
    }
    out_c = groups * in->Int32In(1, std::max(1, kMaxChannels / groups));
  }
  o.groups = groups;
  const std::vector<int32_t> wshape = {out_c, kh, kw,
                                       op == Op::kDepthwise ? 1 : c / groups};
  const std::vector<float> w =
      Floats(in, static_cast<size_t>(Elements(wshape)), -20, 20);
  const std::vector<float> bias = Bias(in, static_cast<size_t>(out_c));
  const Activation act = Act(in);
  text += " w" + ShapeText(wshape) + " s" + std::to_string(o.stride_h) + "x" +
          std::to_string(o.stride_w) + " d" + std::to_string(o.dilation_h) +
          "x" + std::to_string(o.dilation_w) + " p" +
          std::to_string(o.pad_top) + std::to_string(o.pad_left) +
          std::to_string(o.pad_bottom) + std::to_string(o.pad_right) + " g" +
          std::to_string(groups) + " act" +
          std::to_string(static_cast<int>(act));
  const QuantParams q = Output();
  if (op == Op::kDepthwise) {
    return b.DepthwiseConv2D(x, w, wshape, bias, o, q, act, "op");
  }
  return b.Conv2D(x, w, wshape, bias, o, q, act, "op");
}

TensorId Gen::Pool(Op op) {
  const TensorId x = Image("x");
  kiln::Pool2DOptions o;
  o.filter_h = in->Int32In(1, 4);
  o.filter_w = in->Int32In(1, 4);
  o.stride_h = in->Int32In(1, 3);
  o.stride_w = in->Int32In(1, 3);
  // Up to the filter size: padding >= filter must be refused.
  o.pad_top = in->Int32In(0, o.filter_h);
  o.pad_left = in->Int32In(0, o.filter_w);
  o.pad_bottom = in->Int32In(0, o.filter_h - 1);
  o.pad_right = in->Int32In(0, o.filter_w - 1);
  text += " f" + std::to_string(o.filter_h) + "x" + std::to_string(o.filter_w) +
          " s" + std::to_string(o.stride_h) + "x" + std::to_string(o.stride_w) +
          " p" + std::to_string(o.pad_top) + std::to_string(o.pad_left) +
          std::to_string(o.pad_bottom) + std::to_string(o.pad_right);
  return op == Op::kMaxPool ? b.MaxPool2D(x, o, "op")
                            : b.AveragePool2D(x, o, "op");
}

TensorId Gen::Concat() {
  const std::vector<int32_t> shape = Shape(in, 1, 4, 5);
  const int32_t rank = static_cast<int32_t>(shape.size());
  const int32_t axis = in->Int32In(-rank, rank - 1);
  const size_t a = static_cast<size_t>(axis < 0 ? axis + rank : axis);
  const QuantParams q = Quant(in);
  std::vector<TensorId> inputs;
  const int n = in->Int32In(1, 3);
  for (int i = 0; i < n; ++i) {
    if (i > 0 && in->Pick(4) == 0) {  // the same tensor twice
      inputs.push_back(inputs.back());
      continue;
    }
    std::vector<int32_t> s = shape;
    s[a] = in->Int32In(1, 5);
    const std::string name = "x" + std::to_string(i);
    if (in->Bool()) {  // quantized like the output: copied exactly
      text += " " + name + ShapeText(s) + "=out";
      inputs.push_back(
          b.AddInput(name, DType::kInt8, s, q.scale, q.zero_point));
    } else {
      inputs.push_back(Input(name, DType::kInt8, s));
    }
  }
  text += " axis" + std::to_string(axis) + " out" + QuantText(q);
  return b.Concat(inputs, axis, q, "op");
}

// A new shape with the same elements: flat, [1, -1], [d, -1] for a divisor
// d, or (rarely) a wrong one the builder must refuse.
TensorId Gen::Reshape(TensorId x) {
  const kiln::TensorDef* t = b.tensor(x);
  if (t == nullptr) return kiln::kNoTensor;
  const int64_t n = Elements(t->shape);
  std::vector<int32_t> shape;
  switch (in->Pick(4)) {
    case 0:
      shape = {-1};
      break;
    case 1:
      shape = {1, -1};
      break;
    case 2: {
      int32_t d = in->Int32In(1, static_cast<int32_t>(n));
      while (n % d != 0) --d;
      shape = {d, -1};
      break;
    }
    default:
      shape = Shape(in, 1, 3, 6);
      break;
  }
  text += " ->" + ShapeText(shape);
  return b.Reshape(x, shape, "op");
}

TensorId Gen::Build(Op op) {
  switch (op) {
    case Op::kConv2D:
    case Op::kConv1x1:
    case Op::kConv3x3:
    case Op::kDepthwise:
      return Conv(op);
    case Op::kFullyConnected: {
      const TensorId x = Input("x", DType::kInt8, Shape(in, 1, 3, 4));
      const kiln::TensorDef* t = b.tensor(x);
      if (t == nullptr) return kiln::kNoTensor;
      const int32_t k = static_cast<int32_t>(Elements(t->shape));
      const int32_t n = in->Int32In(1, 20);
      const std::vector<float> w =
          Floats(in, static_cast<size_t>(n) * static_cast<size_t>(k), -20, 20);
      const std::vector<float> bias = Bias(in, static_cast<size_t>(n));
      const Activation act = Act(in);
      text += " n" + std::to_string(n);
      return b.FullyConnected(x, w, {n, k}, bias, Output(), act, "op");
    }
    case Op::kAdd: {
      const std::vector<int32_t> shape = Shape(in, 1, 4, 6);
      const TensorId a = Input("a", DType::kInt8, shape);
      const TensorId c = in->Pick(4) == 0 ? a : Input("b", DType::kInt8, shape);
      const Activation act = Act(in);
      return b.Add(a, c, Output(), act, "op");
    }
    case Op::kAveragePool:
    case Op::kMaxPool:
      return Pool(op);
    case Op::kGlobalAveragePool: {
      const TensorId x = Image("x");
      return b.GlobalAveragePool(x, Output(), "op");
    }
    case Op::kConcat:
      return Concat();
    case Op::kReshape:
      return Reshape(Input("x", DType::kInt8, Shape(in, 1, 4, 5)));
    case Op::kSoftmax: {
      const TensorId x = Input("x", DType::kInt8, Shape(in, 1, 3, 12));
      const float beta =
          in->Pick(8) == 0 ? Scale(in) : ldexpf(1.0f, in->Int32In(-8, 8));
      text += " beta" + std::to_string(beta);
      return b.Softmax(x, beta, "op");
    }
    case Op::kLogistic:
      return b.Logistic(Input("x", DType::kInt8, Shape(in, 1, 3, 12)), "op");
    case Op::kQuantize: {
      static const DType kTypes[] = {DType::kUInt8, DType::kInt8,
                                     DType::kFloat32};
      const DType type = kTypes[in->Pick(3)];
      text += std::string(" from ") + (type == DType::kUInt8  ? "u8"
                                       : type == DType::kInt8 ? "i8"
                                                              : "f32");
      const TensorId x = Input("x", type, Shape(in, 1, 3, 12));
      return b.Quantize(x, Output(), "op");
    }
    case Op::kDequantize:
      return b.Dequantize(Input("x", DType::kInt8, Shape(in, 1, 3, 12)), "op");
    case Op::kCount:
      break;
  }
  return kiln::kNoTensor;
}

// Optionally a decision head over the (flattened) int8 output, so that the
// decisions (top-k, confidences, fallback) are exercised too.
void Gen::Head(TensorId out) {
  const kiln::TensorDef* t = b.tensor(out);
  if (t == nullptr || t->type != DType::kInt8 || !t->quantization ||
      t->quantization->scale.empty() || !in->Bool()) {
    b.AddOutput(out);
    return;
  }
  // Read before Reshape adds a tensor (which may move *t).
  const int32_t classes = static_cast<int32_t>(Elements(t->shape));
  const float scale = t->quantization->scale[0];
  TensorId logits = out;
  if (t->shape.size() != 1) logits = b.Reshape(out, {-1}, "flat");
  b.AddOutput(logits);
  kiln::DecisionPolicy policy;
  // One past the limit now and then: the builder must refuse it.
  policy.top_k = in->Int32In(1, std::min(classes, 16) + (in->Pick(8) == 0));
  policy.confidence = static_cast<kiln::ConfidenceKind>(in->Pick(3));
  policy.threshold_real = policy.confidence == kiln::ConfidenceKind::kMargin
                              ? in->Byte() / 16.0f * scale
                              : in->Byte() / 255.0f;
  std::vector<std::string> labels;
  if (in->Bool()) {
    for (int32_t c = 0; c < classes; ++c)
      labels.push_back("c" + std::to_string(c));
  }
  text += " head(k" + std::to_string(policy.top_k) + ",kind" +
          std::to_string(static_cast<int>(policy.confidence)) + ",thr" +
          std::to_string(policy.threshold_real) + ")";
  b.AddHead("head", logits, labels, policy);
}

}  // namespace

bool GenerateOpModel(FuzzInput* in, OpModel* out, std::string* why) {
  const Op op = static_cast<Op>(in->Pick(static_cast<size_t>(Op::kCount)));
  out->batch = static_cast<size_t>(in->IntIn(1, 4));
  out->items = static_cast<size_t>(in->IntIn(1, 9));
  Gen g{in, ModelBuilder(), OpName(op)};
  const TensorId y = g.Build(op);
  if (y != kiln::kNoTensor) g.Head(y);
  out->description = g.text + " batch" + std::to_string(out->batch) + " items" +
                     std::to_string(out->items);
  return g.b.Build(&out->bytes, why);
}

}  // namespace kiln_fuzz
