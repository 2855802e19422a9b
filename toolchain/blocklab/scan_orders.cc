// The tables themselves live in block_scan_tables.c (plain C, shared with
// the feature extractor and the C example); their definitions are there.
#include "toolchain/blocklab/scan_orders.h"

namespace kiln {
namespace blocklab {

int ScanPositions(int scan, int bw, int bh, uint8_t out[64]) {
  int count = 0;
  for (int i = 0; i < kBlockSize * kBlockSize; ++i) {
    const int pos = kScanOrders[scan][i];
    if (pos % kBlockSize < bw && pos / kBlockSize < bh) out[count++] = pos;
  }
  return count;
}

int ScanSequence(int scan, int interleave, int bw, int bh,
                 uint16_t out[3 * 64]) {
  uint8_t positions[64];
  const int count = ScanPositions(scan, bw, bh, positions);
  int t = 0;
  if (interleave == 0) {
    for (int ch = 0; ch < 3; ++ch) {
      for (int i = 0; i < count; ++i) out[t++] = ch * 64 + positions[i];
    }
  } else {
    for (int i = 0; i < count; ++i) {
      for (int ch = 0; ch < 3; ++ch) out[t++] = ch * 64 + positions[i];
    }
  }
  return t;
}

}  // namespace blocklab
}  // namespace kiln
