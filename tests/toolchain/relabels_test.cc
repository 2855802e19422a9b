// Label fixes by content hash: parsing (and its errors, by file:line),
// applying to every sample with the hash, and the promise that relabelling
// never moves a sample to another split.
#include "toolchain/data/relabels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/toolchain/cli_test_util.h"
#include "tests/toolchain/data_test_util.h"
#include "toolchain/data/content_hash.h"
#include "toolchain/data/sources.h"
#include "toolchain/data/split_manifest.h"

namespace kiln {
namespace data {
namespace {

using testing::Contains;

const std::vector<std::string> kClasses = {"cat", "dog", "bird, small"};

// Five 2x2 gray samples; samples 0 and 3 are exact duplicates.
Dataset Small() {
  Dataset d;
  d.name = "small";
  d.item_shape = {2, 2, 1};
  d.u8 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 13, 14, 15, 16};
  d.labels = {0, 1, 2, 1, 0};
  d.class_names = kClasses;
  for (int i = 0; i < 5; ++i) d.origins.push_back("s#" + std::to_string(i));
  return d;
}

std::string HashOf(const Dataset& d, size_t i) { return ContentHash(d, i); }

std::string Upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

TEST(RelabelsParse, HeaderColumnsInAnyOrderExtraColumnsIgnored) {
  const Dataset d = Small();
  const std::string h0 = HashOf(d, 0), h1 = HashOf(d, 1), h2 = HashOf(d, 2);
  // The review sheet's layout, a BOM, CRLF, a quoted label with a comma, an
  // upper-case hash, a blank line and an unfilled row.
  const std::string text =
      "\xEF\xBB\xBFhash,label,index,current,predicted,confidence,reason\r\n" +
      h0 + ",dog,0,cat,dog,0.93,misclassified\r\n" + "\r\n" + Upper(h1) +
      ",\"bird, small\",1,dog,\"bird, small\",0.5,both\r\n" + h2 +
      ",,2,\"bird, small\",cat,0.2,fallback\r\n";
  RelabelTable table;
  std::string error;
  ASSERT_TRUE(ParseRelabels(text, "r.csv", kClasses, &table, &error)) << error;
  EXPECT_EQ(table.rows, 3u);
  EXPECT_EQ(table.filled_rows, 2u);
  ASSERT_EQ(table.fixes.size(), 2u);
  EXPECT_EQ(table.fixes.at(h0).label, 1);
  EXPECT_EQ(table.fixes.at(h0).line, 2);
  EXPECT_EQ(table.fixes.at(h1).label, 2);
  EXPECT_EQ(table.fixes.at(h1).line, 4);
  EXPECT_EQ(table.fixes.count(h2), 0u);

  // label before hash, nothing else.
  ASSERT_TRUE(ParseRelabels("label,hash\ncat," + h2 + "\n", "r.csv", kClasses,
                            &table, &error))
      << error;
  ASSERT_EQ(table.fixes.size(), 1u);
  EXPECT_EQ(table.fixes.at(h2).label, 0);

  // The same hash twice with the same label (or once empty) is fine.
  ASSERT_TRUE(
      ParseRelabels("hash,label\n" + h0 + ",dog\n" + h0 + ",\n" + h0 + ",dog\n",
                    "r.csv", kClasses, &table, &error))
      << error;
  EXPECT_EQ(table.fixes.size(), 1u);
  EXPECT_EQ(table.filled_rows, 2u);

  // Only a header: no fixes.
  ASSERT_TRUE(ParseRelabels("hash,label\n", "r.csv", kClasses, &table, &error))
      << error;
  EXPECT_EQ(table.rows, 0u);
  EXPECT_TRUE(table.fixes.empty());
}

TEST(RelabelsParse, ErrorsNameFileAndLine) {
  const std::string h = HashOf(Small(), 0);
  struct Case {
    std::string text;
    std::string error;
  };
  const Case cases[] = {
      {"", "fix.csv: the file is empty"},
      {"hash,class\n" + h + ",dog\n", "fix.csv:1: the header"},
      {"hash,class\n", "lacks the column 'label'"},
      {"label\ncat\n", "lacks the column 'hash'"},
      {"hash,label,Hash\n",
       "fix.csv:1: the header names the column 'hash' "
       "twice"},
      {"hash,label\n" + h + ",dog,extra\n",
       "fix.csv:2: expected 2 fields as in the header, found 3"},
      {"hash,label\n\n" + h + "\n", "fix.csv:3: expected 2 fields"},
      {"hash,label\n" + h.substr(1) + ",dog\n",
       "fix.csv:2: '" + h.substr(1) + "' is not a sample content hash"},
      {"hash,label\n" + h.substr(1) + "g,dog\n",
       "is not a sample content hash"},
      {"hash,label\n" + h + ",Dog\n",
       "fix.csv:2: unknown class 'Dog'; the dataset's classes are 'cat', "
       "'dog', 'bird, small'"},
      {"hash,label\n" + h + ",dog\n" + h + ",cat\n",
       "fix.csv:3: sample " + h.substr(0, 16) +
           "... is given the label 'cat' here but 'dog' on line 2"},
      {"hash,label\n" + h + ",\"dog\n", "fix.csv:2"},  // unterminated quote
  };
  for (const Case& c : cases) {
    RelabelTable table;
    std::string error;
    EXPECT_FALSE(ParseRelabels(c.text, "fix.csv", kClasses, &table, &error))
        << c.text;
    EXPECT_TRUE(Contains(error, c.error)) << c.text << "\n -> " << error;
    EXPECT_TRUE(table.fixes.empty());
  }
}

TEST(RelabelsApply, EveryDuplicateGetsTheLabelAndStatsCount) {
  Dataset d = Small();
  std::vector<std::string> hashes;
  std::string error;
  ASSERT_TRUE(ContentHashes(d, &hashes, &error)) << error;
  ASSERT_EQ(hashes[0], hashes[3]);
  // Sample 0/3 (labels cat, dog: a conflict) -> bird; sample 4 -> cat (its
  // label already); one hash nobody has.
  const std::string absent(64, 'a');
  const std::string text = "hash,label\n" + hashes[0] + ",\"bird, small\"\n" +
                           hashes[4] + ",cat\n" + absent + ",dog\n" +
                           hashes[1] + ",\n";
  RelabelTable table;
  ASSERT_TRUE(ParseRelabels(text, "r.csv", kClasses, &table, &error)) << error;
  RelabelStats stats;
  ASSERT_TRUE(ApplyRelabelTable(table, hashes, &d, &stats, &error)) << error;
  EXPECT_EQ(d.labels, (std::vector<int32_t>{2, 1, 2, 2, 0}));
  EXPECT_EQ(stats.rows, 4u);
  EXPECT_EQ(stats.fixes, 3u);
  EXPECT_EQ(stats.applied, 2u);
  EXPECT_EQ(stats.unknown_hashes, 1u);
  EXPECT_EQ(stats.matched_samples, 3u);
  EXPECT_EQ(stats.changed_samples, 2u);

  // Applying again changes nothing.
  ASSERT_TRUE(ApplyRelabelTable(table, hashes, &d, &stats, &error)) << error;
  EXPECT_EQ(d.labels, (std::vector<int32_t>{2, 1, 2, 2, 0}));
  EXPECT_EQ(stats.changed_samples, 0u);
  EXPECT_EQ(stats.matched_samples, 3u);
}

TEST(RelabelsApply, FromFileAndFailuresLeaveTheDatasetAlone) {
  testing::ScratchDir dir;
  Dataset d = Small();
  const Dataset before = d;
  const std::string path = dir.Path("fix.csv");
  testing::WriteBytes(path, "hash,label\n" + HashOf(d, 2) + ",dog\n");
  RelabelStats stats;
  std::string error;
  ASSERT_TRUE(ApplyRelabels(path, &d, &stats, &error)) << error;
  EXPECT_EQ(d.labels, (std::vector<int32_t>{0, 1, 1, 1, 0}));
  EXPECT_EQ(stats.changed_samples, 1u);
  // The three-argument form (what OpenModelData calls).
  d = before;
  ASSERT_TRUE(ApplyRelabels(path, &d, &error)) << error;
  EXPECT_EQ(d.labels[2], 1);

  d = before;
  EXPECT_FALSE(ApplyRelabels(dir.Path("missing.csv"), &d, &error));
  EXPECT_TRUE(Contains(error, "missing.csv")) << error;
  EXPECT_EQ(d.labels, before.labels);

  testing::WriteBytes(path, "hash,label\n" + HashOf(d, 2) + ",dog\n" +
                                HashOf(d, 1) + ",horse\n");
  EXPECT_FALSE(ApplyRelabels(path, &d, &error));
  EXPECT_TRUE(Contains(error, path + ":3: unknown class 'horse'")) << error;
  EXPECT_EQ(d.labels, before.labels);  // the good first row was not applied

  Dataset regression;
  regression.name = "reg";
  regression.task = Task::kRegression;
  regression.item_shape = {1};
  regression.feature_type = FeatureType::kFloat32;
  regression.f32 = {1.0f};
  regression.target_dim = 1;
  regression.targets = {2.0f};
  regression.origins = {"r:2"};
  EXPECT_FALSE(ApplyRelabels(path, &regression, &error));
  EXPECT_TRUE(Contains(error, "regression")) << error;
}

// Relabelling never changes a split: assign with a manifest, relabel,
// reassign with the same manifest -> identical; add new samples -> the old
// ones keep theirs, the new ones get the manifest's rule.
TEST(RelabelsSplits, RelabelledSamplesKeepTheirSplitsNewOnesGetAssigned) {
  Dataset digits;
  std::string error;
  ASSERT_TRUE(OpenDataset("digits", &digits, &error)) << error;
  SplitOptions options;
  options.seed = 7;
  SplitManifest manifest;
  std::vector<Split> before;
  ASSERT_TRUE(
      AssignSplits(digits, options, &manifest, &before, nullptr, &error))
      << error;
  const SplitManifest saved = manifest;
  std::vector<std::string> hashes;
  ASSERT_TRUE(ContentHashes(digits, &hashes, &error)) << error;

  // Relabel every 7th sample to the next class, through a CSV.
  std::string text = "hash,label\n";
  size_t relabelled = 0;
  for (size_t i = 0; i < digits.size(); i += 7) {
    const size_t next =
        (static_cast<size_t>(digits.labels[i]) + 1) % digits.class_names.size();
    text += hashes[i] + "," + digits.class_names[next] + "\n";
    ++relabelled;
  }
  RelabelTable table;
  ASSERT_TRUE(
      ParseRelabels(text, "fix.csv", digits.class_names, &table, &error))
      << error;
  Dataset fixed = digits;
  RelabelStats stats;
  ASSERT_TRUE(ApplyRelabelTable(table, hashes, &fixed, &stats, &error))
      << error;
  EXPECT_GT(stats.changed_samples, relabelled / 2);
  EXPECT_NE(fixed.labels, digits.labels);
  EXPECT_NE(DatasetHash(fixed), DatasetHash(digits));

  SplitManifest again = saved;
  std::vector<Split> after;
  SplitStats split_stats;
  ASSERT_TRUE(
      AssignSplits(fixed, options, &again, &after, &split_stats, &error))
      << error;
  EXPECT_EQ(after, before);
  EXPECT_EQ(again.splits, saved.splits);
  EXPECT_EQ(split_stats.added[0] + split_stats.added[1] + split_stats.added[2],
            0u);
  // Without any manifest the rule alone gives the same answer too.
  SplitManifest fresh;
  ASSERT_TRUE(AssignSplits(fixed, options, &fresh, &after, nullptr, &error));
  EXPECT_EQ(after, before);

  // New samples: random 8x8 images (0..16), appended.
  Dataset grown = fixed;
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> pixel(0, 16);
  const size_t old_count = grown.size(), added = 300;
  for (size_t k = 0; k < added; ++k) {
    for (size_t e = 0; e < grown.item_elements(); ++e) {
      grown.u8.push_back(static_cast<uint8_t>(pixel(rng)));
    }
    grown.labels.push_back(static_cast<int32_t>(k % 10));
    grown.origins.push_back("synthetic#" + std::to_string(k));
  }
  if (!grown.source_splits.empty()) {
    grown.source_splits.resize(grown.size(), Split::kNone);
  }
  ASSERT_TRUE(CheckDataset(grown, &error)) << error;
  SplitManifest grown_manifest = saved;
  std::vector<Split> grown_splits;
  ASSERT_TRUE(AssignSplits(grown, options, &grown_manifest, &grown_splits,
                           &split_stats, &error))
      << error;
  ASSERT_EQ(grown_splits.size(), old_count + added);
  EXPECT_TRUE(std::equal(before.begin(), before.end(), grown_splits.begin()));
  std::set<std::string> new_hashes;
  size_t per_split[3] = {0, 0, 0};
  for (size_t i = old_count; i < grown.size(); ++i) {
    const std::string h = ContentHash(grown, i);
    new_hashes.insert(h);
    ASSERT_NE(grown_splits[i], Split::kNone);
    EXPECT_EQ(grown_splits[i], HashedSplit(h, options.seed, options.train,
                                           options.valid, options.test));
    EXPECT_EQ(grown_manifest.splits.at(h), grown_splits[i]);
    ++per_split[static_cast<int>(grown_splits[i])];
  }
  EXPECT_EQ(split_stats.added[0] + split_stats.added[1] + split_stats.added[2],
            new_hashes.size());
  EXPECT_EQ(grown_manifest.splits.size(),
            saved.splits.size() + new_hashes.size());
  // All three splits got some of the 300.
  EXPECT_GT(per_split[0], 0u);
  EXPECT_GT(per_split[1], 0u);
  EXPECT_GT(per_split[2], 0u);
}

// `kiln data --relabels`: the fixes, their counts, the unknown-hash
// warning, and errors by file:line.
TEST(RelabelsCli, DataCommandAppliesAndReports) {
  testing::ScratchDir dir;
  Dataset digits;
  std::string error;
  ASSERT_TRUE(OpenDataset("digits", &digits, &error)) << error;
  const std::string h0 = ContentHash(digits, 0), h1 = ContentHash(digits, 1);
  const std::string other0 = digits.labels[0] == 3 ? "4" : "3";
  const std::string fix = dir.Path("fix.csv");
  testing::WriteBytes(fix, "hash,label,note\n" + h0 + "," + other0 + ",x\n" +
                               h1 + ",,y\n" + std::string(64, 'b') + ",5,z\n");
  testing::CliRun r = testing::Cli({"data", "digits", "--relabels", fix});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "relabels    " + fix +
                                  ": 2 fixes, 1 sample changed, 1 hash not "
                                  "in the dataset"))
      << r.out;
  EXPECT_TRUE(Contains(r.err, "kiln data: warning: " + fix +
                                  ": 1 fixed hash no sample of this dataset "
                                  "has"))
      << r.err;
  Dataset fixed = digits;
  ASSERT_TRUE(ApplyRelabels(fix, &fixed, &error)) << error;
  EXPECT_TRUE(Contains(r.out, "hash        " + DatasetHash(fixed))) << r.out;
  EXPECT_NE(DatasetHash(fixed), DatasetHash(digits));

  r = testing::Cli({"data", "digits", "--relabels=" + fix, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "\"path\": \"" + fix + "\"")) << r.out;
  EXPECT_TRUE(Contains(r.out, "\"changed_samples\": 1")) << r.out;
  EXPECT_TRUE(Contains(r.out, "\"unknown_hashes\": 1")) << r.out;
  r = testing::Cli({"data", "digits", "--json"});
  EXPECT_TRUE(Contains(r.out, "\"relabels\": null")) << r.out;

  testing::WriteBytes(fix, "hash,label\n" + h0 + ",3\n" + h0 + ",4\n");
  r = testing::Cli({"data", "digits", "--relabels", fix});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, fix + ":3: sample")) << r.err;
  r = testing::Cli({"data", "digits", "--relabels", dir.Path("none.csv")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "none.csv")) << r.err;
  r = testing::Cli({"data", "digits", "--relabels"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "--relabels needs a value")) << r.err;
  r = testing::Cli({"data", "--help"});
  EXPECT_TRUE(Contains(r.out, "--relabels CSV")) << r.out;
}

}  // namespace
}  // namespace data
}  // namespace kiln
