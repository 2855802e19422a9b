// Dataset specs, CheckDataset, DescribeDataset and the Dataset methods.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/toolchain/data_test_util.h"
#include "toolchain/data/sources.h"

namespace kiln {
namespace data {
namespace {

using ::kiln::testing::ScratchDir;
using ::kiln::testing::WriteBytes;

TEST(DataSourcesTest, SplitNames) {
  EXPECT_STREQ(SplitName(Split::kTrain), "train");
  EXPECT_STREQ(SplitName(Split::kValid), "valid");
  EXPECT_STREQ(SplitName(Split::kTest), "test");
  EXPECT_STREQ(SplitName(Split::kNone), "none");
}

TEST(DataSourcesTest, ItemBytes) {
  Dataset u8;
  u8.item_shape = {2, 1, 1};
  u8.u8 = {1, 2, 3, 4, 5, 6};
  u8.origins = {"a", "b", "c"};
  EXPECT_EQ(u8.item_byte_size(), 2u);
  EXPECT_EQ(u8.item_bytes(1)[0], 3);
  EXPECT_EQ(u8.item_bytes(2)[1], 6);

  Dataset f;
  f.feature_type = FeatureType::kFloat32;
  f.item_shape = {3};
  f.f32 = {1, 2, 3, 4, 5, 6};
  f.origins = {"a", "b"};
  EXPECT_EQ(f.item_byte_size(), 12u);
  EXPECT_EQ(f.item_bytes(1), reinterpret_cast<const uint8_t*>(&f.f32[3]));
}

TEST(DataSourcesTest, UnknownSpecListsTheAcceptedForms) {
  Dataset d;
  std::string error;
  EXPECT_FALSE(OpenDataset("mnist", &d, &error));
  EXPECT_EQ(error.rfind("dataset 'mnist': unknown kind of dataset; the "
                        "accepted forms are:\n",
                        0),
            0u)
      << error;
  for (const char* form :
       {"fashion-mnist[:DIR]", "digits[:PATH]",
        "images:DIR[:HxWxC][:resize=nearest|bilinear]", "csv:PATH:label=COLUMN",
        "csv:PATH:target=COLUMN[,COLUMN...]"}) {
    EXPECT_NE(error.find(form), std::string::npos) << form;
  }
  EXPECT_FALSE(OpenDataset("", &d, &error));
  EXPECT_FALSE(OpenDataset("csv:x.csv", &d, &error));
  EXPECT_NE(error.find("needs :label=COLUMN or :target=COLUMN"),
            std::string::npos)
      << error;
  EXPECT_FALSE(OpenDataset("csv::label=y", &d, &error));
  EXPECT_NE(error.find("no file given"), std::string::npos) << error;
  EXPECT_FALSE(OpenDataset("csv:x.csv:target=a,,b", &d, &error));
  EXPECT_NE(error.find("empty target column name"), std::string::npos);
  EXPECT_FALSE(OpenDataset("images:", &d, &error));
  EXPECT_NE(error.find("no folder given"), std::string::npos);
  EXPECT_FALSE(OpenDataset("fashion-mnist:", &d, &error));
  EXPECT_FALSE(OpenDataset("digits:", &d, &error));
  EXPECT_EQ(d.size(), 0u);
}

TEST(DataSourcesTest, CsvSpecs) {
  ScratchDir dir;
  dir.MakeDir("with:colon");
  const std::string path = dir.Path("with:colon/t.csv");
  WriteBytes(path, "a,b,label,t\n1,2,x,0.5\n3,4,y,1.5\n5,6,x,2.5\n");
  Dataset d;
  std::string error;
  ASSERT_TRUE(OpenDataset("csv:" + path + ":label=label", &d, &error)) << error;
  EXPECT_EQ(d.item_shape, std::vector<int32_t>{3});
  EXPECT_EQ(d.labels, (std::vector<int32_t>{0, 1, 0}));
  EXPECT_EQ(d.origins[0], path + ":2");
  const std::string description = DescribeDataset(d);
  EXPECT_EQ(description,
            "t.csv: 3 samples, classification\n"
            "  item: 3 float32 (3 values)\n"
            "  source splits: none 3\n"
            "  classes: 2\n"
            "      0  x  2\n"
            "      1  y  1\n");

  const std::string regression = dir.Path("with:colon/r.csv");
  WriteBytes(regression, "a,b,t\n1,2,0.5\n3,4,1.5\n5,6,2.5\n");
  ASSERT_TRUE(OpenDataset("csv:" + regression + ":target=t,a", &d, &error))
      << error;
  EXPECT_EQ(d.task, Task::kRegression);
  EXPECT_EQ(d.targets, (std::vector<float>{0.5f, 1, 1.5f, 3, 2.5f, 5}));
  EXPECT_EQ(d.f32, (std::vector<float>{2, 4, 6}));
  EXPECT_NE(DescribeDataset(d).find("targets: 2 per sample"),
            std::string::npos);

  EXPECT_FALSE(OpenDataset("csv:" + path + ":label=nope", &d, &error));
  EXPECT_EQ(error, path +
                       ":1: no column 'nope' in the header (the columns are "
                       "'a', 'b', 'label', 't')");
}

TEST(DataSourcesTest, CheckDatasetCatchesInconsistencies) {
  Dataset d;
  d.name = "m";
  d.item_shape = {2};
  d.u8 = {1, 2, 3, 4};
  d.labels = {0, 1};
  d.class_names = {"a", "b"};
  d.origins = {"m#0", "m#1"};
  d.source_splits = {Split::kNone, Split::kTest};
  std::string error;
  EXPECT_TRUE(CheckDataset(d, &error)) << error;
  EXPECT_NE(DescribeDataset(d).find("source splits: none 1, test 1"),
            std::string::npos)
      << DescribeDataset(d);

  Dataset bad = d;
  bad.labels[1] = 2;
  EXPECT_FALSE(CheckDataset(bad, &error));
  EXPECT_EQ(error, "m: m#1: label 2 out of range");
  bad = d;
  bad.u8.pop_back();
  EXPECT_FALSE(CheckDataset(bad, &error));
  bad = d;
  bad.source_splits.pop_back();
  EXPECT_FALSE(CheckDataset(bad, &error));
  bad = d;
  bad.item_shape = {0};
  EXPECT_FALSE(CheckDataset(bad, &error));
  bad = d;
  bad.task = Task::kRegression;
  EXPECT_FALSE(CheckDataset(bad, &error));
}

}  // namespace
}  // namespace data
}  // namespace kiln
