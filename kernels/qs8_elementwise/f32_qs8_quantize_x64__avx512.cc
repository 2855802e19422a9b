// AVX-512 float32 -> int8 Quantize (ref::QuantizeFromFloat,
// kernels/ref/quantize.cc), 64 elements per step, masked tail; used by the
// AVX-512 VNNI and AMX paths. Same arithmetic as the scalar twin
// (f32_qs8_quantize_x1__scalar.cc): IEEE division by the scale, clamp to
// [-1024, 1024], truncate, round half away from zero from the exact
// fraction, NaN lanes to the zero point; vpmovsdb's saturation is the final
// clamp to [-128, 127].
//
// GCC 12's AVX-512 intrinsics (_mm512_undefined_*) warn as maybe-uninitialized
// once inlined (GCC bug 105593); the pragma must precede <immintrin.h>.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>
#include <stdint.h>

#include "kernels/ukernels.h"

namespace kiln {
namespace {

static inline __attribute__((always_inline)) __m512i Quantize16(__m512 x,
                                                                __m512 scale,
                                                                __m512i zp) {
  const __m512 v = _mm512_div_ps(x, scale);
  const __mmask16 number = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
  const __m512 c = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-1024.0f)),
                                 _mm512_set1_ps(1024.0f));
  __m512i t = _mm512_cvttps_epi32(c);
  const __m512 d = _mm512_sub_ps(c, _mm512_cvtepi32_ps(t));
  const __m512i one = _mm512_set1_epi32(1);
  t = _mm512_mask_add_epi32(
      t, _mm512_cmp_ps_mask(d, _mm512_set1_ps(0.5f), _CMP_GE_OQ), t, one);
  t = _mm512_mask_sub_epi32(
      t, _mm512_cmp_ps_mask(d, _mm512_set1_ps(-0.5f), _CMP_LE_OQ), t, one);
  // NaN lanes: 0 + zp.
  return _mm512_add_epi32(_mm512_maskz_mov_epi32(number, t), zp);
}

}  // namespace

void f32_qs8_quantize__avx512(const QuantizeFloatParams& p, const float* input,
                              int8_t* output) {
  const __m512 scale = _mm512_set1_ps(p.scale);
  const __m512i zp = _mm512_set1_epi32(p.output_zero_point);
  int32_t i = 0;
  for (; i + 64 <= p.size; i += 64) {
    for (int j = 0; j < 4; ++j) {
      const __m512i q =
          Quantize16(_mm512_loadu_ps(input + i + 16 * j), scale, zp);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(output + i + 16 * j),
                       _mm512_cvtsepi32_epi8(q));
    }
  }
  for (; i + 16 <= p.size; i += 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(output + i),
                     _mm512_cvtsepi32_epi8(
                         Quantize16(_mm512_loadu_ps(input + i), scale, zp)));
  }
  if (i < p.size) {
    const __mmask16 m = static_cast<__mmask16>((1u << (p.size - i)) - 1);
    // Masked-off lanes load 0.0f (no fault, no NaN) and are not stored.
    const __m512i q =
        Quantize16(_mm512_maskz_loadu_ps(m, input + i), scale, zp);
    _mm512_mask_cvtsepi32_storeu_epi8(output + i, m, q);
  }
}

}  // namespace kiln
