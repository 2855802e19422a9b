// The 8 scan orders of an 8x8 block (kScanOrders in block_coder.h): the
// order in which a block's residual positions are coded. Each is a fixed
// table so the encoder, the decoder and the search agree byte for byte.
#ifndef KILN_TOOLCHAIN_BLOCKLAB_SCAN_ORDERS_H_
#define KILN_TOOLCHAIN_BLOCKLAB_SCAN_ORDERS_H_

#include <stdint.h>

#include "toolchain/blocklab/block_coder.h"
#include "toolchain/blocklab/block_features.h"

namespace kiln {
namespace blocklab {

// kScanOrders[scan][i] = the i-th position visited, as y * 8 + x inside the
// block (x = column, y = row, origin top-left). Every row is a permutation
// of 0..63 (tests/blocklab/block_parts_test.cc checks it and regenerates
// every table from the definitions in scan_orders.cc).
inline const uint8_t (&kScanOrders)[kScans][kBlockSize * kBlockSize] =
    kiln_block_scan_orders;

// The block's positions in `scan` order, skipping those outside a bw x bh
// edge block. Returns the count (bw * bh).
int ScanPositions(int scan, int bw, int bh, uint8_t out[64]);

// The coding order of a block's 3 * bw * bh filtered residuals under
// (scan, interleave): out[t] = ch * 64 + pos, ch = filtered channel 0..2.
// Interleave 0 (planar): all of channel 0 in scan order, then 1, then 2;
// interleave 1: channels 0, 1, 2 of each position in turn. Returns the
// count.
int ScanSequence(int scan, int interleave, int bw, int bh,
                 uint16_t out[3 * 64]);

}  // namespace blocklab
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_BLOCKLAB_SCAN_ORDERS_H_
