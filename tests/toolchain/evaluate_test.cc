#include "toolchain/train/evaluate.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "toolchain/train/quantize_model.h"

namespace kiln {
namespace train {
namespace {

// uint8 [3] -> identity FC: the logits are the pixels / 255, so the
// predictions are known by construction.
FloatModel IdentityModel() {
  FloatModel m;
  m.input_shape = {3};
  m.uint8_input = true;
  FloatLayer fc;
  fc.kind = LayerKind::kFullyConnected;
  fc.name = "logits";
  fc.weight_shape = {3, 3};
  fc.weights = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  fc.bias = {0, 0, 0};
  fc.output = {0.0f, 1.0f};
  m.layers.push_back(fc);
  FloatHead h;
  h.name = "cls";
  h.layer = 0;
  h.labels = {"a", "b", "c"};
  h.policy = {1, ConfidenceKind::kTop1Prob, 0.5f};
  m.heads.push_back(h);
  return m;
}

TEST(Evaluate, ExactCountsOnKnownCases) {
  const FloatModel m = IdentityModel();
  std::vector<uint8_t> bytes;
  std::string error;
  ASSERT_TRUE(QuantizeModelToBytes(m, QuantizeOptions(), &bytes, &error))
      << error;

  data::Dataset ds;
  ds.name = "tiny";
  ds.item_shape = {3};
  ds.feature_type = data::FeatureType::kUint8;
  ds.class_names = {"a", "b", "c"};
  struct Sample {
    uint8_t px[3];
    int32_t label;
    data::Split split;
  };
  // Test items, with the int8 top-1 and whether the top-1 probability
  // clears 0.5 (e^0.94 / (e^0.94 + 2) = 0.56 yes; the close ones ~0.39 no):
  const Sample samples[] = {
      {{250, 10, 10}, 0, data::Split::kTest},  // pred a, accepted, right
      {{10, 250, 10}, 1, data::Split::kTest},  // pred b, accepted, right
      {{10, 10, 250}, 2, data::Split::kTest},  // pred c, accepted, right
      {{250, 10, 10}, 1, data::Split::kTest},  // pred a, accepted, wrong
      {{120, 100, 0}, 1, data::Split::kTest},  // pred a, fallback, top-2
      {{0, 100, 120}, 0, data::Split::kTest},  // pred c, fallback, top-3
      {{0, 0, 255}, 0, data::Split::kTrain},   // not evaluated
      {{255, 0, 0}, 2, data::Split::kValid},   // not evaluated
  };
  std::vector<data::Split> splits;
  for (const Sample& s : samples) {
    ds.u8.insert(ds.u8.end(), s.px, s.px + 3);
    ds.labels.push_back(s.label);
    ds.origins.push_back("x");
    ds.source_splits.push_back(data::Split::kNone);
    splits.push_back(s.split);
  }
  EvalOptions o;
  o.batch = 4;
  o.repeats = 3;
  o.float_model = &m;
  EvalResult r;
  ASSERT_TRUE(
      EvaluateSplit(bytes, ds, splits, data::Split::kTest, o, &r, &error))
      << error;
  EXPECT_EQ(r.items, 6u);
  EXPECT_EQ(r.split, "test");
  ASSERT_EQ(r.heads.size(), 1u);
  const HeadEval& h = r.heads[0];
  EXPECT_EQ(h.name, "cls");
  EXPECT_DOUBLE_EQ(h.top1, 3.0 / 6.0);
  EXPECT_DOUBLE_EQ(h.top2, 5.0 / 6.0);
  EXPECT_DOUBLE_EQ(h.top5, 1.0);
  const std::vector<std::vector<int64_t>> confusion = {
      {1, 0, 1}, {2, 1, 0}, {0, 0, 1}};
  EXPECT_EQ(h.confusion, confusion);
  EXPECT_EQ(h.accepted, 4u);
  EXPECT_DOUBLE_EQ(h.coverage, 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(h.accepted_top1, 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(h.fallback_top1, 0.0);
  EXPECT_DOUBLE_EQ(h.float_agreement, 1.0);
  EXPECT_EQ(h.threshold, 32768);
  EXPECT_GT(r.batched_us_per_item, 0.0);
  EXPECT_GT(r.batch1_us, 0.0);

  r.model_name = "tiny";
  r.heads[0].plots = {"cls_coverage.svg"};
  char dir[] = "/tmp/kiln_eval_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/report.md";
  ASSERT_TRUE(WriteEvalReport(path, r, &error)) << error;
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string md = ss.str();
  EXPECT_NE(md.find("# Evaluation: tiny"), std::string::npos) << md;
  EXPECT_NE(md.find("| top-1 accuracy | 50.00% |"), std::string::npos) << md;
  EXPECT_NE(md.find("| **a** | 1 | 0 | 1 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| **b** | 2 | 1 | 0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("](cls_coverage.svg)"), std::string::npos) << md;
  remove(path.c_str());
  rmdir(dir);
}

TEST(Evaluate, RejectsMismatchedInputs) {
  const FloatModel m = IdentityModel();
  std::vector<uint8_t> bytes;
  std::string error;
  ASSERT_TRUE(QuantizeModelToBytes(m, QuantizeOptions(), &bytes, &error));
  const uint8_t items[6] = {1, 2, 3, 4, 5, 6};
  EvalResult r;
  // Two heads' labels for a one-head model.
  EXPECT_FALSE(EvaluateItems(bytes, items, 2, {{0, 1}, {0, 1}}, EvalOptions(),
                             &r, &error));
  // A label out of range.
  EXPECT_FALSE(
      EvaluateItems(bytes, items, 2, {{0, 3}}, EvalOptions(), &r, &error));
  EXPECT_TRUE(
      EvaluateItems(bytes, items, 2, {{0, 2}}, EvalOptions(), &r, &error))
      << error;
}

}  // namespace
}  // namespace train
}  // namespace kiln
