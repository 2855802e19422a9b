// The block model's input features (block_features.h), in plain C99.
#include "toolchain/blocklab/block_features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { kCols = 10 };

static int predict(int p, int a, int b, int c, int d) {
  switch (p) {
    case 0: {
      const int lo = a < b ? a : b, hi = a < b ? b : a;
      if (c >= hi) return lo;
      if (c <= lo) return hi;
      return a + b - c;
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

// residual[ch][y * 8 + x] = int8(P - pred), 0 outside the block. The
// predictor is chosen outside the pixel loop so the loop stays branch-free.
static void residuals(const uint8_t* w, int bw, int bh, int p,
                      int residual[3][64]) {
  memset(residual, 0, sizeof(int) * 3 * 64);
  for (int y = 0; y < bh; ++y) {
    const uint8_t* row = w + (y + 1) * kCols * 3;
    const uint8_t* up = w + y * kCols * 3;
    for (int x = 0; x < bw; ++x) {
      for (int ch = 0; ch < 3; ++ch) {
        const int i = (x + 1) * 3 + ch;
        const int a = row[i - 3], b = up[i], c = up[i - 3], d = up[i + 3];
        const int v = row[i] - predict(p, a, b, c, d);
        residual[ch][y * 8 + x] = (int)(int8_t)(uint8_t)(v & 0xFF);
      }
    }
  }
}

// log2(1 + v) - log2(1 + best), clamped to [0, 8].
static float rel(double v, double best) {
  const float f = log2f((float)((1.0 + v) / (1.0 + best)));
  return f < 0.0f ? 0.0f : (f > 8.0f ? 8.0f : f);
}

// Sum of |v[pos_i] - v[pos_{i-1}]| along a scan, over the block's
// positions.
static double scan_tv(const int* v, int scan, int bw, int bh) {
  double tv = 0;
  int prev = -1;
  for (int i = 0; i < 64; ++i) {
    const int pos = kiln_block_scan_orders[scan][i];
    if ((pos & 7) >= bw || (pos >> 3) >= bh) continue;
    if (prev >= 0) tv += abs(v[pos] - v[prev]);
    prev = pos;
  }
  return tv;
}

static const uint8_t kPerm[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                    {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};

// S[i][j] = sum over the block of r_i * r_j.
static void moments(const int res[3][64], double S[3][3]) {
  for (int i = 0; i < 3; ++i)
    for (int j = i; j < 3; ++j) {
      int64_t s = 0;
      for (int k = 0; k < 64; ++k) s += res[i][k] * res[j][k];
      S[i][j] = S[j][i] = (double)s;
    }
}

// Filtered energy of every filter (dense index) as a quadratic form of S:
// after the permutation (c0, c1, c2), c1' = c1 - a c0 and
// c2' = c2 - b0 c0 - b1 c1. Returns the smallest.
static double filtered_energies(const double S[3][3], double e[96]) {
  static const double kPrimary[4] = {0, 1, 0.5, 1.5};
  static const double kSecondary[4][2] = {{0, 0}, {1, 0}, {0, 1}, {0.5, 0.5}};
  double best = 0;
  for (int f = 0; f < 96; ++f) {
    const uint8_t* q = kPerm[f >> 4];
    const double a = kPrimary[(f >> 2) & 3];
    const double b0 = kSecondary[f & 3][0], b1 = kSecondary[f & 3][1];
    const double s00 = S[q[0]][q[0]], s11 = S[q[1]][q[1]], s22 = S[q[2]][q[2]];
    const double s01 = S[q[0]][q[1]], s02 = S[q[0]][q[2]], s12 = S[q[1]][q[2]];
    double v = s00 + (s11 - 2 * a * s01 + a * a * s00) +
               (s22 + b0 * b0 * s00 + b1 * b1 * s11 - 2 * b0 * s02 -
                2 * b1 * s12 + 2 * b0 * b1 * s01);
    if (v < 0) v = 0;
    e[f] = v;
    if (f == 0 || v < best) best = v;
  }
  return best;
}

void kiln_block_filter_ranking(const uint8_t window[270], int bw, int bh,
                               int predictor, uint8_t out[96]) {
  int res[3][64];
  double S[3][3], e[96];
  residuals(window, bw, bh, predictor, res);
  moments(res, S);
  filtered_energies(S, e);
  // Insertion sort by energy, ties by index (stable).
  for (int f = 0; f < 96; ++f) {
    int j = f;
    while (j > 0 && e[out[j - 1]] > e[f]) {
      out[j] = out[j - 1];
      --j;
    }
    out[j] = (uint8_t)f;
  }
}

void kiln_block_features(const uint8_t window[270], int bw, int bh,
                         float out[KILN_BLOCK_FEATURES]) {
  // Predictor energies; keep the best predictor's residuals.
  double energy[8];
  int best = 0;
  int res[3][64], best_res[3][64];
  for (int p = 0; p < 8; ++p) {
    residuals(window, bw, bh, p, res);
    double e = 0;
    for (int ch = 0; ch < 3; ++ch)
      for (int i = 0; i < 64; ++i) e += res[ch][i] * res[ch][i];
    energy[p] = e;
    if (p == 0 || e < energy[best]) {
      best = p;
      for (int ch = 0; ch < 3; ++ch)
        for (int i = 0; i < 64; ++i) best_res[ch][i] = res[ch][i];
    }
  }
  for (int p = 0; p < 8; ++p) out[p] = rel(energy[p], energy[best]);
  out[8] = (float)(log2(1.0 + energy[best]) / 4.0);

  // Second moments of the best residuals.
  double S[3][3];
  moments(best_res, S);
  double filtered[96], fbest = filtered_energies(S, filtered);
  for (int f = 0; f < 96; ++f) out[9 + f] = rel(filtered[f], fbest);

  // Scan statistics: luma and |residual| total variation.
  int luma[64] = {0}, mag[64] = {0};
  for (int y = 0; y < bh; ++y)
    for (int x = 0; x < bw; ++x) {
      const uint8_t* px = window + ((y + 1) * kCols + x + 1) * 3;
      luma[y * 8 + x] = (px[0] + 2 * px[1] + px[2]) >> 2;
    }
  for (int k = 0; k < 64; ++k)
    mag[k] = abs(best_res[0][k]) + abs(best_res[1][k]) + abs(best_res[2][k]);
  double tv[8], rtv[8], tv_best = 0, rtv_best = 0;
  for (int s = 0; s < 8; ++s) {
    tv[s] = scan_tv(luma, s, bw, bh);
    rtv[s] = scan_tv(mag, s, bw, bh);
    if (s == 0 || tv[s] < tv_best) tv_best = tv[s];
    if (s == 0 || rtv[s] < rtv_best) rtv_best = rtv[s];
  }
  for (int s = 0; s < 8; ++s) {
    out[105 + s] = rel(tv[s], tv_best);
    out[113 + s] = rel(rtv[s], rtv_best);
  }
  const int pairs[3][2] = {{0, 1}, {0, 2}, {1, 2}};
  for (int i = 0; i < 3; ++i) {
    const double d = sqrt(S[pairs[i][0]][pairs[i][0]] * S[pairs[i][1]][pairs[i][1]]);
    out[121 + i] = d > 0 ? (float)(S[pairs[i][0]][pairs[i][1]] / d) : 0.0f;
  }
}
