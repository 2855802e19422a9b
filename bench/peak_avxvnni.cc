// AVX-VNNI vpdpbusd ymm peak (bench/peak.h). Compiled with -mavx2 -mavxvnni
// and without AVX-512, so the instruction is the VEX form.
#include <immintrin.h>

#include "bench/peak.h"

namespace kiln {
namespace bench {

uint64_t PeakLoopVnni256(uint64_t iters) {
  __m256i a = _mm256_set1_epi32(0x01010101);
  __m256i b = _mm256_set1_epi32(0x01020304);
  // 12 accumulators + 2 operands fit the 16 ymm registers.
  // Distinct start values: identical chains would be merged into one.
  __m256i c0 = _mm256_set1_epi32(0), c1 = _mm256_set1_epi32(1),
          c2 = _mm256_set1_epi32(2), c3 = _mm256_set1_epi32(3),
          c4 = _mm256_set1_epi32(4), c5 = _mm256_set1_epi32(5),
          c6 = _mm256_set1_epi32(6), c7 = _mm256_set1_epi32(7),
          c8 = _mm256_set1_epi32(8), c9 = _mm256_set1_epi32(9),
          c10 = _mm256_set1_epi32(10), c11 = _mm256_set1_epi32(11);
  for (uint64_t i = 0; i < iters; ++i) {
    __asm__ volatile("" : "+x"(a), "+x"(b));
#define KILN_DP(c)                      \
  c = _mm256_dpbusd_avx_epi32(c, a, b); \
  __asm__ volatile("" : "+x"(c))
    KILN_DP(c0);
    KILN_DP(c1);
    KILN_DP(c2);
    KILN_DP(c3);
    KILN_DP(c4);
    KILN_DP(c5);
    KILN_DP(c6);
    KILN_DP(c7);
    KILN_DP(c8);
    KILN_DP(c9);
    KILN_DP(c10);
    KILN_DP(c11);
#undef KILN_DP
  }
  __m256i s = _mm256_add_epi32(
      _mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)),
      _mm256_add_epi32(_mm256_add_epi32(c4, c5), _mm256_add_epi32(c6, c7)));
  s = _mm256_add_epi32(s, _mm256_add_epi32(_mm256_add_epi32(c8, c9),
                                           _mm256_add_epi32(c10, c11)));
  __asm__ volatile("" : : "x"(s));
  return iters * 12 * 32;
}

}  // namespace bench
}  // namespace kiln
