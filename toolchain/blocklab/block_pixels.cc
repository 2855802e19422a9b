#include "toolchain/blocklab/block_pixels.h"

#include <string.h>

namespace kiln {
namespace blocklab {

BlockRect BlockAt(const Image& image, int32_t block) {
  BlockRect rect;
  const int32_t bx = block % image.blocks_x();
  const int32_t by = block / image.blocks_x();
  rect.x0 = bx * kBlockSize;
  rect.y0 = by * kBlockSize;
  rect.w =
      image.width - rect.x0 < kBlockSize ? image.width - rect.x0 : kBlockSize;
  rect.h =
      image.height - rect.y0 < kBlockSize ? image.height - rect.y0 : kBlockSize;
  return rect;
}

void BlockWindow(const Image& image, int32_t block, uint8_t* out) {
  const BlockRect rect = BlockAt(image, block);
  // The window is the image with zeros outside it; an edge block's missing
  // pixels lie outside the image, so they read 0 as well.
  for (int r = 0; r < kWindowRows; ++r) {
    for (int c = 0; c < kWindowCols; ++c) {
      for (int ch = 0; ch < 3; ++ch) {
        out[WindowIndex(r, c, ch)] = static_cast<uint8_t>(
            PixelOrZero(image, ch, rect.x0 - 1 + c, rect.y0 - 1 + r));
      }
    }
  }
}

void BlockResiduals(const uint8_t window[kWindowBytes], const BlockRect& rect,
                    int predictor, int8_t residual[3][64]) {
  memset(residual, 0, 3 * 64);
  for (int y = 0; y < rect.h; ++y) {
    for (int x = 0; x < rect.w; ++x) {
      // Window coordinates of the pixel: one row and one column in.
      const int r = y + 1, c = x + 1;
      for (int ch = 0; ch < 3; ++ch) {
        const int a = window[WindowIndex(r, c - 1, ch)];
        const int b = window[WindowIndex(r - 1, c, ch)];
        const int cc = window[WindowIndex(r - 1, c - 1, ch)];
        const int d = window[WindowIndex(r - 1, c + 1, ch)];
        const int p = window[WindowIndex(r, c, ch)];
        residual[ch][y * kBlockSize + x] =
            static_cast<int8_t>(p - Predict(predictor, a, b, cc, d));
      }
    }
  }
}

uint32_t ResidualEnergy(const int8_t residual[3][64]) {
  uint32_t energy = 0;
  for (int ch = 0; ch < 3; ++ch) {
    for (int i = 0; i < 64; ++i) {
      energy += static_cast<uint32_t>(residual[ch][i] * residual[ch][i]);
    }
  }
  return energy;
}

}  // namespace blocklab
}  // namespace kiln
