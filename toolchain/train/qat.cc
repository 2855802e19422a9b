// Quantization-aware training (qat.h). Every layer is computed twice from
// the same quantized constants: exactly, by the runtime's own reference
// kernels (kernels/ref) on int8 NHWC tensors, and as a float32 fake-quant
// twin (LibTorch, NCHW) that carries the gradients and whose value is
// replaced by the exact one.
#include "toolchain/train/qat.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/requant.h"
#include "toolchain/data/digits.h"
#include "toolchain/quantization.h"
#include "toolchain/train/quantize_model.h"

namespace kiln {
namespace train {

namespace {

bool Fail(std::string* error, const std::string& message) {
  if (error != nullptr) *error = message;
  return false;
}

bool IsWeighted(const FloatLayer& layer) {
  return layer.kind == LayerKind::kConv2D ||
         layer.kind == LayerKind::kFullyConnected;
}

size_t Elements(const std::vector<int32_t>& shape) {
  size_t n = 1;
  for (int32_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

// The parts of the quantized graph that QAT never changes: shapes and the
// activation quantization, read from the graph BuildKilnModel builds, and
// the multipliers that depend only on them.
struct Plan {
  std::vector<std::vector<int32_t>> shapes;  // per layer, per item (Kiln)
  bool spatial_input = false;                // input [H, W, C]
  size_t input_elements = 0;
  QuantParams input_quant;  // the int8 tensor after the graph's Quantize
  int32_t input_multiplier = 0, input_shift = 0;  // uint8 -> int8
  std::vector<QuantParams> in_quant, out_quant;   // per layer
  std::vector<RequantDef> gap_requant;            // per layer (GAP only)
};

bool MakePlan(const FloatModel& model, Plan* plan, std::string* error) {
  *plan = Plan();
  for (const FloatLayer& layer : model.layers) {
    // The fake-quantized forward below mirrors the reference kernels of
    // convolutions, fully connected layers and pools only.
    if (layer.kind == LayerKind::kAdd)
      return Fail(error, "qat: layer '" + layer.name +
                             "' is an add, which QAT does not train through");
  }
  ModelBuilder builder;
  QuantizedLayout layout;
  if (!BuildKilnModel(model, QuantizeOptions(), &builder, &layout, error)) {
    return false;
  }
  if (!InferLayerShapes(model, &plan->shapes, error)) return false;
  plan->spatial_input = model.input_shape.size() == 3;
  plan->input_elements = Elements(model.input_shape);
  plan->input_quant = layout.input_quant;
  try {
    if (model.uint8_input) {
      // The graph input is UINT8 with scale input_scale_real, zero point 0.
      const RequantDef r =
          MakeRequant({RescaleRealMultiplier(model.input_scale_real,
                                             layout.input_quant.scale)},
                      "input / output scale");
      plan->input_multiplier = r.multiplier[0];
      plan->input_shift = r.shift[0];
    }
    const size_t L = model.layers.size();
    plan->gap_requant.resize(L);
    for (size_t l = 0; l < L; ++l) {
      const FloatLayer& layer = model.layers[l];
      const QuantParams in = layer.input < 0 ? layout.input_quant
                                             : layout.layer_quant[layer.input];
      plan->in_quant.push_back(in);
      plan->out_quant.push_back(layout.layer_quant[l]);
      if (layer.kind == LayerKind::kGlobalAveragePool) {
        const std::vector<int32_t>& s =
            layer.input < 0 ? model.input_shape : plan->shapes[layer.input];
        plan->gap_requant[l] =
            MakeRequant({GlobalAveragePoolRealMultiplier(
                            in.scale, layout.layer_quant[l].scale, s[0], s[1])},
                        "input / (output scale x H x W)");
      }
    }
  } catch (const std::exception& e) {
    return Fail(error, e.what());
  }
  return true;
}

// The trainable tensors, in Kiln's layouts: conv weights OHWI, fully
// connected [N, K] (K in NHWC flattening order), biases [O]. Undefined for
// pools.
struct Weights {
  std::vector<torch::Tensor> w, b;
};

Weights WeightsOf(const FloatModel& model) {
  Weights out;
  for (const FloatLayer& layer : model.layers) {
    if (!IsWeighted(layer)) {
      out.w.emplace_back();
      out.b.emplace_back();
      continue;
    }
    const std::vector<int64_t> shape(layer.weight_shape.begin(),
                                     layer.weight_shape.end());
    out.w.push_back(torch::from_blob(const_cast<float*>(layer.weights.data()),
                                     shape, torch::kFloat32)
                        .clone());
    out.b.push_back(
        layer.bias.empty()
            ? torch::zeros({shape[0]}, torch::kFloat32)
            : torch::from_blob(const_cast<float*>(layer.bias.data()),
                               {shape[0]}, torch::kFloat32)
                  .clone());
  }
  return out;
}

std::vector<float> ToVector(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().contiguous();
  const float* p = c.data_ptr<float>();
  return std::vector<float>(p, p + c.numel());
}

void StoreWeights(const Weights& weights, FloatModel* model) {
  for (size_t l = 0; l < model->layers.size(); ++l) {
    FloatLayer& layer = model->layers[l];
    if (!IsWeighted(layer)) continue;
    layer.weights = ToVector(weights.w[l]);
    layer.bias = ToVector(weights.b[l]);
  }
}

// One Conv2D / FullyConnected layer quantized from the current weights, as
// the builder quantizes it (ModelBuilder::AddWeightsAndBias): the
// toolchain's weight and bias quantization, its multipliers and clamp.
struct LayerQuant {
  std::vector<int8_t> wq;  // Kiln layout
  std::vector<int32_t> bq;
  RequantDef requant;
  Clamp clamp = {-128, 127};
  torch::Tensor w_deq;  // float32, s_w[c] * wq (Kiln layout)
  torch::Tensor b_deq;  // float32, s_in * s_w[c] * bq
};

// Throws std::invalid_argument, as the builder would refuse the layer.
LayerQuant QuantizeLayer(const torch::Tensor& w, const torch::Tensor& b,
                         QuantParams in, QuantParams out,
                         Activation activation) {
  const int32_t channels = static_cast<int32_t>(w.size(0));
  QuantizedWeights qw = QuantizeWeightsPerChannel(ToVector(w), channels);
  std::vector<int32_t> qb = QuantizeBias(ToVector(b), in.scale, qw.scales);
  // The builder's checks (the runtime's accumulator bound, a normal bias
  // scale); QuantizeWeightsPerChannel and MakeRequant check the rest.
  const int64_t depth = w.numel() / channels;
  int64_t max_bias = 0;
  for (int32_t v : qb) max_bias = std::max<int64_t>(max_bias, std::llabs(v));
  if (depth * 255 * 128 + max_bias > INT32_MAX) {
    throw std::invalid_argument("the int32 accumulator could overflow");
  }
  std::vector<double> reals, bias_scale;
  for (float s_w : qw.scales) {
    reals.push_back(ConvRealMultiplier(in.scale, s_w, out.scale));
    if (!std::isnormal(in.scale * s_w)) {
      throw std::invalid_argument(
          "input scale x weight scale is not a normal float (the bias scale)");
    }
    bias_scale.push_back(static_cast<double>(in.scale) *
                         static_cast<double>(s_w));
  }
  LayerQuant q;
  q.requant = MakeRequant(reals, "input x weight / output scale");
  q.clamp = ActivationClamp(activation, out.scale, out.zero_point);
  std::vector<int64_t> per_channel(static_cast<size_t>(w.dim()), 1);
  per_channel[0] = channels;
  q.w_deq = torch::from_blob(qw.values.data(), w.sizes(), torch::kInt8)
                .to(torch::kFloat32) *
            torch::from_blob(qw.scales.data(), per_channel, torch::kFloat32);
  q.b_deq = (torch::from_blob(qb.data(), {channels}, torch::kInt32)
                 .to(torch::kFloat64) *
             torch::from_blob(bias_scale.data(), {channels}, torch::kFloat64))
                .to(torch::kFloat32);
  q.wq = std::move(qw.values);
  q.bq = std::move(qb);
  return q;
}

// Quantizes every weighted layer; false and *error like the builder.
bool QuantizeAll(const FloatModel& model, const Plan& plan,
                 const Weights& weights, std::vector<LayerQuant>* out,
                 std::string* error) {
  torch::NoGradGuard no_grad;
  out->assign(model.layers.size(), LayerQuant());
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const FloatLayer& layer = model.layers[l];
    if (!IsWeighted(layer)) continue;
    try {
      (*out)[l] = QuantizeLayer(weights.w[l], weights.b[l], plan.in_quant[l],
                                plan.out_quant[l], layer.activation);
    } catch (const std::invalid_argument& e) {
      return Fail(error, "layer " + std::to_string(l) + " '" + layer.name +
                             "': " + e.what());
    }
  }
  return true;
}

// One layer's value for n items: q, the exact int8 tensor as the runtime
// holds it (NHWC, item after item); f, when gradients are wanted, the same
// values dequantized (float32, NCHW or [N, K]) carrying the fake-quant
// gradient path.
struct Value {
  std::vector<int8_t> q;
  torch::Tensor f;
};

// The int8 values q (n items of `shape`) as real values, NCHW or [N, K].
torch::Tensor Dequantize(const std::vector<int8_t>& q, int64_t n,
                         const std::vector<int32_t>& shape, QuantParams p) {
  const torch::Tensor t =
      (torch::from_blob(const_cast<int8_t*>(q.data()),
                        {n, static_cast<int64_t>(Elements(shape))},
                        torch::kInt8)
           .to(torch::kFloat32) -
       static_cast<float>(p.zero_point)) *
      p.scale;
  if (shape.size() != 3) return t;
  return t.view({n, shape[0], shape[1], shape[2]}).permute({0, 3, 1, 2});
}

// y_float's gradient, the exact value.
torch::Tensor Straight(const torch::Tensor& y_float,
                       const std::vector<int8_t>& q,
                       const std::vector<int32_t>& shape, QuantParams p) {
  return y_float +
         (Dequantize(q, y_float.size(0), shape, p) - y_float).detach();
}

torch::Tensor Flatten(const torch::Tensor& t) {
  // Kiln flattens NHWC.
  return t.dim() == 4 ? t.permute({0, 2, 3, 1}).reshape({t.size(0), -1}) : t;
}

// Pads (left, right, top, bottom) of an NCHW tensor.
torch::Tensor Pad(const torch::Tensor& x, int32_t top, int32_t left,
                  int32_t bottom, int32_t right, double value) {
  if (top == 0 && left == 0 && bottom == 0 && right == 0) return x;
  return torch::constant_pad_nd(x, {left, right, top, bottom}, value);
}

// Runs `kernel(first item, item count)` over n items on LibTorch's threads.
// Items never interact, so the result does not depend on the split.
template <typename Kernel>
void ForItems(size_t n, const Kernel& kernel) {
  at::parallel_for(
      0, static_cast<int64_t>(n), 1, [&](int64_t begin, int64_t end) {
        kernel(static_cast<size_t>(begin), static_cast<int32_t>(end - begin));
      });
}

RequantParams RequantOf(const RequantDef& r) {
  return {r.multiplier.data(), r.shift.data(),
          static_cast<int32_t>(r.multiplier.size())};
}

// The graph input: n raw items -> the int8 tensor after Quantize (the
// runtime's kernels).
std::vector<int8_t> QuantizeInput(const FloatModel& model, const Plan& plan,
                                  const void* raw, size_t n) {
  const size_t e = plan.input_elements;
  std::vector<int8_t> q(n * e);
  ForItems(n, [&](size_t first, int32_t count) {
    for (size_t i = first; i < first + static_cast<size_t>(count); ++i) {
      if (model.uint8_input) {
        const QuantizeIntParams p = {static_cast<int32_t>(e), 0,
                                     plan.input_quant.zero_point,
                                     plan.input_multiplier, plan.input_shift};
        ref::QuantizeFromUint8(p, static_cast<const uint8_t*>(raw) + i * e,
                               q.data() + i * e);
      } else {
        const QuantizeFloatParams p = {static_cast<int32_t>(e),
                                       plan.input_quant.scale,
                                       plan.input_quant.zero_point};
        ref::QuantizeFromFloat(p, static_cast<const float*>(raw) + i * e,
                               q.data() + i * e);
      }
    }
  });
  return q;
}

// Runs every layer on n quantized input items x_q. The exact values come
// from the runtime's reference kernels (kernels/ref) fed with the
// constants the builder would write; with `grad`, the float twin f of
// every value is computed too.
std::vector<Value> Forward(const FloatModel& model, const Plan& plan,
                           const Weights& weights,
                           const std::vector<LayerQuant>& lq,
                           const std::vector<int8_t>& x_q, size_t n,
                           bool grad) {
  const int64_t N = static_cast<int64_t>(n);
  Value input;
  input.q = x_q;
  if (grad) {
    input.f = Dequantize(x_q, N, model.input_shape, plan.input_quant);
  }
  std::vector<Value> out;
  out.reserve(model.layers.size());
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const FloatLayer& layer = model.layers[l];
    const Value& in = layer.input < 0 ? input : out[layer.input];
    const std::vector<int32_t>& is =
        layer.input < 0 ? model.input_shape : plan.shapes[layer.input];
    const std::vector<int32_t>& os = plan.shapes[l];
    const size_t in_elems = Elements(is), out_elems = Elements(os);
    const QuantParams iq = plan.in_quant[l], oq = plan.out_quant[l];
    Value y;
    y.q.resize(n * out_elems);
    const int8_t* src = in.q.data();
    int8_t* dst = y.q.data();
    switch (layer.kind) {
      case LayerKind::kConv2D: {
        const LayerQuant& q = lq[l];
        const Conv2DOptions& o = layer.conv;
        const std::vector<int32_t>& ws = layer.weight_shape;
        Conv2DParams p = {0,
                          is[0],
                          is[1],
                          is[2],
                          os[0],
                          os[1],
                          os[2],
                          ws[1],
                          ws[2],
                          o.stride_h,
                          o.stride_w,
                          o.dilation_h,
                          o.dilation_w,
                          o.pad_top,
                          o.pad_left,
                          o.groups,
                          iq.zero_point,
                          oq.zero_point,
                          {q.clamp.min, q.clamp.max},
                          RequantOf(q.requant)};
        ForItems(n, [&](size_t first, int32_t count) {
          Conv2DParams c = p;
          c.batch = count;
          ref::Conv2D(c, src + first * in_elems, q.wq.data(), q.bq.data(),
                      dst + first * out_elems);
        });
        if (grad) {
          const torch::Tensor& w = weights.w[l];
          const torch::Tensor& b = weights.b[l];
          const torch::Tensor wf = w + (q.w_deq - w).detach();
          const torch::Tensor bf = b + (q.b_deq - b).detach();
          const std::vector<int64_t> stride = {o.stride_h, o.stride_w};
          const std::vector<int64_t> no_pad = {0, 0};
          const std::vector<int64_t> dilation = {o.dilation_h, o.dilation_w};
          torch::Tensor yf = torch::conv2d(
              Pad(in.f, o.pad_top, o.pad_left, o.pad_bottom, o.pad_right, 0.0),
              wf.permute({0, 3, 1, 2}), bf, stride, no_pad, dilation, o.groups);
          // The output clamp (fused activation, int8 range) in real units:
          // no gradient where it saturates.
          yf = torch::clamp(yf, oq.scale * (q.clamp.min - oq.zero_point),
                            oq.scale * (q.clamp.max - oq.zero_point));
          y.f = Straight(yf, y.q, os, oq);
        }
        break;
      }
      case LayerKind::kFullyConnected: {
        const LayerQuant& q = lq[l];
        const FullyConnectedParams p = {0,
                                        static_cast<int32_t>(in_elems),
                                        os[0],
                                        iq.zero_point,
                                        oq.zero_point,
                                        {q.clamp.min, q.clamp.max},
                                        RequantOf(q.requant)};
        ForItems(n, [&](size_t first, int32_t count) {
          FullyConnectedParams c = p;
          c.batch = count;
          ref::FullyConnected(c, src + first * in_elems, q.wq.data(),
                              q.bq.data(), dst + first * out_elems);
        });
        if (grad) {
          const torch::Tensor& w = weights.w[l];
          const torch::Tensor& b = weights.b[l];
          const torch::Tensor wf = w + (q.w_deq - w).detach();
          const torch::Tensor bf = b + (q.b_deq - b).detach();
          torch::Tensor yf = torch::linear(Flatten(in.f), wf, bf);
          yf = torch::clamp(yf, oq.scale * (q.clamp.min - oq.zero_point),
                            oq.scale * (q.clamp.max - oq.zero_point));
          y.f = Straight(yf, y.q, os, oq);
        }
        break;
      }
      case LayerKind::kMaxPool2D:
      case LayerKind::kAveragePool2D: {
        const Pool2DOptions& o = layer.pool;
        const bool is_max = layer.kind == LayerKind::kMaxPool2D;
        // The builder stores a pool's clamp as [-128, 127].
        const Pool2DParams p = {0,          is[0],      is[1],      is[2],
                                os[0],      os[1],      o.filter_h, o.filter_w,
                                o.stride_h, o.stride_w, o.pad_top,  o.pad_left,
                                {-128, 127}};
        ForItems(n, [&](size_t first, int32_t count) {
          Pool2DParams c = p;
          c.batch = count;
          if (is_max) {
            ref::MaxPool2D(c, src + first * in_elems, dst + first * out_elems);
          } else {
            ref::AveragePool2D(c, src + first * in_elems,
                               dst + first * out_elems);
          }
        });
        if (grad) {
          torch::Tensor yf;
          if (is_max) {
            yf = torch::max_pool2d(
                Pad(in.f, o.pad_top, o.pad_left, o.pad_bottom, o.pad_right,
                    -std::numeric_limits<double>::infinity()),
                {o.filter_h, o.filter_w}, {o.stride_h, o.stride_w});
          } else {
            // The mean of the in-bounds taps (padding is not counted).
            auto sum_pool = [&](const torch::Tensor& t) {
              return torch::avg_pool2d(
                  Pad(t, o.pad_top, o.pad_left, o.pad_bottom, o.pad_right, 0.0),
                  {o.filter_h, o.filter_w}, {o.stride_h, o.stride_w}, 0, false,
                  true, 1);
            };
            yf = sum_pool(in.f) / sum_pool(torch::ones({1, 1, is[0], is[1]}));
          }
          y.f = Straight(yf, y.q, os, oq);
        }
        break;
      }
      case LayerKind::kGlobalAveragePool: {
        const RequantDef& r = plan.gap_requant[l];
        const GlobalAveragePoolParams p = {0,
                                           is[0],
                                           is[1],
                                           is[2],
                                           iq.zero_point,
                                           oq.zero_point,
                                           r.multiplier[0],
                                           r.shift[0]};
        ForItems(n, [&](size_t first, int32_t count) {
          GlobalAveragePoolParams c = p;
          c.batch = count;
          ref::GlobalAveragePool(c, src + first * in_elems,
                                 dst + first * out_elems);
        });
        if (grad) {
          const torch::Tensor yf =
              torch::clamp(in.f.mean({2, 3}), oq.scale * (-128 - oq.zero_point),
                           oq.scale * (127 - oq.zero_point));
          y.f = Straight(yf, y.q, os, oq);
        }
        break;
      }
      case LayerKind::kAdd:
        break;  // refused by MakePlan
    }
    out.push_back(std::move(y));
  }
  return out;
}

// First index of the row maximum: the runtime's top-1 (ties to the lower
// class id).
std::vector<int32_t> Top1(const std::vector<int8_t>& logits, size_t n) {
  const size_t k = n == 0 ? 0 : logits.size() / n;
  std::vector<int32_t> out(n);
  for (size_t r = 0; r < n; ++r) {
    size_t best = 0;
    for (size_t c = 1; c < k; ++c)
      if (logits[r * k + c] > logits[r * k + best]) best = c;
    out[r] = static_cast<int32_t>(best);
  }
  return out;
}

// The raw bytes of samples `indices`, contiguous.
std::vector<uint8_t> GatherRaw(const data::Dataset& d,
                               const std::vector<size_t>& indices) {
  const size_t bytes = d.item_byte_size();
  std::vector<uint8_t> out(indices.size() * bytes);
  for (size_t i = 0; i < indices.size(); ++i) {
    std::copy(d.item_bytes(indices[i]), d.item_bytes(indices[i]) + bytes,
              out.begin() + static_cast<std::ptrdiff_t>(i * bytes));
  }
  return out;
}

// Mean int8 top-1 accuracy over heads of `items` raw items.
double Accuracy(const FloatModel& model, const Plan& plan,
                const Weights& weights, const std::vector<LayerQuant>& lq,
                const std::vector<uint8_t>& raw, size_t item_bytes,
                const std::vector<std::vector<int32_t>>& targets) {
  torch::NoGradGuard no_grad;
  const size_t n = targets.empty() ? 0 : targets[0].size();
  const size_t kChunk = 512;
  double correct = 0;
  for (size_t s = 0; s < n; s += kChunk) {
    const size_t m = std::min(kChunk, n - s);
    const std::vector<Value> v = Forward(
        model, plan, weights, lq,
        QuantizeInput(model, plan, raw.data() + s * item_bytes, m), m, false);
    for (size_t h = 0; h < model.heads.size(); ++h) {
      const std::vector<int32_t> top =
          Top1(v[static_cast<size_t>(model.heads[h].layer)].q, m);
      for (size_t i = 0; i < m; ++i) correct += top[i] == targets[h][s + i];
    }
  }
  return n == 0 ? std::nan("")
                : correct / static_cast<double>(n * model.heads.size());
}

// The trainer's per-sample loss (before class weights).
torch::Tensor SampleLoss(const torch::Tensor& logits,
                         const torch::Tensor& target, const TrainingParams& t) {
  const int64_t k = logits.size(1);
  const torch::Tensor logp = torch::log_softmax(logits, 1);
  torch::Tensor q = torch::one_hot(target, k).to(torch::kFloat32);
  if (t.label_smoothing > 0)
    q = q * (1.0 - t.label_smoothing) + t.label_smoothing / k;
  if (t.loss == LossKind::kFocal) {
    const torch::Tensor mod = torch::pow(1.0 - logp.exp(), t.focal_gamma);
    return -(q * mod * logp).sum(1);
  }
  return -(q * logp).sum(1);
}

// params.training.augmentation on n raw items of `shape` (in place).
// Shift and flip move raw values (images only); brightness and noise act on
// real values (raw * scale) and are rounded back to the raw grid [0,
// raw_max] for uint8 items.
template <typename T>
void AugmentRaw(T* items, size_t n, const std::vector<int32_t>& shape,
                const AugmentationParams& a, std::mt19937_64& rng, float scale,
                int32_t raw_max) {
  const bool image = shape.size() == 3;
  const size_t e = Elements(shape);
  std::uniform_real_distribution<float> u01(0.0f, 1.0f);
  if (image && a.hflip) {
    const int32_t H = shape[0], W = shape[1], C = shape[2];
    for (size_t i = 0; i < n; ++i) {
      if (!(u01(rng) < 0.5f)) continue;
      T* p = items + i * e;
      for (int32_t y = 0; y < H; ++y)
        for (int32_t x = 0; x < W / 2; ++x)
          for (int32_t c = 0; c < C; ++c)
            std::swap(p[(size_t(y) * W + x) * C + c],
                      p[(size_t(y) * W + (W - 1 - x)) * C + c]);
    }
  }
  if (image && a.max_shift_pixels > 0) {
    const int32_t H = shape[0], W = shape[1], C = shape[2];
    std::uniform_int_distribution<int> shift(-a.max_shift_pixels,
                                             a.max_shift_pixels);
    std::vector<T> src(e);
    for (size_t i = 0; i < n; ++i) {
      const int dy = shift(rng), dx = shift(rng);
      if (dy == 0 && dx == 0) continue;
      T* p = items + i * e;
      std::copy(p, p + e, src.begin());
      for (int32_t y = 0; y < H; ++y)
        for (int32_t x = 0; x < W; ++x) {
          const int32_t sy = y - dy, sx = x - dx;
          const bool in = sy >= 0 && sy < H && sx >= 0 && sx < W;
          for (int32_t c = 0; c < C; ++c)
            p[(size_t(y) * W + x) * C + c] =
                in ? src[(size_t(sy) * W + sx) * C + c] : T(0);
        }
    }
  }
  if (a.brightness <= 0 && a.noise_std <= 0) return;
  std::vector<double> gain(n, 1.0);
  if (a.brightness > 0) {
    std::uniform_real_distribution<float> b(-a.brightness, a.brightness);
    for (double& g : gain) g = 1.0 + b(rng);
  }
  std::normal_distribution<float> noise(0.0f,
                                        a.noise_std > 0 ? a.noise_std : 1.0f);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < e; ++j) {
      T& v = items[i * e + j];
      // In raw units: real = raw * scale.
      double r = static_cast<double>(v) * gain[i];
      if (a.noise_std > 0) r += static_cast<double>(noise(rng)) / scale;
      if (std::is_same<T, uint8_t>::value) {
        r = std::min<double>(raw_max, std::max(0.0, std::round(r)));
      }
      v = static_cast<T>(r);
    }
  }
}

bool CheckInputs(const TrainParams& params, const data::Dataset& d,
                 const std::vector<data::Split>& splits,
                 const std::vector<std::vector<int32_t>>& head_class_of,
                 const FloatModel& model, std::string* error) {
  const QatParams& q = params.qat;
  if (q.epochs < 0) return Fail(error, "qat.epochs: must be >= 0");
  if (!(std::isfinite(q.lr) && q.lr > 0))
    return Fail(error, "qat.lr: must be positive");
  if (q.batch_size < 1) return Fail(error, "qat.batch_size: must be >= 1");
  if (params.training.threads < 1)
    return Fail(error, "training.threads: must be >= 1");
  if (d.task != data::Task::kClassification || d.class_names.empty())
    return Fail(error, "qat: only classification datasets are supported");
  if (splits.size() != d.size())
    return Fail(error, "qat: one split per sample expected");
  if (d.item_shape != model.input_shape)
    return Fail(error,
                "qat: the dataset's item shape differs from the model's");
  if ((d.feature_type == data::FeatureType::kUint8) != model.uint8_input)
    return Fail(error,
                "qat: the dataset's feature type differs from the model's");
  if (model.heads.empty()) return Fail(error, "qat: the model has no heads");
  if (head_class_of.size() != model.heads.size())
    return Fail(error, "qat: head_class_of must have one map per head");
  for (size_t h = 0; h < model.heads.size(); ++h) {
    const int32_t layer = model.heads[h].layer;
    if (layer < 0 || layer >= static_cast<int32_t>(model.layers.size()) ||
        model.layers[layer].kind != LayerKind::kFullyConnected ||
        model.layers[layer].weight_shape.empty()) {
      return Fail(error, "qat: head " + std::to_string(h) +
                             " is not on a fully connected layer");
    }
    const int32_t classes = model.layers[layer].weight_shape[0];
    if (head_class_of[h].size() != d.class_names.size())
      return Fail(error, "qat: head_class_of[" + std::to_string(h) +
                             "] must map every dataset class");
    for (int32_t c : head_class_of[h])
      if (c < 0 || c >= classes)
        return Fail(error, "qat: head_class_of[" + std::to_string(h) +
                               "] maps to a class the head does not have");
  }
  for (int32_t label : d.labels)
    if (label < 0 || label >= static_cast<int32_t>(d.class_names.size()))
      return Fail(error, "qat: a sample's label is out of range");
  return true;
}

struct SplitData {
  std::vector<size_t> indices;
  std::vector<uint8_t> raw;
  std::vector<std::vector<int32_t>> targets;  // per head, per sample
};

SplitData GatherSplit(const data::Dataset& d,
                      const std::vector<data::Split>& splits, data::Split which,
                      const std::vector<std::vector<int32_t>>& head_class_of) {
  SplitData s;
  for (size_t i = 0; i < splits.size(); ++i)
    if (splits[i] == which) s.indices.push_back(i);
  s.raw = GatherRaw(d, s.indices);
  for (const std::vector<int32_t>& map : head_class_of) {
    std::vector<int32_t> t;
    for (size_t i : s.indices)
      t.push_back(map[static_cast<size_t>(d.labels[i])]);
    s.targets.push_back(std::move(t));
  }
  return s;
}

bool Train(const TrainParams& params, const data::Dataset& d,
           const std::vector<data::Split>& splits,
           const std::vector<std::vector<int32_t>>& head_class_of,
           FloatModel* model, QatMetrics* metrics, std::string* error,
           bool quiet) {
  const auto t_start = std::chrono::steady_clock::now();
  auto since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
        .count();
  };
  *metrics = QatMetrics();
  if (!CheckInputs(params, d, splits, head_class_of, *model, error))
    return false;
  const QatParams& qp = params.qat;
  const TrainingParams& t = params.training;
  const SplitData train =
      GatherSplit(d, splits, data::Split::kTrain, head_class_of);
  const SplitData valid =
      GatherSplit(d, splits, data::Split::kValid, head_class_of);
  if (train.indices.empty())
    return Fail(error, "qat: the train split is empty");
  metrics->train_samples = train.indices.size();
  metrics->valid_samples = valid.indices.size();

  torch::set_num_threads(t.threads);
  std::string why;
  Plan plan;
  if (!MakePlan(*model, &plan, &why)) return Fail(error, "qat: " + why);
  Weights weights = WeightsOf(*model);
  std::vector<LayerQuant> lq;
  if (!QuantizeAll(*model, plan, weights, &lq, &why))
    return Fail(error, "qat: " + why);
  const size_t item_bytes = d.item_byte_size();

  QatEpochMetrics e0;
  e0.valid_accuracy =
      Accuracy(*model, plan, weights, lq, valid.raw, item_bytes, valid.targets);
  e0.seconds = since(t_start);
  metrics->epochs.push_back(e0);
  metrics->initial_valid_accuracy = e0.valid_accuracy;
  metrics->best_valid_accuracy = e0.valid_accuracy;
  if (!quiet) {
    std::fprintf(stderr, "[qat] before QAT: int8 valid acc %.4f\n",
                 e0.valid_accuracy);
  }
  if (qp.epochs == 0) {
    metrics->seconds = since(t_start);
    return true;
  }

  // Class weights per head (on the train split), as the trainer has them.
  std::vector<torch::Tensor> class_weights;
  for (size_t h = 0; h < model->heads.size(); ++h) {
    const int64_t k = model->layers[model->heads[h].layer].weight_shape[0];
    std::vector<float> w(static_cast<size_t>(k), 1.0f);
    if (t.class_weights == ClassWeights::kBalanced) {
      std::vector<double> count(static_cast<size_t>(k), 0.0);
      for (int32_t c : train.targets[h]) count[static_cast<size_t>(c)] += 1;
      for (int64_t c = 0; c < k; ++c) {
        const double n = count[static_cast<size_t>(c)];
        w[static_cast<size_t>(c)] =
            n > 0 ? static_cast<float>(train.indices.size() / (k * n)) : 0.0f;
      }
    }
    class_weights.push_back(torch::tensor(w));
  }
  std::vector<torch::Tensor> train_y;
  for (const std::vector<int32_t>& y : train.targets)
    train_y.push_back(torch::tensor(y, torch::kInt64));

  std::vector<torch::Tensor> params_list;
  for (size_t l = 0; l < weights.w.size(); ++l) {
    if (!weights.w[l].defined()) continue;
    weights.w[l].set_requires_grad(true);
    weights.b[l].set_requires_grad(true);
    params_list.push_back(weights.w[l]);
    params_list.push_back(weights.b[l]);
  }
  torch::optim::AdamW opt(
      params_list,
      torch::optim::AdamWOptions(qp.lr).weight_decay(t.weight_decay));
  const int64_t n = static_cast<int64_t>(train.indices.size());
  const int64_t bs = qp.batch_size;
  const int64_t steps_per_epoch = (n + bs - 1) / bs;
  const double total_steps = static_cast<double>(steps_per_epoch) * qp.epochs;
  auto lr_at = [&](int64_t step) {
    const double p = std::min(1.0, static_cast<double>(step) / total_steps);
    return qp.lr * 0.5 * (1.0 + std::cos(M_PI * p));
  };
  const int32_t raw_max = d.name == "digits" ? data::kDigitsPixelScale : 255;

  std::mt19937_64 rng(t.seed ^ 0x716174ULL);  // "qat"
  std::vector<size_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), size_t(0));
  auto snapshot = [&]() {
    Weights s;
    for (size_t l = 0; l < weights.w.size(); ++l) {
      s.w.push_back(weights.w[l].defined() ? weights.w[l].detach().clone()
                                           : torch::Tensor());
      s.b.push_back(weights.b[l].defined() ? weights.b[l].detach().clone()
                                           : torch::Tensor());
    }
    return s;
  };
  Weights best;  // undefined tensors: the original weights are the best
  bool have_best = false;
  double best_acc = e0.valid_accuracy;
  int64_t step = 0;
  std::vector<uint8_t> batch_raw;
  const auto train_start = std::chrono::steady_clock::now();
  for (int32_t epoch = 1; epoch <= qp.epochs; ++epoch) {
    const auto e_start = std::chrono::steady_clock::now();
    std::shuffle(order.begin(), order.end(), rng);
    double loss_sum = 0, lr = qp.lr;
    for (int64_t b = 0; b < steps_per_epoch; ++b) {
      const int64_t lo = b * bs, hi = std::min(n, lo + bs);
      const size_t m = static_cast<size_t>(hi - lo);
      batch_raw.resize(m * item_bytes);
      std::vector<int64_t> idx;
      for (int64_t i = lo; i < hi; ++i) {
        const size_t s = order[static_cast<size_t>(i)];
        idx.push_back(static_cast<int64_t>(s));
        std::copy(
            train.raw.begin() + static_cast<std::ptrdiff_t>(s * item_bytes),
            train.raw.begin() +
                static_cast<std::ptrdiff_t>((s + 1) * item_bytes),
            batch_raw.begin() +
                static_cast<std::ptrdiff_t>((i - lo) * item_bytes));
      }
      if (model->uint8_input) {
        AugmentRaw(batch_raw.data(), m, model->input_shape, t.augmentation, rng,
                   model->input_scale_real, raw_max);
      } else {
        AugmentRaw(reinterpret_cast<float*>(batch_raw.data()), m,
                   model->input_shape, t.augmentation, rng, 1.0f, 0);
      }
      if (!QuantizeAll(*model, plan, weights, &lq, &why))
        return Fail(error, "qat: epoch " + std::to_string(epoch) + ": " + why);
      lr = lr_at(step++);
      for (auto& g : opt.param_groups())
        static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
      opt.zero_grad();
      const std::vector<Value> v =
          Forward(*model, plan, weights, lq,
                  QuantizeInput(*model, plan, batch_raw.data(), m), m, true);
      const torch::Tensor it = torch::tensor(idx, torch::kInt64);
      torch::Tensor loss = torch::zeros({});
      for (size_t h = 0; h < model->heads.size(); ++h) {
        const torch::Tensor y = train_y[h].index_select(0, it);
        const torch::Tensor w = class_weights[h].index({y});
        const torch::Tensor& logits =
            v[static_cast<size_t>(model->heads[h].layer)].f;
        loss = loss +
               (SampleLoss(logits, y, t) * w).sum() / w.sum().clamp_min(1e-12);
      }
      loss.backward();
      opt.step();
      loss_sum += loss.item<double>() * static_cast<double>(m);
    }
    if (!QuantizeAll(*model, plan, weights, &lq, &why))
      return Fail(error, "qat: epoch " + std::to_string(epoch) + ": " + why);
    QatEpochMetrics em;
    em.epoch = epoch;
    em.train_loss = loss_sum / static_cast<double>(n) /
                    static_cast<double>(model->heads.size());
    em.lr = lr;
    em.valid_accuracy = Accuracy(*model, plan, weights, lq, valid.raw,
                                 item_bytes, valid.targets);
    em.seconds = since(e_start);
    metrics->epochs.push_back(em);
    // Without valid samples the last epoch is the best.
    if (valid.indices.empty() || em.valid_accuracy > best_acc) {
      best_acc = em.valid_accuracy;
      best = snapshot();
      have_best = true;
      metrics->best_epoch = epoch;
    }
    if (!quiet) {
      const double elapsed = since(train_start);
      std::fprintf(stderr,
                   "[qat] epoch %d/%d  loss %.4f  int8 valid acc %.4f (best "
                   "%.4f, before QAT %.4f)  lr %.2e  %.1fs  ETA %.0fs\n",
                   epoch, qp.epochs, em.train_loss, em.valid_accuracy, best_acc,
                   e0.valid_accuracy, em.lr, em.seconds,
                   elapsed / epoch * (qp.epochs - epoch));
    }
  }
  metrics->seconds_per_epoch = since(train_start) / qp.epochs;
  metrics->best_valid_accuracy = best_acc;
  if (have_best) {
    FloatModel out = *model;
    StoreWeights(best, &out);
    // The builder must accept what QAT returns (it did every step; this is
    // the model as it will be built).
    ModelBuilder builder;
    if (!BuildKilnModel(out, QuantizeOptions(), &builder, &why))
      return Fail(error, "qat: " + why);
    *model = std::move(out);
  }
  metrics->seconds = since(t_start);
  return true;
}

}  // namespace

bool QuantizationAwareTrain(
    const TrainParams& params, const data::Dataset& dataset,
    const std::vector<data::Split>& splits,
    const std::vector<std::vector<int32_t>>& head_class_of, FloatModel* model,
    QatMetrics* metrics, std::string* error, bool quiet) {
  try {
    return Train(params, dataset, splits, head_class_of, model, metrics, error,
                 quiet);
  } catch (const std::exception& e) {
    return Fail(error, std::string("qat: ") + e.what());
  }
}

bool QatForward(const FloatModel& model, const void* raw_items, size_t n,
                std::vector<std::vector<int8_t>>* head_logits_q,
                std::string* error) {
  head_logits_q->assign(model.heads.size(), {});
  try {
    Plan plan;
    if (!MakePlan(model, &plan, error)) return false;
    const Weights weights = WeightsOf(model);
    std::vector<LayerQuant> lq;
    if (!QuantizeAll(model, plan, weights, &lq, error)) return false;
    torch::NoGradGuard no_grad;
    const size_t item_bytes =
        plan.input_elements * (model.uint8_input ? 1 : sizeof(float));
    const uint8_t* raw = static_cast<const uint8_t*>(raw_items);
    const size_t kChunk = 512;
    for (size_t s = 0; s < n; s += kChunk) {
      const size_t m = std::min(kChunk, n - s);
      const std::vector<Value> v = Forward(
          model, plan, weights, lq,
          QuantizeInput(model, plan, raw + s * item_bytes, m), m, false);
      for (size_t h = 0; h < model.heads.size(); ++h) {
        const std::vector<int8_t>& q =
            v[static_cast<size_t>(model.heads[h].layer)].q;
        (*head_logits_q)[h].insert((*head_logits_q)[h].end(), q.begin(),
                                   q.end());
      }
    }
  } catch (const std::exception& e) {
    return Fail(error, std::string("qat: ") + e.what());
  }
  return true;
}

}  // namespace train
}  // namespace kiln
