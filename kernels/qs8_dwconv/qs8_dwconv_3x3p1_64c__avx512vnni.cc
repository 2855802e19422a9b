// AVX-512 VNNI depthwise 3x3 convolution, stride 1, "same" padding of 1,
// for channel counts that tile 64-byte vectors (16, 32, 64 or a multiple of
// 64): blocknet's and the block models' layers. The general kernel
// (qs8_dwconv_up32c__avx512vnni.cc) takes every other shape; the scalar twin
// of both is qs8_dwconv_up1c__scalar.cc.
//
// Why a second kernel: the general one widens inputs to int16 and, per
// output and tap pair, interleaves two taps (vpunpck) for vpdpwssd: 10
// shuffles and 10 multiply-adds per 32 outputs. Here the three taps of a
// kernel row become the bytes of one dword, so one vpdpbusd does a whole
// kernel row for 16 outputs:
//  * Each input row is made unsigned once, u = x + 128 (x ^ 0x80), with a
//    column of u = zp + 128 on either side (the padding value).
//  * T[row][f] holds, for each value f of the row flattened over (x,
//    channel), the dword (u[x-1], u[x], u[x+1], -) of its channel: four
//    vpunpck per 64 values, once per input row, kept in a ring of three rows
//    (each serves three output rows).
//  * An output row is bias' + sum over ky of vpdpbusd(T[oy-1+ky], W[ky]),
//    with W[ky] the dwords (w[ky][0], w[ky][1], w[ky][2], 0); rows above or
//    below the image read a T row of the padding value.
// Exactness: sum w * u = sum w * (x - zp) + (zp + 128) * sum w over all nine
// taps (padding taps contribute w * (zp + 128), i.e. nothing once
// corrected), so bias' = bias - (zp + 128) * sum(w), in wrapping int32 like
// the reference's accumulation. The products are exact u8 x s8 in int32
// (vpdpbusd, never the saturating vpdpbusds).
//
// Lane order: vpunpck works inside 128-bit lanes, so vector j of a 64-value
// chunk holds, in lane L, the channels 16 g(L) + 4 j + 0..3 (g(L): the
// 16-channel group of lane L). Weights and requantization constants are
// prepared in that order, and packs_epi32(v0, v1), packs_epi32(v2, v3),
// packs_epi16 bring the results back to the flattened order.
//
// <immintrin.h> comes through requant_avx512.h, after its pragma for GCC
// 12's false maybe-uninitialized reports (GCC bug 105593).
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/dwconv.h"
#include "kernels/qs8_gemm/requant_avx512.h"
#include "kernels/ukernels.h"

namespace kiln {
namespace {

constexpr size_t kVec = 64;

inline size_t Align64(size_t v) { return (v + 63) & ~size_t(63); }

// Per chunk pattern (which 16-channel group each lane holds): the weights
// of vector j and kernel row ky, the corrected bias and the requantization.
struct Pattern {
  __m512i w[3][4];
  __m512i bias[4];
  Qs8RequantZmm rq[4];
};

// Where the pieces live in the scratch.
struct Plan {
  int32_t c, width, chunks, patterns;
  size_t t_row_bytes;  // one row of T: chunks * 4 vectors
  uint8_t* ring;       // 3 rows of T
  uint8_t* pad_t;      // a row of T of the padding value (rows outside)
  uint8_t* row;        // one padded unsigned input row, with slack
  Pattern* pattern;
};

bool Applies(const Conv2DParams& p) {
  const int32_t c = p.in_c;
  return p.kernel_h == 3 && p.kernel_w == 3 && p.stride_h == 1 &&
         p.stride_w == 1 && p.dilation_h == 1 && p.dilation_w == 1 &&
         p.pad_top == 1 && p.pad_left == 1 && p.out_h == p.in_h &&
         p.out_w == p.in_w && c > 0 && c % 16 == 0 &&
         (64 % c == 0 || c % 64 == 0);
}

// False when the call's scratch (DwScratchBytes, sized for the general
// kernel) cannot hold this layout, e.g. very wide rows.
bool MakePlan(const Conv2DParams& p, void* scratch, Plan* plan) {
  plan->c = p.in_c;
  plan->width = p.in_w;
  const size_t values = static_cast<size_t>(p.in_w) * p.in_c;
  plan->chunks = static_cast<int32_t>((values + kVec - 1) / kVec);
  plan->patterns = p.in_c >= 64 ? p.in_c / 64 : 1;
  plan->t_row_bytes = static_cast<size_t>(plan->chunks) * 4 * kVec;
  // The row: padding column, the values, padding column, and a vector of
  // slack for the loads of a partial last chunk.
  const size_t row_bytes = values + 2 * static_cast<size_t>(p.in_c) + kVec;
  const size_t need = kVec + 4 * plan->t_row_bytes + Align64(row_bytes) +
                      sizeof(Pattern) * static_cast<size_t>(plan->patterns);
  if (need > DwScratchBytes(p)) return false;
  uint8_t* s =
      reinterpret_cast<uint8_t*>(Align64(reinterpret_cast<uintptr_t>(scratch)));
  plan->ring = s;
  s += 3 * plan->t_row_bytes;
  plan->pad_t = s;
  s += plan->t_row_bytes;
  plan->row = s;
  s += Align64(row_bytes);
  plan->pattern = reinterpret_cast<Pattern*>(s);
  return true;
}

// Channel of dword d of vector j in a chunk of pattern q.
inline int32_t ChannelOf(int32_t c, int32_t q, int32_t j, int32_t d) {
  const int32_t lane = d / 4, groups = c / 16;
  const int32_t group = (4 * q + lane) % groups;
  return 16 * group + 4 * j + d % 4;
}

void BuildPatterns(const Conv2DParams& p, const PackedDw& w, const Plan& plan) {
  const int32_t c = plan.c, cp = w.channels_padded;
  const uint32_t pad = static_cast<uint32_t>(p.input_zero_point + 128);
  for (int32_t q = 0; q < plan.patterns; ++q) {
    Pattern& pt = plan.pattern[q];
    for (int32_t j = 0; j < 4; ++j) {
      alignas(64) int8_t wb[3][64];
      alignas(64) int32_t bias[16], mult[16], shift[16];
      for (int32_t d = 0; d < 16; ++d) {
        const int32_t ch = ChannelOf(c, q, j, d);
        uint32_t sum = 0;
        for (int32_t ky = 0; ky < 3; ++ky) {
          for (int32_t kx = 0; kx < 3; ++kx) {
            const int16_t v = w.weights[(ky * 3 + kx) * cp + ch];
            wb[ky][4 * d + kx] = static_cast<int8_t>(v);
            sum += static_cast<uint32_t>(static_cast<int32_t>(v));
          }
          wb[ky][4 * d + 3] = 0;
        }
        bias[d] =
            static_cast<int32_t>(static_cast<uint32_t>(w.bias[ch]) - pad * sum);
        mult[d] = w.multiplier[ch];
        shift[d] = w.shift[ch];
      }
      for (int32_t ky = 0; ky < 3; ++ky) {
        pt.w[ky][j] = _mm512_load_si512(wb[ky]);
      }
      pt.bias[j] = _mm512_load_si512(bias);
      pt.rq[j] = Qs8RequantZmmLoad(mult, shift);
    }
  }
}

// T of input row `src` (p.in_w * c int8 values) into `t`.
void BuildT(const Plan& plan, const int8_t* src, uint8_t* t) {
  const int32_t c = plan.c;
  const size_t values = static_cast<size_t>(plan.width) * c;
  uint8_t* row = plan.row + c;  // after the left padding column
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  size_t i = 0;
  for (; i + kVec <= values; i += kVec) {
    _mm512_storeu_si512(row + i,
                        _mm512_xor_si512(_mm512_loadu_si512(src + i), flip));
  }
  if (i < values) {
    const __mmask64 m = (__mmask64(1) << (values - i)) - 1;
    _mm512_mask_storeu_epi8(
        row + i, m,
        _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, src + i), flip));
  }
  const uint8_t* r = plan.row;
  for (int32_t k = 0; k < plan.chunks; ++k, r += kVec, t += 4 * kVec) {
    const __m512i a = _mm512_loadu_si512(r);          // column x - 1
    const __m512i b = _mm512_loadu_si512(r + c);      // column x
    const __m512i d = _mm512_loadu_si512(r + 2 * c);  // column x + 1
    const __m512i ab_lo = _mm512_unpacklo_epi8(a, b);
    const __m512i ab_hi = _mm512_unpackhi_epi8(a, b);
    // The fourth byte repeats x + 1; its weight is 0.
    const __m512i dd_lo = _mm512_unpacklo_epi8(d, d);
    const __m512i dd_hi = _mm512_unpackhi_epi8(d, d);
    _mm512_store_si512(t, _mm512_unpacklo_epi16(ab_lo, dd_lo));
    _mm512_store_si512(t + kVec, _mm512_unpackhi_epi16(ab_lo, dd_lo));
    _mm512_store_si512(t + 2 * kVec, _mm512_unpacklo_epi16(ab_hi, dd_hi));
    _mm512_store_si512(t + 3 * kVec, _mm512_unpackhi_epi16(ab_hi, dd_hi));
  }
}

// Requantization of 16 accumulators with the form chosen once per call:
// kFast when every channel has the high-dword form.
template <bool kFast>
inline __m512i Requantize(__m512i acc, const Qs8RequantZmm& q,
                          const Qs8ClampZmm& clamp) {
  return kFast ? Qs8RequantizeHighDwordZmm(acc, q)
               : Qs8RequantizeZmm(acc, q, clamp);
}

// One output row from the T rows above, at and below it (rows outside the
// image point at the padding T row).
template <bool kFast>
void OutputRow(const Plan& plan, const uint8_t* const t[3],
               const Qs8ClampZmm& clamp, const Qs8OutZmm& o, int8_t* out) {
  const size_t values = static_cast<size_t>(plan.width) * plan.c;
  int32_t q = 0;
  for (int32_t k = 0; k < plan.chunks; ++k) {
    const Pattern& pt = plan.pattern[q];
    q = q + 1 == plan.patterns ? 0 : q + 1;
    const size_t off = static_cast<size_t>(k) * 4 * kVec;
    __m512i v[4];
    for (int32_t j = 0; j < 4; ++j) {
      __m512i acc = pt.bias[j];
      for (int32_t ky = 0; ky < 3; ++ky) {
        acc = _mm512_dpbusd_epi32(
            acc, _mm512_load_si512(t[ky] + off + j * kVec), pt.w[ky][j]);
      }
      v[j] = Requantize<kFast>(acc, pt.rq[j], clamp);
    }
    // No transpose (Qs8PackZmm's): these lanes are already in flattened
    // order (see the top comment).
    const __m512i r = Qs8NarrowZmm(v[0], v[1], v[2], v[3], o);
    const size_t at = static_cast<size_t>(k) * kVec;
    if (at + kVec <= values) {
      _mm512_storeu_si512(out + at, r);
    } else {
      _mm512_mask_storeu_epi8(out + at, (__mmask64(1) << (values - at)) - 1, r);
    }
  }
}

}  // namespace

bool qs8_dwconv_3x3p1__avx512vnni(const Conv2DParams& p, const int8_t* input,
                                  const PackedDw& w, int8_t* output,
                                  void* scratch) {
  if (!Applies(p)) return false;
  Plan plan;
  if (!MakePlan(p, scratch, &plan)) return false;
  BuildPatterns(p, w, plan);
  // Padding columns (and the slack, which only partial chunks read and
  // whose results are never stored) hold zp + 128, as does the T row that
  // stands for the rows above and below the image.
  const uint8_t pad = static_cast<uint8_t>(p.input_zero_point + 128);
  const size_t values = static_cast<size_t>(p.in_w) * p.in_c;
  memset(plan.row, pad, values + 2 * static_cast<size_t>(p.in_c) + kVec);
  memset(plan.pad_t, pad, plan.t_row_bytes);
  bool fast = true;
  for (int32_t q = 0; q < plan.patterns; ++q) {
    for (int32_t j = 0; j < 4; ++j) {
      fast = fast && plan.pattern[q].rq[j].high_dword_only;
    }
  }
  const Qs8ClampZmm clamp =
      Qs8ClampZmmInit(p.clamp.min, p.clamp.max, p.output_zero_point);
  const Qs8OutZmm o =
      Qs8OutZmmInit(p.clamp.min, p.clamp.max, p.output_zero_point);
  const int32_t h = p.in_h;
  for (int32_t b = 0; b < p.batch; ++b) {
    const int8_t* in = input + static_cast<size_t>(b) * h * values;
    int8_t* out = output + static_cast<size_t>(b) * h * values;
    // Ring slot of input row iy: iy % 3.
    BuildT(plan, in, plan.ring);
    for (int32_t oy = 0; oy < h; ++oy) {
      if (oy + 1 < h) {
        BuildT(
            plan, in + static_cast<size_t>(oy + 1) * values,
            plan.ring + static_cast<size_t>((oy + 1) % 3) * plan.t_row_bytes);
      }
      const uint8_t* t[3];
      for (int32_t ky = 0; ky < 3; ++ky) {
        const int32_t iy = oy - 1 + ky;
        t[ky] = iy < 0 || iy >= h ? plan.pad_t
                                  : plan.ring + static_cast<size_t>(iy % 3) *
                                                    plan.t_row_bytes;
      }
      int8_t* dst = out + static_cast<size_t>(oy) * values;
      if (fast) {
        OutputRow<true>(plan, t, clamp, o, dst);
      } else {
        OutputRow<false>(plan, t, clamp, o, dst);
      }
    }
  }
  return true;
}

}  // namespace kiln
