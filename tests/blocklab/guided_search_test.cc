// The guided search's parts: cost tables, candidate products, frontiers and
// the block features (plain C) against the coder's own definitions.
#include "toolchain/blocklab/guided_search.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "tests/blocklab/block_test_util.h"
#include "toolchain/blocklab/block_features.h"
#include "toolchain/blocklab/block_pixels.h"
#include "toolchain/blocklab/scan_orders.h"

namespace kiln {
namespace blocklab {
namespace {

using testing::Crop;
using testing::LoadPhoto;
using testing::NoiseImage;
using testing::TestPhotos;

Image SamplePhoto(int width, int height) {
  Image photo;
  if (!LoadPhoto(TestPhotos()[0], &photo)) return NoiseImage(width, height, 7);
  return Crop(photo, 200, 180, width, height);
}

TEST(GuidedSearchTest, CostTableMatchesEveryEstimate) {
  // 13x11: a whole block, edge blocks narrower and shorter than 8.
  const Image image = SamplePhoto(13, 11);
  std::vector<uint16_t> table(kTuples);
  for (int32_t b = 0; b < image.blocks(); ++b) {
    AllTupleBits(image, b, table.data());
    for (int p = 0; p < kPredictors; ++p)
      for (int fi = 0; fi < kFilters; fi += 7)
        for (int s = 0; s < kScans; ++s)
          for (int l = 0; l < kInterleaves; ++l) {
            const BlockTuple t{
                static_cast<uint8_t>(p), static_cast<uint8_t>(FilterCodeAt(fi)),
                static_cast<uint8_t>(s), static_cast<uint8_t>(l)};
            ASSERT_EQ(table[TupleIndex(p, FilterCodeAt(fi), s, l)],
                      EstimateBlockBits(image, b, t))
                << "block " << b << " p " << p << " f " << fi;
          }
    BlockLabels full;
    SearchBlock(image, b, nullptr, &full);
    EXPECT_EQ(*std::min_element(table.begin(), table.end()), full.best_bits);
  }
}

Ranking SomeRanking() {
  Ranking r;
  const uint8_t preds[kPredictors] = {3, 0, 5, 1, 2, 4, 6, 7};
  std::copy(preds, preds + kPredictors, r.predictors);
  for (int p = 0; p < kPredictors; ++p)
    for (int f = 0; f < kFilters; ++f)
      r.filters[p][f] =
          static_cast<uint8_t>(FilterCodeAt((f * 5 + p) % kFilters));
  const uint8_t scans[kScans] = {6, 1, 0, 7, 2, 3, 4, 5};
  std::copy(scans, scans + kScans, r.scans);
  r.interleaves[0] = 1;
  r.interleaves[1] = 0;
  r.predictor_count = kPredictors;
  r.filter_count = kFilters;
  r.scan_count = kScans;
  r.interleave_count = kInterleaves;
  return r;
}

TEST(GuidedSearchTest, ProductBitsEqualTheCoderSearchingTheProduct) {
  const Image image = SamplePhoto(24, 16);
  std::vector<uint16_t> table(kTuples);
  const Ranking r = SomeRanking();
  for (int32_t b = 0; b < image.blocks(); ++b) {
    AllTupleBits(image, b, table.data());
    for (const TopK& k :
         {TopK{1, 1, 1, 1}, TopK{2, 3, 2, 1}, TopK{3, 8, 4, 2}}) {
      const Candidates c = ProductCandidates(r, k);
      BlockLabels labels;
      SearchBlock(image, b, &c, &labels);
      EXPECT_EQ(labels.estimates, static_cast<uint32_t>(k.estimates()));
      EXPECT_EQ(labels.best_bits, ProductBestBits(table.data(), r, k));
    }
  }
}

// A predictor's guided bits are the cost table's minimum over its first F
// filters in energy order (every scan and interleave); with all 96 they are
// the exhaustive per-option minimum.
TEST(GuidedSearchTest, GuidedPredictorBitsAreTheTableOverEnergyOrder) {
  const Image image = SamplePhoto(24, 16);
  std::vector<uint16_t> table(kTuples);
  for (int32_t b = 0; b < image.blocks(); ++b) {
    AllTupleBits(image, b, table.data());
    BlockLabels full;
    SearchBlock(image, b, nullptr, &full);
    uint32_t all[kPredictors], previous[kPredictors];
    GuidedPredictorBits(image, b, kFilters, all);
    for (int p = 0; p < kPredictors; ++p) {
      EXPECT_EQ(all[p], full.predictor_bits[p]) << "block " << b << " p " << p;
      previous[p] = kPrunedBits;
    }
    for (int32_t f : {1, 2, 4, 8, 32}) {
      uint32_t bits[kPredictors];
      GuidedPredictorBits(image, b, f, bits);
      for (int p = 0; p < kPredictors; ++p) {
        uint8_t order[kFilters];
        RankFiltersByEnergy(image, b, p, order);
        uint32_t want = kPrunedBits;
        for (int j = 0; j < f; ++j)
          for (int s = 0; s < kScans; ++s)
            for (int l = 0; l < kInterleaves; ++l)
              want = std::min<uint32_t>(want,
                                        table[TupleIndex(p, order[j], s, l)]);
        EXPECT_EQ(bits[p], want) << "block " << b << " p " << p << " f " << f;
        EXPECT_LE(bits[p], previous[p]);  // more filters never cost more
        previous[p] = bits[p];
      }
    }
  }
}

TEST(GuidedSearchTest, ParetoFrontAndOperatingPoint) {
  std::vector<FrontierPoint> pts(5);
  const double est[] = {10, 20, 20, 40, 80};
  const double inc[] = {0.02, 0.01, 0.015, 0.012, 0.002};
  for (int i = 0; i < 5; ++i) {
    pts[i].estimates_per_block = est[i];
    pts[i].size_increase = inc[i];
  }
  const std::vector<FrontierPoint> front = ParetoFront(pts);
  ASSERT_EQ(front.size(), 3u);  // (10, 2%), (20, 1%), (80, 0.2%)
  EXPECT_EQ(front[1].estimates_per_block, 20);
  EXPECT_EQ(front[1].size_increase, 0.01);
  EXPECT_EQ(FrontAt(front, 50), 0.01);
  EXPECT_TRUE(std::isinf(FrontAt(front, 5)));
  FrontierPoint op;
  ASSERT_TRUE(ChooseOperatingPoint(pts, 0.0125, &op));
  EXPECT_EQ(op.estimates_per_block, 20);
  EXPECT_FALSE(ChooseOperatingPoint(pts, 0.001, &op));
}

TEST(GuidedSearchTest, FallbackBlocksCostTheirFallbackSearch) {
  std::vector<uint16_t> table(kTuples, 100);
  std::vector<EvalBlock> blocks(4);
  for (int i = 0; i < 4; ++i) {
    blocks[i].table = table.data();
    blocks[i].ranking = SomeRanking();
    blocks[i].full_bits = 90;
    blocks[i].fallback_bits = 90;
    blocks[i].fallback_estimates = 1000;
    for (int h = 0; h < 4; ++h)
      for (int j = 0; j < 16; ++j) blocks[i].topk_prob[h][j] = 0.1f * (i + 1);
  }
  const float thresholds[4] = {0.25f, 0, 0, 0};  // blocks 0, 1 fall back
  const FrontierPoint p =
      ScoreWithThresholds(blocks, TopK{1, 2, 1, 1}, thresholds);
  EXPECT_DOUBLE_EQ(p.fallback_rate, 0.5);
  EXPECT_DOUBLE_EQ(p.estimates_per_block, (1000 + 1000 + 2 + 2) / 4.0);
  EXPECT_DOUBLE_EQ(p.size_increase, (90 + 90 + 100 + 100) / 360.0 - 1);
}

TEST(BlockFeaturesTest, SharedScanTablesAreTheCoders) {
  for (int s = 0; s < kScans; ++s)
    for (int i = 0; i < 64; ++i)
      EXPECT_EQ(kScanOrders[s][i], kiln_block_scan_orders[s][i]);
}

TEST(BlockFeaturesTest, PredictorFeaturesFollowTheResidualEnergies) {
  const Image image = SamplePhoto(40, 35);
  for (int32_t b = 0; b < image.blocks(); ++b) {
    uint8_t window[kWindowBytes];
    BlockWindow(image, b, window);
    const BlockRect rect = BlockAt(image, b);
    float f[KILN_BLOCK_FEATURES];
    kiln_block_features(window, rect.w, rect.h, f);
    uint32_t energy[kPredictors];
    uint32_t best = ~0u;
    for (int p = 0; p < kPredictors; ++p) {
      int8_t res[3][64];
      BlockResiduals(window, rect, p, res);
      energy[p] = ResidualEnergy(res);
      best = std::min(best, energy[p]);
    }
    for (int p = 0; p < kPredictors; ++p) {
      const double want =
          std::min(8.0, std::log2((1.0 + energy[p]) / (1.0 + best)));
      EXPECT_NEAR(f[p], want, 1e-4) << "block " << b << " predictor " << p;
    }
    for (int i = 0; i < KILN_BLOCK_FEATURES; ++i)
      ASSERT_TRUE(std::isfinite(f[i]));
  }
}

TEST(BlockFeaturesTest, FilterFeaturesApproximateTheExactEnergies) {
  // The moment-based filtered energies ignore int8 wrap-around and the
  // rounding of the halvings: on a photograph the filter the features call
  // best (relative value 0) must be among the exact ranking's first few
  // under the same predictor almost always.
  const Image image = SamplePhoto(64, 64);
  int hits = 0, total = 0;
  for (int32_t b = 0; b < image.blocks(); ++b) {
    uint8_t window[kWindowBytes];
    BlockWindow(image, b, window);
    const BlockRect rect = BlockAt(image, b);
    float f[KILN_BLOCK_FEATURES];
    kiln_block_features(window, rect.w, rect.h, f);
    uint8_t predictors[kPredictors], exact[kFilters];
    RankPredictorsByEnergy(image, b, predictors);
    RankFiltersByEnergy(image, b, predictors[0], exact);
    const int best =
        static_cast<int>(std::min_element(f + 9, f + 9 + kFilters) - (f + 9));
    EXPECT_EQ(f[9 + best], 0.0f);
    const uint8_t code = static_cast<uint8_t>(FilterCodeAt(best));
    hits += std::find(exact, exact + 4, code) != exact + 4;
    ++total;
  }
  EXPECT_GE(hits * 100, total * 85) << hits << " of " << total;
}

}  // namespace
}  // namespace blocklab
}  // namespace kiln
