// The zoo's ResNet-18: the peers' topology and MAC count (../shared/peers
// counts 1,814,073,344), and activations that survive 18 layers of
// quantization (the logits are spread out, not constant or saturated).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <string.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kiln/kiln.h"
#include "toolchain/aligned_bytes.h"
#include "toolchain/model_def.h"
#include "toolchain/serialize.h"
#include "toolchain/zoo/reference_models.h"

namespace kiln {
namespace {

int64_t Product(const std::vector<int32_t>& dims, size_t first, size_t last) {
  int64_t p = 1;
  for (size_t i = first; i < last && i < dims.size(); ++i) p *= dims[i];
  return p;
}

// Conv2D: output positions x filter size; FullyConnected: filter size (the
// way tools/macs.py counts Conv and Gemm).
int64_t CountMacs(const ModelDef& def) {
  int64_t macs = 0;
  for (const OperatorDef& op : def.operators) {
    if (op.kind == OpKind::kConv2D) {
      const std::vector<int32_t>& filter = def.tensors[op.inputs[1]].shape;
      const std::vector<int32_t>& out = def.tensors[op.outputs[0]].shape;
      macs += Product(out, 0, 2) * Product(filter, 0, filter.size());
    } else if (op.kind == OpKind::kFullyConnected) {
      const std::vector<int32_t>& filter = def.tensors[op.inputs[1]].shape;
      macs += Product(filter, 0, filter.size());
    }
  }
  return macs;
}

class ResNet18Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const ModelBuilder b = zoo::ResNet18(18);
    std::string error;
    def_ = new ModelDef;
    ASSERT_TRUE(b.Finish(def_, &error)) << error;
    model_ = new AlignedBytes(SerializeModel(*def_));
  }
  static void TearDownTestSuite() {
    delete def_;
    delete model_;
  }
  static ModelDef* def_;
  static AlignedBytes* model_;
};

ModelDef* ResNet18Test::def_ = nullptr;
AlignedBytes* ResNet18Test::model_ = nullptr;

TEST_F(ResNet18Test, TopologyAndMacs) {
  EXPECT_EQ(CountMacs(*def_), 1814073344);
  std::map<OpKind, int> ops;
  for (const OperatorDef& op : def_->operators) ++ops[op.kind];
  EXPECT_EQ(ops[OpKind::kConv2D], 20);  // stem + 16 + 3 downsample
  EXPECT_EQ(ops[OpKind::kAdd], 8);
  EXPECT_EQ(ops[OpKind::kMaxPool2D], 1);
  EXPECT_EQ(ops[OpKind::kGlobalAveragePool], 1);
  EXPECT_EQ(ops[OpKind::kFullyConnected], 1);
  // Parameters as torchvision counts them (BatchNorm folded into biases:
  // 11,689,512 - 9,600 BN affine + 4,800 conv biases).
  int64_t params = 0;
  for (const OperatorDef& op : def_->operators) {
    if (op.kind != OpKind::kConv2D && op.kind != OpKind::kFullyConnected) {
      continue;
    }
    const std::vector<int32_t>& filter = def_->tensors[op.inputs[1]].shape;
    params += Product(filter, 0, filter.size()) + filter[0];
  }
  EXPECT_EQ(params, 11684712);
  ASSERT_EQ(def_->inputs.size(), 1u);
  EXPECT_EQ(def_->tensors[def_->inputs[0]].shape,
            (std::vector<int32_t>{224, 224, 3}));
  ASSERT_EQ(def_->outputs.size(), 1u);
  EXPECT_EQ(def_->tensors[def_->outputs[0]].shape,
            (std::vector<int32_t>{1000}));
}

TEST_F(ResNet18Test, LogitsAreSpreadOut) {
  size_t arena_bytes = 0;
  kiln_error err;
  ASSERT_EQ(
      kiln_arena_size(model_->data(), model_->size(), 1, &arena_bytes, &err),
      KILN_OK)
      << err.message;
  std::vector<uint8_t> arena(arena_bytes);
  kiln_context* ctx = nullptr;
  ASSERT_EQ(kiln_init(model_->data(), model_->size(), arena.data(),
                      arena.size(), &ctx, &err),
            KILN_OK)
      << err.message;
  // Two N(0,1) images at the input's scale 1/32.
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<int8_t> images(2 * 224 * 224 * 3);
  for (int8_t& v : images) {
    const float q = normal(rng) * 32.0f;
    v = static_cast<int8_t>(q > 127 ? 127 : q < -128 ? -128 : q);
  }
  std::vector<int8_t> logits(2 * 1000);
  const void* inputs[] = {images.data()};
  void* outputs[] = {logits.data()};
  ASSERT_EQ(kiln_invoke(ctx, 2, inputs, outputs, nullptr), KILN_OK);
  for (int item = 0; item < 2; ++item) {
    const int8_t* l = logits.data() + item * 1000;
    std::set<int> distinct(l, l + 1000);
    int saturated = 0;
    for (int i = 0; i < 1000; ++i) saturated += (l[i] == 127 || l[i] == -128);
    EXPECT_GE(distinct.size(), 40u) << "item " << item;
    EXPECT_LE(saturated, 10) << "item " << item;
  }
  EXPECT_NE(memcmp(logits.data(), logits.data() + 1000, 1000), 0)
      << "two different images, the same logits";
}

}  // namespace
}  // namespace kiln
