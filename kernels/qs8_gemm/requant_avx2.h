// Exact requantization of int32 accumulators with AVX2, for the translation
// units compiled with AVX2 flags (AVX2 and AVX-VNNI GEMM, depthwise, ...).
// Every function is static inline (rule for ISA translation units: no shared
// non-static inline code the linker could pick for baseline callers).
//
// Bit for bit what kernels/requant.h computes per lane:
//   r = (int64(acc) * M + 2^(total-1)) >> total,  total = 31 - shift in [1, 62]
//   out = clamp(saturate_int32(r) + zp, act_min, act_max)
// As in requant_avx512.h, r is clamped in 64 bits to [act_min - zp,
// act_max - zp] and zp added afterwards (no int32 saturation needed because
// the clamp range lies inside int32).
//
// AVX2 lacks the 64-bit arithmetic shift and 64-bit min/max:
//  * shift: v = acc * M + round lies in (-2^63, 2^63), so u = v + 2^63 is
//    v as an unsigned number without wrap-around, and since 2^total divides
//    2^63, u >>logical total = (v >>arithmetic total) + 2^(63 - total).
//    The 2^63 is folded into the rounding constant, and 2^(63 - total)
//    subtracted after the shift: add, vpsrlvq, sub.
//  * clamp: vpcmpgtq + vpblendvb per bound.
// vpmuldq multiplies the even dwords, so each vector of 8 accumulators is
// handled as even and odd halves with their own per-lane constants. The
// usual case (every shift <= -2) skips all of this: see high_dword_only.
#ifndef KILN_KERNELS_QS8_GEMM_REQUANT_AVX2_H_
#define KILN_KERNELS_QS8_GEMM_REQUANT_AVX2_H_

#include <immintrin.h>
#include <stdint.h>

namespace kiln {

// Per-lane constants of 8 channels.
struct Qs8RequantYmm {
  __m256i multiplier;      // int32 per lane (vpmuldq reads the even ones)
  __m256i multiplier_odd;  // odd lanes' multipliers moved to even dwords
  __m256i round_even;      // 2^(total-1) + 2^63 as uint64, even channels
  __m256i round_odd;       // ... odd channels
  __m256i total_even;      // 31 - shift as int64, even channels
  __m256i total_odd;       // ... odd channels
  __m256i unbias_even;     // 2^(63 - total), even channels
  __m256i unbias_odd;      // ... odd channels
  // When every lane has total >= 33 (shift <= -2, the usual case), only the
  // high dword of the product matters, as in requant_avx512.h:
  //   (P + 2^(t-1)) >> t == (floor(P / 2^32) + 2^(t-33)) >> (t-32)
  // which AVX2 does in int32 lanes (vpsravd), with no 64-bit emulation.
  __m256i round32;  // 2^(total-33) per lane
  __m256i shift32;  // total - 32 per lane
  bool high_dword_only;
};

// Constants for 8 channels from per-lane int32 multipliers (0 or
// [2^30, 2^31 - 1]) and shifts ([-31, 30]).
static inline Qs8RequantYmm Qs8RequantYmmInit(__m256i multiplier,
                                              __m256i shift) {
  const __m256i one = _mm256_set1_epi64x(1);
  const __m256i sign = _mm256_set1_epi64x(INT64_MIN);
  const __m256i total = _mm256_sub_epi32(_mm256_set1_epi32(31), shift);
  Qs8RequantYmm q;
  q.multiplier = multiplier;
  q.multiplier_odd = _mm256_srli_epi64(multiplier, 32);
  q.total_even = _mm256_and_si256(total, _mm256_set1_epi64x(0xffffffff));
  q.total_odd = _mm256_srli_epi64(total, 32);
  q.round_even = _mm256_or_si256(
      _mm256_sllv_epi64(one, _mm256_sub_epi64(q.total_even, one)), sign);
  q.round_odd = _mm256_or_si256(
      _mm256_sllv_epi64(one, _mm256_sub_epi64(q.total_odd, one)), sign);
  q.unbias_even = _mm256_srlv_epi64(sign, q.total_even);
  q.unbias_odd = _mm256_srlv_epi64(sign, q.total_odd);
  const __m256i t33 = _mm256_set1_epi32(33);
  q.high_dword_only = _mm256_movemask_epi8(_mm256_cmpgt_epi32(t33, total)) == 0;
  q.round32 =
      _mm256_sllv_epi32(_mm256_set1_epi32(1), _mm256_sub_epi32(total, t33));
  q.shift32 = _mm256_sub_epi32(total, _mm256_set1_epi32(32));
  return q;
}

// The same from arrays of 8 int32 multipliers and shifts.
static inline Qs8RequantYmm Qs8RequantYmmLoad(const int32_t* multiplier,
                                              const int32_t* shift) {
  return Qs8RequantYmmInit(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(multiplier)),
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(shift)));
}

// Clamp bounds relative to the output zero point, lo = act_min - zp and
// hi = act_max - zp, as int64 lanes (the 64-bit path) and as int32 lanes
// (the high-dword path), made once per call rather than per vector.
struct Qs8ClampYmm {
  __m256i lo64, hi64, lo32, hi32;
};

static inline Qs8ClampYmm Qs8ClampYmmInit(int32_t act_min, int32_t act_max,
                                          int32_t zero_point) {
  // Both differences lie within [-255, 255] (act and zp are int8 values).
  const int32_t lo = act_min - zero_point, hi = act_max - zero_point;
  Qs8ClampYmm c;
  c.lo64 = _mm256_set1_epi64x(lo);
  c.hi64 = _mm256_set1_epi64x(hi);
  c.lo32 = _mm256_set1_epi32(lo);
  c.hi32 = _mm256_set1_epi32(hi);
  return c;
}

// clamp(MultiplyByQuantizedMultiplier(acc), lo, hi) per lane as int32, with
// the bounds of Qs8ClampYmmInit (the caller adds the zero point).
static inline __m256i Qs8RequantizeYmm(__m256i acc, const Qs8RequantYmm& q,
                                       const Qs8ClampYmm& c) {
  // Empty asm: `acc` is read twice below; when it comes straight out of an
  // accumulation loop GCC 12 otherwise copies the accumulator registers on
  // every iteration of that loop.
  __asm__("" : "+x"(acc));
  __m256i even = _mm256_mul_epi32(acc, q.multiplier);
  __m256i odd = _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), q.multiplier_odd);
  if (q.high_dword_only) {
    // High dwords in lane order (the odd products' already sit in the odd
    // dwords), rounded and shifted in int32: |floor(P / 2^32)| < 2^30.
    const __m256i high =
        _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xaa);
    const __m256i r =
        _mm256_srav_epi32(_mm256_add_epi32(high, q.round32), q.shift32);
    return _mm256_min_epi32(_mm256_max_epi32(r, c.lo32), c.hi32);
  }
  even = _mm256_sub_epi64(
      _mm256_srlv_epi64(_mm256_add_epi64(even, q.round_even), q.total_even),
      q.unbias_even);
  odd = _mm256_sub_epi64(
      _mm256_srlv_epi64(_mm256_add_epi64(odd, q.round_odd), q.total_odd),
      q.unbias_odd);
  even = _mm256_blendv_epi8(even, c.lo64, _mm256_cmpgt_epi64(c.lo64, even));
  even = _mm256_blendv_epi8(even, c.hi64, _mm256_cmpgt_epi64(even, c.hi64));
  odd = _mm256_blendv_epi8(odd, c.lo64, _mm256_cmpgt_epi64(c.lo64, odd));
  odd = _mm256_blendv_epi8(odd, c.hi64, _mm256_cmpgt_epi64(odd, c.hi64));
  // Both fit in the low dword of their qword now: move the odd results up.
  return _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xaa);
}

// Two vectors of 8 clamped int32 values (channels 0..7, 8..15) plus the zero
// point (int16 lanes) as 16 int8 in channel order. Values are within
// [-255, 255], so neither the int16 add nor the packs saturate.
static inline __m128i Qs8PackYmm(__m256i v0, __m256i v1, __m128i zero_point16) {
  const __m128i w0 =
      _mm_add_epi16(_mm_packs_epi32(_mm256_castsi256_si128(v0),
                                    _mm256_extracti128_si256(v0, 1)),
                    zero_point16);
  const __m128i w1 =
      _mm_add_epi16(_mm_packs_epi32(_mm256_castsi256_si128(v1),
                                    _mm256_extracti128_si256(v1, 1)),
                    zero_point16);
  return _mm_packs_epi16(w0, w1);
}

// Stores the first `count` (0..16) bytes of v. AVX2 has no byte-masked
// store; the full-width case is the common one.
static inline void Qs8StorePartial16(int8_t* dst, __m128i v, int32_t count) {
  if (count >= 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), v);
    return;
  }
  if (count >= 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), v);
    v = _mm_unpackhi_epi64(v, v);
    dst += 8;
    count -= 8;
  }
  uint64_t bytes = static_cast<uint64_t>(_mm_cvtsi128_si64(v));
  for (int32_t i = 0; i < count; ++i, bytes >>= 8) {
    dst[i] = static_cast<int8_t>(bytes & 0xff);
  }
}

}  // namespace kiln

#endif  // KILN_KERNELS_QS8_GEMM_REQUANT_AVX2_H_
