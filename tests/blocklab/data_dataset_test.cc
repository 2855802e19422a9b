// Block datasets: the bundled photographs, labelling (equal to SearchBlock,
// independent of the thread count) and the KBDS cache file (round trip,
// corrupt, truncated and lying files rejected).
#include <gtest/gtest.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "tests/blocklab/block_test_util.h"
#include "tests/toolchain/scratch_dir.h"
#include "toolchain/blocklab/block_dataset.h"

namespace kiln {
namespace blocklab {
namespace {

using testing::ReadBytes;
using testing::WriteBytes;

using kiln::testing::ScratchDir;

constexpr size_t kHeaderBytes = 40;

// A small image with edge blocks (21x13: 3x2 blocks, the last column and
// row partial): a crop of chelsea when installed, else a smooth synthetic
// pattern with noise.
Image TestImage() {
  Image image;
  image.width = 21;
  image.height = 13;
  image.rgb.resize(static_cast<size_t>(image.width) * image.height * 3);
  Image photo;
  std::string error;
  const bool have =
      LoadImage("/usr/lib/python3/dist-packages/skimage/data/chelsea.png",
                &photo, &error);
  uint32_t seed = 12345;
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      for (int c = 0; c < 3; ++c) {
        uint8_t v;
        if (have) {
          v = photo.rgb[(static_cast<size_t>(y + 100) * photo.width + x + 200) *
                            3 +
                        c];
        } else {
          seed = seed * 1664525u + 1013904223u;
          v = static_cast<uint8_t>(x * 7 + y * 5 + c * 40 + (seed >> 29));
        }
        image.rgb[(static_cast<size_t>(y) * image.width + x) * 3 + c] = v;
      }
    }
  }
  return image;
}

void ExpectSameLabels(const BlockLabels& a, const BlockLabels& b) {
  EXPECT_TRUE(a.best == b.best);
  EXPECT_TRUE(a.second == b.second);
  EXPECT_EQ(a.best_bits, b.best_bits);
  EXPECT_EQ(a.second_bits, b.second_bits);
  EXPECT_TRUE(std::equal(a.predictor_bits, a.predictor_bits + kPredictors,
                         b.predictor_bits));
  EXPECT_TRUE(
      std::equal(a.filter_bits, a.filter_bits + kFilters, b.filter_bits));
  EXPECT_TRUE(
      std::equal(a.perm_bits, a.perm_bits + kPermutations, b.perm_bits));
  EXPECT_TRUE(
      std::equal(a.primary_bits, a.primary_bits + kPrimaries, b.primary_bits));
  EXPECT_TRUE(std::equal(a.secondary_bits, a.secondary_bits + kSecondaries,
                         b.secondary_bits));
  EXPECT_TRUE(std::equal(a.scan_bits, a.scan_bits + kScans, b.scan_bits));
  EXPECT_TRUE(std::equal(a.interleave_bits, a.interleave_bits + kInterleaves,
                         b.interleave_bits));
  EXPECT_EQ(a.estimates, b.estimates);
}

void ExpectSameExample(const BlockExample& a, const BlockExample& b) {
  EXPECT_EQ(a.image, b.image);
  EXPECT_EQ(a.block, b.block);
  EXPECT_EQ(memcmp(a.window, b.window, kWindowBytes), 0);
  ExpectSameLabels(a.labels, b.labels);
}

void ExpectSameDataset(const BlockDataset& a, const BlockDataset& b) {
  EXPECT_EQ(a.images, b.images);
  ASSERT_EQ(a.examples.size(), b.examples.size());
  for (size_t i = 0; i < a.examples.size(); ++i) {
    SCOPED_TRACE(i);
    ExpectSameExample(a.examples[i], b.examples[i]);
  }
}

// Labelling is slow-ish (12,288 estimates a block): done once.
const BlockDataset& Labelled() {
  static const BlockDataset* dataset = [] {
    auto* d = new BlockDataset;
    d->images = {"crop", "crop_again"};
    const Image image = TestImage();
    AppendImageBlocks(image, 0, 1, d);
    AppendImageBlocks(image, 1, 2, d);
    return d;
  }();
  return *dataset;
}

void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
// Recomputes the header's payload CRC after an edit, so that the reader's
// other checks are what rejects the file.
void FixCrc(std::vector<uint8_t>* bytes) {
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), bytes->data() + kHeaderBytes,
                          static_cast<uInt>(bytes->size() - kHeaderBytes));
  PutU32(bytes->data() + 32, static_cast<uint32_t>(crc));
}

TEST(BlockDatasetTest, BundledPhotosAreTheFixedListInOrder) {
  const std::vector<Photo> photos = BundledPhotos();
  const std::vector<std::string> order = {
      "astronaut", "chelsea",           "coffee", "ihc",   "motorcycle_left",
      "rocket",    "hubble_deep_field", "china",  "flower"};
  size_t at = 0;
  std::set<std::string> names;
  for (const Photo& p : photos) {
    EXPECT_TRUE(names.insert(p.name).second) << p.name;
    while (at < order.size() && order[at] != p.name) ++at;
    EXPECT_LT(at, order.size()) << p.name << " is out of list order";
    EXPECT_EQ(p.path.rfind("/usr/lib/python3/dist-packages/", 0), 0u);
    EXPECT_TRUE(p.package == "python3-skimage" ||
                p.package == "python3-sklearn")
        << p.package;
    EXPECT_FALSE(p.licence.empty()) << p.name;
    FILE* f = fopen(p.path.c_str(), "rb");
    EXPECT_NE(f, nullptr) << p.path;
    if (f != nullptr) fclose(f);
  }
  EXPECT_EQ(names.count("motorcycle_right"), 0u);
}

TEST(BlockDatasetTest, LabelsAreTheFullSearchsAndWindowsTheBlocks) {
  const Image image = TestImage();
  const BlockDataset& d = Labelled();
  ASSERT_EQ(d.examples.size(), 2u * static_cast<size_t>(image.blocks()));
  ASSERT_EQ(image.blocks(), 6);
  for (int32_t b = 0; b < image.blocks(); ++b) {
    SCOPED_TRACE(b);
    const BlockExample& e = d.examples[static_cast<size_t>(b)];
    EXPECT_EQ(e.image, 0);
    EXPECT_EQ(e.block, b);
    BlockLabels labels;
    SearchBlock(image, b, nullptr, &labels);
    ExpectSameLabels(e.labels, labels);
    EXPECT_EQ(e.labels.estimates, static_cast<uint32_t>(kTuples));
    uint8_t window[kWindowBytes];
    BlockWindow(image, b, window);
    EXPECT_EQ(memcmp(e.window, window, kWindowBytes), 0);
    // The second image id got the same labels.
    const BlockExample& again =
        d.examples[static_cast<size_t>(b + image.blocks())];
    EXPECT_EQ(again.image, 1);
    EXPECT_EQ(again.block, b);
    ExpectSameLabels(again.labels, labels);
  }
}

TEST(BlockDatasetTest, ResultsDoNotDependOnTheThreadCount) {
  const BlockDataset& one = Labelled();
  const Image image = TestImage();
  for (int threads : {3, 16}) {
    SCOPED_TRACE(threads);
    BlockDataset d;
    d.images = {"crop"};
    AppendImageBlocks(image, 0, threads, &d);
    ASSERT_EQ(d.examples.size(), static_cast<size_t>(image.blocks()));
    for (size_t i = 0; i < d.examples.size(); ++i) {
      ExpectSameExample(d.examples[i], one.examples[i]);
    }
  }
  BlockDataset empty;
  AppendImageBlocks(Image(), 0, 2, &empty);
  EXPECT_TRUE(empty.examples.empty());
}

TEST(BlockDatasetTest, FileRoundTrips) {
  ScratchDir dir;
  const std::string path = dir.Path("d.kbds");
  std::string error;
  ASSERT_TRUE(WriteBlockDataset(path, Labelled(), &error)) << error;
  BlockDataset back;
  ASSERT_TRUE(ReadBlockDataset(path, &back, &error)) << error;
  ExpectSameDataset(Labelled(), back);
  const std::vector<uint8_t> bytes = ReadBytes(path);
  ASSERT_GE(bytes.size(), kHeaderBytes);
  EXPECT_EQ(memcmp(bytes.data(), "KBDS", 4), 0);
  // Header + names (2 + 4, 2 + 10) + 12 records of 808 bytes.
  EXPECT_EQ(bytes.size(), kHeaderBytes + 6 + 12 + 12 * 808);
  // Writing the same data again gives the same bytes (deterministic).
  ASSERT_TRUE(WriteBlockDataset(path, back, &error)) << error;
  EXPECT_EQ(ReadBytes(path), bytes);
  // Only the file itself: no temporary left behind.
  EXPECT_EQ(dir.Entries(), std::vector<std::string>{"d.kbds"});

  // An empty dataset round trips too.
  ASSERT_TRUE(WriteBlockDataset(dir.Path("e.kbds"), BlockDataset(), &error));
  ASSERT_TRUE(ReadBlockDataset(dir.Path("e.kbds"), &back, &error)) << error;
  EXPECT_TRUE(back.images.empty());
  EXPECT_TRUE(back.examples.empty());
}

TEST(BlockDatasetTest, WriteRejectsBadDatasetsAndPaths) {
  ScratchDir dir;
  std::string error;
  BlockDataset d = Labelled();
  d.images.pop_back();  // examples now name a missing image
  EXPECT_FALSE(WriteBlockDataset(dir.Path("d.kbds"), d, &error));
  EXPECT_NE(error.find("image 1"), std::string::npos) << error;
  d.images = {"", "x"};
  EXPECT_FALSE(WriteBlockDataset(dir.Path("d.kbds"), d, &error));
  EXPECT_FALSE(
      WriteBlockDataset(dir.Path("no/such/dir/d.kbds"), Labelled(), &error));
  EXPECT_FALSE(error.empty());
  EXPECT_TRUE(dir.Entries().empty());
}

TEST(BlockDatasetTest, ReadRejectsBrokenFiles) {
  ScratchDir dir;
  const std::string good = dir.Path("good.kbds");
  std::string error;
  ASSERT_TRUE(WriteBlockDataset(good, Labelled(), &error)) << error;
  const std::vector<uint8_t> bytes = ReadBytes(good);
  const std::string path = dir.Path("bad.kbds");

  struct Case {
    const char* name;
    std::vector<uint8_t> bytes;
    const char* message;
  };
  std::vector<Case> cases;
  auto edited = [&](auto fn) {
    std::vector<uint8_t> b = bytes;
    fn(&b);
    return b;
  };
  cases.push_back({"empty", {}, "magic"});
  cases.push_back({"magic only", {'K', 'B', 'D', 'S'}, "truncated header"});
  cases.push_back({"wrong magic",
                   edited([](std::vector<uint8_t>* b) { (*b)[0] = 'X'; }),
                   "magic"});
  cases.push_back({"wrong version", edited([](std::vector<uint8_t>* b) {
                     PutU32(b->data() + 4, 2);
                   }),
                   "version 2"});
  cases.push_back({"wrong record size", edited([](std::vector<uint8_t>* b) {
                     PutU32(b->data() + 8, 807);
                   }),
                   "record size"});
  cases.push_back({"truncated by one byte",
                   edited([](std::vector<uint8_t>* b) { b->pop_back(); }),
                   "truncated"});
  cases.push_back(
      {"truncated to the header",
       edited([](std::vector<uint8_t>* b) { b->resize(kHeaderBytes); }),
       "truncated"});
  cases.push_back({"trailing byte",
                   edited([](std::vector<uint8_t>* b) { b->push_back(0); }),
                   "payload bytes"});
  cases.push_back({"flipped payload bit",
                   edited([](std::vector<uint8_t>* b) { (*b)[500] ^= 0x10; }),
                   "CRC-32"});
  cases.push_back({"flipped CRC",
                   edited([](std::vector<uint8_t>* b) { (*b)[33] ^= 1; }),
                   "CRC-32"});
  // Lies that keep the CRC right: the counts are checked against the
  // bytes present (no huge allocation).
  cases.push_back({"huge example count", edited([](std::vector<uint8_t>* b) {
                     PutU64(b->data() + 16, uint64_t{1} << 60);
                   }),
                   "examples"});
  cases.push_back({"huge image count", edited([](std::vector<uint8_t>* b) {
                     PutU32(b->data() + 12, 60000);
                   }),
                   "images"});
  cases.push_back(
      {"image count too high by one",
       edited([](std::vector<uint8_t>* b) { PutU32(b->data() + 12, 3); }),
       "image name"});
  cases.push_back({"zero-length name", edited([](std::vector<uint8_t>* b) {
                     (*b)[kHeaderBytes] = 0;
                     FixCrc(b);
                   }),
                   "length 0"});
  // First record: image id 2 of 2.
  const size_t record = kHeaderBytes + 6 + 12;
  cases.push_back({"image id out of range",
                   edited([&](std::vector<uint8_t>* b) {
                     (*b)[record] = 2;
                     FixCrc(b);
                   }),
                   "example 0: image index 2"});
  // Best tuple's predictor (after image, block, window).
  cases.push_back({"predictor out of range",
                   edited([&](std::vector<uint8_t>* b) {
                     (*b)[record + 6 + kWindowBytes] = 8;
                     FixCrc(b);
                   }),
                   "out of range"});
  cases.push_back({"filter code with perm 6",
                   edited([&](std::vector<uint8_t>* b) {
                     (*b)[record + 6 + kWindowBytes + 5] = 6 << 4;
                     FixCrc(b);
                   }),
                   "out of range"});
  cases.push_back({"negative block", edited([&](std::vector<uint8_t>* b) {
                     PutU32(b->data() + record + 2, 0xFFFFFFFFu);
                     FixCrc(b);
                   }),
                   "negative block"});
  cases.push_back({"nonzero reserved",
                   edited([](std::vector<uint8_t>* b) { (*b)[39] = 1; }),
                   "reserved"});

  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    WriteBytes(path, c.bytes);
    BlockDataset out;
    out.images = {"untouched"};
    error.clear();
    EXPECT_FALSE(ReadBlockDataset(path, &out, &error));
    EXPECT_NE(error.find(c.message), std::string::npos) << error;
    EXPECT_NE(error.find("bad.kbds"), std::string::npos) << error;
    EXPECT_EQ(out.images, std::vector<std::string>{"untouched"});
  }
  EXPECT_FALSE(ReadBlockDataset(dir.Path("missing.kbds"), nullptr, &error));
  EXPECT_NE(error.find("missing.kbds"), std::string::npos);
  EXPECT_FALSE(ReadBlockDataset(dir.path(), nullptr, &error));
}

}  // namespace
}  // namespace blocklab
}  // namespace kiln
