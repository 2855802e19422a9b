// The search against brute force over EstimateBlockBits, the candidate
// restrictions and TLG8's energy pruning, and the no-model heuristics.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <vector>

#include "tests/blocklab/block_test_util.h"
#include "toolchain/blocklab/block_coder.h"
#include "toolchain/blocklab/colour_filter.h"
#include "toolchain/blocklab/scan_orders.h"

namespace kiln {
namespace blocklab {
namespace {

using testing::TupleAt;

// Brute force: every tuple through EstimateBlockBits, labels built the
// obvious way. `allowed(p, f, s, il)` selects the tuples.
template <typename Allowed>
BlockLabels BruteForce(const Image& image, int32_t block, Allowed allowed) {
  BlockLabels l;
  auto fill = [](uint32_t* a, int n) { std::fill(a, a + n, kPrunedBits); };
  fill(l.predictor_bits, kPredictors);
  fill(l.filter_bits, kFilters);
  fill(l.perm_bits, kPermutations);
  fill(l.primary_bits, kPrimaries);
  fill(l.secondary_bits, kSecondaries);
  fill(l.scan_bits, kScans);
  fill(l.interleave_bits, kInterleaves);
  struct Entry {
    uint32_t bits;
    int rank;
    BlockTuple tuple;
  };
  std::vector<Entry> entries;
  int rank = 0;
  for (int p = 0; p < kPredictors; ++p) {
    for (int f = 0; f < kFilters; ++f) {
      for (int s = 0; s < kScans; ++s) {
        for (int il = 0; il < kInterleaves; ++il, ++rank) {
          if (!allowed(p, f, s, il)) continue;
          const BlockTuple t = TupleAt(p, f, s, il);
          const uint32_t bits = EstimateBlockBits(image, block, t);
          entries.push_back({bits, rank, t});
          const int code = FilterCodeAt(f);
          auto keep = [bits](uint32_t* slot) { *slot = std::min(*slot, bits); };
          keep(&l.predictor_bits[p]);
          keep(&l.filter_bits[f]);
          keep(&l.perm_bits[FilterPerm(code)]);
          keep(&l.primary_bits[FilterPrimary(code)]);
          keep(&l.secondary_bits[FilterSecondary(code)]);
          keep(&l.scan_bits[s]);
          keep(&l.interleave_bits[il]);
        }
      }
    }
  }
  l.estimates = static_cast<uint32_t>(entries.size());
  std::stable_sort(
      entries.begin(), entries.end(),
      [](const Entry& a, const Entry& b) { return a.bits < b.bits; });
  if (!entries.empty()) {
    l.best = entries[0].tuple;
    l.best_bits = entries[0].bits;
  }
  if (entries.size() > 1) {
    l.second = entries[1].tuple;
    l.second_bits = entries[1].bits;
  }
  return l;
}

void ExpectSameLabels(const BlockLabels& got, const BlockLabels& want) {
  EXPECT_EQ(got.estimates, want.estimates);
  EXPECT_EQ(got.best_bits, want.best_bits);
  EXPECT_TRUE(got.best == want.best);
  EXPECT_EQ(got.second_bits, want.second_bits);
  EXPECT_TRUE(got.second == want.second);
  auto same = [](const uint32_t* a, const uint32_t* b, int n,
                 const char* what) {
    for (int i = 0; i < n; ++i) EXPECT_EQ(a[i], b[i]) << what << " " << i;
  };
  same(got.predictor_bits, want.predictor_bits, kPredictors, "predictor");
  same(got.filter_bits, want.filter_bits, kFilters, "filter");
  same(got.perm_bits, want.perm_bits, kPermutations, "perm");
  same(got.primary_bits, want.primary_bits, kPrimaries, "primary");
  same(got.secondary_bits, want.secondary_bits, kSecondaries, "secondary");
  same(got.scan_bits, want.scan_bits, kScans, "scan");
  same(got.interleave_bits, want.interleave_bits, kInterleaves, "interleave");
}

const auto kAll = [](int, int, int, int) { return true; };

// A few blocks of a photo (interior and edge) or of noise when the photos
// are absent.
std::vector<std::pair<Image, int32_t>> SampleBlocks() {
  std::vector<std::pair<Image, int32_t>> out;
  Image photo;
  if (testing::LoadPhoto(testing::TestPhotos()[0], &photo)) {
    out.push_back({photo, 64 * 20 + 30});                        // face
    out.push_back({testing::Crop(photo, 200, 300, 13, 11), 3});  // 5x3 edge
    out.push_back({testing::Crop(photo, 40, 40, 12, 12), 1});    // 4x8 edge
  }
  out.push_back({testing::NoiseImage(16, 16, 1), 3});
  Image flat;  // all ties
  flat.width = flat.height = 8;
  flat.rgb.assign(8 * 8 * 3, 0);
  out.push_back({flat, 0});
  return out;
}

TEST(BlockSearch, FullSearchEqualsBruteForce) {
  for (const auto& sample : SampleBlocks()) {
    BlockLabels got;
    SearchBlock(sample.first, sample.second, nullptr, &got);
    EXPECT_EQ(got.estimates, static_cast<uint32_t>(kTuples));
    ExpectSameLabels(got, BruteForce(sample.first, sample.second, kAll));
  }
}

TEST(BlockSearch, FlatBlockTiesKeepTheFirstTuple) {
  Image flat;
  flat.width = flat.height = 8;
  flat.rgb.assign(8 * 8 * 3, 0);
  BlockLabels labels;
  SearchBlock(flat, 0, nullptr, &labels);
  EXPECT_TRUE(labels.best == TupleAt(0, 0, 0, 0));
  EXPECT_TRUE(labels.second == TupleAt(0, 0, 0, 1));
  EXPECT_EQ(labels.best_bits, labels.second_bits);
}

TEST(BlockSearch, CandidatesRestrictTheSearch) {
  for (const auto& sample : SampleBlocks()) {
    const Image& image = sample.first;
    const int32_t block = sample.second;
    Candidates lists;
    lists.predictors = {5, 0, 5};
    lists.filters = {static_cast<uint8_t>(FilterCode(2, 1, 3)), 0, 200};
    lists.scans = {7, 0};
    BlockLabels got;
    SearchBlock(image, block, &lists, &got);
    ExpectSameLabels(
        got, BruteForce(image, block, [](int p, int f, int s, int) {
          return (p == 5 || p == 0) &&
                 (f == 0 || f == FilterIndex(FilterCode(2, 1, 3))) &&
                 (s == 7 || s == 0);
        }));
    EXPECT_EQ(got.estimates, 2u * 2 * 2 * 2);
    EXPECT_EQ(got.scan_bits[3], kPrunedBits);

    Candidates pairs;
    pairs.pairs = {{3, static_cast<uint8_t>(FilterCode(4, 2, 1))}, {7, 95}};
    pairs.predictors = {0};  // ignored: pairs override the lists
    pairs.interleaves = {1};
    SearchBlock(image, block, &pairs, &got);
    ExpectSameLabels(
        got, BruteForce(image, block, [](int p, int f, int, int il) {
          return il == 1 &&
                 ((p == 3 && f == FilterIndex(FilterCode(4, 2, 1))) ||
                  (p == 7 && f == 95));
        }));
    EXPECT_EQ(got.estimates, 2u * 8);
    EXPECT_EQ(got.interleave_bits[0], kPrunedBits);
  }
}

// The pruning rule written out independently from the header's words.
uint32_t Energy(const int8_t r[3][64]) {
  uint32_t e = 0;
  for (int ch = 0; ch < 3; ++ch) {
    for (int i = 0; i < 64; ++i) e += r[ch][i] * r[ch][i];
  }
  return e;
}
uint32_t Magnitude(const int8_t r[3][64]) {
  uint32_t m = 0;
  for (int ch = 0; ch < 3; ++ch) {
    for (int i = 0; i < 64; ++i) m += r[ch][i] < 0 ? -r[ch][i] : r[ch][i];
  }
  return m;
}
void Residuals(const Image& image, int32_t block, int p, int8_t r[3][64]) {
  const int x0 = block % image.blocks_x() * 8,
            y0 = block / image.blocks_x() * 8;
  auto px = [&](int ch, int x, int y) {
    return (x < 0 || y < 0 || x >= image.width || y >= image.height)
               ? 0
               : image.rgb[(y * image.width + x) * 3 + ch];
  };
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) {
      for (int ch = 0; ch < 3; ++ch) {
        const int X = x0 + x, Y = y0 + y;
        if (X >= image.width || Y >= image.height) {
          r[ch][y * 8 + x] = 0;
          continue;
        }
        const int a = px(ch, X - 1, Y), b = px(ch, X, Y - 1),
                  c = px(ch, X - 1, Y - 1), d = px(ch, X + 1, Y - 1);
        const int preds[8] = {c >= std::max(a, b)   ? std::min(a, b)
                              : c <= std::min(a, b) ? std::max(a, b)
                                                    : a + b - c,
                              (a + c + 1) >> 1,
                              (b + c + 1) >> 1,
                              (b + d + 1) >> 1,
                              a,
                              b,
                              c,
                              d};
        r[ch][y * 8 + x] = static_cast<int8_t>(px(ch, X, Y) - preds[p]);
      }
    }
  }
}

TEST(BlockSearch, EnergyPruningOnlyDropsCandidates) {
  for (const auto& sample : SampleBlocks()) {
    const Image& image = sample.first;
    const int32_t block = sample.second;
    // Expected survivors.
    uint32_t pe[kPredictors], min_pe = UINT32_MAX;
    int8_t r[kPredictors][3][64];
    for (int p = 0; p < kPredictors; ++p) {
      Residuals(image, block, p, r[p]);
      pe[p] = Energy(r[p]);
      min_pe = std::min(min_pe, pe[p]);
    }
    bool survives[kPredictors][kFilters] = {};
    uint32_t fe[kPredictors][kFilters] = {}, min_fe = UINT32_MAX;
    for (int p = 0; p < kPredictors; ++p) {
      if (pe[p] > kEnergyPruneFactor * min_pe) continue;
      for (int f = 0; f < kFilters; ++f) {
        int8_t filtered[3][64];
        FilterBlock(r[p], FilterCodeAt(f), filtered);
        fe[p][f] = Energy(filtered);
        survives[p][f] = true;
        min_fe = std::min(min_fe, fe[p][f]);
      }
    }
    int pairs = 0;
    for (int p = 0; p < kPredictors; ++p) {
      for (int f = 0; f < kFilters; ++f) {
        if (survives[p][f] && fe[p][f] > kEnergyPruneFactor * min_fe) {
          survives[p][f] = false;
        }
        pairs += survives[p][f];
      }
    }
    const Candidates prune = DefaultSearch();
    EXPECT_TRUE(prune.energy_prune);
    BlockLabels pruned, full;
    SearchBlock(image, block, &prune, &pruned);
    SearchBlock(image, block, nullptr, &full);
    EXPECT_EQ(pruned.estimates, static_cast<uint32_t>(pairs) * 16);
    EXPECT_GE(pruned.best_bits, full.best_bits);
    ExpectSameLabels(pruned,
                     BruteForce(image, block, [&](int p, int f, int, int) {
                       return survives[p][f];
                     }));
    for (int f = 0; f < kFilters; ++f) {
      EXPECT_GE(pruned.filter_bits[f], full.filter_bits[f]);
    }
  }
}

TEST(BlockSearch, PruningRespectsTheAllowedSet) {
  const auto samples = SampleBlocks();
  const Image& image = samples.front().first;
  const int32_t block = samples.front().second;
  // Only predictors 6 and 7 allowed: the minimum energy is theirs, so at
  // least one survives even if predictor 0 would be far better.
  Candidates c;
  c.predictors = {6, 7};
  c.scans = {0};
  c.interleaves = {0};
  c.energy_prune = true;
  BlockLabels labels;
  SearchBlock(image, block, &c, &labels);
  EXPECT_GT(labels.estimates, 0u);
  EXPECT_TRUE(labels.best.predictor == 6 || labels.best.predictor == 7);
  for (int p = 0; p < 6; ++p) EXPECT_EQ(labels.predictor_bits[p], kPrunedBits);
}

TEST(Heuristics, TiesKeepIndexOrder) {
  Image flat;
  flat.width = flat.height = 8;
  flat.rgb.assign(8 * 8 * 3, 0);
  uint8_t predictors[kPredictors], filters[kFilters], scans[kScans];
  uint8_t by_magnitude[kPredictors];
  RankPredictorsByEnergy(flat, 0, predictors);
  RankPredictorsByMagnitude(flat, 0, by_magnitude);
  RankFiltersByEnergy(flat, 0, 0, filters);
  RankScansByTotalVariation(flat, 0, scans);
  for (int i = 0; i < kPredictors; ++i) EXPECT_EQ(predictors[i], i);
  for (int i = 0; i < kPredictors; ++i) EXPECT_EQ(by_magnitude[i], i);
  for (int i = 0; i < kFilters; ++i) EXPECT_EQ(filters[i], FilterCodeAt(i));
  for (int i = 0; i < kScans; ++i) EXPECT_EQ(scans[i], i);
}

TEST(Heuristics, RankingsAreSortedPermutations) {
  for (const auto& sample : SampleBlocks()) {
    const Image& image = sample.first;
    const int32_t block = sample.second;
    int8_t r[kPredictors][3][64];
    uint32_t pe[kPredictors], pm[kPredictors];
    for (int p = 0; p < kPredictors; ++p) {
      Residuals(image, block, p, r[p]);
      pe[p] = Energy(r[p]);
      pm[p] = Magnitude(r[p]);
    }
    uint8_t predictors[kPredictors], by_magnitude[kPredictors];
    RankPredictorsByEnergy(image, block, predictors);
    RankPredictorsByMagnitude(image, block, by_magnitude);
    std::vector<int> seen(kPredictors, 0), mseen(kPredictors, 0);
    for (int i = 0; i < kPredictors; ++i) {
      ++seen[predictors[i]];
      ++mseen[by_magnitude[i]];
      if (i > 0) {
        const int a = predictors[i - 1], b = predictors[i];
        EXPECT_TRUE(pe[a] < pe[b] || (pe[a] == pe[b] && a < b));
        const int c = by_magnitude[i - 1], d = by_magnitude[i];
        EXPECT_TRUE(pm[c] < pm[d] || (pm[c] == pm[d] && c < d));
      }
    }
    EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), kPredictors);
    EXPECT_EQ(std::count(mseen.begin(), mseen.end(), 1), kPredictors);

    const int p = predictors[0];
    uint8_t filters[kFilters];
    RankFiltersByEnergy(image, block, p, filters);
    std::vector<int> fseen(kFilters, 0);
    uint32_t prev = 0;
    int prev_index = -1;
    for (int i = 0; i < kFilters; ++i) {
      ++fseen[FilterIndex(filters[i])];
      int8_t filtered[3][64];
      FilterBlock(r[p], filters[i], filtered);
      const uint32_t e = Energy(filtered);
      if (i > 0) {
        EXPECT_TRUE(prev < e ||
                    (prev == e && prev_index < FilterIndex(filters[i])));
      }
      prev = e;
      prev_index = FilterIndex(filters[i]);
    }
    EXPECT_EQ(std::count(fseen.begin(), fseen.end(), 1), kFilters);

    // Scans by luma total variation, recomputed here.
    const int x0 = block % image.blocks_x() * 8,
              y0 = block / image.blocks_x() * 8;
    uint32_t tv[kScans];
    for (int s = 0; s < kScans; ++s) {
      tv[s] = 0;
      int last = -1;
      for (int i = 0; i < 64; ++i) {
        const int X = x0 + kScanOrders[s][i] % 8,
                  Y = y0 + kScanOrders[s][i] / 8;
        if (X >= image.width || Y >= image.height) continue;
        const uint8_t* px = &image.rgb[(Y * image.width + X) * 3];
        const int luma = (px[0] + 2 * px[1] + px[2]) >> 2;
        if (last >= 0) tv[s] += abs(luma - last);
        last = luma;
      }
    }
    uint8_t scans[kScans];
    RankScansByTotalVariation(image, block, scans);
    for (int i = 1; i < kScans; ++i) {
      const int a = scans[i - 1], b = scans[i];
      EXPECT_TRUE(tv[a] < tv[b] || (tv[a] == tv[b] && a < b));
    }
  }
}

}  // namespace
}  // namespace blocklab
}  // namespace kiln
