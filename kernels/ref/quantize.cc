// Reference Quantize: uint8 / int8 / float32 -> int8.
#include <math.h>

#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/requant.h"

namespace kiln {
namespace ref {

void QuantizeFromUint8(const QuantizeIntParams& p, const uint8_t* input,
                       int8_t* output) {
  for (int32_t i = 0; i < p.size; ++i) {
    output[i] = static_cast<int8_t>(
        Requantize(int32_t(input[i]) - p.input_zero_point, p.multiplier,
                   p.shift, p.output_zero_point, -128, 127));
  }
}

void QuantizeFromInt8(const QuantizeIntParams& p, const int8_t* input,
                      int8_t* output) {
  for (int32_t i = 0; i < p.size; ++i) {
    output[i] = static_cast<int8_t>(
        Requantize(int32_t(input[i]) - p.input_zero_point, p.multiplier,
                   p.shift, p.output_zero_point, -128, 127));
  }
}

void QuantizeFromFloat(const QuantizeFloatParams& p, const float* input,
                       int8_t* output) {
  for (int32_t i = 0; i < p.size; ++i) {
    // Division (not multiplication by 1 / scale) in float32, as specified.
    const float v = input[i] / p.scale;
    int32_t q;
    if (isnan(v)) {
      // NaN carries no value; map it to the zero point (real 0).
      q = p.output_zero_point;
    } else {
      // roundf rounds half away from zero. Converting a float outside the
      // int32 range is undefined, so clamp first: any |r| >= 512 saturates
      // the final result anyway because |zero point| <= 128. This also
      // saturates +/-inf.
      float r = roundf(v);
      if (r > 512.0f) r = 512.0f;
      if (r < -512.0f) r = -512.0f;
      q = static_cast<int32_t>(r) + p.output_zero_point;
    }
    if (q < -128) q = -128;
    if (q > 127) q = 127;
    output[i] = static_cast<int8_t>(q);
  }
}

}  // namespace ref
}  // namespace kiln
