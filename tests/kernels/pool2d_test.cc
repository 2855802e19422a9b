// Tests of ref::AveragePool2D and ref::MaxPool2D.
#include <gtest/gtest.h>
#include <stdint.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "tests/kernels/kernel_test_util.h"

namespace kiln {
namespace {

// 1x3x3x2 input: channel 0 holds 1..9, channel 1 holds -1..-9.
//   ch0: 1 2 3    ch1: -1 -2 -3
//        4 5 6         -4 -5 -6
//        7 8 9         -7 -8 -9
struct Image3x3 {
  int8_t data[18];
  Image3x3() {
    for (int i = 0; i < 9; ++i) {
      data[2 * i] = static_cast<int8_t>(i + 1);
      data[2 * i + 1] = static_cast<int8_t>(-(i + 1));
    }
  }
};

Pool2DParams BaseParams() {
  Pool2DParams p{};
  p.batch = 1;
  p.in_h = p.in_w = 3;
  p.channels = 2;
  p.clamp = {-128, 127};
  return p;
}

TEST(AveragePool2DTest, HandStrideTwoPartialWindows) {
  // 2x2 filter, stride 2, no top/left padding, out 2x2: the right column and
  // bottom row windows hang over the edge and average fewer elements.
  const Image3x3 img;
  Pool2DParams p = BaseParams();
  p.out_h = p.out_w = 2;
  p.filter_h = p.filter_w = 2;
  p.stride_h = p.stride_w = 2;
  // ch0: (1+2+4+5)/4 = 3; (3+6)/2 = 4.5 -> 5; (7+8)/2 = 7.5 -> 8; 9.
  // ch1: -3; -4.5 -> -5; -7.5 -> -8; -9 (half away from zero).
  const int8_t expected[] = {3, -3, 5, -5, 8, -8, 9, -9};
  int8_t out[8];
  ref::AveragePool2D(p, img.data, out);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(out[i], expected[i]) << i;
}

TEST(AveragePool2DTest, HandPaddingNotCounted) {
  // 3x3 filter, stride 1, pad 1: out 3x3. Corner windows have 4 in-bounds
  // elements, edges 6, the center 9.
  const Image3x3 img;
  Pool2DParams p = BaseParams();
  p.out_h = p.out_w = 3;
  p.filter_h = p.filter_w = 3;
  p.stride_h = p.stride_w = 1;
  p.pad_top = p.pad_left = 1;
  // ch0:
  //  (0,0) 1+2+4+5 = 12/4 = 3        (0,1) 1+2+3+4+5+6 = 21/6 = 3.5 -> 4
  //  (0,2) 2+3+5+6 = 16/4 = 4        (1,0) 1+2+4+5+7+8 = 27/6 = 4.5 -> 5
  //  (1,1) 45/9 = 5                  (1,2) 2+3+5+6+8+9 = 33/6 = 5.5 -> 6
  //  (2,0) 4+5+7+8 = 24/4 = 6        (2,1) 4+5+6+7+8+9 = 39/6 = 6.5 -> 7
  //  (2,2) 5+6+8+9 = 28/4 = 7
  // ch1 is the negation (half away from zero is symmetric).
  const int8_t ch0[] = {3, 4, 4, 5, 5, 6, 6, 7, 7};
  int8_t out[18];
  ref::AveragePool2D(p, img.data, out);
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(out[2 * i], ch0[i]) << i;
    EXPECT_EQ(out[2 * i + 1], -ch0[i]) << i;
  }
}

TEST(AveragePool2DTest, HandClampAndExtremes) {
  // 1x1x2x1 input {127, 126}: 1x2 filter -> 126.5 -> 127; {-128, -127}
  // -> -127.5 -> -128. Then clamp [-100, 100].
  const int8_t in[] = {127, 126, -128, -127};
  Pool2DParams p{};
  p.batch = 2;
  p.in_h = 1;
  p.in_w = 2;
  p.channels = 1;
  p.out_h = p.out_w = 1;
  p.filter_h = 1;
  p.filter_w = 2;
  p.stride_h = p.stride_w = 1;
  p.clamp = {-128, 127};
  int8_t out[2];
  ref::AveragePool2D(p, in, out);
  EXPECT_EQ(out[0], 127);
  EXPECT_EQ(out[1], -128);
  p.clamp = {-100, 100};
  ref::AveragePool2D(p, in, out);
  EXPECT_EQ(out[0], 100);
  EXPECT_EQ(out[1], -100);
}

TEST(MaxPool2DTest, HandPaddingNeverWins) {
  // 3x3 filter, stride 2, pad 1 on a 3x3 input: out 2x2. Channel 1 is all
  // negative, so a padding value of 0 (or of any zero point) would win if
  // padding were not skipped.
  const Image3x3 img;
  Pool2DParams p = BaseParams();
  p.out_h = p.out_w = 2;
  p.filter_h = p.filter_w = 3;
  p.stride_h = p.stride_w = 2;
  p.pad_top = p.pad_left = 1;
  // ch0: (0,0) rows 0-1 cols 0-1 -> 5; (0,1) rows 0-1 cols 1-2 -> 6;
  //      (1,0) rows 1-2 cols 0-1 -> 8; (1,1) rows 1-2 cols 1-2 -> 9.
  // ch1: -1; -2; -4; -5.
  const int8_t expected[] = {5, -1, 6, -2, 8, -4, 9, -5};
  int8_t out[8];
  ref::MaxPool2D(p, img.data, out);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(out[i], expected[i]) << i;
}

TEST(MaxPool2DTest, HandClampAndExtremes) {
  // 2x2 filter over a 2x2 input, two channels.
  const int8_t in[] = {-128, 127, -128, 0, -128, 5, -128, -7};
  Pool2DParams p{};
  p.batch = 1;
  p.in_h = p.in_w = 2;
  p.channels = 2;
  p.out_h = p.out_w = 1;
  p.filter_h = p.filter_w = 2;
  p.stride_h = p.stride_w = 2;
  p.clamp = {-128, 127};
  int8_t out[2];
  ref::MaxPool2D(p, in, out);
  EXPECT_EQ(out[0], -128);
  EXPECT_EQ(out[1], 127);
  // ReLU6-like clamp [-3, 6]: -128 -> -3, 127 -> 6.
  p.clamp = {-3, 6};
  ref::MaxPool2D(p, in, out);
  EXPECT_EQ(out[0], -3);
  EXPECT_EQ(out[1], 6);
}

// Random pools against the real-valued definition (scale and zero point are
// shared by input and output, so the real pool of dequantized values,
// quantized back, is the expectation).
void RunRandomPool(std::mt19937& rng, bool average) {
  Pool2DParams p{};
  p.batch = test::RandInt(rng, 1, 2);
  p.channels = test::RandInt(rng, 1, 5);
  p.filter_h = test::RandInt(rng, 1, 4);
  p.filter_w = test::RandInt(rng, 1, 4);
  p.stride_h = test::RandInt(rng, 1, 3);
  p.stride_w = test::RandInt(rng, 1, 2);
  int32_t pad_bottom, pad_right;
  do {
    p.in_h = test::RandInt(rng, 1, 9);
    p.in_w = test::RandInt(rng, 1, 9);
    // Padding smaller than the filter, so that every window has at least
    // one in-bounds element (what a valid model guarantees).
    p.pad_top = test::RandInt(rng, 0, p.filter_h - 1);
    p.pad_left = test::RandInt(rng, 0, p.filter_w - 1);
    pad_bottom = test::RandInt(rng, 0, p.filter_h - 1);
    pad_right = test::RandInt(rng, 0, p.filter_w - 1);
  } while (p.in_h + p.pad_top + pad_bottom < p.filter_h ||
           p.in_w + p.pad_left + pad_right < p.filter_w);
  p.out_h = (p.in_h + p.pad_top + pad_bottom - p.filter_h) / p.stride_h + 1;
  p.out_w = (p.in_w + p.pad_left + pad_right - p.filter_w) / p.stride_w + 1;
  const float scale = test::RandScale(rng, 0.001, 1.0);
  const int32_t zp = test::RandZeroPoint(rng);
  switch (test::RandInt(rng, 0, 2)) {
    case 0:
      p.clamp = {-128, 127};
      break;
    case 1:
      p.clamp = {zp, 127};
      break;
    default:
      p.clamp = {test::RandInt(rng, -128, 0), test::RandInt(rng, 0, 127)};
  }
  std::vector<int8_t> in(p.batch * p.in_h * p.in_w * p.channels);
  for (int8_t& v : in) v = test::RandInt8(rng);
  std::vector<int8_t> out(p.batch * p.out_h * p.out_w * p.channels, 0x55);
  if (average) {
    ref::AveragePool2D(p, in.data(), out.data());
  } else {
    ref::MaxPool2D(p, in.data(), out.data());
  }
  for (int32_t b = 0; b < p.batch; ++b) {
    for (int32_t oy = 0; oy < p.out_h; ++oy) {
      for (int32_t ox = 0; ox < p.out_w; ++ox) {
        for (int32_t c = 0; c < p.channels; ++c) {
          double sum = 0, max = -1e300;
          int count = 0;
          for (int32_t y = oy * p.stride_h - p.pad_top;
               y < oy * p.stride_h - p.pad_top + p.filter_h; ++y) {
            for (int32_t x = ox * p.stride_w - p.pad_left;
                 x < ox * p.stride_w - p.pad_left + p.filter_w; ++x) {
              if (y < 0 || y >= p.in_h || x < 0 || x >= p.in_w) continue;
              const double r =
                  double(scale) *
                  (in[((b * p.in_h + y) * p.in_w + x) * p.channels + c] - zp);
              sum += r;
              max = std::max(max, r);
              ++count;
            }
          }
          ASSERT_GT(count, 0);
          const int32_t got =
              out[((b * p.out_h + oy) * p.out_w + ox) * p.channels + c];
          if (average) {
            ASSERT_TRUE(test::WithinOneStep(
                got, test::QuantizeRealUnrounded(sum / count, scale, zp,
                                                 p.clamp.min, p.clamp.max)));
          } else {
            // The max of real values maps back exactly: no rounding at all.
            ASSERT_EQ(got, test::QuantizeReal(max, scale, zp, p.clamp.min,
                                              p.clamp.max));
          }
        }
      }
    }
  }
}

TEST(AveragePool2DTest, RandomAgainstFloat) {
  std::mt19937 rng(31);
  for (int i = 0; i < 1000; ++i) RunRandomPool(rng, true);
}

TEST(MaxPool2DTest, RandomAgainstFloat) {
  std::mt19937 rng(32);
  for (int i = 0; i < 1000; ++i) RunRandomPool(rng, false);
}

}  // namespace
}  // namespace kiln
