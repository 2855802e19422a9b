// Guided search: restricting a block's side-information search to the
// product of per-decision top-k lists (from the model or from the no-model
// heuristics), judging such a restriction by bits regret at a number of bit
// estimates, and choosing the model's operating point (k per head and
// fallback thresholds) on validation blocks.
//
// Regret is measured against each block's full tuple-cost table (all 12,288
// estimates, AllTupleBits), so every configuration of a frontier is scored
// on the same blocks without re-running the coder; the chosen operating
// point is then re-checked by real encodes (block_report.h).
#ifndef KILN_TOOLCHAIN_BLOCKLAB_GUIDED_SEARCH_H_
#define KILN_TOOLCHAIN_BLOCKLAB_GUIDED_SEARCH_H_

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "toolchain/blocklab/block_coder.h"

namespace kiln {
namespace blocklab {

// Index of a tuple in a cost table.
inline int TupleIndex(int predictor, int filter_code, int scan,
                      int interleave) {
  return ((predictor * kFilters + FilterIndex(filter_code)) * kScans + scan) *
             kInterleaves +
         interleave;
}
// Residual bits of every tuple of the block (kTuples entries, TupleIndex
// order): the exhaustive search's cost table (block_search.cc). Bits fit 16
// bits: at most 192 samples x 32 bits.
void AllTupleBits(const Image& image, int32_t block, uint16_t* out);

// Options of each decision, best first. filters[p] ranks the filter codes
// for predictor p (the model ranks them once for all predictors: every row
// the same; the energy heuristic per predictor).
struct Ranking {
  uint8_t predictors[kPredictors];
  uint8_t filters[kPredictors][kFilters];
  uint8_t scans[kScans];
  uint8_t interleaves[kInterleaves];
  // How many leading entries are ranked (the model's top-k lists may be
  // shorter than the option count).
  int32_t predictor_count = 0, filter_count = 0, scan_count = 0,
          interleave_count = 0;
};

// How many of each ranked list a search takes.
struct TopK {
  int32_t predictors = 1, filters = 1, scans = 1, interleaves = 1;
  int32_t estimates() const {
    return predictors * filters * scans * interleaves;
  }
};
// Whether `k` fits in the ranking's lists.
bool FitsRanking(const TopK& k, const Ranking& r);

// The search's candidate set: top predictors x their top filters x top
// scans x top interleaves.
Candidates ProductCandidates(const Ranking& r, const TopK& k);
// Minimum bits over that product, read off a cost table.
uint32_t ProductBestBits(const uint16_t* table, const Ranking& r,
                         const TopK& k);

// Per predictor, the fewest bits of the block when that predictor is tried
// with its `filters` lowest-energy filters (RankFiltersByEnergy) and every
// scan and interleave: what a guided search that picks the predictor gets,
// since it orders each predictor's filters by energy. The predictor head's
// training target (the exhaustive per-option minimum instead credits a
// predictor with filters the guided search would not try).
void GuidedPredictorBits(const Image& image, int32_t block, int32_t filters,
                         uint32_t bits[kPredictors]);

// The no-model ranking (block_coder.h's heuristics): predictors by residual
// energy (the codec's) or by residual magnitude, filters by filtered energy
// under each of the first `ranked_predictors` predictors, scans by luma
// total variation, interleaves in `interleave_prior` order.
enum class PredictorStatistic { kEnergy, kMagnitude };
Ranking HeuristicRanking(
    const Image& image, int32_t block, int32_t ranked_predictors,
    const uint8_t interleave_prior[kInterleaves],
    PredictorStatistic statistic = PredictorStatistic::kEnergy);

// One block as the operating-point search sees it.
struct EvalBlock {
  uint32_t full_bits = 0;      // exhaustive (12,288 tuples) minimum
  uint32_t fallback_bits = 0;  // what the fallback search finds
  uint32_t fallback_estimates = 0;
  const uint16_t* table = nullptr;  // kTuples entries, owned elsewhere
  Ranking ranking;
  // Model only: per head, the probability mass of its top-1..16 options
  // (softmax of the dequantized logits), the runtime's kTopKProb measure.
  float topk_prob[4][16];
};

// A point of a frontier: a TopK, and for the model, per-head fallback
// thresholds on the top-k probability (fallback when any head's is below).
struct FrontierPoint {
  TopK k;
  float thresholds[4] = {0, 0, 0, 0};
  double quantile = 0;  // share of blocks each threshold flags on its own
  double estimates_per_block = 0;
  double bits = 0;           // total residual bits
  double size_increase = 0;  // vs the blocks' full_bits, fraction
  double fallback_rate = 0;
};

// The TopK grid both frontiers are drawn from.
std::vector<TopK> TopKGrid(int32_t max_predictors, int32_t max_filters);

// Scores `k` (with thresholds from `quantile` of each head's top-k
// probability over `blocks` when with_fallback) on `blocks`.
FrontierPoint ScorePoint(const std::vector<EvalBlock>& blocks, const TopK& k,
                         bool with_fallback, double quantile);
// Scores with given thresholds (the operating point on held-out blocks).
FrontierPoint ScoreWithThresholds(const std::vector<EvalBlock>& blocks,
                                  const TopK& k, const float thresholds[4]);

// Every grid point (x quantiles when with_fallback); then the Pareto front
// (fewest estimates for a size, smallest size for estimates), by estimates.
std::vector<FrontierPoint> ScoreGrid(const std::vector<EvalBlock>& blocks,
                                     const std::vector<TopK>& grid,
                                     bool with_fallback,
                                     const std::vector<double>& quantiles);
std::vector<FrontierPoint> ParetoFront(std::vector<FrontierPoint> points);

// The operating point: fewest estimates per block with size_increase <=
// max_increase; false when no point qualifies.
bool ChooseOperatingPoint(const std::vector<FrontierPoint>& points,
                          double max_increase, FrontierPoint* out);

// The smallest size increase a front reaches within `estimates` per block
// (+inf when none).
double FrontAt(const std::vector<FrontierPoint>& front, double estimates);

// Frontier plot: estimates per block (log x) against size increase (%),
// one polyline per named front, optional marked operating point.
std::string FrontierSvg(const std::vector<std::string>& names,
                        const std::vector<std::vector<FrontierPoint>>& fronts,
                        const FrontierPoint* marked,
                        double exhaustive_estimates);

}  // namespace blocklab
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_BLOCKLAB_GUIDED_SEARCH_H_
