// Persistent splits: deterministic, ratio-honouring assignment by content
// hash; a manifest that keeps every assignment across runs; duplicates that
// never straddle two splits; strict manifest parsing and atomic saving.
#include "toolchain/data/split_manifest.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tests/toolchain/scratch_dir.h"
#include "toolchain/atomic_file.h"
#include "toolchain/data/content_hash.h"
#include "toolchain/serialize.h"

namespace kiln {
namespace data {
namespace {

constexpr int kValid = static_cast<int>(Split::kValid);
constexpr int kTest = static_cast<int>(Split::kTest);

// One synthetic sample: 4 uint8 "pixels" from `id`, a label and a source
// split.
struct Sample {
  uint32_t id;
  int32_t label = 0;
  Split source = Split::kNone;
};

Dataset MakeDataset(const std::vector<Sample>& samples) {
  Dataset d;
  d.name = "synthetic";
  d.item_shape = {2, 2, 1};
  d.class_names = {"a", "b", "c"};
  bool any_source = false;
  for (const Sample& s : samples) {
    for (int k = 0; k < 4; ++k) d.u8.push_back(uint8_t(s.id >> (8 * k)));
    d.labels.push_back(s.label);
    d.origins.push_back("mem#" + std::to_string(s.id));
    d.source_splits.push_back(s.source);
    any_source = any_source || s.source != Split::kNone;
  }
  if (!any_source) d.source_splits.clear();
  return d;
}

std::vector<Sample> Range(uint32_t begin, uint32_t end) {
  std::vector<Sample> samples;
  for (uint32_t id = begin; id < end; ++id) {
    samples.push_back({id, static_cast<int32_t>(id % 3), Split::kNone});
  }
  return samples;
}

std::string Hash(uint32_t id) {
  return ContentHash(MakeDataset({{id, 0, Split::kNone}}), 0);
}

struct Outcome {
  std::vector<Split> splits;
  SplitStats stats;
};

Outcome Assign(const std::vector<Sample>& samples, SplitManifest* manifest,
               const SplitOptions& options = SplitOptions()) {
  Outcome r;
  std::string error;
  EXPECT_TRUE(AssignSplits(MakeDataset(samples), options, manifest, &r.splits,
                           &r.stats, &error))
      << error;
  return r;
}

size_t Sum(const size_t counts[3]) { return counts[0] + counts[1] + counts[2]; }

class SplitManifestTest : public ::testing::Test {
 protected:
  std::vector<std::string> Entries() const { return scratch_.Entries(); }
  std::string ReadText(const std::string& path) const {
    std::vector<uint8_t> bytes;
    std::string error;
    EXPECT_TRUE(ReadFileBytes(path, &bytes, &error)) << error;
    return std::string(bytes.begin(), bytes.end());
  }
  std::string WriteText(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::string error;
    EXPECT_TRUE(WriteFileAtomic(
        path, std::vector<uint8_t>(text.begin(), text.end()), &error))
        << error;
    return path;
  }
  testing::ScratchDir scratch_;
  std::string dir_ = scratch_.path();
};

TEST(SplitRatiosTest, Validated) {
  std::string error;
  EXPECT_TRUE(ValidateSplitRatios(0.7, 0.15, 0.15, &error)) << error;
  EXPECT_TRUE(ValidateSplitRatios(1, 0, 0, &error)) << error;
  EXPECT_TRUE(ValidateSplitRatios(0.5, 0.25, 0.25 + 5e-10, &error)) << error;
  EXPECT_FALSE(ValidateSplitRatios(0.5, 0.25, 0.25 + 5e-9, &error));
  EXPECT_NE(error.find("sum to"), std::string::npos) << error;
  EXPECT_FALSE(ValidateSplitRatios(0.8, 0.3, -0.1, &error));
  EXPECT_NE(error.find("split ratio test=-0.1 is not a non-negative number"),
            std::string::npos)
      << error;
  EXPECT_FALSE(ValidateSplitRatios(0.7, 0.15, 0.1, &error));
  EXPECT_NE(error.find("sum to 0.95, not 1"), std::string::npos) << error;
  EXPECT_FALSE(ValidateSplitRatios(NAN, 0.5, 0.5, &error));
  EXPECT_FALSE(ValidateSplitRatios(0.5, INFINITY, 0.5, &error));

  // AssignSplits refuses bad ratios and leaves the manifest alone.
  SplitManifest manifest;
  SplitOptions options;
  options.test = 0.2;
  std::vector<Split> splits;
  EXPECT_FALSE(AssignSplits(MakeDataset(Range(0, 10)), options, &manifest,
                            &splits, nullptr, &error));
  EXPECT_NE(error.find("not 1"), std::string::npos) << error;
  EXPECT_FALSE(manifest.has_rule);
  EXPECT_TRUE(manifest.splits.empty());
}

TEST(SplitAssignTest, DeterministicBytes) {
  SplitManifest a, b;
  Assign(Range(0, 3000), &a);
  Assign(Range(0, 3000), &b);
  EXPECT_EQ(SplitManifestText(a), SplitManifestText(b));
  EXPECT_EQ(HashedSplit(Hash(7), 1, 0.7, 0.15, 0.15),
            HashedSplit(Hash(7), 1, 0.7, 0.15, 0.15));
}

TEST(SplitAssignTest, RatiosApproximatelyHonoured) {
  struct Case {
    double train, valid, test;
  };
  for (const Case& c : {Case{0.7, 0.15, 0.15}, Case{0.8, 0.2, 0.0},
                        Case{0.5, 0.0, 0.5}, Case{0.0, 0.0, 1.0}}) {
    SplitOptions options;
    options.train = c.train;
    options.valid = c.valid;
    options.test = c.test;
    SplitManifest manifest;
    const Outcome r = Assign(Range(0, 10000), &manifest, options);
    const double ratios[3] = {c.train, c.valid, c.test};
    for (int k = 0; k < 3; ++k) {
      const double got = r.stats.samples[k] / 10000.0;
      EXPECT_NEAR(got, ratios[k], 0.02) << "split " << k << " of " << c.train
                                        << "/" << c.valid << "/" << c.test;
      if (ratios[k] == 0) {
        EXPECT_EQ(r.stats.samples[k], 0u);
      }
    }
    EXPECT_EQ(Sum(r.stats.added), 10000u);
    EXPECT_EQ(Sum(r.stats.kept), 0u);
  }
}

TEST(SplitAssignTest, EmptyManifestAdoptsTheOptions) {
  SplitOptions options;
  options.seed = 42;
  options.train = 0.6;
  options.valid = 0.2;
  options.test = 0.2;
  SplitManifest manifest;
  EXPECT_TRUE(ManifestRuleMatches(manifest, SplitOptions()));
  const Outcome r = Assign(Range(0, 10), &manifest, options);
  EXPECT_FALSE(r.stats.rule_from_manifest);
  EXPECT_TRUE(manifest.has_rule);
  EXPECT_EQ(manifest.seed, 42u);
  EXPECT_EQ(manifest.train, 0.6);
  EXPECT_TRUE(ManifestRuleMatches(manifest, options));
  EXPECT_FALSE(ManifestRuleMatches(manifest, SplitOptions()));
  EXPECT_EQ(manifest.splits.size(), 10u);
  const std::string header =
      "# kiln-split-manifest v1 seed=42 train=0.6 valid=0.2 test=0.2\n";
  EXPECT_EQ(SplitManifestText(manifest).substr(0, header.size()), header);
}

TEST(SplitAssignTest, ManifestTextFormat) {
  SplitManifest manifest;
  const Outcome r = Assign(Range(0, 50), &manifest);
  const std::string text = SplitManifestText(manifest);
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos;
       start = nl + 1) {
    lines.push_back(text.substr(start, nl - start));
  }
  EXPECT_EQ(start, text.size());  // ends with a newline
  ASSERT_EQ(lines.size(), 51u);
  EXPECT_EQ(lines[0],
            "# kiln-split-manifest v1 seed=1 train=0.7 valid=0.15 test=0.15");
  EXPECT_TRUE(std::is_sorted(lines.begin() + 1, lines.end()));
  for (uint32_t id = 0; id < 50; ++id) {
    const std::string line = Hash(id) + "\t" + SplitName(r.splits[id]);
    EXPECT_NE(std::find(lines.begin(), lines.end(), line), lines.end()) << line;
  }
}

TEST(SplitAssignTest, OrderDoesNotMatter) {
  std::vector<Sample> samples = Range(0, 2000);
  // Some duplicates, some with source splits that disagree.
  samples.push_back({5, 1, Split::kNone});
  samples.push_back({6, 0, Split::kTest});
  samples.push_back({6, 2, Split::kTrain});
  samples.push_back({7, 0, Split::kValid});
  SplitManifest ordered;
  const Outcome first = Assign(samples, &ordered);
  std::vector<Sample> shuffled = samples;
  std::mt19937 rng(123);
  for (int round = 0; round < 3; ++round) {
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    SplitManifest m;
    const Outcome r = Assign(shuffled, &m);
    EXPECT_EQ(SplitManifestText(m), SplitManifestText(ordered));
    for (int k = 0; k < 3; ++k) {
      EXPECT_EQ(r.stats.samples[k], first.stats.samples[k]);
      EXPECT_EQ(r.stats.added[k], first.stats.added[k]);
    }
  }
}

TEST_F(SplitManifestTest, PersistsAcrossRuns) {
  const std::string path = dir_ + "/splits.tsv";
  const std::vector<Sample> a = Range(0, 6000);
  SplitManifest first;
  std::string error;
  ASSERT_TRUE(LoadSplitManifest(path, &first, &error)) << error;  // missing
  EXPECT_FALSE(first.has_rule);
  const Outcome run_a = Assign(a, &first);
  ASSERT_TRUE(SaveSplitManifest(path, first, &error)) << error;

  // Outcome 2: A and B, shuffled together.
  std::vector<Sample> ab = Range(0, 9000);
  std::shuffle(ab.begin(), ab.end(), std::mt19937(7));
  SplitManifest second;
  ASSERT_TRUE(LoadSplitManifest(path, &second, &error)) << error;
  EXPECT_EQ(second.splits, first.splits);
  const Outcome run_ab = Assign(ab, &second);
  EXPECT_EQ(Sum(run_ab.stats.kept), 6000u);
  EXPECT_EQ(Sum(run_ab.stats.added), 3000u);
  EXPECT_EQ(run_ab.stats.manifest_unused, 0u);
  for (size_t i = 0; i < ab.size(); ++i) {
    if (ab[i].id < 6000) {
      EXPECT_EQ(run_ab.splits[i], run_a.splits[ab[i].id]) << ab[i].id;
    }
  }
  for (const auto& [hash, split] : first.splits) {
    EXPECT_EQ(second.splits.at(hash), split);
  }
  EXPECT_EQ(second.splits.size(), 9000u);

  // Growing in two steps gives the same manifest as one run over A and B.
  SplitManifest at_once;
  Assign(Range(0, 9000), &at_once);
  EXPECT_EQ(SplitManifestText(second), SplitManifestText(at_once));

  // Outcome 3: only B. A's entries stay in the manifest, unused this time.
  ASSERT_TRUE(SaveSplitManifest(path, second, &error)) << error;
  SplitManifest third;
  ASSERT_TRUE(LoadSplitManifest(path, &third, &error)) << error;
  const Outcome run_b = Assign(Range(6000, 9000), &third);
  EXPECT_EQ(Sum(run_b.stats.kept), 3000u);
  EXPECT_EQ(Sum(run_b.stats.added), 0u);
  EXPECT_EQ(run_b.stats.manifest_unused, 6000u);
  EXPECT_EQ(third.splits.size(), 9000u);
}

TEST(SplitAssignTest, DuplicatesShareASplit) {
  // Sample 11 three times with three labels, sample 12 twice.
  std::vector<Sample> samples = Range(0, 1000);
  samples.push_back({11, 0, Split::kNone});
  samples.push_back({11, 1, Split::kNone});
  samples.push_back({12, 1, Split::kNone});  // label 12 % 3 == 0 elsewhere
  samples.push_back({12, 0, Split::kNone});
  SplitManifest manifest;
  const Outcome r = Assign(samples, &manifest);
  EXPECT_EQ(r.splits[1000], r.splits[11]);
  EXPECT_EQ(r.splits[1001], r.splits[11]);
  EXPECT_EQ(r.splits[1002], r.splits[12]);
  EXPECT_EQ(r.splits[1003], r.splits[12]);
  EXPECT_EQ(r.stats.duplicate_samples, 4u);
  EXPECT_EQ(r.stats.duplicate_groups, 2u);
  EXPECT_EQ(r.stats.label_conflict_groups, 2u);  // 11: labels 2,0,1; 12: 0,1
  EXPECT_EQ(Sum(r.stats.samples), 1004u);
  EXPECT_EQ(Sum(r.stats.added), 1000u);  // distinct hashes
  EXPECT_EQ(manifest.splits.size(), 1000u);

  // Across runs: a later copy of a known image, under another label, goes
  // where the original went; so does a copy with a source split.
  const Outcome again = Assign({{500, 1, Split::kNone},
                                {500, 2, Split::kNone},
                                {501, 2, Split::kTest},
                                {5000, 0, Split::kNone}},
                               &manifest);
  EXPECT_EQ(again.splits[0], r.splits[500]);
  EXPECT_EQ(again.splits[1], r.splits[500]);
  EXPECT_EQ(again.splits[2], r.splits[501]);
  EXPECT_EQ(Sum(again.stats.kept), 2u);
  EXPECT_EQ(Sum(again.stats.added), 1u);
  EXPECT_EQ(again.stats.duplicate_groups, 1u);
}

TEST(SplitAssignTest, SourceSplitsForNewHashesOnly) {
  // Without a manifest: every sample with a source split takes it.
  std::vector<Sample> samples;
  for (uint32_t id = 0; id < 300; ++id) {
    const Split source = id < 100   ? Split::kTest
                         : id < 200 ? Split::kValid
                                    : Split::kNone;
    samples.push_back({id, 0, source});
  }
  SplitManifest manifest;
  Outcome r = Assign(samples, &manifest);
  for (uint32_t id = 0; id < 200; ++id) {
    EXPECT_EQ(r.splits[id], samples[id].source) << id;
  }
  EXPECT_EQ(r.stats.added_from_source, 200u);
  EXPECT_EQ(r.stats.source_overridden, 0u);

  // Ignoring the source splits: all hashed.
  SplitOptions ignore;
  ignore.honour_source_splits = false;
  SplitManifest hashed;
  const Outcome h = Assign(samples, &hashed, ignore);
  EXPECT_EQ(h.stats.added_from_source, 0u);
  size_t differ = 0;
  for (uint32_t id = 0; id < 300; ++id) {
    EXPECT_EQ(h.splits[id], HashedSplit(Hash(id), 1, 0.7, 0.15, 0.15));
    if (id < 200 && h.splits[id] != samples[id].source) ++differ;
  }
  EXPECT_GT(differ, 100u);  // mostly train

  // A manifest entry beats the source: the samples hashed into the
  // manifest above keep their stored split when the source now says test.
  std::vector<Sample> retagged;
  for (uint32_t id = 0; id < 400; ++id)
    retagged.push_back({id, 0, Split::kTest});
  r = Assign(retagged, &hashed);
  size_t overridden = 0;
  for (uint32_t id = 0; id < 400; ++id) {
    if (id < 300) {
      EXPECT_EQ(r.splits[id], h.splits[id]) << id;
      if (h.splits[id] != Split::kTest) ++overridden;
    } else {
      EXPECT_EQ(r.splits[id], Split::kTest) << id;  // new: source honoured
    }
  }
  EXPECT_EQ(r.stats.source_overridden, overridden);
  EXPECT_EQ(r.stats.added_from_source, 100u);
  EXPECT_EQ(r.stats.added[kTest], 100u);
  EXPECT_EQ(Sum(r.stats.kept), 300u);
}

TEST(SplitAssignTest, DuplicatesWithConflictingSourceSplits) {
  // The same image in the official train and test files stays in test,
  // whichever comes first; test beats valid beats train.
  for (bool test_first : {true, false}) {
    std::vector<Sample> samples = {{1, 0, Split::kTrain},
                                   {2, 0, Split::kValid}};
    samples.insert(test_first ? samples.begin() : samples.end(),
                   Sample{1, 0, Split::kTest});
    samples.push_back({2, 0, Split::kTrain});
    samples.push_back({3, 0, Split::kNone});
    samples.push_back({3, 0, Split::kTrain});
    SplitManifest manifest;
    const Outcome r = Assign(samples, &manifest);
    EXPECT_EQ(manifest.splits.at(Hash(1)), Split::kTest);
    EXPECT_EQ(manifest.splits.at(Hash(2)), Split::kValid);
    EXPECT_EQ(manifest.splits.at(Hash(3)), Split::kTrain);
    EXPECT_EQ(r.stats.source_overridden, 2u);  // a train copy of 1 and of 2
    EXPECT_EQ(r.stats.added_from_source, 3u);
  }
}

TEST(SplitAssignTest, SeedChangesNewAssignments) {
  SplitManifest one, two;
  SplitOptions seed2;
  seed2.seed = 2;
  const Outcome r1 = Assign(Range(0, 1000), &one);
  const Outcome r2 = Assign(Range(0, 1000), &two, seed2);
  size_t differ = 0;
  for (size_t i = 0; i < 1000; ++i) differ += r1.splits[i] != r2.splits[i];
  // Two independent 70/15/15 draws agree with probability 0.535.
  EXPECT_GT(differ, 350u);
  EXPECT_LT(differ, 580u);
  EXPECT_EQ(two.seed, 2u);

  // The manifest's rule wins over the options: growing the seed-1 manifest
  // with seed 2 still assigns the new hashes with seed 1.
  const Outcome grown = Assign(Range(0, 2000), &one, seed2);
  EXPECT_TRUE(grown.stats.rule_from_manifest);
  EXPECT_EQ(one.seed, 1u);
  SplitManifest fresh;
  Assign(Range(0, 2000), &fresh);
  EXPECT_EQ(SplitManifestText(one), SplitManifestText(fresh));

  // Ratios likewise.
  SplitOptions ratios;
  ratios.train = 1;
  ratios.valid = ratios.test = 0;
  const Outcome grown2 = Assign(Range(0, 3000), &one, ratios);
  EXPECT_TRUE(grown2.stats.rule_from_manifest);
  EXPECT_GT(grown2.stats.added[kTest], 0u);
  EXPECT_GT(grown2.stats.added[kValid], 0u);
  EXPECT_EQ(one.train, 0.7);
}

TEST(SplitAssignTest, HashedSplitEdges) {
  for (uint32_t id = 0; id < 200; ++id) {
    const std::string h = Hash(id);
    EXPECT_EQ(HashedSplit(h, 9, 1, 0, 0), Split::kTrain);
    EXPECT_EQ(HashedSplit(h, 9, 0, 1, 0), Split::kValid);
    EXPECT_EQ(HashedSplit(h, 9, 0, 0, 1), Split::kTest);
    EXPECT_NE(HashedSplit(h, 9, 0.5, 0.5, 0), Split::kTest);
    EXPECT_NE(HashedSplit(h, 9, 0.5, 0, 0.5), Split::kValid);
    EXPECT_NE(HashedSplit(h, 9, 0, 0.5, 0.5), Split::kTrain);
    // Ratios that sum to a hair under 1 still never pick a zero split.
    EXPECT_NE(HashedSplit(h, 9, 0.6, 0.4 - 1e-10, 0), Split::kTest);
  }
}

TEST_F(SplitManifestTest, RoundTrip) {
  SplitManifest manifest;
  SplitOptions options;
  options.seed = 18446744073709551615ull;
  options.train = 0.1;
  options.valid = 0.2;
  options.test = 0.7;
  Assign(Range(0, 100), &manifest, options);
  const std::string path = dir_ + "/m.tsv";
  std::string error;
  ASSERT_TRUE(SaveSplitManifest(path, manifest, &error)) << error;
  SplitManifest loaded;
  ASSERT_TRUE(LoadSplitManifest(path, &loaded, &error)) << error;
  EXPECT_TRUE(loaded.has_rule);
  EXPECT_EQ(loaded.seed, options.seed);
  EXPECT_EQ(loaded.train, 0.1);
  EXPECT_EQ(loaded.valid, 0.2);
  EXPECT_EQ(loaded.test, 0.7);
  EXPECT_EQ(loaded.splits, manifest.splits);
  EXPECT_EQ(SplitManifestText(loaded), ReadText(path));
  const std::string header =
      "# kiln-split-manifest v1 seed=18446744073709551615 train=0.1 "
      "valid=0.2 test=0.7\n";
  EXPECT_EQ(ReadText(path).substr(0, header.size()), header);
}

TEST_F(SplitManifestTest, LenientWhereHarmless) {
  const std::string header =
      "# kiln-split-manifest v1 seed=3 train=0.5 valid=0.25 test=0.25\n";
  const std::string a = std::string(64, 'a'), b = std::string(64, 'b');
  SplitManifest m;
  std::string error;
  // Unsorted, a repeated entry with the same split, no final newline.
  ASSERT_TRUE(ParseSplitManifest(
      header + b + "\ttest\n" + a + "\ttrain\n" + b + "\ttest", "m", &m,
      &error))
      << error;
  EXPECT_EQ(m.seed, 3u);
  EXPECT_EQ(m.splits.size(), 2u);
  EXPECT_EQ(m.splits.at(a), Split::kTrain);
  EXPECT_EQ(m.splits.at(b), Split::kTest);
  // A header alone: a manifest with a rule and no entries.
  ASSERT_TRUE(ParseSplitManifest(header, "m", &m, &error)) << error;
  EXPECT_TRUE(m.has_rule);
  EXPECT_TRUE(m.splits.empty());
}

TEST_F(SplitManifestTest, ParseErrorsNamePathAndLine) {
  const std::string header =
      "# kiln-split-manifest v1 seed=1 train=0.7 valid=0.15 test=0.15\n";
  const std::string h = std::string(63, '0') + "1";
  struct Case {
    std::string text, error;
  };
  const Case cases[] = {
      {"", "m.tsv:1: empty file"},
      {"hello\n", "m.tsv:1: not a kiln split manifest"},
      {"# kiln-split-manifest v2 seed=1 train=0.7 valid=0.15 test=0.15\n",
       "m.tsv:1: unsupported manifest version 'v2'"},
      {"# kiln-split-manifest v1 seed=1 train=0.7 valid=0.15\n",
       "m.tsv:1: bad header: expected 'v1 seed=N"},
      {"# kiln-split-manifest v1 seed=x train=0.7 valid=0.15 test=0.15\n",
       "m.tsv:1: bad header: seed 'x' is not an integer"},
      {"# kiln-split-manifest v1 seed=18446744073709551616 train=0.7 "
       "valid=0.15 test=0.15\n",
       "m.tsv:1: bad header: seed"},
      {"# kiln-split-manifest v1 seed=1 valid=0.7 train=0.15 test=0.15\n",
       "m.tsv:1: bad header: expected 'train=...', found 'valid=0.7'"},
      {"# kiln-split-manifest v1 seed=1 train=0.7 valid=0.15 test=nan\n",
       "m.tsv:1: bad header: test 'nan' is not a decimal number"},
      {"# kiln-split-manifest v1 seed=1 train=0.7 valid=0.15 test=0.2\n",
       "m.tsv:1: bad header: split ratios train=0.7 valid=0.15 test=0.2 sum"},
      {"# kiln-split-manifest v1 seed=1 train=0.7 valid=0.15 test=0.15\r\n",
       "m.tsv:1: carriage return"},
      {header + h + "\ttrain\n" + h.substr(1) + "\ttest\n",
       "m.tsv:3: '" + h.substr(1) + "' is not a content hash"},
      {header + std::string(64, 'A') + "\ttest\n",
       "m.tsv:2: '" + std::string(64, 'A') + "' is not a content hash"},
      {header + std::string(64, 'g') + "\ttest\n", "m.tsv:2: '"},
      {header + h + "\tvalidation\n",
       "m.tsv:2: unknown split 'validation' (expected train, valid or test)"},
      {header + h + "\tnone\n", "m.tsv:2: unknown split 'none'"},
      {header + h + " train\n", "m.tsv:2: expected 'HASH<TAB>SPLIT'"},
      {header + h + "\ttrain\n\n", "m.tsv:3: empty line"},
      {header + h + "\ttrain\r\n", "m.tsv:2: carriage return"},
      {header + h + "\ttrain\n" + std::string(64, 'f') + "\tvalid\n" + h +
           "\ttest\n",
       "m.tsv:4: hash " + h + " is assigned to test, but to train on line 2"},
  };
  for (const Case& c : cases) {
    SplitManifest m;
    m.seed = 99;
    std::string error;
    EXPECT_FALSE(ParseSplitManifest(c.text, "m.tsv", &m, &error)) << c.text;
    EXPECT_EQ(error.rfind(c.error, 0), 0u) << "text:\n"
                                           << c.text << "\nerror: " << error;
    EXPECT_EQ(m.seed, 99u);  // untouched
  }

  // Through LoadSplitManifest the real path is named.
  const std::string path = WriteText("bad.tsv", header + h + "\tnone\n");
  SplitManifest m;
  std::string error;
  EXPECT_FALSE(LoadSplitManifest(path, &m, &error));
  EXPECT_EQ(error.rfind(path + ":2: unknown split 'none'", 0), 0u) << error;
  // NUL bytes: not a text file.
  const std::string binary = WriteText("bin.tsv", std::string("\0\1", 2));
  EXPECT_FALSE(LoadSplitManifest(binary, &m, &error));
  EXPECT_NE(error.find("not a text file"), std::string::npos) << error;
  // A directory is an error, not an empty manifest.
  EXPECT_FALSE(LoadSplitManifest(dir_, &m, &error));
  EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;
}

TEST_F(SplitManifestTest, SaveIsAtomic) {
  const std::string path = dir_ + "/m.tsv";
  SplitManifest manifest;
  Assign(Range(0, 100), &manifest);
  std::string error;
  ASSERT_TRUE(SaveSplitManifest(path, manifest, &error)) << error;
  const std::string before = ReadText(path);
  Assign(Range(0, 200), &manifest);
  ASSERT_TRUE(SaveSplitManifest(path, manifest, &error)) << error;
  EXPECT_EQ(ReadText(path), SplitManifestText(manifest));
  EXPECT_NE(ReadText(path), before);
  EXPECT_EQ(Entries(), std::vector<std::string>{"m.tsv"});  // no temporaries

  // A failing save leaves the old file as it was and no temporary behind.
  SplitManifest bad = manifest;
  bad.splits["not a hash"] = Split::kTrain;
  EXPECT_FALSE(SaveSplitManifest(path, bad, &error));
  EXPECT_NE(error.find("entry 'not a hash'"), std::string::npos) << error;
  bad = manifest;
  bad.splits[std::string(64, 'c')] = Split::kNone;
  EXPECT_FALSE(SaveSplitManifest(path, bad, &error));
  EXPECT_FALSE(SaveSplitManifest(path, SplitManifest(), &error));
  EXPECT_NE(error.find("no seed and ratios"), std::string::npos) << error;
  EXPECT_FALSE(
      SaveSplitManifest(dir_ + "/no/such/dir/m.tsv", manifest, &error));
  EXPECT_NE(error.find("cannot save split manifest"), std::string::npos)
      << error;
  if (geteuid() != 0) {  // root writes anywhere
    ASSERT_EQ(chmod(dir_.c_str(), 0555), 0);
    EXPECT_FALSE(SaveSplitManifest(path, manifest, &error));
    ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
  }
  EXPECT_EQ(ReadText(path), SplitManifestText(manifest));
  EXPECT_EQ(Entries(), std::vector<std::string>{"m.tsv"});
}

TEST(SplitAssignTest, BadInputsLeaveTheManifestAlone) {
  SplitManifest manifest;
  Assign(Range(0, 10), &manifest);
  const std::string before = SplitManifestText(manifest);
  Dataset d = MakeDataset(Range(10, 20));
  d.labels.pop_back();
  std::vector<Split> splits;
  std::string error;
  EXPECT_FALSE(
      AssignSplits(d, SplitOptions(), &manifest, &splits, nullptr, &error));
  EXPECT_NE(error.find("9 labels for 10 samples"), std::string::npos) << error;
  // A manifest entry that is not a split.
  manifest.splits[Hash(3)] = Split::kNone;
  EXPECT_FALSE(AssignSplits(MakeDataset(Range(0, 20)), SplitOptions(),
                            &manifest, &splits, nullptr, &error));
  EXPECT_NE(error.find("to no split"), std::string::npos) << error;
  EXPECT_EQ(manifest.splits.size(), 10u);
}

}  // namespace
}  // namespace data
}  // namespace kiln
