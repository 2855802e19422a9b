// The block model's input features (block_features.h), in plain C99.
#include "toolchain/blocklab/block_features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { kCols = 10 };

// One pass over the block's pixels for predictor P, a constant in each
// loop (so the inlined kiln_block_predict folds to its one expression and
// the loop is branch-free). The residuals
// keep the window's interleaved layout, so each row is one contiguous,
// branch-free loop the compiler vectorizes: res[(y * 8 + x) * 3 + ch] =
// int8(P - pred).
#define KILN_RESIDUAL_LOOP(P)                                            \
  for (int y = 0; y < bh; ++y) {                                         \
    const uint8_t* row = w + (y + 1) * kCols * 3 + 3;                    \
    const uint8_t* up = w + y * kCols * 3 + 3;                           \
    int* out = res + y * 24;                                             \
    for (int i = 0; i < bw * 3; ++i) {                                   \
      const int a = row[i - 3], b = up[i], c = up[i - 3], d = up[i + 3]; \
      const int pred = kiln_block_predict(P, a, b, c, d);                \
      out[i] = (int)(int8_t)(uint8_t)((row[i] - pred) & 0xFF);           \
    }                                                                    \
  }

// res[(y * 8 + x) * 3 + ch] = int8(P - pred), 0 outside the block.
static void residuals(const uint8_t* w, int bw, int bh, int p, int res[192]) {
  if (bw < 8 || bh < 8) memset(res, 0, sizeof(int) * 192);
  switch (p) {
    case 0:
      KILN_RESIDUAL_LOOP(0);
      break;
    case 1:
      KILN_RESIDUAL_LOOP(1);
      break;
    case 2:
      KILN_RESIDUAL_LOOP(2);
      break;
    case 3:
      KILN_RESIDUAL_LOOP(3);
      break;
    case 4:
      KILN_RESIDUAL_LOOP(4);
      break;
    case 5:
      KILN_RESIDUAL_LOOP(5);
      break;
    case 6:
      KILN_RESIDUAL_LOOP(6);
      break;
    default:
      KILN_RESIDUAL_LOOP(7);
      break;
  }
}
#undef KILN_RESIDUAL_LOOP

// log2(x) for x >= 1 to about 3e-5: exponent plus a quintic in the
// mantissa (least-squares fit on [1, 2)). Plain float arithmetic on the bits,
// so it is the same on every machine, and much cheaper than libm's log2 (the
// features need 124).
static float fast_log2(float x) {
  union {
    float f;
    uint32_t u;
  } v = {x};
  const int e = (int)((v.u >> 23) & 0xFF) - 127;
  v.u = (v.u & 0x007FFFFFu) | 0x3F800000u;  // mantissa in [1, 2)
  const float m = v.f;
  const float p = -2.78681295f +
                  (5.04687604f +
                   (-3.49249428f +
                    (1.59390136f + (-0.40486717f + 0.04342891f * m) * m) * m) *
                       m) *
                      m;
  return (float)e + p;
}

static float lg(double v) { return fast_log2((float)(1.0 + v)); }

// log2(1 + v) - log2(1 + best) from lg(best), clamped to [0, 8].
static float rel(double v, float lg_best) {
  const float f = lg(v) - lg_best;
  return f < 0.0f ? 0.0f : (f > 8.0f ? 8.0f : f);
}

// Sum of |v[pos_i] - v[pos_{i-1}]| along a scan, over the block's
// positions.
static double scan_tv(const int* v, int scan, int bw, int bh) {
  const uint8_t* order = kiln_block_scan_orders[scan];
  if (bw == 8 && bh == 8) {
    int tv = 0;
    for (int i = 1; i < 64; ++i) tv += abs(v[order[i]] - v[order[i - 1]]);
    return tv;
  }
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
static void moments(const int res[192], double S[3][3]) {
  int s[6] = {0, 0, 0, 0, 0, 0};  // |sum| <= 64 * 128 * 128: fits int
  for (int k = 0; k < 64; ++k) {
    const int r0 = res[k * 3], r1 = res[k * 3 + 1], r2 = res[k * 3 + 2];
    s[0] += r0 * r0;
    s[1] += r1 * r1;
    s[2] += r2 * r2;
    s[3] += r0 * r1;
    s[4] += r0 * r2;
    s[5] += r1 * r2;
  }
  S[0][0] = s[0];
  S[1][1] = s[1];
  S[2][2] = s[2];
  S[0][1] = S[1][0] = s[3];
  S[0][2] = S[2][0] = s[4];
  S[1][2] = S[2][1] = s[5];
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

void kiln_block_features(const uint8_t window[270], int bw, int bh,
                         float out[KILN_BLOCK_FEATURES]) {
  // Predictor energies; keep the best predictor's residuals.
  double energy[8];
  int best = 0;
  int res[192], best_res[192];
  for (int p = 0; p < 8; ++p) {
    residuals(window, bw, bh, p, res);
    int e = 0;
    for (int i = 0; i < 192; ++i) e += res[i] * res[i];
    energy[p] = e;
    if (p == 0 || e < energy[best]) {
      best = p;
      memcpy(best_res, res, sizeof(res));
    }
  }
  const float lg_energy = lg(energy[best]);
  for (int p = 0; p < 8; ++p) out[p] = rel(energy[p], lg_energy);
  out[8] = lg_energy / 4.0f;

  // Second moments of the best residuals.
  double S[3][3];
  moments(best_res, S);
  double filtered[96], fbest = filtered_energies(S, filtered);
  const float lg_filtered = lg(fbest);
  for (int f = 0; f < 96; ++f) out[9 + f] = rel(filtered[f], lg_filtered);

  // Scan statistics: luma and |residual| total variation.
  int luma[64] = {0}, mag[64] = {0};
  for (int y = 0; y < bh; ++y)
    for (int x = 0; x < bw; ++x) {
      const uint8_t* px = window + ((y + 1) * kCols + x + 1) * 3;
      luma[y * 8 + x] = (px[0] + 2 * px[1] + px[2]) >> 2;
    }
  for (int k = 0; k < 64; ++k)
    mag[k] = abs(best_res[k * 3]) + abs(best_res[k * 3 + 1]) +
             abs(best_res[k * 3 + 2]);
  double tv[8], rtv[8], tv_best = 0, rtv_best = 0;
  for (int s = 0; s < 8; ++s) {
    tv[s] = scan_tv(luma, s, bw, bh);
    rtv[s] = scan_tv(mag, s, bw, bh);
    if (s == 0 || tv[s] < tv_best) tv_best = tv[s];
    if (s == 0 || rtv[s] < rtv_best) rtv_best = rtv[s];
  }
  const float lg_tv = lg(tv_best), lg_rtv = lg(rtv_best);
  for (int s = 0; s < 8; ++s) {
    out[105 + s] = rel(tv[s], lg_tv);
    out[113 + s] = rel(rtv[s], lg_rtv);
  }
  const int pairs[3][2] = {{0, 1}, {0, 2}, {1, 2}};
  for (int i = 0; i < 3; ++i) {
    const double d =
        sqrt(S[pairs[i][0]][pairs[i][0]] * S[pairs[i][1]][pairs[i][1]]);
    out[121 + i] = d > 0 ? (float)(S[pairs[i][0]][pairs[i][1]] / d) : 0.0f;
  }
}
