// Speed and compression figures of the coder on the sample photographs.
// Slow (the exhaustive search of every block), so it runs only when
// KILN_BLOCKLAB_FIGURES=1; it prints the numbers docs/blocklab.md quotes.
#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "tests/blocklab/block_test_util.h"
#include "toolchain/blocklab/block_coder.h"

namespace kiln {
namespace blocklab {
namespace {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

TEST(BlockFigures, SearchSpeedAndBitsPerPixel) {
  const char* env = getenv("KILN_BLOCKLAB_FIGURES");
  if (env == nullptr || env[0] != '1') {
    GTEST_SKIP() << "set KILN_BLOCKLAB_FIGURES=1 to measure";
  }
  using Clock = std::chrono::steady_clock;
  for (const auto& photo : testing::TestPhotos()) {
    Image image;
    if (!testing::LoadPhoto(photo, &image)) continue;
    std::vector<double> full_ms, pruned_ms;
    std::vector<BlockTuple> best(image.blocks()), pruned_best(image.blocks());
    uint64_t pruned_estimates = 0;
    const Candidates prune = DefaultSearch();
    const bool do_pruned = photo.name == std::string("astronaut");
    for (int32_t b = 0; b < image.blocks(); ++b) {
      BlockLabels labels;
      auto t0 = Clock::now();
      SearchBlock(image, b, nullptr, &labels);
      auto t1 = Clock::now();
      full_ms.push_back(
          std::chrono::duration<double, std::milli>(t1 - t0).count());
      best[b] = labels.best;
      if (do_pruned) {
        t0 = Clock::now();
        SearchBlock(image, b, &prune, &labels);
        t1 = Clock::now();
        pruned_ms.push_back(
            std::chrono::duration<double, std::milli>(t1 - t0).count());
        pruned_estimates += labels.estimates;
        pruned_best[b] = labels.best;
      }
    }
    EncodeResult encoded;
    std::string error;
    ASSERT_TRUE(EncodeImage(image, best, &encoded, &error)) << error;
    Image decoded;
    ASSERT_TRUE(DecodeImage(encoded.bytes.data(), encoded.bytes.size(),
                            &decoded, &error))
        << error;
    EXPECT_TRUE(decoded.rgb == image.rgb);
    struct stat st;
    ASSERT_EQ(stat(photo.path, &st), 0);
    const double pixels = double(image.width) * image.height;
    printf(
        "%-10s %dx%d %d blocks: full search median %.3f ms/block; "
        "exhaustive encode %.3f bpp (%zu bytes; side %.3f bpp) vs file "
        "%.3f bpp (%lld bytes)\n",
        photo.name, image.width, image.height, image.blocks(), Median(full_ms),
        encoded.bytes.size() * 8 / pixels, encoded.bytes.size(),
        encoded.side_bits / pixels, st.st_size * 8 / pixels,
        static_cast<long long>(st.st_size));
    if (do_pruned) {
      EncodeResult pruned;
      ASSERT_TRUE(EncodeImage(image, pruned_best, &pruned, &error)) << error;
      printf(
          "%-10s default (pruned) search: %.1f estimates/block, median "
          "%.3f ms/block, size %+.3f%% vs exhaustive\n",
          photo.name, double(pruned_estimates) / image.blocks(),
          Median(pruned_ms),
          100.0 * (double(pruned.bytes.size()) / encoded.bytes.size() - 1));
    }
  }
}

}  // namespace
}  // namespace blocklab
}  // namespace kiln
