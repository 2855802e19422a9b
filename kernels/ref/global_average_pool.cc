// Reference GlobalAveragePool: mean over H and W of an NHWC tensor. The
// division by h * w is folded into the fixed-point multiplier, so the sum is
// requantized once (a single rounding) instead of divided and then rescaled.
#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/requant.h"

namespace kiln {
namespace ref {

void GlobalAveragePool(const GlobalAveragePoolParams& p, const int8_t* input,
                       int8_t* output) {
  const int32_t spatial = p.h * p.w;
  for (int32_t b = 0; b < p.batch; ++b) {
    const int8_t* in = input + b * spatial * p.channels;
    for (int32_t c = 0; c < p.channels; ++c) {
      // |x - zp| <= 255, so the sum fits int32 for any h * w below 2^23.
      int32_t acc = 0;
      for (int32_t i = 0; i < spatial; ++i) {
        acc += int32_t(in[i * p.channels + c]) - p.input_zero_point;
      }
      output[b * p.channels + c] = static_cast<int8_t>(Requantize(
          acc, p.multiplier, p.shift, p.output_zero_point, -128, 127));
    }
  }
}

}  // namespace ref
}  // namespace kiln
