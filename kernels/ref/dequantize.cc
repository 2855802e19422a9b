// Reference Dequantize: int8 -> float32, real = scale * (q - zero_point).
#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"

namespace kiln {
namespace ref {

void Dequantize(const DequantizeParams& p, const int8_t* input, float* output) {
  for (int32_t i = 0; i < p.size; ++i) {
    // x - zp is an exact small integer; one float32 multiply, no double, so
    // every implementation gets the same correctly rounded bits.
    output[i] =
        p.scale * static_cast<float>(int32_t(input[i]) - p.input_zero_point);
  }
}

}  // namespace ref
}  // namespace kiln
