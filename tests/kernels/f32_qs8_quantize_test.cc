// The float32 -> int8 Quantize kernels of every runnable kernel path (the
// scalar twin, AVX2, AVX-512, NEON) against ref::QuantizeFromFloat: every
// output byte must match, on random sizes with tails, exact rounding ties,
// the values just below and above them, NaN, infinities, denormals, huge
// values, extreme zero points and scales, and a sweep over the whole float
// range.
#include <gtest/gtest.h>
#include <stdint.h>
#include <string.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/isa.h"
#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "tests/kernels/kernel_test_util.h"

namespace kiln {
namespace {

using test::RandInt;
using test::RandScale;
using test::RandZeroPoint;

struct Path {
  std::string name;
  QuantizeFloatKernel kernel;
};

// Runnable paths whose float Quantize is not the reference itself.
std::vector<Path> Paths() {
  std::vector<Path> paths;
  const uint32_t mask = SupportedIsaMask();
  for (int i = 0; i < static_cast<int>(Isa::kCount); ++i) {
    KernelTable t;
    if (((mask >> i) & 1) == 0) continue;
    if (!GetKernelTable(static_cast<Isa>(i), &t)) continue;
    if (t.quantize_float == ref::QuantizeFromFloat) continue;
    paths.push_back({IsaName(static_cast<Isa>(i)), t.quantize_float});
  }
  return paths;
}

float FromBits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof(f));
  return f;
}

// Runs every path on `x` and compares with the reference, with guard bytes
// after the output.
void ExpectAllPathsMatch(const std::vector<float>& x, float scale,
                         int32_t zero_point) {
  QuantizeFloatParams p;
  p.size = static_cast<int32_t>(x.size());
  p.scale = scale;
  p.output_zero_point = zero_point;
  std::vector<int8_t> expected(x.size());
  ref::QuantizeFromFloat(p, x.data(), expected.data());
  for (const Path& path : Paths()) {
    std::vector<int8_t> out(x.size() + 64, int8_t(0x5a));
    path.kernel(p, x.data(), out.data());
    for (size_t i = 0; i < 64; ++i) {
      ASSERT_EQ(out[x.size() + i], int8_t(0x5a))
          << path.name << " wrote past the output";
    }
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_EQ(out[i], expected[i])
          << path.name << " element " << i << " of " << x.size() << ": x "
          << x[i] << " scale " << scale << " zp " << zero_point;
    }
  }
}

// A value whose quotient by `scale` is interesting: a tie k + 0.5 (exact
// when the scale is a power of two), its neighbours, the saturation
// boundaries, or a special value.
float SpecialValue(std::mt19937& rng, float scale) {
  const float inf = std::numeric_limits<float>::infinity();
  switch (RandInt(rng, 0, 11)) {
    case 0:
      return (RandInt(rng, -300, 300) + 0.5f) * scale;
    case 1:
      return std::nextafter((RandInt(rng, -300, 300) + 0.5f) * scale, inf);
    case 2:
      return std::nextafter((RandInt(rng, -300, 300) + 0.5f) * scale, -inf);
    case 3:
      return (RandInt(rng, 0, 1) ? 0.49999997f : -0.49999997f) * scale;
    case 4:
      return static_cast<float>(RandInt(rng, -1100, 1100)) * scale;
    case 5:
      return RandInt(rng, 0, 1) ? inf : -inf;
    case 6:
      return std::numeric_limits<float>::quiet_NaN();
    case 7:
      return FromBits(static_cast<uint32_t>(RandInt(rng, 1, 0x7FFFFF)) |
                      (RandInt(rng, 0, 1) ? 0x80000000u : 0u));  // denormal
    case 8:
      return RandInt(rng, 0, 1) ? 3e38f : -3e38f;
    case 9:
      return RandInt(rng, 0, 1) ? 0.0f : -0.0f;
    case 10:
      return FromBits(0x7FC00000u | static_cast<uint32_t>(RandInt(rng, 1, 99)) |
                      (RandInt(rng, 0, 1) ? 0x80000000u : 0u));  // NaN payload
    default:
      return static_cast<float>(test::RandReal(rng, -200.0, 200.0)) * scale;
  }
}

TEST(F32Qs8QuantizeTest, RandomSizesTiesAndSpecialValues) {
  std::mt19937 rng(20240611);
  for (int iter = 0; iter < 3000; ++iter) {
    const int32_t n = iter < 200 ? iter + 1 : RandInt(rng, 1, 700);
    // Powers of two make k + 0.5 quotients exact ties; others are random,
    // including tiny and huge scales.
    const float scale =
        RandInt(rng, 0, 2) == 0
            ? std::ldexp(1.0f, RandInt(rng, -20, 10))
            : RandScale(rng, RandInt(rng, 0, 5) == 0 ? 1e-30 : 1e-4,
                        RandInt(rng, 0, 5) == 0 ? 1e30 : 10.0);
    const int32_t zero_point = RandZeroPoint(rng);
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = SpecialValue(rng, scale);
    ExpectAllPathsMatch(x, scale, zero_point);
  }
}

TEST(F32Qs8QuantizeTest, SweepOfTheWholeFloatRange) {
  // every 2039th bit pattern (NaNs, infinities, denormals and every
  // exponent) with a few scales and the extreme zero points.
  std::vector<float> x;
  for (uint64_t u = 0; u <= 0xFFFFFFFFull; u += 2039) {
    x.push_back(FromBits(static_cast<uint32_t>(u)));
  }
  const float scales[] = {1.0f, 0.034173112f, 1e-30f, 7.5e20f};
  const int32_t zero_points[] = {-128, -107, 0, 127};
  for (float scale : scales) {
    for (int32_t zero_point : zero_points) {
      ExpectAllPathsMatch(x, scale, zero_point);
    }
  }
}

TEST(F32Qs8QuantizeTest, EveryQuarterStepAroundZero) {
  // v = x / 1 over [-1100, 1100] in steps of 1/4: every tie and every
  // saturation boundary, each with its two float neighbours.
  std::vector<float> x;
  for (int32_t k = -4400; k <= 4400; ++k) {
    const float v = k * 0.25f;
    x.push_back(std::nextafter(v, -2000.0f));
    x.push_back(v);
    x.push_back(std::nextafter(v, 2000.0f));
  }
  for (int32_t zero_point = -128; zero_point <= 127; zero_point += 17) {
    ExpectAllPathsMatch(x, 1.0f, zero_point);
  }
  ExpectAllPathsMatch(x, 1.0f, 127);
}

}  // namespace
}  // namespace kiln
