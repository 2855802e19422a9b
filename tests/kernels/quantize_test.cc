// Tests of ref::QuantizeFromUint8 / QuantizeFromInt8 / QuantizeFromFloat.
#include <gtest/gtest.h>
#include <stdint.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/requant.h"
#include "tests/kernels/kernel_test_util.h"

namespace kiln {
namespace {

constexpr int32_t kTwo30 = int32_t(1) << 30;

TEST(QuantizeFromUint8Test, Hand) {
  // Real multiplier 0.5 (2^30, 0), uint8 zero point 128, output zp -1.
  QuantizeIntParams p{};
  p.size = 5;
  p.input_zero_point = 128;
  p.output_zero_point = -1;
  p.multiplier = kTwo30;
  p.shift = 0;
  const uint8_t in[] = {0, 255, 129, 127, 128};
  // -128 * 0.5 = -64 -> -65; 127 * 0.5 = 63.5 -> 64 -> 63;
  // 1 * 0.5 = 0.5 -> 1 -> 0; -0.5 -> 0 -> -1; 0 -> -1.
  const int8_t expected[] = {-65, 63, 0, -1, -1};
  int8_t out[5];
  ref::QuantizeFromUint8(p, in, out);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(out[i], expected[i]) << i;
}

TEST(QuantizeFromUint8Test, HandIdentityShiftAndSaturation) {
  // Multiplier 1.0 (2^30, 1), zp_in 128, zp_out 0: the classic uint8 -> int8.
  QuantizeIntParams p{};
  p.size = 4;
  p.input_zero_point = 128;
  p.output_zero_point = 0;
  p.multiplier = kTwo30;
  p.shift = 1;
  const uint8_t in[] = {0, 255, 128, 200};
  const int8_t expected[] = {-128, 127, 0, 72};
  int8_t out[4];
  ref::QuantizeFromUint8(p, in, out);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], expected[i]) << i;
  // zp_in 0, multiplier 2.0: 200 * 2 = 400 -> 127; 0 -> 0.
  p.input_zero_point = 0;
  p.shift = 2;
  ref::QuantizeFromUint8(p, in, out);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[1], 127);
  EXPECT_EQ(out[3], 127);
}

TEST(QuantizeFromInt8Test, Hand) {
  // Real multiplier 0.75 (3 * 2^29, 0), zero points 0.
  QuantizeIntParams p{};
  p.size = 6;
  p.multiplier = 3 * (int32_t(1) << 29);
  p.shift = 0;
  const int8_t in[] = {3, 2, -2, -3, 127, -128};
  // 2.25 -> 2; 1.5 -> 2; -1.5 -> -1; -2.25 -> -2; 95.25 -> 95; -96.
  const int8_t expected[] = {2, 2, -1, -2, 95, -96};
  int8_t out[6];
  ref::QuantizeFromInt8(p, in, out);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], expected[i]) << i;
  // Zero points -128 -> 127 with multiplier 1.0: x + 128 + 127 saturates
  // for anything above -128.
  p.input_zero_point = -128;
  p.output_zero_point = 127;
  p.multiplier = kTwo30;
  p.shift = 1;
  p.size = 3;
  const int8_t in2[] = {-128, -127, 127};
  ref::QuantizeFromInt8(p, in2, out);
  EXPECT_EQ(out[0], 127);
  EXPECT_EQ(out[1], 127);
  EXPECT_EQ(out[2], 127);
  p.input_zero_point = 127;
  p.output_zero_point = -128;
  ref::QuantizeFromInt8(p, in2, out);
  EXPECT_EQ(out[0], -128);
  EXPECT_EQ(out[1], -128);
  EXPECT_EQ(out[2], -128);
}

TEST(QuantizeIntTest, RandomAgainstFloat) {
  std::mt19937 rng(81);
  for (int iter = 0; iter < 500; ++iter) {
    const bool from_uint8 = test::RandInt(rng, 0, 1) == 1;
    const float s_in = test::RandScale(rng, 0.001, 1.0);
    const float s_out = test::RandScale(rng, s_in / 8.0, s_in * 8.0);
    QuantizeIntParams p{};
    p.size = 256;
    p.input_zero_point =
        from_uint8 ? test::RandInt(rng, 0, 255) : test::RandZeroPoint(rng);
    if (from_uint8 && test::RandInt(rng, 0, 2) == 0) {
      p.input_zero_point = test::RandInt(rng, 0, 1) ? 0 : 255;
    }
    p.output_zero_point = test::RandZeroPoint(rng);
    const test::FixedMultiplier f =
        test::ToFixed(RescaleRealMultiplier(s_in, s_out));
    p.multiplier = f.multiplier;
    p.shift = f.shift;
    int8_t out[256];
    int32_t values[256];
    if (from_uint8) {
      uint8_t in[256];
      for (int i = 0; i < 256; ++i) in[i] = static_cast<uint8_t>(values[i] = i);
      ref::QuantizeFromUint8(p, in, out);
    } else {
      int8_t in[256];
      for (int i = 0; i < 256; ++i) {
        in[i] = static_cast<int8_t>(values[i] = i - 128);
      }
      ref::QuantizeFromInt8(p, in, out);
    }
    for (int i = 0; i < 256; ++i) {
      const double real = double(s_in) * (values[i] - p.input_zero_point);
      ASSERT_TRUE(test::WithinOneStep(
          out[i],
          test::QuantizeRealUnrounded(real, s_out, p.output_zero_point)))
          << "x=" << values[i];
    }
  }
}

TEST(QuantizeFromFloatTest, Hand) {
  QuantizeFloatParams p{};
  p.scale = 0.5f;
  p.output_zero_point = 3;
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float in[] = {1.0f,  0.25f,  -0.25f, 0.74f,   -0.76f,  62.0f,
                      62.5f, -65.5f, -0.0f,  nan,     -nan,    inf,
                      -inf,  1e30f,  -1e30f, FLT_MAX, -FLT_MAX};
  // x / 0.5 rounded half away from zero, + 3, saturated:
  //   2 -> 5; 0.5 -> 1 -> 4; -0.5 -> -1 -> 2; 1.48 -> 1 -> 4;
  //   -1.52 -> -2 -> 1; 124 -> 127; 125 -> 128 -> 127; -131 -> -128 (sat);
  //   -0 -> 3; NaN -> 3 (both signs); inf -> 127; -inf -> -128;
  //   huge -> 127 / -128 without undefined conversions.
  const int8_t expected[] = {5, 4, 2,   4,    1,   127,  127, -128, 3,
                             3, 3, 127, -128, 127, -128, 127, -128};
  constexpr int kN = sizeof(in) / sizeof(in[0]);
  static_assert(kN == sizeof(expected), "table sizes");
  p.size = kN;
  int8_t out[kN];
  ref::QuantizeFromFloat(p, in, out);
  for (int i = 0; i < kN; ++i) EXPECT_EQ(out[i], expected[i]) << i;
}

TEST(QuantizeFromFloatTest, HandExtremeZeroPointsAndTinyScale) {
  QuantizeFloatParams p{};
  p.size = 3;
  p.scale = 0.1f;
  p.output_zero_point = -128;
  // -0.04 / 0.1 = -0.4 -> 0 -> -128; 0.06 / 0.1 = 0.6 -> 1 -> -127;
  // -5 -> -50 -> -178 -> -128.
  const float in[] = {-0.04f, 0.06f, -5.0f};
  int8_t out[3];
  ref::QuantizeFromFloat(p, in, out);
  EXPECT_EQ(out[0], -128);
  EXPECT_EQ(out[1], -127);
  EXPECT_EQ(out[2], -128);
  p.output_zero_point = 127;
  // -0.4 -> 0 -> 127; 0.6 -> 1 -> 128 -> 127; -50 -> 77.
  ref::QuantizeFromFloat(p, in, out);
  EXPECT_EQ(out[0], 127);
  EXPECT_EQ(out[1], 127);
  EXPECT_EQ(out[2], 77);
  // A tiny scale makes x / scale overflow to +/-inf in float.
  p.scale = 1e-38f;
  p.output_zero_point = 0;
  const float big[] = {1e10f, -1e10f, 0.0f};
  ref::QuantizeFromFloat(p, big, out);
  EXPECT_EQ(out[0], 127);
  EXPECT_EQ(out[1], -128);
  EXPECT_EQ(out[2], 0);
}

TEST(QuantizeFromFloatTest, RandomAgainstDouble) {
  std::mt19937 rng(82);
  for (int iter = 0; iter < 500; ++iter) {
    QuantizeFloatParams p{};
    p.size = test::RandInt(rng, 1, 300);
    p.scale = test::RandScale(rng, 1e-4, 10.0);
    p.output_zero_point = test::RandZeroPoint(rng);
    std::vector<float> in(p.size);
    for (float& v : in) {
      // Mostly within the representable range, some far outside it.
      const double span = p.scale * (test::RandInt(rng, 0, 4) ? 140.0 : 1e4);
      v = static_cast<float>(test::RandReal(rng, -span, span));
      // Sometimes an exact half-step, to exercise the tie rule.
      if (test::RandInt(rng, 0, 9) == 0) {
        v = static_cast<float>((test::RandInt(rng, -200, 200) + 0.5) * p.scale);
      }
    }
    std::vector<int8_t> out(p.size, 0x55);
    ref::QuantizeFromFloat(p, in.data(), out.data());
    for (int32_t i = 0; i < p.size; ++i) {
      ASSERT_TRUE(test::WithinOneStep(
          out[i],
          test::QuantizeRealUnrounded(in[i], p.scale, p.output_zero_point),
          1e-4))
          << "x=" << in[i] << " scale=" << p.scale;
    }
  }
}

}  // namespace
}  // namespace kiln
