// Portable float32 -> int8 Quantize (ref::QuantizeFromFloat,
// kernels/ref/quantize.cc) without the libm call per element: the scalar
// path's kernel and the tail of the SIMD ones do the same arithmetic.
//
// roundf (half away from zero) is rebuilt from a truncating conversion:
// after clamping v to [-1024, 1024] (any |v| >= 512 saturates the result
// anyway, since |zero point| <= 128), t = trunc(v) and the fraction d = v - t
// are exact (Sterbenz: t and v share their sign and |v| / 2 <= |t| <= |v|,
// or t = 0), and roundf(v) = t + 1 if d >= 0.5, t - 1 if d <= -0.5, else t.
// So 0.49999997f rounds to 0, where floor(v + 0.5f) would give 1.
#include <stdint.h>

#include "kernels/ukernels.h"

namespace kiln {

void f32_qs8_quantize__scalar(const QuantizeFloatParams& p, const float* input,
                              int8_t* output) {
  const float scale = p.scale;
  const int32_t zp = p.output_zero_point;
  for (int32_t i = 0; i < p.size; ++i) {
    // Division (not multiplication by 1 / scale), as specified.
    float v = input[i] / scale;
    int32_t q = zp;  // NaN carries no value: the zero point (real 0)
    if (v == v) {
      v = v > 1024.0f ? 1024.0f : (v < -1024.0f ? -1024.0f : v);
      int32_t t = static_cast<int32_t>(v);
      const float d = v - static_cast<float>(t);
      t += (d >= 0.5f ? 1 : 0) - (d <= -0.5f ? 1 : 0);
      q = t + zp;
    }
    q = q < -128 ? -128 : (q > 127 ? 127 : q);
    output[i] = static_cast<int8_t>(q);
  }
}

}  // namespace kiln
