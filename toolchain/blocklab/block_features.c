// The block model's input features (block_features.h), in plain C99.
//
// A codec may compile this file alone: it then defines kiln_block_features
// for its target. Kiln's own builds on x86-64 also compile it a second time
// for AVX2 (block_features__avx2.c, which includes this file with
// KILN_BLOCK_FEATURES_ENTRY set) and define KILN_BLOCK_FEATURES_AVX2 here,
// so kiln_block_features picks that copy at run time on CPUs that have
// AVX2: the same C with wider vectors, ~30% faster; element-wise IEEE
// operations without contraction give the same bytes (tested).
#include "toolchain/blocklab/block_features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(KILN_BLOCK_FEATURES_ENTRY)
#define KILN_FEATURES_IMPL KILN_BLOCK_FEATURES_ENTRY
#elif defined(KILN_BLOCK_FEATURES_AVX2) && defined(__x86_64__)
#define KILN_FEATURES_IMPL kiln_block_features__portable
#define KILN_FEATURES_DISPATCH 1
#else
#define KILN_FEATURES_IMPL kiln_block_features
#endif

// The implementation's own prototype (it may be renamed above).
void KILN_FEATURES_IMPL(const uint8_t window[270], int bw, int bh,
                        float out[KILN_BLOCK_FEATURES]);

enum { kCols = 10 };

// One pass over the block's pixels for predictor P, a constant in each
// loop (so the inlined kiln_block_predict folds to its one expression and
// the loop is branch-free), over BH rows of BW3 values. The residuals
// keep the window's interleaved layout, so each row is one contiguous,
// branch-free loop the compiler vectorizes: res[(y * 8 + x) * 3 + ch] =
// int8(P - pred). (Summing the squares in the same loop measured slower:
// the compiler then stops vectorizing the stores.)
#define KILN_RESIDUAL_LOOP(P, BH, BW3)                                      \
  for (int y = 0; y < (BH); ++y) {                                          \
    const uint8_t* row = w + (y + 1) * kCols * 3 + 3;                       \
    const uint8_t* up = w + y * kCols * 3 + 3;                              \
    int16_t* out = res + y * 24;                                            \
    for (int i = 0; i < (BW3); ++i) {                                       \
      const int a = row[i - 3], b = up[i], c = up[i - 3], d = up[i + 3];    \
      const int pred = kiln_block_predict(P, a, b, c, d);                   \
      const int16_t r = (int16_t)(int8_t)(uint8_t)((row[i] - pred) & 0xFF); \
      out[i] = r;                                                           \
    }                                                                       \
  }

// Full blocks get constant trip counts (8 rows of 24), which the compiler
// unrolls and vectorizes without remainder loops.
#define KILN_RESIDUAL_CASE(P)            \
  case P:                                \
    if (full) {                          \
      KILN_RESIDUAL_LOOP(P, 8, 24);      \
    } else {                             \
      KILN_RESIDUAL_LOOP(P, bh, bw * 3); \
    }                                    \
    break;

// res[(y * 8 + x) * 3 + ch] = int8(P - pred), 0 outside the block; returns
// the sum of their squares (<= 192 * 128^2: fits int, vectorized pmaddwd)
// and sets *magnitude to the sum of their absolute values.
static int residuals(const uint8_t* w, int bw, int bh, int p, int16_t res[192],
                     int* magnitude) {
  const int full = bw == 8 && bh == 8;
  if (!full) memset(res, 0, sizeof(int16_t) * 192);
  int e = 0;
  switch (p) {
    KILN_RESIDUAL_CASE(0)
    KILN_RESIDUAL_CASE(1)
    KILN_RESIDUAL_CASE(2)
    KILN_RESIDUAL_CASE(3)
    KILN_RESIDUAL_CASE(4)
    KILN_RESIDUAL_CASE(5)
    KILN_RESIDUAL_CASE(6)
    default:
      KILN_RESIDUAL_CASE(7)
  }
  // |r| as r * sign(r): both sums are then int16 products summed into
  // int32, one pmaddwd each (abs() measured twice as slow: it widens first).
  int m = 0;
  for (int i = 0; i < 192; ++i) {
    const int16_t r = res[i];
    const int16_t sign = (int16_t)((r >> 15) | 1);
    e += r * r;
    m += r * sign;
  }
  *magnitude = m;
  return e;
}
#undef KILN_RESIDUAL_CASE
#undef KILN_RESIDUAL_LOOP

// log2(x) for x >= 1 to about 3e-5: exponent plus a quintic in the
// mantissa (least-squares fit on [1, 2)). Plain float arithmetic on the bits,
// so it is the same on every machine, and much cheaper than libm's log2 (the
// features need 132).
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

// out[i] = log2(1 + v[i]) - lg_best clamped to [0, 8], for n values: the
// same operations in the same order as lg and fast_log2, with the bit casts as
// memcpy so the loop vectorizes (element-wise IEEE operations give the same
// bits in any lane).
static void rel_array(const double* v, int n, float lg_best, float* out) {
  for (int i = 0; i < n; ++i) {
    const float x = (float)(1.0 + v[i]);
    uint32_t u;
    memcpy(&u, &x, sizeof(u));
    const int e = (int)((u >> 23) & 0xFF) - 127;
    u = (u & 0x007FFFFFu) | 0x3F800000u;
    float m;
    memcpy(&m, &u, sizeof(m));
    const float p =
        -2.78681295f +
        (5.04687604f +
         (-3.49249428f +
          (1.59390136f + (-0.40486717f + 0.04342891f * m) * m) * m) *
             m) *
            m;
    const float f = ((float)e + p) - lg_best;
    out[i] = f < 0.0f ? 0.0f : (f > 8.0f ? 8.0f : f);
  }
}

// Sum of |v[pos_i] - v[pos_{i-1}]| along a scan, over the block's
// positions (edge blocks; full blocks walk both totals at once).
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

// Full blocks: the 8 scans take 504 steps, but every step a -> b joins two
// positions whose index difference |a - b| is one of only 7 offsets, so the
// step costs are computed once per (offset, position) with vector code and
// each scan's total is a sum of table entries. kScanSteps[s][i] is
// slot * 64 + min(a, b) for the i-th step of scan s, slot = the offset's
// index in kStepOffsets (derived from kiln_block_scan_orders; the feature
// hashes in tests/blocklab/block_features_test.cc check every entry).
enum { kStepSlots = 7 };
static const int kStepOffsets[kStepSlots] = {1, 6, 7, 8, 9, 10, 15};
// clang-format off
static const uint16_t kScanSteps[8][63] = {
    {192, 8, 193, 1, 2, 195, 10, 202, 18, 211, 26, 25, 209, 16, 208, 216, 32, 225, 40, 232, 240, 56, 241, 49, 242, 58, 243, 235, 42, 226, 34, 35, 36, 229, 44, 236, 244, 60, 245, 53, 246, 62, 247, 239, 46, 230, 38, 223, 215, 22, 214, 29, 28, 212, 20, 205, 12, 196, 4, 5, 198, 14, 199},
    {0, 129, 200, 137, 130, 2, 131, 138, 145, 216, 153, 146, 139, 132, 4, 133, 140, 147, 154, 161, 232, 169, 162, 155, 148, 141, 134, 6, 135, 142, 149, 156, 163, 170, 177, 56, 178, 171, 164, 157, 150, 143, 207, 151, 158, 165, 172, 179, 58, 180, 173, 166, 159, 223, 167, 174, 181, 60, 182, 175, 239, 183, 62},
    {6, 262, 207, 270, 261, 4, 260, 269, 278, 223, 286, 277, 268, 259, 2, 258, 267, 276, 285, 294, 239, 302, 293, 284, 275, 266, 257, 0, 256, 265, 274, 283, 292, 301, 310, 62, 309, 300, 291, 282, 273, 264, 200, 272, 281, 290, 299, 308, 60, 307, 298, 289, 280, 216, 288, 297, 306, 58, 305, 296, 232, 304, 56},
    {0, 1, 2, 3, 4, 5, 6, 199, 14, 13, 12, 11, 10, 9, 8, 200, 16, 17, 18, 19, 20, 21, 22, 215, 30, 29, 28, 27, 26, 25, 24, 216, 32, 33, 34, 35, 36, 37, 38, 231, 46, 45, 44, 43, 42, 41, 40, 232, 48, 49, 50, 51, 52, 53, 54, 247, 62, 61, 60, 59, 58, 57, 56},
    {192, 200, 208, 216, 224, 232, 240, 56, 241, 233, 225, 217, 209, 201, 193, 1, 194, 202, 210, 218, 226, 234, 242, 58, 243, 235, 227, 219, 211, 203, 195, 3, 196, 204, 212, 220, 228, 236, 244, 60, 245, 237, 229, 221, 213, 205, 197, 5, 198, 206, 214, 222, 230, 238, 246, 62, 247, 239, 231, 223, 215, 207, 199},
    {0, 129, 66, 2, 67, 137, 74, 68, 4, 69, 75, 145, 82, 76, 70, 6, 71, 77, 83, 153, 90, 84, 78, 14, 79, 85, 91, 161, 98, 92, 86, 22, 87, 93, 99, 169, 106, 100, 94, 30, 95, 101, 107, 177, 114, 108, 102, 38, 103, 109, 115, 57, 116, 110, 46, 111, 117, 59, 118, 54, 119, 61, 62},
    {192, 200, 385, 193, 393, 216, 401, 386, 194, 394, 409, 232, 417, 402, 387, 195, 395, 410, 425, 177, 418, 403, 388, 196, 396, 411, 426, 178, 419, 404, 389, 197, 397, 412, 427, 179, 420, 405, 390, 198, 398, 413, 428, 180, 421, 406, 391, 199, 399, 414, 429, 181, 422, 407, 215, 415, 430, 182, 423, 231, 431, 183, 247},
    {6, 262, 325, 4, 324, 270, 333, 323, 2, 322, 332, 278, 341, 331, 321, 0, 320, 330, 340, 286, 349, 339, 329, 8, 328, 338, 348, 294, 357, 347, 337, 16, 336, 346, 356, 302, 365, 355, 345, 24, 344, 354, 364, 310, 373, 363, 353, 32, 352, 362, 372, 61, 371, 361, 40, 360, 370, 59, 369, 48, 368, 57, 56},
};
// clang-format on

// tv[s], rtv[s] of full blocks: luma and |residual| total variation of every
// scan. Both differences of a step are packed in one uint32 (luma low, the
// residual magnitudes high: at most 63 * 255 and 63 * 384, so neither half
// carries into the other), one table add per step; integer sums, so the
// totals equal the walk of scan_tv exactly.
static void scan_tvs_full(const int luma[64], const int mag[64], double tv[8],
                          double rtv[8]) {
  int16_t l[64 + 16], m[64 + 16];  // padded: k + offset may pass 63
  for (int k = 0; k < 64; ++k) {
    l[k] = (int16_t)luma[k];
    m[k] = (int16_t)mag[k];
  }
  memset(l + 64, 0, sizeof(int16_t) * 16);
  memset(m + 64, 0, sizeof(int16_t) * 16);
  uint32_t diff[kStepSlots][64];
  for (int slot = 0; slot < kStepSlots; ++slot) {
    const int d = kStepOffsets[slot];
    // int16 arithmetic (|differences| <= 384), so the loop runs 8 lanes
    // per SSE2 vector instead of 4.
    uint16_t dl[64], dm[64];
    for (int k = 0; k < 64; ++k) {
      const int16_t x = (int16_t)(l[k + d] - l[k]);
      const int16_t y = (int16_t)(m[k + d] - m[k]);
      dl[k] = (uint16_t)(x < 0 ? -x : x);
      dm[k] = (uint16_t)(y < 0 ? -y : y);
    }
    for (int k = 0; k < 64; ++k)
      diff[slot][k] = (uint32_t)dl[k] | ((uint32_t)dm[k] << 16);
  }
  const uint32_t* flat = &diff[0][0];
  for (int s = 0; s < 8; ++s) {
    uint32_t sum = 0;
    for (int i = 0; i < 63; ++i) sum += flat[kScanSteps[s][i]];
    tv[s] = (double)(sum & 0xFFFFu);
    rtv[s] = (double)(sum >> 16);
  }
}

static const uint8_t kPerm[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                    {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};

// S[i][j] = sum over the block of r_i * r_j.
static void moments(const int16_t res[192], double S[3][3]) {
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
//
// Computed in integers, times 4: a is 0, 1, 1/2 or 3/2 and b0, b1 are 0, 1
// or 1/2, so every term of the form is a multiple of 1/4, and |S| <= 2^20
// (64 residuals of at most 128^2) keeps every partial sum below 2^24. The
// double evaluation this replaces was therefore exact in any order, and
// 4v fits int32 with room to spare: e[f] = (4v) / 4 is the same double,
// bit for bit, and the loop vectorizes.
static double filtered_energies(const double S[3][3], double e[96]) {
  // Per (primary, secondary) j = f & 15, the coefficients of s00, s11, s01,
  // s02, s12 in 4v (s22's is always 4): 4 + 4a^2 + 4b0^2, 4 + 4b1^2,
  // -8a + 8 b0 b1, -8 b0, -8 b1, with a = {0, 1, 1/2, 3/2}[j >> 2] and
  // (b0, b1) = {(0, 0), (1, 0), (0, 1), (1/2, 1/2)}[j & 3]. One loop of 16
  // per permutation, so it vectorizes.
  static const int32_t k00[16] = {4, 8, 4, 5, 8,  12, 8,  9,
                                  5, 9, 5, 6, 13, 17, 13, 14};
  static const int32_t k11[16] = {4, 4, 8, 5, 4, 4, 8, 5,
                                  4, 4, 8, 5, 4, 4, 8, 5};
  static const int32_t k01[16] = {0,  0,  0,  2,  -8,  -8,  -8,  -6,
                                  -4, -4, -4, -2, -12, -12, -12, -10};
  static const int32_t k02[16] = {0, -8, 0, -4, 0, -8, 0, -4,
                                  0, -8, 0, -4, 0, -8, 0, -4};
  static const int32_t k12[16] = {0, 0, -8, -4, 0, 0, -8, -4,
                                  0, 0, -8, -4, 0, 0, -8, -4};
  int32_t s[3][3];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) s[i][j] = (int32_t)S[i][j];
  int32_t v4[96];
  for (int perm = 0; perm < 6; ++perm) {
    const uint8_t* q = kPerm[perm];
    const int32_t s00 = s[q[0]][q[0]], s11 = s[q[1]][q[1]], s22 = s[q[2]][q[2]];
    const int32_t s01 = s[q[0]][q[1]], s02 = s[q[0]][q[2]], s12 = s[q[1]][q[2]];
    int32_t* v = v4 + perm * 16;
    for (int j = 0; j < 16; ++j) {
      const int32_t x = k00[j] * s00 + k11[j] * s11 + 4 * s22 + k01[j] * s01 +
                        k02[j] * s02 + k12[j] * s12;
      v[j] = x < 0 ? 0 : x;
    }
  }
  int32_t best = v4[0];
  for (int f = 0; f < 96; ++f) {
    e[f] = (double)v4[f] * 0.25;
    best = v4[f] < best ? v4[f] : best;
  }
  return (double)best * 0.25;
}

void KILN_FEATURES_IMPL(const uint8_t window[270], int bw, int bh,
                        float out[KILN_BLOCK_FEATURES]) {
  // Predictor energies; keep the best predictor's residuals.
  double energy[8], magnitude[8];
  int best = 0, least_magnitude = 0;
  // Two buffers: the best predictor's residuals stay where they are and the
  // next predictor writes into the other one (no copy).
  int16_t buffers[2][192];
  int16_t* res = buffers[0];
  const int16_t* best_res = buffers[1];
  for (int p = 0; p < 8; ++p) {
    int m;
    const int e = residuals(window, bw, bh, p, res, &m);
    energy[p] = e;
    magnitude[p] = m;
    if (p == 0 || m < least_magnitude) least_magnitude = m;
    if (p == 0 || e < energy[best]) {
      best = p;
      int16_t* const previous = (int16_t*)best_res;
      best_res = res;
      res = previous;
    }
  }
  const float lg_energy = lg(energy[best]);
  rel_array(energy, 8, lg_energy, out);
  out[8] = lg_energy / 4.0f;
  rel_array(magnitude, 8, lg(least_magnitude),
            out + KILN_BLOCK_MAGNITUDE_FEATURES);

  // Second moments of the best residuals.
  double S[3][3];
  moments(best_res, S);
  double filtered[96], fbest = filtered_energies(S, filtered);
  const float lg_filtered = lg(fbest);
  rel_array(filtered, 96, lg_filtered, out + 9);

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
  if (bw == 8 && bh == 8) {
    scan_tvs_full(luma, mag, tv, rtv);
  } else {
    for (int s = 0; s < 8; ++s) {
      tv[s] = scan_tv(luma, s, bw, bh);
      rtv[s] = scan_tv(mag, s, bw, bh);
    }
  }
  for (int s = 0; s < 8; ++s) {
    if (s == 0 || tv[s] < tv_best) tv_best = tv[s];
    if (s == 0 || rtv[s] < rtv_best) rtv_best = rtv[s];
  }
  const float lg_tv = lg(tv_best), lg_rtv = lg(rtv_best);
  rel_array(tv, 8, lg_tv, out + 105);
  rel_array(rtv, 8, lg_rtv, out + 113);
  const int pairs[3][2] = {{0, 1}, {0, 2}, {1, 2}};
  for (int i = 0; i < 3; ++i) {
    const double d =
        sqrt(S[pairs[i][0]][pairs[i][0]] * S[pairs[i][1]][pairs[i][1]]);
    out[121 + i] = d > 0 ? (float)(S[pairs[i][0]][pairs[i][1]] / d) : 0.0f;
  }
}

#if defined(KILN_FEATURES_DISPATCH)
void kiln_block_features__avx2(const uint8_t window[270], int bw, int bh,
                               float out[KILN_BLOCK_FEATURES]);

void kiln_block_features(const uint8_t window[270], int bw, int bh,
                         float out[KILN_BLOCK_FEATURES]) {
  // __builtin_cpu_supports reads the CPU model libgcc filled in at start-up:
  // one load and a test per call.
  if (__builtin_cpu_supports("avx2")) {
    kiln_block_features__avx2(window, bw, bh, out);
  } else {
    kiln_block_features__portable(window, bw, bh, out);
  }
}
#endif
