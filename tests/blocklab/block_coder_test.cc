// The codec end to end: lossless round trips on real photographs (with the
// exhaustive search's tuples and with random ones, on odd sizes), the
// estimate == written bits contract, and hostile streams.
#include "toolchain/blocklab/block_coder.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/blocklab/block_test_util.h"

namespace kiln {
namespace blocklab {
namespace {

using testing::Crop;
using testing::NoiseImage;
using testing::RandomTuples;

std::vector<BlockTuple> SearchedTuples(const Image& image) {
  std::vector<BlockTuple> tuples(image.blocks());
  for (int32_t b = 0; b < image.blocks(); ++b) {
    BlockLabels labels;
    SearchBlock(image, b, nullptr, &labels);
    tuples[b] = labels.best;
  }
  return tuples;
}

// Encodes, checks the bit accounting, decodes and compares.
void ExpectRoundTrip(const Image& image, const std::vector<BlockTuple>& tuples,
                     const std::string& what) {
  SCOPED_TRACE(what + " " + std::to_string(image.width) + "x" +
               std::to_string(image.height));
  EncodeResult encoded;
  std::string error;
  ASSERT_TRUE(EncodeImage(image, tuples, &encoded, &error)) << error;
  ASSERT_EQ(encoded.block_bits.size(), tuples.size());
  uint64_t residual_bits = 0;
  for (int32_t b = 0; b < image.blocks(); ++b) {
    ASSERT_EQ(encoded.block_bits[b], EstimateBlockBits(image, b, tuples[b]))
        << "block " << b;
    residual_bits += encoded.block_bits[b];
  }
  EXPECT_EQ(encoded.side_bits, 14u * image.blocks());
  // Header, then side and residual bits padded to a byte.
  EXPECT_EQ(encoded.bytes.size(),
            13 + (encoded.side_bits + residual_bits + 7) / 8);
  Image decoded;
  ASSERT_TRUE(
      DecodeImage(encoded.bytes.data(), encoded.bytes.size(), &decoded, &error))
      << error;
  EXPECT_EQ(decoded.width, image.width);
  EXPECT_EQ(decoded.height, image.height);
  EXPECT_TRUE(decoded.rgb == image.rgb);
}

TEST(BlockCodec, RoundTripsPhotosWithSearchedAndRandomTuples) {
  int photos = 0;
  for (const auto& photo : testing::TestPhotos()) {
    Image image;
    if (!testing::LoadPhoto(photo, &image)) continue;
    ++photos;
    SCOPED_TRACE(photo.name);
    // Whole photo, random tuples (every predictor, filter, scan, mode).
    ExpectRoundTrip(image, RandomTuples(image.blocks(), 11), "random");
    // Crops with edge blocks; exhaustive-search tuples and random ones.
    const int sizes[][2] = {{13, 11}, {1, 1}, {9, 8}, {8, 9}, {41, 23}};
    for (const auto& size : sizes) {
      const Image crop = Crop(image, 101, 57, size[0], size[1]);
      ExpectRoundTrip(crop, SearchedTuples(crop), "searched");
      ExpectRoundTrip(crop, RandomTuples(crop.blocks(), 5), "random");
    }
    // The bottom-right corner: edge blocks that touch the image border.
    const Image corner =
        Crop(image, image.width - 19, image.height - 13, 19, 13);
    ExpectRoundTrip(corner, SearchedTuples(corner), "corner");
  }
  if (photos == 0) {
    GTEST_SKIP() << "no sample photographs installed (python3-skimage, "
                    "python3-sklearn)";
  }
}

TEST(BlockCodec, RoundTripsNoiseAndFlatImages) {
  for (uint32_t seed = 0; seed < 4; ++seed) {
    const Image noise = NoiseImage(17 + seed, 10 + 3 * seed, seed);
    ExpectRoundTrip(noise, RandomTuples(noise.blocks(), seed), "noise");
    ExpectRoundTrip(noise, SearchedTuples(noise), "noise searched");
  }
  Image flat;
  flat.width = 20;
  flat.height = 12;
  flat.rgb.assign(20 * 12 * 3, 255);
  ExpectRoundTrip(flat, SearchedTuples(flat), "flat");
}

TEST(BlockCodec, RejectsBadInputs) {
  const Image image = NoiseImage(9, 8, 1);
  EncodeResult encoded;
  std::string error;
  EXPECT_FALSE(EncodeImage(image, RandomTuples(1, 1), &encoded, &error));
  std::vector<BlockTuple> tuples = RandomTuples(2, 1);
  tuples[1].filter = 96;
  EXPECT_FALSE(EncodeImage(image, tuples, &encoded, &error));
  Image empty;
  EXPECT_FALSE(EncodeImage(empty, {}, &encoded, &error));
}

class CorruptStream : public ::testing::Test {
 protected:
  void SetUp() override {
    image_ = NoiseImage(9, 3, 42);
    // Low-variance content makes short codes, so flips hit many fields.
    for (uint8_t& v : image_.rgb) v = static_cast<uint8_t>(v % 7 + 100);
    std::string error;
    ASSERT_TRUE(EncodeImage(image_, RandomTuples(image_.blocks(), 3), &encoded_,
                            &error))
        << error;
  }
  bool Decode(const std::vector<uint8_t>& bytes, std::string* error) {
    Image out;
    const bool ok = DecodeImage(bytes.data(), bytes.size(), &out, error);
    if (ok) {
      EXPECT_EQ(out.rgb.size(),
                static_cast<size_t>(out.width) * out.height * 3);
    }
    return ok;
  }
  Image image_;
  EncodeResult encoded_;
};

TEST_F(CorruptStream, EveryTruncationIsRejected) {
  const std::vector<uint8_t>& full = encoded_.bytes;
  for (size_t len = 0; len < full.size(); ++len) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + len);
    std::string error;
    EXPECT_FALSE(Decode(cut, &error)) << "length " << len;
    EXPECT_FALSE(error.empty());
  }
  std::string error;
  EXPECT_TRUE(Decode(full, &error)) << error;
}

TEST_F(CorruptStream, TrailingGarbageIsRejected) {
  std::vector<uint8_t> bytes = encoded_.bytes;
  bytes.push_back(0);
  std::string error;
  EXPECT_FALSE(Decode(bytes, &error));
  EXPECT_NE(error.find("trailing"), std::string::npos) << error;
}

TEST_F(CorruptStream, FlippedBitsNeverCrash) {
  // Every single-bit flip and every byte inversion: the decoder either
  // rejects the stream or returns an image of the declared size.
  for (size_t i = 0; i < encoded_.bytes.size(); ++i) {
    for (int mask : {1, 2, 4, 8, 16, 32, 64, 128, 255}) {
      std::vector<uint8_t> bytes = encoded_.bytes;
      bytes[i] ^= static_cast<uint8_t>(mask);
      std::string error;
      if (!Decode(bytes, &error)) {
        EXPECT_FALSE(error.empty());
      }
    }
  }
}

TEST_F(CorruptStream, HeaderAndFieldChecks) {
  std::string error;
  std::vector<uint8_t> bytes = encoded_.bytes;
  bytes[0] = 'X';
  EXPECT_FALSE(Decode(bytes, &error));
  EXPECT_NE(error.find("magic"), std::string::npos) << error;
  bytes = encoded_.bytes;
  bytes[4] = 2;
  EXPECT_FALSE(Decode(bytes, &error));
  EXPECT_NE(error.find("version"), std::string::npos) << error;
  for (uint32_t width : {0u, 1u << 16, 0xFFFFFFFFu}) {
    bytes = encoded_.bytes;
    for (int i = 0; i < 4; ++i)
      bytes[5 + i] = static_cast<uint8_t>(width >> (8 * i));
    EXPECT_FALSE(Decode(bytes, &error)) << width;
  }
  // A huge but legal size must be refused before any large allocation.
  bytes = encoded_.bytes;
  for (int i = 0; i < 4; ++i) bytes[5 + i] = bytes[9 + i] = (i == 1) ? 0x40 : 0;
  EXPECT_FALSE(Decode(bytes, &error));
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;
  // Filter index 127 in the first block's side information (bits 3..9).
  bytes = encoded_.bytes;
  bytes[13] |= 0x1F;
  bytes[14] |= 0xC0;
  EXPECT_FALSE(Decode(bytes, &error));
  EXPECT_NE(error.find("filter index 127"), std::string::npos) << error;
}

TEST(ImageIo, PngRoundTripAndErrors) {
  const Image image = NoiseImage(7, 5, 9);
  char dir[] = "/tmp/kiln_block_io_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/noise.png";
  std::string error;
  ASSERT_TRUE(WritePng(path, image, &error)) << error;
  EXPECT_NE(access((path + ".tmp").c_str(), F_OK), 0);
  Image loaded;
  ASSERT_TRUE(LoadImage(path, &loaded, &error)) << error;
  EXPECT_EQ(loaded.width, 7);
  EXPECT_EQ(loaded.height, 5);
  EXPECT_TRUE(loaded.rgb == image.rgb);
  EXPECT_FALSE(LoadImage(std::string(dir) + "/missing.png", &loaded, &error));
  EXPECT_FALSE(error.empty());
  Image bad = image;
  bad.rgb.pop_back();
  EXPECT_FALSE(WritePng(path, bad, &error));
  unlink(path.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace blocklab
}  // namespace kiln
