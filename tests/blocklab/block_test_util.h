// Shared helpers of the block coder tests: the sample photographs, crops
// and synthetic images.
#ifndef KILN_TESTS_BLOCKLAB_BLOCK_TEST_UTIL_H_
#define KILN_TESTS_BLOCKLAB_BLOCK_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <stdint.h>
#include <stdio.h>

#include <random>
#include <string>
#include <vector>

#include "toolchain/blocklab/block_coder.h"

namespace kiln {
namespace blocklab {
namespace testing {

struct PhotoFile {
  const char* name;
  const char* path;
};
// The real photographs the tests use (Debian python3-skimage and
// python3-sklearn sample images).
inline std::vector<PhotoFile> TestPhotos() {
  return {
      {"astronaut",
       "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"},
      {"chelsea", "/usr/lib/python3/dist-packages/skimage/data/chelsea.png"},
      {"coffee", "/usr/lib/python3/dist-packages/skimage/data/coffee.png"},
      {"china",
       "/usr/lib/python3/dist-packages/sklearn/datasets/images/china.jpg"},
  };
}

// Loads a photo; false (and no failure) when it is not installed.
inline bool LoadPhoto(const PhotoFile& photo, Image* image) {
  std::string error;
  return LoadImage(photo.path, image, &error);
}

// Whole files as bytes (empty when unreadable), for corrupting them.
inline std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::vector<uint8_t> bytes;
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) return bytes;
  for (int c; (c = fgetc(f)) != EOF;) bytes.push_back(static_cast<uint8_t>(c));
  fclose(f);
  return bytes;
}

inline void WriteBytes(const std::string& path,
                       const std::vector<uint8_t>& bytes) {
  FILE* f = fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  if (!bytes.empty()) {
    ASSERT_EQ(fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  }
  fclose(f);
}

inline Image Crop(const Image& image, int x0, int y0, int width, int height) {
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int ch = 0; ch < 3; ++ch) {
        out.rgb[(static_cast<size_t>(y) * width + x) * 3 + ch] =
            image.rgb[(static_cast<size_t>(y0 + y) * image.width + x0 + x) * 3 +
                      ch];
      }
    }
  }
  return out;
}

inline Image NoiseImage(int width, int height, uint32_t seed) {
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.resize(static_cast<size_t>(width) * height * 3);
  std::mt19937 rng(seed);
  for (uint8_t& v : out.rgb) v = static_cast<uint8_t>(rng());
  return out;
}

inline std::vector<BlockTuple> RandomTuples(int blocks, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<BlockTuple> tuples(blocks);
  for (BlockTuple& t : tuples) {
    t.predictor = static_cast<uint8_t>(rng() % kPredictors);
    t.filter = static_cast<uint8_t>(FilterCodeAt(rng() % kFilters));
    t.scan = static_cast<uint8_t>(rng() % kScans);
    t.interleave = static_cast<uint8_t>(rng() % kInterleaves);
  }
  return tuples;
}

inline BlockTuple TupleAt(int p, int f, int s, int il) {
  BlockTuple t;
  t.predictor = static_cast<uint8_t>(p);
  t.filter = static_cast<uint8_t>(FilterCodeAt(f));
  t.scan = static_cast<uint8_t>(s);
  t.interleave = static_cast<uint8_t>(il);
  return t;
}

}  // namespace testing
}  // namespace blocklab
}  // namespace kiln

#endif  // KILN_TESTS_BLOCKLAB_BLOCK_TEST_UTIL_H_
