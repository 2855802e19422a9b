// The vendored scikit-learn digits dataset and its loader's errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/toolchain/data_test_util.h"
#include "toolchain/data/digits.h"
#include "toolchain/data/sources.h"

namespace kiln {
namespace data {
namespace {

using ::kiln::testing::ScratchDir;
using ::kiln::testing::WriteBytes;

TEST(DataDigitsTest, LoadsTheVendoredFile) {
  Dataset d;
  std::string error;
  ASSERT_TRUE(LoadDigits(DefaultDigitsPath(), &d, &error)) << error;
  ASSERT_EQ(d.size(), 1797u);
  EXPECT_EQ(d.name, "digits");
  EXPECT_EQ(d.item_shape, (std::vector<int32_t>{8, 8, 1}));
  EXPECT_EQ(d.feature_type, FeatureType::kUint8);
  EXPECT_EQ(d.u8.size(), 1797u * 64u);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"0", "1", "2", "3", "4",
                                                     "5", "6", "7", "8", "9"}));
  EXPECT_EQ(*std::max_element(d.u8.begin(), d.u8.end()), kDigitsPixelScale);
  std::vector<int> counts(10, 0);
  for (int32_t label : d.labels) ++counts.at(static_cast<size_t>(label));
  for (int c = 0; c < 10; ++c) {
    EXPECT_GE(counts[c], 174) << c;  // sklearn: 174 to 183 per digit
    EXPECT_LE(counts[c], 183) << c;
  }
  // The first row: a zero.
  EXPECT_EQ(std::vector<uint8_t>(d.u8.begin(), d.u8.begin() + 8),
            (std::vector<uint8_t>{0, 0, 5, 13, 9, 1, 0, 0}));
  EXPECT_EQ(d.labels[0], 0);
  EXPECT_EQ(d.labels[1], 1);
  EXPECT_EQ(d.origins[0], DefaultDigitsPath() + ":1");
  EXPECT_EQ(d.source_splits, std::vector<Split>(1797, Split::kNone));

  Dataset via_spec;
  ASSERT_TRUE(OpenDataset("digits", &via_spec, &error)) << error;
  EXPECT_EQ(via_spec.u8, d.u8);
  EXPECT_EQ(via_spec.labels, d.labels);
}

std::string Row(int value, int label) {
  std::string row;
  for (int i = 0; i < 64; ++i) row += std::to_string(value) + ",";
  return row + std::to_string(label) + "\n";
}

TEST(DataDigitsTest, ErrorsNameFileAndLine) {
  ScratchDir dir;
  const std::string path = dir.Path("digits.csv");
  Dataset d;
  std::string error;

  WriteBytes(path, Row(3, 1) + Row(16, 9));
  ASSERT_TRUE(LoadDigits(path, &d, &error)) << error;
  EXPECT_EQ(d.labels, (std::vector<int32_t>{1, 9}));
  ASSERT_TRUE(OpenDataset("digits:" + path, &d, &error)) << error;

  std::string bad = Row(3, 1) + Row(1, 2);
  bad.replace(bad.find('\n') + 1 + 6, 1, "17");  // pixel 3 of line 2
  WriteBytes(path, bad);
  EXPECT_FALSE(LoadDigits(path, &d, &error));
  EXPECT_EQ(error, path + ":2: pixel 3 is '17', outside 0 to 16");
  EXPECT_EQ(d.size(), 0u);

  WriteBytes(path, Row(3, 1) + "\n" + Row(3, 10));
  EXPECT_FALSE(LoadDigits(path, &d, &error));
  EXPECT_EQ(error, path + ":3: the label is '10', outside 0 to 9");

  WriteBytes(path, Row(3, 1) + "1,2,3\n");
  EXPECT_FALSE(LoadDigits(path, &d, &error));
  EXPECT_EQ(error,
            path + ":2: expected 65 fields (64 pixels and the digit), found 3");

  WriteBytes(path, "");
  EXPECT_FALSE(LoadDigits(path, &d, &error));
  EXPECT_EQ(error, path + ": no rows");

  EXPECT_FALSE(LoadDigits(dir.Path("none.csv.gz"), &d, &error));
  EXPECT_EQ(error, dir.Path("none.csv.gz") +
                       ": cannot open: No such file or directory");
}

}  // namespace
}  // namespace data
}  // namespace kiln
