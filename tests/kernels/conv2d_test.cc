// Tests of ref::Conv2D: hand-worked cases and random cases against a double
// model of the real-valued convolution.
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

// A 1x1 stride/dilation, groups 1, full-range-clamp parameter block.
Conv2DParams BaseParams() {
  Conv2DParams p{};
  p.batch = 1;
  p.stride_h = p.stride_w = 1;
  p.dilation_h = p.dilation_w = 1;
  p.groups = 1;
  p.clamp = {-128, 127};
  return p;
}

TEST(Conv2DTest, HandTwoChannelsValidPadding) {
  // Input 1x3x3x1, zero point 1:      x - zp:
  //   1 2 3                            0 1 2
  //   4 5 6                            3 4 5
  //   7 8 9                            6 7 8
  const int8_t input[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  // Two 2x2 filters (OHWI, in_c 1): oc0 = [1 -1; 2 0], oc1 = [-1 0; 0 -1].
  const int8_t filter[] = {1, -1, 2, 0, -1, 0, 0, -1};
  const int32_t bias[] = {2, 1};
  // Real multiplier 0.5 for both channels (per-tensor).
  const int32_t mult[] = {kTwo30};
  const int8_t shift[] = {0};
  Conv2DParams p = BaseParams();
  p.in_h = p.in_w = 3;
  p.in_c = 1;
  p.out_h = p.out_w = 2;
  p.out_c = 2;
  p.kernel_h = p.kernel_w = 2;
  p.input_zero_point = 1;
  p.output_zero_point = -2;
  p.requant = {mult, shift, 1};
  // oc0 sums: (0,0) 0-1+6+0 = 5; (0,1) 1-2+8 = 7; (1,0) 3-4+12 = 11;
  //           (1,1) 4-5+14 = 13. +bias 2: 7, 9, 13, 15.
  //   * 0.5: 3.5 -> 4, 4.5 -> 5, 6.5 -> 7, 7.5 -> 8 (half up). -2: 2 3 5 6.
  // oc1 sums: -(0+4) = -4; -(1+5) = -6; -(3+7) = -10; -(4+8) = -12.
  //   +bias 1: -3, -5, -9, -11. * 0.5: -1.5 -> -1, -2.5 -> -2,
  //   -4.5 -> -4, -5.5 -> -5. -2: -3 -4 -6 -7.
  const int8_t expected[] = {2, -3, 3, -4, 5, -6, 6, -7};
  int8_t output[8];
  ref::Conv2D(p, input, filter, bias, output);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(output[i], expected[i]) << i;
}

TEST(Conv2DTest, HandPaddingStrideClampNoBias) {
  // Input 1..9 as above with zero point 5 (x - zp: -4..4), a 3x3 all-ones
  // filter, stride 2, pad 1 on top/left: out 2x2. Padding taps are skipped,
  // i.e. they count as real 0 (not raw 0, which would be -5 after the offset).
  const int8_t input[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  int8_t filter[9];
  for (int8_t& w : filter) w = 1;
  const int32_t mult[] = {kTwo30};  // (2^30, 1) = 1.0
  const int8_t shift[] = {1};
  Conv2DParams p = BaseParams();
  p.in_h = p.in_w = 3;
  p.in_c = 1;
  p.out_h = p.out_w = 2;
  p.out_c = 1;
  p.kernel_h = p.kernel_w = 3;
  p.stride_h = p.stride_w = 2;
  p.pad_top = p.pad_left = 1;
  p.input_zero_point = 5;
  p.output_zero_point = 0;
  p.clamp = {-5, 127};
  p.requant = {mult, shift, 1};
  // (0,0): rows 0-1, cols 0-1: -4 -3 -1 0 = -8 -> clamp -5
  // (0,1): rows 0-1, cols 1-2: -3 -2 0 1 = -4
  // (1,0): rows 1-2, cols 0-1: -1 0 2 3 = 4
  // (1,1): rows 1-2, cols 1-2: 0 1 3 4 = 8
  const int8_t expected[] = {-5, -4, 4, 8};
  int8_t output[4];
  ref::Conv2D(p, input, filter, nullptr, output);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(output[i], expected[i]) << i;
}

TEST(Conv2DTest, HandAsymmetricPaddingOnlyBottomRight) {
  // 1x2x2x1 input, 2x2 ones filter, pad_top = pad_left = 0, out 2x2 (the
  // bottom/right padding is implied by the output size).
  const int8_t input[] = {10, 20, 30, 40};
  int8_t filter[4] = {1, 1, 1, 1};
  const int32_t mult[] = {kTwo30};  // 1.0
  const int8_t shift[] = {1};
  Conv2DParams p = BaseParams();
  p.in_h = p.in_w = 2;
  p.in_c = 1;
  p.out_h = p.out_w = 2;
  p.out_c = 1;
  p.kernel_h = p.kernel_w = 2;
  p.input_zero_point = 0;
  p.requant = {mult, shift, 1};
  // (0,0) 10+20+30+40 = 100; (0,1) 20+40 = 60; (1,0) 30+40 = 70; (1,1) 40.
  const int8_t expected[] = {100, 60, 70, 40};
  int8_t output[4];
  ref::Conv2D(p, input, filter, nullptr, output);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(output[i], expected[i]) << i;
}

TEST(Conv2DTest, HandDilation) {
  // 1x1x5x1 input 0..4, 1x2 filter [1, 10] with dilation_w 2: taps x, x+2.
  const int8_t input[] = {0, 1, 2, 3, 4};
  const int8_t filter[] = {1, 10};
  const int32_t mult[] = {kTwo30};  // 1.0
  const int8_t shift[] = {1};
  Conv2DParams p = BaseParams();
  p.in_h = 1;
  p.in_w = 5;
  p.in_c = 1;
  p.out_h = 1;
  p.out_w = 3;  // 5 - (2 - 1) * 2
  p.out_c = 1;
  p.kernel_h = 1;
  p.kernel_w = 2;
  p.dilation_w = 2;
  p.requant = {mult, shift, 1};
  // 0 + 10*2 = 20; 1 + 10*3 = 31; 2 + 10*4 = 42.
  const int8_t expected[] = {20, 31, 42};
  int8_t output[3];
  ref::Conv2D(p, input, filter, nullptr, output);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(output[i], expected[i]) << i;
}

TEST(Conv2DTest, HandDepthwiseMultiplierTwoPerChannelRequant) {
  // in_c 2, groups 2, out_c 4 (channel multiplier 2): oc 0,1 read input
  // channel 0; oc 2,3 read input channel 1. Filter [4, 1, 1, 1].
  const int8_t input[] = {3, -4};
  const int8_t filter[] = {1, 2, 3, -1};
  // Per-channel real multipliers 1.0, 0.5, 0.25, 2.0.
  const int32_t mult[] = {kTwo30, kTwo30, kTwo30, kTwo30};
  const int8_t shift[] = {1, 0, -1, 2};
  Conv2DParams p = BaseParams();
  p.in_h = p.in_w = 1;
  p.in_c = 2;
  p.out_h = p.out_w = 1;
  p.out_c = 4;
  p.kernel_h = p.kernel_w = 1;
  p.groups = 2;
  p.requant = {mult, shift, 4};
  // oc0: 3*1 = 3 * 1.0 = 3; oc1: 3*2 = 6 * 0.5 = 3;
  // oc2: -4*3 = -12 * 0.25 = -3; oc3: -4*-1 = 4 * 2 = 8.
  const int8_t expected[] = {3, 3, -3, 8};
  int8_t output[4];
  ref::Conv2D(p, input, filter, nullptr, output);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(output[i], expected[i]) << i;
}

TEST(Conv2DTest, HandGroupedConvolution) {
  // in_c 4, groups 2, out_c 2: oc0 sees channels 0-1, oc1 channels 2-3.
  // Filter [2, 1, 1, 2] (in_c / groups = 2 per filter).
  const int8_t input[] = {1, 2, 3, 4};
  const int8_t filter[] = {1, 1, 1, -1};
  const int32_t bias[] = {100, -100};
  const int32_t mult[] = {kTwo30};  // 1.0
  const int8_t shift[] = {1};
  Conv2DParams p = BaseParams();
  p.in_h = p.in_w = 1;
  p.in_c = 4;
  p.out_h = p.out_w = 1;
  p.out_c = 2;
  p.kernel_h = p.kernel_w = 1;
  p.groups = 2;
  p.requant = {mult, shift, 1};
  // oc0: 100 + 1 + 2 = 103; oc1: -100 + 3 - 4 = -101.
  int8_t output[2];
  ref::Conv2D(p, input, filter, bias, output);
  EXPECT_EQ(output[0], 103);
  EXPECT_EQ(output[1], -101);
}

TEST(Conv2DTest, HandExtremeZeroPointsAndSaturation) {
  // Input zero point -128: input -128 is real 0, 127 is 255 steps.
  // 1x1x1x2 input, 1x1 filter, out_c 1, weights [127, -128].
  const int8_t input[] = {127, -128};
  const int8_t filter[] = {127, -128};
  const int32_t mult[] = {kTwo30};  // (2^30, -7) = 2^-8
  const int8_t shift[] = {-7};
  Conv2DParams p = BaseParams();
  p.in_h = p.in_w = 1;
  p.in_c = 2;
  p.out_h = p.out_w = 1;
  p.out_c = 1;
  p.kernel_h = p.kernel_w = 1;
  p.input_zero_point = -128;
  p.output_zero_point = 127;
  p.requant = {mult, shift, 1};
  // acc = 255 * 127 + 0 * -128 = 32385; / 256 = 126.504 -> 127; +127 = 254
  // -> saturates at 127.
  int8_t output[1];
  ref::Conv2D(p, input, filter, nullptr, output);
  EXPECT_EQ(output[0], 127);
  // Negative: weights -128: acc = -32640 / 256 = -127.5 -> -127; zp -128
  // -> -255 -> -128.
  const int8_t filter_neg[] = {-128, 0};
  p.output_zero_point = -128;
  ref::Conv2D(p, input, filter_neg, nullptr, output);
  EXPECT_EQ(output[0], -128);
  // Same with zero point 0: -127 exactly.
  p.output_zero_point = 0;
  ref::Conv2D(p, input, filter_neg, nullptr, output);
  EXPECT_EQ(output[0], -127);
}

TEST(Conv2DTest, HandBatchTwo) {
  // Batch 2 of 1x1x1 with a 1x1 filter of 3: each item scaled separately.
  const int8_t input[] = {5, -7};
  const int8_t filter[] = {3};
  const int32_t bias[] = {1};
  const int32_t mult[] = {kTwo30};  // 1.0
  const int8_t shift[] = {1};
  Conv2DParams p = BaseParams();
  p.batch = 2;
  p.in_h = p.in_w = p.in_c = 1;
  p.out_h = p.out_w = p.out_c = 1;
  p.kernel_h = p.kernel_w = 1;
  p.input_zero_point = 1;
  p.requant = {mult, shift, 1};
  // (5 - 1) * 3 + 1 = 13; (-7 - 1) * 3 + 1 = -23.
  int8_t output[2];
  ref::Conv2D(p, input, filter, bias, output);
  EXPECT_EQ(output[0], 13);
  EXPECT_EQ(output[1], -23);
}

// ---------------------------------------------------------------------------
// Random cases against the real-valued convolution.

struct RandomConv {
  Conv2DParams p;
  std::vector<int8_t> input, filter, output;
  std::vector<int32_t> bias;
  bool has_bias;
  std::vector<int32_t> mult;
  std::vector<int8_t> shift;
  std::vector<double> expected;  // unrounded, clamped, per output element
};

void RunRandomConv(std::mt19937& rng, int mode) {
  RandomConv c;
  Conv2DParams& p = c.p;
  p = BaseParams();
  p.batch = test::RandInt(rng, 1, 2);
  int32_t in_c_per_group, out_c_per_group;
  if (mode == 0) {  // regular
    p.groups = 1;
    in_c_per_group = test::RandInt(rng, 1, 5);
    out_c_per_group = test::RandInt(rng, 1, 5);
  } else if (mode == 1) {  // grouped
    p.groups = test::RandInt(rng, 2, 3);
    in_c_per_group = test::RandInt(rng, 1, 3);
    out_c_per_group = test::RandInt(rng, 1, 3);
  } else {  // depthwise, channel multiplier 1..3
    p.groups = test::RandInt(rng, 1, 5);
    in_c_per_group = 1;
    out_c_per_group = test::RandInt(rng, 1, 3);
  }
  p.in_c = p.groups * in_c_per_group;
  p.out_c = p.groups * out_c_per_group;
  p.kernel_h = test::RandInt(rng, 1, 3);
  p.kernel_w = test::RandInt(rng, 1, 3);
  p.stride_h = test::RandInt(rng, 1, 3);
  p.stride_w = test::RandInt(rng, 1, 2);
  p.dilation_h = test::RandInt(rng, 1, 2);
  p.dilation_w = test::RandInt(rng, 1, 3);
  const int32_t eff_h = (p.kernel_h - 1) * p.dilation_h + 1;
  const int32_t eff_w = (p.kernel_w - 1) * p.dilation_w + 1;
  int32_t pad_bottom, pad_right;
  do {
    p.in_h = test::RandInt(rng, 1, 9);
    p.in_w = test::RandInt(rng, 1, 9);
    p.pad_top = test::RandInt(rng, 0, eff_h - 1);
    p.pad_left = test::RandInt(rng, 0, eff_w - 1);
    pad_bottom = test::RandInt(rng, 0, eff_h - 1);
    pad_right = test::RandInt(rng, 0, eff_w - 1);
  } while (p.in_h + p.pad_top + pad_bottom < eff_h ||
           p.in_w + p.pad_left + pad_right < eff_w);
  p.out_h = (p.in_h + p.pad_top + pad_bottom - eff_h) / p.stride_h + 1;
  p.out_w = (p.in_w + p.pad_left + pad_right - eff_w) / p.stride_w + 1;

  const float in_scale = test::RandScale(rng, 0.002, 0.2);
  p.input_zero_point = test::RandZeroPoint(rng);
  const bool per_channel = test::RandInt(rng, 0, 1) == 1;
  std::vector<float> w_scale(p.out_c);
  const float shared_w_scale = test::RandScale(rng, 0.001, 0.05);
  for (float& s : w_scale) {
    s = per_channel ? test::RandScale(rng, 0.001, 0.05) : shared_w_scale;
  }

  c.input.resize(p.batch * p.in_h * p.in_w * p.in_c);
  for (int8_t& v : c.input) v = test::RandInt8(rng);
  c.filter.resize(p.out_c * p.kernel_h * p.kernel_w * in_c_per_group);
  for (int8_t& v : c.filter) {
    v = static_cast<int8_t>(test::RandInt(rng, 0, 9) == 0
                                ? (test::RandInt(rng, 0, 1) ? 127 : -128)
                                : test::RandInt(rng, -127, 127));
  }
  c.has_bias = test::RandInt(rng, 0, 3) != 0;
  c.bias.resize(p.out_c);
  for (int32_t& b : c.bias) b = test::RandInt(rng, -20000, 20000);

  // Real-valued convolution in double, straight from the definition:
  // out = bias_real + sum over taps inside the input of real(x) * real(w).
  const int32_t n_out = p.batch * p.out_h * p.out_w * p.out_c;
  std::vector<double> real(n_out);
  double max_abs = 0;
  for (int32_t b = 0; b < p.batch; ++b) {
    for (int32_t oy = 0; oy < p.out_h; ++oy) {
      for (int32_t ox = 0; ox < p.out_w; ++ox) {
        for (int32_t oc = 0; oc < p.out_c; ++oc) {
          const int32_t g = oc / out_c_per_group;
          double sum =
              c.has_bias ? double(c.bias[oc]) * in_scale * w_scale[oc] : 0.0;
          for (int32_t ky = 0; ky < p.kernel_h; ++ky) {
            for (int32_t kx = 0; kx < p.kernel_w; ++kx) {
              const int32_t y = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
              const int32_t x =
                  ox * p.stride_w - p.pad_left + kx * p.dilation_w;
              if (y < 0 || y >= p.in_h || x < 0 || x >= p.in_w) continue;
              for (int32_t ic = 0; ic < in_c_per_group; ++ic) {
                const int32_t c_in = g * in_c_per_group + ic;
                const double xr =
                    double(in_scale) *
                    (c.input[((b * p.in_h + y) * p.in_w + x) * p.in_c + c_in] -
                     p.input_zero_point);
                const double wr =
                    double(w_scale[oc]) *
                    c.filter[((oc * p.kernel_h + ky) * p.kernel_w + kx) *
                                 in_c_per_group +
                             ic];
                sum += xr * wr;
              }
            }
          }
          real[((b * p.out_h + oy) * p.out_w + ox) * p.out_c + oc] = sum;
          max_abs = std::max(max_abs, std::fabs(sum));
        }
      }
    }
  }

  // Output quantization: a range that fits most values, sometimes tighter so
  // that saturation happens, with an often extreme zero point.
  const double range = max_abs > 1e-9 ? max_abs : 1.0;
  const float out_scale =
      static_cast<float>(range / test::RandReal(rng, 40.0, 250.0));
  p.output_zero_point = test::RandZeroPoint(rng);
  switch (test::RandInt(rng, 0, 2)) {
    case 0:
      p.clamp = {-128, 127};
      break;
    case 1:  // ReLU
      p.clamp = {p.output_zero_point, 127};
      break;
    default: {
      int32_t lo = test::RandInt(rng, -128, 127);
      int32_t hi = test::RandInt(rng, -128, 127);
      if (lo > hi) std::swap(lo, hi);
      p.clamp = {lo, hi};
    }
  }
  const int32_t n_requant = per_channel ? p.out_c : 1;
  c.mult.resize(n_requant);
  c.shift.resize(n_requant);
  for (int32_t i = 0; i < n_requant; ++i) {
    const test::FixedMultiplier f =
        test::ToFixed(ConvRealMultiplier(in_scale, w_scale[i], out_scale));
    c.mult[i] = f.multiplier;
    c.shift[i] = static_cast<int8_t>(f.shift);
  }
  p.requant = {c.mult.data(), c.shift.data(), n_requant};

  c.output.assign(n_out, 0x55);
  ref::Conv2D(p, c.input.data(), c.filter.data(),
              c.has_bias ? c.bias.data() : nullptr, c.output.data());
  for (int32_t i = 0; i < n_out; ++i) {
    const double expected = test::QuantizeRealUnrounded(
        real[i], out_scale, p.output_zero_point, p.clamp.min, p.clamp.max);
    ASSERT_TRUE(test::WithinOneStep(c.output[i], expected))
        << "element " << i << " mode " << mode << " groups " << p.groups
        << " in " << p.in_h << "x" << p.in_w << "x" << p.in_c << " k "
        << p.kernel_h << "x" << p.kernel_w << " s " << p.stride_h << ","
        << p.stride_w << " d " << p.dilation_h << "," << p.dilation_w << " pad "
        << p.pad_top << "," << p.pad_left;
  }
}

TEST(Conv2DTest, RandomRegularAgainstFloat) {
  std::mt19937 rng(1);
  for (int i = 0; i < 400; ++i) RunRandomConv(rng, 0);
}

TEST(Conv2DTest, RandomGroupedAgainstFloat) {
  std::mt19937 rng(2);
  for (int i = 0; i < 400; ++i) RunRandomConv(rng, 1);
}

TEST(Conv2DTest, RandomDepthwiseAgainstFloat) {
  std::mt19937 rng(3);
  for (int i = 0; i < 400; ++i) RunRandomConv(rng, 2);
}

}  // namespace
}  // namespace kiln
