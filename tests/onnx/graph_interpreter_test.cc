// GraphInterpreter: every op on tiny hand-computed cases, a randomized
// convolution against a direct loop, and the validation of bad graphs.
#include "toolchain/onnx/graph_interpreter.h"

#include <gtest/gtest.h>
#include <math.h>

#include <random>
#include <string>
#include <vector>

namespace kiln {
namespace onnx_import {
namespace {

// Builds an ImportedGraph by hand: values, then ops in order.
class GraphMaker {
 public:
  int32_t Value(const std::string& name, std::vector<int32_t> shape) {
    g.values.push_back(ImportedValue{name, std::move(shape), std::nullopt});
    return static_cast<int32_t>(g.values.size() - 1);
  }
  int32_t Input(std::vector<int32_t> shape) {
    g.input = Value("input", std::move(shape));
    return g.input;
  }
  ImportedOp& Op(ImportedOpKind kind, std::vector<int32_t> inputs,
                 int32_t output) {
    ImportedOp op;
    op.kind = kind;
    op.name = "op" + std::to_string(g.ops.size());
    op.op_type = ImportedOpKindName(kind);
    op.inputs = std::move(inputs);
    op.output = output;
    g.ops.push_back(std::move(op));
    return g.ops.back();
  }
  void Output(int32_t value, int32_t logits = -1) {
    g.outputs.push_back(
        ImportedOutput{value, g.values[value].name, logits, {}, std::nullopt});
  }
  ImportedGraph g;
};

// Runs `g` on `item` and returns value v.
std::vector<float> RunValue(const ImportedGraph& g,
                            const std::vector<float>& item, int32_t v) {
  GraphInterpreter interpreter;
  std::string error;
  EXPECT_TRUE(interpreter.Init(g, &error)) << error;
  if (!error.empty()) return {};
  EXPECT_EQ(interpreter.input_size(), item.size());
  std::vector<std::vector<float>> values;
  interpreter.Run(item.data(), &values);
  EXPECT_EQ(values.size(), g.values.size());
  return values.at(static_cast<size_t>(v));
}

void ExpectNear(const std::vector<float>& actual,
                const std::vector<float>& expected, float tolerance = 1e-6f) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], tolerance) << "element " << i;
  }
}

// One conv on `item` [h, w, c]; returns its output.
std::vector<float> RunConv(
    const std::vector<int32_t>& in_shape, const std::vector<float>& item,
    const std::vector<int32_t>& out_shape, const std::vector<float>& weights,
    const std::vector<int32_t>& weight_shape, const std::vector<float>& bias,
    const Conv2DOptions& conv, Activation activation = Activation::kNone) {
  GraphMaker m;
  const int32_t x = m.Input(in_shape);
  const int32_t y = m.Value("y", out_shape);
  ImportedOp& op = m.Op(ImportedOpKind::kConv2D, {x}, y);
  op.weights = weights;
  op.weight_shape = weight_shape;
  op.bias = bias;
  op.conv = conv;
  op.activation = activation;
  m.Output(y);
  return RunValue(m.g, item, y);
}

TEST(GraphInterpreter, ConvValidWithBiasAndRelu) {
  // 2x2 kernel over a 2x2 input: 1*1 + 4*(-1) = -3, + 0.5.
  EXPECT_EQ(RunConv({2, 2, 1}, {1, 2, 3, 4}, {1, 1, 1}, {1, 0, 0, -1},
                    {1, 2, 2, 1}, {0.5f}, {}),
            (std::vector<float>{-2.5f}));
  EXPECT_EQ(RunConv({2, 2, 1}, {1, 2, 3, 4}, {1, 1, 1}, {1, 0, 0, -1},
                    {1, 2, 2, 1}, {0.5f}, {}, Activation::kRelu),
            (std::vector<float>{0.0f}));
}

TEST(GraphInterpreter, ConvZeroPadding) {
  // 3x3 ones with padding 1 over 2x2: every window covers all four values.
  Conv2DOptions pad1;
  pad1.pad_top = pad1.pad_left = pad1.pad_bottom = pad1.pad_right = 1;
  EXPECT_EQ(RunConv({2, 2, 1}, {1, 2, 3, 4}, {2, 2, 1},
                    std::vector<float>(9, 1.0f), {1, 3, 3, 1}, {}, pad1),
            (std::vector<float>{10, 10, 10, 10}));
  // Asymmetric: only top/left padding, 2x2 kernel [[1, 2], [3, 4]] over
  // [[1, 2], [3, 4]] gives 2x2: (0,0) sees only x(0,0) under w(1,1).
  Conv2DOptions top_left;
  top_left.pad_top = top_left.pad_left = 1;
  EXPECT_EQ(RunConv({2, 2, 1}, {1, 2, 3, 4}, {2, 2, 1}, {1, 2, 3, 4},
                    {1, 2, 2, 1}, {}, top_left),
            (std::vector<float>{4, 3 * 1 + 4 * 2, 2 * 1 + 4 * 3,
                                1 * 1 + 2 * 2 + 3 * 3 + 4 * 4}));
}

TEST(GraphInterpreter, ConvStrideAndDilation) {
  std::vector<float> nine(9);
  for (int i = 0; i < 9; ++i) nine[i] = static_cast<float>(i + 1);
  // Dilation 2: taps (0,0), (0,2), (2,0), (2,2) = 1, 3, 7, 9.
  Conv2DOptions dilated;
  dilated.dilation_h = dilated.dilation_w = 2;
  EXPECT_EQ(RunConv({3, 3, 1}, nine, {1, 1, 1}, {1, 2, 3, 4}, {1, 2, 2, 1}, {},
                    dilated),
            (std::vector<float>{1 * 1 + 3 * 2 + 7 * 3 + 9 * 4}));
  // Stride 2, 1x1: picks (0,0), (0,2), (2,0), (2,2).
  Conv2DOptions strided;
  strided.stride_h = strided.stride_w = 2;
  EXPECT_EQ(RunConv({3, 3, 1}, nine, {2, 2, 1}, {2}, {1, 1, 1, 1}, {}, strided),
            (std::vector<float>{2, 6, 14, 18}));
}

TEST(GraphInterpreter, ConvChannelsBiasAndRelu6) {
  // [2, 3] . rows {2, 1.5}, {1, -1}, {0.5, 0} + {0, 0, 1} = 8.5, -1, 2.
  EXPECT_EQ(RunConv({1, 1, 2}, {2, 3}, {1, 1, 3}, {2, 1.5f, 1, -1, 0.5f, 0},
                    {3, 1, 1, 2}, {0, 0, 1}, {}, Activation::kRelu6),
            (std::vector<float>{6, 0, 2}));
}

TEST(GraphInterpreter, GroupedAndDepthwiseConv) {
  Conv2DOptions two_groups;
  two_groups.groups = 2;
  // Group 0 reads channels {1, 2}, group 1 channels {3, 4}.
  EXPECT_EQ(RunConv({1, 1, 4}, {1, 2, 3, 4}, {1, 1, 2}, {1, 1, 1, -1},
                    {2, 1, 1, 2}, {}, two_groups),
            (std::vector<float>{3, -1}));
  // Depthwise, multiplier 2: outputs 0, 1 read channel 0 ({1, 2, 3, 4}),
  // outputs 2, 3 channel 1 ({10, 20, 30, 40}).
  Conv2DOptions depthwise;
  depthwise.groups = 2;
  EXPECT_EQ(RunConv({2, 2, 2}, {1, 10, 2, 20, 3, 30, 4, 40}, {1, 1, 4},
                    {1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, -1, 0, 0},
                    {4, 2, 2, 1}, {0, 0, 0, 0.5f}, depthwise),
            (std::vector<float>{1, 4, 100, -9.5f}));
}

// A direct 7-loop convolution in double.
std::vector<float> NaiveConv(const std::vector<float>& in, int32_t h, int32_t w,
                             int32_t c, const std::vector<float>& weights,
                             int32_t out_c, int32_t kh, int32_t kw,
                             const std::vector<float>& bias,
                             const Conv2DOptions& o, int32_t oh, int32_t ow) {
  const int32_t group_c = c / o.groups, group_out = out_c / o.groups;
  std::vector<float> out(static_cast<size_t>(oh) * ow * out_c);
  for (int32_t y = 0; y < oh; ++y) {
    for (int32_t x = 0; x < ow; ++x) {
      for (int32_t oc = 0; oc < out_c; ++oc) {
        const int32_t g = oc / group_out;
        double acc = bias[oc];
        for (int32_t ky = 0; ky < kh; ++ky) {
          for (int32_t kx = 0; kx < kw; ++kx) {
            const int32_t iy = y * o.stride_h - o.pad_top + ky * o.dilation_h;
            const int32_t ix = x * o.stride_w - o.pad_left + kx * o.dilation_w;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            for (int32_t ic = 0; ic < group_c; ++ic) {
              acc += double(in[(iy * w + ix) * c + g * group_c + ic]) *
                     weights[((oc * kh + ky) * kw + kx) * group_c + ic];
            }
          }
        }
        out[(y * ow + x) * out_c + oc] = static_cast<float>(acc);
      }
    }
  }
  return out;
}

TEST(GraphInterpreter, RandomConvolutionsMatchADirectLoop) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  auto pick = [&](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  int checked = 0;
  for (int trial = 0; trial < 80; ++trial) {
    // base_c == 1 with groups > 1 is depthwise (its own code path).
    const int32_t base_c = pick(1, 4);
    const int32_t groups = pick(1, 3);
    const int32_t c = base_c * groups;
    const int32_t group_out = pick(1, 3);
    const int32_t out_c = group_out * groups;
    const int32_t h = pick(1, 9), w = pick(1, 9);
    int32_t kh = pick(1, 4), kw = pick(1, 4);
    Conv2DOptions o;
    o.groups = groups;
    o.stride_h = pick(1, 3);
    o.stride_w = pick(1, 3);
    o.dilation_h = pick(1, 2);
    o.dilation_w = pick(1, 2);
    o.pad_top = pick(0, 2);
    o.pad_left = pick(0, 2);
    o.pad_bottom = pick(0, 2);
    o.pad_right = pick(0, 2);
    if (trial % 5 == 0) {
      // A pointwise conv (the input pixels are the GEMM's rows as they are).
      kh = kw = 1;
      o = Conv2DOptions();
      o.groups = groups;
    }
    const int32_t span_h =
        h + o.pad_top + o.pad_bottom - o.dilation_h * (kh - 1) - 1;
    const int32_t span_w =
        w + o.pad_left + o.pad_right - o.dilation_w * (kw - 1) - 1;
    if (span_h < 0 || span_w < 0) continue;
    const int32_t oh = span_h / o.stride_h + 1, ow = span_w / o.stride_w + 1;
    std::vector<float> in(static_cast<size_t>(h) * w * c);
    std::vector<float> weights(static_cast<size_t>(out_c) * kh * kw * base_c);
    std::vector<float> bias(static_cast<size_t>(out_c));
    for (float& v : in) v = value(rng);
    for (float& v : weights) v = value(rng);
    for (float& v : bias) v = value(rng);
    SCOPED_TRACE("trial " + std::to_string(trial));
    ExpectNear(RunConv({h, w, c}, in, {oh, ow, out_c}, weights,
                       {out_c, kh, kw, base_c}, bias, o),
               NaiveConv(in, h, w, c, weights, out_c, kh, kw, bias, o, oh, ow),
               1e-5f);
    ++checked;
  }
  EXPECT_GT(checked, 40);
}

TEST(GraphInterpreter, FullyConnectedFlattensTheInput) {
  GraphMaker m;
  const int32_t x = m.Input({2, 1, 2});
  const int32_t y = m.Value("y", {2});
  ImportedOp& op = m.Op(ImportedOpKind::kFullyConnected, {x}, y);
  op.weights = {1, 0, 0, 2, 1, 1, 1, 1};
  op.weight_shape = {2, 4};
  op.bias = {0.5f, -20};
  m.Output(y);
  EXPECT_EQ(RunValue(m.g, {1, 2, 3, 4}, y), (std::vector<float>{9.5f, -10}));
  m.g.ops[0].activation = Activation::kRelu;
  EXPECT_EQ(RunValue(m.g, {1, 2, 3, 4}, y), (std::vector<float>{9.5f, 0}));
}

TEST(GraphInterpreter, AddWithActivation) {
  GraphMaker m;
  const int32_t x = m.Input({3});
  const int32_t a = m.Value("a", {3});
  const int32_t s = m.Value("s", {3});
  ImportedOp& fc = m.Op(ImportedOpKind::kFullyConnected, {x}, a);
  fc.weights = {2, 0, 0, 0, 2, 0, 0, 0, 2};  // a = 2x
  fc.weight_shape = {3, 3};
  m.Op(ImportedOpKind::kAdd, {x, a}, s).activation = Activation::kRelu6;
  m.Output(s);
  // 3x, clamped to [0, 6].
  EXPECT_EQ(RunValue(m.g, {1, -2, 2.5f}, s), (std::vector<float>{3, 0, 6}));
}

TEST(GraphInterpreter, PoolsIgnorePadding) {
  // -1..-9 in a 3x3 plane: if padding counted as 0 the max would be 0.
  std::vector<float> in(9);
  for (int i = 0; i < 9; ++i) in[i] = -static_cast<float>(i + 1);
  Pool2DOptions o;
  o.filter_h = o.filter_w = 2;
  o.stride_h = o.stride_w = 2;
  o.pad_bottom = o.pad_right = 1;
  for (ImportedOpKind kind :
       {ImportedOpKind::kMaxPool2D, ImportedOpKind::kAveragePool2D}) {
    GraphMaker m;
    const int32_t x = m.Input({3, 3, 1});
    const int32_t y = m.Value("y", {2, 2, 1});
    m.Op(kind, {x}, y).pool = o;
    m.Output(y);
    if (kind == ImportedOpKind::kMaxPool2D) {
      EXPECT_EQ(RunValue(m.g, in, y), (std::vector<float>{-1, -3, -7, -9}));
    } else {
      // (-1-2-4-5)/4, (-3-6)/2, (-7-8)/2, -9/1.
      EXPECT_EQ(RunValue(m.g, in, y),
                (std::vector<float>{-3, -4.5f, -7.5f, -9}));
    }
  }
}

TEST(GraphInterpreter, PoolsPerChannelWithStrideOne) {
  GraphMaker m;
  const int32_t x = m.Input({1, 3, 2});
  const int32_t y = m.Value("y", {1, 2, 2});
  Pool2DOptions o;
  o.filter_w = 2;
  m.Op(ImportedOpKind::kAveragePool2D, {x}, y).pool = o;
  m.Output(y);
  EXPECT_EQ(RunValue(m.g, {1, 10, 2, 20, 4, 40}, y),
            (std::vector<float>{1.5f, 15, 3, 30}));
}

TEST(GraphInterpreter, GlobalAveragePool) {
  GraphMaker m;
  const int32_t x = m.Input({2, 2, 2});
  const int32_t y = m.Value("y", {2});
  m.Op(ImportedOpKind::kGlobalAveragePool, {x}, y);
  m.Output(y);
  EXPECT_EQ(RunValue(m.g, {1, 10, 2, 20, 3, 30, 4, 41}, y),
            (std::vector<float>{2.5f, 25.25f}));
}

TEST(GraphInterpreter, ConcatAlongChannelsAndRows) {
  // Both inputs computed from the item by reshapes.
  GraphMaker m;
  const int32_t x = m.Input({6});
  const int32_t a = m.Value("a", {1, 2, 1});
  const int32_t rest = m.Value("rest", {1, 2, 2});
  const int32_t b = m.Value("b", {1, 2, 2});
  const int32_t c = m.Value("c", {1, 2, 3});
  // a = x[0..2) as [1, 2, 1] via FC selection; b = x[2..6) reshaped.
  ImportedOp& fa =
      m.Op(ImportedOpKind::kFullyConnected, {x}, m.Value("a0", {2}));
  fa.weights = {1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
  fa.weight_shape = {2, 6};
  m.Op(ImportedOpKind::kReshape, {fa.output}, a).shape = {1, 2, -1};
  ImportedOp& fb =
      m.Op(ImportedOpKind::kFullyConnected, {x}, m.Value("b0", {4}));
  fb.weights.assign(24, 0.0f);
  for (int i = 0; i < 4; ++i) fb.weights[i * 6 + 2 + i] = 1.0f;
  fb.weight_shape = {4, 6};
  m.Op(ImportedOpKind::kReshape, {fb.output}, rest).shape = {1, 2, 2};
  m.Op(ImportedOpKind::kReshape, {rest}, b).shape = {-1, 2, 2};
  m.Op(ImportedOpKind::kConcat, {a, b}, c).axis = -1;
  const int32_t rows = m.Value("rows", {2, 2, 2});
  m.Op(ImportedOpKind::kConcat, {b, b}, rows).axis = 0;
  m.Output(c);
  m.Output(rows);
  const std::vector<float> item = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(RunValue(m.g, item, c), (std::vector<float>{1, 3, 4, 2, 5, 6}));
  EXPECT_EQ(RunValue(m.g, item, rows),
            (std::vector<float>{3, 4, 5, 6, 3, 4, 5, 6}));
}

TEST(GraphInterpreter, SoftmaxOverTheLastDimAndLogistic) {
  GraphMaker m;
  const int32_t x = m.Input({2, 2});
  const int32_t s = m.Value("s", {2, 2});
  const int32_t l = m.Value("l", {2, 2});
  m.Op(ImportedOpKind::kSoftmax, {x}, s);
  m.Op(ImportedOpKind::kLogistic, {x}, l);
  m.Output(s);
  m.Output(l);
  const float ln3 = logf(3.0f);
  // Row 0: e^0 : e^ln3 = 1 : 3. Row 1: huge equal logits stay finite.
  ExpectNear(RunValue(m.g, {0, ln3, 1000, 1000}, s),
             {0.25f, 0.75f, 0.5f, 0.5f});
  ExpectNear(RunValue(m.g, {0, ln3, -ln3, -1000}, l), {0.5f, 0.75f, 0.25f, 0});
}

TEST(GraphInterpreter, RunLeavesUncomputedValuesEmpty) {
  GraphMaker m;
  const int32_t x = m.Input({2});
  const int32_t unused = m.Value("unused", {4});
  const int32_t y = m.Value("y", {2});
  m.Op(ImportedOpKind::kLogistic, {x}, y);
  m.Output(y);
  EXPECT_TRUE(RunValue(m.g, {0, 0}, unused).empty());
}

TEST(GraphInterpreter, RunWithoutASuccessfulInitGivesNothing) {
  GraphMaker m;
  const int32_t x = m.Input({2});
  m.Output(x);
  m.g.input = 3;  // invalid
  GraphInterpreter interpreter;
  std::string error;
  EXPECT_FALSE(interpreter.Init(m.g, &error));
  std::vector<std::vector<float>> values(4, std::vector<float>(2, 1.0f));
  const float item[2] = {1, 2};
  interpreter.Run(item, &values);
  EXPECT_TRUE(values.empty());
}

// ---- Validation ----

GraphMaker ValidConvGraph() {
  GraphMaker m;
  const int32_t x = m.Input({4, 4, 2});
  const int32_t y = m.Value("y", {4, 4, 3});
  ImportedOp& op = m.Op(ImportedOpKind::kConv2D, {x}, y);
  op.weights.assign(3 * 3 * 3 * 2, 0.1f);
  op.weight_shape = {3, 3, 3, 2};
  op.conv.pad_top = op.conv.pad_left = op.conv.pad_bottom = op.conv.pad_right =
      1;
  const int32_t p = m.Value("p", {2, 2, 3});
  Pool2DOptions& pool = m.Op(ImportedOpKind::kMaxPool2D, {y}, p).pool;
  pool.filter_h = pool.filter_w = pool.stride_h = pool.stride_w = 2;
  const int32_t g = m.Value("g", {3});
  m.Op(ImportedOpKind::kGlobalAveragePool, {p}, g);
  m.Output(g, g);
  return m;
}

std::string ValidationError(const ImportedGraph& g) {
  std::string error;
  GraphInterpreter interpreter;
  EXPECT_FALSE(interpreter.Init(g, &error));
  EXPECT_FALSE(ValidateImportedGraph(g, &error));
  return error;
}

TEST(GraphInterpreterValidation, AcceptsTheValidGraph) {
  std::string error;
  EXPECT_TRUE(ValidateImportedGraph(ValidConvGraph().g, &error)) << error;
}

TEST(GraphInterpreterValidation, RejectsInconsistentGraphs) {
  struct Case {
    const char* what;
    void (*mutate)(ImportedGraph*);
    const char* message;
  };
  const Case cases[] = {
      {"no values", [](ImportedGraph* g) { g->values.clear(); }, "no values"},
      {"bad input", [](ImportedGraph* g) { g->input = 9; },
       "graph input 9 is not a value index"},
      {"int8 input", [](ImportedGraph* g) { g->input_type = DType::kInt8; },
       "expected FLOAT32 or UINT8"},
      {"zero dim",
       [](ImportedGraph* g) {
         g->values[1].shape = {4, 0, 3};
       },
       "dimension < 1"},
      {"bad op input", [](ImportedGraph* g) { g->ops[0].inputs = {-1}; },
       "input -1 is not a value index"},
      {"bad op output", [](ImportedGraph* g) { g->ops[1].output = 42; },
       "output 42 is not a value index"},
      {"out of order",
       [](ImportedGraph* g) { std::swap(g->ops[0], g->ops[1]); },
       "before any op computes it"},
      {"computed twice", [](ImportedGraph* g) { g->ops[1].output = 1; },
       "already computed"},
      {"overwrites the input", [](ImportedGraph* g) { g->ops[0].output = 0; },
       "already computed"},
      {"weight count", [](ImportedGraph* g) { g->ops[0].weights.pop_back(); },
       "53 weights for weight shape [3, 3, 3, 2]"},
      {"weight shape",
       [](ImportedGraph* g) {
         g->ops[0].weight_shape = {3, 3, 6, 1};
       },
       "must be [out_c, kh, kw, in_c / groups]"},
      {"groups", [](ImportedGraph* g) { g->ops[0].conv.groups = 3; },
       "groups 3 must divide"},
      {"stride", [](ImportedGraph* g) { g->ops[0].conv.stride_h = 0; },
       "strides and dilations must be >= 1"},
      {"output shape",
       [](ImportedGraph* g) {
         g->values[1].shape = {4, 4, 4};
       },
       "has shape [4, 4, 4], the op gives [4, 4, 3]"},
      {"bias count",
       [](ImportedGraph* g) {
         g->ops[0].bias = {1, 2};
       },
       "2 biases for 3 output channels"},
      {"weight scales",
       [](ImportedGraph* g) {
         g->ops[0].weight_scales = {1, 2};
       },
       "2 weight scales for 3 output channels"},
      {"zero weight scale",
       [](ImportedGraph* g) { g->ops[0].weight_scales = {0.0f}; },
       "not a positive normal float"},
      {"nan weight", [](ImportedGraph* g) { g->ops[0].weights[5] = NAN; },
       "a weight is not finite"},
      {"pool padding", [](ImportedGraph* g) { g->ops[1].pool.pad_top = 2; },
       "padding must be in [0, filter)"},
      {"pool activation",
       [](ImportedGraph* g) { g->ops[1].activation = Activation::kRelu; },
       "unsupported fused activation"},
      {"pool weights", [](ImportedGraph* g) { g->ops[1].bias = {1}; },
       "takes no weights"},
      {"gap rank",
       [](ImportedGraph* g) {
         g->ops[2].inputs = {2};
         g->values[2].shape = {12};
       },
       "has shape [12], the op gives [2, 2, 3]"},
      {"input count",
       [](ImportedGraph* g) {
         g->ops[2].inputs = {2, 2};
       },
       "2 inputs"},
      {"unknown kind",
       [](ImportedGraph* g) {
         g->ops[2].kind = static_cast<ImportedOpKind>(77);
       },
       "unknown op kind 77"},
      {"bad quant",
       [](ImportedGraph* g) {
         g->values[1].quant = QuantParams{0.1f, 200};
       },
       "zero point 200 is outside [-128, 127]"},
      {"no outputs", [](ImportedGraph* g) { g->outputs.clear(); },
       "no outputs"},
      {"output index", [](ImportedGraph* g) { g->outputs[0].value = 17; },
       "value 17 is not a value index"},
      {"uncomputed output",
       [](ImportedGraph* g) {
         g->values.push_back(ImportedValue{"lost", {3}, std::nullopt});
         g->outputs[0].value = 4;
       },
       "value 'lost' is never computed"},
      {"logits index", [](ImportedGraph* g) { g->outputs[0].logits = -2; },
       "logits -2 is not a value index or -1"},
      {"labels",
       [](ImportedGraph* g) {
         g->outputs[0].labels = {"a", "b"};
       },
       "2 labels for 3 classes"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    GraphMaker m = ValidConvGraph();
    c.mutate(&m.g);
    const std::string error = ValidationError(m.g);
    EXPECT_NE(error.find(c.message), std::string::npos) << error;
  }
}

TEST(GraphInterpreterValidation, ChecksEveryOpKindsShapes) {
  {
    GraphMaker m;  // FC weights vs the input's element count
    const int32_t x = m.Input({2, 3});
    const int32_t y = m.Value("y", {2});
    ImportedOp& op = m.Op(ImportedOpKind::kFullyConnected, {x}, y);
    op.weights.assign(10, 0.0f);
    op.weight_shape = {2, 5};
    m.Output(y);
    EXPECT_NE(ValidationError(m.g).find("do not match the input's 6 elements"),
              std::string::npos);
  }
  {
    GraphMaker m;  // Add without broadcasting
    const int32_t x = m.Input({2, 3});
    const int32_t r = m.Value("r", {3, 2});
    m.Op(ImportedOpKind::kReshape, {x}, r).shape = {3, 2};
    const int32_t y = m.Value("y", {2, 3});
    m.Op(ImportedOpKind::kAdd, {x, r}, y);
    m.Output(y);
    EXPECT_NE(ValidationError(m.g).find("differ (no broadcasting)"),
              std::string::npos);
  }
  {
    GraphMaker m;  // Concat off-axis mismatch and bad axis
    const int32_t x = m.Input({2, 3});
    const int32_t r = m.Value("r", {3, 2});
    m.Op(ImportedOpKind::kReshape, {x}, r).shape = {3, 2};
    const int32_t y = m.Value("y", {5, 3});
    ImportedOp& op = m.Op(ImportedOpKind::kConcat, {x, r}, y);
    op.axis = 0;
    m.Output(y);
    EXPECT_NE(ValidationError(m.g).find("differ off the axis"),
              std::string::npos);
    m.g.ops.back().axis = 2;
    EXPECT_NE(ValidationError(m.g).find("axis 2 is out of range"),
              std::string::npos);
  }
  {
    GraphMaker m;  // Reshape element count and double -1
    const int32_t x = m.Input({2, 3});
    const int32_t y = m.Value("y", {4});
    m.Op(ImportedOpKind::kReshape, {x}, y).shape = {4};
    m.Output(y);
    EXPECT_NE(ValidationError(m.g).find("does not hold the 6 elements"),
              std::string::npos);
    m.g.ops[0].shape = {-1, -1};
    EXPECT_NE(ValidationError(m.g).find("more than one -1"), std::string::npos);
  }
}

}  // namespace
}  // namespace onnx_import
}  // namespace kiln
