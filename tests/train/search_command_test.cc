// `kiln search` end to end on the digits dataset: the kiln executable (the
// command is linked into it, not into this binary) runs a few short trials
// from toolchain/params/digits_cnn.json.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/toolchain/scratch_dir.h"
#include "tests/train/kiln_exe_util.h"
#include "toolchain/train/params.h"

namespace kiln {
namespace train {
namespace {

using nlohmann::json;

// Short trials: the whole test trains about 10 epochs of digits.
const char kSpace[] = R"({
  "training.lr": {"log_uniform": [0.003, 0.02]},
  "training.epochs": {"int": [1, 3]},
  "model.hidden": {"choice": [[32], [64]]},
  "search": {"min_epochs": 1, "startup_trials": 2}
})";

class SearchCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(LoadTrainParams(
        SourceDir() + "toolchain/params/digits_cnn.json", &base_, &error))
        << error;
    base_.split.manifest = "digits.split";  // inside the scratch dir
    base_.training.batch_size = 64;         // fewer steps per epoch
    base_.training.warmup_epochs = 0;
    base_.training.epochs = 2;  // inside the space: --include-base runs it
    std::ofstream(dir_.Path("base.json")) << TrainParamsJson(base_);
    std::ofstream(dir_.Path("space.json")) << kSpace;
  }

  testing::ScratchDir dir_;
  TrainParams base_;
};

TEST_F(SearchCommandTest, FindsParamsFromTheSpaceAndIsDeterministic) {
  const KilnRun first = Kiln(
      dir_, {"search", "base.json", "space.json", "--out", "run1", "--trials",
             "3", "--sampler", "tpe", "--seed", "5", "--include-base"});
  ASSERT_EQ(first.code, 0) << first.err;
  // One progress line per trial, then the table and the summary.
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(Contains(first.err, "[search] trial " + std::to_string(i) +
                                        " (" + std::to_string(i + 1) +
                                        "/3)  valid acc "))
        << first.err;
  }
  EXPECT_TRUE(Contains(first.out, "training.lr")) << first.out;
  EXPECT_TRUE(
      Contains(first.out, "next        kiln build run1/best_params.json"))
      << first.out;

  TrainParams best;
  std::string error;
  ASSERT_TRUE(
      LoadTrainParams(dir_.Path("run1/best_params.json"), &best, &error))
      << error;
  EXPECT_GE(best.training.lr, 0.003);
  EXPECT_LE(best.training.lr, 0.02);
  EXPECT_GE(best.training.epochs, 1);
  EXPECT_LE(best.training.epochs, 3);
  EXPECT_TRUE(best.model.hidden == std::vector<int32_t>{32} ||
              best.model.hidden == std::vector<int32_t>{64});
  // Everything outside the space is the base's.
  EXPECT_EQ(best.dataset, base_.dataset);
  EXPECT_EQ(best.model.channels, base_.model.channels);
  EXPECT_EQ(best.training.batch_size, base_.training.batch_size);
  EXPECT_EQ(best.split.manifest, base_.split.manifest);

  const json trials = json::parse(ReadFile(dir_.Path("run1/trials.json")));
  ASSERT_EQ(trials["trials"].size(), 3u);
  double top = -1;
  for (const json& t : trials["trials"]) {
    ASSERT_TRUE(t["objective"].is_number()) << t.dump();
    EXPECT_GT(t["objective"].get<double>(), 0.0);
    EXPECT_LE(t["objective"].get<double>(), 1.0);
    EXPECT_GE(t["epochs"].get<int>(), 1);
    EXPECT_LE(t["epochs"].get<int>(),
              t["values"]["training.epochs"].get<int>());
    EXPECT_TRUE(t["pruned"].is_boolean());
    EXPECT_GT(t["seconds"].get<double>(), 0);
    top = std::max(top, t["objective"].get<double>());
  }
  // Trial 0 is the base params.
  EXPECT_EQ(trials["trials"][0]["values"],
            json::parse(R"({"model.hidden": [64], "training.epochs": 2,
                            "training.lr": 0.003})"));
  EXPECT_TRUE(Contains(first.out, "base        trial 0: valid accuracy "))
      << first.out;
  const json& winner = trials["trials"][trials["best_trial"].get<size_t>()];
  EXPECT_EQ(winner["objective"].get<double>(), top);
  EXPECT_DOUBLE_EQ(winner["values"]["training.lr"].get<double>(),
                   best.training.lr);
  EXPECT_EQ(winner["values"]["training.epochs"].get<int>(),
            best.training.epochs);
  EXPECT_EQ(winner["values"]["model.hidden"].get<std::vector<int32_t>>(),
            best.model.hidden);

  // The same seed again: the same trials, value for value.
  const KilnRun second =
      Kiln(dir_, {"search", "base.json", "space.json", "--out", "run2",
                  "--trials", "3", "--sampler", "tpe", "--seed", "5",
                  "--include-base", "--json", "--quiet"});
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_EQ(second.err, "");
  const json again = json::parse(second.out);
  EXPECT_EQ(again, json::parse(ReadFile(dir_.Path("run2/trials.json"))));
  ASSERT_EQ(again["trials"].size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(again["trials"][i]["values"], trials["trials"][i]["values"]);
    EXPECT_EQ(again["trials"][i]["objective"],
              trials["trials"][i]["objective"]);
    EXPECT_EQ(again["trials"][i]["curve"], trials["trials"][i]["curve"]);
  }
  EXPECT_EQ(ReadFile(dir_.Path("run2/best_params.json")),
            ReadFile(dir_.Path("run1/best_params.json")));
}

TEST_F(SearchCommandTest, BadSpaceFilesAndFlagsAreErrors) {
  std::ofstream(dir_.Path("bad_key.json"))
      << R"({"training.learning_rate": {"uniform": [0.001, 0.01]}})";
  KilnRun r = Kiln(dir_, {"search", "base.json", "bad_key.json", "--out", "o"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err,
                       "kiln search: bad_key.json: "
                       "training.learning_rate: not a params key path"))
      << r.err;

  std::ofstream(dir_.Path("bad_range.json"))
      << R"({"training.lr": {"uniform": [0.001, 50]}})";
  r = Kiln(dir_, {"search", "base.json", "bad_range.json", "--out", "o"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err,
                       "bad_range.json: training.lr: the params parser "
                       "rejects the value 50.0"))
      << r.err;

  std::ofstream(dir_.Path("bad_dist.json"))
      << R"({"training.lr": {"gaussian": [0.001, 0.01]}})";
  r = Kiln(dir_, {"search", "base.json", "bad_dist.json", "--out", "o"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err,
                       "bad_dist.json: training.lr: unknown "
                       "distribution \"gaussian\""))
      << r.err;

  std::ofstream(dir_.Path("no_base.json"))
      << R"({"model.hidden": {"choice": [[32], [128]]}})";
  r = Kiln(dir_, {"search", "base.json", "no_base.json", "--out", "o",
                  "--include-base"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err,
                       "base.json: model.hidden: the value [64] is not "
                       "among the choices"))
      << r.err;

  r = Kiln(dir_, {"search", "base.json", "space.json", "--out", "o",
                  "--sampler", "grid"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "--sampler takes random or tpe")) << r.err;
  r = Kiln(dir_, {"search", "base.json", "space.json"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "needs PARAMS.json, SPACE.json and --out DIR"));

  // (Malformed JSON and missing files are covered in-process by
  // tests/toolchain/search_space_test.cc: each run here costs a LibTorch
  // process start.) Nothing was written for any of them.
  EXPECT_EQ(access(dir_.Path("o").c_str(), F_OK), -1);
}

TEST_F(SearchCommandTest, NeverOverwritesTheParamsFile) {
  dir_.MakeDir("d");
  const std::string params = dir_.Path("d/best_params.json");
  std::ofstream(params) << TrainParamsJson(base_);
  const std::string before = ReadFile(params);
  const KilnRun r = Kiln(dir_, {"search", "d/best_params.json", "space.json",
                                "--out", "d", "--trials", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "refusing to overwrite the input")) << r.err;
  EXPECT_EQ(ReadFile(params), before);
  EXPECT_EQ(dir_.Entries(),
            (std::vector<std::string>{"base.json", "d", "space.json",
                                      "stderr.txt", "stdout.txt"}));
}

}  // namespace
}  // namespace train
}  // namespace kiln
