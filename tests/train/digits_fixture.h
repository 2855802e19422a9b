// A test fixture base holding scikit-learn's digits dataset and its default
// splits, loaded once per test suite (the trainer, QAT and distillation
// tests all train on it).
#ifndef KILN_TESTS_TRAIN_DIGITS_FIXTURE_H_
#define KILN_TESTS_TRAIN_DIGITS_FIXTURE_H_

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "toolchain/data/sources.h"
#include "toolchain/train/trainer.h"

namespace kiln {
namespace train {

class DigitsFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    digits_ = new data::Dataset;
    ASSERT_TRUE(data::OpenDataset("digits", digits_, &error)) << error;
    splits_ = new std::vector<data::Split>;
    ASSERT_TRUE(PrepareSplits(TrainParams(), *digits_, splits_, &error))
        << error;
  }
  static void TearDownTestSuite() {
    delete digits_;
    delete splits_;
    digits_ = nullptr;
    splits_ = nullptr;
  }

  // inline: one definition shared by every test file that includes this.
  static inline data::Dataset* digits_ = nullptr;
  static inline std::vector<data::Split>* splits_ = nullptr;
};

}  // namespace train
}  // namespace kiln

#endif  // KILN_TESTS_TRAIN_DIGITS_FIXTURE_H_
