// INT8 elementwise Add for AArch64 Advanced SIMD, 16 elements per step,
// exactly kernels/ref/add.cc:
//   a = M1((x1 - zp1) << left_shift), b = M2((x2 - zp2) << left_shift)
//   out = clamp(Mout(a + b) + zp_out)
// with every M the normative multiply-round-shift (requant_neon.h).
#include <stdint.h>

#include "kernels/qs8_gemm/requant_neon.h"
#include "kernels/ukernels.h"

namespace kiln {
namespace {

struct AddConsts {
  int16x8_t zp1, zp2;
  int32x4_t left_shift;
  neon::ScalarRequant m1, m2, out;
  neon::OutputStage stage;
};

// (x - zp) << left_shift of four int16 lanes, as int32 (|x - zp| <= 255,
// exact like the reference's multiplication by 2^left_shift).
static inline __attribute__((always_inline)) int32x4_t Shifted(
    int16x4_t d, int32x4_t left_shift) {
  return vshlq_s32(vmovl_s16(d), left_shift);
}

static inline __attribute__((always_inline)) int32x4_t AddLanes(
    int16x4_t d1, int16x4_t d2, const AddConsts& k) {
  const int32x4_t a = neon::MultiplyByQuantizedMultiplierScalar(
      Shifted(d1, k.left_shift), k.m1);
  const int32x4_t b = neon::MultiplyByQuantizedMultiplierScalar(
      Shifted(d2, k.left_shift), k.m2);
  return neon::MultiplyByQuantizedMultiplierScalar(neon::WrappingAdd(a, b),
                                                   k.out);
}

static inline __attribute__((always_inline)) void Add16(const int8_t* in1,
                                                        const int8_t* in2,
                                                        int8_t* out,
                                                        const AddConsts& k) {
  const int8x16_t x1 = vld1q_s8(in1);
  const int8x16_t x2 = vld1q_s8(in2);
  const int16x8_t d1lo = vsubq_s16(vmovl_s8(vget_low_s8(x1)), k.zp1);
  const int16x8_t d1hi = vsubq_s16(vmovl_high_s8(x1), k.zp1);
  const int16x8_t d2lo = vsubq_s16(vmovl_s8(vget_low_s8(x2)), k.zp2);
  const int16x8_t d2hi = vsubq_s16(vmovl_high_s8(x2), k.zp2);
  const int32x4_t r0 = AddLanes(vget_low_s16(d1lo), vget_low_s16(d2lo), k);
  const int32x4_t r1 = AddLanes(vget_high_s16(d1lo), vget_high_s16(d2lo), k);
  const int32x4_t r2 = AddLanes(vget_low_s16(d1hi), vget_low_s16(d2hi), k);
  const int32x4_t r3 = AddLanes(vget_high_s16(d1hi), vget_high_s16(d2hi), k);
  vst1q_s8(out, neon::FinishOutput16(r0, r1, r2, r3, k.stage));
}

}  // namespace

void qs8_vadd__neon(const AddParams& p, const int8_t* input1,
                    const int8_t* input2, int8_t* output) {
  AddConsts k;
  k.zp1 = vdupq_n_s16(static_cast<int16_t>(p.input1_zero_point));
  k.zp2 = vdupq_n_s16(static_cast<int16_t>(p.input2_zero_point));
  k.left_shift = vdupq_n_s32(p.left_shift);
  k.m1 = neon::MakeScalarRequant(p.input1_multiplier, p.input1_shift);
  k.m2 = neon::MakeScalarRequant(p.input2_multiplier, p.input2_shift);
  k.out = neon::MakeScalarRequant(p.output_multiplier, p.output_shift);
  k.stage =
      neon::MakeOutputStage(p.output_zero_point, p.clamp.min, p.clamp.max);
  int32_t i = 0;
  for (; i + 16 <= p.size; i += 16) {
    Add16(input1 + i, input2 + i, output + i, k);
  }
  if (i < p.size) {
    // Tail through a padded copy: never reads or writes past the tensors.
    const int32_t rest = p.size - i;
    int8_t a[16] = {0}, b[16] = {0}, o[16];
    for (int32_t j = 0; j < rest; ++j) {
      a[j] = input1[i + j];
      b[j] = input2[i + j];
    }
    Add16(a, b, o, k);
    for (int32_t j = 0; j < rest; ++j) output[i + j] = o[j];
  }
}

}  // namespace kiln
