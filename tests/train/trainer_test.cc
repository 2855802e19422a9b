// The trainer and its export, checked against a plain C++ float interpreter
// of FloatModel (no LibTorch here): it reads the exported weights in Kiln's
// layouts (OHWI, [N, K] over NHWC-flattened inputs), so agreement with the
// torch logits proves BatchNorm folding and the flatten permutation.
#include "toolchain/train/trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "tests/toolchain/scratch_dir.h"
#include "tests/train/digits_fixture.h"
#include "toolchain/data/sources.h"

namespace kiln {
namespace train {
namespace {

struct Tensor {
  std::vector<int32_t> shape;  // {H, W, C} or {N}
  std::vector<float> v;
};

Tensor RunLayer(const FloatLayer& L, const Tensor& in) {
  Tensor out;
  switch (L.kind) {
    case LayerKind::kConv2D: {
      int32_t H = in.shape[0], W = in.shape[1], C = in.shape[2];
      int32_t O = L.weight_shape[0], KH = L.weight_shape[1],
              KW = L.weight_shape[2], I = L.weight_shape[3];
      const Conv2DOptions& o = L.conv;
      int32_t OH =
          (H + o.pad_top + o.pad_bottom - (KH - 1) - 1) / o.stride_h + 1;
      int32_t OW =
          (W + o.pad_left + o.pad_right - (KW - 1) - 1) / o.stride_w + 1;
      int32_t out_per_group = O / o.groups;
      out.shape = {OH, OW, O};
      out.v.assign(static_cast<size_t>(OH * OW * O), 0.0f);
      for (int32_t oy = 0; oy < OH; ++oy)
        for (int32_t ox = 0; ox < OW; ++ox)
          for (int32_t oc = 0; oc < O; ++oc) {
            int32_t g = oc / out_per_group;
            double acc = L.bias[static_cast<size_t>(oc)];
            for (int32_t ky = 0; ky < KH; ++ky)
              for (int32_t kx = 0; kx < KW; ++kx) {
                int32_t iy = oy * o.stride_h - o.pad_top + ky;
                int32_t ix = ox * o.stride_w - o.pad_left + kx;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                for (int32_t ic = 0; ic < I; ++ic) {
                  acc += in.v[static_cast<size_t>((iy * W + ix) * C + g * I +
                                                  ic)] *
                         L.weights[static_cast<size_t>(
                             ((oc * KH + ky) * KW + kx) * I + ic)];
                }
              }
            out.v[static_cast<size_t>((oy * OW + ox) * O + oc)] =
                static_cast<float>(acc);
          }
      break;
    }
    case LayerKind::kFullyConnected: {
      int32_t N = L.weight_shape[0], K = L.weight_shape[1];
      EXPECT_EQ(static_cast<size_t>(K), in.v.size());
      out.shape = {N};
      for (int32_t n = 0; n < N; ++n) {
        double acc = L.bias[static_cast<size_t>(n)];
        for (int32_t k = 0; k < K; ++k)
          acc += in.v[static_cast<size_t>(k)] *
                 L.weights[static_cast<size_t>(n * K + k)];
        out.v.push_back(static_cast<float>(acc));
      }
      break;
    }
    case LayerKind::kMaxPool2D:
    case LayerKind::kAveragePool2D: {
      int32_t H = in.shape[0], W = in.shape[1], C = in.shape[2];
      const Pool2DOptions& p = L.pool;
      int32_t OH = (H - p.filter_h) / p.stride_h + 1;
      int32_t OW = (W - p.filter_w) / p.stride_w + 1;
      out.shape = {OH, OW, C};
      for (int32_t oy = 0; oy < OH; ++oy)
        for (int32_t ox = 0; ox < OW; ++ox)
          for (int32_t c = 0; c < C; ++c) {
            float m = -INFINITY;
            double sum = 0;
            for (int32_t ky = 0; ky < p.filter_h; ++ky)
              for (int32_t kx = 0; kx < p.filter_w; ++kx) {
                float x = in.v[static_cast<size_t>(
                    ((oy * p.stride_h + ky) * W + ox * p.stride_w + kx) * C +
                    c)];
                m = std::max(m, x);
                sum += x;
              }
            out.v.push_back(
                L.kind == LayerKind::kMaxPool2D
                    ? m
                    : static_cast<float>(sum / (p.filter_h * p.filter_w)));
          }
      break;
    }
    case LayerKind::kGlobalAveragePool: {
      int32_t HW = in.shape[0] * in.shape[1], C = in.shape[2];
      out.shape = {C};
      for (int32_t c = 0; c < C; ++c) {
        double sum = 0;
        for (int32_t i = 0; i < HW; ++i)
          sum += in.v[static_cast<size_t>(i * C + c)];
        out.v.push_back(static_cast<float>(sum / HW));
      }
      break;
    }
    case LayerKind::kAdd:
      ADD_FAILURE() << "the trainer's graphs have no add layers";
      break;
  }
  if (L.activation == Activation::kRelu)
    for (float& x : out.v) x = std::max(0.0f, x);
  return out;
}

// Every layer's output for sample i.
std::vector<Tensor> RunModel(const FloatModel& m, const data::Dataset& d,
                             size_t i, Tensor* input = nullptr) {
  Tensor x;
  x.shape = m.input_shape;
  size_t e = d.item_elements();
  for (size_t j = 0; j < e; ++j) {
    float raw = d.feature_type == data::FeatureType::kUint8 ? d.u8[i * e + j]
                                                            : d.f32[i * e + j];
    x.v.push_back(raw * m.input_scale_real);
  }
  if (input) *input = x;
  std::vector<Tensor> outs;
  for (const FloatLayer& L : m.layers)
    outs.push_back(
        RunLayer(L, L.input < 0 ? x : outs[static_cast<size_t>(L.input)]));
  return outs;
}

class TrainerTest : public DigitsFixture {
 protected:
  static TrainParams Parse(const std::string& text) {
    TrainParams p;
    std::string error;
    EXPECT_TRUE(ParseTrainParams(text, &p, &error)) << error;
    return p;
  }
  // Exported model vs torch logits on the first `count` samples.
  static void ExpectExportMatchesTorch(const TrainResult& r, size_t count) {
    std::vector<size_t> idx;
    for (size_t i = 0; i < count; ++i) idx.push_back(i * 7);
    std::vector<std::vector<float>> torch_logits;
    std::string error;
    ASSERT_TRUE(PredictFloat(*r.trained, *digits_, idx, &torch_logits, &error))
        << error;
    ASSERT_EQ(torch_logits.size(), r.model.heads.size());
    double max_abs = 0;
    for (size_t s = 0; s < idx.size(); ++s) {
      std::vector<Tensor> outs = RunModel(r.model, *digits_, idx[s]);
      for (size_t h = 0; h < r.model.heads.size(); ++h) {
        const Tensor& logits =
            outs[static_cast<size_t>(r.model.heads[h].layer)];
        size_t k = logits.v.size();
        ASSERT_EQ(torch_logits[h].size(), idx.size() * k);
        for (size_t c = 0; c < k; ++c) {
          float t = torch_logits[h][s * k + c];
          max_abs = std::max(max_abs, std::fabs(static_cast<double>(t)));
          EXPECT_NEAR(logits.v[c], t, 1e-4)
              << "sample " << idx[s] << " head " << h << " class " << c;
        }
      }
    }
    EXPECT_GT(max_abs, 1e-2);  // not trivially zero
  }
};

TEST_F(TrainerTest, FoldedCnnWithFlattenHeadMatchesTorch) {
  // Two convs per block with random BatchNorm statistics, and an FC reading
  // a 2x2x8 tensor: exercises BN folding and the NCHW -> NHWC permutation.
  TrainResult r;
  std::string error;
  ASSERT_TRUE(
      BuildUntrainedModel(Parse(R"({"model": {"kind": "cnn", "channels": [4, 8],
                "convs_per_block": 2, "head": "flatten", "hidden": [16]},
                "calibration": {"samples": 32}})"),
                          *digits_, *splits_, true, &r, &error))
      << error;
  ASSERT_EQ(r.model.layers.size(), 8u);
  EXPECT_EQ(r.model.layers[0].weight_shape, (std::vector<int32_t>{4, 3, 3, 1}));
  EXPECT_EQ(r.model.layers[6].weight_shape, (std::vector<int32_t>{16, 32}));
  EXPECT_EQ(r.model.input_shape, (std::vector<int32_t>{8, 8, 1}));
  EXPECT_FLOAT_EQ(r.model.input_scale_real, 1.0f / 16);
  EXPECT_TRUE(r.model.uint8_input);
  ASSERT_EQ(r.model.heads.size(), 1u);
  EXPECT_EQ(r.model.heads[0].labels.size(), 10u);
  ExpectExportMatchesTorch(r, 40);
}

TEST_F(TrainerTest, FoldedMultitaskDepthwiseMatchesTorch) {
  TrainResult r;
  std::string error;
  ASSERT_TRUE(BuildUntrainedModel(
      Parse(R"({"model": {"kind": "multitask", "channels": [6, 12],
                "hidden": [8],
                "heads": [{"name": "digit"},
                          {"name": "parity",
                           "map": {"even": ["0", "2", "4", "6", "8"],
                                   "odd": ["*"]}}]}})"),
      *digits_, *splits_, true, &r, &error))
      << error;
  ASSERT_EQ(r.model.heads.size(), 2u);
  EXPECT_EQ(r.model.heads[1].labels, (std::vector<std::string>{"even", "odd"}));
  EXPECT_EQ(r.head_class_of[1][3], 1);
  EXPECT_EQ(r.head_class_of[1][4], 0);
  bool has_depthwise = false;
  for (const FloatLayer& L : r.model.layers)
    if (L.kind == LayerKind::kConv2D && L.conv.groups == 6) {
      has_depthwise = true;
      EXPECT_EQ(L.weight_shape, (std::vector<int32_t>{6, 3, 3, 1}));
    }
  EXPECT_TRUE(has_depthwise);
  ExpectExportMatchesTorch(r, 30);
}

TEST_F(TrainerTest, MlpMatchesTorch) {
  TrainResult r;
  std::string error;
  ASSERT_TRUE(BuildUntrainedModel(
      Parse(R"({"model": {"kind": "mlp", "hidden": [32, 16]}})"), *digits_,
      *splits_, false, &r, &error))
      << error;
  ASSERT_EQ(r.model.layers.size(), 3u);
  EXPECT_EQ(r.model.layers[0].weight_shape, (std::vector<int32_t>{32, 64}));
  ExpectExportMatchesTorch(r, 30);
}

TEST_F(TrainerTest, CalibrationRangesContainObservedValues) {
  // More calibration samples than the train split has: every train sample
  // is used, so min/max ranges must contain every train output.
  TrainResult mm, pct, kl;
  std::string error;
  ASSERT_TRUE(BuildUntrainedModel(Parse(R"({"model": {"channels": [4, 8]},
                "calibration": {"samples": 100000}})"),
                                  *digits_, *splits_, true, &mm, &error))
      << error;
  ASSERT_TRUE(BuildUntrainedModel(Parse(R"({"model": {"channels": [4, 8]},
                "calibration": {"method": "percentile", "percentile": 99.0,
                                "samples": 100000}})"),
                                  *digits_, *splits_, true, &pct, &error))
      << error;
  ASSERT_TRUE(BuildUntrainedModel(Parse(R"({"model": {"channels": [4, 8]},
                "calibration": {"method": "kl", "samples": 100000}})"),
                                  *digits_, *splits_, true, &kl, &error))
      << error;
  const FloatModel& m = mm.model;
  std::vector<Range> seen(m.layers.size(), Range{INFINITY, -INFINITY});
  Range seen_in{INFINITY, -INFINITY};
  for (size_t i = 0; i < digits_->size(); ++i) {
    if ((*splits_)[i] != data::Split::kTrain) continue;
    Tensor x;
    std::vector<Tensor> outs = RunModel(m, *digits_, i, &x);
    for (float v : x.v) {
      seen_in.min = std::min(seen_in.min, v);
      seen_in.max = std::max(seen_in.max, v);
    }
    for (size_t l = 0; l < outs.size(); ++l)
      for (float v : outs[l].v) {
        seen[l].min = std::min(seen[l].min, v);
        seen[l].max = std::max(seen[l].max, v);
      }
  }
  EXPECT_FLOAT_EQ(m.input.min, seen_in.min);
  EXPECT_FLOAT_EQ(m.input.max, seen_in.max);
  for (size_t l = 0; l < m.layers.size(); ++l) {
    SCOPED_TRACE(m.layers[l].name);
    EXPECT_LE(m.layers[l].output.min, seen[l].min + 1e-4);
    EXPECT_GE(m.layers[l].output.max, seen[l].max - 1e-4);
    EXPECT_NEAR(m.layers[l].output.min, seen[l].min, 1e-3);
    EXPECT_NEAR(m.layers[l].output.max, seen[l].max, 1e-3);
    // Percentile ranges sit inside the min/max ones.
    const Range& p = pct.model.layers[l].output;
    EXPECT_GE(p.min, m.layers[l].output.min - 1e-6);
    EXPECT_LE(p.max, m.layers[l].output.max + 1e-6);
    EXPECT_LE(p.min, p.max);
    // So do the KL ones; ReLU outputs keep min = the observed min (>= 0).
    const Range& k = kl.model.layers[l].output;
    EXPECT_GE(k.min, m.layers[l].output.min);
    EXPECT_LE(k.max, m.layers[l].output.max);
    EXPECT_LE(k.min, k.max);
    if (m.layers[l].activation == Activation::kRelu) {
      EXPECT_EQ(k.min, m.layers[l].output.min);
    }
  }
  // The weights do not depend on the calibration.
  for (size_t l = 0; l < m.layers.size(); ++l)
    EXPECT_EQ(kl.model.layers[l].weights, m.layers[l].weights);
  EXPECT_EQ(kl.model.input.min, seen_in.min);
}

TEST_F(TrainerTest, SameSeedGivesIdenticalWeights) {
  TrainParams p = Parse(R"({"model": {"channels": [8, 16]},
      "training": {"epochs": 1, "batch_size": 64,
                   "augmentation": {"max_shift_pixels": 1,
                                    "noise_std": 0.02}},
      "calibration": {"samples": 64}})");
  TrainResult a, b;
  std::string error;
  ASSERT_TRUE(TrainFromParams(p, *digits_, *splits_, &a, &error, true))
      << error;
  ASSERT_TRUE(TrainFromParams(p, *digits_, *splits_, &b, &error, true))
      << error;
  ASSERT_EQ(a.model.layers.size(), b.model.layers.size());
  for (size_t l = 0; l < a.model.layers.size(); ++l) {
    EXPECT_EQ(a.model.layers[l].weights, b.model.layers[l].weights) << l;
    EXPECT_EQ(a.model.layers[l].bias, b.model.layers[l].bias) << l;
    EXPECT_EQ(a.model.layers[l].output.max, b.model.layers[l].output.max);
  }
  EXPECT_EQ(a.params_json, b.params_json);
  // Another seed gives other weights.
  p.training.seed = 2;
  TrainResult c;
  ASSERT_TRUE(TrainFromParams(p, *digits_, *splits_, &c, &error, true))
      << error;
  EXPECT_NE(a.model.layers[0].weights, c.model.layers[0].weights);
}

TEST_F(TrainerTest, HookReturningFalseStopsTraining) {
  TrainParams p = Parse(R"({"model": {"channels": [4, 8], "hidden": []},
      "training": {"epochs": 6, "batch_size": 64},
      "calibration": {"samples": 32}})");
  std::vector<int32_t> seen;
  TrainHooks hooks;
  hooks.on_epoch = [&seen](const EpochMetrics& e) {
    seen.push_back(e.epoch);
    return e.epoch < 2;
  };
  TrainResult r;
  std::string error;
  ASSERT_TRUE(TrainFromParams(p, *digits_, *splits_, &r, &error, true, &hooks))
      << error;
  EXPECT_EQ(seen, (std::vector<int32_t>{1, 2}));
  EXPECT_TRUE(r.metrics.stopped_by_hook);
  EXPECT_FALSE(r.metrics.stopped_early);
  ASSERT_EQ(r.metrics.epochs.size(), 2u);
  EXPECT_EQ(r.metrics.epochs[1].epoch, 2);
  EXPECT_GE(r.metrics.best_epoch, 1);
  EXPECT_LE(r.metrics.best_epoch, 2);
  EXPECT_FALSE(r.model.layers.empty());  // still exported
  EXPECT_TRUE(std::isnan(r.metrics.teacher_valid_accuracy));
  // A hook that never stops: every epoch runs.
  hooks.on_epoch = [](const EpochMetrics&) { return true; };
  p.training.epochs = 3;
  ASSERT_TRUE(TrainFromParams(p, *digits_, *splits_, &r, &error, true, &hooks))
      << error;
  EXPECT_FALSE(r.metrics.stopped_by_hook);
  EXPECT_EQ(r.metrics.epochs.size(), 3u);
}

void ExpectSameModel(const FloatModel& a, const FloatModel& b) {
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t l = 0; l < a.layers.size(); ++l) {
    SCOPED_TRACE(a.layers[l].name);
    EXPECT_EQ(a.layers[l].name, b.layers[l].name);
    EXPECT_EQ(a.layers[l].weights, b.layers[l].weights);
    EXPECT_EQ(a.layers[l].bias, b.layers[l].bias);
    EXPECT_EQ(a.layers[l].output.min, b.layers[l].output.min);
    EXPECT_EQ(a.layers[l].output.max, b.layers[l].output.max);
  }
  EXPECT_EQ(a.input.min, b.input.min);
  EXPECT_EQ(a.input.max, b.input.max);
  ASSERT_EQ(a.heads.size(), b.heads.size());
  for (size_t h = 0; h < a.heads.size(); ++h)
    EXPECT_EQ(a.heads[h].labels, b.heads[h].labels);
}

TEST_F(TrainerTest, CheckpointReproducesTheExportedModel) {
  testing::ScratchDir dir;
  TrainParams p = Parse(R"({"model": {"channels": [4, 8], "hidden": [16]},
      "training": {"epochs": 4, "batch_size": 64, "lr": 0.01},
      "calibration": {"samples": 64}})");
  TrainHooks hooks;
  hooks.checkpoint_path = dir.Path("best.pt");
  // The file after each epoch holds the best epoch so far.
  std::vector<int32_t> checkpoint_epoch;
  hooks.on_epoch = [&](const EpochMetrics&) {
    TrainResult c;
    std::string why;
    EXPECT_TRUE(
        LoadCheckpoint(hooks.checkpoint_path, p, *digits_, *splits_, &c, &why))
        << why;
    checkpoint_epoch.push_back(c.metrics.best_epoch);
    return true;
  };
  TrainResult r;
  std::string error;
  ASSERT_TRUE(TrainFromParams(p, *digits_, *splits_, &r, &error, true, &hooks))
      << error;
  EXPECT_EQ(dir.Entries(), (std::vector<std::string>{"best.pt"}));  // no .tmp
  ASSERT_EQ(checkpoint_epoch.size(), 4u);
  EXPECT_EQ(checkpoint_epoch[0], 1);
  EXPECT_EQ(checkpoint_epoch.back(), r.metrics.best_epoch);
  for (size_t i = 1; i < checkpoint_epoch.size(); ++i)
    EXPECT_GE(checkpoint_epoch[i], checkpoint_epoch[i - 1]);

  TrainResult loaded;
  ASSERT_TRUE(LoadCheckpoint(hooks.checkpoint_path, p, *digits_, *splits_,
                             &loaded, &error))
      << error;
  EXPECT_EQ(loaded.metrics.best_epoch, r.metrics.best_epoch);
  EXPECT_EQ(loaded.metrics.best_valid_accuracy, r.metrics.best_valid_accuracy);
  EXPECT_EQ(loaded.params_json, r.params_json);
  EXPECT_EQ(loaded.head_class_of, r.head_class_of);
  ExpectSameModel(loaded.model, r.model);
  ExpectExportMatchesTorch(loaded, 20);

  // Another calibration from the same weights.
  TrainParams kl = p;
  kl.calibration.method = CalibrationMethod::kKl;
  ASSERT_TRUE(LoadCheckpoint(hooks.checkpoint_path, kl, *digits_, *splits_,
                             &loaded, &error))
      << error;
  EXPECT_EQ(loaded.model.layers[0].weights, r.model.layers[0].weights);

  // Bad checkpoints: clear errors.
  EXPECT_FALSE(LoadCheckpoint(dir.Path("missing.pt"), p, *digits_, *splits_,
                              &loaded, &error));
  EXPECT_NE(error.find("missing.pt: cannot read"), std::string::npos) << error;
  std::ofstream(dir.Path("junk.pt")) << "not a checkpoint";
  EXPECT_FALSE(LoadCheckpoint(dir.Path("junk.pt"), p, *digits_, *splits_,
                              &loaded, &error));
  EXPECT_NE(error.find("junk.pt"), std::string::npos) << error;
  TrainParams other = p;
  other.model.channels = {4, 12};
  EXPECT_FALSE(LoadCheckpoint(hooks.checkpoint_path, other, *digits_, *splits_,
                              &loaded, &error));
  EXPECT_NE(error.find("another architecture"), std::string::npos) << error;
  other.model.hidden = {};
  other.model.channels = {4, 8};
  EXPECT_FALSE(LoadCheckpoint(hooks.checkpoint_path, other, *digits_, *splits_,
                              &loaded, &error));
  EXPECT_NE(error.find("another architecture"), std::string::npos) << error;

  // A checkpoint that cannot be written stops training with an error.
  TrainHooks unwritable;
  unwritable.checkpoint_path = dir.Path("no/such/dir/best.pt");
  p.training.epochs = 1;
  EXPECT_FALSE(
      TrainFromParams(p, *digits_, *splits_, &r, &error, true, &unwritable));
  EXPECT_NE(error.find("checkpoint: cannot write"), std::string::npos) << error;
}

TEST_F(TrainerTest, DigitsCnnReachesNinetyFivePercent) {
  TrainParams p = Parse(R"({"model": {"kind": "cnn", "channels": [16, 32],
                             "hidden": []},
      "training": {"epochs": 12, "batch_size": 32, "lr": 0.003,
                   "label_smoothing": 0.05, "patience": 6},
      "calibration": {"samples": 128}})");
  TrainResult r;
  std::string error;
  ASSERT_TRUE(TrainFromParams(p, *digits_, *splits_, &r, &error, true))
      << error;
  EXPECT_GE(r.metrics.best_valid_accuracy, 0.95);
  EXPECT_GT(r.metrics.valid_samples, 100u);
  EXPECT_FALSE(r.metrics.epochs.empty());
  // The kept weights are the best epoch's: re-measure through PredictFloat.
  std::vector<size_t> valid;
  for (size_t i = 0; i < splits_->size(); ++i)
    if ((*splits_)[i] == data::Split::kValid) valid.push_back(i);
  std::vector<std::vector<float>> logits;
  ASSERT_TRUE(PredictFloat(*r.trained, *digits_, valid, &logits, &error));
  size_t correct = 0;
  for (size_t s = 0; s < valid.size(); ++s) {
    const float* row = &logits[0][s * 10];
    size_t arg = static_cast<size_t>(std::max_element(row, row + 10) - row);
    correct += static_cast<int32_t>(arg) == digits_->labels[valid[s]];
  }
  EXPECT_NEAR(static_cast<double>(correct) / valid.size(),
              r.metrics.best_valid_accuracy, 1e-9);

  std::string json = MetricsJson(r.metrics);
  EXPECT_NE(json.find("\"valid_accuracy\""), std::string::npos);
  std::string svg = TrainingCurveSvg(r.metrics);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_EQ(std::count(svg.begin(), svg.end(), '\n') > 10, true);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
}

TEST_F(TrainerTest, FocalLossBalancedWeightsAndMlpTrain) {
  TrainParams p = Parse(R"({"model": {"kind": "mlp", "hidden": [64]},
      "training": {"epochs": 10, "batch_size": 32, "loss": "focal",
                   "class_weights": "balanced",
                   "augmentation": {"brightness": 0.1}},
      "calibration": {"samples": 64}})");
  TrainResult r;
  std::string error;
  ASSERT_TRUE(TrainFromParams(p, *digits_, *splits_, &r, &error, true))
      << error;
  EXPECT_GE(r.metrics.best_valid_accuracy, 0.9);
}

// Feature vectors (here digits as 64 float features, shifted to have
// negative values) train with brightness/noise, but image-only
// augmentations are refused rather than silently zeroing the features.
TEST_F(TrainerTest, FeatureVectorsRejectImageAugmentation) {
  data::Dataset features = *digits_;
  features.item_shape = {64};
  features.feature_type = data::FeatureType::kFloat32;
  features.f32.assign(features.u8.begin(), features.u8.end());
  for (float& v : features.f32) v -= 8.0f;
  features.u8.clear();
  std::string error;
  TrainResult r;
  TrainParams shift = Parse(R"({"model": {"kind": "mlp"},
      "training": {"epochs": 1, "augmentation": {"max_shift_pixels": 1}}})");
  EXPECT_FALSE(TrainFromParams(shift, features, *splits_, &r, &error, true));
  EXPECT_NE(error.find("max_shift_pixels need image samples"),
            std::string::npos)
      << error;
  TrainParams flip = Parse(R"({"model": {"kind": "mlp"},
      "training": {"epochs": 1, "augmentation": {"hflip": true}}})");
  EXPECT_FALSE(TrainFromParams(flip, features, *splits_, &r, &error, true));
  TrainParams noise = Parse(R"({"model": {"kind": "mlp", "hidden": [32]},
      "training": {"epochs": 6, "batch_size": 32,
                   "augmentation": {"noise_std": 0.5, "brightness": 0.1}},
      "calibration": {"samples": 64}})");
  ASSERT_TRUE(TrainFromParams(noise, features, *splits_, &r, &error, true))
      << error;
  EXPECT_GE(r.metrics.best_valid_accuracy, 0.85);
  EXPECT_LT(r.model.input.min, 0.0f);  // negative features kept
}

// Not run by default (minutes): the Fashion-MNIST figure of the report.
// --gtest_also_run_disabled_tests --gtest_filter=*FashionMnist*
TEST(TrainerFashion, DISABLED_FashionMnistCnn) {
  data::Dataset d;
  std::string error;
  ASSERT_TRUE(data::OpenDataset("fashion-mnist", &d, &error)) << error;
  const char* env = std::getenv("KILN_FASHION_PARAMS");
  TrainParams p;
  ASSERT_TRUE(ParseTrainParams(
      env ? env : R"({"model": {"kind": "cnn", "channels": [16, 32],
                  "head": "flatten", "hidden": [128]},
                  "training": {"epochs": 7, "batch_size": 128,
                               "lr": 0.003, "label_smoothing": 0.05}})",
      &p, &error))
      << error;
  std::vector<data::Split> splits;
  ASSERT_TRUE(PrepareSplits(p, d, &splits, &error)) << error;
  TrainResult r;
  ASSERT_TRUE(TrainFromParams(p, d, splits, &r, &error)) << error;
  std::vector<size_t> test;
  for (size_t i = 0; i < splits.size(); ++i)
    if (splits[i] == data::Split::kTest) test.push_back(i);
  std::vector<std::vector<float>> logits;
  ASSERT_TRUE(PredictFloat(*r.trained, d, test, &logits, &error));
  size_t correct = 0;
  for (size_t s = 0; s < test.size(); ++s) {
    const float* row = &logits[0][s * 10];
    correct += (std::max_element(row, row + 10) - row) == d.labels[test[s]];
  }
  double acc = static_cast<double>(correct) / test.size();
  std::fprintf(stderr,
               "fashion-mnist: train %zu valid %zu test %zu, %.1f s, "
               "test accuracy %.4f\n",
               r.metrics.train_samples, r.metrics.valid_samples, test.size(),
               r.metrics.seconds, acc);
  EXPECT_GE(acc, 0.91);
}

}  // namespace
}  // namespace train
}  // namespace kiln
