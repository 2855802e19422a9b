// AVX-512 VNNI depthwise convolution, 32 int16 lanes per vector; the
// scalar twin is qs8_dwconv_up1c__scalar.cc. See dw_rows.h for the scratch
// rows and the prepared weight/parameter layout. Dispatched on the
// avx512vnni and amx paths only (kernels/dispatch.cc), which both have
// AVX-512 VNNI.
//
// Per output position and group of 32 lanes, taps are taken in pairs: the
// int16 (x - zp) of taps 2p and 2p+1 are interleaved (unpacklo/hi) and
// vpdpwssd with the interleaved weights adds both products into the int32
// accumulators in one instruction instead of vpmaddwd + vpaddd.
// |x - zp| <= 255 and |w| <= 128, so each product and the pair sum are
// exact, and vpdpwssd's int32 addition wraps like the reference's
// accumulation. (Never vpdpwssds: it saturates.)
// 3x3 kernels (5 pairs) keep weights and parameters in registers across
// positions.
//
// Lanes are channels (a group per 32 channels), or, for stride 1 and at
// most 16 channels, consecutive values of the output row flattened over
// (x, channel): then a vector covers 32 / c whole pixels instead of one
// pixel padded to 32 channels (blocknet's 3-channel layer).
//
// GCC 12 reports the `__Y = __Y` placeholders inside its AVX-512 intrinsic
// headers as (maybe-)uninitialized (GCC bug 105593); must precede them.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/qs8_dwconv/dw_rows.h"
#include "kernels/ukernels.h"

namespace kiln {
namespace {

constexpr int32_t kG = 32;  // int16 lanes per vector

struct Run {
  const int16_t* const* taps;
  const __m512i* group;  // prepared weights then parameters of the group
  int32_t pairs;
  int32_t rows;           // output rows
  ptrdiff_t in_off;       // offset of the first position in every tap row
  ptrdiff_t in_row_step;  // int16 between output rows in the tap rows
  ptrdiff_t in_step;      // int16 between consecutive positions
  int32_t n;              // positions per row
  int8_t* out;
  ptrdiff_t out_row_step;
  ptrdiff_t out_step;
  __mmask32 mask, last_mask;  // bytes stored (last position: last_mask)
  __m512i zp;                 // int16 output zero point
  __m256i min8, max8;
};

inline __mmask32 Lanes(int32_t n) {
  return n >= 32 ? __mmask32(0xFFFFFFFFu) : __mmask32((1u << n) - 1);
}

// The parameters of one half (lo or hi) of a group.
struct Half {
  __m512i bias, mult, mult_odd, round32, shift32;
  const __m512i* v64;  // round e/o, shift e/o (exact path)
};

inline Half LoadHalf(const __m512i* pv, int hi) {
  Half h;
  h.bias = _mm512_loadu_si512(pv + kDwBias + hi);
  h.mult = _mm512_loadu_si512(pv + kDwMult + hi);
  h.mult_odd = _mm512_loadu_si512(pv + kDwMultOdd + hi);
  h.round32 = _mm512_loadu_si512(pv + kDwRound32 + hi);
  h.shift32 = _mm512_loadu_si512(pv + kDwShift32 + hi);
  h.v64 = pv + kDwRoundE + hi * kDwHi64;
  return h;
}

// Requantization (kernels/requant.h) of 16 accumulators, before the output
// zero point. Products acc * M are formed in 64 bits by vpmuldq on the even
// and the odd int32 lanes.
template <bool kFast>
inline __m512i Requant(__m512i acc, const Half& h) {
  const __m512i pe = _mm512_mul_epi32(acc, h.mult);
  const __m512i po = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), h.mult_odd);
  if (kFast) {
    // t = 31 - shift >= 33: adding 2^(t-1) and shifting right by t only
    // needs the high 32 bits of the product, (hi + 2^(t-33)) >> (t-32),
    // because the rounding term is a multiple of 2^32 (floor of floor).
    // |hi| < 2^30, so this cannot overflow or need saturation.
    const __m512i odd_dwords = _mm512_set_epi32(31, 15, 29, 13, 27, 11, 25, 9,
                                                23, 7, 21, 5, 19, 3, 17, 1);
    const __m512i hi = _mm512_permutex2var_epi32(pe, odd_dwords, po);
    return _mm512_srav_epi32(_mm512_add_epi32(hi, h.round32), h.shift32);
  }
  // Full 64-bit rounding shift. The result is clamped to [-256, 256]
  // instead of saturated to int32: once the output zero point (within
  // [-128, 127]) is added, the final clamp to [min, max] within [-128, 127]
  // gives the same byte either way.
  const __m512i lim = _mm512_set1_epi64(256), nlim = _mm512_set1_epi64(-256);
  __m512i re =
      _mm512_srav_epi64(_mm512_add_epi64(pe, _mm512_loadu_si512(h.v64 + 0)),
                        _mm512_loadu_si512(h.v64 + 2));
  __m512i ro =
      _mm512_srav_epi64(_mm512_add_epi64(po, _mm512_loadu_si512(h.v64 + 1)),
                        _mm512_loadu_si512(h.v64 + 3));
  re = _mm512_min_epi64(_mm512_max_epi64(re, nlim), lim);
  ro = _mm512_min_epi64(_mm512_max_epi64(ro, nlim), lim);
  return _mm512_mask_blend_epi32(0xAAAA, re, _mm512_slli_epi64(ro, 32));
}

// packs_epi32(lo, hi) restores lane order (dw_rows.h); the saturations of
// packs, adds and vpmovswb never change a clamped result, and they are the
// whole clamp when it is [-128, 127] (kClamp false).
template <bool kClamp>
inline void Store(const Run& r, __m512i lo, __m512i hi, int8_t* dst,
                  __mmask32 mask) {
  const __m512i s16 = _mm512_adds_epi16(_mm512_packs_epi32(lo, hi), r.zp);
  __m256i s8 = _mm512_cvtsepi16_epi8(s16);
  if (kClamp) s8 = _mm256_min_epi8(_mm256_max_epi8(s8, r.min8), r.max8);
  // A masked store is much slower than a plain one on some CPUs (AMD).
  if (mask == __mmask32(0xFFFFFFFFu)) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), s8);
  } else {
    _mm256_mask_storeu_epi8(dst, mask, s8);
  }
}

// Loop-invariant state of a group: weights (when kPairs is known at compile
// time, held in registers), tap pointers and requantization parameters.
template <int kPairs>
struct Regs {
  __m512i wl[kPairs > 0 ? kPairs : 1], wh[kPairs > 0 ? kPairs : 1];
  const int16_t* ta[kPairs > 0 ? kPairs : 1];
  const int16_t* tb[kPairs > 0 ? kPairs : 1];
  Half lo, hi;
};

template <int kPairs, bool kFast, bool kClamp>
inline void Position(const Run& r, const Regs<kPairs>& g, ptrdiff_t off,
                     int8_t* out, __mmask32 mask) {
  // Two chains per half: vpdpwssd has a latency of several cycles, and one
  // chain through every pair of a position would serialize them (measured
  // ~10% slower on blocknet's 3-channel layer). Wrapping int32 addition is
  // order-independent, so the split keeps the reference's sum.
  __m512i acc_lo = g.lo.bias, acc_hi = g.hi.bias;
  __m512i acc_lo2 = _mm512_setzero_si512(), acc_hi2 = _mm512_setzero_si512();
  const int32_t pairs = kPairs > 0 ? kPairs : r.pairs;
  for (int32_t p = 0; p < pairs; ++p) {
    __m512i a, b, wl, wh;
    if (kPairs > 0) {
      a = _mm512_loadu_si512(g.ta[p] + off);
      b = _mm512_loadu_si512(g.tb[p] + off);
      wl = g.wl[p];
      wh = g.wh[p];
    } else {
      a = _mm512_loadu_si512(r.taps[2 * p] + r.in_off + off);
      b = _mm512_loadu_si512(r.taps[2 * p + 1] + r.in_off + off);
      wl = _mm512_loadu_si512(r.group + 2 * p);
      wh = _mm512_loadu_si512(r.group + 2 * p + 1);
    }
    const __m512i xl = _mm512_unpacklo_epi16(a, b);
    const __m512i xh = _mm512_unpackhi_epi16(a, b);
    if (p & 1) {
      acc_lo2 = _mm512_dpwssd_epi32(acc_lo2, xl, wl);
      acc_hi2 = _mm512_dpwssd_epi32(acc_hi2, xh, wh);
    } else {
      acc_lo = _mm512_dpwssd_epi32(acc_lo, xl, wl);
      acc_hi = _mm512_dpwssd_epi32(acc_hi, xh, wh);
    }
  }
  acc_lo = _mm512_add_epi32(acc_lo, acc_lo2);
  acc_hi = _mm512_add_epi32(acc_hi, acc_hi2);
  Store<kClamp>(r, Requant<kFast>(acc_lo, g.lo), Requant<kFast>(acc_hi, g.hi),
                out, mask);
}

// Every position of every row of one group. kPairs > 0: that many tap
// pairs, weights in registers; 0: any number, weights read from memory.
template <int kPairs, bool kFast, bool kClamp>
void RunRows(const Run& r) {
  Regs<kPairs> g;
  for (int p = 0; p < kPairs; ++p) {
    g.wl[p] = _mm512_loadu_si512(r.group + 2 * p);
    g.wh[p] = _mm512_loadu_si512(r.group + 2 * p + 1);
    g.ta[p] = r.taps[2 * p] + r.in_off;
    g.tb[p] = r.taps[2 * p + 1] + r.in_off;
  }
  const __m512i* pv = r.group + 2 * r.pairs;
  g.lo = LoadHalf(pv, 0);
  g.hi = LoadHalf(pv, 1);
  for (int32_t i = 0; i < r.rows; ++i) {
    ptrdiff_t off = i * r.in_row_step;
    int8_t* out = r.out + i * r.out_row_step;
    for (int32_t j = 1; j < r.n; ++j) {
      Position<kPairs, kFast, kClamp>(r, g, off, out, r.mask);
      off += r.in_step;
      out += r.out_step;
    }
    Position<kPairs, kFast, kClamp>(r, g, off, out, r.last_mask);
  }
}

template <bool kClamp>
void RunGroup(const Run& r) {
  const int32_t fast =
      reinterpret_cast<const int32_t*>(r.group + 2 * r.pairs + kDwFlags)[0];
  if (r.pairs == 5) {  // 3x3 (and 10-tap kernels such as 2x5)
    fast ? RunRows<5, true, kClamp>(r) : RunRows<5, false, kClamp>(r);
  } else {
    fast ? RunRows<0, true, kClamp>(r) : RunRows<0, false, kClamp>(r);
  }
}

// int16 (x - zp) of n contiguous int8 values.
inline void Widen(const int8_t* src, int32_t n, __m512i zp, int16_t* dst) {
  int32_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512i v = _mm512_cvtepi8_epi16(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
    _mm512_storeu_si512(dst + i, _mm512_sub_epi16(v, zp));
  }
  if (i < n) {
    const __mmask32 m = Lanes(n - i);
    const __m512i v = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, src + i));
    _mm512_mask_storeu_epi16(dst + i, m, _mm512_sub_epi16(v, zp));
  }
}

}  // namespace

void qs8_dwconv__avx512vnni(const Conv2DParams& p, const int8_t* input,
                            const PackedDw& w, int8_t* output, void* scratch) {
  // blocknet-style layers have a faster kernel of their own.
  if (qs8_dwconv_3x3p1__avx512vnni(p, input, w, output, scratch)) return;
  const int32_t c = p.in_c, cp = w.channels_padded;
  // Stride 1 with at most 16 channels: lanes over the flattened output row.
  const bool flat = p.stride_w == 1 && c <= kG / 2;
  const int32_t ps = (flat || c % kG == 0) ? c : cp;  // int16 per position
  const DwLayout l = DwMakeLayout(p, cp, ps, /*allow_image=*/true, scratch);
  const DwRowSpan span = DwSpan(l, p);
  const int32_t pairs = (p.kernel_h * p.kernel_w + 1) / 2;
  const size_t group_vectors = DwPrepGroupBytes(kG, pairs) / 64;
  DwBuildPrep(w, kG, flat, l.prep);

  const __m512i in_zp =
      _mm512_set1_epi16(static_cast<int16_t>(p.input_zero_point));
  const bool clamp = p.clamp.min > -128 || p.clamp.max < 127;
  Run r;
  r.taps = l.taps;
  r.pairs = pairs;
  r.zp = _mm512_set1_epi16(static_cast<int16_t>(p.output_zero_point));
  r.min8 = _mm256_set1_epi8(static_cast<char>(p.clamp.min));
  r.max8 = _mm256_set1_epi8(static_cast<char>(p.clamp.max));
  r.out_row_step = static_cast<ptrdiff_t>(p.out_w) * c;
  r.in_row_step = static_cast<ptrdiff_t>(p.stride_h) * l.width * ps;
  const __m512i* prep = reinterpret_cast<const __m512i*>(l.prep);
  const size_t in_item = static_cast<size_t>(p.in_h) * p.in_w * c;
  const size_t out_item = static_cast<size_t>(p.out_h) * r.out_row_step;

  // Stores input row iy of the current item at `row` (position 0 of the
  // scratch row); channels beyond c and the borders are never written and
  // stay zero.
  const int8_t* in_b = input;
  auto convert = [&](int16_t* row, int32_t iy) {
    const int8_t* src = in_b + static_cast<size_t>(iy) * p.in_w * c;
    int16_t* d = row + static_cast<size_t>(span.left) * ps;
    if (ps == c) {
      Widen(src, span.count * c, in_zp, d);
      return;
    }
    for (int32_t x = 0; x < span.count; ++x, src += c, d += ps) {
      for (int32_t g = 0; g < c; g += kG) {
        const __mmask32 m = Lanes(c - g);
        const __m512i v =
            _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, src + g));
        _mm512_mask_storeu_epi16(d + g, m, _mm512_sub_epi16(v, in_zp));
      }
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
      r.mask = Lanes(lanes);
      r.last_mask = Lanes(total - (r.n - 1) * lanes);
      clamp ? RunGroup<true>(r) : RunGroup<false>(r);
      return;
    }
    for (int32_t g = 0; g < c; g += kG) {
      r.group = prep + static_cast<size_t>(g / kG) * group_vectors;
      r.in_off = (l.image ? oy * r.in_row_step : 0) + g;
      r.in_step = static_cast<ptrdiff_t>(p.stride_w) * ps;
      r.n = p.out_w;
      r.out = out_row + g;
      r.out_step = c;
      r.mask = r.last_mask = Lanes(c - g);
      clamp ? RunGroup<true>(r) : RunGroup<false>(r);
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
