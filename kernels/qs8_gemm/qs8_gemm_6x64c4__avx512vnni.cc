// INT8 GEMM with AVX-512 VNNI (contract: kernels/gemm.h). Rows are uint8
// (x + 128), weights int8, so one vpdpbusd adds 4 exact u8 x s8 products per
// int32 lane without saturation (the packed bias already subtracts the
// 128 * sum(w) the offset adds). Accumulation wraps like the reference.
//
// Micro-tile: up to 6 rows x 4 blocks of 16 channels = 24 zmm accumulators.
// Per group of 4 k: 4 weight loads (one zmm per block, shared by the rows)
// and one 4-byte broadcast per row (shared by the blocks) feed 24 vpdpbusd;
// 24 independent chains hide the vpdpbusd latency. Thin tiles (1 row: GEMV)
// keep several partial sums along k instead, so the chains stay independent.
// Tails: fewer rows use a smaller tile, the last n blocks a narrower one;
// padding channels (the packed layout always has whole 16-channel blocks)
// are computed but masked off at the store.
// GCC 12 at -O3 reports the `__Y = __Y` placeholders inside its AVX-512
// intrinsic headers as (maybe-)uninitialized (GCC bug 105593); must precede
// the header.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/qs8_gemm/requant_avx512.h"
#include "kernels/ukernels.h"

namespace kiln {
namespace {

constexpr int kMaxRows = 6;                             // MR
constexpr int kMaxBlocks = 4;                           // NB: 64 channels
constexpr int kGroupBytes = kGemmBlockN * kGemmGroupK;  // 64

// Loop-invariant state of one call.
struct Ctx {
  const uint8_t* a;
  size_t a_stride;
  uint32_t flip;       // GemmRows::flip, applied to every 4-byte group read
  size_t block_bytes;  // packed bytes of one 16-channel block
  int32_t groups;      // k_padded / 4
  int8_t* c;
  size_t c_stride;
  Qs8ClampZmm clamp;  // bounds relative to the zero point (64-bit path)
  Qs8OutZmm out;      // zero point and int8 clamp
};

// Per 64-channel strip: weights, bias, requantization and store mask.
struct Strip {
  const int8_t* w;
  const int32_t* bias;
  Qs8RequantZmm rq[kMaxBlocks];
  __mmask64 mask;
};

static inline __m512i BroadcastRow(const uint8_t* p, uint32_t flip) {
  uint32_t v;
  memcpy(&v, p, sizeof(v));
  v ^= flip;  // raw int8 rows -> uint8 + 128 (kernels/gemm.h)
  return _mm512_set1_epi32(v);
}

// The accumulators are named variables, not an array: GCC keeps an array of
// vectors in memory and copies it on every k step. cRJ is row R, block J.
// The macros expand to all 6 x 4 positions; `if constexpr` drops those
// outside the tile, so the compiler only sees MR x NB live accumulators.
// Every macro use is a statement ending in `;`.
#define KILN_FOR_ROWS(X) \
  X(0);                  \
  X(1);                  \
  X(2);                  \
  X(3);                  \
  X(4);                  \
  X(5)
#define KILN_FOR_BLOCKS(X, r) \
  X(r, 0);                    \
  X(r, 1);                    \
  X(r, 2);                    \
  X(r, 3)

// MR rows (starting at row m) x NB blocks of the strip.
template <int MR, int NB>
__attribute__((noinline)) void Tile(const Ctx& x, const Strip& s, int32_t m) {
  static_assert(MR >= 1 && MR <= kMaxRows && NB >= 1 && NB <= kMaxBlocks,
                "tile size");
  const __m512i zero = _mm512_setzero_si512();
#define KILN_DECLARE(r, j) __m512i c##r##j = zero
#define KILN_DECLARE_ROW(r) KILN_FOR_BLOCKS(KILN_DECLARE, r)
  KILN_FOR_ROWS(KILN_DECLARE_ROW);
#undef KILN_DECLARE_ROW
#undef KILN_DECLARE
#define KILN_INIT(r, j)                                     \
  if constexpr (r < MR && j < NB) {                         \
    c##r##j = _mm512_loadu_si512(s.bias + j * kGemmBlockN); \
  }
#define KILN_INIT_ROW(r) KILN_FOR_BLOCKS(KILN_INIT, r)
  KILN_FOR_ROWS(KILN_INIT_ROW);
#undef KILN_INIT_ROW
#undef KILN_INIT

  const uint8_t* a = x.a + static_cast<size_t>(m) * x.a_stride;
  const size_t as = x.a_stride, wb = x.block_bytes;
  const int8_t* w = s.w;
  for (int32_t g = 0; g < x.groups; ++g, a += kGemmGroupK, w += kGroupBytes) {
    __m512i w0 = zero, w1 = zero, w2 = zero, w3 = zero;
#define KILN_LOAD(r, j) \
  if constexpr (j < NB) w##j = _mm512_loadu_si512(w + j * wb)
    KILN_FOR_BLOCKS(KILN_LOAD, 0);
#undef KILN_LOAD
#define KILN_DOT(r, j) \
  if constexpr (j < NB) c##r##j = _mm512_dpbusd_epi32(c##r##j, xr, w##j)
#define KILN_DOT_ROW(r)                                  \
  if constexpr (r < MR) {                                \
    const __m512i xr = BroadcastRow(a + r * as, x.flip); \
    KILN_FOR_BLOCKS(KILN_DOT, r);                        \
  }
    KILN_FOR_ROWS(KILN_DOT_ROW);
#undef KILN_DOT_ROW
#undef KILN_DOT
  }

  // Block-outer so each block's requantization constants are read once for
  // all rows.
#define KILN_REQUANT(j, r)                                 \
  if constexpr (r < MR && j < NB) {                        \
    c##r##j = Qs8RequantizeZmm(c##r##j, s.rq[j], x.clamp); \
  }
#define KILN_REQUANT_BLOCK(j) KILN_FOR_ROWS_OF(KILN_REQUANT, j)
#define KILN_FOR_ROWS_OF(X, j) \
  X(j, 0);                     \
  X(j, 1);                     \
  X(j, 2);                     \
  X(j, 3);                     \
  X(j, 4);                     \
  X(j, 5)
  KILN_REQUANT_BLOCK(0);
  KILN_REQUANT_BLOCK(1);
  KILN_REQUANT_BLOCK(2);
  KILN_REQUANT_BLOCK(3);
#undef KILN_FOR_ROWS_OF
#undef KILN_REQUANT_BLOCK
#undef KILN_REQUANT
  // Blocks beyond NB are still the zeros they were declared as.
  int8_t* c = x.c + static_cast<size_t>(m) * x.c_stride;
#define KILN_STORE(r)                                           \
  if constexpr (r < MR) {                                       \
    _mm512_mask_storeu_epi8(                                    \
        c + r * x.c_stride, s.mask,                             \
        Qs8PackZmm(c##r##0, c##r##1, c##r##2, c##r##3, x.out)); \
  }
  KILN_FOR_ROWS(KILN_STORE);
#undef KILN_STORE
}

// One row x NB blocks with two (NB == 4) or four partial sums along k
// (groups g, g + 1, ...): a GEMV has no rows to interleave, so without them
// every vpdpbusd would wait for the previous one on the same accumulator.
// pUJ is phase U, block J.
template <int NB>
__attribute__((noinline)) void TileRow(const Ctx& x, const Strip& s,
                                       int32_t m) {
  constexpr int KU = NB >= 4 ? 2 : 4;
  const __m512i zero = _mm512_setzero_si512();
#define KILN_DECLARE(u, j) __m512i p##u##j = zero
  KILN_FOR_BLOCKS(KILN_DECLARE, 0);
  KILN_FOR_BLOCKS(KILN_DECLARE, 1);
  KILN_FOR_BLOCKS(KILN_DECLARE, 2);
  KILN_FOR_BLOCKS(KILN_DECLARE, 3);
#undef KILN_DECLARE
#define KILN_INIT(u, j) \
  if constexpr (j < NB) p##u##j = _mm512_loadu_si512(s.bias + j * kGemmBlockN)
  KILN_FOR_BLOCKS(KILN_INIT, 0);
#undef KILN_INIT
  const uint8_t* a = x.a + static_cast<size_t>(m) * x.a_stride;
  const size_t wb = x.block_bytes;
  const int8_t* w = s.w;
#define KILN_DOT(u, j)                                                    \
  if constexpr (u < KU && j < NB) {                                       \
    p##u##j = _mm512_dpbusd_epi32(                                        \
        p##u##j, x##u, _mm512_loadu_si512(w + j * wb + u * kGroupBytes)); \
  }
#define KILN_PHASE(u)                                               \
  if constexpr (u < KU) {                                           \
    const __m512i x##u = BroadcastRow(a + u * kGemmGroupK, x.flip); \
    KILN_FOR_BLOCKS(KILN_DOT, u);                                   \
  }
  int32_t g = 0;
  for (; g + KU <= x.groups; g += KU) {
    KILN_PHASE(0);
    KILN_PHASE(1);
    KILN_PHASE(2);
    KILN_PHASE(3);
    a += KU * kGemmGroupK;
    w += KU * kGroupBytes;
  }
  // Same GCC 12 register-copy problem as in Qs8RequantizeZmm: the partial
  // sums flow into a second loop and a sum; an empty asm pins them.
#define KILN_PIN(u, j) \
  if constexpr (u < KU && j < NB) __asm__("" : "+v"(p##u##j))
  KILN_FOR_BLOCKS(KILN_PIN, 0);
  KILN_FOR_BLOCKS(KILN_PIN, 1);
  KILN_FOR_BLOCKS(KILN_PIN, 2);
  KILN_FOR_BLOCKS(KILN_PIN, 3);
#undef KILN_PIN
  for (; g < x.groups; ++g) {
    KILN_PHASE(0);
    a += kGemmGroupK;
    w += kGroupBytes;
  }
#undef KILN_PHASE
#undef KILN_DOT
#define KILN_SUM(u, j)                                        \
  if constexpr (j < NB) {                                     \
    p0##j = _mm512_add_epi32(_mm512_add_epi32(p0##j, p1##j),  \
                             _mm512_add_epi32(p2##j, p3##j)); \
    p0##j = Qs8RequantizeZmm(p0##j, s.rq[j], x.clamp);        \
  }
  KILN_FOR_BLOCKS(KILN_SUM, 0);
#undef KILN_SUM
  _mm512_mask_storeu_epi8(x.c + static_cast<size_t>(m) * x.c_stride, s.mask,
                          Qs8PackZmm(p00, p01, p02, p03, x.out));
}

#undef KILN_FOR_BLOCKS
#undef KILN_FOR_ROWS

// All rows of the call for one strip of NB blocks.
template <int NB>
void StripRows(const Ctx& x, const Strip& s, int32_t rows) {
  int32_t m = 0;
  for (; m + kMaxRows <= rows; m += kMaxRows) Tile<kMaxRows, NB>(x, s, m);
  switch (rows - m) {
    case 5:
      Tile<5, NB>(x, s, m);
      break;
    case 4:
      Tile<4, NB>(x, s, m);
      break;
    case 3:
      Tile<3, NB>(x, s, m);
      break;
    case 2:
      Tile<2, NB>(x, s, m);
      break;
    case 1:
      TileRow<NB>(x, s, m);
      break;
    default:
      break;
  }
}

}  // namespace

void qs8_gemm__avx512vnni(const GemmRows& a, const PackedGemm& w,
                          const GemmOutput& out, void* kernel_scratch) {
  (void)kernel_scratch;
  if (a.rows <= 0 || w.n <= 0) return;
  Ctx x;
  x.a = a.data;
  x.a_stride = a.stride;
  x.flip = a.flip;
  x.block_bytes = static_cast<size_t>(w.k_padded) * kGemmBlockN;
  x.groups = w.k_padded / kGemmGroupK;
  x.c = out.data;
  x.c_stride = out.stride;
  x.clamp = Qs8ClampZmmInit(out.clamp.min, out.clamp.max, out.zero_point);
  x.out = Qs8OutZmmInit(out.clamp.min, out.clamp.max, out.zero_point);
  for (int32_t b0 = 0; b0 < w.n_blocks; b0 += kMaxBlocks) {
    const int32_t nb =
        w.n_blocks - b0 < kMaxBlocks ? w.n_blocks - b0 : kMaxBlocks;
    const int32_t c0 = b0 * kGemmBlockN;
    const int32_t valid = w.n - c0 < 64 ? w.n - c0 : 64;
    Strip s;
    s.w = w.weights + static_cast<size_t>(b0) * x.block_bytes;
    s.bias = w.bias + c0;
    for (int32_t j = 0; j < nb; ++j) {
      s.rq[j] = Qs8RequantZmmLoad(w.multiplier + c0 + j * kGemmBlockN,
                                  w.shift + c0 + j * kGemmBlockN);
    }
    s.mask = valid == 64 ? ~__mmask64(0) : (__mmask64(1) << valid) - 1;
    x.c = out.data + c0;
    switch (nb) {
      case 4:
        StripRows<4>(x, s, a.rows);
        break;
      case 3:
        StripRows<3>(x, s, a.rows);
        break;
      case 2:
        StripRows<2>(x, s, a.rows);
        break;
      default:
        StripRows<1>(x, s, a.rows);
        break;
    }
  }
}

}  // namespace kiln
