#include "toolchain/train/range_calibration.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace kiln {
namespace train {
namespace {

CalibrationParams Method(CalibrationMethod method) {
  CalibrationParams p;
  p.method = method;
  return p;
}

// Feeds `values` in uneven chunks (the observer must not depend on them).
Range Reduce(const std::vector<float>& values, const CalibrationParams& p) {
  std::vector<ValueSpan> parts;
  for (size_t s = 0, step = 1; s < values.size(); s += step, step = step * 3) {
    parts.push_back({values.data() + s, std::min(step, values.size() - s)});
  }
  Range r;
  std::string error;
  EXPECT_TRUE(ReduceRange(parts, p, &r, &error)) << error;
  return r;
}

double FractionInside(const std::vector<float>& v, const Range& r) {
  size_t in = 0;
  for (float x : v) in += x >= r.min && x <= r.max;
  return static_cast<double>(in) / v.size();
}

std::vector<float> Gaussian(size_t n, uint32_t seed, float mean = 0.0f,
                            float stddev = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(mean, stddev);
  std::vector<float> v(n);
  for (float& x : v) x = g(rng);
  return v;
}

TEST(RangeCalibrationTest, MinMaxIsExact) {
  std::vector<float> v = Gaussian(10000, 1, 0.3f, 2.0f);
  v[1234] = -70.25f;
  v[4321] = 90.5f;
  Range r = Reduce(v, Method(CalibrationMethod::kMinMax));
  EXPECT_EQ(r.min, -70.25f);
  EXPECT_EQ(r.max, 90.5f);
  // Observe() directly, one value at a time: the same.
  RangeObserver obs(Method(CalibrationMethod::kMinMax));
  for (float x : v) obs.Observe(&x, 1);
  EXPECT_FALSE(obs.NeedsSecondPass());
  std::string error;
  ASSERT_TRUE(obs.Reduce(&r, &error)) << error;
  EXPECT_EQ(r.min, -70.25f);
  EXPECT_EQ(r.max, 90.5f);
  EXPECT_EQ(obs.count(), v.size());
}

TEST(RangeCalibrationTest, PercentileMatchesSortedArray) {
  for (double pct : {99.0, 99.9, 99.99, 75.0}) {
    for (size_t n : {1u, 2u, 7u, 1000u, 12345u}) {
      SCOPED_TRACE(std::to_string(pct) + " n=" + std::to_string(n));
      std::vector<float> v = Gaussian(n, static_cast<uint32_t>(n));
      CalibrationParams p = Method(CalibrationMethod::kPercentile);
      p.percentile = pct;
      Range r = Reduce(v, p);
      std::vector<float> sorted = v;
      std::sort(sorted.begin(), sorted.end());
      // Ranks (1-based) as torch::kthvalue took them before.
      const double q = pct / 100.0;
      long hi = static_cast<long>(std::ceil(q * n));
      long lo = static_cast<long>(std::floor((1 - q) * n)) + 1;
      hi = std::min<long>(static_cast<long>(n), std::max(1L, hi));
      lo = std::min<long>(static_cast<long>(n), std::max(1L, lo));
      EXPECT_EQ(r.min, sorted[static_cast<size_t>(lo - 1)]);
      EXPECT_EQ(r.max, sorted[static_cast<size_t>(hi - 1)]);
    }
  }
  // 99% of 1000 values: the 11th smallest and the 990th.
  std::vector<float> v(1000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(999 - i);
  CalibrationParams p = Method(CalibrationMethod::kPercentile);
  p.percentile = 99.0;
  Range r = Reduce(v, p);
  EXPECT_EQ(r.min, 10.0f);
  EXPECT_EQ(r.max, 989.0f);
  // 100 is minmax.
  p.percentile = 100.0;
  r = Reduce(v, p);
  EXPECT_EQ(r.min, 0.0f);
  EXPECT_EQ(r.max, 999.0f);
}

TEST(RangeCalibrationTest, KlClipsOutliersOfSignedGaussian) {
  std::vector<float> v = Gaussian(200000, 7);
  for (int i = 0; i < 5; ++i) v.push_back(60.0f + i);
  for (int i = 0; i < 3; ++i) v.push_back(-40.0f - i);
  Range r = Reduce(v, Method(CalibrationMethod::kKl));
  EXPECT_LT(r.max, 20.0f);  // far inside the outliers
  EXPECT_GT(r.min, -20.0f);
  EXPECT_GT(r.max, 3.0f);  // but not the bulk
  EXPECT_LT(r.min, -3.0f);
  EXPECT_GT(FractionInside(v, r), 0.99);
  // The search lowered the divergence below the min/max clip's.
  EXPECT_LT(r.max - r.min, 0.25f * (64.0f + 42.0f));
}

TEST(RangeCalibrationTest, KlClipsOutliersOfReluOutputsAtTheMaxOnly) {
  std::vector<float> v = Gaussian(200000, 8);
  for (float& x : v) x = std::max(0.0f, x);  // half the mass at exactly 0
  for (int i = 0; i < 4; ++i) v.push_back(50.0f);
  Range r = Reduce(v, Method(CalibrationMethod::kKl));
  EXPECT_EQ(r.min, 0.0f);
  EXPECT_LT(r.max, 15.0f);
  EXPECT_GT(r.max, 3.0f);
  EXPECT_GT(FractionInside(v, r), 0.999);
}

TEST(RangeCalibrationTest, KlIgnoresExactZeros) {
  // A ReLU output: the positive half of a Gaussian plus a spike of exact
  // zeros. Zero is a level of every grid, so the zeros must not move the
  // clip: the same range with or without them (binned, Q would spread the
  // spike over level 0's bins and push the clip in to ~2.8 sigma).
  std::vector<float> positive = Gaussian(100000, 12);
  for (float& x : positive) x = std::fabs(x);
  std::vector<float> relu = positive;
  relu.insert(relu.end(), 150000, 0.0f);
  const CalibrationParams p = Method(CalibrationMethod::kKl);
  const Range with = Reduce(relu, p), without = Reduce(positive, p);
  EXPECT_EQ(with.max, without.max);
  EXPECT_EQ(with.min, 0.0f);
  EXPECT_GT(with.max, 3.2f);
  EXPECT_GT(FractionInside(positive, with), 0.999);
}

TEST(RangeCalibrationTest, KlKeepsTheRangeOfUniformData) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0.0f, 5.0f);
  std::vector<float> v(200000);
  for (float& x : v) x = u(rng);
  const float max = *std::max_element(v.begin(), v.end());
  Range r = Reduce(v, Method(CalibrationMethod::kKl));
  EXPECT_GE(r.max, 0.98f * max);
  EXPECT_LE(r.max, max);
  EXPECT_GE(r.min, 0.0f);

  std::uniform_real_distribution<float> s(-2.0f, 3.0f);
  for (float& x : v) x = s(rng);
  const auto mm = std::minmax_element(v.begin(), v.end());
  r = Reduce(v, Method(CalibrationMethod::kKl));
  EXPECT_GE(r.max, 0.98f * *mm.second);
  EXPECT_LE(r.min, 0.98f * *mm.first);
  EXPECT_GE(r.min, *mm.first);
}

TEST(RangeCalibrationTest, DegenerateInputs) {
  for (CalibrationMethod m :
       {CalibrationMethod::kMinMax, CalibrationMethod::kPercentile,
        CalibrationMethod::kKl}) {
    SCOPED_TRACE(static_cast<int>(m));
    CalibrationParams p = Method(m);
    p.percentile = 99.0;
    Range r = Reduce({}, p);
    EXPECT_EQ(r.min, 0.0f);
    EXPECT_EQ(r.max, 0.0f);
    r = Reduce(std::vector<float>(1000, 0.0f), p);
    EXPECT_EQ(r.min, 0.0f);
    EXPECT_EQ(r.max, 0.0f);
    r = Reduce(std::vector<float>(777, 3.5f), p);
    EXPECT_EQ(r.min, 3.5f);
    EXPECT_EQ(r.max, 3.5f);
    r = Reduce({-2.0f}, p);
    EXPECT_EQ(r.min, -2.0f);
    EXPECT_EQ(r.max, -2.0f);
    // Two values: a range that includes both, or a clip inside them.
    r = Reduce({-1.0f, 4.0f}, p);
    EXPECT_LE(r.min, r.max);
    EXPECT_GE(r.min, -1.0f);
    EXPECT_LE(r.max, 4.0f);
    // All-negative values: the clip stays on the negative side.
    std::vector<float> neg = Gaussian(5000, 4, -10.0f, 1.0f);
    r = Reduce(neg, p);
    EXPECT_LE(r.min, r.max);
    EXPECT_LT(r.max, 0.0f);
    EXPECT_GT(FractionInside(neg, r), 0.97);
    // Values far from 0 (the quantizer's range reaches down to 0 anyway):
    // the clip must not cut into them.
    std::vector<float> far = Gaussian(5000, 5, 100.0f, 0.5f);
    r = Reduce(far, p);
    EXPECT_GT(FractionInside(far, r), 0.97);
    // Non-finite values are an error, never a range.
    std::vector<float> bad = {1.0f, NAN, 2.0f, INFINITY};
    RangeObserver obs(p);
    obs.Observe(bad.data(), bad.size());
    EXPECT_FALSE(obs.NeedsSecondPass());
    std::string error;
    EXPECT_FALSE(obs.Reduce(&r, &error));
    EXPECT_NE(error.find("2 of 4 calibration values are not finite"),
              std::string::npos)
        << error;
  }
}

TEST(RangeCalibrationTest, KlPassesMustSeeTheSameValues) {
  std::vector<float> v = Gaussian(1000, 5);
  RangeObserver obs(Method(CalibrationMethod::kKl));
  obs.Observe(v.data(), v.size());
  ASSERT_TRUE(obs.NeedsSecondPass());
  obs.ObserveAgain(v.data(), v.size() - 1);
  Range r;
  std::string error;
  EXPECT_FALSE(obs.Reduce(&r, &error));
  EXPECT_NE(error.find("second pass saw 999 values"), std::string::npos)
      << error;
  // No second pass at all.
  RangeObserver once(Method(CalibrationMethod::kKl));
  once.Observe(v.data(), v.size());
  EXPECT_FALSE(once.Reduce(&r, &error));
  // A value outside the first pass's range.
  RangeObserver other(Method(CalibrationMethod::kKl));
  other.Observe(v.data(), v.size());
  std::vector<float> w = v;
  w[0] = 100.0f;
  other.ObserveAgain(w.data(), w.size());
  EXPECT_FALSE(other.Reduce(&r, &error));
  EXPECT_NE(error.find("1 outside"), std::string::npos) << error;
}

TEST(RangeCalibrationTest, KlRespectsTheBinCount) {
  std::vector<float> v = Gaussian(100000, 9);
  for (float& x : v) x = std::fabs(x);
  v.push_back(40.0f);  // the histogram spans [0, 40]
  for (int32_t bins : {512, 2048, 8192}) {
    SCOPED_TRACE(bins);
    CalibrationParams p = Method(CalibrationMethod::kKl);
    p.bins = bins;
    Range r = Reduce(v, p);
    EXPECT_EQ(r.min, *std::min_element(v.begin(), v.end()));
    // The clip is a whole number of bins of width 40 / bins, at least 256.
    const double width = 40.0 / bins;
    const double whole = r.max / width;
    EXPECT_NEAR(whole, std::round(whole), 1e-3);
    EXPECT_GE(std::round(whole), 256.0);
    EXPECT_LT(r.max, 40.0f);
    EXPECT_GT(FractionInside(v, r), 0.999);
  }
  // Fewer bins than levels: nothing to search, the observed range.
  CalibrationParams p = Method(CalibrationMethod::kKl);
  p.bins = 128;
  Range r = Reduce(v, p);
  EXPECT_EQ(r.min, *std::min_element(v.begin(), v.end()));
  EXPECT_EQ(r.max, 40.0f);
}

TEST(RangeCalibrationTest, KlDivergenceOfClipBasics) {
  // A histogram with 512 bins of equal counts: the full clip quantizes two
  // bins per level, which loses nothing for flat counts, so its divergence
  // is ~0; clipping half the bins costs a lot.
  std::vector<double> h(512, 10.0);
  EXPECT_NEAR(KlDivergenceOfClip(h, 0, 0, 512), 0.0, 1e-9);
  EXPECT_GT(KlDivergenceOfClip(h, 0, 0, 256), 0.5);
  EXPECT_TRUE(std::isinf(KlDivergenceOfClip(h, 0, 0, 513)));
  EXPECT_TRUE(std::isinf(KlDivergenceOfClip(h, 0, 1, 10)));
  // All the mass outside the clip: infinite.
  std::vector<double> tail(600, 0.0);
  tail[599] = 5;
  EXPECT_TRUE(std::isinf(KlDivergenceOfClip(tail, 0, 0, 300)));
  Range r = KlClipRange(tail, 0, 0.5);
  EXPECT_EQ(r.min, 0.0f);
  EXPECT_EQ(r.max, 300.0f);
  // Signed: zero_bin in the middle, a lopsided histogram.
  // A bell over bins [400, 700) (values [-112, 188)) and one value at each
  // end: the clip drops the lone values and keeps the bell.
  std::vector<double> s(1024, 0.0);
  for (int i = 400; i < 700; ++i) {
    const double z = (i - 550) / 40.0;
    s[static_cast<size_t>(i)] = std::round(1e4 * std::exp(-0.5 * z * z));
  }
  s[0] = 1;
  s[1023] = 1;
  r = KlClipRange(s, 512, 1.0);
  EXPECT_LT(r.min, -30.0f);
  EXPECT_GT(r.max, 130.0f);
  EXPECT_GT(r.min, -512.0f);
  EXPECT_LT(r.max, 511.0f);
}

}  // namespace
}  // namespace train
}  // namespace kiln
