// Tests of ref::FullyConnected.
#include <gtest/gtest.h>
#include <stdint.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/requant.h"
#include "tests/kernels/kernel_test_util.h"

namespace kiln {
namespace {

constexpr int32_t kTwo30 = int32_t(1) << 30;

TEST(FullyConnectedTest, HandBatchTwoPerTensor) {
  // Input zero point -1.
  //   b0: [1, 0, -2]      -> x - zp = [2, 1, -1]
  //   b1: [-128, 127, 5]  -> x - zp = [-127, 128, 6]
  const int8_t input[] = {1, 0, -2, -128, 127, 5};
  // o0: [1, 2, 3]; o1: [-1, 0, 127].
  const int8_t filter[] = {1, 2, 3, -1, 0, 127};
  const int32_t bias[] = {10, -1};
  const int32_t mult[] = {kTwo30};  // (2^30, -1) = 0.25
  const int8_t shift[] = {-1};
  FullyConnectedParams p{};
  p.batch = 2;
  p.in_features = 3;
  p.out_features = 2;
  p.input_zero_point = -1;
  p.output_zero_point = 3;
  p.clamp = {-128, 127};
  p.requant = {mult, shift, 1};
  // b0 o0: 2 + 2 - 3 = 1 + 10 = 11 * 0.25 = 2.75 -> 3, +3 = 6
  // b0 o1: -2 + 0 - 127 = -129 - 1 = -130 * 0.25 = -32.5 -> -32, +3 = -29
  // b1 o0: -127 + 256 + 18 = 147 + 10 = 157 * 0.25 = 39.25 -> 39, +3 = 42
  // b1 o1: 127 + 0 + 762 = 889 - 1 = 888 * 0.25 = 222, +3 = 225 -> 127
  const int8_t expected[] = {6, -29, 42, 127};
  int8_t output[4];
  ref::FullyConnected(p, input, filter, bias, output);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(output[i], expected[i]) << i;
}

TEST(FullyConnectedTest, HandPerChannelNoBiasClamp) {
  // One item, 2 inputs, 3 outputs; zero point 0.
  const int8_t input[] = {10, -6};
  const int8_t filter[] = {1, 1, 2, 0, 1, -1};
  // Per-channel multipliers: 1.0, 0.5, 2.0.
  const int32_t mult[] = {kTwo30, kTwo30, kTwo30};
  const int8_t shift[] = {1, 0, 2};
  FullyConnectedParams p{};
  p.batch = 1;
  p.in_features = 2;
  p.out_features = 3;
  p.input_zero_point = 0;
  p.output_zero_point = -10;
  p.clamp = {-10, 20};  // ReLU with zero point -10, capped at 20
  p.requant = {mult, shift, 3};
  // o0: 10 - 6 = 4 * 1.0 = 4 - 10 = -6
  // o1: 20 * 0.5 = 10 - 10 = 0
  // o2: 10 + 6 = 16 * 2.0 = 32 - 10 = 22 -> 20
  int8_t output[3];
  ref::FullyConnected(p, input, filter, nullptr, output);
  EXPECT_EQ(output[0], -6);
  EXPECT_EQ(output[1], 0);
  EXPECT_EQ(output[2], 20);
  // With all inputs at the zero point only the (absent) bias remains: zp.
  const int8_t zero_input[] = {0, 0};
  p.clamp = {-128, 127};
  ref::FullyConnected(p, zero_input, filter, nullptr, output);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(output[i], -10) << i;
}

void RunRandomFullyConnected(std::mt19937& rng) {
  FullyConnectedParams p{};
  p.batch = test::RandInt(rng, 1, 3);
  p.in_features = test::RandInt(rng, 1, 70);
  p.out_features = test::RandInt(rng, 1, 17);
  const float in_scale = test::RandScale(rng, 0.002, 0.2);
  p.input_zero_point = test::RandZeroPoint(rng);
  const bool per_channel = test::RandInt(rng, 0, 1) == 1;
  std::vector<float> w_scale(p.out_features);
  const float shared = test::RandScale(rng, 0.001, 0.05);
  for (float& s : w_scale) {
    s = per_channel ? test::RandScale(rng, 0.001, 0.05) : shared;
  }
  std::vector<int8_t> input(p.batch * p.in_features);
  for (int8_t& v : input) v = test::RandInt8(rng);
  std::vector<int8_t> filter(p.out_features * p.in_features);
  for (int8_t& v : filter) v = test::RandInt8(rng);
  const bool has_bias = test::RandInt(rng, 0, 3) != 0;
  std::vector<int32_t> bias(p.out_features);
  for (int32_t& b : bias) b = test::RandInt(rng, -50000, 50000);

  std::vector<double> real(p.batch * p.out_features);
  double max_abs = 0;
  for (int32_t b = 0; b < p.batch; ++b) {
    for (int32_t o = 0; o < p.out_features; ++o) {
      double sum = has_bias ? double(bias[o]) * in_scale * w_scale[o] : 0.0;
      for (int32_t k = 0; k < p.in_features; ++k) {
        sum += double(in_scale) *
               (input[b * p.in_features + k] - p.input_zero_point) *
               (double(w_scale[o]) * filter[o * p.in_features + k]);
      }
      real[b * p.out_features + o] = sum;
      max_abs = std::max(max_abs, std::fabs(sum));
    }
  }
  const float out_scale = static_cast<float>((max_abs > 1e-9 ? max_abs : 1.0) /
                                             test::RandReal(rng, 40.0, 250.0));
  p.output_zero_point = test::RandZeroPoint(rng);
  p.clamp = test::RandInt(rng, 0, 1) ? ClampParams{-128, 127}
                                     : ClampParams{p.output_zero_point, 127};
  const int32_t n = per_channel ? p.out_features : 1;
  std::vector<int32_t> mult(n);
  std::vector<int8_t> shift(n);
  for (int32_t i = 0; i < n; ++i) {
    const test::FixedMultiplier f =
        test::ToFixed(ConvRealMultiplier(in_scale, w_scale[i], out_scale));
    mult[i] = f.multiplier;
    shift[i] = static_cast<int8_t>(f.shift);
  }
  p.requant = {mult.data(), shift.data(), n};
  std::vector<int8_t> output(p.batch * p.out_features, 0x55);
  ref::FullyConnected(p, input.data(), filter.data(),
                      has_bias ? bias.data() : nullptr, output.data());
  for (size_t i = 0; i < output.size(); ++i) {
    ASSERT_TRUE(test::WithinOneStep(
        output[i],
        test::QuantizeRealUnrounded(real[i], out_scale, p.output_zero_point,
                                    p.clamp.min, p.clamp.max)))
        << "element " << i << " in_features " << p.in_features;
  }
}

TEST(FullyConnectedTest, RandomAgainstFloat) {
  std::mt19937 rng(11);
  for (int i = 0; i < 1000; ++i) RunRandomFullyConnected(rng);
}

}  // namespace
}  // namespace kiln
