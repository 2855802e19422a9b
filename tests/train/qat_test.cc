// Quantization-aware training: the fake-quant forward pass must equal the
// real runtime byte for byte (before QAT and after QAT has moved the
// weights, hence the weight scales and multipliers), QAT must be
// deterministic, must repair a badly quantized model, and must refuse bad
// inputs.
#include "toolchain/train/qat.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "tests/train/digits_fixture.h"
#include "toolchain/data/digits.h"
#include "toolchain/data/sources.h"
#include "toolchain/quantization.h"
#include "toolchain/train/quantize_model.h"
#include "toolchain/train/trainer.h"

namespace kiln {
namespace train {
namespace {

class QatTest : public DigitsFixture {
 protected:
  static void SetUpTestSuite() {
    DigitsFixture::SetUpTestSuite();
    // The same splits without a valid split: QAT then keeps its last epoch,
    // so the weights always move.
    no_valid_ = new std::vector<data::Split>(*splits_);
    for (data::Split& s : *no_valid_)
      if (s == data::Split::kValid) s = data::Split::kTest;
  }
  static void TearDownTestSuite() {
    delete no_valid_;
    no_valid_ = nullptr;
    DigitsFixture::TearDownTestSuite();
  }
  static TrainParams Parse(const std::string& text) {
    TrainParams p;
    std::string error;
    EXPECT_TRUE(ParseTrainParams(text, &p, &error)) << error;
    return p;
  }

  // QatForward's int8 logits against the runtime's on `count` samples
  // spread over the dataset: every byte equal, and not trivially so.
  static void ExpectMatchesRuntime(const FloatModel& model,
                                   const data::Dataset& d, size_t count) {
    std::vector<uint8_t> raw;
    const size_t step = d.size() / count;
    for (size_t i = 0; i < count; ++i) {
      const uint8_t* p = d.item_bytes(i * step);
      raw.insert(raw.end(), p, p + d.item_byte_size());
    }
    std::string error;
    std::vector<std::vector<int8_t>> qat;
    ASSERT_TRUE(QatForward(model, raw.data(), count, &qat, &error)) << error;

    ModelBuilder b;
    QuantizedLayout layout;
    ASSERT_TRUE(BuildKilnModel(model, QuantizeOptions(), &b, &layout, &error))
        << error;
    std::vector<uint8_t> bytes;
    ASSERT_TRUE(b.Build(&bytes, &error)) << error;
    KilnRunner runner;
    ASSERT_TRUE(runner.Load(bytes, count, &error)) << error;
    std::vector<std::vector<uint8_t>> outputs;
    ASSERT_TRUE(runner.Run(raw.data(), count, &outputs, nullptr, &error))
        << error;

    ASSERT_EQ(qat.size(), model.heads.size());
    std::set<int8_t> distinct;
    std::set<std::vector<int8_t>> rows;
    size_t saturated = 0, total = 0;
    for (size_t h = 0; h < model.heads.size(); ++h) {
      SCOPED_TRACE("head " + model.heads[h].name);
      const std::vector<uint8_t>& rt =
          outputs[static_cast<size_t>(layout.head_output[h])];
      ASSERT_EQ(qat[h].size(), rt.size());
      EXPECT_EQ(std::memcmp(qat[h].data(), rt.data(), rt.size()), 0);
      size_t differ = 0;
      for (size_t i = 0; i < rt.size(); ++i)
        differ += static_cast<int8_t>(rt[i]) != qat[h][i];
      EXPECT_EQ(differ, 0u) << "of " << rt.size() << " logits";
      distinct.insert(qat[h].begin(), qat[h].end());
      for (int8_t v : qat[h]) saturated += v == -128 || v == 127;
      total += qat[h].size();
      const size_t k = qat[h].size() / count;
      for (size_t i = 0; h == 0 && i < count; ++i)
        rows.emplace(qat[h].begin() + i * k, qat[h].begin() + (i + 1) * k);
    }
    // Not vacuous: the logits take many values, vary from item to item and
    // are mostly inside the int8 range.
    EXPECT_GE(distinct.size(), 16u);
    EXPECT_GE(rows.size(), count / 2);
    EXPECT_LT(saturated, total / 4);
  }

  // Two QAT epochs with no valid split, so that the last epoch is kept and
  // the weights (with them every weight scale and multiplier) change.
  static void MoveWeights(const TrainParams& base, const TrainResult& r,
                          FloatModel* model) {
    TrainParams p = base;
    p.qat.epochs = 2;
    p.qat.lr = 1e-3;
    p.qat.batch_size = 64;
    QatMetrics metrics;
    std::string error;
    *model = r.model;
    ASSERT_TRUE(QuantizationAwareTrain(p, *digits_, *no_valid_, r.head_class_of,
                                       model, &metrics, &error, true))
        << error;
    EXPECT_EQ(metrics.best_epoch, 2);
    ASSERT_EQ(metrics.epochs.size(), 3u);
    EXPECT_TRUE(std::isnan(metrics.best_valid_accuracy));
    for (size_t l = 0; l < model->layers.size(); ++l) {
      const FloatLayer& a = r.model.layers[l];
      const FloatLayer& b = model->layers[l];
      EXPECT_EQ(a.weights.size(), b.weights.size());
      EXPECT_EQ(a.output.min, b.output.min);  // ranges stay frozen
      EXPECT_EQ(a.output.max, b.output.max);
      if (a.kind == LayerKind::kConv2D ||
          a.kind == LayerKind::kFullyConnected) {
        EXPECT_NE(a.weights, b.weights) << a.name;
      }
    }
  }

  // A briefly trained model (its logits vary from item to item, unlike an
  // untrained one's), before and after QAT.
  static void CheckModelKind(const std::string& model_json) {
    TrainParams p = Parse(R"({"model": )" + model_json + R"(,
        "training": {"epochs": 3, "batch_size": 32},
        "calibration": {"samples": 256}})");
    TrainResult r;
    std::string error;
    ASSERT_TRUE(TrainFromParams(p, *digits_, *splits_, &r, &error, true))
        << error;
    {
      SCOPED_TRACE("before QAT");
      ExpectMatchesRuntime(r.model, *digits_, 300);
    }
    FloatModel moved;
    MoveWeights(p, r, &moved);
    {
      SCOPED_TRACE("after QAT");
      ExpectMatchesRuntime(moved, *digits_, 300);
    }
  }

  // int8 top-1 accuracy of head 0 through the runtime on `which`.
  static double RuntimeAccuracy(const FloatModel& model,
                                const std::vector<std::vector<int32_t>>& map,
                                const std::vector<data::Split>& splits,
                                data::Split which,
                                const data::Dataset* d = nullptr) {
    if (d == nullptr) d = digits_;
    std::vector<uint8_t> raw;
    std::vector<int32_t> labels;
    for (size_t i = 0; i < d->size(); ++i) {
      if (splits[i] != which) continue;
      raw.insert(raw.end(), d->item_bytes(i),
                 d->item_bytes(i) + d->item_byte_size());
      labels.push_back(map[0][static_cast<size_t>(d->labels[i])]);
    }
    std::string error;
    std::vector<uint8_t> bytes;
    EXPECT_TRUE(QuantizeModelToBytes(model, QuantizeOptions(), &bytes, &error))
        << error;
    KilnRunner runner;
    EXPECT_TRUE(runner.Load(bytes, labels.size(), &error)) << error;
    std::vector<kiln_decision> decisions;
    EXPECT_TRUE(
        runner.Run(raw.data(), labels.size(), nullptr, &decisions, &error))
        << error;
    const size_t heads = model.heads.size();
    size_t correct = 0;
    for (size_t i = 0; i < labels.size(); ++i)
      correct += decisions[i * heads].class_id[0] == labels[i];
    return static_cast<double>(correct) / static_cast<double>(labels.size());
  }

  static std::vector<data::Split>* no_valid_;
};
std::vector<data::Split>* QatTest::no_valid_ = nullptr;

TEST_F(QatTest, MlpMatchesRuntime) {
  CheckModelKind(R"({"kind": "mlp", "hidden": [32, 16]})");
}

TEST_F(QatTest, CnnFlattenMatchesRuntime) {
  CheckModelKind(R"({"kind": "cnn", "channels": [4, 8],
                     "convs_per_block": 2, "head": "flatten",
                     "hidden": [16]})");
}

TEST_F(QatTest, CnnGapMatchesRuntime) {
  CheckModelKind(R"({"kind": "cnn", "channels": [8, 16],
                     "head": "gap", "hidden": []})");
}

TEST_F(QatTest, MultitaskDepthwiseMatchesRuntime) {
  CheckModelKind(R"({"kind": "multitask", "channels": [6, 12],
                     "hidden": [8],
                     "heads": [{"name": "digit"},
                               {"name": "parity",
                                "map": {"even": ["0", "2", "4", "6", "8"],
                                        "odd": ["*"]}}]})");
}

// Output ranges of every layer observed by the float interpreter on the
// first 256 train items.
std::vector<Range> ObservedRanges(const FloatModel& m, const data::Dataset& d,
                                  const std::vector<data::Split>& splits) {
  FloatInterpreter interp;
  std::string error;
  EXPECT_TRUE(interp.Init(m, &error)) << error;
  std::vector<Range> seen(m.layers.size(), Range{INFINITY, -INFINITY});
  std::vector<std::vector<float>> outs;
  size_t used = 0;
  for (size_t i = 0; i < d.size() && used < 256; ++i) {
    if (splits[i] != data::Split::kTrain) continue;
    ++used;
    interp.RunRaw(d.item_bytes(i), &outs);
    for (size_t l = 0; l < outs.size(); ++l)
      for (float v : outs[l]) {
        seen[l].min = std::min(seen[l].min, v);
        seen[l].max = std::max(seen[l].max, v);
      }
  }
  return seen;
}

// Layers the trainer does not produce but FloatModel allows: AveragePool2D
// and MaxPool2D with asymmetric padding, a strided conv with asymmetric
// padding and dilation, ReLU6 clamps below the int8 maximum.
TEST_F(QatTest, PaddedPoolsStridesAndRelu6MatchRuntime) {
  const TrainParams p = Parse(R"({"model": {"kind": "cnn",
      "channels": [8, 16, 16], "head": "gap", "hidden": [16]},
      "training": {"epochs": 3, "batch_size": 32},
      "calibration": {"samples": 256}})");
  TrainResult r;
  std::string error;
  ASSERT_TRUE(TrainFromParams(p, *digits_, *splits_, &r, &error, true))
      << error;
  // conv1 8x8, pool1, conv2, pool2, conv3, gap, fc1, logits.
  FloatModel& m = r.model;
  ASSERT_EQ(m.layers.size(), 8u);
  ASSERT_EQ(m.layers[1].kind, LayerKind::kMaxPool2D);
  ASSERT_EQ(m.layers[3].kind, LayerKind::kMaxPool2D);
  // 8x8 -> 4x4: filter 3, stride 2, padding 1 at the top/left only.
  m.layers[1].kind = LayerKind::kAveragePool2D;
  m.layers[1].pool = Pool2DOptions{3, 3, 2, 2, 1, 1, 0, 0};
  // 4x4 -> 4x4: max pool 2x2, stride 1, padding at the bottom/right.
  m.layers[3].pool = Pool2DOptions{2, 2, 1, 1, 0, 0, 1, 1};
  // conv3 on 4x4: stride 2, dilation 2, pads 2/1/1/2 -> 2x2 (the GAP takes
  // any size).
  m.layers[4].conv.stride_h = m.layers[4].conv.stride_w = 2;
  m.layers[4].conv.dilation_h = m.layers[4].conv.dilation_w = 2;
  m.layers[4].conv.pad_top = 2;
  m.layers[4].conv.pad_left = 1;
  m.layers[4].conv.pad_bottom = 1;
  m.layers[4].conv.pad_right = 2;
  std::vector<std::vector<int32_t>> shapes;
  ASSERT_TRUE(InferLayerShapes(m, &shapes, &error)) << error;
  EXPECT_EQ(shapes[1], (std::vector<int32_t>{4, 4, 8}));
  EXPECT_EQ(shapes[3], (std::vector<int32_t>{4, 4, 16}));
  EXPECT_EQ(shapes[4], (std::vector<int32_t>{2, 2, 16}));
  // ReLU6 on conv2 and fc1, scaled so that their outputs reach 12 and the 6
  // bites. (ActivationQuantParams caps a ReLU6 range at 6, so the clamp is
  // the int8 maximum, reached by every output above 6.)
  for (size_t l : {size_t(2), size_t(6)}) {
    const float peak = ObservedRanges(m, *digits_, *splits_)[l].max;
    ASSERT_GT(peak, 0.0f);
    for (float& w : m.layers[l].weights) w *= 12.0f / peak;
    for (float& b : m.layers[l].bias) b *= 12.0f / peak;
    m.layers[l].activation = Activation::kRelu6;
  }
  const std::vector<Range> ranges = ObservedRanges(m, *digits_, *splits_);
  for (size_t l = 0; l < m.layers.size(); ++l) m.layers[l].output = ranges[l];
  {
    // The ReLU6 clamps are reached.
    QuantizeOptions o;
    o.expose_layer_outputs = true;
    ModelBuilder b;
    QuantizedLayout layout;
    ASSERT_TRUE(BuildKilnModel(m, o, &b, &layout, &error)) << error;
    std::vector<uint8_t> bytes;
    ASSERT_TRUE(b.Build(&bytes, &error)) << error;
    KilnRunner runner;
    ASSERT_TRUE(runner.Load(bytes, 300, &error)) << error;
    std::vector<std::vector<uint8_t>> outputs;
    ASSERT_TRUE(runner.Run(digits_->u8.data(), 300, &outputs, nullptr, &error))
        << error;
    for (size_t l : {size_t(2), size_t(6)}) {
      const QuantParams q = layout.layer_quant[l];
      const int32_t top =
          ActivationClamp(Activation::kRelu6, q.scale, q.zero_point).max;
      EXPECT_EQ(top, 127);
      size_t at_top = 0;
      for (uint8_t v : outputs[static_cast<size_t>(layout.layer_output[l])])
        at_top += static_cast<int8_t>(v) == top;
      EXPECT_GT(at_top, 10u) << m.layers[l].name;
    }
  }
  {
    SCOPED_TRACE("before QAT");
    ExpectMatchesRuntime(m, *digits_, 300);
  }
  FloatModel moved;
  MoveWeights(p, r, &moved);
  {
    SCOPED_TRACE("after QAT");
    ExpectMatchesRuntime(moved, *digits_, 300);
  }
}

// Float32 features (a FLOAT32 graph input, Quantize from float).
TEST_F(QatTest, FloatFeaturesMatchRuntime) {
  data::Dataset f = *digits_;
  f.name = "digits-float";
  f.feature_type = data::FeatureType::kFloat32;
  f.item_shape = {64};
  f.f32.clear();
  for (uint8_t v : f.u8) f.f32.push_back(v / 16.0f - 0.3f);
  f.u8.clear();
  const TrainParams p = Parse(R"({"model": {"kind": "mlp", "hidden": [24]}})");
  TrainResult r;
  std::string error;
  ASSERT_TRUE(BuildUntrainedModel(p, f, *splits_, false, &r, &error)) << error;
  ASSERT_FALSE(r.model.uint8_input);
  ExpectMatchesRuntime(r.model, f, 300);
  TrainParams q = p;
  q.qat.epochs = 1;
  q.qat.lr = 3e-3;
  q.training.augmentation.noise_std = 0.05f;
  q.training.augmentation.brightness = 0.1f;
  QatMetrics metrics;
  FloatModel moved = r.model;
  ASSERT_TRUE(QuantizationAwareTrain(q, f, *no_valid_, r.head_class_of, &moved,
                                     &metrics, &error, true))
      << error;
  EXPECT_NE(moved.layers[0].weights, r.model.layers[0].weights);
  ExpectMatchesRuntime(moved, f, 300);
}

TEST_F(QatTest, SameInputsGiveIdenticalWeights) {
  TrainParams p = Parse(R"({"model": {"kind": "cnn", "channels": [4, 8],
      "hidden": [16]},
      "training": {"augmentation": {"hflip": true, "max_shift_pixels": 1,
                                    "brightness": 0.1, "noise_std": 0.05}},
      "qat": {"epochs": 2, "lr": 0.001, "batch_size": 32}})");
  TrainResult r;
  std::string error;
  ASSERT_TRUE(BuildUntrainedModel(p, *digits_, *splits_, true, &r, &error))
      << error;
  FloatModel a = r.model, b = r.model;
  QatMetrics ma, mb;
  ASSERT_TRUE(QuantizationAwareTrain(p, *digits_, *no_valid_, r.head_class_of,
                                     &a, &ma, &error, true))
      << error;
  ASSERT_TRUE(QuantizationAwareTrain(p, *digits_, *no_valid_, r.head_class_of,
                                     &b, &mb, &error, true))
      << error;
  for (size_t l = 0; l < a.layers.size(); ++l) {
    EXPECT_EQ(a.layers[l].weights, b.layers[l].weights) << l;
    EXPECT_EQ(a.layers[l].bias, b.layers[l].bias) << l;
  }
  ASSERT_EQ(ma.epochs.size(), mb.epochs.size());
  for (size_t e = 0; e < ma.epochs.size(); ++e)
    EXPECT_EQ(ma.epochs[e].train_loss, mb.epochs[e].train_loss);
  std::vector<uint8_t> ba, bb;
  ASSERT_TRUE(QuantizeModelToBytes(a, QuantizeOptions(), &ba, &error));
  ASSERT_TRUE(QuantizeModelToBytes(b, QuantizeOptions(), &bb, &error));
  EXPECT_EQ(ba, bb);
  // Another seed trains differently.
  p.training.seed = 7;
  FloatModel c = r.model;
  QatMetrics mc;
  ASSERT_TRUE(QuantizationAwareTrain(p, *digits_, *no_valid_, r.head_class_of,
                                     &c, &mc, &error, true))
      << error;
  EXPECT_NE(a.layers[0].weights, c.layers[0].weights);
}

// Activation ranges calibrated at the 75th percentile clip most of every
// layer's range: post-training quantization collapses, and QAT, which
// trains the weights for exactly those frozen ranges, wins most of it back.
// The reported valid accuracies are the runtime's.
TEST_F(QatTest, RepairsBadlyCalibratedModel) {
  TrainParams p = Parse(R"({"model": {"kind": "cnn", "channels": [8, 16],
      "hidden": [32]},
      "training": {"epochs": 5, "batch_size": 32, "lr": 0.003,
                   "warmup_epochs": 1},
      "calibration": {"method": "percentile", "percentile": 75,
                      "samples": 256},
      "qat": {"epochs": 3, "lr": 0.001, "batch_size": 32}})");
  TrainResult r;
  std::string error;
  ASSERT_TRUE(TrainFromParams(p, *digits_, *splits_, &r, &error, true))
      << error;
  const double ptq =
      RuntimeAccuracy(r.model, r.head_class_of, *splits_, data::Split::kValid);
  FloatModel m = r.model;
  QatMetrics metrics;
  ASSERT_TRUE(QuantizationAwareTrain(p, *digits_, *splits_, r.head_class_of, &m,
                                     &metrics, &error, true))
      << error;
  EXPECT_EQ(metrics.initial_valid_accuracy, ptq);
  const double qat =
      RuntimeAccuracy(m, r.head_class_of, *splits_, data::Split::kValid);
  EXPECT_EQ(metrics.best_valid_accuracy, qat);
  ASSERT_GE(metrics.best_epoch, 1);
  EXPECT_EQ(
      metrics.epochs[static_cast<size_t>(metrics.best_epoch)].valid_accuracy,
      qat);
  EXPECT_GT(qat, ptq + 0.10) << "PTQ " << ptq << " QAT " << qat;
  const double ptq_test =
      RuntimeAccuracy(r.model, r.head_class_of, *splits_, data::Split::kTest);
  const double qat_test =
      RuntimeAccuracy(m, r.head_class_of, *splits_, data::Split::kTest);
  EXPECT_GT(qat_test, ptq_test + 0.05)
      << "PTQ " << ptq_test << " QAT " << qat_test;
}

// When no epoch beats the model as given on the valid split, the model is
// returned unchanged; qat.epochs == 0 changes nothing either.
TEST_F(QatTest, KeepsOriginalWeightsUnlessAnEpochIsBetter) {
  TrainParams p = Parse(R"({"model": {"kind": "mlp", "hidden": [16]},
      "qat": {"epochs": 0}})");
  TrainResult r;
  std::string error;
  ASSERT_TRUE(BuildUntrainedModel(p, *digits_, *splits_, false, &r, &error))
      << error;
  FloatModel m = r.model;
  QatMetrics metrics;
  ASSERT_TRUE(QuantizationAwareTrain(p, *digits_, *splits_, r.head_class_of, &m,
                                     &metrics, &error, true))
      << error;
  EXPECT_EQ(m.layers[0].weights, r.model.layers[0].weights);
  ASSERT_EQ(metrics.epochs.size(), 1u);
  EXPECT_EQ(metrics.best_epoch, 0);
  EXPECT_EQ(
      metrics.initial_valid_accuracy,
      RuntimeAccuracy(r.model, r.head_class_of, *splits_, data::Split::kValid));
  // A learning rate so small that the int8 model cannot change: no epoch
  // is better, the original weights stay.
  p.qat.epochs = 1;
  p.qat.lr = 1e-12;
  ASSERT_TRUE(QuantizationAwareTrain(p, *digits_, *splits_, r.head_class_of, &m,
                                     &metrics, &error, true))
      << error;
  EXPECT_EQ(metrics.best_epoch, 0);
  EXPECT_EQ(metrics.epochs[1].valid_accuracy, metrics.initial_valid_accuracy);
  EXPECT_EQ(m.layers[0].weights, r.model.layers[0].weights);
}

TEST_F(QatTest, RejectsBadInputs) {
  const TrainParams p = Parse(R"({"model": {"kind": "mlp", "hidden": [16]},
      "qat": {"epochs": 1}})");
  TrainResult r;
  std::string error;
  ASSERT_TRUE(BuildUntrainedModel(p, *digits_, *splits_, false, &r, &error))
      << error;
  auto run = [&](const TrainParams& params,
                 const std::vector<data::Split>& splits,
                 const std::vector<std::vector<int32_t>>& map,
                 const data::Dataset& d) {
    FloatModel m = r.model;
    QatMetrics metrics;
    error.clear();
    const bool ok = QuantizationAwareTrain(params, d, splits, map, &m, &metrics,
                                           &error, true);
    EXPECT_EQ(m.layers[0].weights, r.model.layers[0].weights);
    return ok;
  };
  std::vector<data::Split> no_train(*splits_);
  for (data::Split& s : no_train)
    if (s == data::Split::kTrain) s = data::Split::kTest;
  EXPECT_FALSE(run(p, no_train, r.head_class_of, *digits_));
  EXPECT_NE(error.find("train split is empty"), std::string::npos) << error;

  TrainParams bad = p;
  bad.qat.epochs = -1;
  EXPECT_FALSE(run(bad, *splits_, r.head_class_of, *digits_));
  EXPECT_NE(error.find("qat.epochs"), std::string::npos) << error;
  bad = p;
  bad.qat.lr = 0;
  EXPECT_FALSE(run(bad, *splits_, r.head_class_of, *digits_));
  EXPECT_NE(error.find("qat.lr"), std::string::npos) << error;
  bad = p;
  bad.qat.batch_size = 0;
  EXPECT_FALSE(run(bad, *splits_, r.head_class_of, *digits_));
  EXPECT_NE(error.find("qat.batch_size"), std::string::npos) << error;

  EXPECT_FALSE(run(p, *splits_, {}, *digits_));
  EXPECT_NE(error.find("head_class_of"), std::string::npos) << error;
  std::vector<std::vector<int32_t>> map = r.head_class_of;
  map[0][3] = 10;  // the head has classes 0..9
  EXPECT_FALSE(run(p, *splits_, map, *digits_));
  EXPECT_NE(error.find("head_class_of"), std::string::npos) << error;

  EXPECT_FALSE(run(p, std::vector<data::Split>(5, data::Split::kTrain),
                   r.head_class_of, *digits_));
  EXPECT_NE(error.find("one split per sample"), std::string::npos) << error;

  data::Dataset other = *digits_;
  other.item_shape = {4, 16, 1};
  EXPECT_FALSE(run(p, *splits_, r.head_class_of, other));
  EXPECT_NE(error.find("item shape"), std::string::npos) << error;

  // A model the builder refuses (a non-finite range) fails the same way.
  FloatModel broken = r.model;
  broken.layers[0].output.max = NAN;
  std::vector<std::vector<int8_t>> logits;
  EXPECT_FALSE(QatForward(broken, digits_->u8.data(), 4, &logits, &error));
  EXPECT_NE(error.find("not valid"), std::string::npos) << error;

  // An add layer (a wide path beside the deep one) is refused by name.
  FloatModel wide = r.model;
  FloatLayer twice;
  twice.kind = LayerKind::kAdd;
  twice.name = "twice";
  twice.input = static_cast<int32_t>(wide.layers.size()) - 1;
  twice.input2 = twice.input;
  twice.output = wide.layers.back().output;
  twice.output.min *= 2;
  twice.output.max *= 2;
  wide.layers.push_back(twice);
  wide.heads[0].layer = twice.input + 1;
  EXPECT_FALSE(QatForward(wide, digits_->u8.data(), 4, &logits, &error));
  EXPECT_NE(error.find("'twice' is an add"), std::string::npos) << error;
}

// Float top-1 accuracy of head 0 (FloatInterpreter) on `which`.
double FloatAccuracy(const FloatModel& model, const data::Dataset& d,
                     const std::vector<std::vector<int32_t>>& map,
                     const std::vector<data::Split>& splits,
                     data::Split which) {
  FloatInterpreter interp;
  std::string error;
  EXPECT_TRUE(interp.Init(model, &error)) << error;
  const size_t logits = static_cast<size_t>(model.heads[0].layer);
  std::vector<std::vector<float>> outs;
  size_t correct = 0, total = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    if (splits[i] != which) continue;
    interp.RunRaw(d.item_bytes(i), &outs);
    const std::vector<float>& y = outs[logits];
    const size_t top =
        static_cast<size_t>(std::max_element(y.begin(), y.end()) - y.begin());
    correct +=
        static_cast<int32_t>(top) == map[0][static_cast<size_t>(d.labels[i])];
    ++total;
  }
  return static_cast<double>(correct) / static_cast<double>(total);
}

// The figures of the QAT report: float, int8 PTQ and int8 PTQ + QAT test
// accuracy on toolchain/params/digits_cnn.json (as it is, and with an
// aggressive percentile calibration) and digits_qat.json, seconds per QAT
// epoch. Run with
//   kiln_train_tests --gtest_also_run_disabled_tests
//     --gtest_filter='*MeasureDigits*'
TEST_F(QatTest, DISABLED_MeasureDigits) {
  std::string root = data::DefaultDigitsPath();
  root = root.substr(0, root.find("/toolchain/data/"));
  struct Case {
    const char* file;
    double percentile;  // 0: the file's calibration
  };
  for (const Case& c : {Case{"digits_cnn.json", 0}, Case{"digits_cnn.json", 99},
                        Case{"digits_qat.json", 0}}) {
    TrainParams p;
    std::string error;
    ASSERT_TRUE(
        LoadTrainParams(root + "/toolchain/params/" + c.file, &p, &error))
        << error;
    p.split.manifest.clear();
    if (c.percentile > 0) {
      p.calibration.method = CalibrationMethod::kPercentile;
      p.calibration.percentile = c.percentile;
    }
    if (p.qat.epochs == 0) {
      p.qat.epochs = 10;
      p.qat.lr = 1e-4;
      p.qat.batch_size = 32;
    }
    std::vector<data::Split> splits;
    ASSERT_TRUE(PrepareSplits(p, *digits_, &splits, &error)) << error;
    TrainResult r;
    ASSERT_TRUE(TrainFromParams(p, *digits_, splits, &r, &error, true))
        << error;
    FloatModel m = r.model;
    QatMetrics metrics;
    ASSERT_TRUE(QuantizationAwareTrain(p, *digits_, splits, r.head_class_of, &m,
                                       &metrics, &error, false))
        << error;
    const data::Split test = data::Split::kTest;
    std::printf(
        "%s%s: test float %.4f, int8 PTQ %.4f, int8 PTQ+QAT %.4f; int8 "
        "valid %.4f -> %.4f (best epoch %d of %d); %.2f s per QAT epoch\n",
        c.file,
        c.percentile > 0
            ? (" (percentile " + std::to_string(c.percentile) + ")").c_str()
            : "",
        FloatAccuracy(r.model, *digits_, r.head_class_of, splits, test),
        RuntimeAccuracy(r.model, r.head_class_of, splits, test),
        RuntimeAccuracy(m, r.head_class_of, splits, test),
        metrics.initial_valid_accuracy, metrics.best_valid_accuracy,
        metrics.best_epoch, p.qat.epochs, metrics.seconds_per_epoch);
  }
}

// The same on Fashion-MNIST (toolchain/params/fashion_mnist_cnn.json; about
// 4 minutes of training on 2 cores, then 3 QAT epochs). Run with
//   kiln_train_tests --gtest_also_run_disabled_tests
//     --gtest_filter='*MeasureFashion*'
TEST_F(QatTest, DISABLED_MeasureFashionMnist) {
  std::string root = data::DefaultDigitsPath();
  root = root.substr(0, root.find("/toolchain/data/"));
  TrainParams p;
  std::string error;
  ASSERT_TRUE(LoadTrainParams(root + "/toolchain/params/fashion_mnist_cnn.json",
                              &p, &error))
      << error;
  p.split.manifest.clear();
  p.qat.epochs = 3;
  data::Dataset d;
  if (!data::OpenDataset(p.dataset, &d, &error)) GTEST_SKIP() << error;
  std::vector<data::Split> splits;
  ASSERT_TRUE(PrepareSplits(p, d, &splits, &error)) << error;
  TrainResult r;
  ASSERT_TRUE(TrainFromParams(p, d, splits, &r, &error, false)) << error;
  FloatModel m = r.model;
  QatMetrics metrics;
  ASSERT_TRUE(QuantizationAwareTrain(p, d, splits, r.head_class_of, &m,
                                     &metrics, &error, false))
      << error;
  const double ptq =
      RuntimeAccuracy(r.model, r.head_class_of, splits, data::Split::kTest, &d);
  const double qat =
      RuntimeAccuracy(m, r.head_class_of, splits, data::Split::kTest, &d);
  std::printf(
      "fashion_mnist_cnn: test float %.4f, int8 PTQ %.4f, int8 PTQ+QAT "
      "%.4f; int8 valid %.4f -> %.4f (best epoch %d of %d); %.1f s per QAT "
      "epoch\n",
      FloatAccuracy(r.model, d, r.head_class_of, splits, data::Split::kTest),
      ptq, qat, metrics.initial_valid_accuracy, metrics.best_valid_accuracy,
      metrics.best_epoch, p.qat.epochs, metrics.seconds_per_epoch);
}

}  // namespace
}  // namespace train
}  // namespace kiln
