// Exact requantization of int32 accumulators with AVX-512 (F/BW/DQ/VL), for
// the translation units compiled with AVX-512 flags (GEMM, depthwise, ...).
// Every function is static inline (rule for ISA translation units: no shared
// non-static inline code the linker could pick for baseline callers).
//
// Bit for bit what kernels/requant.h computes per lane:
//   r = (int64(acc) * M + 2^(total-1)) >> total,  total = 31 - shift in [1, 62]
//   out = clamp(saturate_int32(r) + zp, act_min, act_max)
// Because [act_min, act_max] lies inside [-128, 127] and so does zp, the
// int32 saturation can never change the result of the final clamp. The
// 64-bit path clamps r in 64 bits to [act_min - zp, act_max - zp] so it
// fits int32; the usual high-dword path produces |r| < 2^30 directly. The
// zero point and the clamp are then applied to int16/int8 lanes with
// saturating narrowing (Qs8PackZmm), which is exact for the same reason.
//
// vpmuldq multiplies the low (even) dword of each qword, so one vector of 16
// accumulators is handled as two halves, even lanes and odd lanes, each with
// its own per-lane constants prepared once per 16 channels.
#ifndef KILN_KERNELS_QS8_GEMM_REQUANT_AVX512_H_
#define KILN_KERNELS_QS8_GEMM_REQUANT_AVX512_H_

// GCC 12 reports the `__Y = __Y` placeholders of its AVX-512 intrinsics as
// maybe-uninitialized once inlined (GCC bug 105593). Includers should put
// the same pragma before their own first #include <immintrin.h>.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>
#include <stdint.h>

namespace kiln {

// Per-lane constants of 16 channels.
struct Qs8RequantZmm {
  __m512i multiplier;      // int32 per lane (vpmuldq reads the even ones)
  __m512i multiplier_odd;  // odd lanes' multipliers moved to even dwords
  __m512i round_even;      // 2^(total-1) as int64, channels 0, 2, ..., 14
  __m512i round_odd;       // ... channels 1, 3, ..., 15
  __m512i total_even;      // 31 - shift as int64, even channels
  __m512i total_odd;       // ... odd channels
  // When every lane has total >= 33 (shift <= -2, the usual case: real
  // multipliers below 1/2), only the high dword of the product matters:
  //   (P + 2^(t-1)) >> t == (floor(P / 2^32) + 2^(t-33)) >> (t-32)
  // exactly (2^(t-1) is a multiple of 2^32, so it commutes with the floor),
  // and |floor(P / 2^32)| < 2^30 keeps everything in int32.
  __m512i round32;  // 2^(total-33) per lane
  __m512i shift32;  // total - 32 per lane
  bool high_dword_only;
};

// Clamp bounds of the 64-bit path relative to the output zero point,
// lo = act_min - zp and hi = act_max - zp, as int64 lanes.
struct Qs8ClampZmm {
  __m512i lo64, hi64;
};

static inline Qs8ClampZmm Qs8ClampZmmInit(int32_t act_min, int32_t act_max,
                                          int32_t zero_point) {
  Qs8ClampZmm c;
  c.lo64 = _mm512_set1_epi64(int64_t(act_min) - zero_point);
  c.hi64 = _mm512_set1_epi64(int64_t(act_max) - zero_point);
  return c;
}

// Output zero point and clamp bounds for Qs8PackZmm.
struct Qs8OutZmm {
  __m512i zp16;        // zero point, int16 lanes
  __m512i min8, max8;  // act_min / act_max, int8 lanes
};

static inline Qs8OutZmm Qs8OutZmmInit(int32_t act_min, int32_t act_max,
                                      int32_t zero_point) {
  Qs8OutZmm o;
  o.zp16 = _mm512_set1_epi16(static_cast<int16_t>(zero_point));
  o.min8 = _mm512_set1_epi8(static_cast<char>(act_min));
  o.max8 = _mm512_set1_epi8(static_cast<char>(act_max));
  return o;
}

// Constants for 16 channels from per-lane int32 multipliers (0 or
// [2^30, 2^31 - 1]) and shifts ([-31, 30]).
static inline Qs8RequantZmm Qs8RequantZmmInit(__m512i multiplier,
                                              __m512i shift) {
  const __m512i one = _mm512_set1_epi64(1);
  const __m512i total = _mm512_sub_epi32(_mm512_set1_epi32(31), shift);
  Qs8RequantZmm q;
  q.multiplier = multiplier;
  q.multiplier_odd = _mm512_srli_epi64(multiplier, 32);
  q.total_even = _mm512_and_si512(total, _mm512_set1_epi64(0xffffffff));
  q.total_odd = _mm512_srli_epi64(total, 32);
  q.round_even = _mm512_sllv_epi64(one, _mm512_sub_epi64(q.total_even, one));
  q.round_odd = _mm512_sllv_epi64(one, _mm512_sub_epi64(q.total_odd, one));
  const __m512i t33 = _mm512_set1_epi32(33);
  q.high_dword_only = _mm512_cmplt_epi32_mask(total, t33) == 0;
  q.round32 =
      _mm512_sllv_epi32(_mm512_set1_epi32(1), _mm512_sub_epi32(total, t33));
  q.shift32 = _mm512_sub_epi32(total, _mm512_set1_epi32(32));
  return q;
}

// The same from arrays of 16 int32 multipliers and shifts.
static inline Qs8RequantZmm Qs8RequantZmmLoad(const int32_t* multiplier,
                                              const int32_t* shift) {
  return Qs8RequantZmmInit(_mm512_loadu_si512(multiplier),
                           _mm512_loadu_si512(shift));
}

// The high-dword form of Qs8RequantizeZmm, for constants with
// high_dword_only set: MultiplyByQuantizedMultiplier(acc) per lane, not
// clamped (|r| < 2^30). High dwords of the products in lane order with one
// shuffle: the odd products' already sit in the odd dwords; each even lane
// takes the dword above it (vpshufd CDAB swaps the dwords of every qword).
// Kernels that check the flag once per call use this directly.
static inline __m512i Qs8RequantizeHighDwordZmm(__m512i acc,
                                                const Qs8RequantZmm& q) {
  const __m512i even = _mm512_mul_epi32(acc, q.multiplier);
  const __m512i odd =
      _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), q.multiplier_odd);
  const __m512i high =
      _mm512_mask_shuffle_epi32(odd, 0x5555, even, _MM_PERM_CDAB);
  return _mm512_srav_epi32(_mm512_add_epi32(high, q.round32), q.shift32);
}

// MultiplyByQuantizedMultiplier(acc) per lane as int32, relative to the
// zero point, NOT clamped on the high-dword path (|r| < 2^30 there) and
// clamped to [lo, hi] on the 64-bit path (whose results may not fit int32).
// Either way the caller finishes with Qs8PackZmm (or Qs8NarrowZmm), whose
// saturating narrowing plus the int8 clamp give exactly
// clamp(saturate_int32(r) + zp, min, max): see Qs8NarrowZmm.
static inline __m512i Qs8RequantizeZmm(__m512i acc, const Qs8RequantZmm& q,
                                       const Qs8ClampZmm& c) {
  // Empty asm: `acc` is read twice below; when it comes straight out of an
  // accumulation loop GCC 12 otherwise copies every accumulator register
  // twice per iteration of that loop (2 extra moves per vpdpbusd).
  __asm__("" : "+v"(acc));
  if (q.high_dword_only) return Qs8RequantizeHighDwordZmm(acc, q);
  __m512i even = _mm512_mul_epi32(acc, q.multiplier);
  __m512i odd = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), q.multiplier_odd);
  // |acc * M| < 2^62 and the rounding term is at most 2^61: no overflow.
  even = _mm512_srav_epi64(_mm512_add_epi64(even, q.round_even), q.total_even);
  odd = _mm512_srav_epi64(_mm512_add_epi64(odd, q.round_odd), q.total_odd);
  even = _mm512_min_epi64(_mm512_max_epi64(even, c.lo64), c.hi64);
  odd = _mm512_min_epi64(_mm512_max_epi64(odd, c.lo64), c.hi64);
  // Both now fit in the low dword of their qword: move the odd results up
  // (swap dwords within each qword) into the odd lanes of `even`.
  return _mm512_mask_shuffle_epi32(even, 0xaaaa, odd, _MM_PERM_CDAB);
}

// Four vectors of 16 results of Qs8RequantizeZmm as 64 int8, zero point
// added and clamped to [min8, max8], in the order the packs leave them:
// 128-bit lane L holds v0[4L..4L+3], v1[4L..4L+3], v2[...], v3[...]. Exact
// although only the last step clamps: the saturations to int16 (packs), of
// the int16 zero-point add (adds) and to int8 (packs) keep every value on
// the same side of [-128, 127] it was on (|zp| <= 128 is far below
// 2^15 - 128), and [min, max] lies inside [-128, 127], so
// clamp(sat8(sat16(sat16(r) + zp)), min, max) ==
// clamp(saturate_int32(r) + zp, min, max). Two int8 clamps per 64 outputs
// instead of two int32 ones per 16.
static inline __m512i Qs8NarrowZmm(__m512i v0, __m512i v1, __m512i v2,
                                   __m512i v3, const Qs8OutZmm& o) {
  const __m512i p01 = _mm512_adds_epi16(_mm512_packs_epi32(v0, v1), o.zp16);
  const __m512i p23 = _mm512_adds_epi16(_mm512_packs_epi32(v2, v3), o.zp16);
  const __m512i b = _mm512_packs_epi16(p01, p23);
  return _mm512_min_epi8(_mm512_max_epi8(b, o.min8), o.max8);
}

// The same as 64 int8 in channel order, v0[0..15], v1[0..15], ... (channel
// blocks 0..3): Qs8NarrowZmm, then a permutation that transposes dword
// 4 * lane + j (channels 4 * lane .. + 3 of block j) back to 4 * j + lane.
static inline __m512i Qs8PackZmm(__m512i v0, __m512i v1, __m512i v2, __m512i v3,
                                 const Qs8OutZmm& o) {
  const __m512i idx =
      _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_epi32(idx, Qs8NarrowZmm(v0, v1, v2, v3, o));
}

}  // namespace kiln

#endif  // KILN_KERNELS_QS8_GEMM_REQUANT_AVX512_H_
