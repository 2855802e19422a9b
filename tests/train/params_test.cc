#include "toolchain/train/params.h"

#include <gtest/gtest.h>

#include <string>

namespace kiln {
namespace train {
namespace {

TEST(TrainParams, EmptyObjectGivesDefaults) {
  TrainParams p;
  std::string error;
  ASSERT_TRUE(ParseTrainParams("{}", &p, &error)) << error;
  EXPECT_EQ(p.model.kind, ModelKind::kCnn);
  EXPECT_EQ(p.model.channels, (std::vector<int32_t>{16, 32}));
  EXPECT_EQ(p.model.hidden, (std::vector<int32_t>{128}));
  EXPECT_EQ(p.model.head, CnnHead::kFlatten);
  EXPECT_EQ(p.training.epochs, 8);
  EXPECT_EQ(p.training.batch_size, 128);
  EXPECT_DOUBLE_EQ(p.training.lr, 3e-3);
  EXPECT_EQ(p.training.loss, LossKind::kCrossEntropy);
  EXPECT_EQ(p.training.class_weights, ClassWeights::kNone);
  EXPECT_EQ(p.training.threads, 2);
  EXPECT_FALSE(p.training.augmentation.hflip);
  EXPECT_EQ(p.calibration.method, CalibrationMethod::kMinMax);
  EXPECT_EQ(p.calibration.samples, 512);
  EXPECT_DOUBLE_EQ(p.split.train, 0.70);
  EXPECT_TRUE(p.split.manifest.empty());
}

TEST(TrainParams, ReadsEveryKindOfValue) {
  const char* text = R"({
    "dataset": "digits",
    "split": {"train": 0.8, "valid": 0.1, "test": 0.1, "seed": 7,
              "manifest": "m.txt", "honour_source_splits": false},
    "model": {"kind": "multitask", "channels": [8, 16], "hidden": [],
              "heads": [{"name": "digit"},
                        {"name": "parity",
                         "map": {"even": ["0", "2", "4", "6", "8"],
                                 "odd": ["*"]}}]},
    "training": {"epochs": 3, "lr": 0.01, "loss": "focal",
                 "focal_gamma": 1.5, "class_weights": "balanced",
                 "patience": 2, "seed": 99,
                 "augmentation": {"hflip": true, "max_shift_pixels": 2,
                                  "brightness": 0.1, "noise_std": 0.05}},
    "calibration": {"method": "percentile", "percentile": 99.9,
                    "samples": 64}
  })";
  TrainParams p;
  std::string error;
  ASSERT_TRUE(ParseTrainParams(text, &p, &error)) << error;
  EXPECT_EQ(p.dataset, "digits");
  EXPECT_EQ(p.split.seed, 7u);
  EXPECT_FALSE(p.split.honour_source_splits);
  EXPECT_EQ(p.model.kind, ModelKind::kMultitask);
  EXPECT_TRUE(p.model.hidden.empty());
  ASSERT_EQ(p.model.heads.size(), 2u);
  EXPECT_EQ(p.model.heads[1].map.at("odd"), std::vector<std::string>{"*"});
  EXPECT_EQ(p.training.loss, LossKind::kFocal);
  EXPECT_EQ(p.training.class_weights, ClassWeights::kBalanced);
  EXPECT_EQ(p.training.seed, 99u);
  EXPECT_TRUE(p.training.augmentation.hflip);
  EXPECT_EQ(p.training.augmentation.max_shift_pixels, 2);
  EXPECT_EQ(p.calibration.method, CalibrationMethod::kPercentile);
  EXPECT_EQ(p.calibration.samples, 64);

  // The canonical dump reads back to the same canonical dump.
  std::string canonical = TrainParamsJson(p);
  TrainParams q;
  ASSERT_TRUE(ParseTrainParams(canonical, &q, &error)) << error;
  EXPECT_EQ(TrainParamsJson(q), canonical);
}

std::string ErrorOf(const std::string& text) {
  TrainParams p;
  std::string error;
  EXPECT_FALSE(ParseTrainParams(text, &p, &error)) << text;
  return error;
}

TEST(TrainParams, ErrorsNameTheKeyPath) {
  EXPECT_EQ(ErrorOf(R"({"bogus": 1})"), "bogus: unknown key");
  EXPECT_EQ(ErrorOf(R"({"training": {"augmentation": {"flip": true}}})"),
            "training.augmentation.flip: unknown key");
  EXPECT_EQ(ErrorOf(R"({"training": {"augmentation": {"hflip": 1}}})"),
            "training.augmentation.hflip: expected a boolean");
  EXPECT_EQ(ErrorOf(R"({"training": {"epochs": "8"}})"),
            "training.epochs: expected an integer");
  EXPECT_EQ(ErrorOf(R"({"training": {"epochs": 2.5}})"),
            "training.epochs: expected an integer");
  EXPECT_EQ(ErrorOf(R"({"training": {"epochs": 0}})"),
            "training.epochs: must be in [1, 100000]");
  EXPECT_EQ(ErrorOf(R"({"model": {"channels": [8, "x"]}})"),
            "model.channels[1]: expected an integer");
  EXPECT_NE(ErrorOf(R"({"model": {"kind": "rnn"}})")
                .find("model.kind: unknown value \"rnn\""),
            std::string::npos);
  EXPECT_EQ(ErrorOf(R"({"model": {"kind": "multitask",
                      "heads": [{"name": "a", "extra": 1}]}})"),
            "model.heads[0].extra: unknown key");
  EXPECT_EQ(ErrorOf(R"({"split": {"train": 0.5, "valid": 0.1, "test": 0.1}})"),
            "split: train + valid + test must be 1");
  EXPECT_EQ(ErrorOf(R"({"calibration": {"method": "minmax", "samples": -1}})"),
            "calibration.samples: must be in [1, 16777216]");
  EXPECT_EQ(ErrorOf("[1]"), "(top level): expected an object");
  EXPECT_NE(ErrorOf("{").find("invalid JSON"), std::string::npos);
}

}  // namespace
}  // namespace train
}  // namespace kiln
