// Shared helpers of the kernel tests: fixed-point multipliers from real
// values and an independent float/double model of quantization.
#ifndef KILN_TESTS_KERNELS_KERNEL_TEST_UTIL_H_
#define KILN_TESTS_KERNELS_KERNEL_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <stdint.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "kernels/requant.h"

namespace kiln {
namespace test {

struct FixedMultiplier {
  int32_t multiplier;
  int32_t shift;
};

// The fixed-point form of `real`, which must be representable.
inline FixedMultiplier ToFixed(double real) {
  FixedMultiplier f{0, 0};
  EXPECT_EQ(QuantizeMultiplier(real, &f.multiplier, &f.shift),
            MultiplierStatus::kOk)
      << "real multiplier " << real;
  return f;
}

// Independent model: quantize a real value to int8 with round half away from
// zero, then clamp.
inline int32_t QuantizeReal(double real, double scale, int32_t zero_point,
                            int32_t qmin = -128, int32_t qmax = 127) {
  const double q = std::round(real / scale) + zero_point;
  return static_cast<int32_t>(
      std::min<double>(qmax, std::max<double>(qmin, q)));
}

// The unrounded quantized value real / scale + zp, clamped to [qmin, qmax].
// Kernels must land within 1 of it (at most 0.5 for rounding plus a little
// for fixed-point multiplier error).
inline double QuantizeRealUnrounded(double real, double scale,
                                    int32_t zero_point, int32_t qmin = -128,
                                    int32_t qmax = 127) {
  const double q = real / scale + zero_point;
  return std::min<double>(qmax, std::max<double>(qmin, q));
}

// Checks a kernel output against the independent real-valued model, given
// the unrounded expected value (already clamped to the output range):
//  * within one quantization step of the rounded expectation (the contract);
//  * and, tighter, within half a step (+ `slack` for fixed-point multiplier
//    error) of the unrounded value, so an off-by-one anywhere but at an exact
//    tie is caught.
inline ::testing::AssertionResult WithinOneStep(int32_t got, double unrounded,
                                                double slack = 1e-4) {
  const double rounded = std::round(unrounded);
  if (std::fabs(got - rounded) > 1.0) {
    return ::testing::AssertionFailure()
           << "got " << got << ", expected " << rounded << " +/- 1 (real "
           << unrounded << ")";
  }
  if (std::fabs(got - unrounded) > 0.5 + slack) {
    return ::testing::AssertionFailure()
           << "got " << got << ", more than half a step from " << unrounded;
  }
  return ::testing::AssertionSuccess();
}

inline int32_t RandInt(std::mt19937& rng, int32_t lo, int32_t hi) {
  return std::uniform_int_distribution<int32_t>(lo, hi)(rng);
}

inline double RandReal(std::mt19937& rng, double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}

// Scale drawn log-uniformly from [lo, hi], returned as float (the model
// stores float32 scales).
inline float RandScale(std::mt19937& rng, double lo, double hi) {
  return static_cast<float>(
      std::exp(RandReal(rng, std::log(lo), std::log(hi))));
}

// A zero point that is often one of the extremes.
inline int32_t RandZeroPoint(std::mt19937& rng) {
  switch (RandInt(rng, 0, 3)) {
    case 0:
      return -128;
    case 1:
      return 127;
    default:
      return RandInt(rng, -128, 127);
  }
}

inline int8_t RandInt8(std::mt19937& rng) {
  return static_cast<int8_t>(RandInt(rng, -128, 127));
}

}  // namespace test
}  // namespace kiln

#endif  // KILN_TESTS_KERNELS_KERNEL_TEST_UTIL_H_
