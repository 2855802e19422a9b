// AVX2 vpmaddubsw + vpmaddwd + vpaddd peak (bench/peak.h). Compiled with
// -mavx2. vpmaddubsw saturates, which does not matter for a throughput
// loop; Kiln's AVX2 kernels avoid it for exactness, so this is an upper bound.
#include <immintrin.h>

#include "bench/peak.h"

namespace kiln {
namespace bench {

uint64_t PeakLoopAvx2Maddubs(uint64_t iters) {
  __m256i a = _mm256_set1_epi8(1);
  __m256i b = _mm256_set1_epi8(2);
  __m256i ones = _mm256_set1_epi16(1);
  // 8 chains of (maddubs, maddwd, add): 8 accumulators + 3 operands + the
  // temporaries fit the 16 ymm registers.
  // Distinct start values: identical chains would be merged into one.
  __m256i c0 = _mm256_set1_epi32(0), c1 = _mm256_set1_epi32(1),
          c2 = _mm256_set1_epi32(2), c3 = _mm256_set1_epi32(3),
          c4 = _mm256_set1_epi32(4), c5 = _mm256_set1_epi32(5),
          c6 = _mm256_set1_epi32(6), c7 = _mm256_set1_epi32(7);
  for (uint64_t i = 0; i < iters; ++i) {
    // The empty asm on `a` before each chain stops the compiler from
    // computing the (identical) products once for all chains; it emits no
    // instruction.
#define KILN_DP(c)                                                           \
  __asm__ volatile("" : "+x"(a));                                            \
  c = _mm256_add_epi32(c,                                                    \
                       _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones)); \
  __asm__ volatile("" : "+x"(c))
    KILN_DP(c0);
    KILN_DP(c1);
    KILN_DP(c2);
    KILN_DP(c3);
    KILN_DP(c4);
    KILN_DP(c5);
    KILN_DP(c6);
    KILN_DP(c7);
#undef KILN_DP
  }
  __m256i s = _mm256_add_epi32(
      _mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)),
      _mm256_add_epi32(_mm256_add_epi32(c4, c5), _mm256_add_epi32(c6, c7)));
  __asm__ volatile("" : : "x"(s));
  return iters * 8 * 32;
}

}  // namespace bench
}  // namespace kiln
