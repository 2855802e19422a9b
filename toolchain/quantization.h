// The toolchain's quantization arithmetic: float weights to int8, biases to
// int32, real multipliers to fixed point, activation clamps and lookup
// tables. Everything here is deterministic double arithmetic in a fixed
// order, because the runtime recomputes the multipliers with the same
// functions (kernels/requant.h) and rejects a model whose values differ.
//
// Errors are reported by throwing std::invalid_argument; ModelBuilder turns
// them into its error message.
#ifndef KILN_TOOLCHAIN_QUANTIZATION_H_
#define KILN_TOOLCHAIN_QUANTIZATION_H_

#include <stdint.h>

#include <vector>

#include "toolchain/model_def.h"

namespace kiln {

// Rounds half away from zero (std::round), the rounding of the format.
double RoundHalfAway(double v);

// Weights quantized per output channel (axis 0), symmetric int8.
struct QuantizedWeights {
  std::vector<int8_t> values;
  std::vector<float> scales;  // one per channel
};

// `weights` holds `channels` consecutive slices of equal size. Per channel:
// s = max|w| / 127 (1.0f for an all-zero channel, so that the scale stays
// valid), q = clamp(round_half_away(w / s), -127, 127) in double.
QuantizedWeights QuantizeWeightsPerChannel(const std::vector<float>& weights,
                                           int32_t channels);

// bias_q[c] = round_half_away(b[c] / (input_scale * weight_scale[c])) in
// double, saturated to int32. The bias scale is the float product
// input_scale * weight_scale[c] (exact in double, so no double rounding).
std::vector<int32_t> QuantizeBias(const std::vector<float>& bias,
                                  float input_scale,
                                  const std::vector<float>& weight_scales);

// QuantizeMultiplier over each real multiplier. Throws when one is not
// finite, negative or too large for the format (>= 2^30): `what` names the
// operator in the message.
RequantDef MakeRequant(const std::vector<double>& reals, const char* what);

// Output clamp in the quantized domain for a fused activation:
//   NONE  -> [-128, 127]
//   RELU  -> [max(-128, zp), 127]
//   RELU6 -> [max(-128, zp), min(127, zp + lround(6 / scale))]
struct Clamp {
  int32_t min, max;
};
Clamp ActivationClamp(Activation activation, float scale, int32_t zero_point);

// exp_table[d] = round(2^24 * exp(-beta * input_scale * d)), d = 0..255, in
// double, evaluated as written (-beta, times scale, times d).
std::vector<int32_t> SoftmaxExpTable(float input_scale, float beta);

// table[i], i = 0..255, for q = i - 128:
//   y = 1 / (1 + exp(-input_scale * (q - zero_point)))
//   table[i] = clamp(round_half_away(y * 256) - 128, -128, 127)
std::vector<int8_t> LogisticTable(float input_scale, int32_t zero_point);

// Little-endian bytes of int32 values, the format's byte order.
std::vector<uint8_t> Int32Bytes(const std::vector<int32_t>& values);

}  // namespace kiln

#endif  // KILN_TOOLCHAIN_QUANTIZATION_H_
