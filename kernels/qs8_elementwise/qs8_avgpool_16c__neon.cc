// INT8 AveragePool2D for AArch64 Advanced SIMD, 16 channels per step,
// exactly kernels/ref/average_pool2d.cc: the sum of the in-bounds taps
// divided by their count, rounding half away from zero, then the clamp.
//
// Sums are exact: int16 lanes hold up to 256 int8 values (|sum| <= 2^15),
// longer windows widen to int32 per tap. NEON has no integer division; the
// quotient floor((|sum| + count / 2) / count) is computed with one correctly
// rounded float division, which is exact here: the dividend t is an integer
// below 2^24 (count <= 2^16, so |sum| + count / 2 <= 128.5 * count), and if
// t / count = n - e with integer n and e > 0 then e >= 1 / count, larger
// than half an ulp of n because n * count <= t < 2^24; so rounding never
// reaches n and truncation gives n - 1. Larger windows use the scalar
// division (DivideRoundHalfAway from requant.h).
#include <stdint.h>

#include "kernels/qs8_elementwise/pool_window.h"
#include "kernels/qs8_gemm/requant_neon.h"
#include "kernels/requant.h"
#include "kernels/ukernels.h"

namespace kiln {
namespace {

constexpr int32_t kMaxInt16Taps = 256;
constexpr int32_t kMaxFloatDivisor = 1 << 16;

// DivideRoundHalfAway(num, count) for four lanes.
static inline __attribute__((always_inline)) int32x4_t DivideRound(
    int32x4_t num, int32_t count) {
  if (count > kMaxFloatDivisor) {
    int32_t v[4];
    vst1q_s32(v, num);
    for (int i = 0; i < 4; ++i) v[i] = DivideRoundHalfAway(v[i], count);
    return vld1q_s32(v);
  }
  const uint32x4_t t = vaddq_u32(vreinterpretq_u32_s32(vabsq_s32(num)),
                                 vdupq_n_u32(static_cast<uint32_t>(count / 2)));
  const uint32x4_t q = vcvtq_u32_f32(
      vdivq_f32(vcvtq_f32_u32(t), vdupq_n_f32(static_cast<float>(count))));
  const int32x4_t qs = vreinterpretq_s32_u32(q);
  return vbslq_s32(vcltzq_s32(num), vnegq_s32(qs), qs);
}

}  // namespace

void qs8_avgpool__neon(const Pool2DParams& p, const int8_t* input,
                       int8_t* output) {
  const int32_t channels = p.channels;
  // Averages lie in [-128, 127]; as int8 the vector clamp is the
  // reference's for every valid bound.
  const int8x16_t vmin = vdupq_n_s8(neon::SaturateInt8(p.clamp.min));
  const int8x16_t vmax = vdupq_n_s8(neon::SaturateInt8(p.clamp.max));
  const size_t row = static_cast<size_t>(p.in_w) * channels;
  ForEachPoolWindow(p, input, output, [&](const PoolWindow& w) {
    // The verifier guarantees at least one in-bounds tap.
    const int32_t count = w.rows * w.cols;
    int8_t* out = w.out;
    int32_t c = 0;
    for (; c + 16 <= channels; c += 16) {
      int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0;
      int16x8_t lo = vdupq_n_s16(0), hi = lo;
      int32_t pending = 0;  // taps summed in lo/hi
      for (int32_t fy = 0; fy < w.rows; ++fy) {
        const int8_t* in_row = w.first + static_cast<size_t>(fy) * row + c;
        for (int32_t fx = 0; fx < w.cols; ++fx) {
          const int8x16_t v =
              vld1q_s8(in_row + static_cast<size_t>(fx) * channels);
          lo = vaddw_s8(lo, vget_low_s8(v));
          hi = vaddw_high_s8(hi, v);
          if (++pending == kMaxInt16Taps) {
            s0 = vaddw_s16(s0, vget_low_s16(lo));
            s1 = vaddw_high_s16(s1, lo);
            s2 = vaddw_s16(s2, vget_low_s16(hi));
            s3 = vaddw_high_s16(s3, hi);
            lo = vdupq_n_s16(0);
            hi = lo;
            pending = 0;
          }
        }
      }
      s0 = vaddw_s16(s0, vget_low_s16(lo));
      s1 = vaddw_high_s16(s1, lo);
      s2 = vaddw_s16(s2, vget_low_s16(hi));
      s3 = vaddw_high_s16(s3, hi);
      s0 = DivideRound(s0, count);
      s1 = DivideRound(s1, count);
      s2 = DivideRound(s2, count);
      s3 = DivideRound(s3, count);
      // Averages of int8 values are int8 values: the narrowing is exact.
      const int16x8_t n01 = vmovn_high_s32(vmovn_s32(s0), s1);
      const int16x8_t n23 = vmovn_high_s32(vmovn_s32(s2), s3);
      const int8x16_t avg = vmovn_high_s16(vmovn_s16(n01), n23);
      vst1q_s8(out + c, vminq_s8(vmaxq_s8(avg, vmin), vmax));
    }
    // Fewer than 16 channels left: the reference's loop.
    for (; c < channels; ++c) {
      int32_t sum = 0;
      for (int32_t fy = 0; fy < w.rows; ++fy) {
        for (int32_t fx = 0; fx < w.cols; ++fx) {
          sum += w.first[static_cast<size_t>(fy) * row +
                         static_cast<size_t>(fx) * channels + c];
        }
      }
      int32_t avg = DivideRoundHalfAway(sum, count);
      if (avg < p.clamp.min) avg = p.clamp.min;
      if (avg > p.clamp.max) avg = p.clamp.max;
      out[c] = static_cast<int8_t>(avg);
    }
  });
}

}  // namespace kiln
