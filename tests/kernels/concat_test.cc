// Tests of ref::Concat.
#include <gtest/gtest.h>
#include <stdint.h>

#include <random>
#include <vector>

#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/requant.h"
#include "tests/kernels/kernel_test_util.h"

namespace kiln {
namespace {

TEST(ConcatTest, HandCopyRescaleSaturate) {
  // Two rows; output zero point -1.
  //   A: inner 2, multiplier 0 -> copied verbatim.
  //   B: inner 3, zero point 4, real multiplier 0.5 (2^30, 0).
  //   C: inner 1, zero point 0, real multiplier 2.0 (2^30, 2).
  const int8_t a[] = {1, 2, -3, -4};
  const int8_t b[] = {4, 5, 7, 127, -128, 3};
  const int8_t c[] = {100, -100};
  const int8_t* inputs[] = {a, b, c};
  ConcatParams p{};
  p.outer = 2;
  p.num_inputs = 3;
  p.inner[0] = 2;
  p.inner[1] = 3;
  p.inner[2] = 1;
  p.input_zero_point[1] = 4;
  p.multiplier[0] = 0;
  p.multiplier[1] = int32_t(1) << 30;
  p.shift[1] = 0;
  p.multiplier[2] = int32_t(1) << 30;
  p.shift[2] = 2;
  p.output_zero_point = -1;
  // Row 0: A 1 2 | B (0, 1, 3) * 0.5 = 0, 0.5 -> 1, 1.5 -> 2; -1: -1 0 1
  //        | C 100 * 2 = 200 - 1 -> 127.
  // Row 1: A -3 -4 | B (123, -132, -1) * 0.5 = 61.5 -> 62, -66, -0.5 -> 0;
  //        -1: 61 -67 -1 | C -200 - 1 -> -128.
  const int8_t expected[] = {1,  2,  -1, 0,   1,  127,  //
                             -3, -4, 61, -67, -1, -128};
  int8_t out[12];
  ref::Concat(p, inputs, out);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(out[i], expected[i]) << i;
}

TEST(ConcatTest, CopyIgnoresZeroPoints) {
  // A copied input is not offset, even if zero points differ in the params.
  const int8_t a[] = {-128, 0, 127};
  const int8_t* inputs[] = {a};
  ConcatParams p{};
  p.outer = 1;
  p.num_inputs = 1;
  p.inner[0] = 3;
  p.input_zero_point[0] = 50;
  p.output_zero_point = -50;
  int8_t out[3];
  ref::Concat(p, inputs, out);
  EXPECT_EQ(out[0], -128);
  EXPECT_EQ(out[1], 0);
  EXPECT_EQ(out[2], 127);
}

TEST(ConcatTest, RandomAgainstFloat) {
  std::mt19937 rng(51);
  for (int iter = 0; iter < 500; ++iter) {
    ConcatParams p{};
    p.outer = test::RandInt(rng, 1, 6);
    p.num_inputs = test::RandInt(rng, 1, kMaxConcatInputs);
    const float s_out = test::RandScale(rng, 0.01, 1.0);
    p.output_zero_point = test::RandZeroPoint(rng);
    std::vector<std::vector<int8_t>> data(p.num_inputs);
    std::vector<const int8_t*> inputs(p.num_inputs);
    std::vector<float> s_in(p.num_inputs);
    int32_t row = 0;
    for (int32_t i = 0; i < p.num_inputs; ++i) {
      p.inner[i] = test::RandInt(rng, 1, 7);
      row += p.inner[i];
      if (test::RandInt(rng, 0, 3) == 0) {
        // Same quantization as the output: copy.
        s_in[i] = s_out;
        p.input_zero_point[i] = p.output_zero_point;
        p.multiplier[i] = 0;
        p.shift[i] = 0;
      } else {
        s_in[i] = test::RandScale(rng, s_out / 4.0, s_out * 4.0);
        p.input_zero_point[i] = test::RandZeroPoint(rng);
        const test::FixedMultiplier f =
            test::ToFixed(RescaleRealMultiplier(s_in[i], s_out));
        p.multiplier[i] = f.multiplier;
        p.shift[i] = f.shift;
      }
      data[i].resize(p.outer * p.inner[i]);
      for (int8_t& v : data[i]) v = test::RandInt8(rng);
      inputs[i] = data[i].data();
    }
    std::vector<int8_t> out(p.outer * row, 0x55);
    ref::Concat(p, inputs.data(), out.data());
    int32_t k = 0;
    for (int32_t r = 0; r < p.outer; ++r) {
      for (int32_t i = 0; i < p.num_inputs; ++i) {
        for (int32_t j = 0; j < p.inner[i]; ++j, ++k) {
          const int8_t x = data[i][r * p.inner[i] + j];
          if (p.multiplier[i] == 0) {
            ASSERT_EQ(out[k], x);
            continue;
          }
          const double real = double(s_in[i]) * (x - p.input_zero_point[i]);
          ASSERT_TRUE(test::WithinOneStep(
              out[k],
              test::QuantizeRealUnrounded(real, s_out, p.output_zero_point)))
              << "row " << r << " input " << i << " j " << j;
        }
      }
    }
  }
}

}  // namespace
}  // namespace kiln
