// The windows of a 2-D pool (kernels/ref/average_pool2d.cc and
// max_pool2d.cc skip padding taps): each output pixel's window cut to its
// in-bounds rows and columns, shared by the pooling kernels of every ISA.
// Static (internal linkage) as ISA translation units require.
#ifndef KILN_KERNELS_QS8_ELEMENTWISE_POOL_WINDOW_H_
#define KILN_KERNELS_QS8_ELEMENTWISE_POOL_WINDOW_H_

#include <stddef.h>
#include <stdint.h>

#include "kernels/params.h"

namespace kiln {

struct PoolWindow {
  const int8_t* first;  // first in-bounds tap, channel 0
  int32_t rows, cols;   // in-bounds taps per column / row (>= 1: verifier)
  int8_t* out;          // the output pixel, channel 0
};

// Calls visit(window) for every output pixel of p.batch items, in order.
// Tap (fy, fx) of a window is at first + fy * in_w * channels +
// fx * channels.
template <typename Visit>
static inline void ForEachPoolWindow(const Pool2DParams& p, const int8_t* input,
                                     int8_t* output, Visit&& visit) {
  const ptrdiff_t c = p.channels;
  const ptrdiff_t row = static_cast<ptrdiff_t>(p.in_w) * c;
  for (int32_t b = 0; b < p.batch; ++b) {
    const int8_t* in_b = input + static_cast<ptrdiff_t>(b) * p.in_h * row;
    for (int32_t oy = 0; oy < p.out_h; ++oy) {
      const int32_t y0 = oy * p.stride_h - p.pad_top;
      const int32_t fy0 = y0 < 0 ? -y0 : 0;
      const int32_t fy1 = p.in_h - y0 < p.filter_h ? p.in_h - y0 : p.filter_h;
      for (int32_t ox = 0; ox < p.out_w; ++ox) {
        const int32_t x0 = ox * p.stride_w - p.pad_left;
        const int32_t fx0 = x0 < 0 ? -x0 : 0;
        const int32_t fx1 = p.in_w - x0 < p.filter_w ? p.in_w - x0 : p.filter_w;
        PoolWindow w;
        w.first = in_b + (y0 + fy0) * row + (x0 + fx0) * c;
        w.rows = fy1 - fy0;
        w.cols = fx1 - fx0;
        w.out = output +
                ((static_cast<ptrdiff_t>(b) * p.out_h + oy) * p.out_w + ox) * c;
        visit(w);
      }
    }
  }
}

}  // namespace kiln

#endif  // KILN_KERNELS_QS8_ELEMENTWISE_POOL_WINDOW_H_
