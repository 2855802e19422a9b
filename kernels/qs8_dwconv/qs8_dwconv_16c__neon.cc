// INT8 depthwise convolution for AArch64 Advanced SIMD: 16 channels per step
// (one int8x16 of outputs), any kernel size, stride, dilation and padding,
// with a 3x3 fast path that keeps the 9 taps' weights in registers.
//
// Input rows are widened once to int16 with the input zero point removed
// (|x - zp| <= 255) into the scratch (kernels/dwconv.h, DwScratchBytes):
// kernel_h row slots plus one all-zero row, each in_w + 2 * kernel_w pixels
// wide with kernel_w zero pixels on either side and channels padded to
// channels_padded with zeros. A zero there is exactly a padding tap of the
// reference (x == zp contributes 0), so taps that fall into the margins or
// into the zero row need no bounds checks. Products (x - zp) * w are formed
// exactly by SMLAL (int16 x int16 -> int32) and accumulate with int32
// wrap-around like the reference, so the tap order does not matter.
#include <stdint.h>
#include <string.h>

#include "kernels/qs8_gemm/requant_neon.h"
#include "kernels/ukernels.h"

namespace kiln {
namespace {

// Rows are cached across output rows only if one output row's input rows
// land in distinct slots (y mod kernel_h, see below) and the tags fit here.
constexpr int32_t kMaxCachedRows = 16;

static int32_t Gcd(int32_t a, int32_t b) {
  while (b != 0) {
    const int32_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// dst[x * cp + c] = src[x * channels + c] - zero_point for every pixel x of
// one input row; channels [channels, cp) of dst are left as they are (zero).
static void WidenRow(const int8_t* src, int32_t in_w, int32_t channels,
                     int32_t cp, int32_t zero_point, int16_t* dst) {
  const int16x8_t zp = vdupq_n_s16(static_cast<int16_t>(zero_point));
  if (channels == cp) {
    // Dense: the row is one run of in_w * channels values (channels is a
    // multiple of 32).
    const int32_t n = in_w * channels;
    for (int32_t i = 0; i < n; i += 16) {
      const int8x16_t v = vld1q_s8(src + i);
      vst1q_s16(dst + i, vsubq_s16(vmovl_s8(vget_low_s8(v)), zp));
      vst1q_s16(dst + i + 8, vsubq_s16(vmovl_high_s8(v), zp));
    }
    return;
  }
  for (int32_t x = 0; x < in_w; ++x) {
    const int8_t* s = src + static_cast<size_t>(x) * channels;
    int16_t* d = dst + static_cast<size_t>(x) * cp;
    int32_t c = 0;
    for (; c + 16 <= channels; c += 16) {
      const int8x16_t v = vld1q_s8(s + c);
      vst1q_s16(d + c, vsubq_s16(vmovl_s8(vget_low_s8(v)), zp));
      vst1q_s16(d + c + 8, vsubq_s16(vmovl_high_s8(v), zp));
    }
    for (; c + 8 <= channels; c += 8) {
      vst1q_s16(d + c, vsubq_s16(vmovl_s8(vld1_s8(s + c)), zp));
    }
    for (; c < channels; ++c) {
      d[c] = static_cast<int16_t>(int32_t(s[c]) - zero_point);
    }
  }
}

// The 16 accumulators of one pixel's 16 channels.
struct Acc16 {
  int32x4_t v0, v1, v2, v3;
};

static inline __attribute__((always_inline)) Acc16 LoadBias(
    const int32_t* bias) {
  Acc16 a;
  a.v0 = vld1q_s32(bias);
  a.v1 = vld1q_s32(bias + 4);
  a.v2 = vld1q_s32(bias + 8);
  a.v3 = vld1q_s32(bias + 12);
  return a;
}

// acc += x[0..16) * (w0, w1): 16 exact int16 products.
static inline __attribute__((always_inline)) void Mac(Acc16& a,
                                                      const int16_t* x,
                                                      int16x8_t w0,
                                                      int16x8_t w1) {
  const int16x8_t x0 = vld1q_s16(x);
  const int16x8_t x1 = vld1q_s16(x + 8);
  a.v0 = vmlal_s16(a.v0, vget_low_s16(x0), vget_low_s16(w0));
  a.v1 = vmlal_high_s16(a.v1, x0, w0);
  a.v2 = vmlal_s16(a.v2, vget_low_s16(x1), vget_low_s16(w1));
  a.v3 = vmlal_high_s16(a.v3, x1, w1);
}

static inline __attribute__((always_inline)) void Finish(
    const Acc16& a, const PackedDw& w, int32_t c0,
    const neon::OutputStage& stage, int8_t* dst, int32_t count) {
  neon::StorePartial16(
      dst,
      neon::RequantizePerChannel16(a.v0, a.v1, a.v2, a.v3, w.multiplier + c0,
                                   w.shift + c0, stage),
      count);
}

}  // namespace

void qs8_dwconv__neon(const Conv2DParams& p, const int8_t* input,
                      const PackedDw& w, int8_t* output, void* scratch) {
  const int32_t channels = p.in_c;
  const int32_t cp = w.channels_padded;
  const int32_t kh = p.kernel_h, kw = p.kernel_w;
  const int32_t dil_h = p.dilation_h, dil_w = p.dilation_w;
  const size_t row_elems = static_cast<size_t>(p.in_w + 2 * kw) * cp;
  int16_t* slots = static_cast<int16_t*>(scratch);
  const int16_t* zero_row = slots + static_cast<size_t>(kh) * row_elems;
  // Margins, channel padding and the zero row are zero from here on; row
  // widening only ever writes the real pixels' real channels.
  memset(scratch, 0, static_cast<size_t>(kh + 1) * row_elems * sizeof(int16_t));

  // Input row y lives in slot y % kh: the rows of one output row,
  // y0 + ky * dil_h for ky < kh, are kh distinct residues when dil_h is
  // coprime to kh, so rows shared by consecutive output rows (stride <
  // kernel extent) are widened once. Otherwise slot ky, refilled every row.
  const bool cache = kh <= kMaxCachedRows && Gcd(dil_h, kh) == 1;
  // Every horizontal tap of every output pixel lands inside the zero
  // margins or the row: no per-pixel clipping needed.
  const bool in_margins =
      p.pad_left <= kw &&
      (p.out_w - 1) * p.stride_w - p.pad_left + (kw - 1) * dil_w <=
          p.in_w - 1 + kw;
  const bool fast3x3 = kh == 3 && kw == 3 && in_margins;
  const neon::OutputStage stage =
      neon::MakeOutputStage(p.output_zero_point, p.clamp.min, p.clamp.max);
  const size_t in_item = static_cast<size_t>(p.in_h) * p.in_w * channels;
  const size_t out_item = static_cast<size_t>(p.out_h) * p.out_w * channels;
  int32_t tags[kMaxCachedRows];

  for (int32_t b = 0; b < p.batch; ++b) {
    const int8_t* in_b = input + b * in_item;
    int8_t* out_b = output + b * out_item;
    for (int32_t i = 0; i < kMaxCachedRows; ++i) tags[i] = -1;
    for (int32_t oy = 0; oy < p.out_h; ++oy) {
      const int32_t y0 = oy * p.stride_h - p.pad_top;
      // Widen the in-bounds input rows this output row reads.
      for (int32_t ky = 0; ky < kh; ++ky) {
        const int32_t y = y0 + ky * dil_h;
        if (y < 0 || y >= p.in_h) continue;
        const int32_t s = cache ? y % kh : ky;
        if (cache && tags[s] == y) continue;
        WidenRow(in_b + static_cast<size_t>(y) * p.in_w * channels, p.in_w,
                 channels, cp, p.input_zero_point,
                 slots + s * row_elems + static_cast<size_t>(kw) * cp);
        if (cache) tags[s] = y;
      }
      int8_t* out_row = out_b + static_cast<size_t>(oy) * p.out_w * channels;

      if (fast3x3) {
        // Row pointers shifted by the margin: padded column col = x + 3.
        const int16_t* r[3];
        for (int32_t ky = 0; ky < 3; ++ky) {
          const int32_t y = y0 + ky * dil_h;
          r[ky] = (y < 0 || y >= p.in_h)
                      ? zero_row
                      : slots + (cache ? y % 3 : ky) * row_elems;
        }
        for (int32_t c0 = 0; c0 < channels; c0 += 16) {
          const int32_t count = channels - c0 < 16 ? channels - c0 : 16;
          // The 9 taps' weights of these 16 channels stay in 18 registers
          // across the whole output row.
          const int16_t* wc = w.weights + c0;
          const int16x8_t w00 = vld1q_s16(wc), w01 = vld1q_s16(wc + 8);
          wc += cp;
          const int16x8_t w10 = vld1q_s16(wc), w11 = vld1q_s16(wc + 8);
          wc += cp;
          const int16x8_t w20 = vld1q_s16(wc), w21 = vld1q_s16(wc + 8);
          wc += cp;
          const int16x8_t w30 = vld1q_s16(wc), w31 = vld1q_s16(wc + 8);
          wc += cp;
          const int16x8_t w40 = vld1q_s16(wc), w41 = vld1q_s16(wc + 8);
          wc += cp;
          const int16x8_t w50 = vld1q_s16(wc), w51 = vld1q_s16(wc + 8);
          wc += cp;
          const int16x8_t w60 = vld1q_s16(wc), w61 = vld1q_s16(wc + 8);
          wc += cp;
          const int16x8_t w70 = vld1q_s16(wc), w71 = vld1q_s16(wc + 8);
          wc += cp;
          const int16x8_t w80 = vld1q_s16(wc), w81 = vld1q_s16(wc + 8);
          const size_t dx = static_cast<size_t>(dil_w) * cp;
          for (int32_t ox = 0; ox < p.out_w; ++ox) {
            const size_t col =
                static_cast<size_t>(ox * p.stride_w - p.pad_left + 3) * cp + c0;
            Acc16 a = LoadBias(w.bias + c0);
            Mac(a, r[0] + col, w00, w01);
            Mac(a, r[0] + col + dx, w10, w11);
            Mac(a, r[0] + col + 2 * dx, w20, w21);
            Mac(a, r[1] + col, w30, w31);
            Mac(a, r[1] + col + dx, w40, w41);
            Mac(a, r[1] + col + 2 * dx, w50, w51);
            Mac(a, r[2] + col, w60, w61);
            Mac(a, r[2] + col + dx, w70, w71);
            Mac(a, r[2] + col + 2 * dx, w80, w81);
            Finish(a, w, c0, stage,
                   out_row + static_cast<size_t>(ox) * channels + c0, count);
          }
        }
        continue;
      }

      // Any kernel: per pixel, taps clipped to the input unless the margins
      // cover them; out-of-bounds rows skipped.
      for (int32_t ox = 0; ox < p.out_w; ++ox) {
        const int32_t x0 = ox * p.stride_w - p.pad_left;
        int32_t kx_lo = 0, kx_hi = kw;
        if (!in_margins) {
          while (kx_lo < kw && x0 + kx_lo * dil_w < 0) ++kx_lo;
          while (kx_hi > kx_lo && x0 + (kx_hi - 1) * dil_w >= p.in_w) --kx_hi;
        }
        for (int32_t c0 = 0; c0 < channels; c0 += 16) {
          const int32_t count = channels - c0 < 16 ? channels - c0 : 16;
          Acc16 a = LoadBias(w.bias + c0);
          for (int32_t ky = 0; ky < kh; ++ky) {
            const int32_t y = y0 + ky * dil_h;
            if (y < 0 || y >= p.in_h) continue;
            const int16_t* row = slots + (cache ? y % kh : ky) * row_elems + c0;
            const int16_t* wrow =
                w.weights + static_cast<size_t>(ky) * kw * cp + c0;
            for (int32_t kx = kx_lo; kx < kx_hi; ++kx) {
              const int16_t* wt = wrow + static_cast<size_t>(kx) * cp;
              Mac(a, row + static_cast<size_t>(x0 + kx * dil_w + kw) * cp,
                  vld1q_s16(wt), vld1q_s16(wt + 8));
            }
          }
          Finish(a, w, c0, stage,
                 out_row + static_cast<size_t>(ox) * channels + c0, count);
        }
      }
    }
  }
}

}  // namespace kiln
