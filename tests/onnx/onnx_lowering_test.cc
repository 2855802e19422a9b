// The ONNX side of `kiln import`: loading, validation and lowering to
// ImportedGraph, on small models built with the protobuf API
// (onnx_test_graphs.h) and on a model exported by PyTorch.
#include "toolchain/onnx/onnx_lowering.h"

#include <gtest/gtest.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/onnx/onnx_models.h"
#include "tests/onnx/onnx_test_graphs.h"
#include "toolchain/onnx/graph_interpreter.h"
#include "toolchain/onnx/onnx_file.h"
#include "toolchain/onnx/onnx_import.h"

namespace kiln {
namespace onnx_import {
namespace {

using onnx::TensorProto;
using testing::AttrFloat;
using testing::AttrFloats;
using testing::AttrInt;
using testing::AttrInts;
using testing::AttrString;
using testing::Ramp;
using testing::TestModel;

bool Import(const TestModel& m, ImportedGraph* g, std::string* error) {
  const std::string bytes = m.Bytes();
  return ImportOnnxBytes(reinterpret_cast<const uint8_t*>(bytes.data()),
                         bytes.size(), g, error);
}

// Every successful import must also pass the checks the interpreter and
// the compiler rely on.
ImportedGraph MustImport(const TestModel& m) {
  ImportedGraph g;
  std::string error;
  EXPECT_TRUE(Import(m, &g, &error)) << error;
  if (error.empty()) {
    EXPECT_TRUE(ValidateImportedGraph(g, &error)) << error;
  }
  return g;
}

std::string ImportError(const TestModel& m) {
  ImportedGraph g;
  std::string error;
  EXPECT_FALSE(Import(m, &g, &error));
  EXPECT_FALSE(error.empty());
  return error;
}

#define EXPECT_IMPORT_ERROR(model, text)                       \
  do {                                                         \
    const std::string error_ = ImportError(model);             \
    EXPECT_NE(error_.find(text), std::string::npos) << error_; \
  } while (0)

std::vector<ImportedOpKind> Kinds(const ImportedGraph& g) {
  std::vector<ImportedOpKind> k;
  for (const auto& op : g.ops) k.push_back(op.kind);
  return k;
}

using K = ImportedOpKind;

// --- convolutions, BatchNormalization folding, fusion ---

TEST(OnnxLoweringTest, SmallCnnLowersWithFoldedBnAndFusedRelu) {
  const ImportedGraph g = MustImport(testing::SmallCnn());
  ASSERT_EQ(Kinds(g),
            (std::vector<K>{K::kConv2D, K::kMaxPool2D, K::kGlobalAveragePool,
                            K::kFullyConnected, K::kSoftmax}));
  EXPECT_TRUE(g.input_was_nchw);
  EXPECT_EQ(g.values[g.input].shape, (std::vector<int32_t>{4, 4, 2}));
  EXPECT_EQ(g.input_type, DType::kFloat32);
  EXPECT_EQ(g.opset, 13);
  EXPECT_FALSE(g.quantized);

  const ImportedOp& conv = g.ops[0];
  EXPECT_EQ(conv.name, "conv1");
  EXPECT_EQ(conv.activation, Activation::kRelu);
  EXPECT_EQ(conv.weight_shape, (std::vector<int32_t>{3, 3, 3, 2}));
  EXPECT_EQ(conv.conv.pad_top, 1);
  EXPECT_EQ(conv.conv.pad_right, 1);
  // OIHW -> OHWI with BatchNormalization's per-channel scale folded in.
  const std::vector<float> w = Ramp(54);
  const float gamma[] = {1.0f, 0.5f, 2.0f}, beta[] = {0.0f, 0.1f, -0.1f};
  const float mean[] = {0.2f, -0.1f, 0.0f}, var[] = {1.0f, 4.0f, 0.25f};
  const float b[] = {0.1f, -0.2f, 0.3f};
  for (int o = 0; o < 3; ++o) {
    const float s = gamma[o] / sqrtf(var[o] + 1e-5f);
    for (int i = 0; i < 2; ++i)
      for (int y = 0; y < 3; ++y)
        for (int x = 0; x < 3; ++x)
          EXPECT_NEAR(conv.weights[((o * 3 + y) * 3 + x) * 2 + i],
                      w[((o * 2 + i) * 3 + y) * 3 + x] * s, 1e-6f);
    EXPECT_NEAR(conv.bias[o], (b[o] - mean[o]) * s + beta[o], 1e-6f);
  }
  EXPECT_EQ(g.values[conv.output].shape, (std::vector<int32_t>{4, 4, 3}));

  EXPECT_EQ(g.ops[1].pool.filter_h, 2);
  EXPECT_EQ(g.ops[1].pool.stride_w, 2);
  EXPECT_EQ(g.values[g.ops[2].output].shape, (std::vector<int32_t>{3}));
  // After GlobalAveragePool the flatten is free and no permutation applies.
  const ImportedOp& fc = g.ops[3];
  EXPECT_EQ(fc.inputs[0], g.ops[2].output);
  EXPECT_EQ(fc.weights, Ramp(12, 0.2f, 3));
  EXPECT_EQ(fc.bias, (std::vector<float>{0.5f, 0.0f, -0.5f, 1.0f}));
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.outputs[0].name, "y");
  EXPECT_EQ(g.outputs[0].value, g.ops[4].output);
  EXPECT_EQ(g.outputs[0].logits, fc.output);
}

TEST(OnnxLoweringTest, Opset7Model) {
  TestModel m(7);
  m.Input("x", {1, 1, 2, 2});
  m.Floats("w", {2, 1, 1, 1}, {1.0f, -1.0f});
  m.Floats("b", {2}, {0.0f, 0.5f});
  m.Floats("gamma", {2}, {1.0f, 1.0f});
  m.Floats("beta", {2}, {0.0f, 0.0f});
  m.Floats("mean", {2}, {0.0f, 0.0f});
  m.Floats("var", {2}, {1.0f, 1.0f});
  m.Floats("fc", {3, 8}, Ramp(24));
  m.Floats("c", {3}, {1.0f, 2.0f, 3.0f});
  m.Node("Conv", {"x", "w", "b"}, {"c1"}, "conv");
  AttrInt(m.Node("BatchNormalization", {"c1", "gamma", "beta", "mean", "var"},
                 {"bn"}, "bn"),
          "spatial", 1);
  m.Node("Relu", {"bn"}, {"r"}, "relu");
  AttrFloat(m.Node("Dropout", {"r"}, {"d"}, "drop"), "ratio", 0.5f);
  m.Node("Flatten", {"d"}, {"f"}, "flatten");
  AttrInt(m.Node("Gemm", {"f", "fc", "c"}, {"y"}, "gemm"), "transB", 1);
  m.Output("y");
  const ImportedGraph g = MustImport(m);
  ASSERT_EQ(Kinds(g),
            (std::vector<K>{K::kConv2D, K::kReshape, K::kFullyConnected}));
  EXPECT_EQ(g.ops[0].activation, Activation::kRelu);
  EXPECT_EQ(g.opset, 7);
}

TEST(OnnxLoweringTest, FlattenBeforeGemmPermutesColumnsToHwc) {
  const ImportedGraph g = MustImport(testing::FlattenFc());
  ASSERT_EQ(Kinds(g),
            (std::vector<K>{K::kConv2D, K::kReshape, K::kFullyConnected}));
  EXPECT_EQ(g.ops[1].shape, (std::vector<int32_t>{12}));
  const ImportedOp& fc = g.ops[2];
  ASSERT_EQ(fc.weight_shape, (std::vector<int32_t>{2, 12}));
  const std::vector<float> b = Ramp(24, 0.5f);  // [12, 2], CHW rows
  const int C = 2, H = 2, W = 3;
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < C; ++c)
      for (int h = 0; h < H; ++h)
        for (int x = 0; x < W; ++x) {
          const int onnx_k = (c * H + h) * W + x;
          const int kiln_k = (h * W + x) * C + c;
          EXPECT_EQ(fc.weights[n * 12 + kiln_k], b[onnx_k * 2 + n]);
        }
  EXPECT_EQ(g.outputs[0].logits, -1);
}

TEST(OnnxLoweringTest, ReshapeAfterFlattenTensorBackToChwIsAllowed) {
  TestModel m = testing::FlattenFc();
  // Insert a reshape [1, 12] -> [1, 2, 2, 3] -> a Relu would not fuse, so
  // test through an Identity chain ending in an output instead.
  m.model().mutable_graph()->mutable_node()->RemoveLast();  // the Gemm
  m.model().mutable_graph()->mutable_output()->Clear();
  m.Ints("shape", {4}, {1, 2, 2, 3});
  m.Node("Reshape", {"f1", "shape"}, {"y"}, "unflatten");
  m.Output("y");
  const ImportedGraph g = MustImport(m);
  EXPECT_EQ(g.values[g.outputs[0].value].shape,
            (std::vector<int32_t>{2, 3, 2}));
}

TEST(OnnxLoweringTest, ConvAttributes) {
  struct Case {
    std::string auto_pad;
    int64_t kernel, stride;
    int pad_top, pad_bottom, out;
  };
  const Case cases[] = {{"NOTSET", 2, 1, 0, 0, 4},
                        {"VALID", 2, 1, 0, 0, 4},
                        {"SAME_UPPER", 2, 1, 0, 1, 5},
                        {"SAME_LOWER", 2, 1, 1, 0, 5},
                        {"SAME_UPPER", 3, 2, 1, 1, 3}};
  for (const Case& c : cases) {
    TestModel m(13);
    m.Input("x", {1, 1, 5, 5});
    m.Floats("w", {2, 1, c.kernel, c.kernel}, Ramp(2 * c.kernel * c.kernel));
    auto* conv = m.Node("Conv", {"x", "w"}, {"y"}, "conv");
    AttrString(conv, "auto_pad", c.auto_pad);
    AttrInts(conv, "strides", {c.stride, c.stride});
    m.Output("y");
    const ImportedGraph g = MustImport(m);
    ASSERT_EQ(g.ops.size(), 1u) << c.auto_pad;
    EXPECT_EQ(g.ops[0].conv.pad_top, c.pad_top) << c.auto_pad;
    EXPECT_EQ(g.ops[0].conv.pad_bottom, c.pad_bottom) << c.auto_pad;
    EXPECT_EQ(g.ops[0].conv.pad_left, c.pad_top) << c.auto_pad;
    EXPECT_EQ(g.ops[0].conv.stride_h, c.stride);
    EXPECT_EQ(g.values[g.ops[0].output].shape,
              (std::vector<int32_t>{c.out, c.out, 2}))
        << c.auto_pad;
  }
}

TEST(OnnxLoweringTest, DepthwiseDilatedConvWithAsymmetricPads) {
  TestModel m(11);
  m.Input("x", {-1, 3, 6, 6});
  m.Floats("w", {3, 1, 3, 3}, Ramp(27));
  auto* conv = m.Node("Conv", {"x", "w"}, {"y"}, "dw");
  AttrInt(conv, "group", 3);
  AttrInts(conv, "dilations", {2, 2});
  AttrInts(conv, "pads", {2, 1, 0, 1});
  m.Output("y");
  const ImportedGraph g = MustImport(m);
  const ImportedOp& op = g.ops[0];
  EXPECT_EQ(op.conv.groups, 3);
  EXPECT_EQ(op.conv.dilation_w, 2);
  EXPECT_EQ(op.conv.pad_top, 2);
  EXPECT_EQ(op.conv.pad_left, 1);
  EXPECT_EQ(op.conv.pad_bottom, 0);
  EXPECT_EQ(op.weight_shape, (std::vector<int32_t>{3, 3, 3, 1}));
  EXPECT_EQ(op.weights, Ramp(27));  // I = 1: OIHW and OHWI coincide
  // H: (6 + 2 - 5) + 1 = 4; W: (6 + 2 - 5) + 1 = 4.
  EXPECT_EQ(g.values[op.output].shape, (std::vector<int32_t>{4, 4, 3}));
}

TEST(OnnxLoweringTest, ConvRejectsWrongGroupsAnd3d) {
  TestModel m(13);
  m.Input("x", {1, 4, 5, 5});
  m.Floats("w", {2, 3, 1, 1}, Ramp(6));
  m.Node("Conv", {"x", "w"}, {"y"}, "badconv");
  m.Output("y");
  // The checker/shape inference or the lowering: either way a clean error.
  EXPECT_FALSE(ImportError(m).empty());
}

TEST(OnnxLoweringTest, BatchNormWithoutProducerIsDepthwiseConv) {
  TestModel m(13);
  m.Input("x", {-1, 2, 3, 3});
  m.Floats("gamma", {2}, {2.0f, 1.0f});
  m.Floats("beta", {2}, {1.0f, 0.0f});
  m.Floats("mean", {2}, {0.5f, 0.0f});
  m.Floats("var", {2}, {4.0f, 1.0f});
  auto* bn = m.Node("BatchNormalization", {"x", "gamma", "beta", "mean", "var"},
                    {"y"}, "bn");
  AttrFloat(bn, "epsilon", 0.0f);
  m.Output("y");
  const ImportedGraph g = MustImport(m);
  ASSERT_EQ(Kinds(g), std::vector<K>{K::kConv2D});
  EXPECT_EQ(g.ops[0].conv.groups, 2);
  EXPECT_EQ(g.ops[0].weights, (std::vector<float>{1.0f, 1.0f}));
  EXPECT_EQ(g.ops[0].bias, (std::vector<float>{0.5f, 0.0f}));
}

TEST(OnnxLoweringTest, BatchNormOnFeaturesIsReshapedDepthwiseConv) {
  TestModel m(13);
  m.Input("x", {-1, 3});
  m.Floats("gamma", {3}, {2.0f, 1.0f, 1.0f});
  m.Floats("beta", {3}, {1.0f, 0.0f, 0.0f});
  m.Floats("mean", {3}, {0.5f, 0.0f, 1.0f});
  m.Floats("var", {3}, {4.0f, 1.0f, 1.0f});
  AttrFloat(m.Node("BatchNormalization", {"x", "gamma", "beta", "mean", "var"},
                   {"y"}, "bn"),
            "epsilon", 0.0f);
  m.Output("y");
  const ImportedGraph g = MustImport(m);
  ASSERT_EQ(Kinds(g), (std::vector<K>{K::kReshape, K::kConv2D, K::kReshape}));
  EXPECT_EQ(g.ops[1].conv.groups, 3);
  EXPECT_EQ(g.ops[1].weights, (std::vector<float>{1.0f, 1.0f, 1.0f}));
  EXPECT_EQ(g.ops[1].bias, (std::vector<float>{0.5f, 0.0f, -1.0f}));
  EXPECT_EQ(g.values[g.outputs[0].value].shape, std::vector<int32_t>{3});
}

TEST(OnnxLoweringTest, ConstantArithmeticOverflowFails) {
  TestModel m(13);
  m.Input("x", {-1, 2});
  m.Ints("big", {1}, {int64_t{1} << 62});
  m.Node("Mul", {"big", "big"}, {"huge"}, "mul");
  m.Node("Reshape", {"x", "huge"}, {"y"}, "reshape");
  m.Output("y", TensorProto::FLOAT, {-1, 2});
  EXPECT_IMPORT_ERROR(m, "node 'mul' (Mul): integer overflow");
}

TEST(OnnxLoweringTest, BatchNormFoldsIntoGemm) {
  TestModel m(13);
  m.Input("x", {-1, 2});
  m.Floats("w", {2, 2}, {1.0f, 2.0f, 3.0f, 4.0f});
  m.Floats("gamma", {2}, {2.0f, 1.0f});
  m.Floats("beta", {2}, {1.0f, 0.0f});
  m.Floats("mean", {2}, {0.5f, 0.0f});
  m.Floats("var", {2}, {4.0f, 1.0f});
  m.Node("MatMul", {"x", "w"}, {"h"}, "mm");
  AttrFloat(m.Node("BatchNormalization", {"h", "gamma", "beta", "mean", "var"},
                   {"y"}, "bn"),
            "epsilon", 0.0f);
  m.Output("y");
  const ImportedGraph g = MustImport(m);
  ASSERT_EQ(Kinds(g), std::vector<K>{K::kFullyConnected});
  // MatMul [K, N] transposed to [N, K], row 0 scaled by 1, row 1 by 1.
  EXPECT_EQ(g.ops[0].weights, (std::vector<float>{1.0f, 3.0f, 2.0f, 4.0f}));
  EXPECT_EQ(g.ops[0].bias, (std::vector<float>{0.5f, 0.0f}));
}

TEST(OnnxLoweringTest, GemmAlphaBetaTransBAndBroadcastC) {
  TestModel m(13);
  m.Input("x", {-1, 3});
  m.Floats("b", {3, 2}, {1, 2, 3, 4, 5, 6});
  m.Floats("c", {1}, {0.5f});
  auto* gemm = m.Node("Gemm", {"x", "b", "c"}, {"y"}, "fc");
  AttrFloat(gemm, "alpha", 2.0f);
  AttrFloat(gemm, "beta", 3.0f);
  m.Output("y");
  const ImportedGraph g = MustImport(m);
  EXPECT_EQ(g.ops[0].weights, (std::vector<float>{2, 6, 10, 4, 8, 12}));
  EXPECT_EQ(g.ops[0].bias, (std::vector<float>{1.5f, 1.5f}));
  EXPECT_EQ(g.values[g.ops[0].output].shape, (std::vector<int32_t>{2}));

  TestModel ta(13);
  ta.Input("x", {-1, 3});
  ta.Floats("b", {3, 2}, {1, 2, 3, 4, 5, 6});
  AttrInt(ta.Node("Gemm", {"b", "x"}, {"y"}, "fc_ta"), "transA", 1);
  ta.Output("y");
  EXPECT_IMPORT_ERROR(ta, "fc_ta");
}

TEST(OnnxLoweringTest, MatMulAddBecomesBiasAndReluFuses) {
  TestModel m(13);
  m.Input("x", {-1, 2});
  m.Floats("w", {2, 3}, {1, 2, 3, 4, 5, 6});
  m.Floats("bias", {3}, {0.1f, 0.2f, 0.3f});
  m.Node("MatMul", {"x", "w"}, {"h"}, "mm");
  m.Node("Add", {"h", "bias"}, {"hb"}, "add");
  m.Node("Relu", {"hb"}, {"y"}, "relu");
  m.Output("y");
  const ImportedGraph g = MustImport(m);
  ASSERT_EQ(Kinds(g), std::vector<K>{K::kFullyConnected});
  EXPECT_EQ(g.ops[0].bias, (std::vector<float>{0.1f, 0.2f, 0.3f}));
  EXPECT_EQ(g.ops[0].activation, Activation::kRelu);
  EXPECT_EQ(g.outputs[0].value, g.ops[0].output);
}

TEST(OnnxLoweringTest, ConvPlusPerChannelConstantAndSubFoldIntoBias) {
  TestModel m(13);
  m.Input("x", {-1, 1, 2, 2});
  m.Floats("w", {2, 1, 1, 1}, {1.0f, 2.0f});
  m.Floats("add", {1, 2, 1, 1}, {1.0f, 2.0f});
  m.Floats("sub", {}, {0.25f});
  m.Node("Conv", {"x", "w"}, {"c"}, "conv");
  m.Node("Add", {"add", "c"}, {"a"}, "add");
  m.Node("Sub", {"a", "sub"}, {"y"}, "sub");
  m.Output("y");
  const ImportedGraph g = MustImport(m);
  ASSERT_EQ(g.ops.size(), 1u);
  EXPECT_EQ(g.ops[0].bias, (std::vector<float>{0.75f, 1.75f}));
}

TEST(OnnxLoweringTest, AddOfTwoTensorsFusesClipAsRelu6) {
  for (int64_t opset : {10, 13}) {
    TestModel m(opset);
    m.Input("x", {-1, 2, 2, 2});
    m.Floats("w", {2, 2, 1, 1}, Ramp(4));
    m.Node("Conv", {"x", "w"}, {"c"}, "conv");
    m.Node("Add", {"c", "x"}, {"s"}, "residual");
    if (opset < 11) {
      auto* clip = m.Node("Clip", {"s"}, {"y"}, "clip");
      AttrFloat(clip, "min", 0.0f);
      AttrFloat(clip, "max", 6.0f);
    } else {
      m.Floats("lo", {}, {0.0f});
      m.Floats("hi", {}, {6.0f});
      m.Node("Clip", {"s", "lo", "hi"}, {"y"}, "clip");
    }
    m.Output("y");
    const ImportedGraph g = MustImport(m);
    ASSERT_EQ(Kinds(g), (std::vector<K>{K::kConv2D, K::kAdd})) << opset;
    EXPECT_EQ(g.ops[1].activation, Activation::kRelu6);
    EXPECT_EQ(g.ops[1].inputs[1], g.input);
  }
}

TEST(OnnxLoweringTest, ClipWithoutMaxIsRelu) {
  TestModel m(13);
  m.Input("x", {-1, 2});
  m.Floats("w", {2, 2}, Ramp(4));
  m.Floats("lo", {}, {0.0f});
  m.Node("MatMul", {"x", "w"}, {"h"}, "mm");
  m.Node("Clip", {"h", "lo"}, {"y"}, "clip");
  m.Output("y");
  EXPECT_EQ(MustImport(m).ops[0].activation, Activation::kRelu);
}

TEST(OnnxLoweringTest, UnsupportedClipRangeAndUnfusableReluFail) {
  TestModel m(13);
  m.Input("x", {-1, 2});
  m.Floats("w", {2, 2}, Ramp(4));
  m.Floats("lo", {}, {-1.0f});
  m.Floats("hi", {}, {1.0f});
  m.Node("MatMul", {"x", "w"}, {"h"}, "mm");
  m.Node("Clip", {"h", "lo", "hi"}, {"y"}, "hardtanh");
  m.Output("y");
  EXPECT_IMPORT_ERROR(m, "node 'hardtanh' (Clip)");

  TestModel r(13);
  r.Input("x", {-1, 2});
  r.Node("Relu", {"x"}, {"y"}, "lonely");
  r.Output("y");
  EXPECT_IMPORT_ERROR(r, "node 'lonely' (Relu): cannot be fused");

  // The Conv output also feeds a graph output: the Relu cannot fuse.
  TestModel two(13);
  two.Input("x", {-1, 2});
  two.Floats("w", {2, 2}, Ramp(4));
  two.Node("MatMul", {"x", "w"}, {"h"}, "mm");
  two.Node("Relu", {"h"}, {"y"}, "relu");
  two.Output("h");
  two.Output("y");
  EXPECT_IMPORT_ERROR(two, "'relu' (Relu)");
}

// --- pools ---

TestModel PoolModel(const std::string& op, const std::vector<int64_t>& pads,
                    int64_t ceil_mode, int64_t count_include_pad,
                    int64_t size = 4) {
  TestModel m(13);
  m.Input("x", {-1, 2, size, size});
  auto* pool = m.Node(op, {"x"}, {"y"}, "pool");
  AttrInts(pool, "kernel_shape", {2, 2});
  AttrInts(pool, "strides", {2, 2});
  AttrInts(pool, "pads", pads);
  if (ceil_mode) AttrInt(pool, "ceil_mode", 1);
  if (count_include_pad) AttrInt(pool, "count_include_pad", 1);
  m.Output("y");
  return m;
}

TEST(OnnxLoweringTest, Pools) {
  ImportedGraph g = MustImport(PoolModel("AveragePool", {1, 1, 1, 1}, 0, 0));
  ASSERT_EQ(Kinds(g), std::vector<K>{K::kAveragePool2D});
  EXPECT_EQ(g.ops[0].pool.pad_top, 1);
  EXPECT_EQ(g.values[g.ops[0].output].shape, (std::vector<int32_t>{3, 3, 2}));
  // count_include_pad is harmless without padding.
  g = MustImport(PoolModel("AveragePool", {0, 0, 0, 0}, 0, 1));
  EXPECT_EQ(g.values[g.ops[0].output].shape, (std::vector<int32_t>{2, 2, 2}));
  // ceil_mode that changes nothing (even size) is accepted.
  g = MustImport(PoolModel("MaxPool", {0, 0, 0, 0}, 1, 0));
  EXPECT_EQ(Kinds(g), std::vector<K>{K::kMaxPool2D});

  EXPECT_IMPORT_ERROR(PoolModel("MaxPool", {0, 0, 0, 0}, 1, 0, 5), "ceil_mode");
  EXPECT_IMPORT_ERROR(PoolModel("MaxPool", {2, 0, 0, 0}, 0, 0),
                      "node 'pool' (MaxPool)");
}

// Runs `g` in the float interpreter on one NCHW item; returns the first
// output, converted back to NCHW ([C, H, W] values; [K] stays as is).
std::vector<float> RunNchw(const ImportedGraph& g, int c, int h, int w,
                           const std::vector<float>& nchw) {
  GraphInterpreter interpreter;
  std::string error;
  EXPECT_TRUE(interpreter.Init(g, &error)) << error;
  if (!error.empty()) return {};
  std::vector<float> nhwc(nchw.size());
  for (int ch = 0; ch < c; ++ch)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        nhwc[(y * w + x) * c + ch] = nchw[(ch * h + y) * w + x];
  std::vector<std::vector<float>> values;
  interpreter.Run(nhwc.data(), &values);
  const int32_t out = g.outputs.at(0).value;
  const std::vector<int32_t>& shape = g.values[out].shape;
  if (shape.size() != 3) return values[out];
  const int oh = shape[0], ow = shape[1], oc = shape[2];
  std::vector<float> result(values[out].size());
  for (int ch = 0; ch < oc; ++ch)
    for (int y = 0; y < oh; ++y)
      for (int x = 0; x < ow; ++x)
        result[(ch * oh + y) * ow + x] = values[out][(y * ow + x) * oc + ch];
  return result;
}

TEST(OnnxLoweringTest, AveragePoolCountingPaddingIsDepthwiseConv) {
  // 2x2 windows, stride 2, pads 1 on [N, 2, 4, 4].
  const ImportedGraph g =
      MustImport(PoolModel("AveragePool", {1, 1, 1, 1}, 0, 1));
  ASSERT_EQ(Kinds(g), std::vector<K>{K::kConv2D});
  const ImportedOp& op = g.ops[0];
  EXPECT_EQ(op.op_type, "AveragePool");
  EXPECT_EQ(op.conv.groups, 2);
  EXPECT_EQ(op.weight_shape, (std::vector<int32_t>{2, 2, 2, 1}));
  EXPECT_EQ(op.weights, std::vector<float>(8, 0.25f));
  EXPECT_TRUE(op.bias.empty());
  EXPECT_EQ(op.activation, Activation::kNone);
  EXPECT_EQ(op.conv.stride_h, 2);
  EXPECT_EQ(op.conv.stride_w, 2);
  EXPECT_EQ(op.conv.dilation_h, 1);
  EXPECT_EQ(op.conv.pad_top, 1);
  EXPECT_EQ(op.conv.pad_left, 1);
  EXPECT_EQ(op.conv.pad_bottom, 1);
  EXPECT_EQ(op.conv.pad_right, 1);
  EXPECT_EQ(g.values[op.output].shape, (std::vector<int32_t>{3, 3, 2}));

  // Channel c holds the constant c + 1: a corner window sees 1 of its 4
  // taps, an edge window 2, the centre 4 (padding excluded, all would be
  // c + 1).
  std::vector<float> ones(32);
  for (int i = 0; i < 32; ++i) ones[i] = static_cast<float>(i / 16 + 1);
  const std::vector<float> pattern = {0.25f, 0.5f,  0.25f, 0.5f, 1.0f,
                                      0.5f,  0.25f, 0.5f,  0.25f};
  std::vector<float> want;
  for (int c = 0; c < 2; ++c)
    for (float p : pattern) want.push_back(p * static_cast<float>(c + 1));
  EXPECT_EQ(RunNchw(g, 2, 4, 4, ones), want);

  // Varying data against ONNX's definition, written out in NCHW.
  const std::vector<float> x = Ramp(32, 0.5f, 3);
  want.clear();
  for (int c = 0; c < 2; ++c)
    for (int oy = 0; oy < 3; ++oy)
      for (int ox = 0; ox < 3; ++ox) {
        float sum = 0.0f;
        for (int iy = 2 * oy - 1; iy <= 2 * oy; ++iy)
          for (int ix = 2 * ox - 1; ix <= 2 * ox; ++ix)
            if (iy >= 0 && iy < 4 && ix >= 0 && ix < 4)
              sum += x[(c * 4 + iy) * 4 + ix];
        want.push_back(sum / 4.0f);
      }
  const std::vector<float> got = RunNchw(g, 2, 4, 4, x);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-6f) << i;
}

// Pad(pads) -> op_type (2x2 windows, stride 2) on [N, 2, 4, 4].
TestModel PadThen(const std::string& op_type, const std::vector<int64_t>& pads,
                  int64_t opset = 13) {
  TestModel m(opset);
  m.Input("x", {-1, 2, 4, 4});
  onnx::NodeProto* pad = nullptr;
  if (opset < 11) {
    pad = m.Node("Pad", {"x"}, {"p"}, "pad");
    AttrInts(pad, "pads", pads);
  } else {
    m.Ints("pads", {static_cast<int64_t>(pads.size())}, pads);
    pad = m.Node("Pad", {"x", "pads"}, {"p"}, "pad");
  }
  onnx::NodeProto* node = nullptr;
  if (op_type == "Conv") {
    m.Floats("w", {2, 2, 2, 2}, Ramp(16));
    node = m.Node("Conv", {"p", "w"}, {"y"}, "conv");
    AttrInts(node, "pads", {0, 1, 0, 1});
  } else {
    node = m.Node(op_type, {"p"}, {"y"}, "pool");
    AttrInts(node, "kernel_shape", {2, 2});
  }
  AttrInts(node, "strides", {2, 2});
  m.Output("y");
  return m;
}

TEST(OnnxLoweringTest, ZeroPadFoldsIntoAveragePoolAndConv) {
  // PyTorch's nn.AvgPool2d(padding=1): Pad + AveragePool without pads, the
  // same result as count_include_pad=1 with pads.
  const std::vector<float> x = Ramp(32, 0.25f, 5);
  const std::vector<float> want = RunNchw(
      MustImport(PoolModel("AveragePool", {1, 1, 1, 1}, 0, 1)), 2, 4, 4, x);
  for (int64_t opset : {9, 13}) {
    const ImportedGraph g =
        MustImport(PadThen("AveragePool", {0, 0, 1, 1, 0, 0, 1, 1}, opset));
    ASSERT_EQ(Kinds(g), std::vector<K>{K::kConv2D}) << opset;
    EXPECT_EQ(g.ops[0].conv.pad_top, 1);
    EXPECT_EQ(g.ops[0].conv.pad_right, 1);
    EXPECT_EQ(g.values[g.ops[0].inputs[0]].shape,
              (std::vector<int32_t>{4, 4, 2}));
    EXPECT_EQ(RunNchw(g, 2, 4, 4, x), want) << opset;
  }
  // Asymmetric pads add to the conv's own (left/right 1).
  ImportedGraph g = MustImport(PadThen("Conv", {0, 0, 2, 1, 0, 0, 0, 3}));
  ASSERT_EQ(Kinds(g), std::vector<K>{K::kConv2D});
  EXPECT_EQ(g.ops[0].conv.pad_top, 2);
  EXPECT_EQ(g.ops[0].conv.pad_left, 2);
  EXPECT_EQ(g.ops[0].conv.pad_bottom, 0);
  EXPECT_EQ(g.ops[0].conv.pad_right, 4);
  // (4 + 2 - 2) / 2 + 1 = 3 rows, (4 + 2 + 4 - 2) / 2 + 1 = 5 columns.
  EXPECT_EQ(g.values[g.ops[0].output].shape, (std::vector<int32_t>{3, 5, 2}));
  // All-zero pads are no padding: a plain MaxPool.
  g = MustImport(PadThen("MaxPool", {0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(Kinds(g), std::vector<K>{K::kMaxPool2D});
}

TEST(OnnxLoweringTest, PadErrors) {
  // Zeros would join a maximum.
  EXPECT_IMPORT_ERROR(PadThen("MaxPool", {0, 0, 1, 1, 0, 0, 1, 1}),
                      "node 'pool' (MaxPool): reads the output of a Pad");
  EXPECT_IMPORT_ERROR(PadThen("AveragePool", {0, 1, 0, 0, 0, 0, 0, 0}),
                      "pads N or C");
  EXPECT_IMPORT_ERROR(PadThen("AveragePool", {0, 0, -1, 0, 0, 0, 0, 0}),
                      "negative pads");
  // A Pad's zeros counted, the pool's own padding not: no single Kiln op.
  TestModel mixed = PadThen("AveragePool", {0, 0, 1, 1, 0, 0, 1, 1});
  AttrInts(mixed.model().mutable_graph()->mutable_node(1), "pads",
           {1, 1, 1, 1});
  EXPECT_IMPORT_ERROR(mixed, "cannot mix");
  TestModel reflect = PadThen("AveragePool", {0, 0, 1, 1, 0, 0, 1, 1});
  AttrString(reflect.model().mutable_graph()->mutable_node(0), "mode",
             "reflect");
  EXPECT_IMPORT_ERROR(reflect, "mode 'reflect'");
  TestModel value(13);
  value.Input("x", {-1, 2, 4, 4});
  value.Ints("pads", {8}, {0, 0, 1, 1, 0, 0, 1, 1});
  value.Floats("v", {}, {0.5f});
  value.Node("Pad", {"x", "pads", "v"}, {"p"}, "pad");
  value.Output("p");
  EXPECT_IMPORT_ERROR(value, "zero padding only");
  TestModel output(13);
  output.Input("x", {-1, 2, 4, 4});
  output.Ints("pads", {8}, {0, 0, 1, 1, 0, 0, 1, 1});
  output.Node("Pad", {"x", "pads"}, {"p"}, "pad");
  output.Output("p");
  EXPECT_IMPORT_ERROR(output, "graph output 'p' is a Pad's output");
  TestModel flat(13);
  flat.Input("x", {-1, 2, 4, 4});
  flat.Ints("pads", {8}, {0, 0, 1, 1, 0, 0, 1, 1});
  flat.Node("Pad", {"x", "pads"}, {"p"}, "pad");
  flat.Node("Flatten", {"p"}, {"y"}, "flatten");
  flat.Output("y");
  EXPECT_IMPORT_ERROR(flat,
                      "node 'flatten' (Flatten): reads the output of a Pad");
}

TEST(OnnxLoweringTest, MaxPoolIndicesOutputMustBeUnused) {
  TestModel m(13);
  m.Input("x", {-1, 1, 4, 4});
  AttrInts(m.Node("MaxPool", {"x"}, {"y", "idx"}, "pool"), "kernel_shape",
           {2, 2});
  m.Output("y");
  m.Output("idx", TensorProto::INT64);
  EXPECT_IMPORT_ERROR(m, "'idx'");
}

// --- reshapes ---

TEST(OnnxLoweringTest, SqueezeUnsqueezeAcrossOpsets) {
  for (int64_t opset : {11, 13}) {
    TestModel m(opset);
    m.Input("x", {-1, 3, 1, 1});
    if (opset >= 13) {
      m.Ints("axes", {2}, {2, 3});
      m.Ints("axes2", {2}, {-1, -2});
      m.Node("Squeeze", {"x", "axes"}, {"s"}, "squeeze");
      m.Node("Unsqueeze", {"s", "axes2"}, {"u"}, "unsqueeze");
    } else {
      AttrInts(m.Node("Squeeze", {"x"}, {"s"}, "squeeze"), "axes", {2, 3});
      AttrInts(m.Node("Unsqueeze", {"s"}, {"u"}, "unsqueeze"), "axes",
               {-1, -2});
    }
    m.Floats("w", {2, 3, 1, 1}, Ramp(6));
    m.Node("Conv", {"u", "w"}, {"y"}, "conv");
    m.Output("y");
    const ImportedGraph g = MustImport(m);
    // [1, 1, 3] -> [3] -> [1, 1, 3]: two Kiln reshapes, then the conv.
    ASSERT_EQ(Kinds(g), (std::vector<K>{K::kReshape, K::kReshape, K::kConv2D}))
        << opset;
    EXPECT_EQ(g.ops[0].shape, (std::vector<int32_t>{3}));
    EXPECT_EQ(g.ops[1].shape, (std::vector<int32_t>{1, 1, 3}));
  }
}

TEST(OnnxLoweringTest, ReshapeThatReordersDataFails) {
  TestModel m(13);
  m.Input("x", {-1, 2, 2, 3});
  m.Ints("shape", {4}, {1, 2, 3, 2});
  m.Node("Reshape", {"x", "shape"}, {"y"}, "shuffle");
  m.Output("y");
  EXPECT_IMPORT_ERROR(m, "node 'shuffle' (Reshape)");

  TestModel r3(13);
  r3.Input("x", {-1, 2, 2, 3});
  r3.Ints("shape", {3}, {1, 2, 6});
  r3.Node("Reshape", {"x", "shape"}, {"y"}, "to_rank3");
  r3.Output("y");
  EXPECT_IMPORT_ERROR(r3, "to_rank3");

  // A flattened [C, H, W] tensor may only reach a Gemm/MatMul.
  TestModel sm(13);
  sm.Input("x", {-1, 2, 2, 3});
  sm.Node("Flatten", {"x"}, {"f"}, "flatten");
  sm.Node("Softmax", {"f"}, {"s"}, "softmax");
  sm.Output("s");
  EXPECT_IMPORT_ERROR(sm, "graph output 's'");
}

TEST(OnnxLoweringTest, ReshapeWithConstantNodeAndShapeChain) {
  // PyTorch's x.view(x.size(0), -1): Shape -> Gather -> Unsqueeze ->
  // Concat -> Reshape, with a Constant node for the -1.
  TestModel m(13);
  m.Input("x", {-1, 3, 1, 1});
  m.Ints("zero", {}, {0});
  m.Ints("axes", {1}, {0});
  auto* minus_one = m.Node("Constant", {}, {"m1"}, "c_m1");
  testing::AttrTensor(minus_one, "value",
                      testing::IntTensor("", {1}, {-1}, TensorProto::INT64));
  m.Node("Shape", {"x"}, {"shape"}, "shape");
  AttrInt(m.Node("Gather", {"shape", "zero"}, {"n"}, "gather"), "axis", 0);
  m.Node("Unsqueeze", {"n", "axes"}, {"n1"}, "unsq");
  AttrInt(m.Node("Concat", {"n1", "m1"}, {"target"}, "concat"), "axis", 0);
  m.Node("Reshape", {"x", "target"}, {"flat"}, "reshape");
  m.Floats("w", {3, 2}, Ramp(6));
  m.Node("MatMul", {"flat", "w"}, {"y"}, "mm");
  m.Output("y", TensorProto::FLOAT, {-1, 2});
  const ImportedGraph g = MustImport(m);
  ASSERT_EQ(Kinds(g), (std::vector<K>{K::kReshape, K::kFullyConnected}));
  EXPECT_EQ(g.ops[0].shape, (std::vector<int32_t>{3}));
}

TEST(OnnxLoweringTest, ConcatRemapsAxisToNhwc) {
  TestModel m(13);
  m.Input("x", {-1, 2, 3, 3});
  m.Floats("w", {4, 2, 1, 1}, Ramp(8));
  m.Node("Conv", {"x", "w"}, {"c"}, "conv");
  AttrInt(m.Node("Concat", {"x", "c"}, {"y"}, "cat"), "axis", 1);
  m.Output("y");
  const ImportedGraph g = MustImport(m);
  ASSERT_EQ(Kinds(g), (std::vector<K>{K::kConv2D, K::kConcat}));
  EXPECT_EQ(g.ops[1].axis, 2);
  EXPECT_EQ(g.values[g.ops[1].output].shape, (std::vector<int32_t>{3, 3, 6}));

  TestModel h(13);
  h.Input("x", {-1, 2, 3, 3});
  AttrInt(h.Node("Concat", {"x", "x"}, {"y"}, "cat_h"), "axis", -2);
  h.Output("y");
  EXPECT_EQ(MustImport(h).ops[0].axis, 0);

  TestModel batch(13);
  batch.Input("x", {-1, 4});
  AttrInt(batch.Node("Concat", {"x", "x"}, {"y"}, "cat_n"), "axis", 0);
  batch.Output("y");
  EXPECT_IMPORT_ERROR(batch, "cat_n");
}

// --- Softmax, Sigmoid and pass-through ops ---

TEST(OnnxLoweringTest, SoftmaxAxisRules) {
  TestModel old(11);  // default axis 1
  old.Input("x", {-1, 5});
  old.Node("Softmax", {"x"}, {"y"}, "sm");
  old.Output("y");
  ImportedGraph g = MustImport(old);
  ASSERT_EQ(Kinds(g), std::vector<K>{K::kSoftmax});
  EXPECT_EQ(g.outputs[0].logits, g.input);

  TestModel wrong(13);
  wrong.Input("x", {-1, 2, 3, 3});
  wrong.Node("Softmax", {"x"}, {"y"}, "sm_w");  // axis -1 = W
  wrong.Output("y");
  EXPECT_IMPORT_ERROR(wrong, "node 'sm_w' (Softmax)");

  TestModel per_pixel(13);
  per_pixel.Input("x", {-1, 2, 3, 3});
  AttrInt(per_pixel.Node("Softmax", {"x"}, {"y"}, "sm_c"), "axis", 1);
  per_pixel.Output("y");
  g = MustImport(per_pixel);
  EXPECT_EQ(g.values[g.outputs[0].value].shape,
            (std::vector<int32_t>{3, 3, 2}));
}

TEST(OnnxLoweringTest, SigmoidIdentityDropoutCast) {
  TestModel m(13);
  m.Input("x", {-1, 3});
  m.Floats("w", {3, 1}, {1, 2, 3});
  m.Node("Identity", {"x"}, {"i"}, "id");
  m.Node("Dropout", {"i"}, {"d"}, "drop");
  AttrInt(m.Node("Cast", {"d"}, {"c"}, "cast"), "to", TensorProto::FLOAT);
  m.Node("MatMul", {"c", "w"}, {"z"}, "mm");
  m.Node("Sigmoid", {"z"}, {"y"}, "sig");
  m.Output("y");
  const ImportedGraph g = MustImport(m);
  ASSERT_EQ(Kinds(g), (std::vector<K>{K::kFullyConnected, K::kLogistic}));
  EXPECT_EQ(g.ops[0].inputs[0], g.input);
  EXPECT_EQ(g.outputs[0].logits, g.ops[0].output);
}

TEST(OnnxLoweringTest, Uint8InputAndRank2Input) {
  TestModel m(13);
  m.Input("x", {1, 1, 2, 2}, TensorProto::UINT8);
  AttrInt(m.Node("Cast", {"x"}, {"xf"}, "cast"), "to", TensorProto::FLOAT);
  m.Floats("w", {1, 1, 1, 1}, {1.0f});
  m.Node("Conv", {"xf", "w"}, {"y"}, "conv");
  m.Output("y");
  const ImportedGraph g = MustImport(m);
  EXPECT_EQ(g.input_type, DType::kUInt8);
  EXPECT_EQ(g.values[g.input].shape, (std::vector<int32_t>{2, 2, 1}));
}

// --- QDQ ---

TEST(OnnxLoweringTest, QdqConvCarriesScales) {
  const ImportedGraph g = MustImport(testing::QdqConv());
  EXPECT_TRUE(g.quantized);
  ASSERT_EQ(Kinds(g), (std::vector<K>{K::kConv2D, K::kGlobalAveragePool}));
  ASSERT_TRUE(g.values[g.input].quant.has_value());
  EXPECT_FLOAT_EQ(g.values[g.input].quant->scale, 0.02f);
  EXPECT_EQ(g.values[g.input].quant->zero_point, 0);  // uint8 128 -> 0
  const ImportedOp& conv = g.ops[0];
  EXPECT_EQ(conv.inputs[0], g.input);
  EXPECT_EQ(conv.activation, Activation::kRelu);
  EXPECT_EQ(conv.weight_scales, (std::vector<float>{0.01f, 0.02f}));
  EXPECT_FLOAT_EQ(conv.weights[0], 0.01f);
  EXPECT_FLOAT_EQ(conv.weights[17], -127 * 0.02f);
  EXPECT_NEAR(conv.bias[0], 100 * 0.0002f, 1e-7f);
  EXPECT_NEAR(conv.bias[1], -50 * 0.0004f, 1e-7f);
  // The Q after the fused Relu quantizes the conv's output.
  ASSERT_TRUE(g.values[conv.output].quant.has_value());
  EXPECT_FLOAT_EQ(g.values[conv.output].quant->scale, 0.05f);
  EXPECT_EQ(g.values[conv.output].quant->zero_point, -128);
  ASSERT_TRUE(g.values[g.ops[1].output].quant.has_value());
  EXPECT_EQ(g.values[g.ops[1].output].quant->zero_point, -5);
}

TEST(OnnxLoweringTest, QdqQuantizedFloatWeightsLikePyTorch) {
  TestModel m(13);
  m.Input("x", {-1, 2});
  m.Floats("s", {}, {0.1f});
  m.Ints("zp", {}, {0}, TensorProto::INT8);
  m.Floats("w", {2, 2}, {0.1f, -0.2f, 0.3f, 0.4f});
  m.Floats("ws", {}, {0.01f});
  m.Node("QuantizeLinear", {"x", "s", "zp"}, {"xq"}, "xq");
  m.Node("DequantizeLinear", {"xq", "s", "zp"}, {"xd"}, "xd");
  m.Node("QuantizeLinear", {"w", "ws", "zp"}, {"wq"}, "wq");
  m.Node("DequantizeLinear", {"wq", "ws", "zp"}, {"wd"}, "wd");
  m.Node("MatMul", {"xd", "wd"}, {"h"}, "mm");
  m.Node("QuantizeLinear", {"h", "s", "zp"}, {"hq"}, "hq");
  m.Node("DequantizeLinear", {"hq", "s", "zp"}, {"y"}, "hd");
  m.Output("y");
  const ImportedGraph g = MustImport(m);
  EXPECT_TRUE(g.quantized);
  EXPECT_EQ(g.ops[0].weight_scales, std::vector<float>{0.01f});
  EXPECT_NEAR(g.ops[0].weights[1], 0.3f, 1e-6f);  // transposed
}

// A QDQ AveragePool counting its padding: the conv output takes the
// QuantizeLinear after it, else its input's quantization (an average of
// in-range values and zeros stays in range).
TEST(OnnxLoweringTest, QdqAveragePoolCountingPadding) {
  for (bool own_q : {false, true}) {
    TestModel m(13);
    m.Input("x", {-1, 2, 4, 4});
    m.Floats("s", {}, {0.05f});
    m.Ints("z", {}, {100}, TensorProto::UINT8);
    m.Node("QuantizeLinear", {"x", "s", "z"}, {"q"}, "q");
    m.Node("DequantizeLinear", {"q", "s", "z"}, {"d"}, "dq");
    auto* pool = m.Node("AveragePool", {"d"}, {own_q ? "p" : "y"}, "pool");
    AttrInts(pool, "kernel_shape", {3, 3});
    AttrInts(pool, "pads", {1, 1, 1, 1});
    AttrInt(pool, "count_include_pad", 1);
    if (own_q) {
      m.Floats("s2", {}, {0.02f});
      m.Ints("z2", {}, {0}, TensorProto::UINT8);
      m.Node("QuantizeLinear", {"p", "s2", "z2"}, {"pq"}, "pq");
      m.Node("DequantizeLinear", {"pq", "s2", "z2"}, {"y"}, "pdq");
    }
    m.Output("y");
    const ImportedGraph g = MustImport(m);
    ASSERT_EQ(Kinds(g), std::vector<K>{K::kConv2D});
    EXPECT_TRUE(g.quantized);
    const auto& quant = g.values[g.ops[0].output].quant;
    ASSERT_TRUE(quant.has_value());
    EXPECT_FLOAT_EQ(quant->scale, own_q ? 0.02f : 0.05f);
    EXPECT_EQ(quant->zero_point, own_q ? -128 : 100 - 128);
  }
}

TEST(OnnxLoweringTest, QdqErrors) {
  // The conv output is never quantized.
  TestModel m = testing::QdqConv();
  auto* nodes = m.model().mutable_graph()->mutable_node();
  for (auto& n : *nodes)
    if (n.name() == "g_q" || n.name() == "g_dq") n.set_op_type("Identity");
  for (auto& n : *nodes)
    if (n.op_type() == "Identity") {
      while (n.input_size() > 1) n.mutable_input()->RemoveLast();
    }
  EXPECT_IMPORT_ERROR(m, "'gap' (GlobalAveragePool)");

  // Weights quantized along the input-channel axis.
  TestModel axis(13);
  axis.Input("x", {-1, 2});
  axis.Ints("wq", {2, 3}, {1, 2, 3, 4, 5, 6}, TensorProto::INT8);
  axis.Floats("ws", {2}, {0.1f, 0.2f});
  axis.Ints("wz", {2}, {0, 0}, TensorProto::INT8);
  AttrInt(axis.Node("DequantizeLinear", {"wq", "ws", "wz"}, {"w"}, "wd"),
          "axis", 0);
  axis.Node("MatMul", {"x", "w"}, {"y"}, "mm_axis");
  axis.Output("y");
  EXPECT_IMPORT_ERROR(axis,
                      "node 'mm_axis' (MatMul): weights are "
                      "quantized along axis 0");

  // Per-axis activation quantization.
  TestModel act(13);
  act.Input("x", {-1, 2});
  act.Floats("s", {2}, {0.1f, 0.2f});
  act.Ints("z", {2}, {0, 0}, TensorProto::INT8);
  act.Node("QuantizeLinear", {"x", "s", "z"}, {"q"}, "q_axis");
  act.Node("DequantizeLinear", {"q", "s", "z"}, {"y"}, "dq_axis");
  act.Output("y");
  EXPECT_IMPORT_ERROR(act, "node 'q_axis' (QuantizeLinear)");

  // Non-zero weight zero point.
  TestModel zp(13);
  zp.Input("x", {-1, 2});
  zp.Ints("wq", {2, 2}, {1, 2, 3, 4}, TensorProto::INT8);
  zp.Floats("ws", {}, {0.1f});
  zp.Ints("wz", {}, {3}, TensorProto::INT8);
  zp.Node("DequantizeLinear", {"wq", "ws", "wz"}, {"w"}, "wd");
  zp.Node("MatMul", {"x", "w"}, {"y"}, "mm_zp");
  zp.Output("y");
  EXPECT_IMPORT_ERROR(zp, "zero point 3");
}

// --- ai.onnx.ml ---

TEST(OnnxLoweringTest, ScalerAndLinearClassifier) {
  const ImportedGraph g = MustImport(testing::SklearnClassifier());
  ASSERT_TRUE(g.preprocess.has_value());
  EXPECT_EQ(g.preprocess->layout, Layout::kFlat);
  EXPECT_EQ(g.preprocess->mean, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(g.preprocess->std, (std::vector<float>{2, 0.5f, 1, 0.25f}));
  EXPECT_EQ(g.preprocess->feature_norm, FeatureNorm::kNone);
  ASSERT_EQ(Kinds(g), (std::vector<K>{K::kFullyConnected, K::kSoftmax}));
  EXPECT_EQ(g.ops[0].inputs[0], g.input);
  EXPECT_EQ(g.ops[0].weights, Ramp(12, 0.3f, 1));
  EXPECT_EQ(g.ops[0].bias, (std::vector<float>{0.1f, 0.2f, 0.3f}));
  ASSERT_EQ(g.outputs.size(), 1u);  // the label output is the same head
  EXPECT_EQ(g.outputs[0].name, "probabilities");
  EXPECT_EQ(g.outputs[0].logits, g.ops[0].output);
  EXPECT_EQ(g.outputs[0].labels, (std::vector<std::string>{"0", "1", "2"}));
}

TestModel BinaryClassifier(bool normalizer_first, bool scaler_twice) {
  TestModel m(13, 1);
  m.Input("x", {-1, 2});
  std::string in = "x";
  if (normalizer_first) {
    AttrString(m.Node("Normalizer", {"x"}, {"n"}, "norm", "ai.onnx.ml"), "norm",
               "L2");
    in = "n";
  }
  if (scaler_twice) {
    auto* s = m.Node("Scaler", {in}, {"s"}, "scaler", "ai.onnx.ml");
    AttrFloats(s, "offset", {1.0f});
    AttrFloats(s, "scale", {2.0f, 3.0f});
    in = "s";
  }
  auto* clf = m.Node("LinearClassifier", {in}, {"label", "scores"}, "clf",
                     "ai.onnx.ml");
  AttrFloats(clf, "coefficients", {0.5f, -1.0f});
  AttrFloats(clf, "intercepts", {0.25f});
  testing::AttrStrings(clf, "classlabels_strings", {"no", "yes"});
  AttrString(clf, "post_transform", "LOGISTIC");
  m.Output("label", TensorProto::STRING, {-1});
  return m;
}

TEST(OnnxLoweringTest, BinaryClassifierLogitsAndLabelOnlyOutput) {
  const ImportedGraph g = MustImport(BinaryClassifier(false, false));
  ASSERT_EQ(Kinds(g), (std::vector<K>{K::kFullyConnected, K::kLogistic}));
  EXPECT_EQ(g.ops[0].weights, (std::vector<float>{-0.5f, 1.0f, 0.5f, -1.0f}));
  EXPECT_EQ(g.ops[0].bias, (std::vector<float>{-0.25f, 0.25f}));
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.outputs[0].name, "label");
  EXPECT_EQ(g.outputs[0].value, g.ops[1].output);
  EXPECT_EQ(g.outputs[0].logits, g.ops[0].output);
  EXPECT_EQ(g.outputs[0].labels, (std::vector<std::string>{"no", "yes"}));
}

TEST(OnnxLoweringTest, ScalerAfterNormalizerFoldsIntoClassifier) {
  const ImportedGraph g = MustImport(BinaryClassifier(true, true));
  ASSERT_TRUE(g.preprocess.has_value());
  EXPECT_EQ(g.preprocess->feature_norm, FeatureNorm::kL2);
  // W' = W * scale, b' = b - W * scale * offset, for rows [-w, w].
  const float w[] = {0.5f, -1.0f}, a[] = {2.0f, 3.0f};
  const float shift = -(w[0] * a[0] + w[1] * a[1]) * 1.0f;
  EXPECT_EQ(g.ops[0].weights, (std::vector<float>{-w[0] * a[0], -w[1] * a[1],
                                                  w[0] * a[0], w[1] * a[1]}));
  EXPECT_NEAR(g.ops[0].bias[0], -0.25f - shift, 1e-6f);
  EXPECT_NEAR(g.ops[0].bias[1], 0.25f + shift, 1e-6f);
}

TEST(OnnxLoweringTest, ScalerOnASharedInputFoldsInsteadOfPreprocessing) {
  // The input also feeds a second regressor: a Scaler there cannot become
  // preprocessing (it would change the other reader's input too).
  TestModel m(13, 1);
  m.Input("x", {-1, 2});
  auto* s = m.Node("Scaler", {"x"}, {"s"}, "scaler", "ai.onnx.ml");
  AttrFloats(s, "offset", {1.0f, -1.0f});
  AttrFloats(s, "scale", {2.0f, 0.5f});
  auto* r1 = m.Node("LinearRegressor", {"s"}, {"y1"}, "r1", "ai.onnx.ml");
  AttrFloats(r1, "coefficients", {1.0f, 1.0f});
  auto* r2 = m.Node("LinearRegressor", {"x"}, {"y2"}, "r2", "ai.onnx.ml");
  AttrFloats(r2, "coefficients", {3.0f, 4.0f});
  m.Output("y1", TensorProto::FLOAT, {-1, 1});
  m.Output("y2", TensorProto::FLOAT, {-1, 1});
  const ImportedGraph g = MustImport(m);
  EXPECT_FALSE(g.preprocess.has_value());
  ASSERT_EQ(g.ops.size(), 2u);
  // y1 = 2 (x0 - 1) + 0.5 (x1 + 1) = 2 x0 + 0.5 x1 - 1.5
  EXPECT_EQ(g.ops[0].weights, (std::vector<float>{2.0f, 0.5f}));
  EXPECT_EQ(g.ops[0].bias, (std::vector<float>{-1.5f}));
  EXPECT_EQ(g.ops[1].weights, (std::vector<float>{3.0f, 4.0f}));
}

TEST(OnnxLoweringTest, MlErrors) {
  TestModel zero(13, 1);
  zero.Input("x", {-1, 2});
  AttrFloats(zero.Node("Scaler", {"x"}, {"y"}, "sc0", "ai.onnx.ml"), "scale",
             {1.0f, 0.0f});
  zero.Output("y", TensorProto::FLOAT, {-1, 2});
  EXPECT_IMPORT_ERROR(zero, "node 'sc0' (Scaler): scale 0");

  TestModel zipmap = testing::SklearnClassifier();
  zipmap.model().mutable_graph()->mutable_output()->RemoveLast();
  zipmap.Node("ZipMap", {"probabilities"}, {"maps"}, "zipmap", "ai.onnx.ml");
  testing::AttrInts(&zipmap.model().mutable_graph()->mutable_node()->at(2),
                    "classlabels_int64s", {0, 1, 2});
  auto* out = zipmap.model().mutable_graph()->add_output();
  out->set_name("maps");
  auto* map = out->mutable_type()
                  ->mutable_sequence_type()
                  ->mutable_elem_type()
                  ->mutable_map_type();
  map->set_key_type(TensorProto::INT64);
  map->mutable_value_type()->mutable_tensor_type()->set_elem_type(
      TensorProto::FLOAT);
  EXPECT_IMPORT_ERROR(zipmap, "zipmap");

  // A Normalizer after the classifier (one-vs-rest probabilities).
  TestModel late(13, 1);
  late.Input("x", {-1, 2});
  auto* clf = late.Node("LinearClassifier", {"x"}, {"label", "scores"}, "clf",
                        "ai.onnx.ml");
  AttrFloats(clf, "coefficients", {1, 2, 3, 4});
  AttrInts(clf, "classlabels_ints", {3, 7});
  AttrString(late.Node("Normalizer", {"scores"}, {"p"}, "ovr", "ai.onnx.ml"),
             "norm", "L1");
  late.Output("label", TensorProto::INT64, {-1});
  late.Output("p", TensorProto::FLOAT, {-1, 2});
  EXPECT_IMPORT_ERROR(late, "node 'ovr' (Normalizer)");
}

TEST(OnnxLoweringTest, LinearRegressor) {
  TestModel m(13, 1);
  m.Input("x", {-1, 3});
  auto* reg = m.Node("LinearRegressor", {"x"}, {"y"}, "reg", "ai.onnx.ml");
  AttrFloats(reg, "coefficients", {1, 2, 3, 4, 5, 6});
  AttrFloats(reg, "intercepts", {0.5f, -0.5f});
  AttrInt(reg, "targets", 2);
  m.Output("y", TensorProto::FLOAT, {-1, 2});
  const ImportedGraph g = MustImport(m);
  ASSERT_EQ(Kinds(g), std::vector<K>{K::kFullyConnected});
  EXPECT_EQ(g.ops[0].weights, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(g.outputs[0].logits, -1);
}

// --- errors ---

TEST(OnnxLoweringTest, UnsupportedOpNamesNodeAndType) {
  TestModel m(13);
  m.Input("x", {-1, 2});
  m.Node("Tanh", {"x"}, {"y"}, "squash");
  m.Output("y");
  EXPECT_IMPORT_ERROR(m, "node 'squash' (Tanh)");

  TestModel unnamed(13);
  unnamed.Input("x", {-1, 2});
  unnamed.Node("Abs", {"x"}, {"y"});
  unnamed.Output("y");
  EXPECT_IMPORT_ERROR(unnamed, "node 'Abs_0' (Abs)");
}

TEST(OnnxLoweringTest, MalformedBytesFailCleanly) {
  ImportedGraph g;
  std::string error;
  const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x00};
  EXPECT_FALSE(ImportOnnxBytes(junk, sizeof(junk), &g, &error));
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(ImportOnnxBytes(junk, 0, &g, &error));
  const std::string bytes = testing::SmallCnn().Bytes();
  // Every truncation is rejected (or, where protobuf still parses, fails a
  // later check) without crashing.
  for (size_t n = 1; n < bytes.size(); n += 7) {
    error.clear();
    EXPECT_FALSE(ImportOnnxBytes(reinterpret_cast<const uint8_t*>(bytes.data()),
                                 n, &g, &error))
        << n;
    EXPECT_FALSE(error.empty());
  }
}

// kiln_fuzz_onnx_import found that libonnx 1.12's shape inference crashes
// when a graph output redeclares the graph input with another rank (the
// Conv then reads that rank): outputs must be computed by nodes, and a
// declared output shape is checked against what the graph computes.
TEST(OnnxLoweringTest, GraphOutputsAreComputedAsDeclared) {
  // Serialized as they are: TestModel::Bytes() runs libonnx's inference,
  // which these graphs crash.
  auto raw_error = [](TestModel m) {
    std::string bytes;
    m.model().SerializeToString(&bytes);
    ImportedGraph g;
    std::string error;
    EXPECT_FALSE(ImportOnnxBytes(reinterpret_cast<const uint8_t*>(bytes.data()),
                                 bytes.size(), &g, &error));
    return error;
  };
  TestModel input_as_output = testing::FlattenFc();
  input_as_output.model().mutable_graph()->clear_output();
  input_as_output.Output("x", onnx::TensorProto::FLOAT, {-1, 2});
  std::string error = raw_error(input_as_output);
  EXPECT_NE(error.find("graph output 'x' is a graph input"), std::string::npos)
      << error;

  TestModel initializer_as_output = testing::FlattenFc();
  initializer_as_output.model().mutable_graph()->clear_output();
  initializer_as_output.Output("y", onnx::TensorProto::FLOAT, {-1, 2});
  initializer_as_output.Output("w", onnx::TensorProto::FLOAT, {2, 2});
  error = raw_error(initializer_as_output);
  EXPECT_NE(error.find("graph output 'w' is a graph"), std::string::npos)
      << error;

  TestModel wrong = testing::FlattenFc();
  wrong.model().mutable_graph()->clear_output();
  wrong.Output("y", onnx::TensorProto::FLOAT, {-1, 2, 1, 1});
  EXPECT_IMPORT_ERROR(wrong, "graph output 'y' is declared with a shape");

  TestModel right = testing::FlattenFc();
  right.model().mutable_graph()->clear_output();
  right.Output("y", onnx::TensorProto::FLOAT, {-1, 2});
  MustImport(right);
}

TEST(OnnxLoweringTest, InitializerSizeMismatchAndHugeDims) {
  TestModel m = testing::FlattenFc();
  m.model().mutable_graph()->mutable_initializer(0)->add_float_data(1.0f);
  EXPECT_IMPORT_ERROR(m, "initializer 'w'");

  TestModel huge = testing::FlattenFc();
  auto* w = huge.model().mutable_graph()->mutable_initializer(0);
  w->set_dims(0, int64_t{1} << 40);
  EXPECT_IMPORT_ERROR(huge, "initializer 'w'");

  TestModel raw = testing::FlattenFc();
  auto* r = raw.model().mutable_graph()->mutable_initializer(0);
  r->clear_float_data();
  r->set_raw_data(std::string(15, '\0'));  // 4 floats need 16 bytes
  EXPECT_IMPORT_ERROR(raw, "raw_data");

  TestModel overflow(13);
  overflow.Input("x", {-1, 1 << 30, 1 << 30, 4});
  overflow.Node("Identity", {"x"}, {"y"});
  overflow.Output("y");
  EXPECT_FALSE(ImportError(overflow).empty());

  TestModel ext = testing::FlattenFc();
  auto* e = ext.model().mutable_graph()->mutable_initializer(0);
  e->set_data_location(TensorProto::EXTERNAL);
  auto* kv = e->add_external_data();
  kv->set_key("location");
  kv->set_value("weights.bin");
  EXPECT_IMPORT_ERROR(ext, "external data");
}

TEST(OnnxLoweringTest, InputRulesAndGraphStructure) {
  TestModel two(13);
  two.Input("a", {-1, 2});
  two.Input("b", {-1, 2});
  two.Node("Add", {"a", "b"}, {"y"});
  two.Output("y");
  EXPECT_IMPORT_ERROR(two, "exactly one");

  TestModel batch(13);
  batch.Input("x", {4, 2});
  batch.Node("Identity", {"x"}, {"y"});
  batch.Output("y");
  EXPECT_IMPORT_ERROR(batch, "batch");

  TestModel unknown(13);
  unknown.Input("x", {-1, 2, 3});
  unknown.Node("Identity", {"x"}, {"y"});
  unknown.Output("y");
  EXPECT_IMPORT_ERROR(unknown, "rank 2");

  TestModel symbolic(13);
  symbolic.Input("x", {-1, -1});
  symbolic.Node("Identity", {"x"}, {"y"});
  symbolic.Output("y");
  EXPECT_IMPORT_ERROR(symbolic, "dim 1");

  TestModel missing(13);
  missing.Input("x", {-1, 2});
  missing.Node("Add", {"x", "nowhere"}, {"y"}, "add");
  missing.Output("y", TensorProto::FLOAT, {-1, 2});
  EXPECT_IMPORT_ERROR(missing, "node 'add' (Add): input 'nowhere'");

  TestModel cycle(13);
  cycle.Input("x", {-1, 2});
  cycle.Node("Add", {"x", "b"}, {"a"}, "a");
  cycle.Node("Identity", {"a"}, {"b"}, "b");
  cycle.Output("b", TensorProto::FLOAT, {-1, 2});
  EXPECT_IMPORT_ERROR(cycle, "node 'a' (Add): input 'b'");

  TestModel no_output(13);
  no_output.Input("x", {-1, 2});
  no_output.Node("Identity", {"x"}, {"y"});
  no_output.Output("z");
  EXPECT_FALSE(ImportError(no_output).empty());

  TestModel opset(6);
  opset.Input("x", {-1, 2});
  opset.Node("Identity", {"x"}, {"y"});
  opset.Output("y");
  EXPECT_FALSE(ImportError(opset).empty());
}

TEST(OnnxLoweringTest, LoweringWithoutValidationStillFailsCleanly) {
  // The lowering re-checks what it reads: unknown names and cycles.
  TestModel cycle(13);
  cycle.Input("x", {-1, 2});
  cycle.Node("Add", {"x", "b"}, {"a"}, "a");
  cycle.Node("Identity", {"a"}, {"b"}, "b");
  cycle.Output("b");
  ImportedGraph g;
  std::string error;
  EXPECT_FALSE(LowerOnnxModel(cycle.model(), &g, &error));
  EXPECT_NE(error.find("node 'a' (Add): input 'b'"), std::string::npos)
      << error;
}

TEST(OnnxLoweringTest, ImportOnnxFile) {
  ImportedGraph g;
  std::string error;
  EXPECT_FALSE(ImportOnnxFile("/nonexistent/model.onnx", &g, &error));
  EXPECT_NE(error.find("/nonexistent/model.onnx"), std::string::npos);

  char path[] = "/tmp/kiln_onnx_lowering_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream out(path, std::ios::binary);
    out << testing::SmallCnn().Bytes();
  }
  EXPECT_TRUE(ImportOnnxFile(path, &g, &error)) << error;
  EXPECT_EQ(g.ops.size(), 5u);
  remove(path);
}

// --- a real exporter's output ---

// The exporting script: three small CNNs (a flatten-then-Linear head with
// relu6, a residual block with BatchNormalization kept as nodes, PyTorch's
// default nn.AvgPool2d counting its padding), exported
// with torch.onnx.export; writes the model, one NCHW input and torch's
// output (raw float32).
const char kTorchExportScript[] = R"(import sys, torch
torch.manual_seed(0)
class FlattenNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.dw = torch.nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=4)
        self.fc1 = torch.nn.Linear(4 * 4 * 4, 8)
        self.fc2 = torch.nn.Linear(8, 3)
    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        x = torch.nn.functional.relu6(self.dw(x))
        x = torch.nn.functional.max_pool2d(x, 2)
        x = x.view(x.size(0), -1)
        x = torch.relu(self.fc1(x))
        return torch.softmax(self.fc2(x), dim=1)
class ResidualNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.c1 = torch.nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.b1 = torch.nn.BatchNorm2d(8)
        self.c2 = torch.nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.b2 = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8, 5)
    def forward(self, x):
        x = torch.relu(self.stem(x))
        y = torch.relu(self.b1(self.c1(x)))
        x = torch.relu(self.b2(self.c2(y)) + x)
        x = torch.nn.functional.avg_pool2d(x, 2, padding=1,
                                           count_include_pad=False)
        x = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)
class AvgPoolNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.pool = torch.nn.AvgPool2d(3, stride=2, padding=1)
        self.fc = torch.nn.Linear(4 * 8 * 8, 3)
    def forward(self, x):
        x = self.pool(torch.relu(self.conv(x)))
        return self.fc(torch.flatten(x, 1))
path, opset, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
net = {'flatten': FlattenNet, 'residual': ResidualNet,
       'avgpool': AvgPoolNet}[kind]().eval()
for m in net.modules():
    if isinstance(m, torch.nn.BatchNorm2d):
        m.running_mean.uniform_(-0.5, 0.5)
        m.running_var.uniform_(0.5, 2.0)
        m.weight.data.uniform_(0.5, 1.5)
        m.bias.data.uniform_(-0.2, 0.2)
x = torch.randn(1, 3, 16, 16)
torch.onnx.export(net, x, path, opset_version=opset, input_names=['image'],
    output_names=['out'], do_constant_folding=(kind != 'residual'),
    dynamic_axes={'image': {0: 'N'}, 'out': {0: 'N'}})
x.numpy().tofile(path + '.in')
net(x).detach().numpy().tofile(path + '.out')
)";

std::vector<float> ReadFloats(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<float> v;
  float f;
  while (in.read(reinterpret_cast<char*>(&f), sizeof(f))) v.push_back(f);
  return v;
}

class TorchExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import torch, onnx' >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "python3 with torch and onnx is not available";
    char dir[] = "/tmp/kiln_onnx_torch_XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    std::ofstream(dir_ + "/export.py") << kTorchExportScript;
  }
  void TearDown() override {
    if (!dir_.empty()) system(("rm -rf '" + dir_ + "'").c_str());
  }

  // Exports, imports and runs the model in the float interpreter; expects
  // torch's output within float tolerance.
  ImportedGraph ExportAndCompare(const std::string& kind, int opset) {
    ImportedGraph g;
    const std::string path =
        dir_ + "/" + kind + std::to_string(opset) + ".onnx";
    const std::string command = "/usr/bin/python3 " + dir_ + "/export.py " +
                                path + " " + std::to_string(opset) + " " +
                                kind + " >/dev/null 2>&1";
    if (system(command.c_str()) != 0) {
      ADD_FAILURE() << "torch.onnx.export failed: " << kind << " " << opset;
      return g;
    }
    std::string error;
    if (!ImportOnnxFile(path, &g, &error)) {
      ADD_FAILURE() << error;
      return g;
    }
    GraphInterpreter interpreter;
    if (!interpreter.Init(g, &error)) {
      ADD_FAILURE() << error;
      return g;
    }
    const std::vector<float> nchw = ReadFloats(path + ".in");
    const std::vector<float> expected = ReadFloats(path + ".out");
    const std::vector<int32_t>& shape = g.values[g.input].shape;  // H, W, C
    const int h = shape[0], w = shape[1], c = shape[2];
    EXPECT_EQ(nchw.size(), static_cast<size_t>(h * w * c));
    std::vector<float> nhwc(nchw.size());
    for (int ch = 0; ch < c; ++ch)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          nhwc[(y * w + x) * c + ch] = nchw[(ch * h + y) * w + x];
    std::vector<std::vector<float>> values;
    interpreter.Run(nhwc.data(), &values);
    const std::vector<float>& out = values[g.outputs.at(0).value];
    EXPECT_EQ(out.size(), expected.size());
    for (size_t i = 0; i < out.size() && i < expected.size(); ++i)
      EXPECT_NEAR(out[i], expected[i], 1e-4f + 1e-4f * fabsf(expected[i]))
          << kind << " opset " << opset << " element " << i;
    return g;
  }

  std::string dir_;
};

TEST_F(TorchExportTest, FlattenHeadMatchesTorch) {
  for (int opset : {11, 13}) {
    const ImportedGraph g = ExportAndCompare("flatten", opset);
    EXPECT_EQ(g.producer.rfind("pytorch", 0), 0u) << g.producer;
    ASSERT_EQ(Kinds(g), (std::vector<K>{K::kConv2D, K::kConv2D, K::kMaxPool2D,
                                        K::kReshape, K::kFullyConnected,
                                        K::kFullyConnected, K::kSoftmax}))
        << "opset " << opset;
    EXPECT_EQ(g.ops[0].activation, Activation::kRelu);
    EXPECT_EQ(g.ops[1].activation, Activation::kRelu6);  // Relu then Clip
    EXPECT_EQ(g.ops[1].conv.groups, 4);
    EXPECT_EQ(g.ops[4].weight_shape, (std::vector<int32_t>{8, 64}));
    EXPECT_EQ(g.ops[4].activation, Activation::kRelu);
    ASSERT_EQ(g.outputs.size(), 1u);
    EXPECT_EQ(g.outputs[0].logits, g.ops[5].output);
  }
}

TEST_F(TorchExportTest, ResidualBlockWithBatchNormNodesMatchesTorch) {
  for (int opset : {9, 13, 17}) {
    const ImportedGraph g = ExportAndCompare("residual", opset);
    ASSERT_EQ(Kinds(g),
              (std::vector<K>{K::kConv2D, K::kConv2D, K::kConv2D, K::kAdd,
                              K::kAveragePool2D, K::kGlobalAveragePool,
                              K::kFullyConnected}))
        << "opset " << opset;
    EXPECT_EQ(g.ops[3].activation, Activation::kRelu);
    EXPECT_EQ(g.outputs[0].logits, -1);
  }
}

// nn.AvgPool2d(3, stride=2, padding=1) counts its padding; PyTorch writes
// Pad + AveragePool, which becomes one depthwise conv.
TEST_F(TorchExportTest, AvgPoolCountingPaddingMatchesTorch) {
  for (int opset : {9, 11, 13}) {
    const ImportedGraph g = ExportAndCompare("avgpool", opset);
    ASSERT_EQ(Kinds(g), (std::vector<K>{K::kConv2D, K::kConv2D, K::kReshape,
                                        K::kFullyConnected}))
        << "opset " << opset;
    EXPECT_EQ(g.ops[1].op_type, "AveragePool");
    EXPECT_EQ(g.ops[1].conv.groups, 4);
    EXPECT_EQ(g.ops[1].weight_shape, (std::vector<int32_t>{4, 3, 3, 1}));
    EXPECT_EQ(g.ops[1].conv.pad_top, 1);
    EXPECT_EQ(g.ops[1].conv.stride_h, 2);
  }
}

// The reference models' QDQ format (../shared/peers/tools/quantize_qdq.py:
// uint8 activations, int8 per-channel weights, int32 biases), with fixed
// ranges instead of onnxruntime calibration (not installable here).
TEST_F(TorchExportTest, PeersQdqModelsLower) {
  const std::string tools =
      std::string(KILN_SOURCE_DIR) + "/../shared/peers/tools";
  if (access((tools + "/quantize_qdq.py").c_str(), R_OK) != 0)
    GTEST_SKIP() << "no " << tools;
  std::ofstream(dir_ + "/qdq.py")
      << "import sys, os, onnx\n"
         "sys.path.insert(0, sys.argv[1])\n"
         "import make_models as mm, quantize_qdq as qq\n"
         "class Ranges(dict):\n"
         "    def __getitem__(self, k): return [-1.0, 3.0]\n"
         "    def get(self, k, d=None): return [-1.0, 3.0]\n"
         "    def __contains__(self, k): return True\n"
         "for name in ['mlp160', 'blocknet']:\n"
         "    mm.export(name, sys.argv[2])\n"
         "    fp32 = onnx.load(os.path.join(sys.argv[2], name + "
         "'.fp32.onnx'))\n"
         "    q, _ = qq.quantize(fp32, Ranges())\n"
         "    onnx.save(q, os.path.join(sys.argv[2], name + '.int8.onnx'))\n";
  const std::string command = "/usr/bin/python3 " + dir_ + "/qdq.py " + tools +
                              " " + dir_ + " >/dev/null 2>&1";
  ASSERT_EQ(system(command.c_str()), 0) << command;
  for (const char* name : {"mlp160", "blocknet"}) {
    ImportedGraph g;
    std::string error;
    ASSERT_TRUE(ImportOnnxFile(dir_ + "/" + name + ".int8.onnx", &g, &error))
        << error;
    EXPECT_TRUE(ValidateImportedGraph(g, &error)) << error;
    EXPECT_TRUE(g.quantized) << name;
    ASSERT_TRUE(g.values[g.input].quant.has_value());
    // [-1, 3] as uint8: scale 4/255, zero point round(255/4) = 64 -> -64.
    EXPECT_FLOAT_EQ(g.values[g.input].quant->scale, 4.0f / 255.0f);
    EXPECT_EQ(g.values[g.input].quant->zero_point, -64);
    for (const ImportedOp& op : g.ops) {
      if (op.kind == K::kConv2D || op.kind == K::kFullyConnected) {
        EXPECT_EQ(op.weight_scales.size(),
                  static_cast<size_t>(op.weight_shape[0]))
            << name << " " << op.name;
      }
    }
    EXPECT_EQ(g.outputs.size(), std::string(name) == "blocknet" ? 4u : 1u);
    ImportedGraph fp32;
    ASSERT_TRUE(ImportOnnxFile(dir_ + "/" + name + ".fp32.onnx", &fp32, &error))
        << error;
    EXPECT_FALSE(fp32.quantized);
    EXPECT_EQ(fp32.ops.size(), g.ops.size()) << name;
  }
}

}  // namespace
}  // namespace onnx_import
}  // namespace kiln

namespace kiln {
namespace onnx_import {
namespace {

// A Kiln-exported model's head metadata is as untrusted as the rest of the
// file: each malformed value is an error naming its key.
TEST(LoweringMetadataTest, MalformedKilnHeadMetadataIsRefused) {
  const std::string mlp = kiln::testing::OnnxModelFile("mlp160.onnx");
  if (mlp.empty()) GTEST_SKIP() << "ONNX test models not generated";
  onnx::ModelProto base;
  {
    std::ifstream f(mlp, std::ios::binary);
    ASSERT_TRUE(base.ParseFromIstream(&f));
  }
  const struct {
    const char* key;
    const char* value;
    const char* mention;
  } cases[] = {
      {"kiln.head.output.labels", "[not json", "not valid JSON"},
      {"kiln.head.output.labels", "{\"a\": 1}", "not a JSON array"},
      {"kiln.head.output.labels", "[1, 2]", "not a string"},
      {"kiln.head.output.labels", "[\"a\", \"b\"]", "2 labels for 8"},
      {"kiln.head.output.policy", "[]", "not a JSON object"},
      {"kiln.head.output.policy",
       "{\"top_k\": 0, \"confidence\": \"TOP1_PROB\", \"threshold\": 0}",
       "top_k"},
      {"kiln.head.output.policy",
       "{\"top_k\": 2, \"confidence\": \"BEST\", \"threshold\": 0}",
       "unknown confidence"},
      {"kiln.head.output.policy",
       "{\"top_k\": 2, \"confidence\": \"MARGIN\", \"threshold\": -1}",
       "threshold"},
      {"kiln.head.nope.labels", "[]", "no output 'nope'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.value);
    onnx::ModelProto m = base;
    auto* prop = m.add_metadata_props();
    prop->set_key(c.key);
    prop->set_value(c.value);
    const std::string bytes = m.SerializeAsString();
    ImportedGraph g;
    std::string error;
    EXPECT_FALSE(ImportOnnxBytes(reinterpret_cast<const uint8_t*>(bytes.data()),
                                 bytes.size(), &g, &error));
    EXPECT_NE(error.find(c.mention), std::string::npos) << error;
    EXPECT_NE(error.find(c.key), std::string::npos) << error;
  }
  // Valid metadata makes the plain output a head with those labels.
  onnx::ModelProto m = base;
  auto* prop = m.add_metadata_props();
  prop->set_key("kiln.head.output.policy");
  prop->set_value(
      "{\"top_k\": 3, \"confidence\": \"TOPK_PROB\", \"threshold\": 0.5}");
  const std::string bytes = m.SerializeAsString();
  ImportedGraph g;
  std::string error;
  ASSERT_TRUE(ImportOnnxBytes(reinterpret_cast<const uint8_t*>(bytes.data()),
                              bytes.size(), &g, &error))
      << error;
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.outputs[0].logits, g.outputs[0].value);
  ASSERT_TRUE(g.outputs[0].policy.has_value());
  EXPECT_EQ(g.outputs[0].policy->top_k, 3);
}

}  // namespace
}  // namespace onnx_import
}  // namespace kiln
