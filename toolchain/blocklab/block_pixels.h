// A block's pixels as the predictors see them: its geometry, its 9x10x3
// context window and its per-channel predictor residuals. Both the search
// and the codec go through here so they cannot disagree on a neighbour.
#ifndef KILN_TOOLCHAIN_BLOCKLAB_BLOCK_PIXELS_H_
#define KILN_TOOLCHAIN_BLOCKLAB_BLOCK_PIXELS_H_

#include <stdint.h>

#include "toolchain/blocklab/block_coder.h"
#include "toolchain/blocklab/block_features.h"

namespace kiln {
namespace blocklab {

// Image size limits shared by the files and the stream: a side fits the
// 32-bit header with room to spare, and the pixel count bounds what a
// (possibly hostile) header can make a reader allocate.
constexpr int32_t kMaxImageSide = 1 << 15;
constexpr int64_t kMaxImagePixels = int64_t{1} << 28;

struct BlockRect {
  int x0 = 0, y0 = 0;  // top-left pixel
  int w = 0, h = 0;    // 1..8 (smaller at the right and bottom edges)
};
BlockRect BlockAt(const Image& image, int32_t block);

// P(ch, x, y) with 0 outside the image.
inline int PixelOrZero(const Image& image, int ch, int x, int y) {
  if (x < 0 || y < 0 || x >= image.width || y >= image.height) return 0;
  return image.rgb[(static_cast<size_t>(y) * image.width + x) * 3 + ch];
}

// The prediction of `predictor` from a = left, b = top, c = top-left,
// d = top-right (block_coder.h).
inline int Predict(int predictor, int a, int b, int c, int d) {
  return kiln_block_predict(predictor, a, b, c, d);
}

// Window byte of channel ch at window row r (0 = the row above the block)
// and column c (0 = the column left of it): (r * kWindowCols + c) * 3 + ch.
inline int WindowIndex(int r, int c, int ch) {
  return (r * kWindowCols + c) * 3 + ch;
}

// residual[ch][y * 8 + x] = int8(P - pred) for the block's pixels, 0 at
// positions outside an edge block. `window` is BlockWindow's output.
void BlockResiduals(const uint8_t window[kWindowBytes], const BlockRect& rect,
                    int predictor, int8_t residual[3][64]);

// Sum of squares of the residuals over the block's pixels (its "energy").
uint32_t ResidualEnergy(const int8_t residual[3][64]);
// Sum of their absolute values (the block model's magnitude features).
uint32_t ResidualMagnitude(const int8_t residual[3][64]);

}  // namespace blocklab
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_BLOCKLAB_BLOCK_PIXELS_H_
