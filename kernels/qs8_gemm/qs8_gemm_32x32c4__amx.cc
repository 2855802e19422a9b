// AMX-INT8 GEMM: qs8_gemm__amx (kernels/ukernels.h), bit-exact to
// ref::FullyConnected.
//
// Tiles (palette 1, all eight 16 rows x 64 bytes):
//   tmm0..3  C: 2 x 2 accumulators, 32 rows x 32 channels (tmm(2*i + j) is
//            row tile i, channel block j)
//   tmm4..5  A: two 16-row x 64-byte slices of the uint8 rows (x + 128)
//   tmm6..7  B: two channel blocks, 16 groups of 4 k x 16 channels each,
//            which is exactly 16 consecutive groups of the packed weights
// One k step (64 k) is 4 loads + 4 TDPBUSD (u8 x s8, int32 wrap-around,
// the same contract as VPDPBUSD). The C tiles start from the folded bias (a
// tile load with stride 0 repeats the 64-byte bias row) and go through the
// 16 KiB kernel scratch to be requantized with AVX-512.
//
// Requantization of a stored block is interleaved with the k loop of the
// next block (two C buffers): TMUL runs its 16-cycle TDPBUSDs while the
// vector ports requantize, instead of the two phases taking turns.
//
// Tails: rows beyond a.rows inside the last 16-row tile are computed from
// the (readable, garbage) rows the buffer holds and never stored. The last
// k step may read B rows past this block's groups (the next block, or the
// kGemmWeightsTailBytes of zeros at the end); they meet A columns beyond k,
// which are zero, and add nothing.

// GCC 12 at -O3 reports the `__Y = __Y` placeholders inside its AVX-512
// intrinsic headers as maybe-uninitialized (GCC bug 105593); must precede
// the header.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/gemm.h"
#include "kernels/requant.h"
#include "kernels/ukernels.h"

namespace kiln {
namespace {

// LDTILECFG operand. Constant, so it is fully formed in .rodata (GCC's
// _tile_loadconfig tells the compiler it reads only 8 bytes).
struct alignas(64) TileConfig {
  uint8_t palette;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
const TileConfig kTileConfig = {1,
                                0,
                                {0},
                                {64, 64, 64, 64, 64, 64, 64, 64},
                                {16, 16, 16, 16, 16, 16, 16, 16}};

static_assert(sizeof(TileConfig) == 64 && offsetof(TileConfig, colsb) == 16 &&
                  offsetof(TileConfig, rows) == 48,
              "LDTILECFG layout");

constexpr int32_t kTileRows = 16;
constexpr int32_t kGroupsPerStep = 16;  // k groups (of 4) per 64-byte A row
// C buffer of one block: [channel block j][32 rows][16] int32 (4 KiB); two
// of them alternate.
constexpr int32_t kBufferInts = 2 * 32 * 16;

// Per-channel requantization of one 16-channel block, split into the even
// and odd channels because VPMULDQ multiplies the even dwords into qwords.
struct ChannelParams {
  __m512i multiplier_even, multiplier_odd;
  __m512i round_even, round_odd;  // 2^(total - 1)
  __m512i total_even, total_odd;  // 31 - shift, in [1, 62]
};

// A block of stored accumulators waiting for requantization, processed in
// units of one row x one 16-channel block.
struct Pending {
  const int32_t* c;           // kBufferInts layout
  int8_t* out;                // output row 0, channel 16 * block 0
  const int32_t* multiplier;  // for the exact scalar path
  const int32_t* shift;
  size_t out_stride;
  int32_t rows;                  // valid rows, 1..32
  int32_t blocks;                // channel blocks, 1..2
  int32_t next_row, next_block;  // progress
  __mmask16 store_mask[2];
  ChannelParams params[2];
};

// Output constants of one call. The reference computes
//   clamp(saturate_int32(r) + zp, min, max)
// in 64 bits; with lo = max(min - zp, INT32_MIN) and hi = min(max - zp,
// INT32_MAX) that equals clamp(r, lo, hi) + zp whenever lo <= hi, and both
// fit in int32 so the final add is 32-bit. Other parameters (lo > hi: an
// absurd zero point or min > max) take the exact scalar path.
struct OutputParams {
  __m512i lo, hi, zero_point;
  int32_t scalar_zero_point, act_min, act_max;
  bool exact_scalar;
};

inline void LoadChannelParams(const int32_t* multiplier, const int32_t* shift,
                              ChannelParams* p) {
  const __m512i m = _mm512_loadu_si512(multiplier);
  const __m512i total =
      _mm512_sub_epi32(_mm512_set1_epi32(31), _mm512_loadu_si512(shift));
  // total is positive, so masking/shifting the dword into a qword is its
  // zero (= sign) extension.
  const __m512i total_even =
      _mm512_and_si512(total, _mm512_set1_epi64(0xffffffff));
  const __m512i total_odd = _mm512_srli_epi64(total, 32);
  const __m512i one = _mm512_set1_epi64(1);
  p->multiplier_even = m;  // VPMULDQ reads the low (even) dword of each qword
  p->multiplier_odd = _mm512_srli_epi64(m, 32);
  p->total_even = total_even;
  p->total_odd = total_odd;
  p->round_even = _mm512_sllv_epi64(one, _mm512_sub_epi64(total_even, one));
  p->round_odd = _mm512_sllv_epi64(one, _mm512_sub_epi64(total_odd, one));
}

// Requantizes one row of 16 accumulators (bias included) into 16 bytes.
inline void RequantizeRow(const int32_t* acc_ptr, const ChannelParams& p,
                          __m512i lo, __m512i hi, __m512i zero_point,
                          __mmask16 mask, int8_t* dst) {
  const __m512i acc = _mm512_loadu_si512(acc_ptr);
  __m512i even = _mm512_mul_epi32(acc, p.multiplier_even);
  __m512i odd = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), p.multiplier_odd);
  even = _mm512_srav_epi64(_mm512_add_epi64(even, p.round_even), p.total_even);
  odd = _mm512_srav_epi64(_mm512_add_epi64(odd, p.round_odd), p.total_odd);
  even = _mm512_min_epi64(_mm512_max_epi64(even, lo), hi);
  odd = _mm512_min_epi64(_mm512_max_epi64(odd, lo), hi);
  // Both fit in the low dword of their qword: swapping the dwords of `odd`
  // puts its results in the odd lanes, channel order again.
  __m512i v =
      _mm512_mask_shuffle_epi32(even, __mmask16(0xaaaa), odd, _MM_PERM_CDAB);
  v = _mm512_add_epi32(v, zero_point);
  _mm_mask_storeu_epi8(dst, mask, _mm512_cvtepi32_epi8(v));
}

// The exact scalar requantization of one row (OutputParams::exact_scalar).
void RequantizeRowScalar(const int32_t* acc, const int32_t* multiplier,
                         const int32_t* shift, const OutputParams& o,
                         __mmask16 mask, int8_t* dst) {
  for (int32_t i = 0; i < 16 && ((mask >> i) & 1) != 0; ++i) {
    dst[i] = static_cast<int8_t>(Requantize(acc[i], multiplier[i], shift[i],
                                            o.scalar_zero_point, o.act_min,
                                            o.act_max));
  }
}

// Requantizes up to `units` rows of the pending block (all when units < 0).
// Progress lives in locals: the byte stores may alias *pd as far as the
// compiler knows, which would reload it for every row.
void Drain(Pending* pd, const OutputParams& o, int32_t units) {
  int32_t j = pd->next_block, r = pd->next_row;
  const int32_t blocks = pd->blocks, rows = pd->rows;
  const size_t stride = pd->out_stride;
  const __m512i lo = o.lo, hi = o.hi, zero_point = o.zero_point;
  while (j < blocks && units != 0) {
    int32_t end = rows;
    if (units > 0) {
      if (rows - r > units) end = r + units;
      units -= end - r;
    }
    const ChannelParams p = pd->params[j];
    const __mmask16 mask = pd->store_mask[j];
    const int32_t* acc = pd->c + (j * 32 + r) * 16;
    int8_t* dst = pd->out + r * stride + j * 16;
    if (!o.exact_scalar) {
      for (; r < end; ++r, acc += 16, dst += stride) {
        RequantizeRow(acc, p, lo, hi, zero_point, mask, dst);
      }
    } else {
      for (; r < end; ++r, acc += 16, dst += stride) {
        RequantizeRowScalar(acc, pd->multiplier + j * 16, pd->shift + j * 16, o,
                            mask, dst);
      }
    }
    if (r == rows) {
      r = 0;
      ++j;
    }
  }
  pd->next_block = j;
  pd->next_row = r;
}

// Computes a block of MT row tiles x NT channel blocks into `c`, draining
// the pending block along the way. a: first row of the block; b0/b1: the
// packed weights of the two channel blocks; bias0/bias1 likewise.
template <int MT, int NT>
void ComputeBlock(const uint8_t* a, size_t a_stride, const int8_t* b0,
                  const int8_t* b1, const int32_t* bias0, const int32_t* bias1,
                  int32_t ksteps, int32_t* c, Pending* pd,
                  const OutputParams& o) {
  const int32_t remaining =
      pd->next_block < pd->blocks
          ? (pd->blocks - pd->next_block) * pd->rows - pd->next_row
          : 0;
  const int32_t quota = (remaining + ksteps - 1) / ksteps;
  const long stride = static_cast<long>(a_stride);
  const uint8_t* a1 = a + kTileRows * a_stride;
  _tile_loadd(0, bias0, 0);
  if (NT == 2) _tile_loadd(1, bias1, 0);
  if (MT == 2) _tile_loadd(2, bias0, 0);
  if (MT == 2 && NT == 2) _tile_loadd(3, bias1, 0);
  for (int32_t ks = 0; ks < ksteps; ++ks) {
    const size_t a_off = static_cast<size_t>(ks) * 64;
    const size_t b_off = static_cast<size_t>(ks) * kGroupsPerStep * 64;
    _tile_loadd(4, a + a_off, stride);
    _tile_loadd(6, b0 + b_off, 64);
    _tile_dpbusd(0, 4, 6);
    if (NT == 2) {
      _tile_loadd(7, b1 + b_off, 64);
      _tile_dpbusd(1, 4, 7);
    }
    if (MT == 2) {
      _tile_loadd(5, a1 + a_off, stride);
      _tile_dpbusd(2, 5, 6);
      if (NT == 2) _tile_dpbusd(3, 5, 7);
    }
    if (quota != 0) Drain(pd, o, quota);
  }
  Drain(pd, o, -1);  // normally nothing left; the buffers alternate
  _tile_stored(0, c, 64);
  if (MT == 2) _tile_stored(2, c + 16 * 16, 64);
  if (NT == 2) _tile_stored(1, c + 32 * 16, 64);
  if (MT == 2 && NT == 2) _tile_stored(3, c + 48 * 16, 64);
}

}  // namespace

void qs8_gemm__amx(const GemmRows& a, const PackedGemm& w,
                   const GemmOutput& out, void* kernel_scratch) {
  // A batch-1 GEMV (or a few rows) would use 1/16 of every A tile; raw rows
  // (read in place, kernels/gemm.h) are not padded to whole 16-row, 64-byte
  // tiles, so they go to the VNNI kernel too.
  if (a.rows < kTileRows || a.flip != 0) {
    qs8_gemm__avx512vnni(a, w, out, kernel_scratch);
    return;
  }
  OutputParams o;
  {
    const int64_t zp = out.zero_point;
    int64_t lo = out.clamp.min - zp, hi = out.clamp.max - zp;
    if (lo < INT32_MIN) lo = INT32_MIN;
    if (hi > INT32_MAX) hi = INT32_MAX;
    o.exact_scalar = lo > hi;
    o.lo = _mm512_set1_epi64(lo);
    o.hi = _mm512_set1_epi64(hi);
    o.zero_point = _mm512_set1_epi32(out.zero_point);
    o.scalar_zero_point = out.zero_point;
    o.act_min = out.clamp.min;
    o.act_max = out.clamp.max;
  }

  _tile_loadconfig(&kTileConfig);
  const int32_t groups = w.k_padded / kGemmGroupK;
  const size_t block_bytes = static_cast<size_t>(groups) * 64;
  const int32_t ksteps = (groups + kGroupsPerStep - 1) / kGroupsPerStep;
  const int32_t row_tiles = (a.rows + kTileRows - 1) / kTileRows;
  int32_t* buffers = static_cast<int32_t*>(kernel_scratch);
  int32_t parity = 0;
  Pending pd;
  pd.next_block = pd.blocks = 0;
  pd.next_row = pd.rows = 0;

  // Channel pairs outside, rows inside: a pair's weights (32 x k bytes) are
  // reused by all row tiles of the call while still in cache; the rows of
  // one call (<= 64 x k) stay in L2.
  for (int32_t nb = 0; nb < w.n_blocks; nb += 2) {
    const int32_t nt = w.n_blocks - nb >= 2 ? 2 : 1;
    const int8_t* b0 = w.weights + static_cast<size_t>(nb) * block_bytes;
    const int8_t* b1 = b0 + block_bytes;
    const int32_t* bias0 = w.bias + nb * 16;
    const int32_t* bias1 = bias0 + 16;
    const int32_t channels = w.n - nb * 16;  // > 0
    for (int32_t rt = 0; rt < row_tiles; rt += 2) {
      const int32_t mt = row_tiles - rt >= 2 ? 2 : 1;
      const uint8_t* a_block =
          a.data + static_cast<size_t>(rt) * kTileRows * a.stride;
      int32_t* c = buffers + parity * kBufferInts;
      parity ^= 1;
      if (mt == 2 && nt == 2) {
        ComputeBlock<2, 2>(a_block, a.stride, b0, b1, bias0, bias1, ksteps, c,
                           &pd, o);
      } else if (mt == 2) {
        ComputeBlock<2, 1>(a_block, a.stride, b0, b1, bias0, bias1, ksteps, c,
                           &pd, o);
      } else if (nt == 2) {
        ComputeBlock<1, 2>(a_block, a.stride, b0, b1, bias0, bias1, ksteps, c,
                           &pd, o);
      } else {
        ComputeBlock<1, 1>(a_block, a.stride, b0, b1, bias0, bias1, ksteps, c,
                           &pd, o);
      }
      // The block just stored becomes the pending one.
      const int32_t rows_left = a.rows - rt * kTileRows;
      pd.c = c;
      pd.out =
          out.data + static_cast<size_t>(rt) * kTileRows * out.stride + nb * 16;
      pd.out_stride = out.stride;
      pd.multiplier = w.multiplier + nb * 16;
      pd.shift = w.shift + nb * 16;
      pd.rows = rows_left < mt * kTileRows ? rows_left : mt * kTileRows;
      pd.blocks = nt;
      pd.next_row = pd.next_block = 0;
      for (int32_t j = 0; j < nt; ++j) {
        const int32_t valid = channels - j * 16;
        pd.store_mask[j] = valid >= 16
                               ? __mmask16(0xffff)
                               : static_cast<__mmask16>((1u << valid) - 1);
        if (rt == 0) {  // the same channels for every row tile
          LoadChannelParams(pd.multiplier + j * 16, pd.shift + j * 16,
                            &pd.params[j]);
        }
      }
    }
  }
  Drain(&pd, o, -1);
  _tile_release();
}

}  // namespace kiln
