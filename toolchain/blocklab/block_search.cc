// The side-information search: every allowed (predictor, filter, scan,
// interleave) tuple of one block costed by the exact Golomb-Rice bits.
//
// Work is shared down the loop nest: residuals once per predictor, the
// filtered code values once per (predictor, filter), and those are laid out
// filter-major ("lanes") so that one vector pass of the estimator costs 16
// filters of a (scan, interleave) sequence at once. Costs land in a table in
// search order; best, second and the per-option minima come from one walk
// over it, which is what makes the tie rule easy to see.
#include <string.h>

#include "toolchain/blocklab/block_coder.h"
#include "toolchain/blocklab/block_pixels.h"
#include "toolchain/blocklab/colour_filter.h"
#include "toolchain/blocklab/golomb_rice.h"
#include "toolchain/blocklab/guided_search.h"
#include "toolchain/blocklab/scan_orders.h"

namespace kiln {
namespace blocklab {
namespace {

static_assert(kEnergyPruneFactor == 1.3,
              "the integer prune test below hard-codes 13 / 10");
// E > 1.3 * E_min, exactly (E * 10 > E_min * 13 in integers; both sides
// are below 2^32 / 13 for 192 int8 squares).
bool PrunedByEnergy(uint32_t energy, uint32_t min_energy) {
  return static_cast<uint64_t>(energy) * 10 >
         static_cast<uint64_t>(min_energy) * 13;
}

constexpr uint16_t kNotEvaluated = 0xFFFF;  // real costs are <= 192 * 32

// What the candidates allow, as masks (invalid entries are ignored).
struct Allowed {
  bool pair[kPredictors][kFilters];  // by FilterIndex
  bool scan[kScans];
  bool interleave[kInterleaves];
};

void ResolveCandidates(const Candidates* candidates, Allowed* allowed) {
  memset(allowed, 0, sizeof(*allowed));
  if (candidates == nullptr) {
    memset(allowed, 1, sizeof(*allowed));
    return;
  }
  if (!candidates->pairs.empty()) {
    for (const auto& pair : candidates->pairs) {
      if (pair.first < kPredictors && pair.second < kFilters) {
        allowed->pair[pair.first][FilterIndex(pair.second)] = true;
      }
    }
  } else {
    bool predictor[kPredictors] = {};
    bool filter[kFilters] = {};
    if (candidates->predictors.empty()) {
      for (bool& p : predictor) p = true;
    }
    for (uint8_t p : candidates->predictors) {
      if (p < kPredictors) predictor[p] = true;
    }
    if (candidates->filters.empty()) {
      for (bool& f : filter) f = true;
    }
    for (uint8_t code : candidates->filters) {
      // Valid codes are exactly 0..95 (perm <= 5).
      if (code < kFilters) filter[FilterIndex(code)] = true;
    }
    for (int p = 0; p < kPredictors; ++p) {
      for (int f = 0; f < kFilters; ++f) {
        allowed->pair[p][f] = predictor[p] && filter[f];
      }
    }
  }
  if (candidates->scans.empty()) {
    for (bool& s : allowed->scan) s = true;
  }
  for (uint8_t s : candidates->scans) {
    if (s < kScans) allowed->scan[s] = true;
  }
  if (candidates->interleaves.empty()) {
    for (bool& i : allowed->interleave) i = true;
  }
  for (uint8_t i : candidates->interleaves) {
    if (i < kInterleaves) allowed->interleave[i] = true;
  }
}

bool AnyPair(const Allowed& allowed, int predictor) {
  for (int f = 0; f < kFilters; ++f) {
    if (allowed.pair[predictor][f]) return true;
  }
  return false;
}

// TLG8's rule inside the allowed set (block_coder.h, Candidates).
void PruneByEnergy(const int8_t residual[kPredictors][3][64],
                   Allowed* allowed) {
  uint32_t energy[kPredictors] = {};
  uint32_t min_energy = UINT32_MAX;
  for (int p = 0; p < kPredictors; ++p) {
    if (!AnyPair(*allowed, p)) continue;
    energy[p] = ResidualEnergy(residual[p]);
    if (energy[p] < min_energy) min_energy = energy[p];
  }
  for (int p = 0; p < kPredictors; ++p) {
    if (AnyPair(*allowed, p) && PrunedByEnergy(energy[p], min_energy)) {
      memset(allowed->pair[p], 0, sizeof(allowed->pair[p]));
    }
  }
  uint32_t filtered_energy[kPredictors][kFilters] = {};
  uint32_t min_filtered = UINT32_MAX;
  for (int p = 0; p < kPredictors; ++p) {
    for (int f = 0; f < kFilters; ++f) {
      if (!allowed->pair[p][f]) continue;
      int8_t filtered[3][64];
      FilterBlock(residual[p], FilterCodeAt(f), filtered);
      filtered_energy[p][f] = ResidualEnergy(filtered);
      if (filtered_energy[p][f] < min_filtered) {
        min_filtered = filtered_energy[p][f];
      }
    }
  }
  for (int p = 0; p < kPredictors; ++p) {
    for (int f = 0; f < kFilters; ++f) {
      if (allowed->pair[p][f] &&
          PrunedByEnergy(filtered_energy[p][f], min_filtered)) {
        allowed->pair[p][f] = false;
      }
    }
  }
}

// Costs of every allowed (filter, scan, interleave) of one predictor into
// cost[filter index][scan][interleave].
void CostPredictor(const int8_t residual[3][64], const BlockRect& rect,
                   const Allowed& allowed, int predictor,
                   uint16_t cost[kFilters][kScans][kInterleaves]) {
  int lane_filter[kFilters];
  int lanes_used = 0;
  for (int f = 0; f < kFilters; ++f) {
    if (allowed.pair[predictor][f]) lane_filter[lanes_used++] = f;
  }
  if (lanes_used == 0) return;
  const int groups = (lanes_used + kGolombLanes - 1) / kGolombLanes;
  const int stride = groups * kGolombLanes;
  // lanes[(ch * 64 + pos) * stride + lane] = zigzag(c_ch') of the lane's
  // filter; unused lanes and positions stay 0 (costed, never recorded).
  alignas(32) int16_t lanes[3 * 64 * kFilters];
  memset(lanes, 0, sizeof(int16_t) * 3 * 64 * stride);
  for (int y = 0; y < rect.h; ++y) {
    for (int x = 0; x < rect.w; ++x) {
      const int pos = y * kBlockSize + x;
      const int8_t in[3] = {residual[0][pos], residual[1][pos],
                            residual[2][pos]};
      for (int lane = 0; lane < lanes_used; ++lane) {
        int8_t out[3];
        ForwardFilter(FilterCodeAt(lane_filter[lane]), in, out);
        for (int ch = 0; ch < 3; ++ch) {
          lanes[(ch * 64 + pos) * stride + lane] =
              static_cast<int16_t>(ZigZag(out[ch]));
        }
      }
    }
  }
  for (int scan = 0; scan < kScans; ++scan) {
    if (!allowed.scan[scan]) continue;
    for (int il = 0; il < kInterleaves; ++il) {
      if (!allowed.interleave[il]) continue;
      uint16_t offsets[3 * 64];
      const int count = ScanSequence(scan, il, rect.w, rect.h, offsets);
      for (int t = 0; t < count; ++t) {
        offsets[t] = static_cast<uint16_t>(offsets[t] * stride);
      }
      for (int g = 0; g < groups; ++g) {
        uint16_t bits[kGolombLanes];
        EstimateGolombBitsLanes(lanes + g * kGolombLanes, offsets, count, bits);
        const int first = g * kGolombLanes;
        for (int lane = first; lane < lanes_used && lane < first + kGolombLanes;
             ++lane) {
          cost[lane_filter[lane]][scan][il] = bits[lane - first];
        }
      }
    }
  }
}

void InitLabels(BlockLabels* out) {
  *out = BlockLabels();
  for (uint32_t& b : out->predictor_bits) b = kPrunedBits;
  for (uint32_t& b : out->filter_bits) b = kPrunedBits;
  for (uint32_t& b : out->perm_bits) b = kPrunedBits;
  for (uint32_t& b : out->primary_bits) b = kPrunedBits;
  for (uint32_t& b : out->secondary_bits) b = kPrunedBits;
  for (uint32_t& b : out->scan_bits) b = kPrunedBits;
  for (uint32_t& b : out->interleave_bits) b = kPrunedBits;
}

void KeepMin(uint32_t* slot, uint32_t bits) {
  if (bits < *slot) *slot = bits;
}

}  // namespace

void SearchBlock(const Image& image, int32_t block,
                 const Candidates* candidates, BlockLabels* out) {
  InitLabels(out);
  const BlockRect rect = BlockAt(image, block);
  uint8_t window[kWindowBytes];
  BlockWindow(image, block, window);

  Allowed allowed;
  ResolveCandidates(candidates, &allowed);
  int8_t residual[kPredictors][3][64];
  for (int p = 0; p < kPredictors; ++p) {
    if (AnyPair(allowed, p)) BlockResiduals(window, rect, p, residual[p]);
  }
  if (candidates != nullptr && candidates->energy_prune) {
    PruneByEnergy(residual, &allowed);
  }

  static_assert(sizeof(uint16_t) * kTuples < 32 * 1024, "stack table");
  uint16_t cost[kPredictors][kFilters][kScans][kInterleaves];
  memset(cost, 0xFF, sizeof(cost));  // kNotEvaluated
  for (int p = 0; p < kPredictors; ++p) {
    CostPredictor(residual[p], rect, allowed, p, cost[p]);
  }

  // One walk in search order: strict < keeps the first of equal tuples.
  for (int p = 0; p < kPredictors; ++p) {
    for (int f = 0; f < kFilters; ++f) {
      const int code = FilterCodeAt(f);
      for (int s = 0; s < kScans; ++s) {
        for (int il = 0; il < kInterleaves; ++il) {
          if (cost[p][f][s][il] == kNotEvaluated) continue;
          const uint32_t bits = cost[p][f][s][il];
          ++out->estimates;
          BlockTuple tuple;
          tuple.predictor = static_cast<uint8_t>(p);
          tuple.filter = static_cast<uint8_t>(code);
          tuple.scan = static_cast<uint8_t>(s);
          tuple.interleave = static_cast<uint8_t>(il);
          if (bits < out->best_bits) {
            out->second = out->best;
            out->second_bits = out->best_bits;
            out->best = tuple;
            out->best_bits = bits;
          } else if (bits < out->second_bits) {
            out->second = tuple;
            out->second_bits = bits;
          }
          KeepMin(&out->predictor_bits[p], bits);
          KeepMin(&out->filter_bits[f], bits);
          KeepMin(&out->perm_bits[FilterPerm(code)], bits);
          KeepMin(&out->primary_bits[FilterPrimary(code)], bits);
          KeepMin(&out->secondary_bits[FilterSecondary(code)], bits);
          KeepMin(&out->scan_bits[s], bits);
          KeepMin(&out->interleave_bits[il], bits);
        }
      }
    }
  }
}

void AllTupleBits(const Image& image, int32_t block, uint16_t* out) {
  // The search's own cost table with every tuple allowed: its layout
  // [predictor][filter index][scan][interleave] is TupleIndex order.
  const BlockRect rect = BlockAt(image, block);
  uint8_t window[kWindowBytes];
  BlockWindow(image, block, window);
  Allowed allowed;
  ResolveCandidates(nullptr, &allowed);
  auto* cost =
      reinterpret_cast<uint16_t(*)[kFilters][kScans][kInterleaves]>(out);
  for (int p = 0; p < kPredictors; ++p) {
    int8_t residual[3][64];
    BlockResiduals(window, rect, p, residual);
    CostPredictor(residual, rect, allowed, p, cost[p]);
  }
}

Candidates DefaultSearch() {
  Candidates candidates;
  candidates.energy_prune = true;
  return candidates;
}

uint32_t EstimateBlockBits(const Image& image, int32_t block,
                           const BlockTuple& tuple) {
  // An invalid tuple has no cost: it can never be coded.
  if (tuple.predictor >= kPredictors || tuple.filter >= kFilters ||
      tuple.scan >= kScans || tuple.interleave >= kInterleaves) {
    return kPrunedBits;
  }
  const BlockRect rect = BlockAt(image, block);
  uint8_t window[kWindowBytes];
  BlockWindow(image, block, window);
  int8_t residual[3][64], filtered[3][64];
  BlockResiduals(window, rect, tuple.predictor, residual);
  FilterBlock(residual, tuple.filter, filtered);
  uint16_t sequence[3 * 64];
  const int count =
      ScanSequence(tuple.scan, tuple.interleave, rect.w, rect.h, sequence);
  uint8_t m[3 * 64];
  for (int t = 0; t < count; ++t) {
    m[t] = static_cast<uint8_t>(
        ZigZag(filtered[sequence[t] / 64][sequence[t] % 64]));
  }
  return EstimateGolombBits(m, count);
}

}  // namespace blocklab
}  // namespace kiln
