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

// Hash of the features of `count` windows of every kind; full blocks only
// or every block size.
uint64_t FeatureHash(int count, bool edges, uint32_t seed) {
  std::mt19937 rng(seed);
  uint64_t h = 1469598103934665603ull;
  uint8_t window[270];
  float f[KILN_BLOCK_FEATURES];
  for (int i = 0; i < count; ++i) {
    MakeWindow(rng, i % 6, window);
    const int bw = edges ? 1 + i % 8 : 8, bh = edges ? 1 + (i / 8) % 8 : 8;
    kiln_block_features(window, bw, bh, f);
    h = Fnv(h, f, sizeof(f));
  }
  return h;
}

TEST(BlockFeatures, SameBytesAsTheReferenceImplementationOnFullBlocks) {
  EXPECT_EQ(FeatureHash(30000, false, 1), 0x925324ce4bd8c6e2ull);
}

TEST(BlockFeatures, SameBytesAsTheReferenceImplementationOnEveryBlockSize) {
  EXPECT_EQ(FeatureHash(30000, true, 2), 0x93e639d68ad5c122ull);
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
