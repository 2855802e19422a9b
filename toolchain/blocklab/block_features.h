/* Cheap pixel statistics of a block: the block model's input (plain C99,
 * shared by the toolchain and by codecs that link only libkiln.a; see
 * examples/block_predict). Everything is computed from the block's 9x10x3
 * window (block_coder.h) alone, never from a search result:
 *
 *   [0..7]     per predictor: log2(1 + residual energy) relative to the best
 *   [8]        log2(1 + the best predictor's energy) / 4
 *   [9..104]   per colour filter (dense index, perm-major), under the best
 *              predictor: log2(1 + filtered energy) relative to the best
 *              filter. The energies come from the residuals' 3x3 second
 *              moments (every filter is linear in the channels, so its
 *              energy is a quadratic form of them; int8 wrap-around and the
 *              halvings' rounding are ignored)
 *   [105..112] per scan: log2(1 + luma total variation) relative to the best
 *   [113..120] per scan: log2(1 + total variation of |residual|, best
 *              predictor, channels summed) relative to the best
 *   [121..123] correlations of the best predictor's residual channels
 *              (RG, RB, GB), in [-1, 1]
 *   [124..131] per predictor: log2(1 + sum of |residual|) relative to the
 *              smallest sum. The adaptive Golomb-Rice coder's bits follow
 *              the residuals' magnitudes, not their squares, so this ranks
 *              predictors closer to their cost than the energy does
 *              (docs/block_model.md)
 *
 * Relative values are clamped to [0, 8]. Deterministic: IEEE float in a
 * fixed order; compile with -ffp-contract=off (no fused multiply-add, which
 * GCC uses by default on AArch64) and without -ffast-math, and x86-64 and
 * AArch64 give the same bytes. */
#ifndef KILN_TOOLCHAIN_BLOCKLAB_BLOCK_FEATURES_H_
#define KILN_TOOLCHAIN_BLOCKLAB_BLOCK_FEATURES_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_BLOCK_FEATURES 132
/* Where the per-predictor magnitude features start. */
#define KILN_BLOCK_MAGNITUDE_FEATURES 124

/* The prediction of `predictor` (0..7) from the neighbours a = left,
 * b = top, c = top-left, d = top-right (block_coder.h): the one definition
 * the coder (block_pixels.h) and the features share. */
static inline int kiln_block_predict(int predictor, int a, int b, int c,
                                     int d) {
  switch (predictor) {
    case 0: {
      /* MED: lo if c >= hi, hi if c <= lo, else a + b - c; that is the
       * median of a, b and a + b - c, written as min/max so that loops over
       * pixels vectorize (no branches). */
      const int lo = a < b ? a : b, hi = a < b ? b : a;
      const int g = a + b - c;
      const int m = g < hi ? g : hi;
      return m > lo ? m : lo;
    }
    case 1:
      return (a + c + 1) >> 1;
    case 2:
      return (b + c + 1) >> 1;
    case 3:
      return (b + d + 1) >> 1;
    case 4:
      return a;
    case 5:
      return b;
    case 6:
      return c;
    default:
      return d;
  }
}

/* Scan orders (block_scan_tables.c). */
extern const uint8_t kiln_block_scan_orders[8][64];

/* window: rows y0-1..y0+7, columns x0-1..x0+8, RGB, 0 outside the image;
 * bw, bh: the block's size (1..8; smaller at the right and bottom edges). */
void kiln_block_features(const uint8_t window[270], int bw, int bh,
                         float out[KILN_BLOCK_FEATURES]);

#ifdef __cplusplus
}
#endif

#endif /* KILN_TOOLCHAIN_BLOCKLAB_BLOCK_FEATURES_H_ */
