#include "toolchain/train/quantize_model.h"

#include <math.h>
#include <stdio.h>

#include <algorithm>
#include <limits>

namespace kiln {
namespace train {
namespace {

// The scale of a tensor whose calibrated range is (nearly) a single point.
constexpr double kTinyScale = 1e-7;

size_t Elements(const std::vector<int32_t>& shape) {
  size_t n = 1;
  for (int32_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

std::string ShapeText(const std::vector<int32_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

int64_t Window(int64_t in, int64_t k, int64_t stride, int64_t dilation,
               int64_t pad_a, int64_t pad_b) {
  const int64_t span = dilation * (k - 1) + 1;
  const int64_t padded = in + pad_a + pad_b;
  if (stride < 1 || padded < span) return 0;
  return (padded - span) / stride + 1;
}

float Activate(double v, Activation activation) {
  if (activation == Activation::kRelu) v = std::max(v, 0.0);
  if (activation == Activation::kRelu6) v = std::min(std::max(v, 0.0), 6.0);
  return static_cast<float>(v);
}

bool Fail(std::string* error, const std::string& message) {
  if (error != nullptr) *error = message;
  return false;
}

std::string LayerLabel(const FloatModel& model, size_t l) {
  return "layer " + std::to_string(l) + " '" + model.layers[l].name + "'";
}

double Sqnr(double signal, double noise) {
  if (noise == 0.0) return std::numeric_limits<double>::infinity();
  return 10.0 * log10(signal / noise);
}

std::string Db(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

}  // namespace

const char* LayerKindName(LayerKind kind) {
  switch (kind) {
    case LayerKind::kConv2D:
      return "conv2d";
    case LayerKind::kFullyConnected:
      return "fully_connected";
    case LayerKind::kMaxPool2D:
      return "max_pool2d";
    case LayerKind::kAveragePool2D:
      return "average_pool2d";
    case LayerKind::kGlobalAveragePool:
      return "global_average_pool";
    case LayerKind::kAdd:
      return "add";
  }
  return "unknown";
}

bool ActivationQuantParams(const Range& range, Activation activation,
                           QuantParams* out, std::string* error) {
  if (!std::isfinite(range.min) || !std::isfinite(range.max) ||
      range.min > range.max) {
    return Fail(error, "range [" + std::to_string(range.min) + ", " +
                           std::to_string(range.max) + "] is not valid");
  }
  double lo = range.min, hi = range.max;
  if (activation == Activation::kRelu || activation == Activation::kRelu6) {
    lo = 0.0;
    hi = std::max(hi, 0.0);
    if (activation == Activation::kRelu6) hi = std::min(hi, 6.0);
  }
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  double scale = (hi - lo) / 255.0;
  if (!(scale >= kTinyScale)) scale = kTinyScale;
  const float s = static_cast<float>(scale);
  const long zp = lround(-128.0 - lo / static_cast<double>(s));
  out->scale = s;
  out->zero_point = static_cast<int32_t>(std::min(127L, std::max(-128L, zp)));
  return true;
}

bool InferLayerShapes(const FloatModel& model,
                      std::vector<std::vector<int32_t>>* shapes,
                      std::string* error) {
  shapes->clear();
  if (model.input_shape.empty()) return Fail(error, "the input has no shape");
  for (int32_t d : model.input_shape) {
    if (d < 1)
      return Fail(error, "bad input shape " + ShapeText(model.input_shape));
  }
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const FloatLayer& layer = model.layers[l];
    const std::string who = LayerLabel(model, l);
    // The shape of what `index` names (-1: the model input), which must be
    // an earlier layer.
    auto source = [&](const char* what, int32_t index,
                      const std::vector<int32_t>** shape) {
      if (index < -1 || index >= static_cast<int32_t>(l)) {
        return Fail(error, who + ": " + what + " " + std::to_string(index) +
                               " is not an earlier layer");
      }
      *shape = index < 0 ? &model.input_shape : &(*shapes)[index];
      return true;
    };
    const std::vector<int32_t>* in_shape = nullptr;
    if (!source("input", layer.input, &in_shape)) return false;
    const std::vector<int32_t>& in = *in_shape;
    std::vector<int32_t> out;
    const std::vector<int32_t>& ws = layer.weight_shape;
    switch (layer.kind) {
      case LayerKind::kConv2D: {
        const Conv2DOptions& o = layer.conv;
        if (in.size() != 3)
          return Fail(error, who + ": input must be [H, W, C]");
        if (ws.size() != 4 || o.groups < 1 || in[2] % o.groups != 0 ||
            ws[0] % o.groups != 0 || ws[3] != in[2] / o.groups) {
          return Fail(error, who + ": weights " + ShapeText(ws) +
                                 " do not fit input " + ShapeText(in));
        }
        const int64_t oh = Window(in[0], ws[1], o.stride_h, o.dilation_h,
                                  o.pad_top, o.pad_bottom);
        const int64_t ow = Window(in[1], ws[2], o.stride_w, o.dilation_w,
                                  o.pad_left, o.pad_right);
        if (oh < 1 || ow < 1) return Fail(error, who + ": kernel does not fit");
        out = {static_cast<int32_t>(oh), static_cast<int32_t>(ow), ws[0]};
        break;
      }
      case LayerKind::kFullyConnected:
        if (ws.size() != 2 || static_cast<size_t>(ws[1]) != Elements(in)) {
          return Fail(error, who + ": weights " + ShapeText(ws) +
                                 " do not fit input " + ShapeText(in));
        }
        out = {ws[0]};
        break;
      case LayerKind::kMaxPool2D:
      case LayerKind::kAveragePool2D: {
        const Pool2DOptions& o = layer.pool;
        if (in.size() != 3)
          return Fail(error, who + ": input must be [H, W, C]");
        const int64_t oh =
            Window(in[0], o.filter_h, o.stride_h, 1, o.pad_top, o.pad_bottom);
        const int64_t ow =
            Window(in[1], o.filter_w, o.stride_w, 1, o.pad_left, o.pad_right);
        if (o.filter_h < 1 || o.filter_w < 1 || oh < 1 || ow < 1) {
          return Fail(error, who + ": pool window does not fit");
        }
        out = {static_cast<int32_t>(oh), static_cast<int32_t>(ow), in[2]};
        break;
      }
      case LayerKind::kGlobalAveragePool:
        if (in.size() != 3)
          return Fail(error, who + ": input must be [H, W, C]");
        out = {in[2]};
        break;
      case LayerKind::kAdd: {
        const std::vector<int32_t>* in2 = nullptr;
        if (!source("input2", layer.input2, &in2)) return false;
        if (*in2 != in) {
          return Fail(error, who + ": summands " + ShapeText(in) + " and " +
                                 ShapeText(*in2) + " differ in shape");
        }
        out = in;
        break;
      }
      default:
        return Fail(error, who + ": unknown layer kind");
    }
    const bool weighted = layer.kind == LayerKind::kConv2D ||
                          layer.kind == LayerKind::kFullyConnected;
    if (weighted) {
      for (int32_t d : ws) {
        if (d < 1)
          return Fail(error, who + ": bad weight shape " + ShapeText(ws));
      }
      if (layer.weights.size() != Elements(ws)) {
        return Fail(error, who + ": " + std::to_string(layer.weights.size()) +
                               " weights for shape " + ShapeText(ws));
      }
      if (!layer.bias.empty() &&
          layer.bias.size() != static_cast<size_t>(ws[0])) {
        return Fail(error,
                    who + ": bias size " + std::to_string(layer.bias.size()));
      }
    } else if (layer.kind != LayerKind::kAdd &&
               layer.activation != Activation::kNone) {
      return Fail(error, who + ": pools take no activation");
    }
    shapes->push_back(out);
  }
  for (const FloatHead& head : model.heads) {
    if (head.layer < 0 ||
        head.layer >= static_cast<int32_t>(model.layers.size()) ||
        (*shapes)[head.layer].size() != 1) {
      return Fail(error, "head '" + head.name +
                             "' is not on a layer of logits [classes]");
    }
  }
  return true;
}

bool BuildKilnModel(const FloatModel& model, const QuantizeOptions& options,
                    ModelBuilder* out, std::string* error) {
  QuantizedLayout layout;
  return BuildKilnModel(model, options, out, &layout, error);
}

bool BuildKilnModel(const FloatModel& model, const QuantizeOptions& options,
                    ModelBuilder* out, QuantizedLayout* layout,
                    std::string* error) {
  *out = ModelBuilder();
  *layout = QuantizedLayout();
  std::vector<std::vector<int32_t>> shapes;
  if (!InferLayerShapes(model, &shapes, error)) return false;
  ModelBuilder& b = *out;
  b.SetModelName(options.model_name);
  b.SetModelVersion(options.model_version);
  if (!options.training_data_hash.empty()) {
    b.SetTrainingDataHash(options.training_data_hash);
  }
  if (!options.created_by.empty()) b.SetCreatedBy(options.created_by);
  if (!options.toolchain_commit.empty()) {
    b.SetToolchainCommit(options.toolchain_commit);
  }
  for (const auto& [key, value] : options.metrics) b.SetMetric(key, value);
  for (const auto& [key, value] : options.properties) {
    b.SetProperty(key, value);
  }
  if (!options.params_json.empty()) {
    b.SetProperty("train_params", options.params_json);
  }
  if (options.preprocess) b.SetPreprocess(*options.preprocess);

  TensorId x = kNoTensor;
  if (model.uint8_input) {
    const float s = model.input_scale_real;
    if (!(std::isfinite(s) && s > 0.0f)) {
      return Fail(error, "input_scale_real must be positive");
    }
    const TensorId in =
        b.AddInput(options.input_name, DType::kUInt8, model.input_shape, s, 0);
    // [0, 255 s] exactly: scale s, zero point -128, multiplier 1.
    layout->input_quant = {s, -128};
    x = b.Quantize(in, layout->input_quant, "input_quantize");
  } else {
    std::string why;
    if (!ActivationQuantParams(model.input, Activation::kNone,
                               &layout->input_quant, &why)) {
      return Fail(error, "input: " + why);
    }
    const TensorId in =
        b.AddInput(options.input_name, DType::kFloat32, model.input_shape);
    x = b.Quantize(in, layout->input_quant, "input_quantize");
  }

  for (size_t l = 0; l < model.layers.size(); ++l) {
    const FloatLayer& layer = model.layers[l];
    TensorId src = layer.input < 0 ? x : layout->layer_tensor[layer.input];
    const std::vector<int32_t>& in_shape =
        layer.input < 0 ? model.input_shape : shapes[layer.input];
    QuantParams q;
    if (layer.kind == LayerKind::kConv2D ||
        layer.kind == LayerKind::kFullyConnected ||
        layer.kind == LayerKind::kGlobalAveragePool ||
        layer.kind == LayerKind::kAdd) {
      std::string why;
      if (!ActivationQuantParams(layer.output, layer.activation, &q, &why)) {
        return Fail(error, LayerLabel(model, l) + ": " + why);
      }
    }
    TensorId t = kNoTensor;
    switch (layer.kind) {
      case LayerKind::kConv2D:
        t = b.Conv2D(src, layer.weights, layer.weight_shape, layer.bias,
                     layer.conv, q, layer.activation, layer.name);
        break;
      case LayerKind::kFullyConnected:
        if (in_shape.size() != 1) {
          src = b.Reshape(src, {static_cast<int32_t>(Elements(in_shape))},
                          layer.name + "/flatten");
        }
        t = b.FullyConnected(src, layer.weights, layer.weight_shape, layer.bias,
                             q, layer.activation, layer.name);
        break;
      case LayerKind::kMaxPool2D:
        t = b.MaxPool2D(src, layer.pool, layer.name);
        break;
      case LayerKind::kAveragePool2D:
        t = b.AveragePool2D(src, layer.pool, layer.name);
        break;
      case LayerKind::kGlobalAveragePool:
        t = b.GlobalAveragePool(src, q, layer.name);
        break;
      case LayerKind::kAdd:
        t = b.Add(src,
                  layer.input2 < 0 ? x : layout->layer_tensor[layer.input2], q,
                  layer.activation, layer.name);
        break;
    }
    if (!b.ok()) return Fail(error, b.error());
    const TensorDef* def = b.tensor(t);
    if (def == nullptr || !def->quantization) {
      return Fail(error, LayerLabel(model, l) + ": no quantized output");
    }
    layout->layer_tensor.push_back(t);
    layout->layer_quant.push_back(
        {def->quantization->scale[0], def->quantization->zero_point[0]});
  }

  layout->layer_output.assign(model.layers.size(), -1);
  int32_t outputs = 0;
  for (const FloatHead& head : model.heads) {
    int32_t& index = layout->layer_output[head.layer];
    if (index < 0) {
      b.AddOutput(layout->layer_tensor[head.layer]);
      index = outputs++;
    }
    layout->head_output.push_back(index);
    b.AddHead(head.name, layout->layer_tensor[head.layer], head.labels,
              head.policy);
  }
  if (options.expose_layer_outputs) {
    for (size_t l = 0; l < model.layers.size(); ++l) {
      if (layout->layer_output[l] >= 0) continue;
      b.AddOutput(layout->layer_tensor[l]);
      layout->layer_output[l] = outputs++;
    }
  }
  if (outputs == 0) {
    return Fail(error, "the model has no heads (and no exposed outputs)");
  }
  if (!b.ok()) return Fail(error, b.error());
  return true;
}

bool QuantizeModelToBytes(const FloatModel& model,
                          const QuantizeOptions& options,
                          std::vector<uint8_t>* bytes, std::string* error) {
  ModelBuilder b;
  if (!BuildKilnModel(model, options, &b, error)) return false;
  return b.Build(bytes, error);
}

// ---- FloatInterpreter ----

bool FloatInterpreter::Init(const FloatModel& model, std::string* error) {
  model_ = nullptr;
  if (!InferLayerShapes(model, &shapes_, error)) return false;
  model_ = &model;
  input_elements_ = Elements(model.input_shape);
  return true;
}

void FloatInterpreter::RunRaw(const void* item,
                              std::vector<std::vector<float>>* outputs) const {
  std::vector<float> x(input_elements_);
  if (model_->uint8_input) {
    const uint8_t* p = static_cast<const uint8_t*>(item);
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] = static_cast<float>(p[i]) * model_->input_scale_real;
    }
  } else {
    const float* p = static_cast<const float*>(item);
    std::copy(p, p + x.size(), x.begin());
  }
  Run(x.data(), outputs);
}

void FloatInterpreter::Run(const float* x,
                           std::vector<std::vector<float>>* outputs) const {
  const FloatModel& m = *model_;
  outputs->resize(m.layers.size());
  for (size_t l = 0; l < m.layers.size(); ++l) {
    const FloatLayer& layer = m.layers[l];
    const float* in = layer.input < 0 ? x : (*outputs)[layer.input].data();
    const std::vector<int32_t>& is =
        layer.input < 0 ? m.input_shape : shapes_[layer.input];
    const std::vector<int32_t>& os = shapes_[l];
    std::vector<float>& out = (*outputs)[l];
    out.assign(Elements(os), 0.0f);
    switch (layer.kind) {
      case LayerKind::kConv2D: {
        const Conv2DOptions& o = layer.conv;
        const int32_t H = is[0], W = is[1], C = is[2];
        const int32_t OC = layer.weight_shape[0], KH = layer.weight_shape[1],
                      KW = layer.weight_shape[2];
        const int32_t cg = C / o.groups, ocg = OC / o.groups;
        for (int32_t oy = 0; oy < os[0]; ++oy) {
          for (int32_t ox = 0; ox < os[1]; ++ox) {
            for (int32_t oc = 0; oc < OC; ++oc) {
              const int32_t g = oc / ocg;
              double acc = layer.bias.empty() ? 0.0 : layer.bias[oc];
              for (int32_t ky = 0; ky < KH; ++ky) {
                const int32_t iy =
                    oy * o.stride_h - o.pad_top + ky * o.dilation_h;
                if (iy < 0 || iy >= H) continue;
                for (int32_t kx = 0; kx < KW; ++kx) {
                  const int32_t ix =
                      ox * o.stride_w - o.pad_left + kx * o.dilation_w;
                  if (ix < 0 || ix >= W) continue;
                  const float* xp = in + (size_t(iy) * W + ix) * C + g * cg;
                  const float* wp = layer.weights.data() +
                                    ((size_t(oc) * KH + ky) * KW + kx) * cg;
                  for (int32_t ic = 0; ic < cg; ++ic) {
                    acc += double(xp[ic]) * double(wp[ic]);
                  }
                }
              }
              out[(size_t(oy) * os[1] + ox) * OC + oc] =
                  Activate(acc, layer.activation);
            }
          }
        }
        break;
      }
      case LayerKind::kFullyConnected: {
        const size_t K = layer.weight_shape[1];
        for (int32_t n = 0; n < layer.weight_shape[0]; ++n) {
          double acc = layer.bias.empty() ? 0.0 : layer.bias[n];
          const float* wp = layer.weights.data() + size_t(n) * K;
          for (size_t k = 0; k < K; ++k) acc += double(in[k]) * double(wp[k]);
          out[n] = Activate(acc, layer.activation);
        }
        break;
      }
      case LayerKind::kMaxPool2D:
      case LayerKind::kAveragePool2D: {
        const Pool2DOptions& o = layer.pool;
        const int32_t H = is[0], W = is[1], C = is[2];
        const bool is_max = layer.kind == LayerKind::kMaxPool2D;
        for (int32_t oy = 0; oy < os[0]; ++oy) {
          for (int32_t ox = 0; ox < os[1]; ++ox) {
            for (int32_t c = 0; c < C; ++c) {
              double acc =
                  is_max ? -std::numeric_limits<double>::infinity() : 0.0;
              int32_t count = 0;
              for (int32_t ky = 0; ky < o.filter_h; ++ky) {
                const int32_t iy = oy * o.stride_h - o.pad_top + ky;
                if (iy < 0 || iy >= H) continue;
                for (int32_t kx = 0; kx < o.filter_w; ++kx) {
                  const int32_t ix = ox * o.stride_w - o.pad_left + kx;
                  if (ix < 0 || ix >= W) continue;
                  const double v = in[(size_t(iy) * W + ix) * C + c];
                  acc = is_max ? std::max(acc, v) : acc + v;
                  ++count;
                }
              }
              if (!is_max) acc = count > 0 ? acc / count : 0.0;
              if (count == 0) acc = 0.0;
              out[(size_t(oy) * os[1] + ox) * C + c] = static_cast<float>(acc);
            }
          }
        }
        break;
      }
      case LayerKind::kGlobalAveragePool: {
        const int32_t H = is[0], W = is[1], C = is[2];
        for (int32_t c = 0; c < C; ++c) {
          double acc = 0.0;
          for (int32_t p = 0; p < H * W; ++p) acc += in[size_t(p) * C + c];
          out[c] = static_cast<float>(acc / (double(H) * double(W)));
        }
        break;
      }
      case LayerKind::kAdd: {
        const float* in2 =
            layer.input2 < 0 ? x : (*outputs)[layer.input2].data();
        for (size_t e = 0; e < out.size(); ++e)
          out[e] = Activate(double(in[e]) + double(in2[e]), layer.activation);
        break;
      }
    }
  }
}

// ---- KilnRunner ----

bool KilnRunner::Load(const std::vector<uint8_t>& bytes, size_t batch,
                      std::string* error) {
  ctx_ = nullptr;
  model_ = AlignedBytes(bytes);
  kiln_error err = {KILN_OK, {0}};
  size_t arena_bytes = 0;
  if (kiln_arena_size(model_.data(), model_.size(), std::max<size_t>(batch, 1),
                      &arena_bytes, &err) != KILN_OK) {
    return Fail(error,
                std::string(kiln_status_string(err.code)) + ": " + err.message);
  }
  arena_.assign(arena_bytes, 0);
  if (kiln_init(model_.data(), model_.size(), arena_.data(), arena_.size(),
                &ctx_, &err) != KILN_OK) {
    ctx_ = nullptr;
    return Fail(error,
                std::string(kiln_status_string(err.code)) + ": " + err.message);
  }
  if (kiln_num_inputs(ctx_) != 1) {
    ctx_ = nullptr;
    return Fail(error, "the model must have exactly one graph input");
  }
  return true;
}

int32_t KilnRunner::num_outputs() const { return kiln_num_outputs(ctx_); }
int32_t KilnRunner::num_heads() const { return kiln_num_heads(ctx_); }

kiln_tensor_info KilnRunner::input_info() const {
  kiln_tensor_info info = {};
  kiln_get_input_info(ctx_, 0, &info);
  return info;
}

kiln_tensor_info KilnRunner::output_info(int32_t index) const {
  kiln_tensor_info info = {};
  kiln_get_output_info(ctx_, index, &info);
  return info;
}

kiln_head_info KilnRunner::head_info(int32_t index) const {
  kiln_head_info info = {};
  kiln_get_head_info(ctx_, index, &info);
  return info;
}

bool KilnRunner::Run(const void* items, size_t n,
                     std::vector<std::vector<uint8_t>>* outputs,
                     std::vector<kiln_decision>* decisions,
                     std::string* error) {
  if (ctx_ == nullptr) return Fail(error, "no model loaded");
  if (n == 0) {
    if (outputs != nullptr) outputs->assign(num_outputs(), {});
    if (decisions != nullptr) decisions->clear();
    return true;
  }
  std::vector<void*> out_ptrs;
  if (outputs != nullptr) {
    outputs->resize(num_outputs());
    for (int32_t j = 0; j < num_outputs(); ++j) {
      (*outputs)[j].assign(output_info(j).item_bytes * n, 0);
      out_ptrs.push_back((*outputs)[j].data());
    }
  }
  if (decisions != nullptr) {
    decisions->assign(n * static_cast<size_t>(num_heads()), kiln_decision{});
  }
  const void* inputs[1] = {items};
  const kiln_status status = kiln_invoke(
      ctx_, n, inputs, outputs != nullptr ? out_ptrs.data() : nullptr,
      decisions != nullptr && !decisions->empty() ? decisions->data()
                                                  : nullptr);
  if (status != KILN_OK) {
    return Fail(error,
                std::string("kiln_invoke: ") + kiln_status_string(status));
  }
  return true;
}

// ---- LayerErrorReport ----

bool LayerErrorReport(const FloatModel& model, const void* items, size_t count,
                      LayerErrorTable* table, std::string* error) {
  *table = LayerErrorTable();
  if (count == 0) return Fail(error, "no calibration items");
  QuantizeOptions options;
  options.model_name = "layer-error-report";
  options.expose_layer_outputs = true;
  ModelBuilder b;
  QuantizedLayout layout;
  if (!BuildKilnModel(model, options, &b, &layout, error)) return false;
  std::vector<uint8_t> bytes;
  if (!b.Build(&bytes, error)) return false;
  constexpr size_t kChunk = 256;
  KilnRunner runner;
  if (!runner.Load(bytes, std::min(count, kChunk), error)) return false;
  FloatInterpreter interp;
  if (!interp.Init(model, error)) return false;

  const size_t L = model.layers.size();
  std::vector<double> signal(L, 0.0), noise(L, 0.0), max_err(L, 0.0);
  std::vector<double> local_noise(L, 0.0);
  std::vector<Range> observed(L);
  std::vector<bool> seen(L, false);
  std::vector<kiln_tensor_info> info(L);
  for (size_t l = 0; l < L; ++l)
    info[l] = runner.output_info(layout.layer_output[l]);

  const size_t item_bytes =
      interp.input_elements() * (model.uint8_input ? 1 : sizeof(float));
  const uint8_t* base = static_cast<const uint8_t*>(items);
  std::vector<std::vector<uint8_t>> outputs;
  std::vector<std::vector<float>> ref;
  for (size_t start = 0; start < count; start += kChunk) {
    const size_t n = std::min(kChunk, count - start);
    if (!runner.Run(base + start * item_bytes, n, &outputs, nullptr, error)) {
      return false;
    }
    for (size_t i = 0; i < n; ++i) {
      interp.RunRaw(base + (start + i) * item_bytes, &ref);
      for (size_t l = 0; l < L; ++l) {
        const kiln_tensor_info& t = info[l];
        const int8_t* q = reinterpret_cast<const int8_t*>(
                              outputs[layout.layer_output[l]].data()) +
                          i * t.item_bytes;
        const std::vector<float>& f = ref[l];
        for (size_t e = 0; e < f.size(); ++e) {
          const double fv = f[e];
          const double qv =
              double(t.scale) * (double(q[e]) - double(t.zero_point));
          // f through this tensor's own quantization (Quantize-from-float
          // rounding, clamp to int8).
          const double fq =
              std::min(127.0, std::max(-128.0, double(t.zero_point) +
                                                   std::round(fv / t.scale)));
          const double lv = double(t.scale) * (fq - double(t.zero_point));
          local_noise[l] += (fv - lv) * (fv - lv);
          signal[l] += fv * fv;
          noise[l] += (fv - qv) * (fv - qv);
          max_err[l] = std::max(max_err[l], std::fabs(fv - qv));
          Range& r = observed[l];
          if (!seen[l]) {
            r.min = r.max = f[e];
            seen[l] = true;
          }
          r.min = std::min(r.min, f[e]);
          r.max = std::max(r.max, f[e]);
        }
      }
    }
  }
  for (size_t l = 0; l < L; ++l) {
    LayerError e;
    e.name = model.layers[l].name;
    e.kind = model.layers[l].kind;
    e.calibrated = model.layers[l].output;
    e.observed = observed[l];
    e.quant = {info[l].scale, info[l].zero_point};
    e.max_abs_error = max_err[l];
    e.sqnr_db = Sqnr(signal[l], noise[l]);
    e.local_sqnr_db = Sqnr(signal[l], local_noise[l]);
    e.owns_quantization =
        e.kind != LayerKind::kMaxPool2D && e.kind != LayerKind::kAveragePool2D;
    table->layers.push_back(e);
    const int32_t i = static_cast<int32_t>(l);
    if (table->worst_end_to_end < 0 ||
        e.sqnr_db < table->layers[table->worst_end_to_end].sqnr_db) {
      table->worst_end_to_end = i;
    }
    if (e.owns_quantization &&
        (table->worst < 0 ||
         e.local_sqnr_db < table->layers[table->worst].local_sqnr_db)) {
      table->worst = i;
    }
  }
  return true;
}

std::string FormatLayerErrorTable(const LayerErrorTable& table) {
  std::string s =
      "| layer | kind | SQNR end-to-end (dB) | SQNR local (dB) | calibrated "
      "range | observed range | scale | zero point | max abs error |\n"
      "|---|---|---:|---:|---|---|---:|---:|---:|\n";
  char line[512];
  for (const LayerError& e : table.layers) {
    const std::string local =
        Db(e.local_sqnr_db) + (e.owns_quantization ? "" : " (inherited)");
    snprintf(line, sizeof(line),
             "| %s | %s | %s | %s | [%.6g, %.6g] | [%.6g, %.6g] | %.6g | %d "
             "| %.6g |\n",
             e.name.c_str(), LayerKindName(e.kind), Db(e.sqnr_db).c_str(),
             local.c_str(), e.calibrated.min, e.calibrated.max, e.observed.min,
             e.observed.max, static_cast<double>(e.quant.scale),
             static_cast<int>(e.quant.zero_point), e.max_abs_error);
    s += line;
  }
  if (table.worst >= 0) {
    const LayerError& w = table.layers[table.worst];
    s += "\nWorst layer (own quantization): `" + w.name + "` (" +
         Db(w.local_sqnr_db) + " dB local).\n";
  }
  if (table.worst_end_to_end >= 0) {
    const LayerError& w = table.layers[table.worst_end_to_end];
    s += "Lowest end-to-end SQNR: `" + w.name + "` (" + Db(w.sqnr_db) +
         " dB).\n";
  }
  return s;
}

}  // namespace train
}  // namespace kiln
