// Content hashes: a sample's identity is its feature bytes, shape and type,
// never its label; the dataset hash covers contents, labels and order.
#include "toolchain/data/content_hash.h"

#include <gtest/gtest.h>
#include <string.h>

#include <string>
#include <vector>

namespace kiln {
namespace data {
namespace {

// A classification dataset of uint8 items with the given shape; sample i's
// bytes are `items[i]`.
Dataset U8Dataset(const std::vector<int32_t>& shape,
                  const std::vector<std::vector<uint8_t>>& items,
                  const std::vector<int32_t>& labels) {
  Dataset d;
  d.name = "synthetic";
  d.item_shape = shape;
  d.feature_type = FeatureType::kUint8;
  d.class_names = {"a", "b", "c"};
  for (size_t i = 0; i < items.size(); ++i) {
    d.u8.insert(d.u8.end(), items[i].begin(), items[i].end());
    d.origins.push_back("mem#" + std::to_string(i));
  }
  d.labels = labels;
  return d;
}

TEST(ContentHashTest, Sha256HexKnownAnswer) {
  EXPECT_EQ(Sha256Hex("abc", 3),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("", 0),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_TRUE(IsSha256Hex(Sha256Hex("abc", 3)));
  EXPECT_FALSE(IsSha256Hex("abc"));
  EXPECT_FALSE(IsSha256Hex(std::string(63, 'a') + "G"));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'A')));
}

TEST(ContentHashTest, SameBytesSameHashWhateverTheLabel) {
  const Dataset d = U8Dataset(
      {2, 2, 1}, {{1, 2, 3, 4}, {1, 2, 3, 4}, {1, 2, 3, 5}}, {0, 2, 0});
  const std::string h0 = ContentHash(d, 0);
  EXPECT_TRUE(IsSha256Hex(h0)) << h0;
  EXPECT_EQ(ContentHash(d, 1), h0);  // same pixels, other label
  EXPECT_NE(ContentHash(d, 2), h0);  // one pixel differs
  std::vector<std::string> all;
  std::string error;
  ASSERT_TRUE(ContentHashes(d, &all, &error)) << error;
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0], h0);
  EXPECT_EQ(all[2], ContentHash(d, 2));
}

TEST(ContentHashTest, ShapeIsPartOfTheHash) {
  const std::vector<uint8_t> bytes = {1, 2, 3, 4};
  const Dataset flat = U8Dataset({4}, {bytes}, {0});
  const Dataset square = U8Dataset({2, 2}, {bytes}, {0});
  const Dataset image = U8Dataset({2, 2, 1}, {bytes}, {0});
  EXPECT_NE(ContentHash(flat, 0), ContentHash(square, 0));
  EXPECT_NE(ContentHash(square, 0), ContentHash(image, 0));
  EXPECT_EQ(ContentHash(square, 0),
            ContentHash(U8Dataset({2, 2}, {bytes}, {1}), 0));
}

TEST(ContentHashTest, FeatureTypeIsPartOfTheHash) {
  // The same four bytes as one float32 and as four uint8 values.
  const float value = 1.5f;
  std::vector<uint8_t> bytes(4);
  memcpy(bytes.data(), &value, 4);
  const Dataset u8 = U8Dataset({4}, {bytes}, {0});
  Dataset f32 = U8Dataset({1}, {}, {0});
  f32.feature_type = FeatureType::kFloat32;
  f32.f32 = {value};
  f32.origins = {"mem#0"};
  ASSERT_EQ(memcmp(u8.item_bytes(0), f32.item_bytes(0), 4), 0);
  EXPECT_NE(ContentHash(u8, 0), ContentHash(f32, 0));

  // Same shape, same (empty) bytes, only the type differs.
  Dataset empty_u8 = U8Dataset({0}, {{}}, {0});
  Dataset empty_f32 = empty_u8;
  empty_f32.feature_type = FeatureType::kFloat32;
  EXPECT_NE(ContentHash(empty_u8, 0), ContentHash(empty_f32, 0));
}

TEST(ContentHashTest, DatasetHashCoversContentsLabelsAndOrder) {
  const Dataset d = U8Dataset({2}, {{1, 2}, {3, 4}, {5, 6}}, {0, 1, 2});
  const std::string h = DatasetHash(d);
  EXPECT_TRUE(IsSha256Hex(h)) << h;
  EXPECT_EQ(DatasetHash(d), h);

  Dataset renamed = d;  // name and origins are not training data
  renamed.name = "other";
  renamed.origins = {"x", "y", "z"};
  EXPECT_EQ(DatasetHash(renamed), h);

  Dataset relabelled = d;
  relabelled.labels[1] = 0;
  EXPECT_NE(DatasetHash(relabelled), h);

  const Dataset reordered = U8Dataset({2}, {{3, 4}, {1, 2}, {5, 6}}, {1, 0, 2});
  EXPECT_NE(DatasetHash(reordered), h);

  Dataset pixel = d;
  pixel.u8[5] = 7;
  EXPECT_NE(DatasetHash(pixel), h);

  Dataset classes = d;
  classes.class_names[2] = "C";
  EXPECT_NE(DatasetHash(classes), h);

  Dataset fewer = d;
  fewer.u8.resize(4);
  fewer.labels.resize(2);
  fewer.origins.resize(2);
  EXPECT_NE(DatasetHash(fewer), h);

  std::vector<std::string> hashes;
  std::string error;
  ASSERT_TRUE(ContentHashes(d, &hashes, &error)) << error;
  EXPECT_EQ(DatasetHash(d, hashes), h);
}

TEST(ContentHashTest, DatasetHashOfRegressionCoversTargets) {
  Dataset d;
  d.name = "table";
  d.task = Task::kRegression;
  d.item_shape = {2};
  d.feature_type = FeatureType::kFloat32;
  d.f32 = {1, 2, 3, 4};
  d.target_dim = 1;
  d.targets = {0.5f, 0.25f};
  d.origins = {"t.csv:2", "t.csv:3"};
  const std::string h = DatasetHash(d);
  EXPECT_TRUE(IsSha256Hex(h)) << h;
  Dataset other = d;
  other.targets[1] = 0.75f;
  EXPECT_NE(DatasetHash(other), h);
  // Targets do not enter the content hash.
  EXPECT_EQ(ContentHash(other, 1), ContentHash(d, 1));
}

TEST(ContentHashTest, InconsistentDatasetsAreRejected) {
  std::string error;
  std::vector<std::string> hashes;
  Dataset short_pixels = U8Dataset({2}, {{1, 2}, {3, 4}}, {0, 1});
  short_pixels.u8.pop_back();
  EXPECT_FALSE(ContentHashes(short_pixels, &hashes, &error));
  EXPECT_NE(error.find("need 4 feature values, the dataset holds 3"),
            std::string::npos)
      << error;
  EXPECT_EQ(DatasetHash(short_pixels), "");

  const Dataset bad_label = U8Dataset({2}, {{1, 2}, {3, 4}}, {0, 3});
  EXPECT_FALSE(ContentHashes(bad_label, &hashes, &error));
  EXPECT_NE(error.find("sample 1 (mem#1) has label 3, not in [0, 3)"),
            std::string::npos)
      << error;

  Dataset splits = U8Dataset({2}, {{1, 2}, {3, 4}}, {0, 1});
  splits.source_splits = {Split::kTest};
  EXPECT_FALSE(ContentHashes(splits, &hashes, &error));
  EXPECT_NE(error.find("1 source split for 2 samples"), std::string::npos)
      << error;
}

}  // namespace
}  // namespace data
}  // namespace kiln
