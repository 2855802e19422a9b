// ModelBuilder with caller-given weight scales (a QDQ graph's own): int8
// weights that were dequantized with scale s come back exactly, biases use
// input_scale * s[c], and the default (no scales) is unchanged.
#include <gtest/gtest.h>
#include <math.h>

#include <random>

#include "tests/toolchain/toolchain_test_util.h"
#include "toolchain/model_builder.h"
#include "toolchain/quantization.h"

namespace kiln {
namespace {

using testing::FinishOrFail;
using testing::Int32Data;
using testing::Int8Data;
using testing::OpNamed;
using testing::TensorNamed;

// Random int8 weights over the full range (both ends included) and their
// float dequantization q * s[c], computed in float as ONNX's
// DequantizeLinear does.
struct GridWeights {
  std::vector<int8_t> q;
  std::vector<float> real;
};

GridWeights MakeGridWeights(std::mt19937* rng, int32_t channels,
                            int32_t per_channel,
                            const std::vector<float>& scales) {
  std::uniform_int_distribution<int> dist(-128, 127);
  GridWeights w;
  for (int32_t c = 0; c < channels; ++c) {
    const float s = scales.size() == 1 ? scales[0] : scales[c];
    for (int32_t i = 0; i < per_channel; ++i) {
      // Force both extremes into every channel.
      const int q = i == 0 ? -128 : i == 1 ? 127 : dist(*rng);
      w.q.push_back(static_cast<int8_t>(q));
      w.real.push_back(static_cast<float>(q) * s);
    }
  }
  return w;
}

TEST(ModelBuilderWeightScales, Conv2DKeepsTheGivenInt8WeightsExactly) {
  std::mt19937 rng(7);
  // Awkward scales (not powers of two), one tiny, one large.
  const std::vector<float> scales = {0.0123f, 3.7e-5f, 0.9f, 0.003141f};
  const GridWeights w = MakeGridWeights(&rng, 4, 3 * 3 * 2, scales);
  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {5, 5, 2}, 0.02f, 3);
  const std::vector<float> bias = {0.5f, -0.25f, 0.0f, 1.0f};
  const TensorId y = b.Conv2D(x, w.real, {4, 3, 3, 2}, bias, {}, {0.1f, 0},
                              Activation::kNone, "conv", scales);
  b.AddOutput(y);
  const ModelDef def = FinishOrFail(b);
  const TensorDef& wt = TensorNamed(def, "conv/weights");
  EXPECT_EQ(Int8Data(def, wt), w.q);
  ASSERT_TRUE(wt.quantization.has_value());
  EXPECT_EQ(wt.quantization->scale, scales);
  EXPECT_EQ(wt.quantization->zero_point, (std::vector<int32_t>(4, 0)));
  // Bias at input_scale * s[c].
  const TensorDef& bt = TensorNamed(def, "conv/bias");
  const std::vector<float> s_in = {0.02f, 0.02f, 0.02f, 0.02f};
  EXPECT_EQ(Int32Data(def, bt), QuantizeBias(bias, 0.02f, scales));
  for (size_t c = 0; c < 4; ++c) {
    EXPECT_EQ(bt.quantization->scale[c], s_in[c] * scales[c]);
  }
}

TEST(ModelBuilderWeightScales, OneScaleIsBroadcastToEveryChannel) {
  std::mt19937 rng(8);
  const GridWeights w = MakeGridWeights(&rng, 3, 6, {0.05f});
  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {6}, 0.1f, 0);
  const TensorId y = b.FullyConnected(x, w.real, {3, 6}, {}, {0.2f, 1},
                                      Activation::kRelu, "fc", {0.05f});
  b.AddOutput(y);
  const ModelDef def = FinishOrFail(b);
  const TensorDef& wt = TensorNamed(def, "fc/weights");
  EXPECT_EQ(Int8Data(def, wt), w.q);
  EXPECT_EQ(wt.quantization->scale, (std::vector<float>(3, 0.05f)));
  // One requant entry per channel, all equal.
  const OperatorDef& op = OpNamed(def, "fc");
  ASSERT_TRUE(op.fully_connected.requant.has_value());
  ASSERT_EQ(op.fully_connected.requant->multiplier.size(), 3u);
  EXPECT_EQ(op.fully_connected.requant->multiplier[0],
            op.fully_connected.requant->multiplier[2]);
}

TEST(ModelBuilderWeightScales, DepthwiseTakesScalesAndRoundsOffGridWeights) {
  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {4, 4, 2}, 0.1f, 0);
  // Off-grid values round half away from zero and saturate at -128 / 127.
  const std::vector<float> weights = {0.25f, -0.25f,  0.74f,  100.0f,
                                      -1.0f, -0.625f, 0.375f, -40.0f};
  const TensorId y =
      b.DepthwiseConv2D(x, weights, {2, 2, 2, 1}, {}, {}, {0.3f, 0},
                        Activation::kNone, "dw", {0.5f, 0.25f});
  b.AddOutput(y);
  const ModelDef def = FinishOrFail(b);
  EXPECT_EQ(Int8Data(def, TensorNamed(def, "dw/weights")),
            (std::vector<int8_t>{1, -1, 1, 127, -4, -3, 2, -128}));
  EXPECT_EQ(OpNamed(def, "dw").conv2d.groups, 2);
}

TEST(ModelBuilderWeightScales, DefaultIsUnchanged) {
  // Without scales the result equals the builder's own per-channel
  // quantization, byte for byte (the same model as before the parameter).
  std::mt19937 rng(9);
  std::normal_distribution<float> dist(0.0f, 0.3f);
  std::vector<float> weights(8 * 12);
  for (float& v : weights) v = dist(rng);
  auto build = [&](bool pass_empty) {
    ModelBuilder b;
    const TensorId x = b.AddInput("x", DType::kInt8, {12}, 0.1f, 0);
    const TensorId y =
        pass_empty ? b.FullyConnected(x, weights, {8, 12}, {}, {0.2f, 0},
                                      Activation::kNone, "fc", {})
                   : b.FullyConnected(x, weights, {8, 12}, {}, {0.2f, 0},
                                      Activation::kNone, "fc");
    b.AddOutput(y);
    return testing::BuildOrFail(b);
  };
  EXPECT_EQ(build(true), build(false));
  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {12}, 0.1f, 0);
  b.AddOutput(b.FullyConnected(x, weights, {8, 12}, {}, {0.2f, 0},
                               Activation::kNone, "fc"));
  const ModelDef def = FinishOrFail(b);
  const QuantizedWeights expected = QuantizeWeightsPerChannel(weights, 8);
  EXPECT_EQ(Int8Data(def, TensorNamed(def, "fc/weights")), expected.values);
  EXPECT_EQ(TensorNamed(def, "fc/weights").quantization->scale,
            expected.scales);
}

TEST(ModelBuilderWeightScales, RejectsBadScales) {
  const std::vector<float> weights(2 * 4, 0.1f);
  struct Case {
    std::vector<float> scales;
    const char* message;
  };
  const Case cases[] = {
      {{0.1f, 0.1f, 0.1f}, "3 weight scales for 2 output channels"},
      {{0.1f, 0.0f}, "not a positive normal float"},
      {{-0.1f}, "not a positive normal float"},
      {{NAN, 0.1f}, "not a positive normal float"},
      {{1e-40f}, "not a positive normal float"},  // subnormal
  };
  for (const Case& c : cases) {
    ModelBuilder b;
    const TensorId x = b.AddInput("x", DType::kInt8, {4}, 0.1f, 0);
    EXPECT_EQ(b.FullyConnected(x, weights, {2, 4}, {}, {0.2f, 0},
                               Activation::kNone, "fc", c.scales),
              kNoTensor);
    EXPECT_NE(b.error().find(c.message), std::string::npos) << b.error();
    EXPECT_NE(b.error().find("FullyConnected 'fc'"), std::string::npos);
  }
}

}  // namespace
}  // namespace kiln
