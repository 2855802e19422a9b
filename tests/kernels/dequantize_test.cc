// Tests of ref::Dequantize.
#include <gtest/gtest.h>
#include <stdint.h>

#include <random>

#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "tests/kernels/kernel_test_util.h"

namespace kiln {
namespace {

TEST(DequantizeTest, Hand) {
  DequantizeParams p{};
  p.size = 5;
  p.scale = 0.5f;
  p.input_zero_point = 3;
  const int8_t in[] = {5, 3, -128, 127, 0};
  // 0.5 * (x - 3): 1, 0, -65.5, 62, -1.5 (all exact in float).
  const float expected[] = {1.0f, 0.0f, -65.5f, 62.0f, -1.5f};
  float out[5];
  ref::Dequantize(p, in, out);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(out[i], expected[i]) << i;
}

TEST(DequantizeTest, ExtremeZeroPoints) {
  DequantizeParams p{};
  p.size = 2;
  p.scale = 0.25f;
  p.input_zero_point = -128;
  const int8_t in[] = {-128, 127};
  float out[2];
  ref::Dequantize(p, in, out);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[1], 63.75f);  // 255 / 4
  p.input_zero_point = 127;
  ref::Dequantize(p, in, out);
  EXPECT_EQ(out[0], -63.75f);
  EXPECT_EQ(out[1], 0.0f);
}

TEST(DequantizeTest, AllValuesBitExactAgainstDouble) {
  // scale * (x - zp) computed exactly in double and rounded once to float is
  // the correctly rounded float32 product, which is what the kernel's single
  // float multiply must give, bit for bit.
  std::mt19937 rng(91);
  for (int iter = 0; iter < 200; ++iter) {
    DequantizeParams p{};
    p.size = 256;
    p.scale = test::RandScale(rng, 1e-6, 100.0);
    p.input_zero_point = test::RandZeroPoint(rng);
    int8_t in[256];
    float out[256];
    for (int i = 0; i < 256; ++i) in[i] = static_cast<int8_t>(i - 128);
    ref::Dequantize(p, in, out);
    for (int i = 0; i < 256; ++i) {
      const float expected =
          static_cast<float>(double(p.scale) * (in[i] - p.input_zero_point));
      ASSERT_EQ(out[i], expected) << "x=" << int(in[i]);
      // And the round trip through the independent quantizer recovers x.
      ASSERT_EQ(test::QuantizeReal(out[i], p.scale, p.input_zero_point), in[i]);
    }
  }
}

}  // namespace
}  // namespace kiln
