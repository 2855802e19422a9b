// AVX2 elementwise Add (ref::Add, kernels/ref/add.cc), 16 elements per
// step; also used by the AVX-VNNI, AVX-512 and AMX paths. The reference is
// the scalar twin (the scalar path runs it).
//
// Per element, exactly as the reference: both inputs minus their zero points
// shifted left by left_shift, each requantized with its multiplier, summed
// in int32 and requantized to the output (three 64-bit single-rounding
// requantizations, ew_requant_avx2.h).
#include <immintrin.h>
#include <stdint.h>

#include "kernels/qs8_elementwise/ew_requant_avx2.h"
#include "kernels/requant.h"
#include "kernels/ukernels.h"

namespace kiln {

void qs8_vadd__avx2(const AddParams& p, const int8_t* input1,
                    const int8_t* input2, int8_t* output) {
  const EwRequant q1 = EwRequantInit(p.input1_multiplier, p.input1_shift);
  const EwRequant q2 = EwRequantInit(p.input2_multiplier, p.input2_shift);
  const EwRequant qo = EwRequantInit(p.output_multiplier, p.output_shift);
  const __m256i zp1 = _mm256_set1_epi32(p.input1_zero_point);
  const __m256i zp2 = _mm256_set1_epi32(p.input2_zero_point);
  const __m256i zp_out =
      _mm256_set1_epi16(static_cast<int16_t>(p.output_zero_point));
  const __m128i min8 = _mm_set1_epi8(static_cast<char>(p.clamp.min));
  const __m128i max8 = _mm_set1_epi8(static_cast<char>(p.clamp.max));
  // (x - zp) * 2^left_shift of the reference, as a shift.
  const __m128i ls = _mm_cvtsi32_si128(p.left_shift);
  int32_t i = 0;
  for (; i + 16 <= p.size; i += 16) {
    const __m128i v1 =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(input1 + i));
    const __m128i v2 =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(input2 + i));
    __m256i sum[2];
    for (int h = 0; h < 2; ++h) {
      const __m128i b1 = h ? _mm_unpackhi_epi64(v1, v1) : v1;
      const __m128i b2 = h ? _mm_unpackhi_epi64(v2, v2) : v2;
      const __m256i x1 =
          _mm256_sll_epi32(_mm256_sub_epi32(_mm256_cvtepi8_epi32(b1), zp1), ls);
      const __m256i x2 =
          _mm256_sll_epi32(_mm256_sub_epi32(_mm256_cvtepi8_epi32(b2), zp2), ls);
      sum[h] = EwMultiply(
          _mm256_add_epi32(EwMultiply(x1, q1), EwMultiply(x2, q2)), qo);
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(output + i),
                     EwToInt8(sum[0], sum[1], zp_out, min8, max8));
  }
  // Tail: the reference's arithmetic, element by element.
  const int32_t scale = int32_t(1) << p.left_shift;
  for (; i < p.size; ++i) {
    const int32_t a = MultiplyByQuantizedMultiplier(
        (int32_t(input1[i]) - p.input1_zero_point) * scale, p.input1_multiplier,
        p.input1_shift);
    const int32_t b = MultiplyByQuantizedMultiplier(
        (int32_t(input2[i]) - p.input2_zero_point) * scale, p.input2_multiplier,
        p.input2_shift);
    output[i] = static_cast<int8_t>(
        Requantize(a + b, p.output_multiplier, p.output_shift,
                   p.output_zero_point, p.clamp.min, p.clamp.max));
  }
}

}  // namespace kiln
