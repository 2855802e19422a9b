// The coder's building blocks: scan tables, colour filters, Golomb-Rice
// code and bit I/O, block windows and residuals.
#include <gtest/gtest.h>
#include <string.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "tests/blocklab/block_test_util.h"
#include "toolchain/blocklab/block_pixels.h"
#include "toolchain/blocklab/colour_filter.h"
#include "toolchain/blocklab/golomb_rice.h"
#include "toolchain/blocklab/scan_orders.h"

namespace kiln {
namespace blocklab {
namespace {

TEST(ScanOrders, EveryOrderIsAPermutation) {
  for (int s = 0; s < kScans; ++s) {
    std::vector<int> seen(64, 0);
    for (int i = 0; i < 64; ++i) ++seen[kScanOrders[s][i]];
    for (int pos = 0; pos < 64; ++pos) {
      EXPECT_EQ(seen[pos], 1) << "scan " << s << " position " << pos;
    }
  }
}

// Independent regeneration of the tables from their definitions.
std::vector<int> Hilbert() {
  std::vector<int> out;
  for (int d = 0; d < 64; ++d) {
    int x = 0, y = 0, t = d;
    for (int s = 1; s < 8; s *= 2) {
      const int rx = 1 & (t / 2), ry = 1 & (t ^ rx);
      if (ry == 0) {
        if (rx == 1) {
          x = s - 1 - x;
          y = s - 1 - y;
        }
        std::swap(x, y);
      }
      x += s * rx;
      y += s * ry;
      t /= 4;
    }
    out.push_back(y * 8 + x);
  }
  return out;
}
std::vector<int> LineZigzag(int a, int b, bool mirror) {
  std::map<int, std::vector<int>> lines;  // s -> x ascending
  for (int x = 0; x < 8; ++x) {
    for (int y = 0; y < 8; ++y) lines[a * x + b * y].push_back(y * 8 + x);
  }
  std::vector<int> out;
  int t = 0;
  for (auto& line : lines) {
    std::vector<int> pts = line.second;
    if (t++ % 2 == 1) std::reverse(pts.begin(), pts.end());
    for (int p : pts) out.push_back(mirror ? p / 8 * 8 + 7 - p % 8 : p);
  }
  return out;
}
std::vector<int> Boustrophedon(bool vertical) {
  std::vector<int> out;
  for (int r = 0; r < 8; ++r) {
    for (int i = 0; i < 8; ++i) {
      const int c = r % 2 == 0 ? i : 7 - i;
      out.push_back(vertical ? c * 8 + r : r * 8 + c);
    }
  }
  return out;
}

TEST(ScanOrders, TablesMatchTheirDefinitions) {
  const std::vector<int> expected[kScans] = {Hilbert(),
                                             LineZigzag(1, 1, false),
                                             LineZigzag(1, 1, true),
                                             Boustrophedon(false),
                                             Boustrophedon(true),
                                             LineZigzag(1, 2, false),
                                             LineZigzag(2, 1, false),
                                             LineZigzag(1, 2, true)};
  for (int s = 0; s < kScans; ++s) {
    for (int i = 0; i < 64; ++i) {
      EXPECT_EQ(kScanOrders[s][i], expected[s][i]) << "scan " << s << " " << i;
    }
  }
  // The Hilbert curve moves to a 4-neighbour at every step.
  for (int i = 1; i < 64; ++i) {
    const int a = kScanOrders[0][i - 1], b = kScanOrders[0][i];
    EXPECT_EQ(abs(a % 8 - b % 8) + abs(a / 8 - b / 8), 1) << i;
  }
  // JPEG's zigzag starts 0, 1, 8, 16, 9, 2.
  EXPECT_EQ(kScanOrders[1][3], 16);
}

TEST(ScanOrders, SequenceSkipsPositionsOutsideAnEdgeBlock) {
  for (int s = 0; s < kScans; ++s) {
    for (int il = 0; il < 2; ++il) {
      uint16_t seq[192];
      ASSERT_EQ(ScanSequence(s, il, 3, 5, seq), 45);
      std::vector<int> seen(192, 0);
      for (int t = 0; t < 45; ++t) {
        const int pos = seq[t] % 64;
        EXPECT_LT(pos % 8, 3);
        EXPECT_LT(pos / 8, 5);
        ++seen[seq[t]];
        EXPECT_EQ(seq[t] / 64, il == 0 ? t / 15 : t % 3);
      }
      EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), 45);
    }
  }
}

TEST(ColourFilter, CodesAndIndices) {
  for (int i = 0; i < kFilters; ++i) {
    EXPECT_EQ(FilterIndex(FilterCodeAt(i)), i);
    EXPECT_LE(FilterPerm(FilterCodeAt(i)), 5);
  }
}

TEST(ColourFilter, MatchesTheHeaderFormulas) {
  const int8_t r[3] = {-7, 100, -128};  // R, G, B
  int8_t out[3];
  // perm 2 = (1, 0, 2): c0 = G, c1 = R, c2 = B.
  ForwardFilter(FilterCode(2, 3, 3), r, out);
  EXPECT_EQ(out[0], 100);
  EXPECT_EQ(out[1], static_cast<int8_t>(-7 - ((3 * 100) >> 1)));
  EXPECT_EQ(out[2], static_cast<int8_t>(-128 - ((100 + -7) >> 1)));
  ForwardFilter(FilterCode(5, 2, 2), r, out);  // (2, 1, 0)
  EXPECT_EQ(out[0], -128);
  EXPECT_EQ(out[1], static_cast<int8_t>(100 - (-128 >> 1)));
  EXPECT_EQ(out[2], static_cast<int8_t>(-7 - 100));
}

// Every int8 triple through every one of the 96 filters and back, with
// both the per-pixel and the block functions (2^24 triples x 96 filters,
// ~1.6 s optimised). Unoptimised or sanitizer builds are ~70x slower: they
// keep every (c0, c1) pair but only 16 c2 values per pair, every 16th, from
// an offset that rotates with the pair so every c2 value is still covered.
#if defined(__SANITIZE_ADDRESS__) || !defined(__OPTIMIZE__)
constexpr int kC2Step = 16;
#else
constexpr int kC2Step = 1;
#endif

TEST(ColourFilter, InverseIsExactForEveryTripleAndFilter) {
  int8_t residual[3][64], filtered[3][64], back[3][64];
  for (int f = 0; f < kFilters; ++f) {
    const int code = FilterCodeAt(f);
    int failures = 0;
    for (int hi = 0; hi < (1 << 24) / 64 / kC2Step; ++hi) {
      for (int pos = 0; pos < 64; ++pos) {
        // c0, c1, c2 = the bytes of i (c2 strided in slow builds).
        const int j = hi * 64 + pos;
        const int i = (j / (256 / kC2Step)) * 256 +
                      (j % (256 / kC2Step)) * kC2Step +
                      (kC2Step > 1 ? (j / (256 / kC2Step)) % kC2Step : 0);
        residual[0][pos] = static_cast<int8_t>(i >> 16);
        residual[1][pos] = static_cast<int8_t>(i >> 8);
        residual[2][pos] = static_cast<int8_t>(i);
      }
      FilterBlock(residual, code, filtered);
      InverseFilterBlock(filtered, code, back);
      failures += memcmp(back, residual, sizeof(back)) != 0;
    }
    EXPECT_EQ(failures, 0) << "filter " << code;
  }
  // The per-pixel pair agrees with the block pair on sampled triples.
  for (int f = 0; f < kFilters; ++f) {
    const int code = FilterCodeAt(f);
    for (int i = 0; i < (1 << 24); i += 997) {
      const int8_t in[3] = {static_cast<int8_t>(i >> 16),
                            static_cast<int8_t>(i >> 8),
                            static_cast<int8_t>(i)};
      int8_t out[3], restored[3];
      for (int ch = 0; ch < 3; ++ch) residual[ch][0] = in[ch];
      FilterBlock(residual, code, filtered);
      ForwardFilter(code, in, out);
      ASSERT_TRUE(out[0] == filtered[0][0] && out[1] == filtered[1][0] &&
                  out[2] == filtered[2][0]);
      InverseFilter(code, out, restored);
      ASSERT_TRUE(restored[0] == in[0] && restored[1] == in[1] &&
                  restored[2] == in[2]);
    }
  }
}

TEST(GolombRice, ZigZag) {
  for (int e = -128; e < 128; ++e) {
    const int m = ZigZag(e);
    EXPECT_GE(m, 0);
    EXPECT_LE(m, 255);
    EXPECT_EQ(UnZigZag(m), e);
  }
  EXPECT_EQ(ZigZag(-1), 1);
  EXPECT_EQ(ZigZag(1), 2);
}

TEST(GolombRice, KRule) {
  GolombState s;
  EXPECT_EQ(s.K(), 2);  // sum 4, n 1: 1 << 2 >= 4
  s.sum = 0;
  EXPECT_EQ(s.K(), 0);
  s.sum = 5000;
  EXPECT_EQ(s.K(), 7);  // no k <= 7 reaches: clamped
  s.n = 31;
  s.sum = 31 * 8;
  EXPECT_EQ(s.K(), 3);
  s.sum = 31 * 8 + 1;
  EXPECT_EQ(s.K(), 4);
  EXPECT_EQ(GolombCodeBits(5, 0), 6u);
  EXPECT_EQ(GolombCodeBits(24, 0), 32u);  // escape
  EXPECT_EQ(GolombCodeBits(255, 7), 1u + 1 + 7);
}

// The vector estimator equals the scalar one (which is the writer's count).
TEST(GolombRice, LaneEstimatorMatchesScalarAndWriter) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const int count = 1 + static_cast<int>(rng() % 192);
    const int spread = 1 << (rng() % 9);
    std::vector<int16_t> lanes(count * kGolombLanes);
    std::vector<uint16_t> offsets(count);
    for (int t = 0; t < count; ++t) {
      offsets[t] = static_cast<uint16_t>(t * kGolombLanes);
      for (int l = 0; l < kGolombLanes; ++l) {
        lanes[t * kGolombLanes + l] =
            static_cast<int16_t>(std::min<int>(255, rng() % spread));
      }
    }
    uint16_t bits[kGolombLanes];
    EstimateGolombBitsLanes(lanes.data(), offsets.data(), count, bits);
    for (int l = 0; l < kGolombLanes; ++l) {
      std::vector<uint8_t> m(count);
      for (int t = 0; t < count; ++t) {
        m[t] = static_cast<uint8_t>(lanes[t * kGolombLanes + l]);
      }
      const uint32_t scalar = EstimateGolombBits(m.data(), count);
      EXPECT_EQ(bits[l], scalar);
      std::vector<uint8_t> bytes;
      BitWriter writer(&bytes);
      GolombState state;
      for (int t = 0; t < count; ++t) WriteGolomb(&writer, &state, m[t]);
      EXPECT_EQ(writer.bits_written(), scalar);
      writer.Flush();
      BitReader reader(bytes.data(), bytes.size());
      GolombState read_state;
      for (int t = 0; t < count; ++t) {
        int v = -1;
        ASSERT_TRUE(ReadGolomb(&reader, &read_state, &v));
        ASSERT_EQ(v, m[t]);
      }
      EXPECT_EQ(reader.position(), scalar);
    }
  }
}

TEST(BitIo, ReaderNeverReadsPastTheEnd) {
  std::vector<uint8_t> bytes;
  BitWriter writer(&bytes);
  writer.Put(0x5, 3);
  writer.Put(0xABCDEF12u, 32);
  writer.Flush();
  ASSERT_EQ(bytes.size(), 5u);
  BitReader reader(bytes.data(), bytes.size());
  uint32_t v = 0;
  ASSERT_TRUE(reader.Get(3, &v));
  EXPECT_EQ(v, 5u);
  ASSERT_TRUE(reader.Get(32, &v));
  EXPECT_EQ(v, 0xABCDEF12u);
  EXPECT_FALSE(reader.Get(6, &v));
  EXPECT_FALSE(reader.Get(0, &v));  // stays failed
}

TEST(BlockPixels, WindowMatchesPixelOrZeroOnEverySideAndInside) {
  // BlockWindow copies row runs; PixelOrZero is the definition. Sizes with
  // interior blocks, blocks touching every edge, and images narrower or
  // shorter than one window.
  const int sizes[][2] = {{1, 1}, {8, 8}, {9, 2}, {2, 17}, {24, 24}, {31, 26}};
  for (const auto& size : sizes) {
    const Image image = testing::NoiseImage(size[0], size[1], 7);
    for (int block = 0; block < image.blocks(); ++block) {
      const BlockRect rect = BlockAt(image, block);
      uint8_t window[kWindowBytes];
      memset(window, 0xA5, sizeof(window));
      BlockWindow(image, block, window);
      for (int r = 0; r < kWindowRows; ++r) {
        for (int c = 0; c < kWindowCols; ++c) {
          for (int ch = 0; ch < 3; ++ch) {
            ASSERT_EQ(window[WindowIndex(r, c, ch)],
                      PixelOrZero(image, ch, rect.x0 - 1 + c, rect.y0 - 1 + r))
                << size[0] << "x" << size[1] << " block " << block << " row "
                << r << " col " << c;
          }
        }
      }
    }
  }
}

TEST(BlockPixels, WindowAndResidualsReadZeroOutsideTheImage) {
  const Image image = testing::NoiseImage(13, 11, 3);
  ASSERT_EQ(image.blocks(), 4);
  for (int block = 0; block < image.blocks(); ++block) {
    const BlockRect rect = BlockAt(image, block);
    uint8_t window[kWindowBytes];
    BlockWindow(image, block, window);
    for (int r = 0; r < kWindowRows; ++r) {
      for (int c = 0; c < kWindowCols; ++c) {
        for (int ch = 0; ch < 3; ++ch) {
          EXPECT_EQ(window[WindowIndex(r, c, ch)],
                    PixelOrZero(image, ch, rect.x0 - 1 + c, rect.y0 - 1 + r));
        }
      }
    }
    for (int p = 0; p < kPredictors; ++p) {
      int8_t residual[3][64];
      BlockResiduals(window, rect, p, residual);
      for (int y = 0; y < 8; ++y) {
        for (int x = 0; x < 8; ++x) {
          for (int ch = 0; ch < 3; ++ch) {
            const int px = rect.x0 + x, py = rect.y0 + y;
            int expected = 0;
            if (x < rect.w && y < rect.h) {
              const int pred = Predict(p, PixelOrZero(image, ch, px - 1, py),
                                       PixelOrZero(image, ch, px, py - 1),
                                       PixelOrZero(image, ch, px - 1, py - 1),
                                       PixelOrZero(image, ch, px + 1, py - 1));
              expected =
                  static_cast<int8_t>(PixelOrZero(image, ch, px, py) - pred);
            }
            EXPECT_EQ(residual[ch][y * 8 + x], expected);
          }
        }
      }
    }
  }
}

TEST(BlockPixels, Predictors) {
  // a, b, c, d = 10, 20, 5, 40
  EXPECT_EQ(Predict(0, 10, 20, 5, 40), 20);   // c <= min -> max
  EXPECT_EQ(Predict(0, 10, 20, 25, 40), 10);  // c >= max -> min
  EXPECT_EQ(Predict(0, 10, 20, 15, 40), 15);  // a + b - c
  EXPECT_EQ(Predict(1, 10, 20, 5, 40), 8);
  EXPECT_EQ(Predict(2, 10, 20, 5, 40), 13);
  EXPECT_EQ(Predict(3, 10, 20, 5, 40), 30);
  EXPECT_EQ(Predict(4, 10, 20, 5, 40), 10);
  EXPECT_EQ(Predict(5, 10, 20, 5, 40), 20);
  EXPECT_EQ(Predict(6, 10, 20, 5, 40), 5);
  EXPECT_EQ(Predict(7, 10, 20, 5, 40), 40);
}

}  // namespace
}  // namespace blocklab
}  // namespace kiln
