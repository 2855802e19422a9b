// Reference AveragePool2D. Input and output share one quantization, so the
// average of the raw int8 values is already the output value: no requant.
#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/requant.h"

namespace kiln {
namespace ref {

void AveragePool2D(const Pool2DParams& p, const int8_t* input, int8_t* output) {
  for (int32_t b = 0; b < p.batch; ++b) {
    for (int32_t oy = 0; oy < p.out_h; ++oy) {
      const int32_t in_y0 = oy * p.stride_h - p.pad_top;
      for (int32_t ox = 0; ox < p.out_w; ++ox) {
        const int32_t in_x0 = ox * p.stride_w - p.pad_left;
        for (int32_t c = 0; c < p.channels; ++c) {
          // Padding is excluded: only in-bounds taps are summed and counted.
          int32_t sum = 0;
          int32_t count = 0;
          for (int32_t fy = 0; fy < p.filter_h; ++fy) {
            const int32_t in_y = in_y0 + fy;
            if (in_y < 0 || in_y >= p.in_h) continue;
            for (int32_t fx = 0; fx < p.filter_w; ++fx) {
              const int32_t in_x = in_x0 + fx;
              if (in_x < 0 || in_x >= p.in_w) continue;
              sum +=
                  input[((b * p.in_h + in_y) * p.in_w + in_x) * p.channels + c];
              ++count;
            }
          }
          // Every window has at least one in-bounds tap (guaranteed by the
          // verifier); the average rounds half away from zero.
          int32_t avg = DivideRoundHalfAway(sum, count);
          if (avg < p.clamp.min) avg = p.clamp.min;
          if (avg > p.clamp.max) avg = p.clamp.max;
          output[((b * p.out_h + oy) * p.out_w + ox) * p.channels + c] =
              static_cast<int8_t>(avg);
        }
      }
    }
  }
}

}  // namespace ref
}  // namespace kiln
