// Shared, ISA-neutral plumbing of the depthwise kernels (scalar, AVX2,
// AVX-512): the scratch layout, the cache of input rows widened to int16,
// and the per-call prepared weights/requantization of the SIMD kernels.
//
// Every function here is `static inline` (rule 2 of the ISA translation
// units): each kernel compiles its own private copy with its own flags.
//
// Algorithm shared by all x86 depthwise kernels:
//  * An input row is converted once into a scratch row of int16 (x - zp),
//    `ps` values per position, with zeros wherever the window reaches into
//    the padding, so padding taps contribute exactly nothing (the reference
//    skips them) and the inner loops need no bounds checks. Rows above or
//    below the image are one shared all-zero row.
//  * Position index a of a scratch row is x + pad_left, so output column ox,
//    tap kx reads position ox * stride_w + kx * dilation_w.
//  * Either (row mode) the kernel_h rows an output row needs live in
//    kernel_h slots and a row already converted for the previous output row
//    is reused, or (image mode, small images) the whole padded image is
//    converted at once.
//  * A position holds ps int16: the channels, zero-extended to ps (c, or c
//    padded to the kernel's channel group).
#ifndef KILN_KERNELS_QS8_DWCONV_DW_ROWS_H_
#define KILN_KERNELS_QS8_DWCONV_DW_ROWS_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/dwconv.h"
#include "kernels/params.h"

namespace kiln {

// Parameter vectors of the per-call prepared data (DwPrepGroupBytes: per 32
// padded channels 128 bytes per tap pair and 24 * 64 = 1536 bytes of
// parameters; DwScratchBytes in kernels/dwconv_pack.cc repeats the formula).
constexpr int32_t kDwPrepVectors = 23;

// Image mode: when the whole padded input image, as int16 of the padded
// channels, fits in this many bytes, the SIMD kernels convert it at once and
// run every output row of a channel group in one loop (no per-row
// bookkeeping; small images such as blocknet's 8x8 are dominated by it
// otherwise). DwScratchBytes repeats it.
constexpr size_t kDwImageModeBytes = 64 * 1024;

// Scratch layout of one call. Positions hold `ps` int16 each (see above).
// Regions are sized for the padded channels.
struct DwLayout {
  int32_t ps;         // int16 per position
  int32_t width;      // positions per row (x = -pad_left .. width-pad_left-1)
  bool image;         // image mode (else row mode)
  size_t data_elems;  // int16 of the data region (image or rows)
  // Image mode: DwImageHeight rows of width * ps int16, then slack.
  int16_t* image_data;
  // Row mode: rows of row_elems int16: the zero row, then kernel_h slots.
  size_t row_elems;      // int16 per row, slack included, multiple of 32
  int16_t* zero_row;     // all zero (image mode: the image, see DwFillTaps)
  int16_t* slots;        // kernel_h rows
  int32_t* slot_row;     // input row held by each slot, -1 for none
  int32_t* slot_used;    // output row that last used each slot
  const int16_t** taps;  // round_up(kernel_h * kernel_w, 2) tap pointers
  const int16_t** rows;  // kernel_h row pointers of the current output row
  uint8_t* prep;         // prepared data of the SIMD kernels
};

static inline size_t DwAlign64(size_t v) { return (v + 63) & ~size_t(63); }

// Positions a scratch row needs: from the left edge of the first window to
// the right edge of the last one (padding included).
static inline int32_t DwRowWidth(const Conv2DParams& p) {
  return (p.out_w - 1) * p.stride_w + (p.kernel_w - 1) * p.dilation_w + 1;
}

// Rows of the padded image the windows cover.
static inline int32_t DwImageHeight(const Conv2DParams& p) {
  return (p.out_h - 1) * p.stride_h + (p.kernel_h - 1) * p.dilation_h + 1;
}

// int16 per scratch row: width * channels_padded plus 32 of slack, because
// the stride-1 small-channel path loads a full vector past the last output.
static inline size_t DwRowElems(const Conv2DParams& p, int32_t cp) {
  const size_t n = static_cast<size_t>(DwRowWidth(p)) * cp + 32;
  return (n + 31) & ~size_t(31);
}

// int16 of the padded image (image mode), slack included.
static inline size_t DwImageElems(const Conv2DParams& p, int32_t cp) {
  const size_t n =
      static_cast<size_t>(DwImageHeight(p)) * DwRowWidth(p) * cp + 32;
  return (n + 31) & ~size_t(31);
}

static inline bool DwImageMode(const Conv2DParams& p, int32_t cp) {
  return DwImageElems(p, cp) * 2 <= kDwImageModeBytes;
}

// ps: int16 per position; allow_image: the kernel implements image mode
// (the scalar twin does not).
static inline DwLayout DwMakeLayout(const Conv2DParams& p, int32_t cp,
                                    int32_t ps, bool allow_image,
                                    void* scratch) {
  DwLayout l;
  uint8_t* s = reinterpret_cast<uint8_t*>(
      DwAlign64(reinterpret_cast<uintptr_t>(scratch)));
  const int32_t taps = p.kernel_h * p.kernel_w;
  l.ps = ps;
  l.width = DwRowWidth(p);
  l.image = allow_image && DwImageMode(p, cp);
  l.row_elems = DwRowElems(p, cp);
  l.data_elems = l.image ? DwImageElems(p, cp)
                         : l.row_elems * (static_cast<size_t>(p.kernel_h) + 1);
  l.image_data = reinterpret_cast<int16_t*>(s);
  l.zero_row = l.image_data;
  l.slots = l.zero_row + l.row_elems;
  s += DwAlign64(l.data_elems * 2);
  l.taps = reinterpret_cast<const int16_t**>(s);
  l.rows = l.taps + taps + 1;
  s += DwAlign64(sizeof(int16_t*) *
                 (static_cast<size_t>(taps) + 1 + p.kernel_h));
  l.slot_row = reinterpret_cast<int32_t*>(s);
  l.slot_used = l.slot_row + p.kernel_h;
  s += DwAlign64(sizeof(int32_t) * 2 * static_cast<size_t>(p.kernel_h));
  l.prep = s;
  // Everything a conversion does not write stays zero for the whole call:
  // the padding borders, the zero row, the channels beyond c, the slack.
  memset(l.image_data, 0, l.data_elems * 2);
  return l;
}

// Forgets the cached rows (a new batch item).
static inline void DwResetSlots(const DwLayout& l, int32_t kernel_h) {
  for (int32_t s = 0; s < kernel_h; ++s) {
    l.slot_row[s] = -1;
    l.slot_used[s] = -1;
  }
}

// Row mode: points rows[ky] at the scratch row of input row oy * stride_h -
// pad_top + ky * dilation_h, converting it with convert(dst, iy) if no slot
// holds it. Rows outside the image are the zero row. The rows of one output
// row are distinct, so kernel_h slots always suffice.
template <typename Convert>
static inline void DwGatherRows(const DwLayout& l, const Conv2DParams& p,
                                int32_t oy, const int16_t** rows,
                                Convert&& convert) {
  const int32_t iy0 = oy * p.stride_h - p.pad_top;
  for (int32_t ky = 0; ky < p.kernel_h; ++ky) {
    const int32_t iy = iy0 + ky * p.dilation_h;
    rows[ky] = l.zero_row;
    if (iy < 0 || iy >= p.in_h) continue;
    rows[ky] = nullptr;
    for (int32_t s = 0; s < p.kernel_h; ++s) {
      if (l.slot_row[s] == iy) {
        rows[ky] = l.slots + static_cast<size_t>(s) * l.row_elems;
        l.slot_used[s] = oy;
        break;
      }
    }
  }
  for (int32_t ky = 0; ky < p.kernel_h; ++ky) {
    if (rows[ky] != nullptr) continue;
    int32_t s = 0;
    while (l.slot_used[s] == oy) ++s;  // a slot this output row does not use
    int16_t* dst = l.slots + static_cast<size_t>(s) * l.row_elems;
    const int32_t iy = iy0 + ky * p.dilation_h;
    convert(dst, iy);
    l.slot_row[s] = iy;
    l.slot_used[s] = oy;
    rows[ky] = dst;
  }
}

// Fills l.taps, one pointer per tap (ky, kx order as in the packed
// weights), from the row pointers of each kernel row; an odd tap count gets
// one extra tap, paired with zero weights, that reads rows[0] (any readable
// data would do). Image mode: rows[ky] = image_data + ky * dilation_h *
// width * ps, once per call, and output row oy adds oy * stride_h * width *
// ps.
static inline void DwFillTaps(const DwLayout& l, const Conv2DParams& p,
                              const int16_t* const* rows) {
  int32_t t = 0;
  for (int32_t ky = 0; ky < p.kernel_h; ++ky) {
    for (int32_t kx = 0; kx < p.kernel_w; ++kx) {
      l.taps[t++] = rows[ky] + static_cast<size_t>(kx) * p.dilation_w * l.ps;
    }
  }
  if (t & 1) l.taps[t] = rows[0];
}

// Image mode: the tap pointers, once per call.
static inline void DwFillImageTaps(const DwLayout& l, const Conv2DParams& p) {
  for (int32_t ky = 0; ky < p.kernel_h; ++ky) {
    l.rows[ky] =
        l.image_data + static_cast<size_t>(ky) * p.dilation_h * l.width * l.ps;
  }
  DwFillTaps(l, p, l.rows);
}

// Where a converted row gets data: positions [left, left + count) hold
// input columns 0 .. count-1; the rest of the row stays zero.
struct DwRowSpan {
  int32_t left;   // first position holding input column 0
  int32_t count;  // input columns stored
};

static inline DwRowSpan DwSpan(const DwLayout& l, const Conv2DParams& p) {
  DwRowSpan s;
  s.left = p.pad_left < l.width ? p.pad_left : l.width;
  const int32_t room = l.width - s.left;
  s.count = p.in_w < room ? p.in_w : room;
  return s;
}

// Image mode: the input rows stored (0 .. n-1) and where row iy starts.
static inline int32_t DwImageRows(const Conv2DParams& p) {
  const int32_t room = DwImageHeight(p) - p.pad_top;
  if (room <= 0) return 0;
  return p.in_h < room ? p.in_h : room;
}
static inline int16_t* DwImageRow(const DwLayout& l, const Conv2DParams& p,
                                  int32_t iy) {
  return l.image_data + static_cast<size_t>(iy + p.pad_top) * l.width * l.ps;
}

// ---------------------------------------------------------------------------
// Prepared data of the SIMD kernels, per group of G int16 lanes (one vector:
// G = 32 for AVX-512, 16 for AVX2; at most 32). A group covers G channels
// (channel blocks) or, in the stride-1 small-channel ("flat") path, the G
// values out[f .. f+G) of an output row flattened over (x, channel), of which
// the first L = (G / c) * c are computed.
//
// The kernels pair taps (2p, 2p+1) and interleave their int16 inputs with
// unpacklo/unpackhi_epi16, which work inside 128-bit lanes:
// the int32 lane i of the "lo" product holds lane value q = 8 * (i / 4) +
// i % 4, the "hi" one q + 4. Weights and parameters are stored in that
// order, and packs_epi32(lo, hi) brings the results back to q order.
//
// Group layout (all vectors 2G bytes, i.e. G/2 int32 or G/4 int64):
//   [pairs][lo, hi] weight vectors: int16 (w[2p][q], w[2p+1][q]) per lane
//   param vectors, kDwPrep* indices below, lo then hi where paired
enum DwPrepIndex {
  kDwBias = 0,     // lo, hi: bias
  kDwMult = 2,     // lo, hi: multiplier
  kDwMultOdd = 4,  // lo, hi: multiplier of lane 2k+1 in int32 slot 2k
  kDwRound32 = 6,  // lo, hi: 2^(t-33) (fast path, t = 31 - shift >= 33)
  kDwShift32 = 8,  // lo, hi: t - 32 (fast path)
  kDwRoundE = 10,  // int64 2^(t-1) of even lanes (lo), then odd, ...
  kDwRoundO = 11,  //   see kDwHi64 for the hi half
  kDwShiftE = 12,  // int64 t of even / odd lanes
  kDwShiftO = 13,
  kDwCorrE = 14,  // int64 2^(62-t) of even / odd lanes (AVX2 has no 64-bit
  kDwCorrO = 15,  //   arithmetic shift, see qs8_dwconv_up16c__avx2.cc)
  kDwHi64 = 6,    // offset of the hi half of the int64 vectors
  kDwFlags = 22,  // int32 [0]: 1 if every lane has t >= 33
};

static inline size_t DwPrepGroupBytes(int32_t G, int32_t pairs) {
  return static_cast<size_t>(pairs) * 4 * G +
         static_cast<size_t>(kDwPrepVectors + 1) * 2 * G;
}

static inline int32_t DwLaneValue(int32_t i, int32_t hi) {
  return 8 * (i / 4) + i % 4 + 4 * hi;
}

// Builds the prepared data of every group. flat: one group whose lane q
// holds channel q % c (first L lanes); otherwise cp / G channel groups.
static inline void DwBuildPrep(const PackedDw& w, int32_t G, bool flat,
                               uint8_t* prep) {
  const int32_t c = w.channels, cp = w.channels_padded;
  const int32_t taps = w.kernel_h * w.kernel_w;
  const int32_t pairs = (taps + 1) / 2;
  const int32_t groups = flat ? 1 : cp / G;
  const int32_t lanes = flat ? (G / c) * c : G;
  const int32_t H = G / 2;
  const size_t vec = static_cast<size_t>(2) * G;  // bytes per vector
  // Lane value q of lo/hi int32 lane i; channel of the weights (-1: zero
  // weight) and of the parameters of each lane value. This runs on every
  // call, so the loops below avoid divisions.
  int32_t lane_q[2][32];
  for (int32_t hi = 0; hi < 2; ++hi) {
    for (int32_t i = 0; i < H; ++i) lane_q[hi][i] = DwLaneValue(i, hi);
  }
  int32_t wch[32], pch[32];
  for (int32_t g = 0; g < groups; ++g) {
    if (flat) {
      int32_t ch = 0;
      for (int32_t q = 0; q < G; ++q) {
        wch[q] = q < lanes ? ch : -1;
        pch[q] = ch;
        if (++ch == c) ch = 0;
      }
    } else {
      for (int32_t q = 0; q < G; ++q) {
        const int32_t ch = g * G + q;  // weights beyond c are packed as 0
        wch[q] = ch;
        // Lanes past the channels (tails) borrow a real channel's
        // parameters: their results are never stored, and borrowing keeps
        // the padded multiplier 0 from forcing the slow requantization.
        pch[q] = ch < c ? ch : c - 1;
      }
    }
    uint8_t* base = prep + static_cast<size_t>(g) * DwPrepGroupBytes(G, pairs);
    int16_t* wv = reinterpret_cast<int16_t*>(base);
    for (int32_t pr = 0; pr < pairs; ++pr) {
      const int16_t* w0 = w.weights + static_cast<size_t>(2 * pr) * cp;
      const int16_t* w1 = 2 * pr + 1 < taps ? w0 + cp : nullptr;
      for (int32_t hi = 0; hi < 2; ++hi) {
        int16_t* v = wv + (static_cast<size_t>(pr) * 2 + hi) * G;
        for (int32_t i = 0; i < H; ++i) {
          const int32_t ch = wch[lane_q[hi][i]];
          v[2 * i] = ch >= 0 ? w0[ch] : int16_t(0);
          v[2 * i + 1] = ch >= 0 && w1 != nullptr ? w1[ch] : int16_t(0);
        }
      }
    }
    uint8_t* pv = base + static_cast<size_t>(pairs) * 2 * vec;
    memset(pv, 0, kDwPrepVectors * vec);
    int32_t fast = 1;
    for (int32_t hi = 0; hi < 2; ++hi) {
      int32_t* bias = reinterpret_cast<int32_t*>(pv + (kDwBias + hi) * vec);
      int32_t* mult = reinterpret_cast<int32_t*>(pv + (kDwMult + hi) * vec);
      int32_t* mult_odd =
          reinterpret_cast<int32_t*>(pv + (kDwMultOdd + hi) * vec);
      int32_t* r32 = reinterpret_cast<int32_t*>(pv + (kDwRound32 + hi) * vec);
      int32_t* t32 = reinterpret_cast<int32_t*>(pv + (kDwShift32 + hi) * vec);
      uint8_t* v64 = pv + (kDwRoundE + hi * kDwHi64) * vec;
      int64_t* round_e = reinterpret_cast<int64_t*>(v64);
      int64_t* round_o = reinterpret_cast<int64_t*>(v64 + vec);
      int64_t* shift_e = reinterpret_cast<int64_t*>(v64 + 2 * vec);
      int64_t* shift_o = reinterpret_cast<int64_t*>(v64 + 3 * vec);
      int64_t* corr_e = reinterpret_cast<int64_t*>(v64 + 4 * vec);
      int64_t* corr_o = reinterpret_cast<int64_t*>(v64 + 5 * vec);
      for (int32_t i = 0; i < H; ++i) {
        const int32_t ch = pch[lane_q[hi][i]];
        const int32_t m = w.multiplier[ch];
        const int32_t t = 31 - w.shift[ch];
        bias[i] = w.bias[ch];
        mult[i] = m;
        if (i & 1) mult_odd[i - 1] = m;
        if (t >= 33) {
          r32[i] = int32_t(1) << (t - 33);
          t32[i] = t - 32;
        } else {
          fast = 0;
        }
        const int64_t round = int64_t(1) << (t - 1);
        const int64_t corr = int64_t(1) << (62 - t);
        if (i & 1) {
          round_o[i / 2] = round, shift_o[i / 2] = t, corr_o[i / 2] = corr;
        } else {
          round_e[i / 2] = round, shift_e[i / 2] = t, corr_e[i / 2] = corr;
        }
      }
    }
    reinterpret_cast<int32_t*>(pv + kDwFlags * vec)[0] = fast;
  }
}

}  // namespace kiln

#endif  // KILN_KERNELS_QS8_DWCONV_DW_ROWS_H_
