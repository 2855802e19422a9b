// Portable C twin of the x86 depthwise kernels (qs8_dwconv_up16c__avx2.cc,
// qs8_dwconv_up32c__avx512vnni.cc): the same scratch rows of int16 (x - zp)
// with zero padding borders (dw_rows.h, row mode only), the same tap pointers
// and packed int16 weights, blocks of 32 channels with one int32 accumulator
// each, then the normative requantization. Bit-exact with ref::Conv2D for
// groups == in_c == out_c.
#include <stdint.h>

#include "kernels/qs8_dwconv/dw_rows.h"
#include "kernels/requant.h"
#include "kernels/ukernels.h"

namespace kiln {

void qs8_dwconv__scalar(const Conv2DParams& p, const int8_t* input,
                        const PackedDw& w, int8_t* output, void* scratch) {
  const int32_t c = p.in_c, cp = w.channels_padded;
  const DwLayout l = DwMakeLayout(p, cp, cp, /*allow_image=*/false, scratch);
  const DwRowSpan span = DwSpan(l, p);
  const int32_t taps = p.kernel_h * p.kernel_w;
  const int32_t zp = p.input_zero_point;
  const size_t in_item = static_cast<size_t>(p.in_h) * p.in_w * c;
  const size_t out_row_len = static_cast<size_t>(p.out_w) * c;
  for (int32_t b = 0; b < p.batch; ++b) {
    const int8_t* in_b = input + b * in_item;
    auto convert = [&](int16_t* dst, int32_t iy) {
      const int8_t* src = in_b + static_cast<size_t>(iy) * p.in_w * c;
      for (int32_t x = 0; x < span.count; ++x) {
        int16_t* d = dst + static_cast<size_t>(span.left + x) * cp;
        for (int32_t ch = 0; ch < c; ++ch) {
          d[ch] =
              static_cast<int16_t>(src[static_cast<size_t>(x) * c + ch] - zp);
        }
      }
    };
    DwResetSlots(l, p.kernel_h);
    for (int32_t oy = 0; oy < p.out_h; ++oy) {
      DwGatherRows(l, p, oy, l.rows, convert);
      DwFillTaps(l, p, l.rows);
      int8_t* out =
          output + (static_cast<size_t>(b) * p.out_h + oy) * out_row_len;
      for (int32_t ox = 0; ox < p.out_w; ++ox, out += c) {
        const size_t pos = static_cast<size_t>(ox) * p.stride_w * cp;
        // A block of kDwChannelBlock channels at a time, like the SIMD
        // kernels' channel groups; int32 accumulation that wraps like the
        // reference's WrappingAdd.
        for (int32_t c0 = 0; c0 < c; c0 += kDwChannelBlock) {
          const int32_t n = c - c0 < kDwChannelBlock ? c - c0 : kDwChannelBlock;
          uint32_t acc[kDwChannelBlock];
          for (int32_t k = 0; k < n; ++k) {
            acc[k] = static_cast<uint32_t>(w.bias[c0 + k]);
          }
          for (int32_t t = 0; t < taps; ++t) {
            const int16_t* x = l.taps[t] + pos + c0;
            const int16_t* wt = w.weights + static_cast<size_t>(t) * cp + c0;
            for (int32_t k = 0; k < n; ++k) {
              acc[k] += static_cast<uint32_t>(int32_t(x[k]) * wt[k]);
            }
          }
          for (int32_t k = 0; k < n; ++k) {
            out[c0 + k] = static_cast<int8_t>(
                Requantize(static_cast<int32_t>(acc[k]), w.multiplier[c0 + k],
                           w.shift[c0 + k], p.output_zero_point, p.clamp.min,
                           p.clamp.max));
          }
        }
      }
    }
  }
}

}  // namespace kiln
