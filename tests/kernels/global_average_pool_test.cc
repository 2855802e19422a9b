// Tests of ref::GlobalAveragePool.
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

TEST(GlobalAveragePoolTest, Hand) {
  // Batch 2 of 2x2x2, zero point in 2, out -1, s_in == s_out, so the real
  // multiplier is 1 / (2 * 2) = 0.25 -> (2^30, -1).
  GlobalAveragePoolParams p{};
  p.batch = 2;
  p.h = p.w = 2;
  p.channels = 2;
  p.input_zero_point = 2;
  p.output_zero_point = -1;
  p.multiplier = int32_t(1) << 30;
  p.shift = -1;
  // Item 0: ch0 = {3, 4, 5, 7}, ch1 = {0, 1, 0, 1}.
  // Item 1: ch0 = all 127, ch1 = all -128.
  const int8_t in[] = {3,   0,    4,   1,    5,   0,    7,   1,  //
                       127, -128, 127, -128, 127, -128, 127, -128};
  // Item 0 ch0: 1 + 2 + 3 + 5 = 11 * 0.25 = 2.75 -> 3, -1 = 2.
  // Item 0 ch1: -2 - 1 - 2 - 1 = -6 * 0.25 = -1.5 -> -1 (half up), -1 = -2.
  // Item 1 ch0: 125 * 4 = 500 * 0.25 = 125, -1 = 124.
  // Item 1 ch1: -130 * 4 = -520 * 0.25 = -130, -1 = -131 -> -128.
  const int8_t expected[] = {2, -2, 124, -128};
  int8_t out[4];
  ref::GlobalAveragePool(p, in, out);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], expected[i]) << i;
}

TEST(GlobalAveragePoolTest, HandUpperSaturation) {
  // 1x1x1, multiplier 2.0 (2^30, 2): 100 - 0 = 100 * 2 = 200 + 0 -> 127.
  GlobalAveragePoolParams p{};
  p.batch = 1;
  p.h = p.w = p.channels = 1;
  p.multiplier = int32_t(1) << 30;
  p.shift = 2;
  const int8_t in[] = {100};
  int8_t out[1];
  ref::GlobalAveragePool(p, in, out);
  EXPECT_EQ(out[0], 127);
}

TEST(GlobalAveragePoolTest, RandomAgainstFloat) {
  std::mt19937 rng(41);
  for (int iter = 0; iter < 1000; ++iter) {
    GlobalAveragePoolParams p{};
    p.batch = test::RandInt(rng, 1, 3);
    p.h = test::RandInt(rng, 1, 13);
    p.w = test::RandInt(rng, 1, 13);
    p.channels = test::RandInt(rng, 1, 9);
    const float s_in = test::RandScale(rng, 0.001, 1.0);
    // Output scale around the input scale (means shrink the spread).
    const float s_out = test::RandScale(rng, s_in * 0.2, s_in * 2.0);
    p.input_zero_point = test::RandZeroPoint(rng);
    p.output_zero_point = test::RandZeroPoint(rng);
    const test::FixedMultiplier f =
        test::ToFixed(GlobalAveragePoolRealMultiplier(s_in, s_out, p.h, p.w));
    p.multiplier = f.multiplier;
    p.shift = f.shift;
    std::vector<int8_t> in(p.batch * p.h * p.w * p.channels);
    // Sometimes a narrow value range so the mean is not always near zp.
    const int32_t lo = test::RandInt(rng, -128, 127);
    const int32_t hi = test::RandInt(rng, lo, 127);
    for (int8_t& v : in) v = static_cast<int8_t>(test::RandInt(rng, lo, hi));
    std::vector<int8_t> out(p.batch * p.channels, 0x55);
    ref::GlobalAveragePool(p, in.data(), out.data());
    for (int32_t b = 0; b < p.batch; ++b) {
      for (int32_t c = 0; c < p.channels; ++c) {
        double sum = 0;
        for (int32_t i = 0; i < p.h * p.w; ++i) {
          sum += double(s_in) * (in[(b * p.h * p.w + i) * p.channels + c] -
                                 p.input_zero_point);
        }
        const double mean = sum / (p.h * p.w);
        ASSERT_TRUE(test::WithinOneStep(
            out[b * p.channels + c],
            test::QuantizeRealUnrounded(mean, s_out, p.output_zero_point)))
            << "h=" << p.h << " w=" << p.w;
      }
    }
  }
}

}  // namespace
}  // namespace kiln
