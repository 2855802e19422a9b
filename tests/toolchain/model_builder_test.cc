// ModelBuilder: quantized values against hand-computed ones, shapes,
// clamps, and clear errors.
#include "toolchain/model_builder.h"

#include <gtest/gtest.h>
#include <math.h>

#include <algorithm>

#include "kernels/requant.h"
#include "tests/toolchain/toolchain_test_util.h"
#include "toolchain/quantization.h"

namespace kiln {
namespace {

using testing::FinishOrFail;
using testing::Int32Data;
using testing::Int8Data;
using testing::OpNamed;
using testing::TensorIndex;
using testing::TensorNamed;

RequantDef Expected(double real) {
  int32_t m = 0, s = 0;
  EXPECT_EQ(QuantizeMultiplier(real, &m, &s), MultiplierStatus::kOk);
  return RequantDef{{m}, {static_cast<int8_t>(s)}};
}

void ExpectRequant(const std::optional<RequantDef>& actual,
                   const RequantDef& expected) {
  ASSERT_TRUE(actual.has_value());
  EXPECT_EQ(actual->multiplier, expected.multiplier);
  EXPECT_EQ(actual->shift, expected.shift);
}

TEST(ModelBuilder, Conv2DQuantizesWeightsBiasAndMultipliers) {
  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {3, 3, 2}, 0.5f, 0);
  // Channel 0: max|w| = 127 * 2^-7, so s_w = 2^-7 exactly; -32.5 steps
  // round half away to -33. Channel 1 is all zero: scale 1.0.
  const TensorId y = b.Conv2D(x, {0.9921875f, -0.25390625f, 0.0f, 0.0f},
                              {2, 1, 1, 2}, {0.01f, -0.005859375f}, {},
                              {0.25f, -10}, Activation::kRelu6, "conv");
  b.AddOutput(y);
  const ModelDef def = FinishOrFail(b);

  const TensorDef& w = TensorNamed(def, "conv/weights");
  EXPECT_EQ(w.type, DType::kInt8);
  EXPECT_FALSE(w.batched);
  EXPECT_NE(w.buffer, 0u);
  EXPECT_EQ(w.shape, (std::vector<int32_t>{2, 1, 1, 2}));
  EXPECT_EQ(Int8Data(def, w), (std::vector<int8_t>{127, -33, 0, 0}));
  ASSERT_TRUE(w.quantization.has_value());
  EXPECT_EQ(w.quantization->scale, (std::vector<float>{0.0078125f, 1.0f}));
  EXPECT_EQ(w.quantization->zero_point, (std::vector<int32_t>{0, 0}));
  EXPECT_EQ(w.quantization->axis, 0);

  // Bias scales s_in * s_w = 2^-8 and 0.5: 0.01 / 2^-8 = 2.56 -> 3;
  // -0.005859375 / 0.5 = -0.0117 -> 0.
  const TensorDef& bias = TensorNamed(def, "conv/bias");
  EXPECT_EQ(bias.type, DType::kInt32);
  EXPECT_FALSE(bias.batched);
  EXPECT_EQ(bias.shape, (std::vector<int32_t>{2}));
  EXPECT_EQ(Int32Data(def, bias), (std::vector<int32_t>{3, 0}));
  EXPECT_EQ(bias.quantization->scale, (std::vector<float>{0.00390625f, 0.5f}));
  EXPECT_EQ(bias.quantization->zero_point, (std::vector<int32_t>{0, 0}));

  const OperatorDef& op = OpNamed(def, "conv");
  EXPECT_EQ(op.kind, OpKind::kConv2D);
  EXPECT_EQ(op.inputs,
            (std::vector<uint32_t>{0, TensorIndex(def, "conv/weights"),
                                   TensorIndex(def, "conv/bias")}));
  EXPECT_EQ(op.outputs, (std::vector<uint32_t>{TensorIndex(def, "conv")}));
  // 0.5 * 2^-7 / 0.25 = 2^-6 = 0.5 * 2^-5; 0.5 * 1 / 0.25 = 2 = 0.5 * 2^2.
  ASSERT_TRUE(op.conv2d.requant.has_value());
  EXPECT_EQ(op.conv2d.requant->multiplier,
            (std::vector<int32_t>{1 << 30, 1 << 30}));
  EXPECT_EQ(op.conv2d.requant->shift, (std::vector<int8_t>{-5, 2}));
  // RELU6: [zp, zp + 6 / 0.25].
  EXPECT_EQ(op.conv2d.activation, Activation::kRelu6);
  EXPECT_EQ(op.conv2d.act_min, -10);
  EXPECT_EQ(op.conv2d.act_max, 14);

  const TensorDef& out = TensorNamed(def, "conv");
  EXPECT_TRUE(out.batched);
  EXPECT_EQ(out.buffer, 0u);
  EXPECT_EQ(out.shape, (std::vector<int32_t>{3, 3, 2}));
  EXPECT_EQ(out.quantization->scale, (std::vector<float>{0.25f}));
  EXPECT_EQ(out.quantization->zero_point, (std::vector<int32_t>{-10}));
}

TEST(ModelBuilder, ConvMultipliersFollowTheNormativeFormula) {
  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {4, 4, 3}, 0.037f, 4);
  std::vector<float> w(5 * 2 * 2 * 3);
  for (size_t i = 0; i < w.size(); ++i) w[i] = sinf(float(i)) * 0.3f;
  b.AddOutput(
      b.Conv2D(x, w, {5, 2, 2, 3}, {}, {}, {0.11f, 7}, Activation::kRelu, "c"));
  const ModelDef def = FinishOrFail(b);
  const OperatorDef& op = OpNamed(def, "c");
  const TensorDef& wt = TensorNamed(def, "c/weights");
  ASSERT_EQ(op.conv2d.requant->multiplier.size(), 5u);
  for (int c = 0; c < 5; ++c) {
    const RequantDef e =
        Expected(ConvRealMultiplier(0.037f, wt.quantization->scale[c], 0.11f));
    EXPECT_EQ(op.conv2d.requant->multiplier[c], e.multiplier[0]) << c;
    EXPECT_EQ(op.conv2d.requant->shift[c], e.shift[0]) << c;
  }
  EXPECT_EQ(op.conv2d.act_min, 7);  // RELU: the zero point
  EXPECT_EQ(op.conv2d.act_max, 127);
  // An empty bias is all zeros.
  EXPECT_EQ(Int32Data(def, TensorNamed(def, "c/bias")),
            std::vector<int32_t>(5, 0));
}

TEST(ModelBuilder, ConvOutputShapes) {
  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {9, 9, 4}, 0.02f, 0);
  Conv2DOptions strided;
  strided.stride_h = strided.stride_w = 2;
  strided.pad_top = strided.pad_left = strided.pad_bottom = strided.pad_right =
      1;
  const TensorId a = b.Conv2D(x, std::vector<float>(8 * 9 * 4, 0.1f),
                              {8, 3, 3, 4}, {}, strided, {0.03f, 0});
  EXPECT_EQ(b.tensor(a)->shape, (std::vector<int32_t>{5, 5, 8}));

  Conv2DOptions grouped;
  grouped.groups = 2;
  grouped.dilation_h = grouped.dilation_w = 2;
  grouped.pad_top = grouped.pad_left = grouped.pad_bottom = grouped.pad_right =
      2;
  const TensorId g = b.Conv2D(a, std::vector<float>(6 * 9 * 4, 0.1f),
                              {6, 3, 3, 4}, {}, grouped, {0.03f, 0});
  EXPECT_EQ(b.tensor(g)->shape, (std::vector<int32_t>{5, 5, 6}));

  // Asymmetric: (10 + 0 + 1 - 2 - 1) / 3 + 1 = 3; (7 + 1 + 0 - 1 - 1) / 2 + 1
  // = 4.
  const TensorId y = b.AddInput("y", DType::kInt8, {10, 7, 1}, 0.02f, 0);
  Conv2DOptions asym;
  asym.stride_h = 3;
  asym.stride_w = 2;
  asym.pad_bottom = 1;
  asym.pad_left = 1;
  const TensorId c = b.Conv2D(y, std::vector<float>(6, 0.5f), {1, 3, 2, 1}, {},
                              asym, {0.03f, 0});
  EXPECT_EQ(b.tensor(c)->shape, (std::vector<int32_t>{3, 4, 1}));

  // Depthwise with a channel multiplier of 2: groups = in_c.
  const TensorId z = b.AddInput("z", DType::kInt8, {4, 4, 3}, 0.02f, 0);
  const TensorId d =
      b.DepthwiseConv2D(z, std::vector<float>(6 * 9, 0.2f), {6, 3, 3, 1}, {},
                        {}, {0.03f, 0}, Activation::kNone, "dw");
  EXPECT_EQ(b.tensor(d)->shape, (std::vector<int32_t>{2, 2, 6}));
  b.AddOutput(g);
  b.AddOutput(c);
  b.AddOutput(d);
  const ModelDef def = FinishOrFail(b);
  EXPECT_EQ(OpNamed(def, "dw").conv2d.groups, 3);
}

TEST(ModelBuilder, FullyConnectedFlattensItsInput) {
  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {2, 3, 4}, 0.1f, -3);
  std::vector<float> w(5 * 24);
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(int(i % 7) - 3) * 0.01f;
  const TensorId y = b.FullyConnected(x, w, {5, 24}, {0.1f, 0.2f, 0, 0, 0},
                                      {0.2f, 1}, Activation::kNone, "fc");
  EXPECT_EQ(b.tensor(y)->shape, (std::vector<int32_t>{5}));
  b.AddOutput(y);
  const ModelDef def = FinishOrFail(b);
  const TensorDef& wt = TensorNamed(def, "fc/weights");
  EXPECT_EQ(wt.shape, (std::vector<int32_t>{5, 24}));
  // Row 0 holds -0.03 .. 0.03: max 0.03, q = round(w / (0.03 / 127)).
  const std::vector<int8_t> q = Int8Data(def, wt);
  for (int i = 0; i < 24; ++i) {
    const double expected =
        round(double(w[i]) / double(wt.quantization->scale[0]));
    EXPECT_EQ(q[i], static_cast<int8_t>(expected)) << i;
  }
  float max_abs = 0.0f;
  for (int i = 0; i < 24; ++i) max_abs = std::max(max_abs, fabsf(w[i]));
  EXPECT_EQ(wt.quantization->scale[0], max_abs / 127.0f);
  const OperatorDef& op = OpNamed(def, "fc");
  EXPECT_EQ(op.fully_connected.requant->multiplier.size(), 5u);
  EXPECT_EQ(op.fully_connected.act_min, -128);
  EXPECT_EQ(op.fully_connected.act_max, 127);
  // Bias 0.1 at scale 0.1 * s_w[0]: round(1 / s_w[0]).
  EXPECT_EQ(
      Int32Data(def, TensorNamed(def, "fc/bias"))[0],
      static_cast<int32_t>(round(
          double(0.1f) / (double(0.1f) * double(wt.quantization->scale[0])))));
}

TEST(ModelBuilder, AddUsesTheAddMultipliers) {
  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {4, 4}, 0.1f, 3);
  const TensorId y = b.AddInput("y", DType::kInt8, {4, 4}, 0.3f, -2);
  const TensorId s = b.Add(x, y, {0.35f, 0}, Activation::kRelu, "add");
  b.AddOutput(s);
  const ModelDef def = FinishOrFail(b);
  const OperatorDef& op = OpNamed(def, "add");
  const AddRealMultipliers r =
      ComputeAddRealMultipliers(0.1f, 0.3f, 0.35f, kAddLeftShift);
  ExpectRequant(op.add.input1_requant, Expected(r.input1));
  ExpectRequant(op.add.input2_requant, Expected(r.input2));
  ExpectRequant(op.add.output_requant, Expected(r.output));
  EXPECT_EQ(op.add.left_shift, kAddLeftShift);
  EXPECT_EQ(op.add.act_min, 0);
  EXPECT_EQ(op.add.act_max, 127);
  EXPECT_EQ(TensorNamed(def, "add").shape, (std::vector<int32_t>{4, 4}));
}

TEST(ModelBuilder, PoolsKeepQuantizationAndInferShapes) {
  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {5, 5, 8}, 0.04f, 5);
  Pool2DOptions same;
  same.filter_h = same.filter_w = 3;
  same.pad_top = same.pad_left = same.pad_bottom = same.pad_right = 1;
  const TensorId a = b.AveragePool2D(x, same, "avg");
  Pool2DOptions halve;
  halve.filter_h = halve.filter_w = 2;
  halve.stride_h = halve.stride_w = 2;
  const TensorId m = b.MaxPool2D(a, halve, "max");
  b.AddOutput(m);
  const ModelDef def = FinishOrFail(b);
  EXPECT_EQ(TensorNamed(def, "avg").shape, (std::vector<int32_t>{5, 5, 8}));
  EXPECT_EQ(TensorNamed(def, "max").shape, (std::vector<int32_t>{2, 2, 8}));
  for (const char* name : {"avg", "max"}) {
    EXPECT_EQ(TensorNamed(def, name).quantization->scale[0], 0.04f);
    EXPECT_EQ(TensorNamed(def, name).quantization->zero_point[0], 5);
    EXPECT_EQ(OpNamed(def, name).pool2d.act_min, -128);
    EXPECT_EQ(OpNamed(def, name).pool2d.act_max, 127);
  }
  EXPECT_EQ(OpNamed(def, "avg").kind, OpKind::kAveragePool2D);
  EXPECT_EQ(OpNamed(def, "max").kind, OpKind::kMaxPool2D);
  EXPECT_EQ(OpNamed(def, "avg").pool2d.pad_bottom, 1);
  EXPECT_EQ(OpNamed(def, "max").pool2d.stride_w, 2);
}

TEST(ModelBuilder, GlobalAveragePoolFoldsTheMean) {
  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {4, 6, 3}, 0.05f, 0);
  b.AddOutput(b.GlobalAveragePool(x, {0.02f, -1}, "gap"));
  const ModelDef def = FinishOrFail(b);
  EXPECT_EQ(TensorNamed(def, "gap").shape, (std::vector<int32_t>{3}));
  ExpectRequant(OpNamed(def, "gap").global_average_pool.requant,
                Expected(GlobalAveragePoolRealMultiplier(0.05f, 0.02f, 4, 6)));
}

TEST(ModelBuilder, ConcatCopiesOrRescales) {
  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {2, 2, 3}, 0.05f, -1);
  const TensorId y = b.AddInput("y", DType::kInt8, {2, 2, 5}, 0.02f, 7);
  const TensorId c = b.Concat({x, y}, -1, {0.05f, -1}, "cat");
  EXPECT_EQ(b.tensor(c)->shape, (std::vector<int32_t>{2, 2, 8}));
  const TensorId z = b.AddInput("z", DType::kInt8, {1, 2, 3}, 0.05f, -1);
  const TensorId d = b.Concat({x, z}, 0, {0.05f, -1}, "cat0");
  EXPECT_EQ(b.tensor(d)->shape, (std::vector<int32_t>{3, 2, 3}));
  b.AddOutput(c);
  b.AddOutput(d);
  const ModelDef def = FinishOrFail(b);
  const OperatorDef& op = OpNamed(def, "cat");
  EXPECT_EQ(op.concat.axis, 2);  // -1 normalized
  ASSERT_EQ(op.concat.requant.size(), 2u);
  EXPECT_EQ(op.concat.requant[0].multiplier, (std::vector<int32_t>{0}));
  EXPECT_EQ(op.concat.requant[0].shift, (std::vector<int8_t>{0}));
  const RequantDef e = Expected(RescaleRealMultiplier(0.02f, 0.05f));
  EXPECT_EQ(op.concat.requant[1].multiplier, e.multiplier);
  EXPECT_EQ(op.concat.requant[1].shift, e.shift);
  EXPECT_EQ(OpNamed(def, "cat0").concat.axis, 0);
}

TEST(ModelBuilder, ReshapeInfersOneDimension) {
  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {2, 3, 4}, 0.05f, 2);
  const TensorId f = b.Reshape(x, {-1}, "flat");
  const TensorId g = b.Reshape(x, {4, -1}, "two");
  EXPECT_EQ(b.tensor(f)->shape, (std::vector<int32_t>{24}));
  EXPECT_EQ(b.tensor(g)->shape, (std::vector<int32_t>{4, 6}));
  EXPECT_EQ(b.tensor(g)->quantization->zero_point[0], 2);
  b.AddOutput(f);
  b.AddOutput(g);
  EXPECT_TRUE(b.ok()) << b.error();
  ModelBuilder bad = b;
  bad.Reshape(x, {5, -1});
  EXPECT_FALSE(bad.ok());
}

TEST(ModelBuilder, SoftmaxAndLogisticTables) {
  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {10}, 0.1f, 4);
  b.AddOutput(b.Softmax(x, 2.0f, "sm"));
  b.AddOutput(b.Logistic(x, "sig"));
  const ModelDef def = FinishOrFail(b);
  for (const char* name : {"sm", "sig"}) {
    const TensorDef& t = TensorNamed(def, name);
    EXPECT_EQ(t.quantization->scale[0], 1.0f / 256.0f);
    EXPECT_EQ(t.quantization->zero_point[0], -128);
    EXPECT_EQ(t.shape, (std::vector<int32_t>{10}));
  }
  const OperatorDef& sm = OpNamed(def, "sm");
  EXPECT_EQ(sm.softmax.beta, 2.0f);
  ASSERT_EQ(sm.inputs.size(), 2u);
  const TensorDef& table = def.tensors[sm.inputs[1]];
  EXPECT_EQ(table.type, DType::kInt32);
  EXPECT_EQ(table.shape, (std::vector<int32_t>{256}));
  EXPECT_FALSE(table.batched);
  EXPECT_EQ(Int32Data(def, table), SoftmaxExpTable(0.1f, 2.0f));

  const OperatorDef& sig = OpNamed(def, "sig");
  ASSERT_EQ(sig.inputs.size(), 2u);
  const TensorDef& lut = def.tensors[sig.inputs[1]];
  EXPECT_EQ(lut.type, DType::kInt8);
  EXPECT_EQ(lut.shape, (std::vector<int32_t>{256}));
  EXPECT_EQ(Int8Data(def, lut), LogisticTable(0.1f, 4));
  EXPECT_EQ(lut.quantization->scale[0], 1.0f / 256.0f);
  EXPECT_EQ(lut.quantization->zero_point[0], -128);
}

TEST(ModelBuilder, QuantizeAndDequantize) {
  ModelBuilder b;
  const TensorId f = b.AddInput("f", DType::kFloat32, {6});
  const TensorId u = b.AddInput("u", DType::kUInt8, {6}, 1.0f / 255.0f, 0);
  const TensorId qf = b.Quantize(f, {0.02f, 3}, "qf");
  const TensorId qu = b.Quantize(u, {1.0f / 255.0f, -128}, "qu");
  b.AddOutput(b.Dequantize(qf, "df"));
  b.AddOutput(qu);
  const ModelDef def = FinishOrFail(b);
  EXPECT_FALSE(TensorNamed(def, "f").quantization.has_value());
  EXPECT_FALSE(OpNamed(def, "qf").quantize.requant.has_value());
  ExpectRequant(OpNamed(def, "qu").quantize.requant,
                Expected(RescaleRealMultiplier(1.0f / 255.0f, 1.0f / 255.0f)));
  EXPECT_EQ(TensorNamed(def, "df").type, DType::kFloat32);
  EXPECT_FALSE(TensorNamed(def, "df").quantization.has_value());
  EXPECT_EQ(TensorNamed(def, "qu").quantization->zero_point[0], -128);
}

TEST(ModelBuilder, HeadsThresholdsAndTables) {
  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {4}, 0.1f, 0);
  const TensorId p = b.Reshape(x, {4}, "p");
  const TensorId m = b.Reshape(x, {4}, "m");
  b.AddOutput(p);
  b.AddOutput(m);
  b.AddHead("prob", p, {"a", "b", "c", "d"},
            {2, ConfidenceKind::kTopKProb, 0.6f});
  b.AddHead("margin", m, {}, {1, ConfidenceKind::kMargin, 0.3f});
  const ModelDef def = FinishOrFail(b);
  ASSERT_EQ(def.heads.size(), 2u);
  const HeadDef& hp = def.heads[0];
  EXPECT_EQ(hp.name, "prob");
  EXPECT_EQ(hp.tensor, TensorIndex(def, "p"));
  EXPECT_EQ(hp.labels, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(hp.policy.top_k, 2);
  EXPECT_EQ(hp.policy.confidence, ConfidenceKind::kTopKProb);
  EXPECT_EQ(hp.policy.threshold, 39322);  // lround(0.6 * 65536)
  EXPECT_EQ(hp.policy.threshold_real, 0.6f);
  ASSERT_GE(hp.policy.exp_table, 0);
  EXPECT_EQ(Int32Data(def, def.tensors[hp.policy.exp_table]),
            SoftmaxExpTable(0.1f, 1.0f));
  const HeadDef& hm = def.heads[1];
  // 0.3f / 0.1f is 3.0000000745 in double: still 3 steps.
  EXPECT_EQ(hm.policy.threshold, 3);
  EXPECT_EQ(hm.policy.confidence, ConfidenceKind::kMargin);
  EXPECT_GE(hm.policy.exp_table, 0);  // written for MARGIN too
}

TEST(ModelBuilder, MetadataAndPreprocess) {
  ModelBuilder b;
  b.SetModelName("demo");
  b.SetModelVersion("1.2.3-rc.1+build.5");
  b.SetTrainingDataHash("sha256:abc");
  b.SetToolchainCommit("deadbeef");
  b.SetCreatedBy("test");
  b.SetMetric("top1", 0.5);
  b.SetMetric("loss", 1.25);
  b.SetMetric("top1", 0.75);  // replaces
  b.SetProperty("lr", "0.01");
  PreprocessDef pre;
  pre.layout = Layout::kNHWC;
  pre.channel_order = ChannelOrder::kGray;  // a 2x2 gray image: 4 inputs
  pre.height = pre.width = 2;
  pre.mean = {0.5f};
  b.SetPreprocess(pre);
  const TensorId x = b.AddInput("x", DType::kInt8, {4}, 0.1f, 0);
  b.AddOutput(b.Reshape(x, {4}));
  const ModelDef def = FinishOrFail(b);
  ASSERT_TRUE(def.metadata.has_value());
  EXPECT_EQ(def.metadata->model_name, "demo");
  EXPECT_EQ(def.metadata->model_version, "1.2.3-rc.1+build.5");
  EXPECT_EQ(def.metadata->training_data_hash, "sha256:abc");
  EXPECT_EQ(def.metadata->toolchain_version, "0.1.0");
  EXPECT_EQ(def.metadata->toolchain_commit, "deadbeef");
  EXPECT_EQ(def.metadata->created_by, "test");
  ASSERT_EQ(def.metadata->metrics.size(), 2u);
  EXPECT_EQ(def.metadata->metrics[0].key, "loss");  // sorted by key
  EXPECT_EQ(def.metadata->metrics[1].key, "top1");
  EXPECT_EQ(def.metadata->metrics[1].value, 0.75);
  ASSERT_EQ(def.metadata->properties.size(), 1u);
  EXPECT_EQ(def.metadata->properties[0].value, "0.01");
  ASSERT_TRUE(def.preprocess.has_value());
  EXPECT_EQ(def.preprocess->layout, Layout::kNHWC);
  EXPECT_EQ(def.schema_version, 1u);
  EXPECT_EQ(def.min_runtime_version, 1u);
  ASSERT_FALSE(def.buffers.empty());
  EXPECT_TRUE(def.buffers[0].data.empty());  // the sentinel
}

TEST(ModelBuilder, PlanCoversEveryActivation) {
  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {100}, 0.1f, 0);
  TensorId h = x;
  for (int i = 0; i < 5; ++i) {
    h = b.FullyConnected(h, std::vector<float>(100 * 100, 0.01f), {100, 100},
                         {}, {0.1f, 0});
  }
  b.AddOutput(h);
  const ModelDef def = FinishOrFail(b);
  EXPECT_EQ(def.plan.alignment, 64u);
  EXPECT_EQ(def.plan.tensor_offsets.size(), def.tensors.size());
  // Six 100-byte activations in a chain fit in two 128-byte slots.
  EXPECT_EQ(def.plan.bytes_per_item, 256u);
}

TEST(ModelBuilder, TooLargeMultiplierIsAClearError) {
  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {1, 1, 1}, 1.0f, 0);
  // 1 * 1 / 1e-10 = 1e10 > 2^30.
  const TensorId y = b.Conv2D(x, {127.0f}, {1, 1, 1, 1}, {}, {}, {1e-10f, 0},
                              Activation::kNone, "conv");
  EXPECT_EQ(y, kNoTensor);
  EXPECT_FALSE(b.ok());
  EXPECT_NE(b.error().find("conv"), std::string::npos) << b.error();
  EXPECT_NE(b.error().find("too large"), std::string::npos) << b.error();
  // Sticky: later calls do nothing and Finish reports the first error.
  const std::string first = b.error();
  EXPECT_EQ(b.Reshape(x, {1}), kNoTensor);
  b.AddOutput(x);
  ModelDef def;
  std::string error;
  EXPECT_FALSE(b.Finish(&def, &error));
  EXPECT_EQ(error, first);
  std::vector<uint8_t> bytes;
  EXPECT_FALSE(b.Build(&bytes, &error));
}

// Each case makes one invalid call on a builder with a valid int8 input "x"
// [4, 4, 2] (scale 0.1, zp 0) and a float input "f" [8].
struct BadCall {
  const char* name;
  const char* message_part;
  void (*call)(ModelBuilder& b, TensorId x, TensorId f);
};

class ModelBuilderErrors : public ::testing::TestWithParam<BadCall> {};

TEST_P(ModelBuilderErrors, AreReportedNotThrown) {
  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {4, 4, 2}, 0.1f, 0);
  const TensorId f = b.AddInput("f", DType::kFloat32, {8});
  ASSERT_TRUE(b.ok());
  GetParam().call(b, x, f);
  EXPECT_FALSE(b.ok());
  EXPECT_NE(b.error().find(GetParam().message_part), std::string::npos)
      << b.error();
}

const BadCall kBadCalls[] = {
    {"unknown_tensor", "not a tensor",
     [](ModelBuilder& b, TensorId, TensorId) { b.Reshape(42, {1}); }},
    {"float_into_conv", "expected INT8",
     [](ModelBuilder& b, TensorId, TensorId f) {
       b.FullyConnected(f, std::vector<float>(8, 1.0f), {1, 8}, {}, {0.1f, 0});
     }},
    {"weight_count", "weights for a weight shape",
     [](ModelBuilder& b, TensorId x, TensorId) {
       b.Conv2D(x, {1.0f}, {1, 1, 1, 2}, {}, {}, {0.1f, 0});
     }},
    {"bias_count", "bias has",
     [](ModelBuilder& b, TensorId x, TensorId) {
       b.Conv2D(x, {1.0f, 1.0f}, {1, 1, 1, 2}, {1.0f, 2.0f}, {}, {0.1f, 0});
     }},
    {"groups", "groups",
     [](ModelBuilder& b, TensorId x, TensorId) {
       Conv2DOptions o;
       o.groups = 3;
       b.Conv2D(x, {1.0f, 1.0f}, {1, 1, 1, 2}, {}, o, {0.1f, 0});
     }},
    {"kernel_too_big", "does not fit",
     [](ModelBuilder& b, TensorId x, TensorId) {
       b.Conv2D(x, std::vector<float>(50, 1.0f), {1, 5, 5, 2}, {}, {},
                {0.1f, 0});
     }},
    {"kernel_too_big_strided", "does not fit",
     [](ModelBuilder& b, TensorId x, TensorId) {
       // (4 - 4 - 1) / 2 truncates to 0: the window still must not fit.
       Conv2DOptions o;
       o.stride_h = o.stride_w = 2;
       b.Conv2D(x, std::vector<float>(50, 1.0f), {1, 5, 5, 2}, {}, o,
                {0.1f, 0});
     }},
    {"zero_output_scale", "scale",
     [](ModelBuilder& b, TensorId x, TensorId) {
       b.GlobalAveragePool(x, {0.0f, 0});
     }},
    {"zero_point_range", "zero point",
     [](ModelBuilder& b, TensorId x, TensorId) {
       b.GlobalAveragePool(x, {0.1f, 128});
     }},
    {"nan_weight", "not finite",
     [](ModelBuilder& b, TensorId x, TensorId) {
       b.Conv2D(x, {NAN, 1.0f}, {1, 1, 1, 2}, {}, {}, {0.1f, 0});
     }},
    {"pool_padding", "padding",
     [](ModelBuilder& b, TensorId x, TensorId) {
       Pool2DOptions o;
       o.filter_h = o.filter_w = 2;
       o.pad_top = 2;
       b.MaxPool2D(x, o);
     }},
    {"add_shapes", "same shape",
     [](ModelBuilder& b, TensorId x, TensorId) {
       b.Add(x, b.Reshape(x, {32}), {0.1f, 0});
     }},
    {"concat_shapes", "differ only along the axis",
     [](ModelBuilder& b, TensorId x, TensorId) {
       b.Concat({x, b.Reshape(x, {2, 8, 2})}, 2, {0.1f, 0});
     }},
    {"concat_underflow", "too small",
     [](ModelBuilder& b, TensorId, TensorId) {
       const TensorId t = b.AddInput("t", DType::kInt8, {2}, 1e-30f, 0);
       const TensorId u = b.AddInput("u", DType::kInt8, {2}, 1.0f, 0);
       b.Concat({t, u}, 0, {1.0f, 0});
     }},
    {"reshape_count", "as many elements",
     [](ModelBuilder& b, TensorId x, TensorId) { b.Reshape(x, {5}); }},
    {"softmax_beta", "beta",
     [](ModelBuilder& b, TensorId x, TensorId) { b.Softmax(x, -1.0f); }},
    {"dequantize_float", "expected INT8",
     [](ModelBuilder& b, TensorId, TensorId f) { b.Dequantize(f); }},
    {"int32_input", "graph inputs are",
     [](ModelBuilder& b, TensorId, TensorId) {
       b.AddInput("i", DType::kInt32, {2});
     }},
    {"bad_input_shape", "dimension",
     [](ModelBuilder& b, TensorId, TensorId) {
       b.AddInput("i", DType::kInt8, {2, 0}, 0.1f, 0);
     }},
    {"duplicate_name", "already used",
     [](ModelBuilder& b, TensorId, TensorId) {
       b.AddInput("x", DType::kInt8, {2}, 0.1f, 0);
     }},
    {"head_not_output", "graph output",
     [](ModelBuilder& b, TensorId x, TensorId) {
       b.AddHead("h", b.Reshape(x, {32}), {}, {});
     }},
    {"head_labels", "labels for",
     [](ModelBuilder& b, TensorId x, TensorId) {
       const TensorId l = b.Reshape(x, {32});
       b.AddOutput(l);
       b.AddHead("h", l, {"a"}, {});
     }},
    {"head_top_k", "top_k",
     [](ModelBuilder& b, TensorId x, TensorId) {
       const TensorId l = b.Reshape(x, {32});
       b.AddOutput(l);
       b.AddHead("h", l, {}, {17, ConfidenceKind::kTop1Prob, 0.5f});
     }},
    {"head_probability", "[0, 1]",
     [](ModelBuilder& b, TensorId x, TensorId) {
       const TensorId l = b.Reshape(x, {32});
       b.AddOutput(l);
       b.AddHead("h", l, {}, {1, ConfidenceKind::kTop1Prob, 1.5f});
     }},
    {"head_margin", "MARGIN threshold",
     [](ModelBuilder& b, TensorId x, TensorId) {
       const TensorId l = b.Reshape(x, {32});
       b.AddOutput(l);
       b.AddHead("h", l, {}, {1, ConfidenceKind::kMargin, 100.0f});
     }},
    {"semver", "semantic version",
     [](ModelBuilder& b, TensorId, TensorId) { b.SetModelVersion("1.0"); }},
    {"output_twice", "already a graph output",
     [](ModelBuilder& b, TensorId x, TensorId) {
       b.AddOutput(x);
       b.AddOutput(x);
     }},
};

INSTANTIATE_TEST_SUITE_P(Calls, ModelBuilderErrors,
                         ::testing::ValuesIn(kBadCalls),
                         [](const ::testing::TestParamInfo<BadCall>& info) {
                           return std::string(info.param.name);
                         });

TEST(ModelBuilder, SemanticVersions) {
  for (const char* good :
       {"0.0.0", "1.2.3", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1",
        "1.0.0-0.3.7", "1.0.0-x-y.z", "1.0.0+20130313144700",
        "1.0.0-beta+exp.sha.5114f85", "1.0.0+021"}) {
    ModelBuilder b;
    b.SetModelVersion(good);
    EXPECT_TRUE(b.ok()) << good << ": " << b.error();
  }
  for (const char* bad :
       {"", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.3-", "1.2.3+",
        "1.2.3-01", "1.2.3-a..b", "1.2.3-a_b", "v1.2.3", "1.2.x", " 1.2.3"}) {
    ModelBuilder b;
    b.SetModelVersion(bad);
    EXPECT_FALSE(b.ok()) << "'" << bad << "' accepted";
  }
}

TEST(ModelBuilder, FinishNeedsInputsAndOutputs) {
  ModelBuilder b;
  b.AddInput("x", DType::kInt8, {4}, 0.1f, 0);
  ModelDef def;
  std::string error;
  EXPECT_FALSE(b.Finish(&def, &error));
  EXPECT_NE(error.find("output"), std::string::npos) << error;
}

}  // namespace
}  // namespace kiln
