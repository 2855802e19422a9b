// Exact AVX2 requantization with one multiplier and shift for all lanes
// (Add, GlobalAveragePool), for the AVX2 elementwise translation units.
// Every function is static inline (rule for ISA translation units).
//
// Per lane, bit for bit MultiplyByQuantizedMultiplier of kernels/requant.h:
//   r = saturate_int32((int64(x) * M + 2^(t-1)) >> t),  t = 31 - shift.
#ifndef KILN_KERNELS_QS8_ELEMENTWISE_EW_REQUANT_AVX2_H_
#define KILN_KERNELS_QS8_ELEMENTWISE_EW_REQUANT_AVX2_H_

#include <immintrin.h>
#include <stdint.h>

namespace kiln {

// How the rounding shift by t = 31 - shift is done (see EwMultiply).
enum EwMode : int32_t { kEwHigh, kEwLow, kEwSaturate };

struct EwRequant {
  EwMode mode;
  __m256i mult;  // M in every int32 (vpmuldq reads the even ones)
  // kEwHigh (t >= 33): (hi32(x * M) + 2^(t-33)) >> (t-32).
  __m256i round32;
  __m128i shift32;
  // kEwLow (t = 31, 32): low 32 bits of (x * M + 2^(t-1)) >> t.
  __m256i round64;
  __m128i shift64;
  __m128i shift64_odd;  // 32 - t
  // kEwSaturate (t <= 30): ((x * M + 2^(t-1) + 2^62) >>> t) - 2^(62-t).
  __m256i round64_off;
  __m256i corr64;
};

static inline EwRequant EwRequantInit(int32_t multiplier, int32_t shift) {
  const int32_t t = 31 - shift;  // 1 .. 62
  EwRequant q;
  q.mode = t >= 33 ? kEwHigh : t >= 31 ? kEwLow : kEwSaturate;
  q.mult = _mm256_set1_epi32(multiplier);
  q.round32 = _mm256_set1_epi32(t >= 33 ? int32_t(1) << (t - 33) : 0);
  q.shift32 = _mm_cvtsi32_si128(t >= 33 ? t - 32 : 0);
  q.round64 = _mm256_set1_epi64x(int64_t(1) << (t - 1));
  q.shift64 = _mm_cvtsi32_si128(t);
  q.shift64_odd = _mm_cvtsi32_si128(t <= 32 ? 32 - t : 0);
  q.round64_off =
      _mm256_set1_epi64x((int64_t(1) << (t - 1)) + (int64_t(1) << 62));
  q.corr64 = _mm256_set1_epi64x(int64_t(1) << (62 - t));
  return q;
}

// MultiplyByQuantizedMultiplier of 8 int32 lanes.
static inline __m256i EwMultiply(__m256i x, const EwRequant& q) {
  const __m256i pe = _mm256_mul_epi32(x, q.mult);
  const __m256i po = _mm256_mul_epi32(_mm256_srli_epi64(x, 32), q.mult);
  if (q.mode == kEwHigh) {
    // t >= 33: the rounding term is a multiple of 2^32, so only the high
    // 32 bits of the product matter (floor of floor); |hi| < 2^30, so no
    // overflow and no saturation.
    const __m256i hi = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
    return _mm256_sra_epi32(_mm256_add_epi32(hi, q.round32), q.shift32);
  }
  if (q.mode == kEwLow) {
    // t = 31, 32: |x * M| < 2^62, so |r| < 2^31: no saturation, and the low
    // 32 bits of the shifted sum are r. A logical shift by t <= 32 fills
    // those bits from the sum alone (no sign bits needed); the odd lanes'
    // r goes to their high dword by a left shift of 32 - t instead.
    const __m256i se = _mm256_add_epi64(pe, q.round64);
    const __m256i so = _mm256_add_epi64(po, q.round64);
    return _mm256_blend_epi32(_mm256_srl_epi64(se, q.shift64),
                              _mm256_sll_epi64(so, q.shift64_odd), 0xAA);
  }
  // AVX2 has no 64-bit arithmetic shift. |x * M| < 2^62 and the rounding
  // term is at most 2^61, so adding 2^62 makes the sum positive (it stays
  // below 2^64); a logical shift then gives floor(sum / 2^t) + 2^(62-t).
  const __m256i hi_lim = _mm256_set1_epi64x(INT32_MAX);
  const __m256i lo_lim = _mm256_set1_epi64x(INT32_MIN);
  __m256i r[2];
  const __m256i prod[2] = {pe, po};
  for (int k = 0; k < 2; ++k) {
    __m256i v =
        _mm256_srl_epi64(_mm256_add_epi64(prod[k], q.round64_off), q.shift64);
    v = _mm256_sub_epi64(v, q.corr64);
    v = _mm256_blendv_epi8(v, hi_lim, _mm256_cmpgt_epi64(v, hi_lim));
    r[k] = _mm256_blendv_epi8(v, lo_lim, _mm256_cmpgt_epi64(lo_lim, v));
  }
  return _mm256_blend_epi32(r[0], _mm256_slli_epi64(r[1], 32), 0xAA);
}

// Output stage of 16 lanes (lanes 0-7 in lo, 8-15 in hi): + zero point,
// clamp to [min8, max8], as 16 int8 in order. The int16 saturation of the
// packs and of the zero-point add never changes a result clamped to int8.
static inline __m128i EwToInt8(__m256i lo, __m256i hi, __m256i zp16,
                               __m128i min8, __m128i max8) {
  // packs_epi32 works per 128-bit lane: lanes 0-3, 8-11, 4-7, 12-15.
  __m256i s16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
  s16 = _mm256_adds_epi16(s16, zp16);
  const __m256i s8 =
      _mm256_permute4x64_epi64(_mm256_packs_epi16(s16, s16), 0x08);
  const __m128i v = _mm256_castsi256_si128(s8);
  return _mm_min_epi8(_mm_max_epi8(v, min8), max8);
}

}  // namespace kiln

#endif  // KILN_KERNELS_QS8_ELEMENTWISE_EW_REQUANT_AVX2_H_
