// `kiln eval`: a real model on the digits dataset through the runtime.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/toolchain/cli_test_util.h"
#include "tests/toolchain/data_test_util.h"
#include "tests/toolchain/digits_models.h"
#include "tests/toolchain/scratch_dir.h"
#include "toolchain/cli/model_data.h"
#include "toolchain/train/evaluate.h"
#include "toolchain/zoo/reference_models.h"

namespace kiln {
namespace {

using testing::Cli;
using testing::CliRun;
using testing::Contains;
using testing::DigitsModelBytes;
using testing::DigitsModelSpec;
using testing::ScratchDir;

class EvalCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DigitsModelSpec spec;
    // Top-2 with a top-1 probability threshold: some items fall back.
    spec.policy.top_k = 2;
    spec.policy.confidence = ConfidenceKind::kTop1Prob;
    spec.policy.threshold_real = 0.4f;
    model_ = dir_.Path("digits.kiln");
    testing::WriteModelFile(model_, DigitsModelBytes(spec));
  }
  // What EvaluateItems says about the model on a split, computed here
  // without the CLI.
  train::EvalResult Expected(const std::string& split) {
    cli::ModelData d;
    std::string error;
    EXPECT_TRUE(cli::OpenModelData(model_, {}, &d, &error)) << error;
    std::vector<size_t> idx;
    EXPECT_TRUE(cli::SplitIndices(d, split, &idx, &error)) << error;
    const std::vector<uint8_t> items = cli::GatherItems(d.dataset, idx);
    train::EvalOptions o;
    o.repeats = 1;
    o.batch1_items = 5;
    train::EvalResult r;
    EXPECT_TRUE(train::EvaluateItems(d.model_bytes, items.data(), idx.size(),
                                     cli::HeadLabels(d, idx), o, &r, &error))
        << error;
    return r;
  }
  ScratchDir dir_;
  std::string model_;
};

TEST_F(EvalCliTest, JsonNumbersAreEvaluateItemsNumbers) {
  const CliRun r = Cli({"eval", model_, "--json", "--repeats", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // short work: no progress lines off a terminal
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const train::EvalResult e = Expected("test");
  EXPECT_EQ(j["model"], model_);
  EXPECT_EQ(j["model_name"], "digits-ncm");
  EXPECT_EQ(j["dataset"], "digits");
  EXPECT_EQ(j["dataset_samples"], 1797);
  EXPECT_EQ(j["split"], "test");
  EXPECT_TRUE(j["manifest"].is_null());
  EXPECT_TRUE(j["report"].is_null());
  EXPECT_EQ(j["items"], e.items);
  ASSERT_EQ(j["heads"].size(), 1u);
  const nlohmann::json& h = j["heads"][0];
  const train::HeadEval& eh = e.heads[0];
  EXPECT_EQ(h["name"], "digits");
  EXPECT_EQ(h["classes"], 10);
  EXPECT_EQ(h["policy"]["top_k"], 2);
  EXPECT_EQ(h["policy"]["confidence"], "TOP1_PROB");
  EXPECT_EQ(h["top1"].get<double>(), eh.top1);
  EXPECT_EQ(h["top2"].get<double>(), eh.top2);
  EXPECT_EQ(h["top5"].get<double>(), eh.top5);
  EXPECT_EQ(h["topk"].get<std::vector<double>>(), eh.topk);
  EXPECT_EQ(h["accepted"], eh.accepted);
  EXPECT_EQ(h["coverage"].get<double>(), eh.coverage);
  EXPECT_EQ(h["accepted_top1"].get<double>(), eh.accepted_top1);
  EXPECT_EQ(h["accepted_topk"].get<double>(), eh.accepted_topk);
  EXPECT_EQ(h["fallback_top1"].get<double>(), eh.fallback_top1);
  EXPECT_EQ(h["fallback_topk"].get<double>(), eh.fallback_topk);
  EXPECT_EQ(h["confusion"].get<std::vector<std::vector<int64_t>>>(),
            eh.confusion);
  EXPECT_TRUE(h["float_agreement"].is_null());
  // A meaningful classifier, and a policy that does something.
  EXPECT_GT(eh.top1, 0.85);
  EXPECT_GE(eh.top2, eh.top1);
  EXPECT_GT(eh.accepted, 0u);
  EXPECT_LT(eh.accepted, eh.items);
  EXPECT_GT(eh.accepted_top1, eh.top1);
  // The confusion matrix holds every item once.
  int64_t total = 0, diagonal = 0;
  for (size_t t = 0; t < eh.confusion.size(); ++t) {
    for (size_t p = 0; p < eh.confusion[t].size(); ++p) {
      total += eh.confusion[t][p];
      if (t == p) diagonal += eh.confusion[t][p];
    }
  }
  EXPECT_EQ(total, static_cast<int64_t>(e.items));
  EXPECT_EQ(static_cast<double>(diagonal) / double(e.items), eh.top1);
  const nlohmann::json& lat = j["latency"];
  EXPECT_EQ(lat["repeats"], 2);
  EXPECT_EQ(lat["batch"], 64);
  EXPECT_GT(lat["batched_us_per_item"].get<double>(), 0.0);
  EXPECT_GT(lat["batch1_us"].get<double>(), 0.0);
}

TEST_F(EvalCliTest, TextOutput) {
  const CliRun r = Cli({"eval", model_, "--repeats", "1", "--split=valid"});
  ASSERT_EQ(r.code, 0) << r.err;
  const train::EvalResult e = Expected("valid");
  char top1[64];
  snprintf(top1, sizeof(top1), "top-1 %.2f%%", 100.0 * e.heads[0].top1);
  for (const std::string& want :
       {std::string("valid split: ") + std::to_string(e.items) + " items",
        std::string("head digits: 10 classes, top-2, TOP1_PROB"),
        std::string(top1), std::string("coverage"), std::string("accepted"),
        std::string("fallback"), std::string("agreement n/a"),
        std::string("confusion"), std::string("us/item batched (batch 64)"),
        std::string("us batch 1")}) {
    EXPECT_TRUE(Contains(r.out, want)) << want << "\n" << r.out;
  }
}

TEST_F(EvalCliTest, SplitAllAndReport) {
  const std::string report = dir_.Path("report.md");
  CliRun r = Cli({"eval", model_, "--split", "all", "--repeats", "1",
                  "--report", report, "--json", "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["items"], 1797);
  EXPECT_EQ(j["report"], report);
  const std::string md = testing::ReadBytes(report);
  EXPECT_TRUE(Contains(md, "# Evaluation: digits-ncm")) << md;
  EXPECT_TRUE(Contains(md, "1797 items of the all split")) << md;
  EXPECT_TRUE(Contains(md, "## Head `digits`")) << md;
  EXPECT_TRUE(Contains(md, "| float vs int8 top-1 agreement | n/a |")) << md;
  // Atomic: no temporary left next to it; the model untouched.
  EXPECT_EQ(dir_.Entries(),
            (std::vector<std::string>{"digits.kiln", "report.md"}));

  // The report may not replace an input.
  const std::string before = testing::ReadBytes(model_);
  r = Cli({"eval", model_, "--report", model_});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "would overwrite")) << r.err;
  EXPECT_EQ(testing::ReadBytes(model_), before);

  // An unwritable report is a failure.
  r = Cli({"eval", model_, "--repeats", "1", "--report",
           dir_.Path("no/such/dir/r.md")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "no/such/dir")) << r.err;
}

TEST_F(EvalCliTest, BadModelsAndData) {
  CliRun r = Cli({"eval", dir_.Path("missing.kiln")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "missing.kiln")) << r.err;
  EXPECT_EQ(r.out, "");

  const std::string corrupt = dir_.Path("corrupt.kiln");
  std::string bytes = testing::ReadBytes(model_);
  for (size_t i = 40; i < bytes.size(); i += 7)
    bytes[i] = char(bytes[i] ^ 0x5a);
  testing::WriteBytes(corrupt, bytes);
  r = Cli({"eval", corrupt});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "corrupt.kiln: ")) << r.err;

  r = Cli({"eval", model_, "--data", "digits:" + dir_.Path("none.csv")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "none.csv")) << r.err;

  const std::string blocknet = dir_.Path("blocknet.kiln");
  testing::WriteModelFile(blocknet, zoo::BuildOrDie(zoo::BlockNet(1)));
  r = Cli({"eval", blocknet});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "pass --data SPEC")) << r.err;
  r = Cli({"eval", blocknet, "--data", "digits"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "do not match the model's input")) << r.err;

  r = Cli({"eval", model_, "--manifest", dir_.Path("none.splits")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "none.splits")) << r.err;

  // A split with no samples: ratios of the model's params put none there.
  DigitsModelSpec spec;
  spec.params.split.train = 0.8;
  spec.params.split.valid = 0.2;
  spec.params.split.test = 0.0;
  const std::string no_test = dir_.Path("no_test.kiln");
  testing::WriteModelFile(no_test, DigitsModelBytes(spec));
  r = Cli({"eval", no_test});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "no samples in the test split")) << r.err;
}

TEST_F(EvalCliTest, UsageErrors) {
  const std::vector<std::vector<std::string>> cases = {
      {"eval"},
      {"eval", model_, model_},
      {"eval", model_, "--split", "validation"},
      {"eval", model_, "--batch", "0"},
      {"eval", model_, "--batch=x"},
      {"eval", model_, "--repeats", "1001"},
      {"eval", model_, "--data"},
      {"eval", model_, "--bogus"},
      {"eval", model_, "--report="},
  };
  for (const auto& args : cases) {
    const CliRun r = Cli(args);
    EXPECT_EQ(r.code, 2) << args.back();
    EXPECT_TRUE(Contains(r.err, "kiln eval: ")) << r.err;
    EXPECT_EQ(r.out, "");
  }
  const CliRun help = Cli({"eval", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_TRUE(Contains(help.out, "usage: kiln eval MODEL.kiln"));
  EXPECT_TRUE(Contains(Cli({"--help"}).out, "eval"));
}

}  // namespace
}  // namespace kiln
