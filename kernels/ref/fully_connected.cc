// Reference FullyConnected: output[b][o] = requant(bias[o] + sum_k
// (input[b][k] - input_zp) * filter[o][k]).
#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/requant.h"

namespace kiln {
namespace ref {

namespace {

// Two's-complement int32 addition that wraps instead of being undefined on
// overflow (see conv2d.cc): deterministic for malformed models and
// independent of the summation order.
inline int32_t WrappingAdd(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) +
                              static_cast<uint32_t>(b));
}

}  // namespace

void FullyConnected(const FullyConnectedParams& p, const int8_t* input,
                    const int8_t* filter, const int32_t* bias, int8_t* output) {
  for (int32_t b = 0; b < p.batch; ++b) {
    const int8_t* in_row = input + b * p.in_features;
    for (int32_t o = 0; o < p.out_features; ++o) {
      const int8_t* w_row = filter + o * p.in_features;
      int32_t acc = bias != nullptr ? bias[o] : 0;
      for (int32_t k = 0; k < p.in_features; ++k) {
        // Weights are symmetric (zero point 0), only the input is offset.
        const int32_t x = int32_t(in_row[k]) - p.input_zero_point;
        acc = WrappingAdd(acc, x * int32_t(w_row[k]));
      }
      output[b * p.out_features + o] = static_cast<int8_t>(Requantize(
          acc, RequantMultiplier(p.requant, o), RequantShift(p.requant, o),
          p.output_zero_point, p.clamp.min, p.clamp.max));
    }
  }
}

}  // namespace ref
}  // namespace kiln
