// AArch64 float32 -> int8 Quantize (ref::QuantizeFromFloat,
// kernels/ref/quantize.cc), 16 elements per step. fcvtas is roundf itself:
// round to nearest, ties away from zero, saturating to int32, NaN to 0. So
// with IEEE division by the scale, q = sat(fcvtas(v) + zp) is the reference
// exactly: NaN gives 0 + zp, and every |v| >= 512 (inf included) saturates
// the final int8 either way (|zero point| <= 128). The narrowing moves
// saturate, which is the final clamp to [-128, 127].
#include <arm_neon.h>
#include <stdint.h>

#include "kernels/ukernels.h"

namespace kiln {
namespace {

static inline __attribute__((always_inline)) int16x8_t Quantize8(
    const float* x, float32x4_t scale, int32x4_t zp) {
  const int32x4_t lo =
      vqaddq_s32(vcvtaq_s32_f32(vdivq_f32(vld1q_f32(x), scale)), zp);
  const int32x4_t hi =
      vqaddq_s32(vcvtaq_s32_f32(vdivq_f32(vld1q_f32(x + 4), scale)), zp);
  return vcombine_s16(vqmovn_s32(lo), vqmovn_s32(hi));
}

}  // namespace

void f32_qs8_quantize__neon(const QuantizeFloatParams& p, const float* input,
                            int8_t* output) {
  const float32x4_t scale = vdupq_n_f32(p.scale);
  const int32x4_t zp = vdupq_n_s32(p.output_zero_point);
  int32_t i = 0;
  for (; i + 16 <= p.size; i += 16) {
    const int16x8_t a = Quantize8(input + i, scale, zp);
    const int16x8_t b = Quantize8(input + i + 8, scale, zp);
    vst1q_s8(output + i, vcombine_s8(vqmovn_s16(a), vqmovn_s16(b)));
  }
  for (; i < p.size; ++i) {
    const float32x4_t v = vdupq_n_f32(input[i]);
    const int32x4_t q = vqaddq_s32(vcvtaq_s32_f32(vdivq_f32(v, scale)), zp);
    output[i] =
        vget_lane_s8(vqmovn_s16(vcombine_s16(vqmovn_s32(q), vqmovn_s32(q))), 0);
  }
}

}  // namespace kiln
