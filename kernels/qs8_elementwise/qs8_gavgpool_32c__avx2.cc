// AVX2 GlobalAveragePool (ref::GlobalAveragePool,
// kernels/ref/global_average_pool.cc), 32 channels per step; also used by
// the AVX-VNNI, AVX-512 and AMX paths. The reference is the scalar twin.
//
// Sums of the raw int8 values are kept in int16 for up to 256 positions at a
// time (|sum| <= 128 * 256), then widened into int32; the zero point is taken
// off once, as zp * h * w (int32 wrap-around gives the reference's sum of
// (x - zp) whenever that fits in int32, which the verifier guarantees). One
// exact requantization per channel (ew_requant_avx2.h).
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/qs8_elementwise/ew_requant_avx2.h"
#include "kernels/requant.h"
#include "kernels/ukernels.h"

namespace kiln {

void qs8_gavgpool__avx2(const GlobalAveragePoolParams& p, const int8_t* input,
                        int8_t* output) {
  const int32_t c = p.channels;
  const int32_t spatial = p.h * p.w;
  const EwRequant q = EwRequantInit(p.multiplier, p.shift);
  const uint32_t zp_total = static_cast<uint32_t>(p.input_zero_point) *
                            static_cast<uint32_t>(spatial);
  const __m256i zp_sum = _mm256_set1_epi32(static_cast<int32_t>(zp_total));
  const __m256i zp_out =
      _mm256_set1_epi16(static_cast<int16_t>(p.output_zero_point));
  const __m128i lo = _mm_set1_epi8(-128), hi = _mm_set1_epi8(127);
  for (int32_t b = 0; b < p.batch; ++b) {
    const int8_t* in = input + static_cast<ptrdiff_t>(b) * spatial * c;
    int8_t* out = output + static_cast<ptrdiff_t>(b) * c;
    int32_t ch = 0;
    for (; ch + 16 <= c; ch += 16) {
      // Two 16-channel halves when 32 channels remain.
      const int32_t parts = ch + 32 <= c ? 2 : 1;
      __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(),
                        _mm256_setzero_si256(), _mm256_setzero_si256()};
      for (int32_t i0 = 0; i0 < spatial; i0 += 256) {
        const int32_t i1 = spatial - i0 < 256 ? spatial : i0 + 256;
        __m256i s16[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        const int8_t* src = in + static_cast<ptrdiff_t>(i0) * c + ch;
        for (int32_t i = i0; i < i1; ++i, src += c) {
          if (parts == 2) {
            const __m256i v =
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
            s16[0] = _mm256_add_epi16(
                s16[0], _mm256_cvtepi8_epi16(_mm256_castsi256_si128(v)));
            s16[1] = _mm256_add_epi16(
                s16[1], _mm256_cvtepi8_epi16(_mm256_extracti128_si256(v, 1)));
          } else {
            s16[0] = _mm256_add_epi16(
                s16[0], _mm256_cvtepi8_epi16(_mm_loadu_si128(
                            reinterpret_cast<const __m128i*>(src))));
          }
        }
        for (int32_t k = 0; k < parts; ++k) {
          acc[2 * k] = _mm256_add_epi32(
              acc[2 * k],
              _mm256_cvtepi16_epi32(_mm256_castsi256_si128(s16[k])));
          acc[2 * k + 1] = _mm256_add_epi32(
              acc[2 * k + 1],
              _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s16[k], 1)));
        }
      }
      for (int32_t k = 0; k < parts; ++k) {
        const __m256i r0 = EwMultiply(_mm256_sub_epi32(acc[2 * k], zp_sum), q);
        const __m256i r1 =
            EwMultiply(_mm256_sub_epi32(acc[2 * k + 1], zp_sum), q);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + ch + 16 * k),
                         EwToInt8(r0, r1, zp_out, lo, hi));
      }
      ch += 16 * (parts - 1);
    }
    for (; ch < c; ++ch) {
      int32_t acc = 0;
      for (int32_t i = 0; i < spatial; ++i) {
        acc += int32_t(in[static_cast<ptrdiff_t>(i) * c + ch]) -
               p.input_zero_point;
      }
      out[ch] = static_cast<int8_t>(Requantize(acc, p.multiplier, p.shift,
                                               p.output_zero_point, -128, 127));
    }
  }
}

}  // namespace kiln
