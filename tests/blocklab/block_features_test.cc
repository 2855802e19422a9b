// kiln_block_features is the block model's input, so its bytes are part of
// every committed model's contract: any speed-up must give the same floats
// bit for bit. The hashes below were taken from the straightforward
// implementation (int residuals, double quadratic forms, one libm-free log2
// per feature) on windows of every kind: noise, smooth gradients, flat
// areas, 0/255 extremes (largest residuals and energies), edge blocks of
// every size. The same bytes are expected on x86-64 and AArch64.
#include "toolchain/blocklab/block_features.h"

#include <gtest/gtest.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace {

// One window of kind `kind` (0..5).
void MakeWindow(std::mt19937& rng, int kind, uint8_t window[270]) {
  std::uniform_int_distribution<int> byte(0, 255);
  const int base = byte(rng), slope_x = byte(rng) % 9 - 4,
            slope_y = byte(rng) % 9 - 4, noise = 1 + byte(rng) % 24;
  for (int r = 0; r < 9; ++r) {
    for (int c = 0; c < 10; ++c) {
      for (int ch = 0; ch < 3; ++ch) {
        int v;
        switch (kind) {
          case 0:  // noise
            v = byte(rng);
            break;
          case 1:  // gradient plus small noise
            v = base + slope_x * c + slope_y * r + ch * 7 + byte(rng) % noise -
                noise / 2;
            break;
          case 2:  // flat
            v = base;
            break;
          case 3:  // extremes
            v = byte(rng) < 128 ? 0 : 255;
            break;
          case 4:  // checkerboard of extremes per channel
            v = ((r + c + ch) & 1) ? 255 : 0;
            break;
          default:  // correlated channels
            v = base + (byte(rng) % noise) * (ch + 1);
            break;
        }
        window[(r * 10 + c) * 3 + ch] = static_cast<uint8_t>(v & 255);
      }
    }
  }
}

uint64_t Fnv(uint64_t h, const void* data, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

// Hash of the first `features` features of `count` windows of every kind;
// full blocks only or every block size.
uint64_t FeatureHash(int count, bool edges, uint32_t seed,
                     int features = KILN_BLOCK_FEATURES) {
  std::mt19937 rng(seed);
  uint64_t h = 1469598103934665603ull;
  uint8_t window[270];
  float f[KILN_BLOCK_FEATURES];
  for (int i = 0; i < count; ++i) {
    MakeWindow(rng, i % 6, window);
    const int bw = edges ? 1 + i % 8 : 8, bh = edges ? 1 + (i / 8) % 8 : 8;
    kiln_block_features(window, bw, bh, f);
    h = Fnv(h, f, sizeof(float) * static_cast<size_t>(features));
  }
  return h;
}

// Features 0..123 predate the magnitude features and keep their hashes;
// the full hashes were taken when 124..131 were added, which
// MagnitudeFeaturesMatchADirectComputation checks on their own.
TEST(BlockFeatures, SameBytesAsTheReferenceImplementationOnFullBlocks) {
  EXPECT_EQ(FeatureHash(30000, false, 1, KILN_BLOCK_MAGNITUDE_FEATURES),
            0x925324ce4bd8c6e2ull);
  EXPECT_EQ(FeatureHash(30000, false, 1), 0xf5721252bac1137eull);
}

TEST(BlockFeatures, SameBytesAsTheReferenceImplementationOnEveryBlockSize) {
  EXPECT_EQ(FeatureHash(30000, true, 2, KILN_BLOCK_MAGNITUDE_FEATURES),
            0x93e639d68ad5c122ull);
  EXPECT_EQ(FeatureHash(30000, true, 2), 0xd59e38ec8baf8cc6ull);
}

#if defined(__x86_64__)
// Kiln's x86-64 builds carry a second copy compiled for AVX2 and pick it at
// run time (block_features.c): both must give the portable copy's bytes.
extern "C" void kiln_block_features__portable(const uint8_t window[270], int bw,
                                              int bh, float* out);
extern "C" void kiln_block_features__avx2(const uint8_t window[270], int bw,
                                          int bh, float* out);

TEST(BlockFeatures, Avx2CopyGivesThePortableBytes) {
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(11);
  uint8_t window[270];
  float portable[KILN_BLOCK_FEATURES], avx2[KILN_BLOCK_FEATURES];
  for (int i = 0; i < 60000; ++i) {
    MakeWindow(rng, i % 6, window);
    const int bw = i % 2 ? 8 : 1 + (i / 2) % 8, bh = i % 2 ? 8 : 1 + i / 16 % 8;
    kiln_block_features__portable(window, bw, bh, portable);
    kiln_block_features__avx2(window, bw, bh, avx2);
    ASSERT_EQ(memcmp(portable, avx2, sizeof(portable)), 0)
        << "window " << i << " (" << bw << "x" << bh << ")";
  }
}
#endif

// [124 + p] = log2(1 + sum |residual of predictor p|) relative to the
// smallest sum, clamped to [0, 8], computed here the plain way (libm log2,
// residuals from kiln_block_predict with the coder's int8 wrap-around).
TEST(BlockFeatures, MagnitudeFeaturesMatchADirectComputation) {
  std::mt19937 rng(7);
  uint8_t window[270];
  float f[KILN_BLOCK_FEATURES];
  for (int i = 0; i < 3000; ++i) {
    MakeWindow(rng, i % 6, window);
    const int bw = 1 + i % 8, bh = 1 + (i / 8) % 8;
    kiln_block_features(window, bw, bh, f);
    double sum[8];
    for (int p = 0; p < 8; ++p) {
      sum[p] = 0;
      for (int y = 0; y < bh; ++y)
        for (int x = 0; x < bw; ++x)
          for (int ch = 0; ch < 3; ++ch) {
            auto at = [&](int r, int c) {
              return window[(r * 10 + c) * 3 + ch];
            };
            const int pred = kiln_block_predict(p, at(y + 1, x), at(y, x + 1),
                                                at(y, x), at(y, x + 2));
            const int8_t r = static_cast<int8_t>(
                static_cast<uint8_t>((at(y + 1, x + 1) - pred) & 0xFF));
            sum[p] += r < 0 ? -r : r;
          }
    }
    const double least = *std::min_element(sum, sum + 8);
    for (int p = 0; p < 8; ++p) {
      const double want = std::min(
          8.0, std::max(0.0, std::log2(1 + sum[p]) - std::log2(1 + least)));
      const float got = f[KILN_BLOCK_MAGNITUDE_FEATURES + p];
      EXPECT_NEAR(got, want, 2e-4) << "window " << i << " predictor " << p;
      if (sum[p] == least) {
        EXPECT_EQ(got, 0.0f);
      }
    }
  }
}

TEST(BlockFeatures, FlatBlockHasNoEnergyAnywhere) {
  // Every residual of a flat window is 0: every relative feature is exactly
  // 0 and [8] is log2(1) / 4 as the polynomial gives it (about 8e-6).
  uint8_t window[270];
  memset(window, 100, sizeof(window));
  float f[KILN_BLOCK_FEATURES];
  for (int bw = 1; bw <= 8; ++bw) {
    for (int bh = 1; bh <= 8; ++bh) {
      kiln_block_features(window, bw, bh, f);
      for (int i = 0; i < KILN_BLOCK_FEATURES; ++i) {
        if (i == 8) continue;
        EXPECT_EQ(f[i], 0.0f) << "feature " << i << " of " << bw << "x" << bh;
      }
      EXPECT_GT(f[8], 0.0f);
      EXPECT_LT(f[8], 1e-4f);
    }
  }
}

}  // namespace
