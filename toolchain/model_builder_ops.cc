// ModelBuilder operators: shape inference, argument checks and the
// quantization of each op (see quantization.h for the arithmetic).
#include <math.h>
#include <stdlib.h>

#include <algorithm>
#include <stdexcept>

#include "kernels/params.h"
#include "kernels/requant.h"
#include "toolchain/builder_checks.h"
#include "toolchain/model_builder.h"
#include "toolchain/quantization.h"

namespace kiln {

using builder_internal::CheckQuant;
using builder_internal::CheckShape;
using builder_internal::ElementCount;
using builder_internal::Fmt;
using builder_internal::PerTensor;
using builder_internal::QuantOf;

namespace {

// Softmax and Logistic outputs: probabilities in [0, 1) as q + 128 / 256.
constexpr QuantParams kProbabilityQuant = {1.0f / 256.0f, -128};

void Require(bool condition, const char* message) {
  if (!condition) throw std::invalid_argument(message);
}

std::vector<uint8_t> Int8Bytes(const std::vector<int8_t>& values) {
  return std::vector<uint8_t>(values.begin(), values.end());
}

std::vector<int32_t> Shape3(int64_t a, int64_t b, int64_t c) {
  return {static_cast<int32_t>(a), static_cast<int32_t>(b),
          static_cast<int32_t>(c)};
}

// Weights on the caller's grid (a QDQ graph's own scales): `scales` holds
// one scale per channel or one for all of them, broadcast so that the
// stored quantization stays per channel. The full int8 range is kept, -128
// included: quantizers that use it (PyTorch's symmetric qint8 observers)
// must get their own values back.
QuantizedWeights QuantizeWeightsWithScales(const std::vector<float>& weights,
                                           int32_t channels,
                                           const std::vector<float>& scales) {
  if (scales.size() != 1 && scales.size() != static_cast<size_t>(channels)) {
    throw std::invalid_argument(Fmt(
        "%zu weight scales for %d output channels (expected %d or 1)",
        scales.size(), static_cast<int>(channels), static_cast<int>(channels)));
  }
  const size_t per_channel = weights.size() / static_cast<size_t>(channels);
  QuantizedWeights out;
  out.values.resize(weights.size());
  out.scales.resize(static_cast<size_t>(channels));
  for (size_t c = 0; c < out.scales.size(); ++c) {
    const float scale = scales.size() == 1 ? scales[0] : scales[c];
    if (!(isnormal(scale) && scale > 0.0f)) {
      throw std::invalid_argument(
          Fmt("weight scale %g of channel %zu is not a positive normal float",
              static_cast<double>(scale), c));
    }
    out.scales[c] = scale;
    for (size_t i = 0; i < per_channel; ++i) {
      const float w = weights[c * per_channel + i];
      if (!isfinite(w)) throw std::invalid_argument("a weight is not finite");
      const double q = RoundHalfAway(static_cast<double>(w) / scale);
      out.values[c * per_channel + i] =
          static_cast<int8_t>(std::clamp(q, -128.0, 127.0));
    }
  }
  return out;
}

}  // namespace

std::pair<TensorId, TensorId> ModelBuilder::AddWeightsAndBias(
    const std::string& name, const TensorDef& input,
    const std::vector<float>& weights, std::vector<int32_t> weight_shape,
    const std::vector<float>& bias, QuantParams output,
    const std::vector<float>& weight_scales, RequantDef* requant) {
  CheckShape(weight_shape, name + "/weights");
  const int32_t channels = weight_shape[0];
  if (static_cast<int64_t>(weights.size()) != ElementCount(weight_shape)) {
    throw std::invalid_argument(
        Fmt("%zu weights for a weight shape of %lld elements", weights.size(),
            static_cast<long long>(ElementCount(weight_shape))));
  }
  const QuantParams in = QuantOf(input);
  const QuantizedWeights qw =
      weight_scales.empty()
          ? QuantizeWeightsPerChannel(weights, channels)
          : QuantizeWeightsWithScales(weights, channels, weight_scales);
  const std::vector<int32_t> qb = QuantizeBias(
      bias.empty() ? std::vector<float>(static_cast<size_t>(channels), 0.0f)
                   : bias,
      in.scale, qw.scales);

  // The runtime's bound (runtime/src/verify_operators.cc): with
  // |x - zp_in| <= 255 and |w| <= 128, depth * 255 * 128 + max|bias| must fit
  // in int32. It ignores the actual weights, so it is checked the same way
  // here: the builder must never write a model the runtime rejects.
  const int64_t depth =
      static_cast<int64_t>(weights.size()) / static_cast<int64_t>(channels);
  int64_t max_bias = 0;
  for (int32_t b : qb) max_bias = std::max<int64_t>(max_bias, std::llabs(b));
  if (depth * 255 * 128 + max_bias > INT32_MAX) {
    throw std::invalid_argument(
        Fmt("the int32 accumulator could overflow (depth %lld, largest "
            "quantized bias %lld)",
            static_cast<long long>(depth), static_cast<long long>(max_bias)));
  }

  std::vector<double> reals;
  QuantizationDef wq, bq;
  for (float s_w : qw.scales) {
    reals.push_back(ConvRealMultiplier(in.scale, s_w, output.scale));
    wq.scale.push_back(s_w);
    // Informational: the bias values use the exact double product (see
    // QuantizeBias); the runtime never reads a bias tensor's scale.
    bq.scale.push_back(in.scale * s_w);
    if (!isnormal(bq.scale.back())) {
      throw std::invalid_argument(
          "input scale x weight scale is not a normal float (the bias scale)");
    }
  }
  wq.zero_point.assign(qw.scales.size(), 0);
  bq.zero_point.assign(qw.scales.size(), 0);
  *requant = MakeRequant(reals, "input x weight / output scale");

  const TensorId w =
      AddConstant(name + "/weights", DType::kInt8, std::move(weight_shape),
                  Int8Bytes(qw.values), std::move(wq));
  const TensorId b = AddConstant(name + "/bias", DType::kInt32, {channels},
                                 Int32Bytes(qb), std::move(bq));
  return {w, b};
}

TensorId ModelBuilder::Conv2D(TensorId input, const std::vector<float>& weights,
                              const std::vector<int32_t>& weight_shape,
                              const std::vector<float>& bias,
                              const Conv2DOptions& options, QuantParams output,
                              Activation activation, const std::string& name,
                              const std::vector<float>& weight_scales) {
  const std::string op_name = OpName(name, OpKind::kConv2D);
  return Guard("Conv2D '" + op_name + "'", [&] {
    // A copy: adding tensors below may move the vector it lives in.
    const TensorDef in = GetInt8(input, "input");
    Require(in.shape.size() == 3, "the input must be [H, W, C]");
    Require(weight_shape.size() == 4,
            "the weights must be OHWI [out_c, kh, kw, in_c / groups]");
    const Conv2DOptions& o = options;
    const int32_t c = in.shape[2], out_c = weight_shape[0];
    Require(o.groups >= 1 && c % o.groups == 0 && out_c % o.groups == 0 &&
                weight_shape[3] == c / o.groups,
            "groups must divide in_c and out_c, and weights be "
            "[out_c, kh, kw, in_c / groups]");
    Require(o.stride_h >= 1 && o.stride_w >= 1 && o.dilation_h >= 1 &&
                o.dilation_w >= 1,
            "strides and dilations must be >= 1");
    Require(o.pad_top >= 0 && o.pad_left >= 0 && o.pad_bottom >= 0 &&
                o.pad_right >= 0,
            "padding must be >= 0");
    CheckQuant(output, DType::kInt8, "output");
    const Clamp clamp =
        ActivationClamp(activation, output.scale, output.zero_point);
    const int64_t oh =
        WindowOutputSize(in.shape[0], weight_shape[1], o.stride_h, o.dilation_h,
                         o.pad_top, o.pad_bottom);
    const int64_t ow =
        WindowOutputSize(in.shape[1], weight_shape[2], o.stride_w, o.dilation_w,
                         o.pad_left, o.pad_right);
    Require(oh >= 1 && ow >= 1, "the kernel does not fit the padded input");

    OperatorDef op;
    op.name = op_name;
    op.kind = OpKind::kConv2D;
    op.conv2d.requant.emplace();
    const auto [w, b] =
        AddWeightsAndBias(op_name, in, weights, weight_shape, bias, output,
                          weight_scales, &*op.conv2d.requant);
    const QuantizationDef q = PerTensor(output);
    const TensorId out =
        AddActivation(op_name, DType::kInt8, Shape3(oh, ow, out_c), &q);
    op.inputs = {static_cast<uint32_t>(input), static_cast<uint32_t>(w),
                 static_cast<uint32_t>(b)};
    op.outputs = {static_cast<uint32_t>(out)};
    Conv2DOptionsDef& d = op.conv2d;
    d.stride_h = o.stride_h;
    d.stride_w = o.stride_w;
    d.dilation_h = o.dilation_h;
    d.dilation_w = o.dilation_w;
    d.pad_top = o.pad_top;
    d.pad_left = o.pad_left;
    d.pad_bottom = o.pad_bottom;
    d.pad_right = o.pad_right;
    d.groups = o.groups;
    d.activation = activation;
    d.act_min = clamp.min;
    d.act_max = clamp.max;
    return AddOp(std::move(op));
  });
}

TensorId ModelBuilder::DepthwiseConv2D(
    TensorId input, const std::vector<float>& weights,
    const std::vector<int32_t>& weight_shape, const std::vector<float>& bias,
    const Conv2DOptions& options, QuantParams output, Activation activation,
    const std::string& name, const std::vector<float>& weight_scales) {
  Conv2DOptions o = options;
  const TensorDef* in = tensor(input);
  // An invalid input is reported by Conv2D itself.
  if (in != nullptr && in->shape.size() == 3) o.groups = in->shape[2];
  return Conv2D(input, weights, weight_shape, bias, o, output, activation, name,
                weight_scales);
}

TensorId ModelBuilder::FullyConnected(TensorId input,
                                      const std::vector<float>& weights,
                                      const std::vector<int32_t>& weight_shape,
                                      const std::vector<float>& bias,
                                      QuantParams output, Activation activation,
                                      const std::string& name,
                                      const std::vector<float>& weight_scales) {
  const std::string op_name = OpName(name, OpKind::kFullyConnected);
  return Guard("FullyConnected '" + op_name + "'", [&] {
    const TensorDef in = GetInt8(input, "input");
    Require(
        weight_shape.size() == 2 && weight_shape[1] == ElementCount(in.shape),
        "the weights must be [N, K] with K the input's element count");
    CheckQuant(output, DType::kInt8, "output");
    const Clamp clamp =
        ActivationClamp(activation, output.scale, output.zero_point);

    OperatorDef op;
    op.name = op_name;
    op.kind = OpKind::kFullyConnected;
    op.fully_connected.requant.emplace();
    const auto [w, b] =
        AddWeightsAndBias(op_name, in, weights, weight_shape, bias, output,
                          weight_scales, &*op.fully_connected.requant);
    const QuantizationDef q = PerTensor(output);
    const TensorId out =
        AddActivation(op_name, DType::kInt8, {weight_shape[0]}, &q);
    op.inputs = {static_cast<uint32_t>(input), static_cast<uint32_t>(w),
                 static_cast<uint32_t>(b)};
    op.outputs = {static_cast<uint32_t>(out)};
    op.fully_connected.activation = activation;
    op.fully_connected.act_min = clamp.min;
    op.fully_connected.act_max = clamp.max;
    return AddOp(std::move(op));
  });
}

TensorId ModelBuilder::Add(TensorId a, TensorId b, QuantParams output,
                           Activation activation, const std::string& name) {
  const std::string op_name = OpName(name, OpKind::kAdd);
  return Guard("Add '" + op_name + "'", [&] {
    const TensorDef ta = GetInt8(a, "input 1");
    const TensorDef tb = GetInt8(b, "input 2");
    Require(ta.shape == tb.shape, "the inputs must have the same shape");
    CheckQuant(output, DType::kInt8, "output");
    const Clamp clamp =
        ActivationClamp(activation, output.scale, output.zero_point);
    const AddRealMultipliers m = ComputeAddRealMultipliers(
        QuantOf(ta).scale, QuantOf(tb).scale, output.scale, kAddLeftShift);

    OperatorDef op;
    op.name = op_name;
    op.kind = OpKind::kAdd;
    AddOptionsDef& d = op.add;
    d.activation = activation;
    d.act_min = clamp.min;
    d.act_max = clamp.max;
    d.left_shift = kAddLeftShift;
    d.input1_requant = MakeRequant({m.input1}, "input 1");
    d.input2_requant = MakeRequant({m.input2}, "input 2");
    d.output_requant = MakeRequant({m.output}, "output");
    const QuantizationDef q = PerTensor(output);
    const TensorId out = AddActivation(op_name, DType::kInt8, ta.shape, &q);
    op.inputs = {static_cast<uint32_t>(a), static_cast<uint32_t>(b)};
    op.outputs = {static_cast<uint32_t>(out)};
    return AddOp(std::move(op));
  });
}

TensorId ModelBuilder::Pool2D(OpKind kind, TensorId input,
                              const Pool2DOptions& options,
                              const std::string& name) {
  const std::string op_name = OpName(name, kind);
  return Guard(std::string(OpKindName(kind)) + " '" + op_name + "'", [&] {
    const TensorDef in = GetInt8(input, "input");
    Require(in.shape.size() == 3, "the input must be [H, W, C]");
    const Pool2DOptions& o = options;
    Require(o.filter_h >= 1 && o.filter_w >= 1 && o.stride_h >= 1 &&
                o.stride_w >= 1,
            "filter and strides must be >= 1");
    // pad < filter keeps at least one real element in every window, so the
    // average never divides by zero and the max is never of nothing.
    Require(o.pad_top >= 0 && o.pad_bottom >= 0 && o.pad_left >= 0 &&
                o.pad_right >= 0 && o.pad_top < o.filter_h &&
                o.pad_bottom < o.filter_h && o.pad_left < o.filter_w &&
                o.pad_right < o.filter_w,
            "padding must be in [0, filter)");
    const int64_t oh = WindowOutputSize(in.shape[0], o.filter_h, o.stride_h, 1,
                                        o.pad_top, o.pad_bottom);
    const int64_t ow = WindowOutputSize(in.shape[1], o.filter_w, o.stride_w, 1,
                                        o.pad_left, o.pad_right);
    Require(oh >= 1 && ow >= 1, "the filter does not fit the padded input");

    OperatorDef op;
    op.name = op_name;
    op.kind = kind;
    Pool2DOptionsDef& d = op.pool2d;
    d.filter_h = o.filter_h;
    d.filter_w = o.filter_w;
    d.stride_h = o.stride_h;
    d.stride_w = o.stride_w;
    d.pad_top = o.pad_top;
    d.pad_left = o.pad_left;
    d.pad_bottom = o.pad_bottom;
    d.pad_right = o.pad_right;
    const TensorId out = AddActivation(
        op_name, DType::kInt8, Shape3(oh, ow, in.shape[2]), &*in.quantization);
    op.inputs = {static_cast<uint32_t>(input)};
    op.outputs = {static_cast<uint32_t>(out)};
    return AddOp(std::move(op));
  });
}

TensorId ModelBuilder::AveragePool2D(TensorId input,
                                     const Pool2DOptions& options,
                                     const std::string& name) {
  return Pool2D(OpKind::kAveragePool2D, input, options, name);
}

TensorId ModelBuilder::MaxPool2D(TensorId input, const Pool2DOptions& options,
                                 const std::string& name) {
  return Pool2D(OpKind::kMaxPool2D, input, options, name);
}

TensorId ModelBuilder::GlobalAveragePool(TensorId input, QuantParams output,
                                         const std::string& name) {
  const std::string op_name = OpName(name, OpKind::kGlobalAveragePool);
  return Guard("GlobalAveragePool '" + op_name + "'", [&] {
    const TensorDef in = GetInt8(input, "input");
    Require(in.shape.size() == 3, "the input must be [H, W, C]");
    CheckQuant(output, DType::kInt8, "output");
    OperatorDef op;
    op.name = op_name;
    op.kind = OpKind::kGlobalAveragePool;
    op.global_average_pool.requant = MakeRequant(
        {GlobalAveragePoolRealMultiplier(QuantOf(in).scale, output.scale,
                                         in.shape[0], in.shape[1])},
        "input / (output scale x H x W)");
    const QuantizationDef q = PerTensor(output);
    const TensorId out =
        AddActivation(op_name, DType::kInt8, {in.shape[2]}, &q);
    op.inputs = {static_cast<uint32_t>(input)};
    op.outputs = {static_cast<uint32_t>(out)};
    return AddOp(std::move(op));
  });
}

TensorId ModelBuilder::Concat(const std::vector<TensorId>& inputs, int32_t axis,
                              QuantParams output, const std::string& name) {
  const std::string op_name = OpName(name, OpKind::kConcat);
  return Guard("Concat '" + op_name + "'", [&] {
    Require(!inputs.empty() &&
                inputs.size() <= static_cast<size_t>(kMaxConcatInputs),
            "Concat takes 1 to kMaxConcatInputs (16) inputs");
    CheckQuant(output, DType::kInt8, "output");
    std::vector<int32_t> shape = GetInt8(inputs[0], "input").shape;
    const int32_t rank = static_cast<int32_t>(shape.size());
    Require(axis >= -rank && axis < rank, "axis out of range");
    const size_t a = static_cast<size_t>(axis < 0 ? axis + rank : axis);

    OperatorDef op;
    op.name = op_name;
    op.kind = OpKind::kConcat;
    op.concat.axis = static_cast<int32_t>(a);
    int64_t axis_total = 0;
    for (TensorId id : inputs) {
      const TensorDef& t = GetInt8(id, "input");
      Require(t.shape.size() == shape.size(),
              "the inputs must have the same rank");
      for (size_t d = 0; d < shape.size(); ++d) {
        Require(d == a || t.shape[d] == shape[d],
                "the inputs may differ only along the axis");
      }
      axis_total += t.shape[a];
      const QuantParams q = QuantOf(t);
      if (q.scale == output.scale && q.zero_point == output.zero_point) {
        op.concat.requant.push_back(RequantDef{{0}, {0}});  // exact copy
      } else {
        RequantDef r =
            MakeRequant({RescaleRealMultiplier(q.scale, output.scale)},
                        "input / output scale");
        // Multiplier 0 means "copy" in the format, so an underflowing
        // rescale cannot be expressed.
        Require(r.multiplier[0] != 0,
                "an input's scale is too small relative to the output's");
        op.concat.requant.push_back(std::move(r));
      }
      op.inputs.push_back(static_cast<uint32_t>(id));
    }
    Require(axis_total <= INT32_MAX, "the output is too large");
    shape[a] = static_cast<int32_t>(axis_total);
    const QuantizationDef q = PerTensor(output);
    const TensorId out = AddActivation(op_name, DType::kInt8, shape, &q);
    op.outputs = {static_cast<uint32_t>(out)};
    return AddOp(std::move(op));
  });
}

TensorId ModelBuilder::Reshape(TensorId input,
                               const std::vector<int32_t>& shape,
                               const std::string& name) {
  const std::string op_name = OpName(name, OpKind::kReshape);
  return Guard("Reshape '" + op_name + "'", [&] {
    const TensorDef in = Get(input, "input");
    std::vector<int32_t> out_shape = shape;
    int64_t known = 1;
    int inferred = -1;
    for (size_t i = 0; i < out_shape.size(); ++i) {
      if (out_shape[i] == -1) {
        Require(inferred < 0, "at most one dimension may be -1");
        inferred = static_cast<int>(i);
      } else {
        Require(out_shape[i] >= 1, "dimensions must be >= 1 (or one -1)");
        known *= out_shape[i];
        Require(known <= INT32_MAX, "the shape is too large");
      }
    }
    const int64_t count = ElementCount(in.shape);
    if (inferred >= 0) {
      Require(count % known == 0, "the -1 dimension cannot be inferred");
      out_shape[static_cast<size_t>(inferred)] =
          static_cast<int32_t>(count / known);
    }
    Require(ElementCount(out_shape) == count,
            "the new shape must have as many elements as the input");
    OperatorDef op;
    op.name = op_name;
    op.kind = OpKind::kReshape;
    const TensorId out =
        AddActivation(op_name, in.type, out_shape,
                      in.quantization ? &*in.quantization : nullptr);
    op.inputs = {static_cast<uint32_t>(input)};
    op.outputs = {static_cast<uint32_t>(out)};
    return AddOp(std::move(op));
  });
}

TensorId ModelBuilder::Softmax(TensorId input, float beta,
                               const std::string& name) {
  const std::string op_name = OpName(name, OpKind::kSoftmax);
  return Guard("Softmax '" + op_name + "'", [&] {
    const TensorDef in = GetInt8(input, "input");
    Require(beta > 0.0f && isfinite(beta), "beta must be finite and > 0");
    OperatorDef op;
    op.name = op_name;
    op.kind = OpKind::kSoftmax;
    op.softmax.beta = beta;  // recorded for tools; the table is what counts
    const TensorId table =
        AddExpTable(op_name + "/exp_table", QuantOf(in).scale, beta);
    const QuantizationDef q = PerTensor(kProbabilityQuant);
    const TensorId out = AddActivation(op_name, DType::kInt8, in.shape, &q);
    op.inputs = {static_cast<uint32_t>(input), static_cast<uint32_t>(table)};
    op.outputs = {static_cast<uint32_t>(out)};
    return AddOp(std::move(op));
  });
}

TensorId ModelBuilder::Logistic(TensorId input, const std::string& name) {
  const std::string op_name = OpName(name, OpKind::kLogistic);
  return Guard("Logistic '" + op_name + "'", [&] {
    const TensorDef in = GetInt8(input, "input");
    const QuantParams in_q = QuantOf(in);
    OperatorDef op;
    op.name = op_name;
    op.kind = OpKind::kLogistic;
    // The entries are output values, so the table carries the output's
    // quantization (every int8 tensor has one).
    const TensorId table =
        AddConstant(op_name + "/table", DType::kInt8, {256},
                    Int8Bytes(LogisticTable(in_q.scale, in_q.zero_point)),
                    PerTensor(kProbabilityQuant));
    const QuantizationDef q = PerTensor(kProbabilityQuant);
    const TensorId out = AddActivation(op_name, DType::kInt8, in.shape, &q);
    op.inputs = {static_cast<uint32_t>(input), static_cast<uint32_t>(table)};
    op.outputs = {static_cast<uint32_t>(out)};
    return AddOp(std::move(op));
  });
}

TensorId ModelBuilder::Quantize(TensorId input, QuantParams output,
                                const std::string& name) {
  const std::string op_name = OpName(name, OpKind::kQuantize);
  return Guard("Quantize '" + op_name + "'", [&] {
    const TensorDef in = Get(input, "input");
    Require(in.type == DType::kUInt8 || in.type == DType::kInt8 ||
                in.type == DType::kFloat32,
            "the input must be UINT8, INT8 or FLOAT32");
    CheckQuant(output, DType::kInt8, "output");
    OperatorDef op;
    op.name = op_name;
    op.kind = OpKind::kQuantize;
    // Float inputs are divided by the output scale directly: no requant.
    if (in.type != DType::kFloat32) {
      op.quantize.requant =
          MakeRequant({RescaleRealMultiplier(QuantOf(in).scale, output.scale)},
                      "input / output scale");
    }
    const QuantizationDef q = PerTensor(output);
    const TensorId out = AddActivation(op_name, DType::kInt8, in.shape, &q);
    op.inputs = {static_cast<uint32_t>(input)};
    op.outputs = {static_cast<uint32_t>(out)};
    return AddOp(std::move(op));
  });
}

TensorId ModelBuilder::Dequantize(TensorId input, const std::string& name) {
  const std::string op_name = OpName(name, OpKind::kDequantize);
  return Guard("Dequantize '" + op_name + "'", [&] {
    const TensorDef in = GetInt8(input, "input");
    OperatorDef op;
    op.name = op_name;
    op.kind = OpKind::kDequantize;
    const TensorId out =
        AddActivation(op_name, DType::kFloat32, in.shape, nullptr);
    op.inputs = {static_cast<uint32_t>(input)};
    op.outputs = {static_cast<uint32_t>(out)};
    return AddOp(std::move(op));
  });
}

// The span is checked first: C++ division truncates toward zero.
int64_t WindowOutputSize(int64_t in, int64_t kernel, int64_t stride,
                         int64_t dilation, int64_t pad_before,
                         int64_t pad_after) {
  const int64_t span =
      in + pad_before + pad_after - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

}  // namespace kiln
