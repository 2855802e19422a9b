// NEON form of the normative requantization (kernels/requant.h), shared by
// the AArch64 kernels (__neon and __neondot units). Everything here is
// static inline, so each ISA translation unit gets its own copy (see the
// rule in kernels/CMakeLists.txt).
//
// Per lane, exactly MultiplyByQuantizedMultiplier + Requantize:
//   total = 31 - shift                                   (1 .. 62)
//   r     = (int64(acc) * multiplier + 2^(total-1)) >> total
//   out   = clamp(saturate_int32(r) + zero_point, act_min, act_max)
// The 64-bit product comes from vmull_s32 (smull, exact). The rounding add
// and the arithmetic shift are one SRSHL (vrshlq_s64 with the negative count
// -total): the architecture defines it as (element + 2^(total-1)) >> total
// computed on the unbounded integer, i.e. exactly the reference expression
// (the reference sum never overflows int64 anyway). vqmovn_s64 then
// saturates to int32 like the reference.
#ifndef KILN_KERNELS_QS8_GEMM_REQUANT_NEON_H_
#define KILN_KERNELS_QS8_GEMM_REQUANT_NEON_H_

#if defined(__aarch64__)

#include <arm_neon.h>
#include <stdint.h>

namespace kiln {
namespace neon {

// int32 lane-wise a + b and a - b with two's-complement wrap-around (the
// accumulator contract of the reference). GCC implements vaddq_s32 /
// vsubq_s32 as plain signed vector arithmetic, where overflow is undefined;
// the unsigned forms wrap by definition and compile to the same ADD / SUB.
static inline int32x4_t WrappingAdd(int32x4_t a, int32x4_t b) {
  return vreinterpretq_s32_u32(
      vaddq_u32(vreinterpretq_u32_s32(a), vreinterpretq_u32_s32(b)));
}
static inline int32x4_t WrappingSub(int32x4_t a, int32x4_t b) {
  return vreinterpretq_s32_u32(
      vsubq_u32(vreinterpretq_u32_s32(a), vreinterpretq_u32_s32(b)));
}

// Shift count of the SRSHL for a requant shift: -(31 - shift), as int32.
static inline int32x4_t NegativeTotalShift(int32x4_t shift) {
  return vsubq_s32(shift, vdupq_n_s32(31));
}

// MultiplyByQuantizedMultiplier for four lanes; neg_total_lo / _hi are the
// negative total shifts of lanes 0-1 and 2-3 as int64 (what SRSHL reads).
static inline int32x4_t MultiplyByQuantizedMultiplierQ(int32x4_t acc,
                                                       int32x4_t multiplier,
                                                       int64x2_t neg_total_lo,
                                                       int64x2_t neg_total_hi) {
  int64x2_t lo = vmull_s32(vget_low_s32(acc), vget_low_s32(multiplier));
  int64x2_t hi = vmull_high_s32(acc, multiplier);
  lo = vrshlq_s64(lo, neg_total_lo);
  hi = vrshlq_s64(hi, neg_total_hi);
  return vqmovn_high_s64(vqmovn_s64(lo), hi);
}

// Same with per-lane shifts given as the requant shift itself.
static inline int32x4_t MultiplyByQuantizedMultiplierPerLane(
    int32x4_t acc, int32x4_t multiplier, int32x4_t shift) {
  const int32x4_t neg_total = NegativeTotalShift(shift);
  return MultiplyByQuantizedMultiplierQ(acc, multiplier,
                                        vmovl_s32(vget_low_s32(neg_total)),
                                        vmovl_high_s32(neg_total));
}

// One multiplier and shift for every lane, prepared once per call.
struct ScalarRequant {
  int32x4_t multiplier;
  int64x2_t neg_total;
};

static inline ScalarRequant MakeScalarRequant(int32_t multiplier,
                                              int32_t shift) {
  ScalarRequant r;
  r.multiplier = vdupq_n_s32(multiplier);
  r.neg_total = vdupq_n_s64(static_cast<int64_t>(shift) - 31);
  return r;
}

static inline int32x4_t MultiplyByQuantizedMultiplierScalar(
    int32x4_t acc, const ScalarRequant& r) {
  return MultiplyByQuantizedMultiplierQ(acc, r.multiplier, r.neg_total,
                                        r.neg_total);
}

// Output zero point and clamp, prepared once per call. The clamp bounds lie
// in [-128, 127] (docs/quantization.md); saturating them to int8 here keeps
// the int8-domain clamp below equal to the reference's int32 clamp for any
// bounds that the reference's int8 store would not wrap.
struct OutputStage {
  int32x4_t zero_point;
  int8x16_t min;
  int8x16_t max;
};

static inline int8_t SaturateInt8(int32_t v) {
  return static_cast<int8_t>(v < -128 ? -128 : (v > 127 ? 127 : v));
}

static inline OutputStage MakeOutputStage(int32_t zero_point, int32_t act_min,
                                          int32_t act_max) {
  OutputStage s;
  s.zero_point = vdupq_n_s32(zero_point);
  s.min = vdupq_n_s8(SaturateInt8(act_min));
  s.max = vdupq_n_s8(SaturateInt8(act_max));
  return s;
}

// Requantized values (after MultiplyByQuantizedMultiplier) of 16 lanes to
// int8: + zero point, clamp. The reference adds the zero point in 64 bits and
// clamps to [act_min, act_max] within [-128, 127]; a saturating int32 add
// followed by saturating narrowing to int8 and the same clamp gives the same
// byte, because saturation is monotonic and the identity on the clamp range.
static inline int8x16_t FinishOutput16(int32x4_t r0, int32x4_t r1, int32x4_t r2,
                                       int32x4_t r3, const OutputStage& s) {
  r0 = vqaddq_s32(r0, s.zero_point);
  r1 = vqaddq_s32(r1, s.zero_point);
  r2 = vqaddq_s32(r2, s.zero_point);
  r3 = vqaddq_s32(r3, s.zero_point);
  const int16x8_t lo = vqmovn_high_s32(vqmovn_s32(r0), r1);
  const int16x8_t hi = vqmovn_high_s32(vqmovn_s32(r2), r3);
  int8x16_t out = vqmovn_high_s16(vqmovn_s16(lo), hi);
  out = vmaxq_s8(out, s.min);
  return vminq_s8(out, s.max);
}

// Requantizes 16 int32 accumulators of 16 consecutive channels (per-channel
// multiplier and shift arrays at the same index) to int8.
static inline int8x16_t RequantizePerChannel16(int32x4_t a0, int32x4_t a1,
                                               int32x4_t a2, int32x4_t a3,
                                               const int32_t* multiplier,
                                               const int32_t* shift,
                                               const OutputStage& s) {
  a0 = MultiplyByQuantizedMultiplierPerLane(a0, vld1q_s32(multiplier),
                                            vld1q_s32(shift));
  a1 = MultiplyByQuantizedMultiplierPerLane(a1, vld1q_s32(multiplier + 4),
                                            vld1q_s32(shift + 4));
  a2 = MultiplyByQuantizedMultiplierPerLane(a2, vld1q_s32(multiplier + 8),
                                            vld1q_s32(shift + 8));
  a3 = MultiplyByQuantizedMultiplierPerLane(a3, vld1q_s32(multiplier + 12),
                                            vld1q_s32(shift + 12));
  return FinishOutput16(a0, a1, a2, a3, s);
}

// Stores the first `count` (1..16) bytes of v at dst.
static inline void StorePartial16(int8_t* dst, int8x16_t v, int32_t count) {
  if (count == 16) {
    vst1q_s8(dst, v);
    return;
  }
  int8_t buf[16];
  vst1q_s8(buf, v);
  for (int32_t i = 0; i < count; ++i) dst[i] = buf[i];
}

}  // namespace neon
}  // namespace kiln

#endif  // defined(__aarch64__)

#endif  // KILN_KERNELS_QS8_GEMM_REQUANT_NEON_H_
