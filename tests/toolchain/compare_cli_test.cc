// `kiln compare` and the regression rule behind it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/toolchain/cli_test_util.h"
#include "tests/toolchain/digits_models.h"
#include "tests/toolchain/scratch_dir.h"
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

// Latency limits generous enough that timing noise cannot trip them.
const char kNoLatencyLimit[] = "--max-latency-increase=1000";

class CompareCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    good_ = Write("good.kiln", DigitsModelSpec());
    DigitsModelSpec degraded;
    degraded.degrade = true;
    bad_ = Write("bad.kiln", degraded);
  }
  std::string Write(const std::string& name, const DigitsModelSpec& spec) {
    const std::string path = dir_.Path(name);
    testing::WriteModelFile(path, DigitsModelBytes(spec));
    return path;
  }
  ScratchDir dir_;
  std::string good_, bad_;
};

TEST_F(CompareCliTest, AModelAgainstItselfIsNoRegression) {
  const CliRun r = Cli({"compare", good_, good_, kNoLatencyLimit, "--repeats",
                        "2", "--max-accuracy-drop", "0"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "no regression")) << r.out;
  EXPECT_TRUE(Contains(r.out, "head digits")) << r.out;
  EXPECT_TRUE(Contains(r.out, "+0.00 pts")) << r.out;
  EXPECT_FALSE(Contains(r.out, "REGRESSION")) << r.out;
  EXPECT_TRUE(Contains(r.out, "latency (interleaved")) << r.out;
}

TEST_F(CompareCliTest, ADegradedModelIsFlagged) {
  CliRun r = Cli({"compare", good_, bad_, kNoLatencyLimit, "--repeats", "1"});
  EXPECT_EQ(r.code, cli::kExitRegression) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "REGRESSION")) << r.out;
  EXPECT_TRUE(Contains(r.out, "head digits: top-1 accuracy fell")) << r.out;

  r = Cli(
      {"compare", good_, bad_, kNoLatencyLimit, "--repeats", "1", "--json"});
  EXPECT_EQ(r.code, cli::kExitRegression) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["regression"].get<bool>());
  EXPECT_EQ(j["a"]["model"], good_);
  EXPECT_EQ(j["b"]["model"], bad_);
  const double a1 = j["a"]["heads"][0]["top1"], b1 = j["b"]["heads"][0]["top1"];
  EXPECT_GT(a1 - b1, 0.1);  // four digits swapped
  EXPECT_EQ(j["heads"][0]["top1"]["a"].get<double>(), a1);
  EXPECT_EQ(j["heads"][0]["top1"]["delta"].get<double>(), b1 - a1);
  bool top1_flagged = false;
  for (const auto& reg : j["regressions"]) {
    EXPECT_NE(reg["metric"], "batched_us_per_item");
    EXPECT_NE(reg["metric"], "batch1_us");
    top1_flagged =
        top1_flagged || (reg["metric"] == "top1" && reg["head"] == "digits");
  }
  EXPECT_TRUE(top1_flagged) << r.out;

  // The same numbers as `kiln eval` on the same split.
  const CliRun ea = Cli({"eval", good_, "--json", "--repeats", "1"});
  ASSERT_EQ(ea.code, 0) << ea.err;
  EXPECT_EQ(nlohmann::json::parse(ea.out)["heads"][0]["top1"].get<double>(),
            a1);

  // The other way round B is better: no regression. A tolerance wider than
  // the drop also accepts the worse model.
  r = Cli({"compare", bad_, good_, kNoLatencyLimit, "--repeats", "1"});
  EXPECT_EQ(r.code, 0) << r.out;
  r = Cli({"compare", good_, bad_, kNoLatencyLimit, "--repeats", "1",
           "--max-accuracy-drop", "100"});
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST_F(CompareCliTest, AMuchSlowerModelIsFlagged) {
  // Two 512-wide hidden layers: the same answers for ~500x the work.
  DigitsModelSpec slow_spec;
  slow_spec.hidden = {512, 512};
  const std::string slow = Write("slow.kiln", slow_spec);
  CliRun r = Cli({"compare", good_, slow, "--repeats", "3",
                  "--max-accuracy-drop", "100", "--json"});
  EXPECT_EQ(r.code, cli::kExitRegression) << r.out << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  bool batched = false;
  for (const auto& reg : j["regressions"]) {
    batched = batched || reg["metric"] == "batched_us_per_item";
  }
  EXPECT_TRUE(batched) << r.out;
  EXPECT_GT(j["latency"]["batched_us_per_item"]["relative"].get<double>(), 1.0);
  // Faster B is fine.
  r = Cli(
      {"compare", slow, good_, "--repeats", "3", "--max-accuracy-drop", "100"});
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST_F(CompareCliTest, ModelsThatDoNotMatch) {
  DigitsModelSpec two_heads;
  two_heads.params.model.kind = train::ModelKind::kMultitask;
  two_heads.params.model.heads = {
      {"digits", {}},
      {"parity", {{"even", {"0", "2", "4", "6", "8"}}, {"odd", {"*"}}}}};
  two_heads.parity_head = true;
  const std::string multi = Write("multi.kiln", two_heads);
  CliRun r = Cli({"compare", good_, multi});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "heads differ")) << r.err;

  const std::string blocknet = dir_.Path("blocknet.kiln");
  testing::WriteModelFile(blocknet, zoo::BuildOrDie(zoo::BlockNet(1)));
  r = Cli({"compare", good_, blocknet});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err,
                       "blocknet.kiln: its input (8x8x3 uint8) "
                       "differs from the other model's (8x8x1 uint8)"))
      << r.err;

  r = Cli({"compare", good_, dir_.Path("missing.kiln")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "missing.kiln")) << r.err;
}

TEST_F(CompareCliTest, UsageErrors) {
  const std::vector<std::vector<std::string>> cases = {
      {"compare"},
      {"compare", good_},
      {"compare", good_, bad_, good_},
      {"compare", good_, bad_, "--max-accuracy-drop", "-1"},
      {"compare", good_, bad_, "--max-accuracy-drop", "101"},
      {"compare", good_, bad_, "--max-latency-increase", "abc"},
      {"compare", good_, bad_, "--max-latency-increase", "inf"},
      {"compare", good_, bad_, "--split", "tests"},
      {"compare", good_, bad_, "--max-accuracy-drop"},
      {"compare", good_, bad_, "--fast"},
  };
  for (const auto& args : cases) {
    const CliRun r = Cli(args);
    EXPECT_EQ(r.code, 2) << args.back();
    EXPECT_TRUE(Contains(r.err, "kiln compare: ")) << r.err;
  }
  const CliRun help = Cli({"compare", "-h"});
  EXPECT_EQ(help.code, 0);
  EXPECT_TRUE(Contains(help.out, "exit status: 0 no regression, 3"));
}

// FindRegressions on synthetic results: the limits are exact.
train::EvalResult Result(double top1, double accepted_topk, double coverage,
                         double batched_us, double batch1_us) {
  train::EvalResult r;
  train::HeadEval h;
  h.name = "head";
  h.top1 = top1;
  h.accepted_topk = accepted_topk;
  h.coverage = coverage;
  r.heads.push_back(h);
  r.batched_us_per_item = batched_us;
  r.batch1_us = batch1_us;
  r.latency_measured = true;
  return r;
}

TEST(FindRegressions, AccuracyCoverageAndLatencyLimits) {
  const train::RegressionLimits limits;  // 0.5 points, 10%
  const train::EvalResult a = Result(0.90, 0.99, 0.80, 10.0, 20.0);
  EXPECT_TRUE(train::FindRegressions(a, a, limits).empty());
  // Exactly at the limits: allowed.
  EXPECT_TRUE(
      train::FindRegressions(a, Result(0.895, 0.985, 0.795, 11.0, 22.0), limits)
          .empty());
  // Just beyond each.
  const auto regs = train::FindRegressions(
      a, Result(0.894, 0.984, 0.794, 11.01, 22.01), limits);
  ASSERT_EQ(regs.size(), 5u);
  EXPECT_EQ(regs[0].metric, "top1");
  EXPECT_EQ(regs[0].head, "head");
  EXPECT_EQ(regs[1].metric, "accepted_topk");
  EXPECT_EQ(regs[2].metric, "coverage");
  EXPECT_EQ(regs[3].metric, "batched_us_per_item");
  EXPECT_EQ(regs[3].head, "");
  EXPECT_EQ(regs[4].metric, "batch1_us");
  EXPECT_TRUE(Contains(regs[0].message,
                       "head head: top-1 accuracy fell 0.60 "
                       "points (90.00% -> 89.40%)"))
      << regs[0].message;
  EXPECT_TRUE(Contains(regs[3].message, "batched latency rose 10.1%"))
      << regs[3].message;
  // Improvements are never regressions.
  EXPECT_TRUE(train::FindRegressions(a, Result(1.0, 1.0, 1.0, 1.0, 1.0), limits)
                  .empty());
  // Custom limits; latency only when both were measured.
  train::RegressionLimits loose;
  loose.max_accuracy_drop = 0.05;
  loose.max_latency_increase = 1.0;
  train::EvalResult b = Result(0.86, 0.95, 0.76, 19.0, 41.0);
  auto r2 = train::FindRegressions(a, b, loose);
  ASSERT_EQ(r2.size(), 1u);
  EXPECT_EQ(r2[0].metric, "batch1_us");
  b.latency_measured = false;
  EXPECT_TRUE(train::FindRegressions(a, b, loose).empty());
  // Heads are matched by name.
  b = Result(0.1, 0.1, 0.1, 10.0, 20.0);
  b.heads[0].name = "other";
  EXPECT_TRUE(train::FindRegressions(a, b, limits).empty());
}

}  // namespace
}  // namespace kiln
