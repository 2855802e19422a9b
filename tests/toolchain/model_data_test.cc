// OpenModelData: a compiled model, its params metadata, its dataset, label
// fixes, the (read-only) split manifest and the heads matched by name.
#include "toolchain/cli/model_data.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/toolchain/cli_test_util.h"
#include "tests/toolchain/data_test_util.h"
#include "tests/toolchain/digits_models.h"
#include "tests/toolchain/scratch_dir.h"
#include "toolchain/data/content_hash.h"
#include "toolchain/zoo/reference_models.h"

namespace kiln {
namespace cli {
namespace {

using testing::Contains;
using testing::Digits;
using testing::DigitsModelBytes;
using testing::DigitsModelSpec;
using testing::DigitsSplits;
using testing::ScratchDir;
using testing::WriteModelFile;

class ModelDataTest : public ::testing::Test {
 protected:
  std::string Model(const DigitsModelSpec& spec,
                    const std::string& name = "m.kiln") {
    const std::string path = dir_.Path(name);
    WriteModelFile(path, DigitsModelBytes(spec));
    return path;
  }
  ScratchDir dir_;
};

TEST_F(ModelDataTest, OpensTheDatasetItsParamsName) {
  const std::string path = Model(DigitsModelSpec());
  ModelData d;
  std::string error;
  ASSERT_TRUE(OpenModelData(path, {}, &d, &error)) << error;
  EXPECT_TRUE(d.has_params);
  EXPECT_EQ(d.model_name, "digits-ncm");
  EXPECT_EQ(d.dataset_spec, "digits");
  EXPECT_EQ(d.dataset.size(), Digits().size());
  EXPECT_EQ(d.input_shape, (std::vector<int32_t>{8, 8, 1}));
  EXPECT_FALSE(d.input_float);
  EXPECT_TRUE(d.manifest.empty());
  EXPECT_TRUE(d.warnings.empty());
  // No manifest: every sample by the params' rule, as `kiln build` would.
  EXPECT_EQ(d.splits, DigitsSplits());
  ASSERT_EQ(d.heads.size(), 1u);
  EXPECT_EQ(d.heads[0].name, "digits");
  EXPECT_EQ(d.heads[0].labels.size(), 10u);

  std::vector<size_t> test;
  ASSERT_TRUE(SplitIndices(d, "test", &test, &error)) << error;
  size_t expected = 0;
  for (data::Split s : d.splits) expected += s == data::Split::kTest;
  EXPECT_EQ(test.size(), expected);
  for (size_t i : test) EXPECT_EQ(d.splits[i], data::Split::kTest);
  std::vector<size_t> all;
  ASSERT_TRUE(SplitIndices(d, "all", &all, &error)) << error;
  EXPECT_EQ(all.size(), d.dataset.size());
  EXPECT_FALSE(SplitIndices(d, "validation", &all, &error));
  EXPECT_TRUE(Contains(error, "validation")) << error;

  const auto labels = HeadLabels(d, test);
  ASSERT_EQ(labels.size(), 1u);
  ASSERT_EQ(labels[0].size(), test.size());
  for (size_t k = 0; k < test.size(); ++k) {
    EXPECT_EQ(labels[0][k], d.dataset.labels[test[k]]);
  }
  const std::vector<uint8_t> items = GatherItems(d.dataset, test);
  ASSERT_EQ(items.size(), test.size() * 64);
  for (size_t k = 0; k < test.size(); ++k) {
    EXPECT_EQ(0,
              memcmp(items.data() + k * 64, d.dataset.item_bytes(test[k]), 64));
  }
}

TEST_F(ModelDataTest, UnreadableOrInvalidModels) {
  ModelData d;
  std::string error;
  EXPECT_FALSE(OpenModelData(dir_.Path("missing.kiln"), {}, &d, &error));
  EXPECT_TRUE(Contains(error, "missing.kiln")) << error;

  std::vector<uint8_t> bytes = DigitsModelBytes(DigitsModelSpec());
  const std::string truncated = dir_.Path("truncated.kiln");
  WriteModelFile(truncated,
                 std::vector<uint8_t>(bytes.begin(), bytes.begin() + 100));
  EXPECT_FALSE(OpenModelData(truncated, {}, &d, &error));
  EXPECT_TRUE(Contains(error, "truncated.kiln: not a valid Kiln model"))
      << error;

  const std::string garbage = dir_.Path("garbage.kiln");
  testing::WriteBytes(garbage, std::string(4096, 'x'));
  EXPECT_FALSE(OpenModelData(garbage, {}, &d, &error));
  EXPECT_TRUE(Contains(error, "garbage.kiln: ")) << error;

  EXPECT_FALSE(OpenModelData(dir_.path(), {}, &d, &error));
  EXPECT_TRUE(Contains(error, "not a regular file")) << error;
}

TEST_F(ModelDataTest, DatasetFromTheCommandLineAndMismatches) {
  DigitsModelSpec spec;
  spec.with_params = false;
  spec.head_name = "class";
  const std::string bare = Model(spec, "bare.kiln");
  ModelData d;
  std::string error;
  EXPECT_FALSE(OpenModelData(bare, {}, &d, &error));
  EXPECT_TRUE(Contains(error, "--data")) << error;
  ModelDataOptions options;
  options.dataset = "digits";
  ASSERT_TRUE(OpenModelData(bare, options, &d, &error)) << error;
  EXPECT_FALSE(d.has_params);
  // A plain classifier's one head pairs with the dataset's whatever its name.
  ASSERT_EQ(d.heads.size(), 1u);
  EXPECT_EQ(d.heads[0].name, "class");

  options.dataset = "digits:" + dir_.Path("nope.csv");
  EXPECT_FALSE(OpenModelData(bare, options, &d, &error));
  EXPECT_TRUE(Contains(error, "nope.csv")) << error;

  // An 8x8x3 model on 8x8x1 digits.
  const std::string blocknet = dir_.Path("blocknet.kiln");
  WriteModelFile(blocknet, zoo::BuildOrDie(zoo::BlockNet(1)));
  options.dataset = "digits";
  EXPECT_FALSE(OpenModelData(blocknet, options, &d, &error));
  EXPECT_TRUE(Contains(error, "do not match the model's input")) << error;
  EXPECT_TRUE(Contains(error, "8x8x1 uint8")) << error;
  EXPECT_TRUE(Contains(error, "8x8x3 uint8")) << error;

  // A tabular dataset of the wrong size.
  const std::string csv = dir_.Path("t.csv");
  testing::WriteBytes(csv, "a,b,label\n1,2,x\n3,4,y\n");
  options.dataset = "csv:" + csv + ":label=label";
  EXPECT_FALSE(OpenModelData(bare, options, &d, &error));
  EXPECT_TRUE(Contains(error, "do not match the model's input")) << error;
}

TEST_F(ModelDataTest, ManifestIsReadNeverWritten) {
  // A manifest made with another seed: its assignments win.
  data::SplitOptions seed7;
  seed7.seed = 7;
  data::SplitManifest manifest;
  std::vector<data::Split> expected;
  std::string error;
  ASSERT_TRUE(data::AssignSplits(Digits(), seed7, &manifest, &expected, nullptr,
                                 &error))
      << error;
  const std::string manifest_path = dir_.Path("splits.txt");
  ASSERT_TRUE(data::SaveSplitManifest(manifest_path, manifest, &error))
      << error;
  const std::string before = testing::ReadBytes(manifest_path);
  ASSERT_NE(expected, DigitsSplits());

  const std::string path = Model(DigitsModelSpec());
  ModelDataOptions options;
  options.manifest = manifest_path;
  ModelData d;
  ASSERT_TRUE(OpenModelData(path, options, &d, &error)) << error;
  EXPECT_TRUE(d.manifest_found);
  EXPECT_EQ(d.splits, expected);
  EXPECT_EQ(testing::ReadBytes(manifest_path), before);

  // Named on the command line: must exist.
  options.manifest = dir_.Path("none.txt");
  EXPECT_FALSE(OpenModelData(path, options, &d, &error));
  EXPECT_TRUE(Contains(error, "none.txt")) << error;

  // Named by the params only: a warning, the rule, and no file created.
  DigitsModelSpec spec;
  spec.params.split.manifest = dir_.Path("gone/splits.txt");
  const std::string with_manifest = Model(spec, "with_manifest.kiln");
  ASSERT_TRUE(OpenModelData(with_manifest, {}, &d, &error)) << error;
  EXPECT_FALSE(d.manifest_found);
  ASSERT_EQ(d.warnings.size(), 1u);
  EXPECT_TRUE(Contains(d.warnings[0], "gone/splits.txt")) << d.warnings[0];
  EXPECT_EQ(d.splits, DigitsSplits());
  EXPECT_EQ(dir_.Entries(), (std::vector<std::string>{"m.kiln", "splits.txt",
                                                      "with_manifest.kiln"}));
}

TEST_F(ModelDataTest, RelabelsApplyBeforeTheLabelsAreRead) {
  const std::string path = Model(DigitsModelSpec());
  // Sample 0 gets another digit.
  const int32_t old_label = Digits().labels[0];
  const int32_t new_label = (old_label + 1) % 10;
  const std::string csv = dir_.Path("relabels.csv");
  testing::WriteBytes(csv, "hash,label\n" + data::ContentHash(Digits(), 0) +
                               "," + std::to_string(new_label) + "\n");
  ModelDataOptions options;
  options.relabels = csv;
  ModelData d;
  std::string error;
  ASSERT_TRUE(OpenModelData(path, options, &d, &error)) << error;
  EXPECT_EQ(d.relabels, csv);
  EXPECT_EQ(d.dataset.labels[0], new_label);
  EXPECT_EQ(HeadLabels(d, {0})[0][0], new_label);
  // Splits are by content, not label.
  EXPECT_EQ(d.splits, DigitsSplits());

  testing::WriteBytes(
      csv, "hash,label\n" + data::ContentHash(Digits(), 0) + ",eleven\n");
  EXPECT_FALSE(OpenModelData(path, options, &d, &error));
  EXPECT_TRUE(Contains(error, "relabels")) << error;
}

TEST_F(ModelDataTest, MultitaskHeadsMatchByNameAndLabelOrder) {
  DigitsModelSpec spec;
  spec.params.model.kind = train::ModelKind::kMultitask;
  spec.params.model.heads = {
      {"digits", {}},
      {"parity", {{"even", {"0", "2", "4", "6", "8"}}, {"odd", {"*"}}}}};
  spec.parity_head = true;
  spec.parity_first = true;  // model order differs from the params'
  // The digit head's labels reversed in the model.
  spec.labels = {"9", "8", "7", "6", "5", "4", "3", "2", "1", "0"};
  const std::string path = Model(spec);
  ModelData d;
  std::string error;
  ASSERT_TRUE(OpenModelData(path, {}, &d, &error)) << error;
  ASSERT_EQ(d.heads.size(), 2u);
  EXPECT_EQ(d.heads[0].name, "parity");
  EXPECT_EQ(d.heads[1].name, "digits");
  EXPECT_EQ(d.heads[1].labels, spec.labels);
  std::vector<size_t> all;
  ASSERT_TRUE(SplitIndices(d, "all", &all, &error)) << error;
  const auto labels = HeadLabels(d, all);
  for (size_t k = 0; k < all.size(); ++k) {
    const int32_t digit = d.dataset.labels[all[k]];
    EXPECT_EQ(labels[0][k], digit % 2);  // "even" = 0, "odd" = 1
    EXPECT_EQ(labels[1][k], 9 - digit);
  }

  // A model head the params do not declare.
  spec.params.model.heads = {{"digits", {}}};
  const std::string extra = Model(spec, "extra.kiln");
  EXPECT_FALSE(OpenModelData(extra, {}, &d, &error));
  EXPECT_TRUE(Contains(error, "'parity'")) << error;

  // A head whose classes are not the dataset's: by name, then by count.
  DigitsModelSpec renamed;
  renamed.labels = {"0", "1", "2", "three", "4", "5", "6", "7", "8", "9"};
  const std::string three = Model(renamed, "three.kiln");
  EXPECT_FALSE(OpenModelData(three, {}, &d, &error));
  EXPECT_TRUE(Contains(error, "class '3' is not one of the model's labels"))
      << error;
  DigitsModelSpec wrong;
  wrong.params.model.kind = train::ModelKind::kMultitask;
  wrong.params.model.heads = {
      {"digits", {{"low", {"0", "1", "2", "3", "4"}}, {"high", {"*"}}}}};
  const std::string mismatch = Model(wrong, "mismatch.kiln");
  EXPECT_FALSE(OpenModelData(mismatch, {}, &d, &error));
  EXPECT_TRUE(Contains(error, "10 classes in the model but 2")) << error;
}

TEST(ModelDataFlags, ValuesAndCounts) {
  const std::vector<std::string> args = {"--data",           "digits",
                                         "--manifest=m.txt", "--relabels",
                                         "--batch=7",        "--split"};
  ModelDataOptions options;
  size_t i = 0;
  bool missing = true;
  ASSERT_TRUE(ModelDataFlag(args, &i, &options, &missing));
  EXPECT_EQ(i, 1u);
  EXPECT_EQ(options.dataset, "digits");
  i = 2;
  ASSERT_TRUE(ModelDataFlag(args, &i, &options, &missing));
  EXPECT_EQ(i, 2u);
  EXPECT_EQ(options.manifest, "m.txt");
  i = 3;  // "--relabels" followed by "--batch=7": taken as its value
  ASSERT_TRUE(ModelDataFlag(args, &i, &options, &missing));
  EXPECT_EQ(options.relabels, "--batch=7");
  i = 5;  // "--split" at the end
  std::string value;
  EXPECT_FALSE(FlagValue(args, &i, "--split", &value, &missing));
  EXPECT_TRUE(missing);
  EXPECT_EQ(i, 5u);
  i = 4;
  EXPECT_FALSE(FlagValue(args, &i, "--batc", &value, &missing));
  EXPECT_FALSE(missing);
  EXPECT_TRUE(FlagValue(args, &i, "--batch", &value, nullptr));
  EXPECT_EQ(value, "7");
  EXPECT_FALSE(ModelDataFlag(args, &i, &options, nullptr));

  uint64_t n = 0;
  EXPECT_TRUE(ParseCount("64", 100, &n));
  EXPECT_EQ(n, 64u);
  EXPECT_FALSE(ParseCount("0", 100, &n));
  EXPECT_FALSE(ParseCount("101", 100, &n));
  EXPECT_FALSE(ParseCount("-1", 100, &n));
  EXPECT_FALSE(ParseCount("1e3", 10000, &n));
  EXPECT_FALSE(ParseCount("", 100, &n));
  EXPECT_FALSE(ParseCount("1234567890", UINT64_MAX, &n));
}

}  // namespace
}  // namespace cli
}  // namespace kiln
