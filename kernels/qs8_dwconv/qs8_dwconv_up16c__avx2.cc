// AVX2 depthwise convolution, 16 int16 lanes per vector; also the AVX-VNNI
// path's depthwise kernel. The scalar twin is qs8_dwconv_up1c__scalar.cc;
// the structure is that of qs8_dwconv_up32c__avx512vnni.cc with half the lanes
// (dw_rows.h describes the scratch rows and the prepared data).
//
// Taps are paired: the int16 (x - zp) of taps 2p and 2p+1 are interleaved
// (unpacklo/hi) and vpmaddwd with the interleaved weights adds both exact
// products into int32; vpaddd accumulates with the reference's wrap-around.
// With 16 ymm registers the weights stay in the prepared data and are read
// as memory operands.
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/qs8_dwconv/dw_rows.h"
#include "kernels/ukernels.h"

namespace kiln {
namespace {

constexpr int32_t kG = 16;  // int16 lanes per vector

struct Run {
  const int16_t* const* taps;
  const __m256i* group;  // prepared weights then parameters of the group
  int32_t pairs;
  int32_t rows;           // output rows
  ptrdiff_t in_off;       // offset of the first position in every tap row
  ptrdiff_t in_row_step;  // int16 between output rows in the tap rows
  ptrdiff_t in_step;      // int16 between consecutive positions
  int32_t n;              // positions per row
  int8_t* out;
  ptrdiff_t out_row_step;
  ptrdiff_t out_step;
  int32_t lanes, last_lanes;  // bytes stored (last position: last_lanes)
  __m256i zp;                 // int16 output zero point
  __m128i min8, max8;
};

// Requantization (kernels/requant.h) of 8 accumulators with the parameters
// of one half (lo: hi = 0, hi: hi = 1), before the output zero point.
// Products acc * M are formed in 64 bits by vpmuldq on even and odd lanes.
template <bool kFast>
inline __m256i Requant(__m256i acc, const __m256i* pv, int hi) {
  const __m256i pe =
      _mm256_mul_epi32(acc, _mm256_loadu_si256(pv + kDwMult + hi));
  const __m256i po = _mm256_mul_epi32(_mm256_srli_epi64(acc, 32),
                                      _mm256_loadu_si256(pv + kDwMultOdd + hi));
  if (kFast) {
    // t = 31 - shift >= 33: only the high 32 bits of the product matter,
    // (hi + 2^(t-33)) >> (t-32), as the rounding term is a multiple of 2^32.
    const __m256i h = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
    return _mm256_srav_epi32(
        _mm256_add_epi32(h, _mm256_loadu_si256(pv + kDwRound32 + hi)),
        _mm256_loadu_si256(pv + kDwShift32 + hi));
  }
  // Full 64-bit rounding shift. AVX2 has no 64-bit arithmetic shift: with
  // 2^62 added the sum is positive (|acc * M| < 2^62, rounding <= 2^61), a
  // logical shift by t gives floor(sum / 2^t) + 2^(62-t), and the 2^(62-t)
  // is subtracted. The result is clamped to [-256, 256], which, with the
  // output zero point and the final clamp within [-128, 127], gives the same
  // byte as saturating it to int32.
  const __m256i* v64 = pv + kDwRoundE + hi * kDwHi64;
  const __m256i off = _mm256_set1_epi64x(int64_t(1) << 62);
  const __m256i lim = _mm256_set1_epi64x(256), nlim = _mm256_set1_epi64x(-256);
  __m256i x[2];
  const __m256i prod[2] = {pe, po};
  for (int k = 0; k < 2; ++k) {
    __m256i v = _mm256_add_epi64(
        _mm256_add_epi64(prod[k], _mm256_loadu_si256(v64 + k)), off);
    v = _mm256_srlv_epi64(v, _mm256_loadu_si256(v64 + 2 + k));
    v = _mm256_sub_epi64(v, _mm256_loadu_si256(v64 + 4 + k));
    v = _mm256_blendv_epi8(v, lim, _mm256_cmpgt_epi64(v, lim));
    x[k] = _mm256_blendv_epi8(v, nlim, _mm256_cmpgt_epi64(nlim, v));
  }
  return _mm256_blend_epi32(x[0], _mm256_slli_epi64(x[1], 32), 0xAA);
}

// Stores the low n (1..16) bytes of v.
inline void StoreBytes(int8_t* dst, __m128i v, int32_t n) {
  if (n == 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), v);
    return;
  }
  if (n & 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), v);
    v = _mm_unpackhi_epi64(v, v);
    dst += 8;
  }
  uint64_t bits = static_cast<uint64_t>(_mm_cvtsi128_si64(v));
  if (n & 4) {
    const uint32_t b4 = static_cast<uint32_t>(bits);
    memcpy(dst, &b4, 4);
    dst += 4;
    bits >>= 32;
  }
  if (n & 2) {
    const uint16_t b2 = static_cast<uint16_t>(bits);
    memcpy(dst, &b2, 2);
    dst += 2;
    bits >>= 16;
  }
  if (n & 1) *dst = static_cast<int8_t>(bits);
}

// packs_epi32(lo, hi) restores lane order (dw_rows.h); the saturations of
// the packs and adds never change a clamped result.
inline void Store(const Run& r, __m256i lo, __m256i hi, int8_t* dst,
                  int32_t n) {
  const __m256i s16 = _mm256_adds_epi16(_mm256_packs_epi32(lo, hi), r.zp);
  const __m256i s8 = _mm256_permute4x64_epi64(_mm256_packs_epi16(s16, s16),
                                              0x08);  // qwords 0, 2
  __m128i v = _mm256_castsi256_si128(s8);
  v = _mm_min_epi8(_mm_max_epi8(v, r.min8), r.max8);
  StoreBytes(dst, v, n);
}

inline __m256i PairProduct(__m256i a, __m256i b, const __m256i* w, bool hi) {
  return _mm256_madd_epi16(
      hi ? _mm256_unpackhi_epi16(a, b) : _mm256_unpacklo_epi16(a, b),
      _mm256_loadu_si256(w));
}

// One position: kPairs > 0 tap pairs known at compile time, 0 any number.
template <int kPairs, bool kFast>
inline void Position(const Run& r, const int16_t* const* taps, ptrdiff_t off,
                     int8_t* out, int32_t n) {
  const __m256i* pv = r.group + 2 * (kPairs > 0 ? kPairs : r.pairs);
  __m256i acc_lo = _mm256_loadu_si256(pv + kDwBias);
  __m256i acc_hi = _mm256_loadu_si256(pv + kDwBias + 1);
  const int32_t pairs = kPairs > 0 ? kPairs : r.pairs;
  for (int32_t p = 0; p < pairs; ++p) {
    const __m256i a =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(taps[2 * p] + off));
    const __m256i b = _mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(taps[2 * p + 1] + off));
    acc_lo =
        _mm256_add_epi32(acc_lo, PairProduct(a, b, r.group + 2 * p, false));
    acc_hi =
        _mm256_add_epi32(acc_hi, PairProduct(a, b, r.group + 2 * p + 1, true));
  }
  Store(r, Requant<kFast>(acc_lo, pv, 0), Requant<kFast>(acc_hi, pv, 1), out,
        n);
}

// Every position of every row of one group.
template <int kPairs, bool kFast>
void RunRows(const Run& r) {
  const int32_t taps = 2 * (kPairs > 0 ? kPairs : r.pairs);
  const int16_t* t[2 * 5];
  const int16_t* const* tp = r.taps;
  if (kPairs == 5) {  // tap pointers in registers or on the stack
    for (int32_t k = 0; k < taps; ++k) t[k] = r.taps[k];
    tp = t;
  }
  for (int32_t i = 0; i < r.rows; ++i) {
    ptrdiff_t off = r.in_off + i * r.in_row_step;
    int8_t* out = r.out + i * r.out_row_step;
    for (int32_t j = 1; j < r.n; ++j) {
      Position<kPairs, kFast>(r, tp, off, out, r.lanes);
      off += r.in_step;
      out += r.out_step;
    }
    Position<kPairs, kFast>(r, tp, off, out, r.last_lanes);
  }
}

void RunGroup(const Run& r) {
  const int32_t fast =
      reinterpret_cast<const int32_t*>(r.group + 2 * r.pairs + kDwFlags)[0];
  if (r.pairs == 5) {  // 3x3
    fast ? RunRows<5, true>(r) : RunRows<5, false>(r);
  } else {
    fast ? RunRows<0, true>(r) : RunRows<0, false>(r);
  }
}

// int16 (x - zp) of n contiguous int8 values.
inline void Widen(const int8_t* src, int32_t n, int32_t zp, int16_t* dst) {
  const __m256i vzp = _mm256_set1_epi16(static_cast<int16_t>(zp));
  int32_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i v = _mm256_cvtepi8_epi16(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        _mm256_sub_epi16(v, vzp));
  }
  for (; i < n; ++i) dst[i] = static_cast<int16_t>(src[i] - zp);
}

}  // namespace

void qs8_dwconv__avx2(const Conv2DParams& p, const int8_t* input,
                      const PackedDw& w, int8_t* output, void* scratch) {
  const int32_t c = p.in_c, cp = w.channels_padded;
  const bool flat = p.stride_w == 1 && c <= kG / 2;
  const int32_t cs = (flat || c % kG == 0) ? c : cp;
  const DwLayout l = DwMakeLayout(p, cp, cs, /*allow_image=*/true, scratch);
  const DwRowSpan span = DwSpan(l, p);
  const int32_t pairs = (p.kernel_h * p.kernel_w + 1) / 2;
  const size_t group_vectors = DwPrepGroupBytes(kG, pairs) / 32;
  DwBuildPrep(w, kG, flat, l.prep);

  Run r;
  r.taps = l.taps;
  r.pairs = pairs;
  r.zp = _mm256_set1_epi16(static_cast<int16_t>(p.output_zero_point));
  r.min8 = _mm_set1_epi8(static_cast<char>(p.clamp.min));
  r.max8 = _mm_set1_epi8(static_cast<char>(p.clamp.max));
  r.out_row_step = static_cast<ptrdiff_t>(p.out_w) * c;
  r.in_row_step = static_cast<ptrdiff_t>(p.stride_h) * l.width * cs;
  const __m256i* prep = reinterpret_cast<const __m256i*>(l.prep);
  const size_t in_item = static_cast<size_t>(p.in_h) * p.in_w * c;
  const size_t out_item = static_cast<size_t>(p.out_h) * r.out_row_step;

  // Stores input row iy of the current item at `row` (position 0 of the
  // scratch row); channels beyond c and the borders stay zero.
  const int8_t* in_b = input;
  auto convert = [&](int16_t* row, int32_t iy) {
    const int8_t* src = in_b + static_cast<size_t>(iy) * p.in_w * c;
    int16_t* d = row + static_cast<size_t>(span.left) * cs;
    if (cs == c) {
      Widen(src, span.count * c, p.input_zero_point, d);
      return;
    }
    for (int32_t x = 0; x < span.count; ++x, src += c, d += cs) {
      Widen(src, c, p.input_zero_point, d);
    }
  };
  // Runs output rows [oy, oy + rows) of the current item, every group.
  auto run = [&](int8_t* out_b, int32_t oy, int32_t rows) {
    r.rows = rows;
    int8_t* out_row = out_b + oy * r.out_row_step;
    if (flat) {
      const int32_t lanes = (kG / c) * c;
      const int32_t total = p.out_w * c;
      r.group = prep;
      r.in_off = l.image ? oy * r.in_row_step : 0;
      r.in_step = lanes;
      r.n = (total + lanes - 1) / lanes;
      r.out = out_row;
      r.out_step = lanes;
      r.lanes = lanes;
      r.last_lanes = total - (r.n - 1) * lanes;
      RunGroup(r);
      return;
    }
    for (int32_t g = 0; g < c; g += kG) {
      r.group = prep + static_cast<size_t>(g / kG) * group_vectors;
      r.in_off = (l.image ? oy * r.in_row_step : 0) + g;
      r.in_step = static_cast<ptrdiff_t>(p.stride_w) * cs;
      r.n = p.out_w;
      r.out = out_row + g;
      r.out_step = c;
      r.lanes = r.last_lanes = c - g < kG ? c - g : kG;
      RunGroup(r);
    }
  };

  if (l.image) DwFillImageTaps(l, p);
  for (int32_t b = 0; b < p.batch; ++b) {
    in_b = input + b * in_item;
    int8_t* out_b = output + b * out_item;
    if (l.image) {
      const int32_t rows = DwImageRows(p);
      for (int32_t iy = 0; iy < rows; ++iy) convert(DwImageRow(l, p, iy), iy);
      run(out_b, 0, p.out_h);
      continue;
    }
    DwResetSlots(l, p.kernel_h);
    for (int32_t oy = 0; oy < p.out_h; ++oy) {
      DwGatherRows(l, p, oy, l.rows, convert);
      DwFillTaps(l, p, l.rows);
      run(out_b, oy, 1);
    }
  }
}

}  // namespace kiln
