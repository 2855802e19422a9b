// vpdpbusd zmm peak (bench/peak.h). Compiled with -mavx512f -mavx512vnni.
#include <immintrin.h>

#include "bench/peak.h"

namespace kiln {
namespace bench {

uint64_t PeakLoopVnni512(uint64_t iters) {
  __m512i a = _mm512_set1_epi32(0x01010101);
  __m512i b = _mm512_set1_epi32(0x01020304);
  // 24 accumulators: vpdpbusd has a latency of about 4-5 cycles and up to
  // 2 issue per cycle, so fewer chains would measure latency, not throughput.
  // Distinct start values: identical chains would be merged into one.
  __m512i c0 = _mm512_set1_epi32(0), c1 = _mm512_set1_epi32(1),
          c2 = _mm512_set1_epi32(2), c3 = _mm512_set1_epi32(3),
          c4 = _mm512_set1_epi32(4), c5 = _mm512_set1_epi32(5),
          c6 = _mm512_set1_epi32(6), c7 = _mm512_set1_epi32(7),
          c8 = _mm512_set1_epi32(8), c9 = _mm512_set1_epi32(9),
          c10 = _mm512_set1_epi32(10), c11 = _mm512_set1_epi32(11),
          c12 = _mm512_set1_epi32(12), c13 = _mm512_set1_epi32(13),
          c14 = _mm512_set1_epi32(14), c15 = _mm512_set1_epi32(15),
          c16 = _mm512_set1_epi32(16), c17 = _mm512_set1_epi32(17),
          c18 = _mm512_set1_epi32(18), c19 = _mm512_set1_epi32(19),
          c20 = _mm512_set1_epi32(20), c21 = _mm512_set1_epi32(21),
          c22 = _mm512_set1_epi32(22), c23 = _mm512_set1_epi32(23);
  for (uint64_t i = 0; i < iters; ++i) {
    // Opaque operands: the compiler cannot hoist or fold anything.
    __asm__ volatile("" : "+v"(a), "+v"(b));
#define KILN_DP(c)                  \
  c = _mm512_dpbusd_epi32(c, a, b); \
  __asm__ volatile("" : "+v"(c))
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
    KILN_DP(c12);
    KILN_DP(c13);
    KILN_DP(c14);
    KILN_DP(c15);
    KILN_DP(c16);
    KILN_DP(c17);
    KILN_DP(c18);
    KILN_DP(c19);
    KILN_DP(c20);
    KILN_DP(c21);
    KILN_DP(c22);
    KILN_DP(c23);
#undef KILN_DP
  }
  __m512i s = _mm512_add_epi32(
      _mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3)),
      _mm512_add_epi32(_mm512_add_epi32(c4, c5), _mm512_add_epi32(c6, c7)));
  s = _mm512_add_epi32(
      s, _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c8, c9),
                                           _mm512_add_epi32(c10, c11)),
                          _mm512_add_epi32(_mm512_add_epi32(c12, c13),
                                           _mm512_add_epi32(c14, c15))));
  s = _mm512_add_epi32(
      s, _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c16, c17),
                                           _mm512_add_epi32(c18, c19)),
                          _mm512_add_epi32(_mm512_add_epi32(c20, c21),
                                           _mm512_add_epi32(c22, c23))));
  __asm__ volatile("" : : "v"(s));
  return iters * 24 * 64;
}

}  // namespace bench
}  // namespace kiln
