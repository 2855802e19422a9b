// INT8 MaxPool2D for AArch64 Advanced SIMD, 16 channels per step, exactly
// kernels/ref/max_pool2d.cc: the max over the in-bounds taps of the window
// (starting from -128), then the clamp. Max commutes with the shared
// quantization, so no requantization is involved.
#include <stdint.h>

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
  for (int32_t b = 0; b < p.batch; ++b) {
    const int8_t* in_b = input + static_cast<size_t>(b) * p.in_h * row;
    for (int32_t oy = 0; oy < p.out_h; ++oy) {
      const int32_t y0 = oy * p.stride_h - p.pad_top;
      const int32_t fy_lo = y0 < 0 ? -y0 : 0;
      const int32_t fy_hi = p.in_h - y0 < p.filter_h ? p.in_h - y0 : p.filter_h;
      for (int32_t ox = 0; ox < p.out_w; ++ox) {
        const int32_t x0 = ox * p.stride_w - p.pad_left;
        const int32_t fx_lo = x0 < 0 ? -x0 : 0;
        const int32_t fx_hi =
            p.in_w - x0 < p.filter_w ? p.in_w - x0 : p.filter_w;
        int8_t* out =
            output +
            ((static_cast<size_t>(b) * p.out_h + oy) * p.out_w + ox) * channels;
        int32_t c = 0;
        for (; c + 16 <= channels; c += 16) {
          int8x16_t m = vdupq_n_s8(-128);
          for (int32_t fy = fy_lo; fy < fy_hi; ++fy) {
            const int8_t* in_row =
                in_b + static_cast<size_t>(y0 + fy) * row + c;
            for (int32_t fx = fx_lo; fx < fx_hi; ++fx) {
              m = vmaxq_s8(m, vld1q_s8(in_row + static_cast<size_t>(x0 + fx) *
                                                    channels));
            }
          }
          vst1q_s8(out + c, vminq_s8(vmaxq_s8(m, vmin), vmax));
        }
        // Fewer than 16 channels left: the reference's loop.
        for (; c < channels; ++c) {
          int32_t m = -128;
          for (int32_t fy = fy_lo; fy < fy_hi; ++fy) {
            for (int32_t fx = fx_lo; fx < fx_hi; ++fx) {
              const int32_t v =
                  in_b[static_cast<size_t>(y0 + fy) * row +
                       static_cast<size_t>(x0 + fx) * channels + c];
              if (v > m) m = v;
            }
          }
          if (m < p.clamp.min) m = p.clamp.min;
          if (m > p.clamp.max) m = p.clamp.max;
          out[c] = static_cast<int8_t>(m);
        }
      }
    }
  }
}

}  // namespace kiln
