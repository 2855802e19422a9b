// The one normative requantization of Kiln (docs/quantization.md, section
// "Requantization"). Every kernel, reference or SIMD, must produce exactly
// what these functions produce.
#ifndef KILN_KERNELS_REQUANT_H_
#define KILN_KERNELS_REQUANT_H_

#include <stdint.h>

namespace kiln {

// Limits of the fixed-point multiplier: real = multiplier * 2^(shift - 31).
// A non-zero multiplier is normalized into [2^30, 2^31 - 1]; multiplier 0
// (with shift 0) encodes a real multiplier too small to represent.
constexpr int32_t kMinShift = -31;
constexpr int32_t kMaxShift = 30;
constexpr int32_t kMinMultiplier = int32_t(1) << 30;

// Single-rounding multiply-round-shift:
//   total = 31 - shift                      (1 .. 62)
//   r     = (acc * multiplier + 2^(total-1)) >> total   (64-bit, arithmetic)
// i.e. round half toward +infinity of acc * real_multiplier, then saturated to
// int32. The product fits in 62 bits and the rounding term in 61, so the sum
// never overflows int64.
static inline int32_t MultiplyByQuantizedMultiplier(int32_t acc,
                                                    int32_t multiplier,
                                                    int32_t shift) {
  const int32_t total = 31 - shift;
  const int64_t round = int64_t(1) << (total - 1);
  const int64_t r = (static_cast<int64_t>(acc) * multiplier + round) >> total;
  if (r > INT32_MAX) return INT32_MAX;
  if (r < INT32_MIN) return INT32_MIN;
  return static_cast<int32_t>(r);
}

// Requantize an int32 accumulator to an output value: scaled, offset by the
// output zero point and clamped to [act_min, act_max] (which lie in
// [-128, 127] for int8 outputs). The sum is formed in 64 bits so it is exact.
static inline int32_t Requantize(int32_t acc, int32_t multiplier, int32_t shift,
                                 int32_t zero_point, int32_t act_min,
                                 int32_t act_max) {
  const int64_t v =
      int64_t(MultiplyByQuantizedMultiplier(acc, multiplier, shift)) +
      zero_point;
  if (v < act_min) return act_min;
  if (v > act_max) return act_max;
  return static_cast<int32_t>(v);
}

// Integer division rounding half away from zero; divisor > 0.
static inline int32_t DivideRoundHalfAway(int32_t num, int32_t divisor) {
  return num >= 0 ? (num + divisor / 2) / divisor
                  : -((-num + divisor / 2) / divisor);
}

// Result of converting a real multiplier to fixed point.
enum class MultiplierStatus { kOk, kNegativeOrNotFinite, kTooLarge };

// The normative conversion of a real multiplier to (multiplier, shift):
//   real == 0            -> (0, 0)
//   real = q * 2^e, q in [0.5, 1) (frexp)
//   m = round_half_away(q * 2^31); if m == 2^31 { m = 2^30; e += 1 }
//   e < -31              -> (0, 0)        (underflow: contributes nothing)
//   e > 30               -> kTooLarge
//   otherwise            -> (m, e)
MultiplierStatus QuantizeMultiplier(double real, int32_t* multiplier,
                                    int32_t* shift);

// The real multipliers below are computed in double in exactly the order
// written, so that the toolchain that writes a model and the runtime that
// verifies it derive the same bits (docs/quantization.md lists them).

// Conv2D / FullyConnected: accumulator scale input_scale * weight_scale.
inline double ConvRealMultiplier(float input_scale, float weight_scale,
                                 float output_scale) {
  return static_cast<double>(input_scale) * static_cast<double>(weight_scale) /
         static_cast<double>(output_scale);
}

// Rescaling between two quantizations (Quantize, Concat inputs).
inline double RescaleRealMultiplier(float input_scale, float output_scale) {
  return static_cast<double>(input_scale) / static_cast<double>(output_scale);
}

// GlobalAveragePool: the mean's 1 / (h * w) folded into the multiplier.
inline double GlobalAveragePoolRealMultiplier(float input_scale,
                                              float output_scale, int32_t h,
                                              int32_t w) {
  return static_cast<double>(input_scale) /
         (static_cast<double>(output_scale) * static_cast<double>(h) *
          static_cast<double>(w));
}

// Add: both inputs are brought to the scale 2 * max(s1, s2) / 2^left_shift
// before summing; the output multiplier undoes that.
constexpr int32_t kAddLeftShift = 20;
struct AddRealMultipliers {
  double input1, input2, output;
};
inline AddRealMultipliers ComputeAddRealMultipliers(float input1_scale,
                                                    float input2_scale,
                                                    float output_scale,
                                                    int32_t left_shift) {
  const double s1 = input1_scale, s2 = input2_scale;
  const double twice_max = 2.0 * (s1 > s2 ? s1 : s2);
  AddRealMultipliers m;
  m.input1 = s1 / twice_max;
  m.input2 = s2 / twice_max;
  m.output = twice_max / (static_cast<double>(int64_t(1) << left_shift) *
                          static_cast<double>(output_scale));
  return m;
}

}  // namespace kiln

#endif  // KILN_KERNELS_REQUANT_H_
