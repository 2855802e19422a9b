// AVX2 MaxPool2D (ref::MaxPool2D, kernels/ref/max_pool2d.cc), 32 channels
// per vector; also used by the AVX-VNNI, AVX-512 and AMX paths. The
// reference is the scalar twin.
//
// Padding taps are skipped as in the reference: per output pixel the window
// is cut to the in-bounds rows and columns, the max starts at -128 and is
// clamped at the end. Channel tails use 16-byte vectors, then single bytes.
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/qs8_elementwise/pool_window.h"
#include "kernels/ukernels.h"

namespace kiln {

void qs8_maxpool__avx2(const Pool2DParams& p, const int8_t* input,
                       int8_t* output) {
  const int32_t c = p.channels;
  const __m256i lo = _mm256_set1_epi8(static_cast<char>(p.clamp.min));
  const __m256i hi = _mm256_set1_epi8(static_cast<char>(p.clamp.max));
  const ptrdiff_t row = static_cast<ptrdiff_t>(p.in_w) * c;
  ForEachPoolWindow(p, input, output, [&](const PoolWindow& w) {
    const int8_t* win = w.first;
    const int32_t rows = w.rows, cols = w.cols;
    int8_t* out = w.out;
    int32_t ch = 0;
    for (; ch + 32 <= c; ch += 32) {
      __m256i m = _mm256_set1_epi8(-128);
      for (int32_t fy = 0; fy < rows; ++fy) {
        const int8_t* src = win + fy * row + ch;
        for (int32_t fx = 0; fx < cols; ++fx, src += c) {
          m = _mm256_max_epi8(
              m, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)));
        }
      }
      m = _mm256_min_epi8(_mm256_max_epi8(m, lo), hi);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + ch), m);
    }
    if (ch + 16 <= c) {
      __m128i m = _mm_set1_epi8(-128);
      for (int32_t fy = 0; fy < rows; ++fy) {
        const int8_t* src = win + fy * row + ch;
        for (int32_t fx = 0; fx < cols; ++fx, src += c) {
          m = _mm_max_epi8(
              m, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
        }
      }
      m = _mm_min_epi8(_mm_max_epi8(m, _mm256_castsi256_si128(lo)),
                       _mm256_castsi256_si128(hi));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + ch), m);
      ch += 16;
    }
    for (; ch < c; ++ch) {
      int32_t m = -128;
      for (int32_t fy = 0; fy < rows; ++fy) {
        const int8_t* src = win + fy * row + ch;
        for (int32_t fx = 0; fx < cols; ++fx, src += c) {
          if (*src > m) m = *src;
        }
      }
      if (m < p.clamp.min) m = p.clamp.min;
      if (m > p.clamp.max) m = p.clamp.max;
      out[ch] = static_cast<int8_t>(m);
    }
  });
}

}  // namespace kiln
