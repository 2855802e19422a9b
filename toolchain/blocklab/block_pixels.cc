#include "toolchain/blocklab/block_pixels.h"

#include <string.h>

#include <cstdlib>

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
  // pixels lie outside the image, so they read 0 as well. Row by row: the
  // columns inside the image are one contiguous run of the interleaved RGB
  // row (one memcpy), the rest zeros. The guided encode extracts a window
  // per block inside the model's timed section, so this is not a per-byte
  // loop with bounds checks.
  const int x_first = rect.x0 - 1;  // image column of window column 0
  const int c_lo = x_first < 0 ? -x_first : 0;
  const int c_hi =
      image.width - x_first < kWindowCols ? image.width - x_first : kWindowCols;
  for (int r = 0; r < kWindowRows; ++r) {
    uint8_t* dst = out + WindowIndex(r, 0, 0);
    const int y = rect.y0 - 1 + r;
    if (y < 0 || y >= image.height || c_hi <= c_lo) {
      memset(dst, 0, kWindowCols * 3);
      continue;
    }
    memset(dst, 0, static_cast<size_t>(c_lo) * 3);
    memcpy(dst + c_lo * 3,
           image.rgb.data() +
               (static_cast<size_t>(y) * image.width + x_first + c_lo) * 3,
           static_cast<size_t>(c_hi - c_lo) * 3);
    memset(dst + c_hi * 3, 0, static_cast<size_t>(kWindowCols - c_hi) * 3);
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

uint32_t ResidualMagnitude(const int8_t residual[3][64]) {
  uint32_t magnitude = 0;
  for (int ch = 0; ch < 3; ++ch) {
    for (int i = 0; i < 64; ++i) {
      magnitude += static_cast<uint32_t>(std::abs(residual[ch][i]));
    }
  }
  return magnitude;
}

}  // namespace blocklab
}  // namespace kiln
