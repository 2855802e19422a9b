// Same calls, same bytes: builds are reproducible.
#include <gtest/gtest.h>

#include "tests/toolchain/toolchain_test_util.h"
#include "toolchain/zoo/reference_models.h"

namespace kiln {
namespace {

using testing::BuildOrFail;

TEST(Determinism, TwoBuildsAreByteIdentical) {
  EXPECT_EQ(BuildOrFail(zoo::AllOpsModel(9)), BuildOrFail(zoo::AllOpsModel(9)));
  EXPECT_EQ(BuildOrFail(zoo::BlockNet(9)), BuildOrFail(zoo::BlockNet(9)));
  EXPECT_EQ(BuildOrFail(zoo::Mlp160(9, true)),
            BuildOrFail(zoo::Mlp160(9, true)));
}

TEST(Determinism, FinishIsRepeatableAndCopiesAgree) {
  const ModelBuilder b = zoo::BlockNet(4);
  const ModelBuilder copy = b;
  const std::vector<uint8_t> first = BuildOrFail(b);
  EXPECT_EQ(BuildOrFail(b), first);
  EXPECT_EQ(BuildOrFail(copy), first);
}

TEST(Determinism, DifferentWeightsDifferentBytes) {
  EXPECT_NE(BuildOrFail(zoo::Mlp160(1, false)),
            BuildOrFail(zoo::Mlp160(2, false)));
}

TEST(Determinism, MetadataOrderDoesNotMatter) {
  auto build = [](bool swap) {
    ModelBuilder b = zoo::TrivialModel();
    if (swap) {
      b.SetMetric("b", 2);
      b.SetMetric("a", 1);
    } else {
      b.SetMetric("a", 1);
      b.SetMetric("b", 2);
    }
    return BuildOrFail(b);
  };
  EXPECT_EQ(build(false), build(true));
}

}  // namespace
}  // namespace kiln
