// Guided search: candidate products, their regret and the frontiers.
#include "toolchain/blocklab/guided_search.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace kiln {
namespace blocklab {

bool FitsRanking(const TopK& k, const Ranking& r) {
  return k.predictors <= r.predictor_count && k.filters <= r.filter_count &&
         k.scans <= r.scan_count && k.interleaves <= r.interleave_count;
}

Candidates ProductCandidates(const Ranking& r, const TopK& k) {
  Candidates c;
  for (int i = 0; i < k.predictors; ++i) {
    const uint8_t p = r.predictors[i];
    for (int j = 0; j < k.filters; ++j) c.pairs.push_back({p, r.filters[p][j]});
  }
  c.scans.assign(r.scans, r.scans + k.scans);
  c.interleaves.assign(r.interleaves, r.interleaves + k.interleaves);
  return c;
}

uint32_t ProductBestBits(const uint16_t* table, const Ranking& r,
                         const TopK& k) {
  uint32_t best = kPrunedBits;
  for (int i = 0; i < k.predictors; ++i) {
    const int p = r.predictors[i];
    for (int j = 0; j < k.filters; ++j) {
      const int f = r.filters[p][j];
      for (int s = 0; s < k.scans; ++s) {
        for (int l = 0; l < k.interleaves; ++l) {
          uint32_t b = table[TupleIndex(p, f, r.scans[s], r.interleaves[l])];
          best = std::min(best, b);
        }
      }
    }
  }
  return best;
}

void GuidedPredictorBits(const Image& image, int32_t block, int32_t filters,
                         uint32_t bits[kPredictors]) {
  Candidates c;
  for (int p = 0; p < kPredictors; ++p) {
    uint8_t order[kFilters];
    RankFiltersByEnergy(image, block, p, order);
    for (int j = 0; j < filters; ++j)
      c.pairs.push_back({static_cast<uint8_t>(p), order[j]});
  }
  BlockLabels labels;
  SearchBlock(image, block, &c, &labels);
  std::copy(labels.predictor_bits, labels.predictor_bits + kPredictors, bits);
}

Ranking HeuristicRanking(const Image& image, int32_t block,
                         int32_t ranked_predictors,
                         const uint8_t interleave_prior[kInterleaves],
                         PredictorStatistic statistic) {
  Ranking r;
  if (statistic == PredictorStatistic::kMagnitude) {
    RankPredictorsByMagnitude(image, block, r.predictors);
  } else {
    RankPredictorsByEnergy(image, block, r.predictors);
  }
  r.predictor_count = kPredictors;
  for (int p = 0; p < kPredictors; ++p)
    for (int f = 0; f < kFilters; ++f) r.filters[p][f] = 0;
  for (int i = 0; i < std::min(ranked_predictors, kPredictors); ++i)
    RankFiltersByEnergy(image, block, r.predictors[i],
                        r.filters[r.predictors[i]]);
  r.filter_count = kFilters;
  RankScansByTotalVariation(image, block, r.scans);
  r.scan_count = kScans;
  std::copy(interleave_prior, interleave_prior + kInterleaves, r.interleaves);
  r.interleave_count = kInterleaves;
  return r;
}

std::vector<TopK> TopKGrid(int32_t max_predictors, int32_t max_filters) {
  std::vector<TopK> grid;
  const int filters[] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32};
  const int scans[] = {1, 2, 3, 4, 6, 8};
  for (int p = 1; p <= max_predictors; ++p)
    for (int f : filters) {
      if (f > max_filters) continue;
      for (int s : scans)
        for (int l = 1; l <= kInterleaves; ++l) grid.push_back({p, f, s, l});
    }
  return grid;
}

namespace {

int HeadK(const TopK& k, int head) {
  switch (head) {
    case 0:
      return k.predictors;
    case 1:
      return k.filters;
    case 2:
      return k.scans;
    default:
      return k.interleaves;
  }
}

// Where a head's top-k probability mass is kept: heads name at most 16
// options, and a search may try more filters per predictor than the filter
// head names (they are ordered by energy), so the mass caps at the top-16.
int TopKProbIndex(const TopK& k, int head) {
  return std::min(HeadK(k, head), 16) - 1;
}

FrontierPoint Score(const std::vector<EvalBlock>& blocks, const TopK& k,
                    const float* thresholds) {
  FrontierPoint pt;
  pt.k = k;
  if (thresholds != nullptr)
    std::copy(thresholds, thresholds + 4, pt.thresholds);
  double estimates = 0, bits = 0, full = 0;
  size_t fallbacks = 0;
  for (const EvalBlock& b : blocks) {
    bool fallback = false;
    if (thresholds != nullptr) {
      for (int h = 0; h < 4 && !fallback; ++h)
        fallback = b.topk_prob[h][TopKProbIndex(k, h)] < thresholds[h];
    }
    if (fallback) {
      ++fallbacks;
      estimates += b.fallback_estimates;
      bits += b.fallback_bits;
    } else {
      estimates += k.estimates();
      bits += ProductBestBits(b.table, b.ranking, k);
    }
    full += b.full_bits;
  }
  const double n = static_cast<double>(blocks.size());
  pt.estimates_per_block = estimates / n;
  pt.bits = bits;
  pt.size_increase = full > 0 ? bits / full - 1.0 : 0.0;
  pt.fallback_rate = static_cast<double>(fallbacks) / n;
  return pt;
}

}  // namespace

FrontierPoint ScoreWithThresholds(const std::vector<EvalBlock>& blocks,
                                  const TopK& k, const float thresholds[4]) {
  return Score(blocks, k, thresholds);
}

FrontierPoint ScorePoint(const std::vector<EvalBlock>& blocks, const TopK& k,
                         bool with_fallback, double quantile) {
  if (!with_fallback || quantile <= 0) {
    FrontierPoint pt = Score(blocks, k, nullptr);
    return pt;
  }
  float thresholds[4];
  std::vector<float> v(blocks.size());
  for (int h = 0; h < 4; ++h) {
    for (size_t i = 0; i < blocks.size(); ++i)
      v[i] = blocks[i].topk_prob[h][TopKProbIndex(k, h)];
    size_t at =
        std::min(v.size() - 1,
                 static_cast<size_t>(quantile * static_cast<double>(v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(at),
                     v.end());
    // Blocks strictly below the quantile's value fall back.
    thresholds[h] = v[at];
  }
  FrontierPoint pt = Score(blocks, k, thresholds);
  pt.quantile = quantile;
  return pt;
}

std::vector<FrontierPoint> ScoreGrid(const std::vector<EvalBlock>& blocks,
                                     const std::vector<TopK>& grid,
                                     bool with_fallback,
                                     const std::vector<double>& quantiles) {
  std::vector<FrontierPoint> out;
  if (blocks.empty()) return out;
  for (const TopK& k : grid) {
    if (!FitsRanking(k, blocks[0].ranking)) continue;
    if (!with_fallback) {
      out.push_back(ScorePoint(blocks, k, false, 0));
      continue;
    }
    for (double q : quantiles) out.push_back(ScorePoint(blocks, k, true, q));
  }
  return out;
}

std::vector<FrontierPoint> ParetoFront(std::vector<FrontierPoint> points) {
  std::sort(points.begin(), points.end(),
            [](const FrontierPoint& a, const FrontierPoint& b) {
              if (a.estimates_per_block != b.estimates_per_block)
                return a.estimates_per_block < b.estimates_per_block;
              return a.size_increase < b.size_increase;
            });
  std::vector<FrontierPoint> front;
  double best = std::numeric_limits<double>::infinity();
  for (const FrontierPoint& p : points) {
    if (p.size_increase < best) {
      front.push_back(p);
      best = p.size_increase;
    }
  }
  return front;
}

bool ChooseOperatingPoint(const std::vector<FrontierPoint>& points,
                          double max_increase, FrontierPoint* out) {
  bool found = false;
  for (const FrontierPoint& p : points) {
    if (p.size_increase > max_increase) continue;
    if (!found || p.estimates_per_block < out->estimates_per_block) {
      *out = p;
      found = true;
    }
  }
  return found;
}

double FrontAt(const std::vector<FrontierPoint>& front, double estimates) {
  double best = std::numeric_limits<double>::infinity();
  for (const FrontierPoint& p : front)
    if (p.estimates_per_block <= estimates * (1 + 1e-9))
      best = std::min(best, p.size_increase);
  return best;
}

std::string FrontierSvg(const std::vector<std::string>& names,
                        const std::vector<std::vector<FrontierPoint>>& fronts,
                        const FrontierPoint* marked,
                        double exhaustive_estimates) {
  const double W = 720, H = 440, L = 70, R = 20, T = 30, B = 50;
  double xmin = 1, xmax = exhaustive_estimates, ymax = 0.5;
  for (const auto& f : fronts)
    for (const FrontierPoint& p : f) {
      xmax = std::max(xmax, p.estimates_per_block);
      if (p.size_increase * 100 < 5)
        ymax = std::max(ymax, p.size_increase * 100);
    }
  ymax = std::min(ymax, 5.0);
  auto X = [&](double e) {
    return L + (W - L - R) *
                   (std::log10(std::max(e, xmin)) - std::log10(xmin)) /
                   (std::log10(xmax) - std::log10(xmin));
  };
  auto Y = [&](double pct) {
    return T + (H - T - B) * (1 - std::min(std::max(pct, 0.0), ymax) / ymax);
  };
  const char* colours[] = {"#d62728", "#1f77b4", "#2ca02c", "#9467bd",
                           "#ff7f0e"};
  std::string s;
  char buf[512];
  snprintf(buf, sizeof(buf),
           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
           "height=\"%.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
           "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
           "<text x=\"%.0f\" y=\"18\">size increase vs exhaustive search (%%) "
           "against bit estimates per block</text>\n",
           W, H, L);
  s += buf;
  for (double e = 1; e <= xmax * 1.001; e *= 10) {
    snprintf(buf, sizeof(buf),
             "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" "
             "stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%.0f\" "
             "text-anchor=\"middle\">%g</text>\n",
             X(e), T, X(e), H - B, X(e), H - B + 16, e);
    s += buf;
  }
  for (int i = 0; i <= 5; ++i) {
    double v = ymax * i / 5;
    snprintf(buf, sizeof(buf),
             "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" "
             "stroke=\"#ddd\"/><text x=\"%.0f\" y=\"%.1f\" "
             "text-anchor=\"end\">%.2f</text>\n",
             L, Y(v), W - R, Y(v), L - 6, Y(v) + 4, v);
    s += buf;
  }
  snprintf(buf, sizeof(buf),
           "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">bit estimates "
           "per block (log); exhaustive = %.0f</text>\n",
           (L + W - R) / 2, H - 12, exhaustive_estimates);
  s += buf;
  for (size_t i = 0; i < fronts.size(); ++i) {
    const char* c = colours[i % 5];
    s += "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"";
    s += c;
    s += "\" points=\"";
    for (const FrontierPoint& p : fronts[i]) {
      snprintf(buf, sizeof(buf), "%.1f,%.1f ", X(p.estimates_per_block),
               Y(p.size_increase * 100));
      s += buf;
    }
    s += "\"/>\n";
    snprintf(buf, sizeof(buf),
             "<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\">%s</text>\n", W - R - 260,
             T + 20 + 16.0 * static_cast<double>(i), c, names[i].c_str());
    s += buf;
  }
  if (marked != nullptr) {
    snprintf(buf, sizeof(buf),
             "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"none\" "
             "stroke=\"black\"/>\n",
             X(marked->estimates_per_block), Y(marked->size_increase * 100));
    s += buf;
  }
  s += "</svg>\n";
  return s;
}

}  // namespace blocklab
}  // namespace kiln
