// The 8 scan orders of an 8x8 block, in plain C (C99) so that the coder
// (scan_orders.h: kScanOrders refers to this table), the block feature
// extractor and the C example (examples/block_predict) share one copy.
// kiln_block_scan_orders[scan][i] = the i-th position visited, y * 8 + x.
// The tables are written out rather than generated so that the format is
// readable from the source; their definitions:
//
// 0 Hilbert: the order-3 Hilbert curve of the classic iterative d2xy
//   construction (for each level s = 1, 2, 4: rx = 1 & (t / 2),
//   ry = 1 & (t ^ rx); if ry == 0 { if rx == 1 reflect x, y within s;
//   swap x, y }; x += s * rx; y += s * ry; t /= 4). It starts at (0,0),
//   goes down to (0,1), ends at (7,0); every step moves to a 4-neighbour.
// 1 zigzag diagonal: JPEG's zigzag. Lines x + y = t, t = 0..14; even t is
//   walked with x ascending (bottom-left to top-right), odd t with x
//   descending: (0,0) (1,0) (0,1) (0,2) (1,1) (2,0) ...
// 2 zigzag anti-diagonal: order 1 mirrored left-right (x -> 7 - x): lines
//   x - y = const, starting at the top-right corner.
// 3 horizontal boustrophedon: rows top to bottom, even rows left to right,
//   odd rows right to left.
// 4 vertical boustrophedon: columns left to right, even columns top to
//   bottom, odd columns bottom to top.
// Skewed zigzags: the positions are grouped into lines a * x + b * y = s,
// lines visited by ascending s; the t-th non-empty line (t = 0, 1, ...) is
// walked with x ascending when t is even, x descending when t is odd.
// 5 skewed zigzag x + 2y (a = 1, b = 2: shallow lines, 22 of them).
// 6 skewed zigzag 2x + y (a = 2, b = 1: steep lines, 22 of them).
// 7 order 5 mirrored left-right (x -> 7 - x).
#include "toolchain/blocklab/block_features.h"

// clang-format off
const uint8_t kiln_block_scan_orders[8][64] = {
    // 0 Hilbert
    {0, 8, 9, 1, 2, 3, 11, 10, 18, 19, 27, 26, 25, 17, 16, 24,
     32, 33, 41, 40, 48, 56, 57, 49, 50, 58, 59, 51, 43, 42, 34, 35,
     36, 37, 45, 44, 52, 60, 61, 53, 54, 62, 63, 55, 47, 46, 38, 39,
     31, 23, 22, 30, 29, 28, 20, 21, 13, 12, 4, 5, 6, 14, 15, 7},
    // 1 zigzag diagonal
    {0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
     12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
     35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
     58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63},
    // 2 zigzag anti-diagonal
    {7, 6, 15, 23, 14, 5, 4, 13, 22, 31, 39, 30, 21, 12, 3, 2,
     11, 20, 29, 38, 47, 55, 46, 37, 28, 19, 10, 1, 0, 9, 18, 27,
     36, 45, 54, 63, 62, 53, 44, 35, 26, 17, 8, 16, 25, 34, 43, 52,
     61, 60, 51, 42, 33, 24, 32, 41, 50, 59, 58, 49, 40, 48, 57, 56},
    // 3 horizontal boustrophedon
    {0, 1, 2, 3, 4, 5, 6, 7, 15, 14, 13, 12, 11, 10, 9, 8,
     16, 17, 18, 19, 20, 21, 22, 23, 31, 30, 29, 28, 27, 26, 25, 24,
     32, 33, 34, 35, 36, 37, 38, 39, 47, 46, 45, 44, 43, 42, 41, 40,
     48, 49, 50, 51, 52, 53, 54, 55, 63, 62, 61, 60, 59, 58, 57, 56},
    // 4 vertical boustrophedon
    {0, 8, 16, 24, 32, 40, 48, 56, 57, 49, 41, 33, 25, 17, 9, 1,
     2, 10, 18, 26, 34, 42, 50, 58, 59, 51, 43, 35, 27, 19, 11, 3,
     4, 12, 20, 28, 36, 44, 52, 60, 61, 53, 45, 37, 29, 21, 13, 5,
     6, 14, 22, 30, 38, 46, 54, 62, 63, 55, 47, 39, 31, 23, 15, 7},
    // 5 skewed zigzag x + 2y
    {0, 1, 8, 2, 3, 9, 16, 10, 4, 5, 11, 17, 24, 18, 12, 6,
     7, 13, 19, 25, 32, 26, 20, 14, 15, 21, 27, 33, 40, 34, 28, 22,
     23, 29, 35, 41, 48, 42, 36, 30, 31, 37, 43, 49, 56, 50, 44, 38,
     39, 45, 51, 57, 58, 52, 46, 47, 53, 59, 60, 54, 55, 61, 62, 63},
    // 6 skewed zigzag 2x + y
    {0, 8, 16, 1, 9, 24, 32, 17, 2, 10, 25, 40, 48, 33, 18, 3,
     11, 26, 41, 56, 49, 34, 19, 4, 12, 27, 42, 57, 50, 35, 20, 5,
     13, 28, 43, 58, 51, 36, 21, 6, 14, 29, 44, 59, 52, 37, 22, 7,
     15, 30, 45, 60, 53, 38, 23, 31, 46, 61, 54, 39, 47, 62, 55, 63},
    // 7 skewed zigzag x + 2y, mirrored
    {7, 6, 15, 5, 4, 14, 23, 13, 3, 2, 12, 22, 31, 21, 11, 1,
     0, 10, 20, 30, 39, 29, 19, 9, 8, 18, 28, 38, 47, 37, 27, 17,
     16, 26, 36, 46, 55, 45, 35, 25, 24, 34, 44, 54, 63, 53, 43, 33,
     32, 42, 52, 62, 61, 51, 41, 40, 50, 60, 59, 49, 48, 58, 57, 56},
};
// clang-format on
