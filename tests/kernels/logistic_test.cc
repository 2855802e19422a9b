// Tests of ref::Logistic (a table lookup indexed by x + 128).
#include <gtest/gtest.h>
#include <stdint.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "tests/kernels/kernel_test_util.h"

namespace kiln {
namespace {

TEST(LogisticTest, HandIndexing) {
  // table[i] = 127 - i, so out = 127 - (x + 128) = -1 - x: any off-by-one
  // in the index shows.
  int8_t table[256];
  for (int i = 0; i < 256; ++i) table[i] = static_cast<int8_t>(127 - i);
  LogisticParams p{};
  p.size = 5;
  p.table = table;
  const int8_t in[] = {-128, -1, 0, 1, 127};
  const int8_t expected[] = {127, 0, -1, -2, -128};
  int8_t out[5];
  ref::Logistic(p, in, out);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(out[i], expected[i]) << i;
}

TEST(LogisticTest, AllInputsAgainstFloatSigmoid) {
  // A sigmoid table as the toolchain would build it (output scale 1/256,
  // zero point -128), then every int8 input against the float sigmoid.
  std::mt19937 rng(71);
  for (int iter = 0; iter < 50; ++iter) {
    const float s_in = test::RandScale(rng, 0.01, 0.2);
    const int32_t zp_in = test::RandZeroPoint(rng);
    int8_t table[256];
    for (int i = 0; i < 256; ++i) {
      const double real = double(s_in) * ((i - 128) - zp_in);
      table[i] = static_cast<int8_t>(
          test::QuantizeReal(1.0 / (1.0 + std::exp(-real)), 1.0 / 256, -128));
    }
    LogisticParams p{};
    p.size = 256;
    p.table = table;
    int8_t in[256], out[256];
    for (int i = 0; i < 256; ++i) in[i] = static_cast<int8_t>(i - 128);
    ref::Logistic(p, in, out);
    for (int i = 0; i < 256; ++i) {
      const double sig =
          1.0 / (1.0 + std::exp(-double(s_in) * (in[i] - zp_in)));
      ASSERT_TRUE(test::WithinOneStep(
          out[i], test::QuantizeRealUnrounded(sig, 1.0 / 256, -128), 1e-6))
          << "x=" << int(in[i]);
    }
  }
}

}  // namespace
}  // namespace kiln
