// Teacher -> student distillation on the digits dataset: a wide teacher
// trained first, a small student trained on its soft targets.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "tests/toolchain/scratch_dir.h"
#include "tests/train/digits_fixture.h"
#include "toolchain/data/sources.h"
#include "toolchain/train/trainer.h"

namespace kiln {
namespace train {
namespace {

const char kTeacher[] = R"({"dataset": "digits",
    "model": {"kind": "cnn", "channels": [16, 32], "hidden": [64]},
    "training": {"epochs": 4, "batch_size": 32, "lr": 0.003, "seed": 5},
    "calibration": {"samples": 32}})";

class DistillationTest : public DigitsFixture {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_.Path(name);
    std::ofstream(path) << text;
    return path;
  }
  // A small student; `teacher` and `alpha` go into its distillation block
  // (no block when teacher is empty).
  static TrainParams Student(const std::string& teacher, double alpha) {
    std::string text = R"({"dataset": "digits",
        "model": {"kind": "cnn", "channels": [4, 8], "hidden": []},
        "training": {"epochs": 4, "batch_size": 32, "lr": 0.01, "seed": 2},
        "calibration": {"samples": 32})";
    if (!teacher.empty()) {
      text += R"(, "distillation": {"teacher": ")" + teacher +
              R"(", "alpha": )" + std::to_string(alpha) +
              R"(, "temperature": 4.0})";
    }
    text += "}";
    TrainParams p;
    std::string error;
    EXPECT_TRUE(ParseTrainParams(text, &p, &error)) << error;
    return p;
  }
  static bool SameWeights(const FloatModel& a, const FloatModel& b) {
    if (a.layers.size() != b.layers.size()) return false;
    for (size_t l = 0; l < a.layers.size(); ++l) {
      if (a.layers[l].weights != b.layers[l].weights ||
          a.layers[l].bias != b.layers[l].bias)
        return false;
    }
    return true;
  }

  testing::ScratchDir dir_;
};

TEST_F(DistillationTest, WideTeacherIntoSmallStudentIsDeterministic) {
  const std::string teacher = Write("teacher.json", kTeacher);
  TrainParams p = Student(teacher, 0.7);
  TrainResult a, b;
  std::string error;
  ASSERT_TRUE(TrainFromParams(p, *digits_, *splits_, &a, &error, true))
      << error;
  EXPECT_GE(a.metrics.teacher_valid_accuracy, 0.9);
  EXPECT_GT(a.metrics.teacher_seconds, 0.0);
  EXPECT_GE(a.metrics.best_valid_accuracy, 0.8);
  ASSERT_NE(a.teacher, nullptr);
  EXPECT_NE(a.teacher_params_json.find("\"channels\": [\n      16,"),
            std::string::npos)
      << a.teacher_params_json;
  EXPECT_NE(a.params_json.find("teacher.json"), std::string::npos);

  ASSERT_TRUE(TrainFromParams(p, *digits_, *splits_, &b, &error, true))
      << error;
  EXPECT_TRUE(SameWeights(a.model, b.model));
  EXPECT_EQ(a.metrics.teacher_valid_accuracy, b.metrics.teacher_valid_accuracy);
  EXPECT_EQ(a.metrics.best_valid_accuracy, b.metrics.best_valid_accuracy);

  // The teacher trained inside is the one its params file trains alone.
  TrainParams tp;
  ASSERT_TRUE(ParseTrainParams(kTeacher, &tp, &error)) << error;
  TrainResult alone;
  ASSERT_TRUE(TrainFromParams(tp, *digits_, *splits_, &alone, &error, true))
      << error;
  EXPECT_EQ(alone.metrics.best_valid_accuracy,
            a.metrics.teacher_valid_accuracy);
  EXPECT_TRUE(std::isnan(alone.metrics.teacher_valid_accuracy));
  std::vector<size_t> idx = {0, 5, 10, 15, 20};
  std::vector<std::vector<float>> inside, outside;
  ASSERT_TRUE(PredictFloat(*a.teacher, *digits_, idx, &inside, &error));
  ASSERT_TRUE(PredictFloat(*alone.trained, *digits_, idx, &outside, &error));
  EXPECT_EQ(inside, outside);
}

TEST_F(DistillationTest, SoftLossChangesTheWeights) {
  const std::string teacher = Write("teacher.json", kTeacher);
  TrainResult plain, alpha0, alpha7;
  std::string error;
  ASSERT_TRUE(
      TrainFromParams(Student("", 0), *digits_, *splits_, &plain, &error, true))
      << error;
  ASSERT_TRUE(TrainFromParams(Student(teacher, 0.0), *digits_, *splits_,
                              &alpha0, &error, true))
      << error;
  ASSERT_TRUE(TrainFromParams(Student(teacher, 0.7), *digits_, *splits_,
                              &alpha7, &error, true))
      << error;
  // alpha = 0: the task loss alone, exactly the student without a teacher.
  EXPECT_TRUE(SameWeights(plain.model, alpha0.model));
  EXPECT_FALSE(std::isnan(alpha0.metrics.teacher_valid_accuracy));
  // alpha > 0: the teacher's soft targets move the weights.
  EXPECT_FALSE(SameWeights(alpha0.model, alpha7.model));
  // The reported train loss is the mixed one.
  EXPECT_NE(alpha0.metrics.epochs[0].train_loss,
            alpha7.metrics.epochs[0].train_loss);
}

TEST_F(DistillationTest, BadTeachersGiveClearErrors) {
  TrainResult r;
  std::string error;
  const std::string missing = dir_.Path("nope.json");
  EXPECT_FALSE(TrainFromParams(Student(missing, 0.5), *digits_, *splits_, &r,
                               &error, true));
  EXPECT_NE(error.find("distillation.teacher: " + missing + ": cannot open"),
            std::string::npos)
      << error;

  const std::string malformed = Write("bad.json", R"({"model": 3})");
  EXPECT_FALSE(TrainFromParams(Student(malformed, 0.5), *digits_, *splits_, &r,
                               &error, true));
  EXPECT_NE(error.find("distillation.teacher: " + malformed + ": model"),
            std::string::npos)
      << error;

  const std::string fashion =
      Write("fashion.json", R"({"dataset": "fashion-mnist"})");
  EXPECT_FALSE(TrainFromParams(Student(fashion, 0.5), *digits_, *splits_, &r,
                               &error, true));
  EXPECT_NE(error.find("the teacher trains on dataset 'fashion-mnist', the "
                       "student on 'digits'"),
            std::string::npos)
      << error;

  const std::string chained =
      Write("chained.json",
            R"({"dataset": "digits", "distillation": {"teacher": "x.json"}})");
  EXPECT_FALSE(TrainFromParams(Student(chained, 0.5), *digits_, *splits_, &r,
                               &error, true));
  EXPECT_NE(error.find("has a teacher of its own ('x.json')"),
            std::string::npos)
      << error;

  const std::string split =
      Write("split.json", R"({"dataset": "digits", "split": {"seed": 9}})");
  EXPECT_FALSE(TrainFromParams(Student(split, 0.5), *digits_, *splits_, &r,
                               &error, true));
  EXPECT_NE(error.find("split"), std::string::npos) << error;

  const std::string heads = Write("heads.json", R"({"dataset": "digits",
      "model": {"kind": "multitask", "channels": [8, 16],
                "heads": [{"name": "parity",
                           "map": {"even": ["0", "2", "4", "6", "8"],
                                   "odd": ["*"]}}]}})");
  EXPECT_FALSE(TrainFromParams(Student(heads, 0.5), *digits_, *splits_, &r,
                               &error, true));
  EXPECT_NE(error.find("heads"), std::string::npos) << error;
}

}  // namespace
}  // namespace train
}  // namespace kiln
