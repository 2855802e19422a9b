// INT8 GEMM with AVX-VNNI (contract: kernels/gemm.h): the VEX-encoded
// 256-bit vpdpbusd of CPUs that have VNNI without AVX-512. Rows are uint8
// (x + 128), weights int8: each vpdpbusd adds 4 exact u8 x s8 products per
// int32 lane without saturation; the packed bias already removes the
// 128 * sum(w) the offset adds. Accumulation wraps like the reference.
//
// Micro-tile: up to 6 rows x one 16-channel block = 12 ymm accumulators
// (the packed group of a block is 64 bytes: two ymm of 8 channels x 4 k),
// plus the two weight registers and a broadcast row: 15 of the 16 ymm.
// Per group of 4 k: 2 weight loads shared by the rows, one 4-byte broadcast
// per row, 12 vpdpbusd on independent chains. A single row (GEMV) instead
// spans up to 4 blocks with extra partial sums along k, so it still has 8+
// independent chains. Padding channels of the last block are computed and
// not stored.
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/qs8_gemm/requant_avx2.h"
#include "kernels/ukernels.h"

namespace kiln {
namespace {

constexpr int kMaxRows = 6;
constexpr int kGroupBytes = kGemmBlockN * kGemmGroupK;  // 64

struct Ctx {
  const uint8_t* a;
  size_t a_stride;
  uint32_t flip;       // GemmRows::flip, applied to every 4-byte group read
  size_t block_bytes;  // packed bytes of one 16-channel block
  int32_t groups;      // k_padded / 4
  int8_t* c;           // output of channel 0 of the first block
  size_t c_stride;
  Qs8ClampYmm clamp;  // bounds relative to the zero point
  __m128i zp16;
};

// One 16-channel block (or, for TileRow, the first of up to 4).
struct Block {
  const int8_t* w;
  const int32_t* bias;
  const int32_t* multiplier;
  const int32_t* shift;
  int32_t valid;  // channels to store, from the first block on
};

static inline __m256i BroadcastRow(const uint8_t* p, uint32_t flip) {
  uint32_t v;
  memcpy(&v, p, sizeof(v));
  v ^= flip;  // raw int8 rows -> uint8 + 128 (kernels/gemm.h)
  return _mm256_set1_epi32(v);
}

static inline __m256i Load(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// Requantizes one row of a block (two accumulators) and stores `valid`
// channels.
static inline void StoreRow(const Ctx& x, const Qs8RequantYmm& q0,
                            const Qs8RequantYmm& q1, __m256i acc0, __m256i acc1,
                            int8_t* dst, int32_t valid) {
  const __m256i v0 = Qs8RequantizeYmm(acc0, q0, x.clamp);
  const __m256i v1 = Qs8RequantizeYmm(acc1, q1, x.clamp);
  Qs8StorePartial16(dst, Qs8PackYmm(v0, v1, x.zp16), valid);
}

// Named accumulators (GCC keeps arrays of vectors in memory and copies
// them on every k step): cRH is row R, half H (channels 8H .. 8H + 7);
// `if constexpr` drops rows beyond MR. Every macro use is a statement
// ending in `;`.
#define KILN_FOR_ROWS(X) \
  X(0);                  \
  X(1);                  \
  X(2);                  \
  X(3);                  \
  X(4);                  \
  X(5)
#define KILN_FOR_BLOCKS(X, u) \
  X(u, 0);                    \
  X(u, 1);                    \
  X(u, 2);                    \
  X(u, 3)

template <int MR>
__attribute__((noinline)) void Tile(const Ctx& x, const Block& b, int32_t m) {
  static_assert(MR >= 1 && MR <= kMaxRows, "tile rows");
  const __m256i bias0 = Load(b.bias), bias1 = Load(b.bias + 8);
#define KILN_DECLARE(r) __m256i c##r##0 = bias0, c##r##1 = bias1
  KILN_FOR_ROWS(KILN_DECLARE);
#undef KILN_DECLARE
  const uint8_t* a = x.a + static_cast<size_t>(m) * x.a_stride;
  const size_t as = x.a_stride;
  const int8_t* w = b.w;
  for (int32_t g = 0; g < x.groups; ++g, a += kGemmGroupK, w += kGroupBytes) {
    const __m256i w0 = Load(w), w1 = Load(w + 32);
#define KILN_DOT(r)                                      \
  if constexpr (r < MR) {                                \
    const __m256i xr = BroadcastRow(a + r * as, x.flip); \
    c##r##0 = _mm256_dpbusd_avx_epi32(c##r##0, xr, w0);  \
    c##r##1 = _mm256_dpbusd_avx_epi32(c##r##1, xr, w1);  \
  }
    KILN_FOR_ROWS(KILN_DOT);
#undef KILN_DOT
  }
  const Qs8RequantYmm q0 = Qs8RequantYmmLoad(b.multiplier, b.shift);
  const Qs8RequantYmm q1 = Qs8RequantYmmLoad(b.multiplier + 8, b.shift + 8);
  int8_t* c = x.c + static_cast<size_t>(m) * x.c_stride;
#define KILN_STORE(r)                                                   \
  if constexpr (r < MR) {                                               \
    StoreRow(x, q0, q1, c##r##0, c##r##1, c + r * x.c_stride, b.valid); \
  }
  KILN_FOR_ROWS(KILN_STORE);
#undef KILN_STORE
}

// One row x NB blocks (NB <= 4) with KU partial sums along k, so that a
// GEMV keeps at least 8 independent vpdpbusd chains. pUJH: phase U, block
// J, half H. Weights are memory operands (each is used once).
template <int NB>
__attribute__((noinline)) void TileRow(const Ctx& x, const Block& b,
                                       int32_t m) {
  constexpr int KU = NB >= 4 ? 1 : NB >= 2 ? 2 : 4;
  const __m256i zero = _mm256_setzero_si256();
#define KILN_DECLARE(u, j) __m256i p##u##j##0 = zero, p##u##j##1 = zero
  KILN_FOR_BLOCKS(KILN_DECLARE, 0);
  KILN_FOR_BLOCKS(KILN_DECLARE, 1);
  KILN_FOR_BLOCKS(KILN_DECLARE, 2);
  KILN_FOR_BLOCKS(KILN_DECLARE, 3);
#undef KILN_DECLARE
#define KILN_INIT(u, j)                              \
  if constexpr (j < NB) {                            \
    p##u##j##0 = Load(b.bias + j * kGemmBlockN);     \
    p##u##j##1 = Load(b.bias + j * kGemmBlockN + 8); \
  }
  KILN_FOR_BLOCKS(KILN_INIT, 0);
#undef KILN_INIT
  const uint8_t* a = x.a + static_cast<size_t>(m) * x.a_stride;
  const size_t wb = x.block_bytes;
  const int8_t* w = b.w;
#define KILN_DOT(u, j)                                                        \
  if constexpr (u < KU && j < NB) {                                           \
    p##u##j##0 = _mm256_dpbusd_avx_epi32(p##u##j##0, x##u,                    \
                                         Load(w + j * wb + u * kGroupBytes)); \
    p##u##j##1 = _mm256_dpbusd_avx_epi32(                                     \
        p##u##j##1, x##u, Load(w + j * wb + u * kGroupBytes + 32));           \
  }
#define KILN_PHASE(u)                                               \
  if constexpr (u < KU) {                                           \
    const __m256i x##u = BroadcastRow(a + u * kGemmGroupK, x.flip); \
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
  // Pin the partial sums (GCC 12 would copy them on every iteration above
  // because they flow into a second loop and a sum).
#define KILN_PIN(u, j)                                \
  if constexpr (u < KU && j < NB) {                   \
    __asm__("" : "+x"(p##u##j##0), "+x"(p##u##j##1)); \
  }
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
  int8_t* c = x.c + static_cast<size_t>(m) * x.c_stride;
#define KILN_SUM_STORE(u, j)                                                   \
  if constexpr (j < NB) {                                                      \
    const __m256i s0 = _mm256_add_epi32(_mm256_add_epi32(p0##j##0, p1##j##0),  \
                                        _mm256_add_epi32(p2##j##0, p3##j##0)); \
    const __m256i s1 = _mm256_add_epi32(_mm256_add_epi32(p0##j##1, p1##j##1),  \
                                        _mm256_add_epi32(p2##j##1, p3##j##1)); \
    const int32_t off = j * kGemmBlockN;                                       \
    const Qs8RequantYmm q0 =                                                   \
        Qs8RequantYmmLoad(b.multiplier + off, b.shift + off);                  \
    const Qs8RequantYmm q1 =                                                   \
        Qs8RequantYmmLoad(b.multiplier + off + 8, b.shift + off + 8);          \
    StoreRow(x, q0, q1, s0, s1, c + off, b.valid - off);                       \
  }
  KILN_FOR_BLOCKS(KILN_SUM_STORE, 0);
#undef KILN_SUM_STORE
}

#undef KILN_FOR_BLOCKS
#undef KILN_FOR_ROWS

}  // namespace

void qs8_gemm__avxvnni(const GemmRows& a, const PackedGemm& w,
                       const GemmOutput& out, void* kernel_scratch) {
  (void)kernel_scratch;
  if (a.rows <= 0 || w.n <= 0) return;
  Ctx x;
  x.a = a.data;
  x.a_stride = a.stride;
  x.flip = a.flip;
  x.block_bytes = static_cast<size_t>(w.k_padded) * kGemmBlockN;
  x.groups = w.k_padded / kGemmGroupK;
  x.c_stride = out.stride;
  x.clamp = Qs8ClampYmmInit(out.clamp.min, out.clamp.max, out.zero_point);
  x.zp16 = _mm_set1_epi16(static_cast<int16_t>(out.zero_point));
  const int32_t full_rows = a.rows - a.rows % kMaxRows;
  const int32_t tail = a.rows - full_rows;
  // Multi-row tiles block by block; a leftover single row takes up to 4
  // blocks at once.
  for (int32_t blk = 0; blk < w.n_blocks; ++blk) {
    const int32_t c0 = blk * kGemmBlockN;
    Block b;
    b.w = w.weights + static_cast<size_t>(blk) * x.block_bytes;
    b.bias = w.bias + c0;
    b.multiplier = w.multiplier + c0;
    b.shift = w.shift + c0;
    b.valid = w.n - c0;
    x.c = out.data + c0;
    for (int32_t m = 0; m < full_rows; m += kMaxRows) Tile<kMaxRows>(x, b, m);
    switch (tail) {
      case 5:
        Tile<5>(x, b, full_rows);
        break;
      case 4:
        Tile<4>(x, b, full_rows);
        break;
      case 3:
        Tile<3>(x, b, full_rows);
        break;
      case 2:
        Tile<2>(x, b, full_rows);
        break;
      default:
        break;
    }
  }
  if (tail != 1) return;
  for (int32_t blk = 0; blk < w.n_blocks; blk += 4) {
    const int32_t c0 = blk * kGemmBlockN;
    Block b;
    b.w = w.weights + static_cast<size_t>(blk) * x.block_bytes;
    b.bias = w.bias + c0;
    b.multiplier = w.multiplier + c0;
    b.shift = w.shift + c0;
    b.valid = w.n - c0;
    x.c = out.data + c0;
    switch (w.n_blocks - blk) {
      case 1:
        TileRow<1>(x, b, full_rows);
        break;
      case 2:
        TileRow<2>(x, b, full_rows);
        break;
      case 3:
        TileRow<3>(x, b, full_rows);
        break;
      default:
        TileRow<4>(x, b, full_rows);
        break;
    }
  }
}

}  // namespace kiln
