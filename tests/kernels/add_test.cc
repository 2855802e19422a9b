// Tests of ref::Add.
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

// Scales s1 = 0.5, s2 = 0.25, s_out = 1.0 with left shift 20 give
//   input1 multiplier 0.5 / (2 * 0.5) = 0.5   -> (2^30, 0)
//   input2 multiplier 0.25 / 1.0 = 0.25       -> (2^30, -1)
//   output multiplier 1.0 / (2^20 * 1.0)      -> (2^30, -19)
// so out = round_half_up(0.5 * (x1 - zp1) + 0.25 * (x2 - zp2)) + zp_out.
AddParams HandParams() {
  AddParams p{};
  p.left_shift = 20;
  p.input1_multiplier = kTwo30;
  p.input1_shift = 0;
  p.input2_multiplier = kTwo30;
  p.input2_shift = -1;
  p.output_multiplier = kTwo30;
  p.output_shift = -19;
  p.clamp = {-128, 127};
  return p;
}

TEST(AddTest, HandZeroPointsZero) {
  AddParams p = HandParams();
  const int8_t in1[] = {3, 1, -1, -3, 0, 0, 0};
  const int8_t in2[] = {2, 0, 0, 0, 1, 3, -2};
  // 1.5 + 0.5 = 2; 0.5 -> 1; -0.5 -> 0; -1.5 -> -1;
  // 0.25 -> 0; 0.75 -> 1; -0.5 -> 0.
  const int8_t expected[] = {2, 1, 0, -1, 0, 1, 0};
  p.size = 7;
  int8_t out[7];
  ref::Add(p, in1, in2, out);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(out[i], expected[i]) << i;
}

TEST(AddTest, HandWithZeroPointsAndClamp) {
  AddParams p = HandParams();
  p.input1_zero_point = 10;
  p.input2_zero_point = -20;
  p.output_zero_point = -5;
  p.clamp = {-100, 80};
  const int8_t in1[] = {13, 11, 9, 7, 10, 127, -128};
  const int8_t in2[] = {-18, -20, -20, -20, -17, 127, -128};
  // 0.5 * (x1 - 10) + 0.25 * (x2 + 20), rounded half up, - 5:
  //   1.5 + 0.5 = 2 -> -3;  0.5 -> 1 -> -4;  -0.5 -> 0 -> -5;
  //   -1.5 -> -1 -> -6;  0.75 -> 1 -> -4;
  //   58.5 + 36.75 = 95.25 -> 95 -> 90 -> clamp 80;
  //   -69 - 27 = -96 -> -101 -> clamp -100.
  const int8_t expected[] = {-3, -4, -5, -6, -4, 80, -100};
  p.size = 7;
  int8_t out[7];
  ref::Add(p, in1, in2, out);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(out[i], expected[i]) << i;
}

TEST(AddTest, HandMultipliersFromScales) {
  // The same example through ComputeAddRealMultipliers/QuantizeMultiplier.
  const AddRealMultipliers r =
      ComputeAddRealMultipliers(0.5f, 0.25f, 1.0f, kAddLeftShift);
  AddParams p{};
  p.left_shift = kAddLeftShift;
  ASSERT_EQ(QuantizeMultiplier(r.input1, &p.input1_multiplier, &p.input1_shift),
            MultiplierStatus::kOk);
  ASSERT_EQ(QuantizeMultiplier(r.input2, &p.input2_multiplier, &p.input2_shift),
            MultiplierStatus::kOk);
  ASSERT_EQ(QuantizeMultiplier(r.output, &p.output_multiplier, &p.output_shift),
            MultiplierStatus::kOk);
  EXPECT_EQ(p.output_multiplier, kTwo30);
  EXPECT_EQ(p.output_shift, -19);
  p.clamp = {-128, 127};
  p.size = 2;
  const int8_t in1[] = {100, -100};
  const int8_t in2[] = {100, -100};
  // 50 + 25 = 75; -75.
  int8_t out[2];
  ref::Add(p, in1, in2, out);
  EXPECT_EQ(out[0], 75);
  EXPECT_EQ(out[1], -75);
}

void RunRandomAdd(std::mt19937& rng) {
  const float s1 = test::RandScale(rng, 0.001, 1.0);
  // Input 2's scale is sometimes equal to input 1's, sometimes far off.
  const float s2 = test::RandInt(rng, 0, 3) == 0
                       ? s1
                       : test::RandScale(rng, s1 / 20.0, s1 * 20.0);
  const double max_in = 128.0 * (s1 + s2) * 2;
  const float s_out = static_cast<float>(max_in / test::RandReal(rng, 80, 600));
  const AddRealMultipliers r =
      ComputeAddRealMultipliers(s1, s2, s_out, kAddLeftShift);
  AddParams p{};
  p.size = test::RandInt(rng, 1, 257);
  p.left_shift = kAddLeftShift;
  p.input1_zero_point = test::RandZeroPoint(rng);
  p.input2_zero_point = test::RandZeroPoint(rng);
  p.output_zero_point = test::RandZeroPoint(rng);
  test::FixedMultiplier f = test::ToFixed(r.input1);
  p.input1_multiplier = f.multiplier;
  p.input1_shift = f.shift;
  f = test::ToFixed(r.input2);
  p.input2_multiplier = f.multiplier;
  p.input2_shift = f.shift;
  f = test::ToFixed(r.output);
  p.output_multiplier = f.multiplier;
  p.output_shift = f.shift;
  p.clamp = test::RandInt(rng, 0, 1) ? ClampParams{-128, 127}
                                     : ClampParams{p.output_zero_point, 127};
  std::vector<int8_t> in1(p.size), in2(p.size), out(p.size, 0x55);
  for (int8_t& v : in1) v = test::RandInt8(rng);
  for (int8_t& v : in2) v = test::RandInt8(rng);
  ref::Add(p, in1.data(), in2.data(), out.data());
  for (int32_t i = 0; i < p.size; ++i) {
    const double real = double(s1) * (in1[i] - p.input1_zero_point) +
                        double(s2) * (in2[i] - p.input2_zero_point);
    // The operands are rounded to 2^-20 of the larger step before the sum,
    // which adds a little error beyond the final rounding.
    ASSERT_TRUE(test::WithinOneStep(
        out[i],
        test::QuantizeRealUnrounded(real, s_out, p.output_zero_point,
                                    p.clamp.min, p.clamp.max),
        1e-3))
        << "i=" << i << " x1=" << int(in1[i]) << " x2=" << int(in2[i])
        << " s1=" << s1 << " s2=" << s2 << " s_out=" << s_out;
  }
}

TEST(AddTest, RandomAgainstFloat) {
  std::mt19937 rng(21);
  for (int i = 0; i < 3000; ++i) RunRandomAdd(rng);
}

}  // namespace
}  // namespace kiln
