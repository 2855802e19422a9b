// Tests of ref::Softmax.
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

// A synthetic table with easy arithmetic: exp_table[d] = 2^(24 - d) for
// d <= 24, 0 beyond (i.e. beta * s_in = ln 2).
struct HalvingTable {
  int32_t t[256];
  HalvingTable() {
    for (int d = 0; d < 256; ++d) t[d] = d <= 24 ? (int32_t(1) << (24 - d)) : 0;
  }
};

TEST(SoftmaxTest, HandRows) {
  const HalvingTable table;
  SoftmaxParams p{};
  p.rows = 4;
  p.depth = 3;
  p.exp_table = table.t;
  const int8_t in[] = {
      5,   4,    3,     // d = 0, 1, 2
      0,   0,    0,     // all equal
      127, -128, -128,  // d = 0, 255, 255
      -7,  -7,   -6,    // d = 1, 1, 0
  };
  // Row 0: e = 2^24, 2^23, 2^22, sum = 7 * 2^22; 256 * e / sum =
  //   1024/7 = 146.29 -> 146; 512/7 = 73.14 -> 73; 256/7 = 36.57 -> 37.
  //   -128: 18, -55, -91.
  // Row 1: 256 / 3 = 85.33 -> 85 each, -128: -43.
  // Row 2: 256 * 2^24 / 2^24 = 256 -> 128 -> clamp 127; 0 -> -128.
  // Row 3: e = 2^23, 2^23, 2^24, sum = 2^25: 64, 64, 128 -> -64, -64, 0.
  const int8_t expected[] = {18,  -55,  -91,  -43, -43, -43,
                             127, -128, -128, -64, -64, 0};
  int8_t out[12];
  ref::Softmax(p, in, out);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(out[i], expected[i]) << i;
}

TEST(SoftmaxTest, HandSingleElementAndPair) {
  const HalvingTable table;
  SoftmaxParams p{};
  p.exp_table = table.t;
  // Depth 1: probability 1 -> 256 - 128 = 128 -> 127.
  p.rows = 2;
  p.depth = 1;
  const int8_t one[] = {-128, 42};
  int8_t out[2];
  ref::Softmax(p, one, out);
  EXPECT_EQ(out[0], 127);
  EXPECT_EQ(out[1], 127);
  // Depth 2, equal: 0.5 -> 128 - 128 = 0.
  p.rows = 1;
  p.depth = 2;
  const int8_t pair[] = {9, 9};
  ref::Softmax(p, pair, out);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[1], 0);
}

TEST(SoftmaxTest, HandExactTiesRoundHalfUp) {
  // A custom table making 256 * e / sum land exactly on halves:
  //   exp_table[0] = 2^24, [1] = 2^16, [2] = 2^24 - 2^16; sum = 2^25.
  //   d=0: 256 * 2^24 / 2^25 = 128       -> 0
  //   d=1: 256 * 2^16 / 2^25 = 0.5       -> 1 -> -127
  //   d=2: 256 * (2^24 - 2^16) / 2^25 = 127.5 -> 128 -> 0
  int32_t table[256] = {};
  table[0] = 1 << 24;
  table[1] = 1 << 16;
  table[2] = (1 << 24) - (1 << 16);
  SoftmaxParams p{};
  p.rows = 1;
  p.depth = 3;
  p.exp_table = table;
  const int8_t in[] = {10, 9, 8};
  int8_t out[3];
  ref::Softmax(p, in, out);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[1], -127);
  EXPECT_EQ(out[2], 0);
}

TEST(SoftmaxTest, RandomAgainstFloat) {
  std::mt19937 rng(61);
  int32_t table[256];
  for (int iter = 0; iter < 500; ++iter) {
    const double beta = test::RandReal(rng, 0.25, 2.0);
    const float s_in = test::RandScale(rng, 0.005, 0.5);
    for (int d = 0; d < 256; ++d) {
      table[d] = static_cast<int32_t>(
          std::round(16777216.0 * std::exp(-beta * s_in * d)));
    }
    SoftmaxParams p{};
    p.rows = test::RandInt(rng, 1, 4);
    p.depth = test::RandInt(rng, 1, test::RandInt(rng, 0, 3) ? 20 : 1000);
    p.exp_table = table;
    std::vector<int8_t> in(p.rows * p.depth);
    // Logits are often clustered so that probabilities are not all tiny.
    const int32_t lo = test::RandInt(rng, -128, 127);
    const int32_t hi = test::RandInt(rng, lo, 127);
    for (int8_t& v : in) v = static_cast<int8_t>(test::RandInt(rng, lo, hi));
    std::vector<int8_t> out(in.size(), 0x55);
    ref::Softmax(p, in.data(), out.data());
    for (int32_t r = 0; r < p.rows; ++r) {
      const int8_t* x = &in[r * p.depth];
      const double m = *std::max_element(x, x + p.depth);
      double sum = 0;
      for (int32_t i = 0; i < p.depth; ++i) {
        sum += std::exp(beta * s_in * (x[i] - m));
      }
      for (int32_t i = 0; i < p.depth; ++i) {
        const double prob = std::exp(beta * s_in * (x[i] - m)) / sum;
        const double expected =
            std::min(127.0, std::max(-128.0, 256.0 * prob - 128.0));
        // Table entries are rounded to integers (error <= 0.5 out of a sum
        // >= 2^24 each), so 256 * p is off by at most ~256 * 0.5 * (depth +
        // 1) / 2^24 < 0.008 beyond the final rounding.
        ASSERT_TRUE(test::WithinOneStep(out[r * p.depth + i], expected, 0.01))
            << "depth " << p.depth << " beta " << beta << " s_in " << s_in;
      }
    }
  }
}

}  // namespace
}  // namespace kiln
