// The decision layer: top-k order and ties, integer confidences against their
// real-valued definitions, thresholds and the fallback flag. The model is an
// identity (Reshape) so each test sets the logits directly.
#include <gtest/gtest.h>
#include <math.h>

#include <algorithm>
#include <random>

#include "tests/runtime/runtime_test_util.h"
#include "toolchain/model_builder.h"

namespace kiln {
namespace {

using testing::LoadedModel;

// int8 logits [classes] with `scale` -> identity -> head with `policy`.
std::vector<uint8_t> LogitModel(int32_t classes, float scale,
                                const DecisionPolicy& policy) {
  ModelBuilder b;
  const TensorId x = b.AddInput("logits_in", DType::kInt8, {classes}, scale, 0);
  const TensorId y = b.Reshape(x, {classes}, "logits");
  b.AddOutput(y);
  b.AddHead("head", y, {}, policy);
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_TRUE(b.Build(&bytes, &error)) << error;
  return bytes;
}

std::vector<kiln_decision> Decide(
    LoadedModel* m, const std::vector<std::vector<int8_t>>& rows) {
  std::vector<int8_t> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  std::vector<kiln_decision> d(rows.size());
  const void* inputs[] = {flat.data()};
  EXPECT_EQ(kiln_invoke(m->ctx, rows.size(), inputs, nullptr, d.data()),
            KILN_OK);
  return d;
}

// Softmax probability (summed over `ids`) of real logits scale * q.
double Probability(const std::vector<int8_t>& q, float scale,
                   const std::vector<int>& ids) {
  double max = -1e9, sum = 0, top = 0;
  for (int8_t v : q) max = std::max(max, double(v));
  for (int8_t v : q) sum += exp(double(scale) * (v - max));
  for (int id : ids) top += exp(double(scale) * (q[id] - max));
  return top / sum;
}

TEST(Decision, TopKOrderBreaksTiesByLowerId) {
  LoadedModel m(LogitModel(6, 0.1f, {4, ConfidenceKind::kTop1Prob, 0.0f}), 4);
  ASSERT_EQ(m.status, KILN_OK) << m.message();
  const auto d =
      Decide(&m, {{5, 9, 9, -3, 9, 0}, {-128, -128, -128, -128, -128, -128}});
  ASSERT_EQ(d[0].k, 4);
  const int32_t ids[4] = {1, 2, 4, 0}, scores[4] = {9, 9, 9, 5};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(d[0].class_id[i], ids[i]);
    EXPECT_EQ(d[0].score[i], scores[i]);
  }
  for (int i = 4; i < KILN_MAX_TOP_K; ++i) EXPECT_EQ(d[0].class_id[i], -1);
  // All equal: ids in order, probability 1/6.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(d[1].class_id[i], i);
  EXPECT_EQ(d[1].confidence, (65536 + 3) / 6);
  EXPECT_EQ(d[0].fallback, 0);  // threshold 0 never falls back
}

TEST(Decision, ProbabilitiesMatchSoftmaxOfDequantizedLogits) {
  const float scale = 0.07f;
  LoadedModel top1(LogitModel(10, scale, {3, ConfidenceKind::kTop1Prob, 0.5f}),
                   8);
  LoadedModel topk(LogitModel(10, scale, {3, ConfidenceKind::kTopKProb, 0.5f}),
                   8);
  ASSERT_EQ(top1.status, KILN_OK) << top1.message();
  ASSERT_EQ(topk.status, KILN_OK) << topk.message();
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> dist(-128, 127);
  std::vector<std::vector<int8_t>> rows(300, std::vector<int8_t>(10));
  for (auto& r : rows) {
    for (auto& v : r) v = static_cast<int8_t>(dist(rng));
  }
  const auto d1 = Decide(&top1, rows);
  const auto dk = Decide(&topk, rows);
  int fallbacks = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::vector<int> ids = {d1[i].class_id[0], d1[i].class_id[1],
                                  d1[i].class_id[2]};
    // Table entries are rounded to 2^-24; the Q16 result is within 1 unit.
    EXPECT_NEAR(d1[i].confidence,
                65536.0 * Probability(rows[i], scale, {ids[0]}), 1.0)
        << "row " << i;
    EXPECT_NEAR(dk[i].confidence, 65536.0 * Probability(rows[i], scale, ids),
                1.0)
        << "row " << i;
    EXPECT_EQ(d1[i].fallback, d1[i].confidence < 32768 ? 1 : 0);
    EXPECT_EQ(dk[i].fallback, dk[i].confidence < 32768 ? 1 : 0);
    EXPECT_GE(dk[i].confidence, d1[i].confidence);
    fallbacks += d1[i].fallback;
  }
  // Random logits give both outcomes, so both branches were exercised.
  EXPECT_GT(fallbacks, 0);
  EXPECT_LT(fallbacks, 300);
}

// The top-k against a stable sort (score descending, ties by lower id), the
// margin exactly and the probabilities against the real softmax, for every
// head size the two selection methods cover (up to 16 classes every class is
// ranked; above, a threshold and a pass in id order), every k, and logits
// full of ties: a narrow range, all equal, only the extremes -128 and 127,
// a plateau at the k-th place.
TEST(Decision, TopKMatchesAStableSortOnTiesAndExtremes) {
  std::mt19937 rng(29);
  const int32_t class_counts[] = {2,  3,  8,  15, 16,  17,
                                  63, 64, 65, 96, 130, 300};
  for (int32_t classes : class_counts) {
    for (int kind = 0; kind < 3; ++kind) {
      const int32_t max_k = std::min<int32_t>(classes, KILN_MAX_TOP_K);
      const int32_t top_k = 1 + static_cast<int32_t>(rng() % max_k);
      const ConfidenceKind confidence = kind == 0   ? ConfidenceKind::kTop1Prob
                                        : kind == 1 ? ConfidenceKind::kTopKProb
                                                    : ConfidenceKind::kMargin;
      const float scale = 0.05f;
      LoadedModel m(LogitModel(classes, scale, {top_k, confidence, 0.0f}), 64);
      ASSERT_EQ(m.status, KILN_OK) << m.message();
      std::vector<std::vector<int8_t>> rows(200, std::vector<int8_t>(classes));
      for (size_t r = 0; r < rows.size(); ++r) {
        const int pattern = static_cast<int>(r % 6);
        const int base = static_cast<int>(rng() % 256) - 128;
        for (int32_t c = 0; c < classes; ++c) {
          int v;
          switch (pattern) {
            case 0:
              v = static_cast<int>(rng() % 256) - 128;
              break;
            case 1:  // narrow range: many ties
              v = base + static_cast<int>(rng() % 3);
              break;
            case 2:
              v = base;
              break;
            case 3:
              v = rng() % 2 ? 127 : -128;
              break;
            case 4:  // a plateau around the k-th value
              v = c < top_k / 2 ? 100 : (rng() % 4 ? 7 : -50);
              break;
            default:
              v = rng() % 8 ? -128 : static_cast<int>(rng() % 256) - 128;
              break;
          }
          rows[r][c] = static_cast<int8_t>(std::max(-128, std::min(127, v)));
        }
      }
      const auto d = Decide(&m, rows);
      for (size_t r = 0; r < rows.size(); ++r) {
        std::vector<int> order(classes);
        for (int32_t c = 0; c < classes; ++c) order[c] = c;
        std::stable_sort(order.begin(), order.end(),
                         [&](int a, int b) { return rows[r][a] > rows[r][b]; });
        ASSERT_EQ(d[r].k, top_k);
        for (int32_t i = 0; i < KILN_MAX_TOP_K; ++i) {
          const int expected_id = i < top_k ? order[i] : -1;
          const int expected_score = i < top_k ? rows[r][order[i]] : 0;
          ASSERT_EQ(d[r].class_id[i], expected_id)
              << classes << " classes, k " << top_k << ", row " << r
              << ", place " << i;
          ASSERT_EQ(d[r].score[i], expected_score);
        }
        if (confidence == ConfidenceKind::kMargin) {
          EXPECT_EQ(d[r].confidence, rows[r][order[0]] - rows[r][order[1]]);
        } else {
          std::vector<int> ids(order.begin(),
                               order.begin() + (kind == 1 ? top_k : 1));
          EXPECT_NEAR(d[r].confidence,
                      65536.0 * Probability(rows[r], scale, ids), 1.0)
              << classes << " classes, row " << r;
        }
      }
    }
  }
}

TEST(Decision, MarginThresholdInLogitSteps) {
  // scale 0.125: a real margin of 0.5 is exactly 4 steps.
  LoadedModel m(LogitModel(3, 0.125f, {1, ConfidenceKind::kMargin, 0.5f}), 4);
  ASSERT_EQ(m.status, KILN_OK) << m.message();
  kiln_head_info info;
  ASSERT_EQ(kiln_get_head_info(m.ctx, 0, &info), KILN_OK);
  EXPECT_EQ(info.threshold, 4);
  const auto d =
      Decide(&m, {{10, 7, 0}, {10, 6, 0}, {-128, 127, 127}, {127, -128, -128}});
  EXPECT_EQ(d[0].k, 1);
  EXPECT_EQ(d[0].confidence, 3);
  EXPECT_EQ(d[0].fallback, 1);
  EXPECT_EQ(d[1].confidence, 4);
  EXPECT_EQ(d[1].fallback, 0);
  EXPECT_EQ(d[2].class_id[0], 1);  // tie: lower id first, margin 0
  EXPECT_EQ(d[2].confidence, 0);
  EXPECT_EQ(d[2].fallback, 1);
  EXPECT_EQ(d[3].confidence, 255);
  EXPECT_EQ(d[3].fallback, 0);
}

TEST(Decision, ThresholdOneAlwaysFallsBackUnlessCertain) {
  LoadedModel m(LogitModel(4, 0.5f, {1, ConfidenceKind::kTop1Prob, 1.0f}), 2);
  ASSERT_EQ(m.status, KILN_OK) << m.message();
  // exp(-0.5 * 255) underflows the 2^-24 table: probability rounds to 1.0.
  const auto d = Decide(&m, {{127, -128, -128, -128}, {127, 126, -128, -128}});
  EXPECT_EQ(d[0].confidence, 65536);
  EXPECT_EQ(d[0].fallback, 0);
  EXPECT_LT(d[1].confidence, 65536);
  EXPECT_EQ(d[1].fallback, 1);
}

}  // namespace
}  // namespace kiln
