#include "toolchain/onnx/imported_graph.h"

#include <gtest/gtest.h>

#include <string>

namespace kiln {
namespace onnx_import {
namespace {

TEST(ImportedGraphTest, EveryKindHasADistinctName) {
  const ImportedOpKind kinds[] = {
      ImportedOpKind::kConv2D,        ImportedOpKind::kFullyConnected,
      ImportedOpKind::kAdd,           ImportedOpKind::kMaxPool2D,
      ImportedOpKind::kAveragePool2D, ImportedOpKind::kGlobalAveragePool,
      ImportedOpKind::kConcat,        ImportedOpKind::kReshape,
      ImportedOpKind::kSoftmax,       ImportedOpKind::kLogistic};
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); ++i) {
    EXPECT_STRNE(ImportedOpKindName(kinds[i]), "?");
    for (size_t j = 0; j < i; ++j)
      EXPECT_STRNE(ImportedOpKindName(kinds[i]), ImportedOpKindName(kinds[j]));
  }
  EXPECT_STREQ(ImportedOpKindName(static_cast<ImportedOpKind>(99)), "?");
}

}  // namespace
}  // namespace onnx_import
}  // namespace kiln
