// No-model rankings from pixels only (the baseline a model must beat): they
// cost a few thousand integer operations per block, against ~2.4 million
// for the full search.
#include <stdlib.h>

#include <algorithm>

#include "toolchain/blocklab/block_coder.h"
#include "toolchain/blocklab/block_pixels.h"
#include "toolchain/blocklab/colour_filter.h"
#include "toolchain/blocklab/scan_orders.h"

namespace kiln {
namespace blocklab {
namespace {

// out[0..n) = 0..n-1 sorted by key ascending; equal keys keep index order.
template <typename T>
void RankAscending(const uint32_t* key, int n, T* out) {
  int order[kFilters];
  for (int i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order, order + n,
                   [key](int a, int b) { return key[a] < key[b]; });
  for (int i = 0; i < n; ++i) out[i] = static_cast<T>(order[i]);
}

// Predictors ascending by statistic(residuals).
void RankPredictorsBy(uint32_t (*statistic)(const int8_t[3][64]),
                      const Image& image, int32_t block,
                      uint8_t out[kPredictors]) {
  const BlockRect rect = BlockAt(image, block);
  uint8_t window[kWindowBytes];
  BlockWindow(image, block, window);
  uint32_t key[kPredictors];
  for (int p = 0; p < kPredictors; ++p) {
    int8_t residual[3][64];
    BlockResiduals(window, rect, p, residual);
    key[p] = statistic(residual);
  }
  RankAscending(key, kPredictors, out);
}

}  // namespace

void RankPredictorsByEnergy(const Image& image, int32_t block,
                            uint8_t out[kPredictors]) {
  RankPredictorsBy(ResidualEnergy, image, block, out);
}

void RankPredictorsByMagnitude(const Image& image, int32_t block,
                               uint8_t out[kPredictors]) {
  RankPredictorsBy(ResidualMagnitude, image, block, out);
}

void RankFiltersByEnergy(const Image& image, int32_t block, int predictor,
                         uint8_t out[kFilters]) {
  const BlockRect rect = BlockAt(image, block);
  uint8_t window[kWindowBytes];
  BlockWindow(image, block, window);
  int8_t residual[3][64];
  BlockResiduals(window, rect, predictor, residual);
  uint32_t energy[kFilters];
  for (int f = 0; f < kFilters; ++f) {
    int8_t filtered[3][64];
    FilterBlock(residual, FilterCodeAt(f), filtered);
    energy[f] = ResidualEnergy(filtered);
  }
  uint8_t order[kFilters];
  RankAscending(energy, kFilters, order);
  for (int i = 0; i < kFilters; ++i) {
    out[i] = static_cast<uint8_t>(FilterCodeAt(order[i]));
  }
}

void RankScansByTotalVariation(const Image& image, int32_t block,
                               uint8_t out[kScans]) {
  const BlockRect rect = BlockAt(image, block);
  int luma[64] = {};
  for (int y = 0; y < rect.h; ++y) {
    for (int x = 0; x < rect.w; ++x) {
      const int px = rect.x0 + x, py = rect.y0 + y;
      luma[y * kBlockSize + x] =
          (PixelOrZero(image, 0, px, py) + 2 * PixelOrZero(image, 1, px, py) +
           PixelOrZero(image, 2, px, py)) >>
          2;
    }
  }
  // Total variation along the scan: sum of |step| between consecutive
  // positions the block has.
  uint32_t variation[kScans];
  for (int s = 0; s < kScans; ++s) {
    uint8_t positions[64];
    const int count = ScanPositions(s, rect.w, rect.h, positions);
    uint32_t tv = 0;
    for (int i = 1; i < count; ++i) {
      tv += static_cast<uint32_t>(
          abs(luma[positions[i]] - luma[positions[i - 1]]));
    }
    variation[s] = tv;
  }
  RankAscending(variation, kScans, out);
}

}  // namespace blocklab
}  // namespace kiln
