// INT8 GEMM with AVX2 (contract: kernels/gemm.h), for x86 CPUs without
// VNNI. Rows are uint8 (x + 128) like the other x86 paths (the packed bias
// removes the 128 * sum(w)); weights int8.
//
// vpmaddubsw would multiply u8 x s8 directly but saturates its int16 pair
// sums (255 * 127 * 2 > 32767), which breaks bit-exactness. Instead both
// operands are widened to int16 (rows zero-extended, weights sign-extended)
// and vpmaddwd forms exact int32 pair sums: |x * w| <= 255 * 128.
//
// Layout per group of 4 k: the 16 bytes of 4 channels x 4 k sign-extend to
// one ymm of int16 [c0 k0..k3, c1 k0..k3 | c2 .., c3 ..]; the row's 4 bytes,
// zero-extended and repeated as [x0 x1 x2 x3 x0 x1 x2 x3] per lane, multiply
// it into int32 lanes [c0 k01, c0 k23, c1 k01, c1 k23 | c2 .., c3 ..]. Each
// accumulator therefore holds two partial sums per channel, added
// pairwise (vphaddd) once at the end of the tile.
//
// Micro-tile: up to 4 rows x 8 channels (half a packed block): 8
// accumulators, 2 widened weight registers shared by the rows and one
// widened row; 12 of the 16 ymm.
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/qs8_gemm/requant_avx2.h"
#include "kernels/ukernels.h"

namespace kiln {
namespace {

constexpr int kMaxRows = 4;
constexpr int kGroupBytes = kGemmBlockN * kGemmGroupK;  // 64
constexpr int kHalf = kGemmBlockN / 2;                  // 8 channels

struct Ctx {
  const uint8_t* a;
  size_t a_stride;
  uint32_t flip;   // GemmRows::flip, applied to every 4-byte group read
  int32_t groups;  // k_padded / 4
  size_t c_stride;
  Qs8ClampYmm clamp;  // bounds relative to the zero point
  __m128i zp16;
};

// Half a packed block: 8 channels.
struct Half {
  const int8_t* w;  // first group's 32 bytes of these 8 channels
  const int32_t* bias;
  const int32_t* multiplier;
  const int32_t* shift;
  int8_t* c;      // output of row 0, first of these channels
  int32_t valid;  // channels to store (1..8)
};

// The row's 4 bytes of one group as int16 [x0 x1 x2 x3] repeated.
static inline __m256i WidenRow(const uint8_t* p, uint32_t flip) {
  uint32_t v;
  memcpy(&v, p, sizeof(v));
  v ^= flip;  // raw int8 rows -> uint8 + 128 (kernels/gemm.h)
  return _mm256_unpacklo_epi8(_mm256_set1_epi32(v), _mm256_setzero_si256());
}

static inline __m256i WidenWeights(const int8_t* p) {
  return _mm256_cvtepi8_epi16(
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Pair sums of channels 0..3 (a) and 4..7 (b) -> the 8 channel sums + bias,
// requantized, stored.
static inline void FinishRow(const Ctx& x, const Half& h,
                             const Qs8RequantYmm& q, __m256i bias, __m256i a,
                             __m256i b, int8_t* dst) {
  // vphaddd works per 128-bit lane: [c0 c1 c4 c5 | c2 c3 c6 c7].
  __m256i s = _mm256_permute4x64_epi64(_mm256_hadd_epi32(a, b), 0xd8);
  s = _mm256_add_epi32(s, bias);
  const __m256i v = Qs8RequantizeYmm(s, q, x.clamp);
  const __m128i w16 =
      _mm_add_epi16(_mm_packs_epi32(_mm256_castsi256_si128(v),
                                    _mm256_extracti128_si256(v, 1)),
                    x.zp16);
  const __m128i bytes = _mm_packs_epi16(w16, w16);
  if (h.valid >= kHalf) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), bytes);
  } else {
    Qs8StorePartial16(dst, bytes, h.valid);
  }
}

// Named accumulators (GCC keeps arrays of vectors in memory and copies
// them on every k step): cR0 / cR1 are row R, channels 0..3 / 4..7;
// `if constexpr` drops rows beyond MR. Every macro use is a statement
// ending in `;`.
#define KILN_FOR_ROWS(X) \
  X(0);                  \
  X(1);                  \
  X(2);                  \
  X(3)

template <int MR>
__attribute__((noinline)) void Tile(const Ctx& x, const Half& h, int32_t m) {
  static_assert(MR >= 1 && MR <= kMaxRows, "tile rows");
  const __m256i zero = _mm256_setzero_si256();
#define KILN_DECLARE(r) __m256i c##r##0 = zero, c##r##1 = zero
  KILN_FOR_ROWS(KILN_DECLARE);
#undef KILN_DECLARE
  const uint8_t* a = x.a + static_cast<size_t>(m) * x.a_stride;
  const size_t as = x.a_stride;
  const int8_t* w = h.w;
  for (int32_t g = 0; g < x.groups; ++g, a += kGemmGroupK, w += kGroupBytes) {
    const __m256i w0 = WidenWeights(w), w1 = WidenWeights(w + 16);
#define KILN_DOT(r)                                                 \
  if constexpr (r < MR) {                                           \
    const __m256i xr = WidenRow(a + r * as, x.flip);                \
    c##r##0 = _mm256_add_epi32(c##r##0, _mm256_madd_epi16(xr, w0)); \
    c##r##1 = _mm256_add_epi32(c##r##1, _mm256_madd_epi16(xr, w1)); \
  }
    KILN_FOR_ROWS(KILN_DOT);
#undef KILN_DOT
  }
  // Empty asm pins the accumulators: GCC 12 otherwise copies (and spills)
  // them on every iteration of the loop above.
#define KILN_PIN(r) \
  if constexpr (r < MR) __asm__("" : "+x"(c##r##0), "+x"(c##r##1))
  KILN_FOR_ROWS(KILN_PIN);
#undef KILN_PIN
  const __m256i bias =
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h.bias));
  const Qs8RequantYmm q = Qs8RequantYmmLoad(h.multiplier, h.shift);
  int8_t* c = h.c + static_cast<size_t>(m) * x.c_stride;
#define KILN_FINISH(r)                                              \
  if constexpr (r < MR) {                                           \
    FinishRow(x, h, q, bias, c##r##0, c##r##1, c + r * x.c_stride); \
  }
  KILN_FOR_ROWS(KILN_FINISH);
#undef KILN_FINISH
}

#undef KILN_FOR_ROWS

}  // namespace

void qs8_gemm__avx2(const GemmRows& a, const PackedGemm& w,
                    const GemmOutput& out, void* kernel_scratch) {
  (void)kernel_scratch;
  if (a.rows <= 0 || w.n <= 0) return;
  Ctx x;
  x.a = a.data;
  x.a_stride = a.stride;
  x.flip = a.flip;
  x.groups = w.k_padded / kGemmGroupK;
  x.c_stride = out.stride;
  x.clamp = Qs8ClampYmmInit(out.clamp.min, out.clamp.max, out.zero_point);
  x.zp16 = _mm_set1_epi16(static_cast<int16_t>(out.zero_point));
  const size_t block_bytes = static_cast<size_t>(w.k_padded) * kGemmBlockN;
  const int32_t full_rows = a.rows - a.rows % kMaxRows;
  const int32_t tail = a.rows - full_rows;
  for (int32_t c0 = 0; c0 < w.n; c0 += kHalf) {
    const int32_t blk = c0 / kGemmBlockN, half = c0 % kGemmBlockN / kHalf;
    Half h;
    h.w = w.weights + static_cast<size_t>(blk) * block_bytes + half * 32;
    h.bias = w.bias + c0;
    h.multiplier = w.multiplier + c0;
    h.shift = w.shift + c0;
    h.c = out.data + c0;
    h.valid = w.n - c0 < kHalf ? w.n - c0 : kHalf;
    for (int32_t m = 0; m < full_rows; m += kMaxRows) Tile<kMaxRows>(x, h, m);
    switch (tail) {
      case 3:
        Tile<3>(x, h, full_rows);
        break;
      case 2:
        Tile<2>(x, h, full_rows);
        break;
      case 1:
        Tile<1>(x, h, full_rows);
        break;
      default:
        break;
    }
  }
}

}  // namespace kiln
