// Reference MaxPool2D. Input and output share one quantization and the max
// commutes with the (monotonic) affine mapping, so no requant is needed.
#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"

namespace kiln {
namespace ref {

void MaxPool2D(const Pool2DParams& p, const int8_t* input, int8_t* output) {
  for (int32_t b = 0; b < p.batch; ++b) {
    for (int32_t oy = 0; oy < p.out_h; ++oy) {
      const int32_t in_y0 = oy * p.stride_h - p.pad_top;
      for (int32_t ox = 0; ox < p.out_w; ++ox) {
        const int32_t in_x0 = ox * p.stride_w - p.pad_left;
        for (int32_t c = 0; c < p.channels; ++c) {
          // Padding taps are skipped (they never win the max). Starting from
          // the smallest int8 value also defines the result of a window with
          // no in-bounds tap, which the verifier rules out anyway.
          int32_t max = -128;
          for (int32_t fy = 0; fy < p.filter_h; ++fy) {
            const int32_t in_y = in_y0 + fy;
            if (in_y < 0 || in_y >= p.in_h) continue;
            for (int32_t fx = 0; fx < p.filter_w; ++fx) {
              const int32_t in_x = in_x0 + fx;
              if (in_x < 0 || in_x >= p.in_w) continue;
              const int32_t v =
                  input[((b * p.in_h + in_y) * p.in_w + in_x) * p.channels + c];
              if (v > max) max = v;
            }
          }
          if (max < p.clamp.min) max = p.clamp.min;
          if (max > p.clamp.max) max = p.clamp.max;
          output[((b * p.out_h + oy) * p.out_w + ox) * p.channels + c] =
              static_cast<int8_t>(max);
        }
      }
    }
  }
}

}  // namespace ref
}  // namespace kiln
