// Tests of the normative requantization (kernels/requant.h).
#include "kernels/requant.h"

#include <gtest/gtest.h>
#include <stdint.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <random>

#include "tests/kernels/kernel_test_util.h"

namespace kiln {
namespace {

constexpr int32_t kTwo30 = int32_t(1) << 30;

// ---------------------------------------------------------------------------
// MultiplyByQuantizedMultiplier: hand-worked values.

TEST(MultiplyByQuantizedMultiplierTest, HalfRoundsTowardPlusInfinity) {
  // (2^30, 0) is the real multiplier 2^30 * 2^(0 - 31) = 0.5.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(5, kTwo30, 0), 3);    // 2.5 -> 3
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-5, kTwo30, 0), -2);  // -2.5 -> -2
  EXPECT_EQ(MultiplyByQuantizedMultiplier(3, kTwo30, 0), 2);    // 1.5 -> 2
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-3, kTwo30, 0), -1);  // -1.5 -> -1
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-1, kTwo30, 0), 0);   // -0.5 -> 0
  EXPECT_EQ(MultiplyByQuantizedMultiplier(1, kTwo30, 0), 1);    // 0.5 -> 1
  EXPECT_EQ(MultiplyByQuantizedMultiplier(4, kTwo30, 0), 2);    // exact
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-4, kTwo30, 0), -2);  // exact
  EXPECT_EQ(MultiplyByQuantizedMultiplier(0, kTwo30, 0), 0);
}

TEST(MultiplyByQuantizedMultiplierTest, NonHalfFractionsRoundToNearest) {
  // (3 * 2^29, -1): 3 * 2^29 * 2^(-1 - 31) = 3/4 * 2^-1 = 0.375.
  const int32_t m = 3 * (int32_t(1) << 29);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(1, m, -1), 0);     // 0.375
  EXPECT_EQ(MultiplyByQuantizedMultiplier(2, m, -1), 1);     // 0.75
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-2, m, -1), -1);   // -0.75
  EXPECT_EQ(MultiplyByQuantizedMultiplier(3, m, -1), 1);     // 1.125
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-3, m, -1), -1);   // -1.125
  EXPECT_EQ(MultiplyByQuantizedMultiplier(4, m, -1), 2);     // 1.5 -> 2
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-4, m, -1), -1);   // -1.5 -> -1
  EXPECT_EQ(MultiplyByQuantizedMultiplier(100, m, -1), 38);  // 37.5 -> 38
  // (2^30, 1) is exactly 1.0: identity.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(123456, kTwo30, 1), 123456);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(INT32_MIN, kTwo30, 1), INT32_MIN);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(INT32_MAX, kTwo30, 1), INT32_MAX);
}

TEST(MultiplyByQuantizedMultiplierTest, SingleRoundingNotDoubleRounding) {
  // A two-step (TFLite-style) scheme that first rounds the high 32 bits of
  // the product and then rounds the shift again can be off by one; the
  // single rounding of acc * m / 2^total must not be.
  // m = 2^31 - 1, shift -1: real = (2^31 - 1) / 2^32 = 0.5 - 2^-32.
  // acc = 3: 1.5 - 3 * 2^-32 -> just below 1.5 -> 1.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(3, INT32_MAX, -1), 1);
  // acc = -3: -1.5 + 3 * 2^-32 -> just above -1.5 -> -1.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-3, INT32_MAX, -1), -1);
  // acc = 2^20 + 1: 524288.5 - (2^20 + 1) * 2^-32, just below the half.
  EXPECT_EQ(MultiplyByQuantizedMultiplier((1 << 20) + 1, INT32_MAX, -1),
            524288);
}

TEST(MultiplyByQuantizedMultiplierTest, Saturation) {
  // Largest real multiplier: (2^31 - 1) * 2^(30 - 31) ~ 2^30.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(INT32_MAX, INT32_MAX, 30), INT32_MAX);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(INT32_MIN, INT32_MAX, 30), INT32_MIN);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(2, INT32_MAX, 30), INT32_MAX);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-3, INT32_MAX, 30), INT32_MIN);
  // 1 * (2^31 - 1) * 2^-1 = 1073741823.5 -> 1073741824 (no saturation).
  EXPECT_EQ(MultiplyByQuantizedMultiplier(1, INT32_MAX, 30), 1073741824);
  // -1 * ... = -1073741823.5 -> -1073741823.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-1, INT32_MAX, 30), -1073741823);
}

TEST(MultiplyByQuantizedMultiplierTest, ShiftExtremes) {
  // shift 30: total = 1, real = m / 2. With m = 2^30 the multiplier is 2^29.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(3, kTwo30, 30), 3 * (1 << 29));
  // 4 * 2^29 = 2^31 does not fit: saturates. -4 * 2^29 = -2^31 fits exactly.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(4, kTwo30, 30), INT32_MAX);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-4, kTwo30, 30), INT32_MIN);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-5, kTwo30, 30), INT32_MIN);
  // shift 30, m odd: 1 * (2^30 + 1) / 2 = 536870912.5 -> 536870913.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(1, kTwo30 + 1, 30), 536870913);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-1, kTwo30 + 1, 30), -536870912);

  // shift -31: total = 62, real = m * 2^-62 < 2^-31.
  // INT32_MAX * (2^31 - 1) = 2^62 - 2^32 + 1, over 2^62: 0.99999... -> 1.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(INT32_MAX, INT32_MAX, -31), 1);
  // INT32_MIN * (2^31 - 1) / 2^62 = -(1 - 2^-31) -> -1.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(INT32_MIN, INT32_MAX, -31), -1);
  // INT32_MIN * 2^30 / 2^62 = -0.5 exactly -> rounds up to 0.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(INT32_MIN, kTwo30, -31), 0);
  // INT32_MAX * 2^30 / 2^62 = 0.5 - 2^-32 -> 0.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(INT32_MAX, kTwo30, -31), 0);
  // INT32_MAX * (2^30 + 2) / 2^62 = 0.5 + (2^31 - 2^30 - 2) / 2^62: just
  // over one half -> 1.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(INT32_MAX, kTwo30 + 2, -31), 1);
}

TEST(MultiplyByQuantizedMultiplierTest, ZeroMultiplier) {
  // (0, 0) encodes an underflowed multiplier: everything maps to 0.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(INT32_MAX, 0, 0), 0);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(INT32_MIN, 0, 0), 0);
}

// Independent model: round half up of acc * m / 2^(31 - shift) computed as
// floor((2 * acc * m + 2^total) / 2^(total + 1)) with 128-bit integers and an
// explicit floor division, then saturated.
int32_t ReferenceMultiply(int32_t acc, int32_t m, int32_t shift) {
  const int total = 31 - shift;
  const __int128 num =
      static_cast<__int128>(acc) * m * 2 + (static_cast<__int128>(1) << total);
  const __int128 den = static_cast<__int128>(1) << (total + 1);
  __int128 q = num / den;  // truncates toward zero
  if (num % den != 0 && num < 0) --q;
  if (q > INT32_MAX) return INT32_MAX;
  if (q < INT32_MIN) return INT32_MIN;
  return static_cast<int32_t>(q);
}

int32_t RandomAcc(std::mt19937& rng) {
  switch (test::RandInt(rng, 0, 3)) {
    case 0:
      return test::RandInt(rng, -1000, 1000);
    case 1:
      return test::RandInt(rng, -(1 << 20), 1 << 20);
    case 2: {
      const int32_t edge[] = {INT32_MIN, INT32_MIN + 1, -1,       0,
                              1,         INT32_MAX - 1, INT32_MAX};
      return edge[test::RandInt(rng, 0, 6)];
    }
    default:
      return test::RandInt(rng, INT32_MIN, INT32_MAX);
  }
}

TEST(MultiplyByQuantizedMultiplierTest, MatchesInt128BruteForce) {
  std::mt19937 rng(12345);
  for (int i = 0; i < 2000000; ++i) {
    const int32_t acc = RandomAcc(rng);
    int32_t m = test::RandInt(rng, kTwo30, INT32_MAX);
    if (test::RandInt(rng, 0, 50) == 0) m = 0;
    if (test::RandInt(rng, 0, 50) == 0) m = kTwo30;
    if (test::RandInt(rng, 0, 50) == 0) m = INT32_MAX;
    const int32_t shift = test::RandInt(rng, kMinShift, kMaxShift);
    const int32_t expected = ReferenceMultiply(acc, m, shift);
    const int32_t got = MultiplyByQuantizedMultiplier(acc, m, shift);
    if (got != expected) {
      FAIL() << "acc=" << acc << " m=" << m << " shift=" << shift
             << " got=" << got << " expected=" << expected;
    }
  }
}

TEST(MultiplyByQuantizedMultiplierTest, MatchesInt128AllShiftsSmallAcc) {
  // Every shift, every acc in a small window, a few multipliers: catches any
  // off-by-one in the rounding term at each shift.
  const int32_t multipliers[] = {kTwo30, kTwo30 + 1, 1518500250, INT32_MAX};
  for (int32_t shift = kMinShift; shift <= kMaxShift; ++shift) {
    for (int32_t m : multipliers) {
      for (int32_t acc = -300; acc <= 300; ++acc) {
        ASSERT_EQ(MultiplyByQuantizedMultiplier(acc, m, shift),
                  ReferenceMultiply(acc, m, shift))
            << "acc=" << acc << " m=" << m << " shift=" << shift;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Requantize.

TEST(RequantizeTest, OffsetAndClamp) {
  // 0.5 * 5 = 2.5 -> 3, plus zero point -10 = -7.
  EXPECT_EQ(Requantize(5, kTwo30, 0, -10, -128, 127), -7);
  // Clamped at act_min -5.
  EXPECT_EQ(Requantize(5, kTwo30, 0, -10, -5, 127), -5);
  // 0.5 * -5 = -2.5 -> -2, plus 3 = 1.
  EXPECT_EQ(Requantize(-5, kTwo30, 0, 3, -128, 127), 1);
  // 0.5 * 300 = 150 -> clamp 127; 0.5 * -300 + 0 = -150 -> -128.
  EXPECT_EQ(Requantize(300, kTwo30, 0, 0, -128, 127), 127);
  EXPECT_EQ(Requantize(-300, kTwo30, 0, 0, -128, 127), -128);
  // ReLU6-style clamp [zp, zp + 6 / scale]: 20 * 0.5 = 10 + 2 = 12 -> 8.
  EXPECT_EQ(Requantize(20, kTwo30, 0, 2, 2, 8), 8);
  EXPECT_EQ(Requantize(-20, kTwo30, 0, 2, 2, 8), 2);
}

TEST(RequantizeTest, SaturatedProductPlusZeroPointDoesNotOverflow) {
  // The product saturates at INT32_MAX; adding zero point 127 must not wrap.
  EXPECT_EQ(Requantize(INT32_MAX, INT32_MAX, 30, 127, -128, 127), 127);
  EXPECT_EQ(Requantize(INT32_MIN, INT32_MAX, 30, -128, -128, 127), -128);
  // Wide clamp: the sum is formed in 64 bits and clamped, not wrapped.
  EXPECT_EQ(Requantize(INT32_MAX, INT32_MAX, 30, 127, INT32_MIN, INT32_MAX),
            INT32_MAX);
  EXPECT_EQ(Requantize(INT32_MIN, INT32_MAX, 30, -128, INT32_MIN, INT32_MAX),
            INT32_MIN);
}

TEST(RequantizeTest, MatchesInt128BruteForce) {
  std::mt19937 rng(777);
  for (int i = 0; i < 500000; ++i) {
    const int32_t acc = RandomAcc(rng);
    const int32_t m = test::RandInt(rng, kTwo30, INT32_MAX);
    const int32_t shift = test::RandInt(rng, kMinShift, kMaxShift);
    const int32_t zp = test::RandZeroPoint(rng);
    int32_t lo = test::RandInt(rng, -128, 127);
    int32_t hi = test::RandInt(rng, -128, 127);
    if (lo > hi) std::swap(lo, hi);
    int64_t expected = int64_t(ReferenceMultiply(acc, m, shift)) + zp;
    expected = std::min<int64_t>(hi, std::max<int64_t>(lo, expected));
    const int32_t got = Requantize(acc, m, shift, zp, lo, hi);
    if (got != expected) {
      FAIL() << "acc=" << acc << " m=" << m << " shift=" << shift
             << " zp=" << zp << " got=" << got << " expected=" << expected;
    }
  }
}

// ---------------------------------------------------------------------------
// DivideRoundHalfAway.

TEST(DivideRoundHalfAwayTest, HandValues) {
  EXPECT_EQ(DivideRoundHalfAway(5, 2), 3);    // 2.5
  EXPECT_EQ(DivideRoundHalfAway(-5, 2), -3);  // -2.5
  EXPECT_EQ(DivideRoundHalfAway(3, 2), 2);    // 1.5
  EXPECT_EQ(DivideRoundHalfAway(-3, 2), -2);  // -1.5
  EXPECT_EQ(DivideRoundHalfAway(7, 3), 2);    // 2.33
  EXPECT_EQ(DivideRoundHalfAway(-7, 3), -2);
  EXPECT_EQ(DivideRoundHalfAway(8, 3), 3);  // 2.67
  EXPECT_EQ(DivideRoundHalfAway(-8, 3), -3);
  EXPECT_EQ(DivideRoundHalfAway(1, 4), 0);  // 0.25
  EXPECT_EQ(DivideRoundHalfAway(-1, 4), 0);
  EXPECT_EQ(DivideRoundHalfAway(2, 4), 1);  // 0.5
  EXPECT_EQ(DivideRoundHalfAway(-2, 4), -1);
  EXPECT_EQ(DivideRoundHalfAway(0, 9), 0);
  EXPECT_EQ(DivideRoundHalfAway(-128 * 9, 9), -128);
  EXPECT_EQ(DivideRoundHalfAway(127, 1), 127);
  // Odd divisor, no exact halves: 4/9 = 0.44 -> 0, 5/9 = 0.56 -> 1.
  EXPECT_EQ(DivideRoundHalfAway(4, 9), 0);
  EXPECT_EQ(DivideRoundHalfAway(5, 9), 1);
  EXPECT_EQ(DivideRoundHalfAway(-5, 9), -1);
}

TEST(DivideRoundHalfAwayTest, MatchesDoubleRound) {
  for (int32_t d = 1; d <= 64; ++d) {
    for (int32_t n = -128 * 64; n <= 127 * 64; ++n) {
      ASSERT_EQ(DivideRoundHalfAway(n, d),
                static_cast<int32_t>(std::round(double(n) / d)))
          << n << " / " << d;
    }
  }
}

// ---------------------------------------------------------------------------
// QuantizeMultiplier.

struct QM {
  MultiplierStatus status;
  int32_t multiplier;
  int32_t shift;
};

QM Quantize(double real) {
  QM r;
  r.multiplier = 12345;  // must be overwritten on every path
  r.shift = 7;
  r.status = QuantizeMultiplier(real, &r.multiplier, &r.shift);
  return r;
}

void ExpectOk(double real, int32_t multiplier, int32_t shift) {
  const QM r = Quantize(real);
  EXPECT_EQ(r.status, MultiplierStatus::kOk) << real;
  EXPECT_EQ(r.multiplier, multiplier) << real;
  EXPECT_EQ(r.shift, shift) << real;
}

TEST(QuantizeMultiplierTest, Zero) {
  ExpectOk(0.0, 0, 0);
  ExpectOk(-0.0, 0, 0);  // -0.0 >= 0: treated as zero
}

TEST(QuantizeMultiplierTest, PowersOfTwoAndSimpleValues) {
  ExpectOk(0.5, kTwo30, 0);
  ExpectOk(1.0, kTwo30, 1);  // 0.5 * 2^1
  ExpectOk(2.0, kTwo30, 2);
  ExpectOk(0.25, kTwo30, -1);
  ExpectOk(0.75, 3 * (1 << 29), 0);
  // 0.1 = 0.8 * 2^-3; 0.8 * 2^31 = 1717986918.4 -> 1717986918.
  ExpectOk(0.1, 1717986918, -3);
  // 1/3 = (2/3) * 2^-1; 2/3 * 2^31 = 1431655765.33 -> 1431655765.
  ExpectOk(1.0 / 3.0, 1431655765, -1);
}

TEST(QuantizeMultiplierTest, RoundsHalfAwayFromZero) {
  // q = 0.5 + 2^-32: q * 2^31 = 2^30 + 0.5 -> 2^30 + 1.
  ExpectOk(0.5 + std::ldexp(1.0, -32), kTwo30 + 1, 0);
  // q = 0.5 + 2^-33: q * 2^31 = 2^30 + 0.25 -> 2^30.
  ExpectOk(0.5 + std::ldexp(1.0, -33), kTwo30, 0);
  // q = 0.5 + 3 * 2^-33: 2^30 + 0.75 -> 2^30 + 1.
  ExpectOk(0.5 + 3 * std::ldexp(1.0, -33), kTwo30 + 1, 0);
}

TEST(QuantizeMultiplierTest, RoundingUpToTwoPow31Renormalizes) {
  // q = 1 - 2^-32: q * 2^31 = 2^31 - 0.5 -> 2^31 -> (2^30, e + 1).
  ExpectOk(1.0 - std::ldexp(1.0, -32), kTwo30, 1);
  // q = 1 - 2^-33: 2^31 - 0.25 -> 2^31 -> renormalized as well.
  ExpectOk(1.0 - std::ldexp(1.0, -33), kTwo30, 1);
  // q = 1 - 2^-31: 2^31 - 1 exactly, no rounding: stays (2^31 - 1, 0).
  ExpectOk(1.0 - std::ldexp(1.0, -31), INT32_MAX, 0);
  // Same at another exponent: (1 - 2^-32) * 2^-5 -> (2^30, -4).
  ExpectOk(std::ldexp(1.0 - std::ldexp(1.0, -32), -5), kTwo30, -4);
}

TEST(QuantizeMultiplierTest, UnderflowBoundary) {
  // 2^-32 = 0.5 * 2^-31: the smallest representable, (2^30, -31).
  ExpectOk(std::ldexp(1.0, -32), kTwo30, -31);
  // Just below 2^-32 but rounding up into range: (1 - 2^-33) * 2^-32 has
  // e = -32 before rounding, m rounds to 2^31 -> (2^30, -31).
  ExpectOk(std::ldexp(1.0 - std::ldexp(1.0, -33), -32), kTwo30, -31);
  // (1 - 2^-30) * 2^-32 = q * 2^-32 with q * 2^31 = 2^31 - 2: e = -32 < -31
  // -> underflow (0, 0).
  ExpectOk(std::ldexp(1.0 - std::ldexp(1.0, -30), -32), 0, 0);
  // 2^-33 -> e = -32 -> (0, 0).
  ExpectOk(std::ldexp(1.0, -33), 0, 0);
  ExpectOk(1e-20, 0, 0);
}

TEST(QuantizeMultiplierTest, Denormals) {
  const double min_denormal = std::numeric_limits<double>::denorm_min();
  ASSERT_GT(min_denormal, 0.0);
  ExpectOk(min_denormal, 0, 0);
  ExpectOk(DBL_MIN / 2, 0, 0);  // a larger denormal
  ExpectOk(DBL_MIN, 0, 0);      // smallest normal
  // Denormal float scales widen to (normal) doubles; still underflow.
  ExpectOk(double(std::numeric_limits<float>::denorm_min()), 0, 0);
}

TEST(QuantizeMultiplierTest, TooLarge) {
  // Largest representable: (2^31 - 1) * 2^-1 with shift 30 -> real
  // (2^31 - 1) * 2^(30 - 31) = 2^30 - 0.5.
  ExpectOk(std::ldexp(1.0, 30) - 0.5, INT32_MAX, 30);
  ExpectOk(std::ldexp(1.0, 29), kTwo30, 30);
  // 2^30 = 0.5 * 2^31: e = 31 > 30.
  QM r = Quantize(std::ldexp(1.0, 30));
  EXPECT_EQ(r.status, MultiplierStatus::kTooLarge);
  EXPECT_EQ(r.multiplier, 0);
  EXPECT_EQ(r.shift, 0);
  // Just below 2^30 but rounding up to 2^31 pushes e to 31.
  r = Quantize(std::ldexp(1.0 - std::ldexp(1.0, -40), 30));
  EXPECT_EQ(r.status, MultiplierStatus::kTooLarge);
  r = Quantize(1e300);
  EXPECT_EQ(r.status, MultiplierStatus::kTooLarge);
  r = Quantize(DBL_MAX);
  EXPECT_EQ(r.status, MultiplierStatus::kTooLarge);
}

TEST(QuantizeMultiplierTest, RejectsNegativeNanInf) {
  const double bad[] = {-1.0,
                        -1e-300,
                        -std::numeric_limits<double>::denorm_min(),
                        std::numeric_limits<double>::quiet_NaN(),
                        -std::numeric_limits<double>::quiet_NaN(),
                        std::numeric_limits<double>::infinity(),
                        -std::numeric_limits<double>::infinity()};
  for (double v : bad) {
    const QM r = Quantize(v);
    EXPECT_EQ(r.status, MultiplierStatus::kNegativeOrNotFinite) << v;
    EXPECT_EQ(r.multiplier, 0) << v;
    EXPECT_EQ(r.shift, 0) << v;
  }
}

TEST(QuantizeMultiplierTest, RandomValuesAreNormalizedAndAccurate) {
  std::mt19937 rng(99);
  for (int i = 0; i < 200000; ++i) {
    // Log-uniform over the representable range [2^-32, 2^30).
    const double real =
        std::ldexp(test::RandReal(rng, 0.5, 1.0), test::RandInt(rng, -31, 30));
    const QM r = Quantize(real);
    ASSERT_EQ(r.status, MultiplierStatus::kOk) << real;
    ASSERT_GE(r.multiplier, kTwo30) << real;
    ASSERT_GE(r.shift, kMinShift) << real;
    ASSERT_LE(r.shift, kMaxShift) << real;
    // m * 2^(shift - 31) is exact in double; it is the nearest multiple of
    // 2^(shift - 31) to real, so the error is at most half of that step.
    const double step = std::ldexp(1.0, r.shift - 31);
    const double represented = r.multiplier * step;
    ASSERT_LE(std::fabs(represented - real), step / 2) << real;
  }
}

// ---------------------------------------------------------------------------
// Real-multiplier formulas.

TEST(RealMultiplierTest, Formulas) {
  EXPECT_DOUBLE_EQ(ConvRealMultiplier(0.5f, 0.25f, 2.0f), 0.0625);
  EXPECT_DOUBLE_EQ(RescaleRealMultiplier(0.5f, 0.125f), 4.0);
  EXPECT_DOUBLE_EQ(GlobalAveragePoolRealMultiplier(0.5f, 0.25f, 2, 4), 0.25);
  const AddRealMultipliers add =
      ComputeAddRealMultipliers(0.5f, 0.25f, 1.0f, kAddLeftShift);
  EXPECT_DOUBLE_EQ(add.input1, 0.5);
  EXPECT_DOUBLE_EQ(add.input2, 0.25);
  EXPECT_DOUBLE_EQ(add.output, std::ldexp(1.0, -20));
  // The larger input always gets 0.5, so |a| <= |x - zp| * 2^19.
  const AddRealMultipliers add2 =
      ComputeAddRealMultipliers(0.1f, 0.3f, 0.2f, kAddLeftShift);
  EXPECT_DOUBLE_EQ(add2.input2, 0.5);
  EXPECT_LT(add2.input1, 0.5);
}

}  // namespace
}  // namespace kiln
