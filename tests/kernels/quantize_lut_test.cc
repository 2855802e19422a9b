// The table-driven integer Quantize equals the reference for every input
// byte and any parameters (kernels/driver/quantize_lut.h).
#include "kernels/driver/quantize_lut.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/ref/ref_kernels.h"

namespace kiln {
namespace {

TEST(QuantizeLut, EqualsTheReferenceForEveryByte) {
  std::mt19937 rng(17);
  std::uniform_int_distribution<int32_t> zp(-128, 127), zp_u8(0, 255);
  std::uniform_int_distribution<int32_t> mult((1 << 30), INT32_MAX);
  std::uniform_int_distribution<int32_t> shift(-31, 30);
  std::vector<uint8_t> input(1000);
  for (auto& b : input) b = static_cast<uint8_t>(rng());
  for (int trial = 0; trial < 200; ++trial) {
    for (bool int8_input : {false, true}) {
      QuantizeIntParams p;
      p.size = static_cast<int32_t>(input.size());
      p.input_zero_point = int8_input ? zp(rng) : zp_u8(rng);
      p.output_zero_point = zp(rng);
      p.multiplier = trial % 10 == 0 ? 0 : mult(rng);
      p.shift = trial % 10 == 0 ? 0 : shift(rng);
      if (trial == 1) p.multiplier = 1 << 30, p.shift = 30;
      if (trial == 2) p.multiplier = INT32_MAX, p.shift = -31;
      int8_t table[kQuantizeLutBytes];
      BuildQuantizeLut(p, int8_input, table);
      std::vector<int8_t> expected(input.size()), got(input.size(), 0x55);
      if (int8_input) {
        ref::QuantizeFromInt8(p, reinterpret_cast<const int8_t*>(input.data()),
                              expected.data());
      } else {
        ref::QuantizeFromUint8(p, input.data(), expected.data());
      }
      QuantizeWithLut(table, input.data(), p.size, got.data());
      ASSERT_EQ(got, expected) << "trial " << trial << " int8 " << int8_input;
    }
  }
}

}  // namespace
}  // namespace kiln
