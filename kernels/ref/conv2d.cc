// Reference Conv2D (grouped, depthwise as the special case groups == in_c).
#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/requant.h"

namespace kiln {
namespace ref {

namespace {

// Two's-complement int32 addition that wraps instead of being undefined on
// overflow. A well-formed model never overflows the accumulator; wrapping
// makes a malformed one (e.g. a bias near INT32_MAX) deterministic and keeps
// the result independent of the summation order, so SIMD kernels can match.
inline int32_t WrappingAdd(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) +
                              static_cast<uint32_t>(b));
}

}  // namespace

void Conv2D(const Conv2DParams& p, const int8_t* input, const int8_t* filter,
            const int32_t* bias, int8_t* output) {
  // Each group sees in_c / groups input channels and produces
  // out_c / groups output channels. The filter's innermost dimension is the
  // per-group input channel count.
  const int32_t in_c_per_group = p.in_c / p.groups;
  const int32_t out_c_per_group = p.out_c / p.groups;

  for (int32_t b = 0; b < p.batch; ++b) {
    for (int32_t oy = 0; oy < p.out_h; ++oy) {
      // Top-left corner of the receptive field in input coordinates; it may
      // lie in the padding (negative) region.
      const int32_t in_y0 = oy * p.stride_h - p.pad_top;
      for (int32_t ox = 0; ox < p.out_w; ++ox) {
        const int32_t in_x0 = ox * p.stride_w - p.pad_left;
        for (int32_t oc = 0; oc < p.out_c; ++oc) {
          const int32_t group = oc / out_c_per_group;
          const int32_t ic_base = group * in_c_per_group;
          int32_t acc = bias != nullptr ? bias[oc] : 0;
          for (int32_t ky = 0; ky < p.kernel_h; ++ky) {
            const int32_t in_y = in_y0 + ky * p.dilation_h;
            // Padding taps hold the zero point, i.e. real value 0: their
            // (x - input_zero_point) term is 0, so they are simply skipped.
            if (in_y < 0 || in_y >= p.in_h) continue;
            for (int32_t kx = 0; kx < p.kernel_w; ++kx) {
              const int32_t in_x = in_x0 + kx * p.dilation_w;
              if (in_x < 0 || in_x >= p.in_w) continue;
              const int8_t* in_px =
                  input + ((b * p.in_h + in_y) * p.in_w + in_x) * p.in_c +
                  ic_base;
              const int8_t* w_px =
                  filter +
                  ((oc * p.kernel_h + ky) * p.kernel_w + kx) * in_c_per_group;
              for (int32_t ic = 0; ic < in_c_per_group; ++ic) {
                // |x - zp| <= 255 and |w| <= 128: the product fits easily;
                // the filter zero point is 0 (symmetric weights).
                const int32_t x = int32_t(in_px[ic]) - p.input_zero_point;
                acc = WrappingAdd(acc, x * int32_t(w_px[ic]));
              }
            }
          }
          output[((b * p.out_h + oy) * p.out_w + ox) * p.out_c + oc] =
              static_cast<int8_t>(
                  Requantize(acc, RequantMultiplier(p.requant, oc),
                             RequantShift(p.requant, oc), p.output_zero_point,
                             p.clamp.min, p.clamp.max));
        }
      }
    }
  }
}

}  // namespace ref
}  // namespace kiln
