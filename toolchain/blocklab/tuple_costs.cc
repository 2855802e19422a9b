// AllTupleBits (guided_search.h): every tuple's residual bits, sixteen
// filters at a time through the coder's lane-parallel Golomb estimator, so
// a whole cost table costs about what one exhaustive search does.
#include <string.h>

#include "toolchain/blocklab/block_pixels.h"
#include "toolchain/blocklab/colour_filter.h"
#include "toolchain/blocklab/golomb_rice.h"
#include "toolchain/blocklab/guided_search.h"
#include "toolchain/blocklab/scan_orders.h"

namespace kiln {
namespace blocklab {

static_assert(kFilters % kGolombLanes == 0,
              "filters come in whole lane groups");

void AllTupleBits(const Image& image, int32_t block, uint16_t* out) {
  const BlockRect rect = BlockAt(image, block);
  uint8_t window[kWindowBytes];
  BlockWindow(image, block, window);
  // Coding orders of every (scan, interleave), as lane offsets.
  uint16_t offsets[kScans][kInterleaves][3 * 64];
  int count = 0;
  for (int s = 0; s < kScans; ++s)
    for (int l = 0; l < kInterleaves; ++l) {
      uint16_t seq[3 * 64];
      count = ScanSequence(s, l, rect.w, rect.h, seq);
      for (int t = 0; t < count; ++t)
        offsets[s][l][t] = static_cast<uint16_t>(seq[t] * kGolombLanes);
    }
  // lanes[(ch * 64 + pos) * 16 + lane]: zigzag of filter (group * 16 +
  // lane)'s residual at that channel and position.
  alignas(64) int16_t lanes[3 * 64 * kGolombLanes];
  for (int p = 0; p < kPredictors; ++p) {
    int8_t residual[3][64];
    BlockResiduals(window, rect, p, residual);
    for (int g = 0; g < kFilters / kGolombLanes; ++g) {
      for (int lane = 0; lane < kGolombLanes; ++lane) {
        int8_t filtered[3][64];
        FilterBlock(residual, FilterCodeAt(g * kGolombLanes + lane), filtered);
        for (int ch = 0; ch < 3; ++ch)
          for (int pos = 0; pos < 64; ++pos)
            lanes[(ch * 64 + pos) * kGolombLanes + lane] =
                static_cast<int16_t>(ZigZag(filtered[ch][pos]));
      }
      for (int s = 0; s < kScans; ++s)
        for (int l = 0; l < kInterleaves; ++l) {
          uint16_t bits[kGolombLanes];
          EstimateGolombBitsLanes(lanes, offsets[s][l], count, bits);
          for (int lane = 0; lane < kGolombLanes; ++lane) {
            const int f = FilterCodeAt(g * kGolombLanes + lane);
            out[TupleIndex(p, f, s, l)] = bits[lane];
          }
        }
    }
  }
}

}  // namespace blocklab
}  // namespace kiln
