// Reference elementwise Add of two int8 tensors with different quantizations.
#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/requant.h"

namespace kiln {
namespace ref {

void Add(const AddParams& p, const int8_t* input1, const int8_t* input2,
         int8_t* output) {
  // Scaling up by 2^left_shift before the (<= 0.5) input multipliers keeps
  // enough fractional bits that the two rescaled operands can be summed
  // exactly in int32; |x - zp| <= 255 so (x - zp) * 2^20 < 2^28.
  const int32_t scale = int32_t(1) << p.left_shift;
  for (int32_t i = 0; i < p.size; ++i) {
    const int32_t shifted1 = (int32_t(input1[i]) - p.input1_zero_point) * scale;
    const int32_t shifted2 = (int32_t(input2[i]) - p.input2_zero_point) * scale;
    const int32_t a = MultiplyByQuantizedMultiplier(
        shifted1, p.input1_multiplier, p.input1_shift);
    const int32_t b = MultiplyByQuantizedMultiplier(
        shifted2, p.input2_multiplier, p.input2_shift);
    output[i] = static_cast<int8_t>(
        Requantize(a + b, p.output_multiplier, p.output_shift,
                   p.output_zero_point, p.clamp.min, p.clamp.max));
  }
}

}  // namespace ref
}  // namespace kiln
