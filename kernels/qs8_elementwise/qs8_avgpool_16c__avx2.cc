// AVX2 AveragePool2D (ref::AveragePool2D, kernels/ref/average_pool2d.cc),
// 16 channels per step; also used by the AVX-VNNI, AVX-512 and AMX paths.
// The reference is the scalar twin.
//
// Padding is excluded: per output pixel the window is cut to its in-bounds
// rows and columns and `count` is their product, as the reference counts.
// Sums of at most 256 int8 fit int16 (|sum| <= 128 * 256); larger windows
// sum in int32. The division rounds half away from zero exactly as
// DivideRoundHalfAway: q = (|sum| + count / 2) / count with the sign of sum,
// the quotient computed in double (a < 2^31 and count < 2^31 are exact, and
// the correctly rounded quotient of two such integers never reaches the next
// integer, so truncation gives the exact integer quotient).
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/qs8_elementwise/pool_window.h"
#include "kernels/requant.h"
#include "kernels/ukernels.h"

namespace kiln {
namespace {

// Rounded averages of 8 int32 sums.
inline __m256i Average(__m256i sum, __m256i half, __m256d count) {
  const __m256i a = _mm256_add_epi32(_mm256_abs_epi32(sum), half);
  const __m128i q_lo = _mm256_cvttpd_epi32(
      _mm256_div_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(a)), count));
  const __m128i q_hi = _mm256_cvttpd_epi32(
      _mm256_div_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(a, 1)), count));
  const __m256i q =
      _mm256_inserti128_si256(_mm256_castsi128_si256(q_lo), q_hi, 1);
  return _mm256_sign_epi32(q, sum);  // sum == 0 gives q == 0 anyway
}

}  // namespace

void qs8_avgpool__avx2(const Pool2DParams& p, const int8_t* input,
                       int8_t* output) {
  const int32_t c = p.channels;
  const __m128i lo = _mm_set1_epi8(static_cast<char>(p.clamp.min));
  const __m128i hi = _mm_set1_epi8(static_cast<char>(p.clamp.max));
  const ptrdiff_t row = static_cast<ptrdiff_t>(p.in_w) * c;
  ForEachPoolWindow(p, input, output, [&](const PoolWindow& w) {
    const int8_t* win = w.first;
    const int32_t rows = w.rows, cols = w.cols;
    const int32_t count = rows * cols;  // >= 1 (verifier)
    int8_t* out = w.out;
    const __m256i half = _mm256_set1_epi32(count / 2);
    const __m256d countd = _mm256_set1_pd(static_cast<double>(count));
    int32_t ch = 0;
    for (; ch + 16 <= c; ch += 16) {
      __m256i s_lo, s_hi;
      if (count <= 256) {
        __m256i s16 = _mm256_setzero_si256();
        for (int32_t fy = 0; fy < rows; ++fy) {
          const int8_t* src = win + fy * row + ch;
          for (int32_t fx = 0; fx < cols; ++fx, src += c) {
            s16 = _mm256_add_epi16(s16,
                                   _mm256_cvtepi8_epi16(_mm_loadu_si128(
                                       reinterpret_cast<const __m128i*>(src))));
          }
        }
        s_lo = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(s16));
        s_hi = _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s16, 1));
      } else {
        s_lo = s_hi = _mm256_setzero_si256();
        for (int32_t fy = 0; fy < rows; ++fy) {
          const int8_t* src = win + fy * row + ch;
          for (int32_t fx = 0; fx < cols; ++fx, src += c) {
            const __m128i v =
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
            s_lo = _mm256_add_epi32(s_lo, _mm256_cvtepi8_epi32(v));
            s_hi = _mm256_add_epi32(
                s_hi, _mm256_cvtepi8_epi32(_mm_unpackhi_epi64(v, v)));
          }
        }
      }
      const __m256i a_lo = Average(s_lo, half, countd);
      const __m256i a_hi = Average(s_hi, half, countd);
      // Averages lie in [-128, 127]: the packs are exact.
      const __m256i s16 =
          _mm256_permute4x64_epi64(_mm256_packs_epi32(a_lo, a_hi), 0xD8);
      __m128i v = _mm256_castsi256_si128(
          _mm256_permute4x64_epi64(_mm256_packs_epi16(s16, s16), 0x08));
      v = _mm_min_epi8(_mm_max_epi8(v, lo), hi);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + ch), v);
    }
    for (; ch < c; ++ch) {
      int32_t sum = 0;
      for (int32_t fy = 0; fy < rows; ++fy) {
        const int8_t* src = win + fy * row + ch;
        for (int32_t fx = 0; fx < cols; ++fx, src += c) sum += *src;
      }
      int32_t avg = DivideRoundHalfAway(sum, count);
      if (avg < p.clamp.min) avg = p.clamp.min;
      if (avg > p.clamp.max) avg = p.clamp.max;
      out[ch] = static_cast<int8_t>(avg);
    }
  });
}

}  // namespace kiln
