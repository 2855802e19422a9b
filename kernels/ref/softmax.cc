// Reference Softmax, int8 -> int8 with output scale 1/256 and zero point -128.
#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"

namespace kiln {
namespace ref {

void Softmax(const SoftmaxParams& p, const int8_t* input, int8_t* output) {
  for (int32_t r = 0; r < p.rows; ++r) {
    const int8_t* in = input + r * p.depth;
    int8_t* out = output + r * p.depth;

    // Subtracting the row max makes every exponent <= 0, so the table index
    // d = max - x lies in 0..255 and exp_table[0] = 2^24 dominates the sum.
    int32_t max = -128;
    for (int32_t i = 0; i < p.depth; ++i) {
      if (in[i] > max) max = in[i];
    }

    // A valid table holds values in [0, 2^24] with exp_table[0] = 2^24 > 0
    // (the row max contributes it), so sum > 0, and the unsigned 64-bit sum
    // is exact for any depth below 2^39.
    uint64_t sum = 0;
    for (int32_t i = 0; i < p.depth; ++i) {
      sum += static_cast<uint64_t>(p.exp_table[max - in[i]]);
    }

    // out = round(e * 256 / sum) - 128 in unsigned 64-bit integer arithmetic:
    // e * 256 <= 2^32, and adding sum / 2 before the floor division rounds
    // half up. (When sum is odd, e * 256 / sum is never exactly x.5, so the
    // truncated sum / 2 still rounds correctly.) The quotient is in 0..256;
    // 256 (a single dominant element) saturates to 127 after the offset.
    for (int32_t i = 0; i < p.depth; ++i) {
      const uint64_t e = static_cast<uint64_t>(p.exp_table[max - in[i]]);
      const uint64_t q = (e * 256u + sum / 2u) / sum;
      int32_t v = static_cast<int32_t>(q) - 128;
      if (v > 127) v = 127;
      if (v < -128) v = -128;
      out[i] = static_cast<int8_t>(v);
    }
  }
}

}  // namespace ref
}  // namespace kiln
