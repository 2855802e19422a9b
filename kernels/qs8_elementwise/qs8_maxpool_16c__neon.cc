// INT8 MaxPool2D for AArch64 Advanced SIMD, 16 channels per step, exactly
// kernels/ref/max_pool2d.cc: the max over the in-bounds taps of the window
// (starting from -128), then the clamp. Max commutes with the shared
// quantization, so no requantization is involved.
#include <stdint.h>

#include "kernels/qs8_elementwise/pool_window.h"
#include "kernels/qs8_gemm/requant_neon.h"
#include "kernels/ukernels.h"

namespace kiln {

void qs8_maxpool__neon(const Pool2DParams& p, const int8_t* input,
                       int8_t* output) {
  const int32_t channels = p.channels;
  // Clamp bounds lie in [-128, 127]; as int8 the vector clamp is the
  // reference's for every valid bound.
  const int8x16_t vmin = vdupq_n_s8(neon::SaturateInt8(p.clamp.min));
  const int8x16_t vmax = vdupq_n_s8(neon::SaturateInt8(p.clamp.max));
  const size_t row = static_cast<size_t>(p.in_w) * channels;
  ForEachPoolWindow(p, input, output, [&](const PoolWindow& w) {
    int8_t* out = w.out;
    int32_t c = 0;
    for (; c + 16 <= channels; c += 16) {
      int8x16_t m = vdupq_n_s8(-128);
      for (int32_t fy = 0; fy < w.rows; ++fy) {
        const int8_t* in_row = w.first + static_cast<size_t>(fy) * row + c;
        for (int32_t fx = 0; fx < w.cols; ++fx) {
          m = vmaxq_s8(m,
                       vld1q_s8(in_row + static_cast<size_t>(fx) * channels));
        }
      }
      vst1q_s8(out + c, vminq_s8(vmaxq_s8(m, vmin), vmax));
    }
    // Fewer than 16 channels left: the reference's loop.
    for (; c < channels; ++c) {
      int32_t m = -128;
      for (int32_t fy = 0; fy < w.rows; ++fy) {
        for (int32_t fx = 0; fx < w.cols; ++fx) {
          const int32_t v = w.first[static_cast<size_t>(fy) * row +
                                    static_cast<size_t>(fx) * channels + c];
          if (v > m) m = v;
        }
      }
      if (m < p.clamp.min) m = p.clamp.min;
      if (m > p.clamp.max) m = p.clamp.max;
      out[c] = static_cast<int8_t>(m);
    }
  });
}

}  // namespace kiln
