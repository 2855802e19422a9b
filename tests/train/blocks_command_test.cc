// `kiln blocks` end to end on a small scale: one training photograph, one
// held-out, a few epochs. Checks the outputs exist and agree, the round trip
// is lossless, the compiled model is a block model the runtime loads, the
// run is deterministic (same dataset cache -> the same model bytes) and bad
// flags are usage errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tests/train/kiln_exe_util.h"
#include "toolchain/aligned_bytes.h"
#include "toolchain/model_def.h"
#include "toolchain/model_reader.h"

namespace kiln {
namespace train {
namespace {

// The operator that writes head `name`'s logits, or null.
const OperatorDef* HeadProducer(const ModelDef& m, const std::string& name) {
  for (const HeadDef& h : m.heads) {
    if (h.name != name) continue;
    for (const OperatorDef& op : m.operators)
      for (uint32_t t : op.outputs)
        if (t == h.tensor) return &op;
  }
  return nullptr;
}

ModelDef Parse(const std::string& bytes) {
  const AlignedBytes aligned(std::vector<uint8_t>(bytes.begin(), bytes.end()));
  ModelDef m;
  std::string error;
  EXPECT_TRUE(ParseModel(aligned.data(), aligned.size(), &m, &error)) << error;
  return m;
}

bool PhotosInstalled() {
  return access("/usr/lib/python3/dist-packages/skimage/data/chelsea.png",
                R_OK) == 0 &&
         access("/usr/lib/python3/dist-packages/skimage/data/astronaut.png",
                R_OK) == 0;
}

TEST(BlocksCommandTest, TrainsCompilesAndReportsOnAHeldOutPhotograph) {
  if (!PhotosInstalled()) GTEST_SKIP() << "python3-skimage is not installed";
  testing::ScratchDir dir;
  const std::vector<std::string> args = {
      "blocks",  "--out",    "run", "--train-images", "astronaut", "--held-out",
      "chelsea", "--epochs", "3",   "--max-increase", "1",         "--quiet"};
  KilnRun first = Kiln(dir, args);
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_TRUE(Contains(first.out, "lossless round trip: all images"))
      << first.out;
  EXPECT_TRUE(Contains(first.out, "bit estimates per block: exhaustive 12288"));

  const nlohmann::json report =
      nlohmann::json::parse(ReadFile(dir.Path("run/report.json")));
  ASSERT_EQ(report["held_out"].size(), 1u);
  const nlohmann::json& img = report["held_out"][0];
  EXPECT_EQ(img["image"], "chelsea");
  for (const char* m : {"exhaustive", "pruned", "model", "heuristic"}) {
    EXPECT_TRUE(img[m]["lossless"].get<bool>()) << m;
    // Nothing beats the exhaustive search.
    EXPECT_GE(img[m]["bytes"].get<double>(),
              img["exhaustive"]["bytes"].get<double>())
        << m;
  }
  EXPECT_EQ(img["exhaustive"]["estimates_per_block"].get<double>(), 12288);
  EXPECT_LT(img["model"]["estimates_per_block"].get<double>(), 12288);
  EXPECT_GT(img["model"]["model_seconds"].get<double>(), 0);
  EXPECT_EQ(report["predictor_target"],
            "each predictor with its 4 lowest-energy filters");
  EXPECT_FALSE(report["frontier"]["model"].empty());
  EXPECT_FALSE(report["frontier"]["heuristics"].empty());
  // The stronger baseline (predictors by sum |residual|) is scored too.
  EXPECT_FALSE(report["frontier"]["heuristics_magnitude"].empty());
  EXPECT_GT(report["frontier"]["magnitude_points_compared"].get<size_t>(), 0u);
  EXPECT_LE(
      report["frontier"]["model_below_magnitude_heuristics"].get<size_t>(),
      report["frontier"]["magnitude_points_compared"].get<size_t>());
  EXPECT_FALSE(ReadFile(dir.Path("run/frontier.svg")).empty());
  // One CSV row per block of chelsea (451x300: 57 x 38 blocks) + header.
  const std::string csv = ReadFile(dir.Path("run/blocks.csv"));
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 57 * 38 + 1);

  // The same dataset cache and seed give the same model, byte for byte.
  const std::string model = ReadFile(dir.Path("run/model.kiln"));
  ASSERT_FALSE(model.empty());
  std::vector<std::string> again = args;
  again[2] = "run2";
  again.insert(again.end(), {"--dataset", "run/blocks.kbds"});
  KilnRun second = Kiln(dir, again);
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_EQ(ReadFile(dir.Path("run2/model.kiln")), model);

  // The predictor logits are the deep head plus the residual skip: an Add of
  // two fully connected outputs, one of them reading the input features.
  EXPECT_TRUE(report["residual_skip"].get<bool>());
  const ModelDef with_skip = Parse(model);
  const OperatorDef* sum = HeadProducer(with_skip, "predictor");
  ASSERT_NE(sum, nullptr);
  EXPECT_EQ(sum->kind, OpKind::kAdd);
  EXPECT_EQ(sum->name, "predictor/sum");
  const OperatorDef* scan = HeadProducer(with_skip, "scan");
  ASSERT_NE(scan, nullptr);
  EXPECT_EQ(scan->kind, OpKind::kFullyConnected);

  // Without it the predictor head is a plain fully connected layer.
  again[2] = "run3";
  again.push_back("--no-residual-skip");
  KilnRun third = Kiln(dir, again);
  ASSERT_EQ(third.code, 0) << third.err;
  const ModelDef plain = Parse(ReadFile(dir.Path("run3/model.kiln")));
  const OperatorDef* logits = HeadProducer(plain, "predictor");
  ASSERT_NE(logits, nullptr);
  EXPECT_EQ(logits->kind, OpKind::kFullyConnected);
  EXPECT_FALSE(nlohmann::json::parse(
                   ReadFile(dir.Path("run3/report.json")))["residual_skip"]
                   .get<bool>());
}

TEST(BlocksCommandTest, BadFlagsAreUsageErrors) {
  testing::ScratchDir dir;
  EXPECT_EQ(Kiln(dir, {"blocks"}).code, 2);  // --out is required
  EXPECT_EQ(Kiln(dir, {"blocks", "--out", "x", "--epochs", "0"}).code, 2);
  EXPECT_EQ(Kiln(dir, {"blocks", "--out", "x", "--arch", "big"}).code, 2);
  EXPECT_EQ(Kiln(dir, {"blocks", "--out", "x", "--fallback", "maybe"}).code, 2);
  EXPECT_EQ(Kiln(dir, {"blocks", "--out", "x", "--max-increase", "-1"}).code,
            2);
  EXPECT_EQ(Kiln(dir, {"blocks", "--out", "x", "--bogus"}).code, 2);
  for (const char* v : {"0", "x", "-1"})
    EXPECT_EQ(Kiln(dir, {"blocks", "--out", "x", "--seed", v}).code, 2) << v;
  for (const char* v : {"0", "97", "some"})
    EXPECT_EQ(Kiln(dir, {"blocks", "--out", "x", "--predictor-target", v}).code,
              2)
        << v;
  KilnRun r = Kiln(dir, {"blocks", "--out", "x", "--held-out", "nosuchphoto"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "not installed")) << r.err;
}

}  // namespace
}  // namespace train
}  // namespace kiln
