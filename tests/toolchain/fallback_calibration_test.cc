#include "toolchain/train/fallback_calibration.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>

#include "toolchain/train/quantize_model.h"

namespace kiln {
namespace train {
namespace {

constexpr int32_t kClasses = 5;
constexpr float kScale = 0.1f;

// Synthetic int8 logits: the label is the top-1 for ~70% of the items and
// the runner-up for nearly all the rest; the gap to the others varies, so
// confidence tells good items from bad ones.
void Synthetic(uint32_t seed, size_t n, std::vector<int8_t>* logits,
               std::vector<int32_t>* labels) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> cls(0, kClasses - 1);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  logits->clear();
  labels->clear();
  for (size_t i = 0; i < n; ++i) {
    const int32_t label = cls(rng);
    int32_t other = cls(rng);
    if (other == label) other = (label + 1) % kClasses;
    std::vector<int> q(kClasses);
    for (int c = 0; c < kClasses; ++c) q[c] = -40 + int(u(rng) * 20);
    const int strength = 10 + int(u(rng) * 60);
    const float r = u(rng);
    if (r < 0.7f) {
      q[label] = strength;
      q[other] = strength - 5 - int(u(rng) * 30);
    } else if (r < 0.995f) {
      q[other] = strength;
      q[label] = strength - 1 - int(u(rng) * 10);
    }  // else: the label is buried
    for (int c = 0; c < kClasses; ++c) logits->push_back(int8_t(q[c]));
    labels->push_back(label);
  }
}

TEST(FallbackCalibration, CoverageCurveByHand) {
  const std::vector<int32_t> conf = {20, 10, 30, 20};
  const std::vector<uint8_t> hit = {1, 0, 1, 1};
  const std::vector<CurvePoint> c =
      CoverageCurve(conf, hit, ConfidenceKind::kTopKProb, 0.1f);
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].threshold, 10);
  EXPECT_DOUBLE_EQ(c[0].coverage, 1.0);
  EXPECT_DOUBLE_EQ(c[0].accuracy, 0.75);
  EXPECT_EQ(c[1].threshold, 20);
  EXPECT_DOUBLE_EQ(c[1].coverage, 0.75);
  EXPECT_DOUBLE_EQ(c[1].accuracy, 1.0);
  EXPECT_EQ(c[2].threshold, 30);
  EXPECT_DOUBLE_EQ(c[2].coverage, 0.25);
  EXPECT_EQ(c[3].threshold, 31);
  EXPECT_EQ(c[3].accepted, 0u);
  EXPECT_DOUBLE_EQ(c[1].threshold_real, 20.0 / 65536.0);
}

TEST(FallbackCalibration, ConfidencesAreTheRuntimes) {
  // Two classes, logits 0 and 0: probability 1/2 each, top-2 sums to 1.
  const std::vector<int8_t> logits = {0, 0, 10, 0};
  std::vector<int32_t> conf;
  std::vector<uint8_t> hit;
  std::string error;
  ASSERT_TRUE(RuntimeConfidences(logits.data(), 2, 2, 0.1f, 0, 1,
                                 ConfidenceKind::kTop1Prob, {1, 1}, &conf, &hit,
                                 &error))
      << error;
  EXPECT_EQ(conf[0], 32768);
  EXPECT_EQ(hit[0], 0);  // tie: class 0 first
  const double p = 1.0 / (1.0 + exp(-1.0));
  EXPECT_NEAR(conf[1] / 65536.0, p, 1e-4);
  EXPECT_EQ(hit[1], 0);
  ASSERT_TRUE(RuntimeConfidences(logits.data(), 2, 2, 0.1f, 0, 2,
                                 ConfidenceKind::kTopKProb, {1, 1}, &conf, &hit,
                                 &error))
      << error;
  EXPECT_EQ(conf[0], 65536);
  EXPECT_EQ(hit[0], 1);
}

TEST(FallbackCalibration, MeetsTargetMonotoneAndPicksLargerCoverage) {
  std::vector<int8_t> logits;
  std::vector<int32_t> labels;
  Synthetic(1, 3000, &logits, &labels);
  FallbackOptions o;
  o.target = 0.99;
  o.max_k = 3;
  HeadCalibration cal;
  std::string error;
  ASSERT_TRUE(CalibrateFallback(logits.data(), labels.size(), kClasses, kScale,
                                0, labels, o, &cal, &error))
      << error;
  ASSERT_EQ(cal.per_k.size(), 3u);
  EXPECT_TRUE(cal.target_met);
  EXPECT_GE(cal.accuracy, 0.99);
  EXPECT_GT(cal.coverage, 0.5);
  // Top-1 cannot reach 99% on much; top-2 can.
  EXPECT_GE(cal.policy.top_k, 2);
  for (const KCalibration& k : cal.per_k) {
    if (k.target_met) {
      EXPECT_LE(k.chosen.coverage, cal.coverage);
    }
    for (size_t i = 1; i < k.curve.size(); ++i) {
      EXPECT_GT(k.curve[i].threshold, k.curve[i - 1].threshold);
      EXPECT_LE(k.curve[i].coverage, k.curve[i - 1].coverage);
    }
  }
  EXPECT_GT(cal.coverage, cal.per_k[0].chosen.coverage);
  EXPECT_EQ(cal.threshold, lround(cal.policy.threshold_real * 65536.0));

  // The deployed decision layer, fed the same logits, accepts exactly the
  // fraction claimed with at least the target accuracy.
  ModelBuilder b;
  b.SetModelName("check");
  b.SetModelVersion("1.0.0");
  const TensorId in = b.AddInput("in", DType::kInt8, {kClasses}, kScale, 0);
  const TensorId out = b.Reshape(in, {kClasses}, "logits");
  b.AddOutput(out);
  b.AddHead("h", out, {}, cal.policy);
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(b.Build(&bytes, &error)) << error;
  KilnRunner runner;
  ASSERT_TRUE(runner.Load(bytes, 64, &error)) << error;
  EXPECT_EQ(runner.head_info(0).threshold, cal.threshold);
  std::vector<kiln_decision> d;
  ASSERT_TRUE(runner.Run(logits.data(), labels.size(), nullptr, &d, &error));
  size_t accepted = 0, hits = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (d[i].fallback) continue;
    ++accepted;
    for (int32_t j = 0; j < d[i].k; ++j) hits += d[i].class_id[j] == labels[i];
  }
  EXPECT_DOUBLE_EQ(double(accepted) / labels.size(), cal.coverage);
  EXPECT_GE(double(hits) / accepted, 0.99);
  // Lowering the threshold one step would accept more and miss the target
  // (otherwise the chosen threshold was not the best).
  const KCalibration& k = cal.per_k[cal.policy.top_k - 1];
  for (const CurvePoint& p : k.curve) {
    if (p.accepted > k.chosen.accepted) {
      EXPECT_LT(p.accuracy, 0.99);
    }
  }

  // SVG.
  char dir[] = "/tmp/kiln_fallback_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/curve.svg";
  ASSERT_TRUE(WriteCoverageSvg(path, k.curve, "head <h>", o.target,
                               cal.threshold, o.confidence, &error))
      << error;
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string svg = ss.str();
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  EXPECT_NE(svg.find("head &lt;h&gt;"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  remove(path.c_str());
  rmdir(dir);
}

TEST(FallbackCalibration, MarginThresholdRoundTrips) {
  std::vector<int8_t> logits;
  std::vector<int32_t> labels;
  Synthetic(2, 1000, &logits, &labels);
  FallbackOptions o;
  o.target = 0.95;
  o.max_k = 1;
  o.confidence = ConfidenceKind::kMargin;
  HeadCalibration cal;
  std::string error;
  ASSERT_TRUE(CalibrateFallback(logits.data(), labels.size(), kClasses, kScale,
                                0, labels, o, &cal, &error))
      << error;
  EXPECT_EQ(cal.policy.top_k, 1);
  EXPECT_TRUE(cal.target_met);
  EXPECT_GE(cal.accuracy, 0.95);
}

TEST(FallbackCalibration, ImpossibleTargetFallsBackOnEverything) {
  // Every item wrong: only "accept nothing" meets the target.
  const std::vector<int8_t> logits = {10, 0, 20, 0, 5, 0};
  const std::vector<int32_t> labels = {1, 1, 1};
  HeadCalibration cal;
  std::string error;
  FallbackOptions o;
  o.max_k = 1;
  ASSERT_TRUE(CalibrateFallback(logits.data(), 3, 2, kScale, 0, labels, o, &cal,
                                &error))
      << error;
  EXPECT_DOUBLE_EQ(cal.coverage, 0.0);
}

}  // namespace
}  // namespace train
}  // namespace kiln
