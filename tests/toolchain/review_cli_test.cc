// `kiln review` end to end on a real model (no LibTorch): the nearest-class-
// mean digits classifier of digits_models.h, compiled with a fallback
// threshold, reviewed through the runtime. The expected items are
// recomputed here with KilnRunner on the split the params' rule gives,
// independently of OpenModelData.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/toolchain/cli_test_util.h"
#include "tests/toolchain/data_test_util.h"
#include "tests/toolchain/digits_models.h"
#include "toolchain/data/content_hash.h"
#include "toolchain/data/relabels.h"
#include "toolchain/data/sources.h"
#include "toolchain/data/split_manifest.h"
#include "toolchain/train/params.h"
#include "toolchain/train/quantize_model.h"

namespace kiln {
namespace {

using testing::Cli;
using testing::CliRun;
using testing::Contains;

std::vector<kiln_decision> Decide(const std::vector<uint8_t>& model,
                                  const data::Dataset& d,
                                  const std::vector<size_t>& indices) {
  train::KilnRunner runner;
  std::string error;
  EXPECT_TRUE(runner.Load(model, indices.size(), &error)) << error;
  std::vector<uint8_t> items;
  for (size_t i : indices) {
    items.insert(items.end(), d.item_bytes(i),
                 d.item_bytes(i) + d.item_byte_size());
  }
  std::vector<kiln_decision> decisions;
  EXPECT_TRUE(
      runner.Run(items.data(), indices.size(), nullptr, &decisions, &error))
      << error;
  return decisions;
}

struct Expected {
  size_t index;
  std::string reason;
  int32_t predicted;
  double confidence;
};

std::vector<std::string> SplitText(const std::string& line, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t at; (at = line.find(sep, start)) != std::string::npos;
       start = at + 1) {
    parts.push_back(line.substr(start, at - start));
  }
  parts.push_back(line.substr(start));
  return parts;
}

struct CsvRow {
  std::string hash, label;
  size_t index;
  std::string current, predicted;
  double confidence;
  std::string reason;
};

std::vector<CsvRow> ReadReviewCsv(const std::string& path,
                                  std::string* header) {
  const std::vector<std::string> lines =
      SplitText(testing::ReadBytes(path), '\n');
  std::vector<CsvRow> rows;
  if (lines.empty()) return rows;
  *header = lines[0];
  for (size_t l = 1; l < lines.size(); ++l) {
    if (lines[l].empty()) continue;
    const std::vector<std::string> f = SplitText(lines[l], ',');
    EXPECT_EQ(f.size(), 7u) << lines[l];
    if (f.size() != 7) continue;
    rows.push_back({f[0], f[1], std::stoul(f[2]), f[3], f[4],
                    strtod(f[5].c_str(), nullptr), f[6]});
  }
  return rows;
}

size_t Occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

class ReviewCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    digits_ = testing::Digits();
    splits_ = testing::DigitsSplits();
    for (size_t i = 0; i < digits_.size(); ++i) {
      if (splits_[i] == data::Split::kTest) test_.push_back(i);
    }
    // First without fallback, to put the threshold at the 25th percentile
    // of the test confidences; then the real model.
    testing::DigitsModelSpec spec;
    spec.head_name = "digit";
    spec.policy = {1, ConfidenceKind::kTop1Prob, 0.0f};
    std::vector<kiln_decision> d =
        Decide(testing::DigitsModelBytes(spec), digits_, test_);
    std::vector<int32_t> conf;
    for (const kiln_decision& x : d) conf.push_back(x.confidence);
    std::sort(conf.begin(), conf.end());
    spec.policy.threshold_real = conf[conf.size() / 4] / 65536.0f;
    policy_ = spec.policy;
    model_ = testing::DigitsModelBytes(spec);

    d = Decide(model_, digits_, test_);
    for (size_t k = 0; k < test_.size(); ++k) {
      const bool wrong = d[k].class_id[0] != digits_.labels[test_[k]];
      const bool fallback = d[k].fallback != 0;
      if (!wrong && !fallback) continue;
      expected_.push_back({test_[k],
                           !fallback ? "misclassified"
                           : wrong   ? "both"
                                     : "fallback",
                           d[k].class_id[0], d[k].confidence / 65536.0});
    }
  }

  void SetUp() override {
    model_path_ = dir_.Path("centroids.kiln");
    testing::WriteBytes(model_path_, std::string(model_.begin(), model_.end()));
  }

  size_t CountReason(const std::string& reason) const {
    return std::count_if(expected_.begin(), expected_.end(),
                         [&](const Expected& e) { return e.reason == reason; });
  }

  static data::Dataset digits_;
  static std::vector<data::Split> splits_;
  static std::vector<size_t> test_;
  static std::vector<uint8_t> model_;
  static DecisionPolicy policy_;
  static std::vector<Expected> expected_;
  testing::ScratchDir dir_;
  std::string model_path_;
};

data::Dataset ReviewCliTest::digits_;
std::vector<data::Split> ReviewCliTest::splits_;
std::vector<size_t> ReviewCliTest::test_;
std::vector<uint8_t> ReviewCliTest::model_;
DecisionPolicy ReviewCliTest::policy_;
std::vector<Expected> ReviewCliTest::expected_;

TEST_F(ReviewCliTest, WritesTheSheetAndTheCsvOfExactlyTheSelectedItems) {
  // A meaningful fixture: every reason occurs.
  ASSERT_GT(CountReason("misclassified"), 0u);
  ASSERT_GT(CountReason("both"), 0u);
  ASSERT_GT(CountReason("fallback"), 0u);

  const std::string out = dir_.Path("rev");
  const CliRun r = Cli({"review", model_path_, "--out", out});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Contains(
      r.out, "digits, split test: " + std::to_string(test_.size()) + " items"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "wrote " + out + "/review.html")) << r.out;

  std::string header;
  const std::vector<CsvRow> rows =
      ReadReviewCsv(out + "/relabels.csv", &header);
  EXPECT_EQ(header, "hash,label,index,current,predicted,confidence,reason");
  ASSERT_EQ(rows.size(), expected_.size());
  std::map<size_t, const Expected*> want;
  for (const Expected& e : expected_) want[e.index] = &e;
  std::set<size_t> seen;
  for (size_t k = 0; k < rows.size(); ++k) {
    const CsvRow& row = rows[k];
    ASSERT_EQ(want.count(row.index), 1u) << "unexpected item " << row.index;
    EXPECT_TRUE(seen.insert(row.index).second) << "twice: " << row.index;
    const Expected& e = *want[row.index];
    EXPECT_EQ(row.hash, data::ContentHash(digits_, row.index));
    EXPECT_EQ(row.label, "");
    EXPECT_EQ(row.current, digits_.class_names[digits_.labels[row.index]]);
    EXPECT_EQ(row.predicted, digits_.class_names[e.predicted]);
    EXPECT_EQ(row.reason, e.reason);
    EXPECT_NEAR(row.confidence, e.confidence, 1e-12);
    // Dangerous ones first, then by confidence, highest first.
    if (k > 0) {
      const CsvRow& prev = rows[k - 1];
      const bool pd = prev.reason == "misclassified";
      const bool cd = row.reason == "misclassified";
      EXPECT_TRUE(pd || !cd) << "row " << k;
      if (pd == cd) {
        EXPECT_GE(prev.confidence, row.confidence) << "row " << k;
      }
    }
  }

  const std::string html = testing::ReadBytes(out + "/review.html");
  EXPECT_EQ(Occurrences(html, "<div class=\"card "), expected_.size());
  EXPECT_EQ(Occurrences(html, "<img src=\"data:image/png;base64,"),
            expected_.size());
  for (const CsvRow& row : rows) {
    EXPECT_TRUE(Contains(html, "data-hash=\"" + row.hash + "\"")) << row.index;
  }
  EXPECT_TRUE(Contains(html, "head digit: " + std::to_string(expected_.size()) +
                                 " of " + std::to_string(test_.size())))
      << html.substr(0, 3000);

  // The JSON summary counts every reason.
  const CliRun j =
      Cli({"review", model_path_, "--out", out, "--json", "--head", "digit"});
  ASSERT_EQ(j.code, 0) << j.err;
  EXPECT_TRUE(Contains(j.out, "\"misclassified\": " +
                                  std::to_string(CountReason("misclassified"))))
      << j.out;
  EXPECT_TRUE(
      Contains(j.out, "\"both\": " + std::to_string(CountReason("both"))))
      << j.out;
  EXPECT_TRUE(Contains(
      j.out, "\"fallback\": " + std::to_string(CountReason("fallback"))))
      << j.out;
  EXPECT_TRUE(
      Contains(j.out, "\"csv_rows\": " + std::to_string(expected_.size())))
      << j.out;
  // The relabels file as written is a valid, empty relabels file.
  data::Dataset copy = digits_;
  data::RelabelStats stats;
  std::string error;
  ASSERT_TRUE(data::ApplyRelabels(out + "/relabels.csv", &copy, &stats, &error))
      << error;
  EXPECT_EQ(stats.rows, expected_.size());
  EXPECT_EQ(stats.fixes, 0u);
  EXPECT_EQ(copy.labels, digits_.labels);
}

TEST_F(ReviewCliTest, LimitKeepsTheFirstItems) {
  const std::string all = dir_.Path("all"), few = dir_.Path("few");
  ASSERT_EQ(Cli({"review", model_path_, "--out", all}).code, 0);
  const CliRun r = Cli({"review", model_path_, "--out=" + few, "--limit", "3"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string header;
  const std::vector<CsvRow> a = ReadReviewCsv(all + "/relabels.csv", &header);
  const std::vector<CsvRow> f = ReadReviewCsv(few + "/relabels.csv", &header);
  ASSERT_EQ(f.size(), 3u);
  for (size_t k = 0; k < 3; ++k) EXPECT_EQ(f[k].index, a[k].index);
  const std::string html = testing::ReadBytes(few + "/review.html");
  EXPECT_EQ(Occurrences(html, "<div class=\"card "), 3u);
  EXPECT_TRUE(Contains(html, "Showing the first 3.")) << html.substr(0, 3000);
}

// Fill in a label: `kiln data` and ApplyRelabels see it, every split stays,
// and a review with the fix no longer lists the item.
TEST_F(ReviewCliTest, FilledLabelIsAppliedAndSplitsStay) {
  const std::string out = dir_.Path("rev");
  ASSERT_EQ(Cli({"review", model_path_, "--out", out}).code, 0);
  const std::string csv_path = out + "/relabels.csv";
  const std::string original = testing::ReadBytes(csv_path);
  std::vector<std::string> lines = SplitText(original, '\n');
  // The first row is the most confident accepted error; say the model is
  // right (fill in its prediction).
  std::vector<std::string> f = SplitText(lines[1], ',');
  ASSERT_EQ(f[6], "misclassified");
  const size_t index = std::stoul(f[2]);
  const std::string hash = f[0];
  const std::string new_label = f[4];
  ASSERT_NE(new_label, f[3]);
  f[1] = new_label;
  std::string filled_line;
  for (size_t i = 0; i < f.size(); ++i) filled_line += (i ? "," : "") + f[i];
  lines[1] = filled_line;
  std::string filled;
  for (size_t i = 0; i < lines.size(); ++i) {
    filled += lines[i] + (i + 1 < lines.size() ? "\n" : "");
  }
  const std::string fixed_path = dir_.Path("fixed.csv");
  testing::WriteBytes(fixed_path, filled);

  // ApplyRelabels: that sample (and its exact duplicates) change, no other.
  data::Dataset fixed = digits_;
  data::RelabelStats stats;
  std::string error;
  ASSERT_TRUE(data::ApplyRelabels(fixed_path, &fixed, &stats, &error)) << error;
  EXPECT_EQ(stats.fixes, 1u);
  EXPECT_GE(stats.changed_samples, 1u);
  EXPECT_EQ(fixed.class_names[fixed.labels[index]], new_label);
  for (size_t i = 0; i < fixed.size(); ++i) {
    if (data::ContentHash(fixed, i) != hash) {
      EXPECT_EQ(fixed.labels[i], digits_.labels[i]) << i;
    }
  }
  std::vector<data::Split> splits;
  data::SplitManifest manifest;
  ASSERT_TRUE(data::AssignSplits(fixed, train::TrainParams().split, &manifest,
                                 &splits, nullptr, &error));
  EXPECT_EQ(splits, splits_);

  // kiln data: the manifest keeps every entry (all kept, none new, the
  // file unchanged), the same samples per split, other class counts.
  const std::string m1 = dir_.Path("a.split");
  const CliRun plain = Cli({"data", "digits", "--manifest", m1});
  ASSERT_EQ(plain.code, 0) << plain.err;
  const std::string manifest_text = testing::ReadBytes(m1);
  const CliRun relabelled =
      Cli({"data", "digits", "--manifest", m1, "--relabels", fixed_path});
  ASSERT_EQ(relabelled.code, 0) << relabelled.err;
  EXPECT_TRUE(
      Contains(relabelled.out, "relabels    " + fixed_path + ": 1 fix, " +
                                   std::to_string(stats.changed_samples)))
      << relabelled.out;
  EXPECT_EQ(testing::ReadBytes(m1), manifest_text);
  // "split  samples  kept  new" rows: the same samples, all kept.
  auto split_rows = [](const std::string& text) {
    std::map<std::string, std::vector<std::string>> rows;
    for (const std::string& line : SplitText(text, '\n')) {
      std::vector<std::string> f;
      for (const std::string& w : SplitText(line, ' ')) {
        if (!w.empty()) f.push_back(w);
      }
      if (f.size() == 4 && (f[0] == "train" || f[0] == "valid" ||
                            f[0] == "test" || f[0] == "total")) {
        rows[f[0]] = f;
      }
    }
    return rows;
  };
  const auto before_rows = split_rows(plain.out);
  const auto after_rows = split_rows(relabelled.out);
  ASSERT_EQ(after_rows.size(), 4u) << relabelled.out;
  for (const auto& [name, f] : after_rows) {
    EXPECT_EQ(f[1], before_rows.at(name)[1]) << name;  // samples
    EXPECT_EQ(f[2], f[1]) << name;                     // all kept
    EXPECT_EQ(f[3], "0") << name;                      // none new
  }
  auto class_table = [](const std::string& text) {
    return text.substr(text.find("\nclass "));
  };
  EXPECT_NE(class_table(plain.out), class_table(relabelled.out));
  auto hash_line = [](const std::string& text) {
    const size_t at = text.find("\nhash ");
    return text.substr(at, text.find('\n', at + 1) - at);
  };
  EXPECT_NE(hash_line(plain.out), hash_line(relabelled.out));

  // A review with the fix: the item is now right and accepted, gone.
  const std::string out2 = dir_.Path("rev2");
  const CliRun again =
      Cli({"review", model_path_, "--out", out2, "--relabels", fixed_path});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_TRUE(Contains(again.out, "relabels  " + fixed_path + ": 1 fixes"))
      << again.out;
  std::string header;
  const std::vector<CsvRow> rows =
      ReadReviewCsv(out2 + "/relabels.csv", &header);
  const size_t in_test = std::count_if(
      test_.begin(), test_.end(),
      [&](size_t i) { return data::ContentHash(digits_, i) == hash; });
  EXPECT_GE(in_test, 1u);
  EXPECT_EQ(rows.size() + in_test, expected_.size());
  for (const CsvRow& row : rows) EXPECT_NE(row.hash, hash);

  // The filled-in file in the review directory is a person's work.
  testing::WriteBytes(csv_path, filled);
  const std::string html = testing::ReadBytes(out + "/review.html");
  CliRun refused = Cli({"review", model_path_, "--out", out});
  EXPECT_EQ(refused.code, 1);
  EXPECT_TRUE(Contains(refused.err, "has 1 label filled in")) << refused.err;
  EXPECT_TRUE(Contains(refused.err, "--force")) << refused.err;
  EXPECT_EQ(testing::ReadBytes(csv_path), filled);
  EXPECT_EQ(testing::ReadBytes(out + "/review.html"), html);
  // Not even --force overwrites the relabels it reads.
  refused = Cli(
      {"review", model_path_, "--out", out, "--relabels", csv_path, "--force"});
  EXPECT_EQ(refused.code, 1);
  EXPECT_TRUE(Contains(refused.err, "would overwrite the input"))
      << refused.err;
  EXPECT_EQ(testing::ReadBytes(csv_path), filled);
  // With --force alone it is replaced by a fresh, empty sheet.
  const CliRun forced = Cli({"review", model_path_, "--out", out, "--force"});
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_EQ(testing::ReadBytes(csv_path), original);
  // An unfilled sheet is simply rewritten.
  ASSERT_EQ(Cli({"review", model_path_, "--out", out}).code, 0);
  // Something that is not a relabels file is not overwritten either.
  testing::WriteBytes(csv_path, "my notes\n");
  refused = Cli({"review", model_path_, "--out", out});
  EXPECT_EQ(refused.code, 1);
  EXPECT_TRUE(Contains(refused.err, "is not a relabels file")) << refused.err;
  EXPECT_EQ(testing::ReadBytes(csv_path), "my notes\n");
}

// Two heads: a section each, rows per head with "HEAD:LABEL" predictions,
// and --head picks one.
TEST_F(ReviewCliTest, EveryHeadHasItsSectionAndRows) {
  testing::DigitsModelSpec spec;
  spec.head_name = "digit";
  spec.policy = policy_;
  spec.parity_head = true;
  spec.params.model.kind = train::ModelKind::kMultitask;
  spec.params.model.heads = {
      {"digit", {}},
      {"parity", {{"even", {"0", "2", "4", "6", "8"}}, {"odd", {"*"}}}}};
  const std::vector<uint8_t> bytes = testing::DigitsModelBytes(spec);
  const std::string path = dir_.Path("two.kiln");
  testing::WriteBytes(path, std::string(bytes.begin(), bytes.end()));

  // Expected rows per head (model order: digit, parity).
  const std::vector<kiln_decision> d = Decide(bytes, digits_, test_);
  const char* kParity[] = {"even", "odd"};
  std::multiset<std::string> want[2];
  for (size_t k = 0; k < test_.size(); ++k) {
    const int32_t digit = digits_.labels[test_[k]];
    const int32_t truth[2] = {digit, digit % 2};
    for (int h = 0; h < 2; ++h) {
      const kiln_decision& x = d[k * 2 + h];
      const bool wrong = x.class_id[0] != truth[h];
      if (!wrong && !x.fallback) continue;
      want[h].insert(std::to_string(test_[k]) + "," +
                     (h == 0
                          ? "digit:" + std::to_string(x.class_id[0])
                          : std::string("parity:") + kParity[x.class_id[0]]));
    }
  }
  ASSERT_FALSE(want[0].empty());
  ASSERT_FALSE(want[1].empty());

  const std::string out = dir_.Path("two");
  const CliRun r = Cli({"review", path, "--out", out});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "\ndigit ")) << r.out;
  EXPECT_TRUE(Contains(r.out, "\nparity ")) << r.out;
  std::string header;
  std::vector<CsvRow> rows = ReadReviewCsv(out + "/relabels.csv", &header);
  std::multiset<std::string> got[2];
  for (const CsvRow& row : rows) {
    EXPECT_EQ(row.current, digits_.class_names[digits_.labels[row.index]]);
    const int h = row.predicted.rfind("parity:", 0) == 0 ? 1 : 0;
    got[h].insert(std::to_string(row.index) + "," + row.predicted);
  }
  EXPECT_EQ(got[0], want[0]);
  EXPECT_EQ(got[1], want[1]);
  std::string html = testing::ReadBytes(out + "/review.html");
  EXPECT_EQ(Occurrences(html, "<section "), 2u);
  EXPECT_EQ(Occurrences(html, "<div class=\"card "), rows.size());
  EXPECT_TRUE(Contains(html, "head parity: " + std::to_string(want[1].size()) +
                                 " of " + std::to_string(test_.size())));

  const std::string only = dir_.Path("parity");
  ASSERT_EQ(Cli({"review", path, "--out", only, "--head", "parity"}).code, 0);
  rows = ReadReviewCsv(only + "/relabels.csv", &header);
  EXPECT_EQ(rows.size(), want[1].size());
  for (const CsvRow& row : rows) {
    EXPECT_EQ(row.predicted.rfind("parity:", 0), 0u) << row.predicted;
  }
  html = testing::ReadBytes(only + "/review.html");
  EXPECT_EQ(Occurrences(html, "<section "), 1u);
}

TEST_F(ReviewCliTest, Errors) {
  CliRun r = Cli({"review", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(Contains(r.out, "usage: kiln review MODEL --out DIR")) << r.out;

  r = Cli({"review", model_path_});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "missing --out DIR")) << r.err;
  r = Cli({"review", "--out", dir_.Path("x")});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "missing MODEL")) << r.err;
  r = Cli({"review", model_path_, "--out", dir_.Path("x"), "--split", "dev"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "--split wants test, valid, train or all"))
      << r.err;
  r = Cli({"review", model_path_, "--out", dir_.Path("x"), "--limit", "0"});
  EXPECT_EQ(r.code, 2);
  r = Cli({"review", model_path_, "--out"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "--out needs a value")) << r.err;
  r = Cli({"review", model_path_, "--out", dir_.Path("x"), "--frob"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "unknown option '--frob'")) << r.err;

  r = Cli({"review", model_path_, "--out", dir_.Path("x"), "--head", "nope"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "no head 'nope'; its heads are 'digit'"))
      << r.err;

  const std::string bad = dir_.Path("bad.kiln");
  testing::WriteBytes(bad, "this is not a model at all, just some text");
  r = Cli({"review", bad, "--out", dir_.Path("x")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "kiln review: " + bad)) << r.err;
  r = Cli({"review", dir_.Path("missing.kiln"), "--out", dir_.Path("x")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "missing.kiln")) << r.err;

  // A bad relabels file names its line.
  const std::string fix = dir_.Path("fix.csv");
  testing::WriteBytes(
      fix, "hash,label\n" + data::ContentHash(digits_, 0) + ",eleven\n");
  r = Cli({"review", model_path_, "--out", dir_.Path("x"), "--relabels", fix});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, fix + ":2: unknown class 'eleven'")) << r.err;
  // Nothing was written by the failed runs.
  EXPECT_EQ(dir_.Entries(), (std::vector<std::string>{
                                "bad.kiln", "centroids.kiln", "fix.csv"}));
}

}  // namespace
}  // namespace kiln
