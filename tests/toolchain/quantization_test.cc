#include "toolchain/quantization.h"

#include <gtest/gtest.h>
#include <math.h>

#include <stdexcept>

namespace kiln {
namespace {

TEST(Quantization, RoundHalfAwayFromZero) {
  EXPECT_EQ(RoundHalfAway(2.5), 3.0);
  EXPECT_EQ(RoundHalfAway(-2.5), -3.0);
  EXPECT_EQ(RoundHalfAway(2.4999), 2.0);
  EXPECT_EQ(RoundHalfAway(-0.5), -1.0);
}

TEST(Quantization, WeightsPerChannelSymmetric) {
  // max|w| = 127 * 2^-7, so the scale is exactly 2^-7 and every quotient is
  // exact: 0.5 -> 64, -32.5 steps -> -33 (half away from zero).
  const std::vector<float> w = {0.9921875f, 0.5f, -0.25390625f, 0.0f,
                                0.0f,       0.0f, 0.0f,         0.0f,
                                -3.0f,      1.0f, 0.75f,        -1.5f};
  const QuantizedWeights q = QuantizeWeightsPerChannel(w, 3);
  ASSERT_EQ(q.scales.size(), 3u);
  EXPECT_EQ(q.scales[0], 0.0078125f);
  EXPECT_EQ(q.scales[1], 1.0f);  // all-zero channel
  EXPECT_EQ(q.scales[2], 3.0f / 127.0f);
  const std::vector<int8_t> expected_c0 = {127, 64, -33, 0};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(q.values[i], expected_c0[i]) << i;
  for (int i = 4; i < 8; ++i) EXPECT_EQ(q.values[i], 0) << i;
  // Channel 2 by the documented formula (its scale is not a power of two).
  for (int i = 8; i < 12; ++i) {
    const double expected = round(double(w[i]) / double(3.0f / 127.0f));
    EXPECT_EQ(q.values[i], static_cast<int8_t>(expected)) << i;
  }
  EXPECT_EQ(q.values[8], -127);
  EXPECT_EQ(q.values[9], 42);   // 42.33
  EXPECT_EQ(q.values[10], 32);  // 31.75
}

TEST(Quantization, WeightsRejectNonFiniteAndBadSplits) {
  EXPECT_THROW(QuantizeWeightsPerChannel({1.0f, NAN}, 1),
               std::invalid_argument);
  EXPECT_THROW(QuantizeWeightsPerChannel({1.0f, INFINITY}, 2),
               std::invalid_argument);
  EXPECT_THROW(QuantizeWeightsPerChannel({1.0f, 2.0f, 3.0f}, 2),
               std::invalid_argument);
  // max|w| / 127 would be subnormal.
  EXPECT_THROW(QuantizeWeightsPerChannel({1e-38f}, 1), std::invalid_argument);
}

TEST(Quantization, BiasAtInputTimesWeightScale) {
  // s_in * s_w = 0.5 * 2^-7 = 2^-8: 0.01 / 2^-8 = 2.56 -> 3,
  // -1.5 steps -> -2, and a huge bias saturates.
  const std::vector<int32_t> b =
      QuantizeBias({0.01f, -0.005859375f, 1e9f, -1e9f}, 0.5f,
                   {0.0078125f, 0.0078125f, 0.0078125f, 0.0078125f});
  EXPECT_EQ(b[0], 3);
  EXPECT_EQ(b[1], -2);
  EXPECT_EQ(b[2], INT32_MAX);
  EXPECT_EQ(b[3], INT32_MIN);
  EXPECT_THROW(QuantizeBias({1.0f}, 0.5f, {1.0f, 1.0f}), std::invalid_argument);
  EXPECT_THROW(QuantizeBias({NAN}, 0.5f, {1.0f}), std::invalid_argument);
}

TEST(Quantization, RequantFromRealMultipliers) {
  const RequantDef r = MakeRequant({0.00390625, 2.0, 0.75, 0.0}, "test");
  ASSERT_EQ(r.multiplier.size(), 4u);
  EXPECT_EQ(r.multiplier[0], 1 << 30);  // 2^-8 = 0.5 * 2^-7
  EXPECT_EQ(r.shift[0], -7);
  EXPECT_EQ(r.multiplier[1], 1 << 30);  // 2 = 0.5 * 2^2
  EXPECT_EQ(r.shift[1], 2);
  EXPECT_EQ(r.multiplier[2], 1610612736);  // 0.75 * 2^31
  EXPECT_EQ(r.shift[2], 0);
  EXPECT_EQ(r.multiplier[3], 0);
  EXPECT_EQ(r.shift[3], 0);
  try {
    MakeRequant({0.5, ldexp(1.0, 31)}, "conv");
    FAIL() << "a multiplier of 2^31 must be rejected";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("too large"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(MakeRequant({-1.0}, "x"), std::invalid_argument);
  EXPECT_THROW(MakeRequant({NAN}, "x"), std::invalid_argument);
}

TEST(Quantization, ActivationClamps) {
  EXPECT_EQ(ActivationClamp(Activation::kNone, 0.1f, 5).min, -128);
  EXPECT_EQ(ActivationClamp(Activation::kNone, 0.1f, 5).max, 127);
  EXPECT_EQ(ActivationClamp(Activation::kRelu, 0.1f, 5).min, 5);
  EXPECT_EQ(ActivationClamp(Activation::kRelu, 0.1f, 5).max, 127);
  EXPECT_EQ(ActivationClamp(Activation::kRelu, 0.1f, -128).min, -128);
  // RELU6: 6 / 0.25 = 24 steps above the zero point.
  EXPECT_EQ(ActivationClamp(Activation::kRelu6, 0.25f, -10).min, -10);
  EXPECT_EQ(ActivationClamp(Activation::kRelu6, 0.25f, -10).max, 14);
  // 6 / 0.05 = 120 steps: capped at 127.
  EXPECT_EQ(ActivationClamp(Activation::kRelu6, 0.05f, 20).max, 127);
  // 6 / 0.048 = 125 steps (lround), -128 + 125 = -3.
  EXPECT_EQ(ActivationClamp(Activation::kRelu6, 0.048f, -128).max, -3);
  // A tiny scale cannot overflow the arithmetic.
  EXPECT_EQ(ActivationClamp(Activation::kRelu6, 1e-30f, 0).max, 127);
  EXPECT_THROW(ActivationClamp(static_cast<Activation>(9), 0.1f, 0),
               std::invalid_argument);
}

TEST(Quantization, SoftmaxExpTable) {
  const std::vector<int32_t> t = SoftmaxExpTable(0.1f, 2.0f);
  ASSERT_EQ(t.size(), 256u);
  EXPECT_EQ(t[0], 1 << 24);
  for (int d = 0; d < 256; ++d) {
    const double expected =
        round(16777216.0 * exp(-2.0 * double(0.1f) * double(d)));
    EXPECT_EQ(t[d], static_cast<int32_t>(expected)) << d;
    if (d > 0) {
      EXPECT_LE(t[d], t[d - 1]);
    }
  }
  EXPECT_EQ(t[255], 0);  // exp(-51) * 2^24 rounds to 0
}

TEST(Quantization, LogisticTable) {
  const std::vector<int8_t> t = LogisticTable(0.05f, 10);
  ASSERT_EQ(t.size(), 256u);
  // q = zero point (index 138) is 0.5 -> 128 - 128 = 0.
  EXPECT_EQ(t[138], 0);
  // The ends saturate toward 0 and 1: -128 and 127 (256 clamped).
  EXPECT_EQ(t[0], -128 + static_cast<int>(round(
                             256.0 / (1.0 + exp(-double(0.05f) * -138.0)))));
  EXPECT_EQ(t[255], 127);
  for (int i = 1; i < 256; ++i) EXPECT_GE(t[i], t[i - 1]);
}

TEST(Quantization, Int32BytesAreLittleEndian) {
  const std::vector<uint8_t> b = Int32Bytes({0x01020304, -2});
  const std::vector<uint8_t> expected = {4, 3, 2, 1, 0xFE, 0xFF, 0xFF, 0xFF};
  EXPECT_EQ(b, expected);
}

}  // namespace
}  // namespace kiln
