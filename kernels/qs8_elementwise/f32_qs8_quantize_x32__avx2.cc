// AVX2 float32 -> int8 Quantize (ref::QuantizeFromFloat,
// kernels/ref/quantize.cc), 32 elements per step; also used by the AVX-VNNI
// path. Same arithmetic as the scalar twin (f32_qs8_quantize_x1__scalar.cc):
// IEEE division by the scale (vdivps rounds exactly like divss), clamp to
// [-1024, 1024], truncate, and round half away from zero from the exact
// fraction; NaN lanes become the zero point. The saturating packs are the
// final clamp to [-128, 127] (|t + zp| <= 1152 fits int16).
#include <immintrin.h>
#include <stdint.h>

#include "kernels/ukernels.h"

namespace kiln {
namespace {

// int32 lanes of roundf(clamp(x / scale)) + zp, or zp where x / scale is NaN.
static inline __attribute__((always_inline)) __m256i Quantize8(const float* x,
                                                               __m256 scale,
                                                               __m256i zp) {
  const __m256 v = _mm256_div_ps(_mm256_loadu_ps(x), scale);
  const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
  // max/min return the second operand for a NaN lane: a finite value that
  // the NaN mask discards below.
  const __m256 c = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-1024.0f)),
                                 _mm256_set1_ps(1024.0f));
  const __m256i t = _mm256_cvttps_epi32(c);
  const __m256 d = _mm256_sub_ps(c, _mm256_cvtepi32_ps(t));
  // Comparison masks are -1: t - (d >= 0.5) + (d <= -0.5).
  const __m256i up =
      _mm256_castps_si256(_mm256_cmp_ps(d, _mm256_set1_ps(0.5f), _CMP_GE_OQ));
  const __m256i down =
      _mm256_castps_si256(_mm256_cmp_ps(d, _mm256_set1_ps(-0.5f), _CMP_LE_OQ));
  const __m256i r = _mm256_add_epi32(_mm256_sub_epi32(t, up), down);
  return _mm256_add_epi32(_mm256_andnot_si256(_mm256_castps_si256(nan), r), zp);
}

}  // namespace

void f32_qs8_quantize__avx2(const QuantizeFloatParams& p, const float* input,
                            int8_t* output) {
  const __m256 scale = _mm256_set1_ps(p.scale);
  const __m256i zp = _mm256_set1_epi32(p.output_zero_point);
  // packs work within 128-bit lanes; this puts the 8-byte groups back in
  // element order.
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int32_t i = 0;
  for (; i + 32 <= p.size; i += 32) {
    const __m256i a = Quantize8(input + i, scale, zp);
    const __m256i b = Quantize8(input + i + 8, scale, zp);
    const __m256i c = Quantize8(input + i + 16, scale, zp);
    const __m256i d = Quantize8(input + i + 24, scale, zp);
    const __m256i bytes =
        _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(output + i),
                        _mm256_permutevar8x32_epi32(bytes, order));
  }
  if (i < p.size) {
    // The tail: the scalar twin, which computes exactly the same.
    QuantizeFloatParams tail = p;
    tail.size = p.size - i;
    f32_qs8_quantize__scalar(tail, input + i, output + i);
  }
}

}  // namespace kiln
