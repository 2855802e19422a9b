#include "toolchain/zoo/reference_models.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <random>

namespace kiln {
namespace zoo {
namespace {

// He-uniform weights for a layer with `fan_in` inputs.
std::vector<float> RandomWeights(std::mt19937* rng, size_t count,
                                 int32_t fan_in) {
  const float limit = sqrtf(6.0f / static_cast<float>(fan_in));
  std::uniform_real_distribution<float> dist(-limit, limit);
  std::vector<float> w(count);
  for (float& v : w) v = dist(*rng);
  return w;
}

std::vector<float> RandomBias(std::mt19937* rng, size_t count) {
  std::uniform_real_distribution<float> dist(-0.1f, 0.1f);
  std::vector<float> b(count);
  for (float& v : b) v = dist(*rng);
  return b;
}

std::vector<std::string> NumberedLabels(const std::string& prefix, int n) {
  std::vector<std::string> labels;
  for (int i = 0; i < n; ++i) labels.push_back(prefix + std::to_string(i));
  return labels;
}

TensorId Dense(ModelBuilder* b, std::mt19937* rng, TensorId x, int32_t in,
               int32_t out, QuantParams q, Activation act,
               const std::string& name) {
  return b->FullyConnected(x, RandomWeights(rng, size_t(out) * in, in),
                           {out, in}, RandomBias(rng, out), q, act, name);
}

// ResNet-18 pieces. Each activation carries an estimate of its second moment
// E[x^2] in real units, and every output scale is derived from it, the way
// calibration would: a range of 4 RMS clips little and leaves enough steps.
// With He-uniform weights (variance 2 / fan_in) a convolution's
// pre-activation has E[y^2] = 2 E[x^2] and ReLU halves a symmetric one. The
// other factors below were measured on this model (N(0,1) images, seed 18):
// they keep every estimate within about 20% of the real RMS.
struct Act {
  TensorId t;
  float ms;  // E[x^2]
};

constexpr float kRangeInRms = 4.0f;

// ReLU output [0, range] over the full int8 range; else signed, zero point 0.
QuantParams ScaleFor(float pre_ms, bool relu) {
  const float range = kRangeInRms * sqrtf(pre_ms);
  return relu ? QuantParams{range / 255.0f, -128}
              : QuantParams{range / 127.0f, 0};
}

Act ResNetConv(ModelBuilder* b, std::mt19937* rng, Act x, int32_t in_c,
               int32_t out_c, int32_t kernel, int32_t stride, bool relu,
               const std::string& name) {
  Conv2DOptions o;
  o.stride_h = o.stride_w = stride;
  o.pad_top = o.pad_left = o.pad_bottom = o.pad_right = kernel / 2;
  const int32_t fan_in = kernel * kernel * in_c;
  const float pre_ms = 2.0f * x.ms;
  const TensorId y =
      b->Conv2D(x.t, RandomWeights(rng, size_t(out_c) * fan_in, fan_in),
                {out_c, kernel, kernel, in_c}, RandomBias(rng, out_c), o,
                ScaleFor(pre_ms, relu),
                relu ? Activation::kRelu : Activation::kNone, name);
  return {y, relu ? pre_ms / 2.0f : pre_ms};
}

// torchvision BasicBlock: relu(conv3x3(relu(conv3x3(x))) + shortcut(x)).
Act BasicBlock(ModelBuilder* b, std::mt19937* rng, Act x, int32_t in_c,
               int32_t out_c, int32_t stride, const std::string& name) {
  const Act h =
      ResNetConv(b, rng, x, in_c, out_c, 3, stride, true, name + "/conv1");
  const Act f =
      ResNetConv(b, rng, h, out_c, out_c, 3, 1, false, name + "/conv2");
  const bool downsample = stride != 1 || in_c != out_c;
  const Act shortcut = downsample
                           ? ResNetConv(b, rng, x, in_c, out_c, 1, stride,
                                        false, name + "/downsample")
                           : x;
  // Independent branches: the moments add. ReLU keeps about half of the sum
  // of two signed branches (downsample), more when one is the (positive)
  // block input.
  const float sum_ms = f.ms + shortcut.ms;
  const TensorId y = b->Add(f.t, shortcut.t, ScaleFor(sum_ms, true),
                            Activation::kRelu, name + "/add");
  return {y, sum_ms * (downsample ? 0.5f : 0.72f)};
}

}  // namespace

ModelBuilder TrivialModel() {
  ModelBuilder b;
  b.SetModelName("trivial");
  b.SetModelVersion("1.0.0");
  const TensorId x = b.AddInput("x", DType::kInt8, {160}, 0.05f, 0);
  b.AddOutput(b.Reshape(x, {160}, "identity"));
  return b;
}

ModelBuilder Mlp160(uint32_t seed, bool float_io) {
  std::mt19937 rng(seed);
  ModelBuilder b;
  b.SetModelName(float_io ? "mlp160-float-io" : "mlp160");
  b.SetModelVersion("1.0.0");
  TensorId x;
  if (float_io) {
    const TensorId f = b.AddInput("features", DType::kFloat32, {160});
    x = b.Quantize(f, {0.03f, 0}, "quantize");
  } else {
    x = b.AddInput("features", DType::kInt8, {160}, 0.03f, 0);
  }
  TensorId h =
      Dense(&b, &rng, x, 160, 256, {0.04f, -128}, Activation::kRelu, "fc1");
  h = Dense(&b, &rng, h, 256, 128, {0.04f, -128}, Activation::kRelu, "fc2");
  const TensorId logits =
      Dense(&b, &rng, h, 128, 8, {0.06f, 0}, Activation::kNone, "fc3");
  b.AddOutput(logits);
  if (float_io) b.AddOutput(b.Dequantize(logits, "logits_float"));
  b.AddHead("class", logits, NumberedLabels("class", 8),
            {3, ConfidenceKind::kTop1Prob, 0.5f});
  return b;
}

ModelBuilder BlockNet(uint32_t seed) {
  std::mt19937 rng(seed);
  ModelBuilder b;
  b.SetModelName("blocknet");
  b.SetModelVersion("1.0.0");
  PreprocessDef pre;
  pre.layout = Layout::kNHWC;
  pre.channel_order = ChannelOrder::kRGB;
  pre.mean = {0.0f, 0.0f, 0.0f};
  pre.std = {1.0f, 1.0f, 1.0f};
  pre.height = 8;
  pre.width = 8;
  b.SetPreprocess(pre);
  const TensorId pixels =
      b.AddInput("pixels", DType::kUInt8, {8, 8, 3}, 1.0f / 255.0f, 0);
  TensorId x = b.Quantize(pixels, {1.0f / 255.0f, -128}, "quantize");
  Conv2DOptions same3x3;
  same3x3.pad_top = same3x3.pad_left = same3x3.pad_bottom = same3x3.pad_right =
      1;
  const int32_t widths[4] = {3, 32, 64, 64};
  for (int layer = 0; layer < 3; ++layer) {
    const int32_t c = widths[layer], next = widths[layer + 1];
    const std::string n = "block" + std::to_string(layer + 1);
    x = b.DepthwiseConv2D(x, RandomWeights(&rng, size_t(c) * 9, 9),
                          {c, 3, 3, 1}, RandomBias(&rng, c), same3x3,
                          {0.03f, -128}, Activation::kRelu, n + "/dw");
    x = b.Conv2D(x, RandomWeights(&rng, size_t(next) * c, c), {next, 1, 1, c},
                 RandomBias(&rng, next), {}, {0.03f, -128}, Activation::kRelu,
                 n + "/pw");
  }
  const TensorId pooled = b.GlobalAveragePool(x, {0.02f, -128}, "pool");
  const struct {
    const char* name;
    int32_t classes;
    int32_t top_k;
  } heads[4] = {{"predictor", 8, 2},
                {"filter", 6, 2},
                {"scan", 8, 2},
                {"entropy", 16, 3}};
  for (const auto& h : heads) {
    const TensorId hidden =
        Dense(&b, &rng, pooled, 64, 32, {0.03f, -128}, Activation::kRelu,
              std::string(h.name) + "/fc1");
    const TensorId logits =
        Dense(&b, &rng, hidden, 32, h.classes, {0.05f, 0}, Activation::kNone,
              std::string(h.name) + "/fc2");
    b.AddOutput(logits);
    b.AddHead(h.name, logits, NumberedLabels(h.name, h.classes),
              {h.top_k, ConfidenceKind::kTopKProb, 0.8f});
  }
  return b;
}

ModelBuilder ResNet18(uint32_t seed) {
  std::mt19937 rng(seed);
  ModelBuilder b;
  b.SetModelName("resnet18");
  b.SetModelVersion("1.0.0");
  Act x{b.AddInput("image", DType::kInt8, {224, 224, 3}, 1.0f / 32.0f, 0),
        1.0f};
  x = ResNetConv(&b, &rng, x, 3, 64, 7, 2, true, "stem");  // 112x112x64
  Pool2DOptions pool;
  pool.filter_h = pool.filter_w = 3;
  pool.stride_h = pool.stride_w = 2;
  pool.pad_top = pool.pad_left = pool.pad_bottom = pool.pad_right = 1;
  // The max of 9 ReLU outputs: about 5 times the second moment (the scale
  // stays the input's).
  x = {b.MaxPool2D(x.t, pool, "maxpool"), 5.0f * x.ms};  // 56x56x64
  const int32_t widths[4] = {64, 128, 256, 512};
  int32_t c = 64;
  for (int stage = 0; stage < 4; ++stage) {
    const std::string n = "layer" + std::to_string(stage + 1);
    x = BasicBlock(&b, &rng, x, c, widths[stage], stage == 0 ? 1 : 2, n + ".0");
    x = BasicBlock(&b, &rng, x, widths[stage], widths[stage], 1, n + ".1");
    c = widths[stage];
  }
  // Channel means of ReLU outputs: positive, E[g^2] about 0.7 E[x^2] (the
  // last maps are nearly uniform); range 3.5 RMS of g.
  const float gap_ms = 0.7f * x.ms;
  const TensorId pooled = b.GlobalAveragePool(
      x.t, {3.5f * sqrtf(gap_ms) / 255.0f, -128}, "avgpool");
  const TensorId logits =
      b.FullyConnected(pooled, RandomWeights(&rng, size_t(1000) * 512, 512),
                       {1000, 512}, RandomBias(&rng, 1000),
                       ScaleFor(2.0f * gap_ms, false), Activation::kNone, "fc");
  b.AddOutput(logits);
  return b;
}

ModelBuilder AllOpsModel(uint32_t seed) {
  std::mt19937 rng(seed);
  ModelBuilder b;
  b.SetModelName("all-ops");
  b.SetModelVersion("0.1.0-test");
  const TensorId image = b.AddInput("image", DType::kFloat32, {9, 9, 4});
  const TensorId side =
      b.AddInput("side", DType::kUInt8, {5, 5, 2}, 0.02f, 128);
  const TensorId x = b.Quantize(image, {0.02f, 3}, "q_image");
  const TensorId s = b.Quantize(side, {0.02f, 0}, "q_side");
  Conv2DOptions strided;
  strided.stride_h = strided.stride_w = 2;
  strided.pad_top = strided.pad_left = 1;
  strided.pad_bottom = strided.pad_right = 1;
  // [9,9,4] -> [5,5,8]
  const TensorId c1 = b.Conv2D(x, RandomWeights(&rng, 8 * 3 * 3 * 4, 36),
                               {8, 3, 3, 4}, RandomBias(&rng, 8), strided,
                               {0.03f, -20}, Activation::kRelu6, "conv");
  Conv2DOptions grouped;
  grouped.groups = 2;
  grouped.dilation_h = grouped.dilation_w = 2;
  grouped.pad_top = grouped.pad_left = 2;
  grouped.pad_bottom = grouped.pad_right = 2;
  const TensorId c2 = b.Conv2D(c1, RandomWeights(&rng, 8 * 3 * 3 * 4, 36),
                               {8, 3, 3, 4}, RandomBias(&rng, 8), grouped,
                               {0.04f, 5}, Activation::kNone, "grouped");
  Pool2DOptions avg;
  avg.filter_h = avg.filter_w = 3;
  avg.pad_top = avg.pad_left = avg.pad_bottom = avg.pad_right = 1;
  const TensorId a = b.AveragePool2D(c2, avg, "avgpool");
  Pool2DOptions max;
  max.filter_h = max.filter_w = 2;
  max.pad_bottom = max.pad_right = 1;
  const TensorId m = b.MaxPool2D(a, max, "maxpool");
  const TensorId sum = b.Add(m, c2, {0.05f, 0}, Activation::kRelu, "add");
  // Concat: `sum` is requantized, `m2` copied (same parameters as output).
  const TensorId m2 = b.Quantize(m, {0.05f, -1}, "requant");
  const TensorId cat =
      b.Concat({sum, m2, s}, -1, {0.05f, -1}, "concat");  // [5,5,18]
  const TensorId flat = b.Reshape(cat, {-1}, "flatten");
  const TensorId logits = b.FullyConnected(
      flat, RandomWeights(&rng, 10 * 450, 450), {10, 450}, RandomBias(&rng, 10),
      {0.1f, 0}, Activation::kNone, "fc");
  b.AddOutput(logits);
  b.AddOutput(b.Dequantize(b.Softmax(logits, 1.0f, "softmax"), "probs"));
  b.AddOutput(b.Logistic(logits, "sigmoid"));
  b.AddHead("label", logits, {}, {2, ConfidenceKind::kMargin, 0.3f});
  return b;
}

std::vector<uint8_t> BuildOrDie(const ModelBuilder& builder) {
  std::vector<uint8_t> bytes;
  std::string error;
  if (!builder.Build(&bytes, &error)) {
    fprintf(stderr, "reference model: %s\n", error.c_str());
    abort();
  }
  return bytes;
}

}  // namespace zoo
}  // namespace kiln
