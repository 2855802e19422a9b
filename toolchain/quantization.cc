#include "toolchain/quantization.h"

#include <math.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/requant.h"

namespace kiln {

double RoundHalfAway(double v) { return round(v); }

QuantizedWeights QuantizeWeightsPerChannel(const std::vector<float>& weights,
                                           int32_t channels) {
  if (channels <= 0 || weights.size() % static_cast<size_t>(channels) != 0) {
    throw std::invalid_argument("weights do not split into " +
                                std::to_string(channels) + " channels");
  }
  const size_t per_channel = weights.size() / static_cast<size_t>(channels);
  QuantizedWeights out;
  out.values.resize(weights.size());
  out.scales.resize(static_cast<size_t>(channels));
  for (size_t c = 0; c < out.scales.size(); ++c) {
    const float* w = weights.data() + c * per_channel;
    float max_abs = 0.0f;
    for (size_t i = 0; i < per_channel; ++i) {
      if (!isfinite(w[i])) {
        throw std::invalid_argument("a weight is not finite");
      }
      max_abs = std::max(max_abs, fabsf(w[i]));
    }
    const float scale = max_abs > 0.0f ? max_abs / 127.0f : 1.0f;
    if (!isnormal(scale)) {
      // max_abs so small that max_abs / 127 is subnormal (or zero).
      throw std::invalid_argument("weights too small to quantize");
    }
    out.scales[c] = scale;
    for (size_t i = 0; i < per_channel; ++i) {
      const double q = RoundHalfAway(static_cast<double>(w[i]) / scale);
      out.values[c * per_channel + i] =
          static_cast<int8_t>(std::clamp(q, -127.0, 127.0));
    }
  }
  return out;
}

std::vector<int32_t> QuantizeBias(const std::vector<float>& bias,
                                  float input_scale,
                                  const std::vector<float>& weight_scales) {
  if (bias.size() != weight_scales.size()) {
    throw std::invalid_argument(
        "bias has " + std::to_string(bias.size()) + " values for " +
        std::to_string(weight_scales.size()) + " output channels");
  }
  std::vector<int32_t> out(bias.size());
  for (size_t c = 0; c < bias.size(); ++c) {
    if (!isfinite(bias[c])) throw std::invalid_argument("a bias is not finite");
    const double scale = static_cast<double>(input_scale) *
                         static_cast<double>(weight_scales[c]);
    const double q = RoundHalfAway(static_cast<double>(bias[c]) / scale);
    out[c] = static_cast<int32_t>(std::clamp(q, static_cast<double>(INT32_MIN),
                                             static_cast<double>(INT32_MAX)));
  }
  return out;
}

RequantDef MakeRequant(const std::vector<double>& reals, const char* what) {
  RequantDef r;
  for (double real : reals) {
    int32_t multiplier = 0, shift = 0;
    switch (QuantizeMultiplier(real, &multiplier, &shift)) {
      case MultiplierStatus::kOk:
        break;
      case MultiplierStatus::kNegativeOrNotFinite:
        throw std::invalid_argument(
            std::string(what) + ": requantization multiplier " +
            std::to_string(real) + " is negative or not finite");
      case MultiplierStatus::kTooLarge:
        throw std::invalid_argument(
            std::string(what) + ": requantization multiplier " +
            std::to_string(real) +
            " is too large for the format (must be < 2^30); the output "
            "scale is too small for the input scales");
    }
    r.multiplier.push_back(multiplier);
    r.shift.push_back(static_cast<int8_t>(shift));
  }
  return r;
}

Clamp ActivationClamp(Activation activation, float scale, int32_t zero_point) {
  switch (activation) {
    case Activation::kNone:
      return {-128, 127};
    case Activation::kRelu:
      return {std::max(-128, zero_point), 127};
    case Activation::kRelu6: {
      const double steps = 6.0 / static_cast<double>(scale);
      // Beyond 255 steps the upper bound is 127 anyway; this also keeps
      // lround inside long's range.
      const int32_t top =
          steps > 1024.0
              ? 127
              : std::min<int32_t>(
                    127, zero_point + static_cast<int32_t>(lround(steps)));
      return {std::max(-128, zero_point), top};
    }
  }
  throw std::invalid_argument("unknown activation");
}

std::vector<int32_t> SoftmaxExpTable(float input_scale, float beta) {
  std::vector<int32_t> table(256);
  for (int d = 0; d < 256; ++d) {
    const double e =
        exp(-static_cast<double>(beta) * static_cast<double>(input_scale) *
            static_cast<double>(d));
    table[d] = static_cast<int32_t>(round(16777216.0 * e));
  }
  return table;
}

std::vector<int8_t> LogisticTable(float input_scale, int32_t zero_point) {
  std::vector<int8_t> table(256);
  for (int i = 0; i < 256; ++i) {
    const int32_t q = i - 128;
    const double x =
        static_cast<double>(input_scale) * static_cast<double>(q - zero_point);
    const double y = 1.0 / (1.0 + exp(-x));
    const double v = RoundHalfAway(y * 256.0) - 128.0;
    table[i] = static_cast<int8_t>(std::clamp(v, -128.0, 127.0));
  }
  return table;
}

std::vector<uint8_t> Int32Bytes(const std::vector<int32_t>& values) {
  std::vector<uint8_t> bytes;
  bytes.reserve(values.size() * 4);
  for (int32_t v : values) {
    const uint32_t u = static_cast<uint32_t>(v);
    for (int b = 0; b < 4; ++b)
      bytes.push_back(static_cast<uint8_t>(u >> (8 * b)));
  }
  return bytes;
}

}  // namespace kiln
