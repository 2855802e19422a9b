// Parameters of the INT8 kernels. Plain structs with no ownership: pointers
// point into the model file (multipliers, shifts, tables) and stay valid as
// long as the model does. All tensors are NHWC with the batch outermost.
#ifndef KILN_KERNELS_PARAMS_H_
#define KILN_KERNELS_PARAMS_H_

#include <stdint.h>

namespace kiln {

// Per-channel (count == channels) or per-tensor (count == 1) requantization.
struct RequantParams {
  const int32_t* multiplier;
  const int8_t* shift;
  int32_t count;
};

// Multiplier and shift of channel c (per-tensor params broadcast).
static inline int32_t RequantMultiplier(const RequantParams& r, int32_t c) {
  return r.multiplier[r.count == 1 ? 0 : c];
}
static inline int32_t RequantShift(const RequantParams& r, int32_t c) {
  return r.shift[r.count == 1 ? 0 : c];
}

// Output clamp in the quantized domain, fused activation included.
struct ClampParams {
  int32_t min;
  int32_t max;
};

// Conv2D: input [batch, in_h, in_w, in_c], filter OHWI
// [out_c, kernel_h, kernel_w, in_c / groups], bias [out_c] (may be null),
// output [batch, out_h, out_w, out_c]. Output channel oc belongs to group
// oc / (out_c / groups). Filter zero point is 0 (symmetric weights).
struct Conv2DParams {
  int32_t batch;
  int32_t in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t kernel_h, kernel_w;
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_top, pad_left;
  int32_t groups;
  int32_t input_zero_point;
  int32_t output_zero_point;
  ClampParams clamp;
  RequantParams requant;  // count == 1 or out_c
};

// FullyConnected: input [batch, in_features], filter [out_features,
// in_features], bias [out_features] (may be null), output [batch,
// out_features].
struct FullyConnectedParams {
  int32_t batch;
  int32_t in_features;
  int32_t out_features;
  int32_t input_zero_point;
  int32_t output_zero_point;
  ClampParams clamp;
  RequantParams requant;  // count == 1 or out_features
};

// Elementwise add of two tensors of `size` elements each:
//   a = M1((x1 - zp1) << left_shift), b = M2((x2 - zp2) << left_shift)
//   out = clamp(Mout(a + b) + zp_out)
struct AddParams {
  int32_t size;
  int32_t input1_zero_point, input2_zero_point, output_zero_point;
  int32_t left_shift;
  int32_t input1_multiplier, input1_shift;
  int32_t input2_multiplier, input2_shift;
  int32_t output_multiplier, output_shift;
  ClampParams clamp;
};

// AveragePool2D / MaxPool2D over NHWC; input and output share quantization.
// Padding elements are skipped (not counted in the average).
struct Pool2DParams {
  int32_t batch;
  int32_t in_h, in_w, channels;
  int32_t out_h, out_w;
  int32_t filter_h, filter_w;
  int32_t stride_h, stride_w;
  int32_t pad_top, pad_left;
  ClampParams clamp;
};

// GlobalAveragePool: [batch, h, w, channels] -> [batch, channels],
// out = clamp(M(sum(x - zp_in)) + zp_out) with M = s_in / (s_out * h * w).
struct GlobalAveragePoolParams {
  int32_t batch;
  int32_t h, w, channels;
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t multiplier, shift;
};

// Concat along an axis: the output is `outer` rows, each the concatenation of
// one row of `inner[i]` elements from every input i. An input whose
// multiplier is 0 is copied (same quantization as the output); otherwise
// out = clamp(M_i(x - zp_i) + zp_out, -128, 127).
constexpr int32_t kMaxConcatInputs = 16;
struct ConcatParams {
  int32_t outer;
  int32_t num_inputs;
  int32_t inner[kMaxConcatInputs];
  int32_t input_zero_point[kMaxConcatInputs];
  int32_t multiplier[kMaxConcatInputs];
  int32_t shift[kMaxConcatInputs];
  int32_t output_zero_point;
};

// Softmax over rows of `depth` int8 values. exp_table[d] =
// round(2^24 * exp(-beta * s_in * d)), d = max - x in 0..255. Output scale is
// 1/256, zero point -128: out = clamp(round(e * 256 / sum) - 128).
struct SoftmaxParams {
  int32_t rows;
  int32_t depth;
  const int32_t* exp_table;  // 256 entries
};

// Logistic through a table: out = table[x + 128].
struct LogisticParams {
  int32_t size;
  const int8_t* table;  // 256 entries
};

// Quantize from an integer type (uint8 or int8):
//   out = clamp(M(x - zp_in) + zp_out, -128, 127), M = s_in / s_out.
struct QuantizeIntParams {
  int32_t size;
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t multiplier, shift;
};

// Quantize from float: out = clamp(round_half_away(x / scale) + zp, -128, 127);
// NaN maps to zp, +/-inf saturate.
struct QuantizeFloatParams {
  int32_t size;
  float scale;
  int32_t output_zero_point;
};

// Dequantize to float: out = scale * (float)(x - zp), in float32.
struct DequantizeParams {
  int32_t size;
  float scale;
  int32_t input_zero_point;
};

}  // namespace kiln

#endif  // KILN_KERNELS_PARAMS_H_
