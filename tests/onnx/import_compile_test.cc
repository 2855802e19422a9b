// CompileImportedGraph: tiny graphs calibrated with CalibrateImportedGraph,
// compiled, and run through the real runtime against the float
// interpreter; QDQ graphs keep exactly their own scales and int8 weights;
// outputs, heads, inputs and errors.
#include "toolchain/onnx/import_compile.h"

#include <gtest/gtest.h>
#include <math.h>
#include <string.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "toolchain/onnx/graph_interpreter.h"
#include "toolchain/onnx/import_calibration.h"
#include "toolchain/train/quantize_model.h"

namespace kiln {
namespace onnx_import {
namespace {

class GraphMaker {
 public:
  explicit GraphMaker(uint32_t seed) : rng_(seed) {}

  int32_t Value(const std::string& name, std::vector<int32_t> shape) {
    g.values.push_back(ImportedValue{name, std::move(shape), std::nullopt});
    return static_cast<int32_t>(g.values.size() - 1);
  }
  int32_t Input(std::vector<int32_t> shape) {
    g.input = Value("input", std::move(shape));
    return g.input;
  }
  const std::vector<int32_t>& Shape(int32_t v) const {
    return g.values[static_cast<size_t>(v)].shape;
  }
  int32_t Op(ImportedOpKind kind, std::vector<int32_t> inputs,
             std::vector<int32_t> out_shape, const std::string& name) {
    ImportedOp op;
    op.kind = kind;
    op.name = name;
    op.op_type = ImportedOpKindName(kind);
    op.inputs = std::move(inputs);
    op.output = Value(name + ":out", std::move(out_shape));
    g.ops.push_back(std::move(op));
    return g.ops.back().output;
  }
  ImportedOp& Last() { return g.ops.back(); }

  // He-initialized weights and small biases.
  void RandomWeights(ImportedOp* op, std::vector<int32_t> shape) {
    int64_t count = 1;
    for (int32_t d : shape) count *= d;
    const float fan_in = static_cast<float>(count / shape[0]);
    std::normal_distribution<float> w(0.0f, sqrtf(2.0f / fan_in));
    std::uniform_real_distribution<float> b(-0.1f, 0.1f);
    op->weights.resize(static_cast<size_t>(count));
    for (float& x : op->weights) x = w(rng_);
    op->bias.resize(static_cast<size_t>(shape[0]));
    for (float& x : op->bias) x = b(rng_);
    op->weight_shape = std::move(shape);
  }
  int32_t Conv(int32_t x, int32_t out_c, int32_t k, int32_t groups,
               Activation act, const std::string& name) {
    const std::vector<int32_t> s = Shape(x);
    const int32_t pad = k / 2;
    const int32_t out =
        Op(ImportedOpKind::kConv2D, {x}, {s[0], s[1], out_c}, name);
    ImportedOp& op = Last();
    op.conv.groups = groups;
    op.conv.pad_top = op.conv.pad_left = op.conv.pad_bottom =
        op.conv.pad_right = pad;
    op.activation = act;
    RandomWeights(&op, {out_c, k, k, s[2] / groups});
    return out;
  }
  int32_t Fc(int32_t x, int32_t n, Activation act, const std::string& name) {
    const int64_t k = ShapeElementCount(Shape(x));
    const int32_t out = Op(ImportedOpKind::kFullyConnected, {x}, {n}, name);
    Last().activation = act;
    RandomWeights(&Last(), {n, static_cast<int32_t>(k)});
    return out;
  }
  void Output(int32_t value, int32_t logits, const std::string& name) {
    g.outputs.push_back(ImportedOutput{value, name, logits, {}, std::nullopt});
  }

  std::vector<float> Items(size_t count, float lo, float hi) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> items(
        count * static_cast<size_t>(ShapeElementCount(Shape(g.input))));
    for (float& x : items) x = d(rng_);
    return items;
  }

  ImportedGraph g;

 private:
  std::mt19937 rng_;
};

// A small CNN classifier: conv-relu, depthwise-relu6, maxpool, grouped 1x1
// conv, average pool with padding, global average pool, FC logits, softmax.
GraphMaker ConvClassifier() {
  GraphMaker m(1);
  int32_t x = m.Input({8, 8, 3});
  x = m.Conv(x, 8, 3, 1, Activation::kRelu, "conv1");
  x = m.Conv(x, 8, 3, 8, Activation::kRelu6, "dw");
  x = m.Op(ImportedOpKind::kMaxPool2D, {x}, {4, 4, 8}, "maxpool");
  Pool2DOptions& mp = m.Last().pool;
  mp.filter_h = mp.filter_w = mp.stride_h = mp.stride_w = 2;
  x = m.Conv(x, 8, 1, 2, Activation::kNone, "grouped");
  x = m.Op(ImportedOpKind::kAveragePool2D, {x}, {4, 4, 8}, "avgpool");
  Pool2DOptions& ap = m.Last().pool;
  ap.filter_h = ap.filter_w = 3;
  ap.pad_top = ap.pad_left = ap.pad_bottom = ap.pad_right = 1;
  x = m.Op(ImportedOpKind::kGlobalAveragePool, {x}, {8}, "gap");
  const int32_t logits = m.Fc(x, 5, Activation::kNone, "fc");
  const int32_t probs =
      m.Op(ImportedOpKind::kSoftmax, {logits}, {5}, "softmax");
  m.Output(probs, logits, "probs");
  m.g.outputs[0].labels = {"a", "b", "c", "d", "e"};
  m.g.producer = "hand 1.0";
  m.g.opset = 13;
  return m;
}

// Add, Concat, Reshape and Logistic; a regressor output without logits.
GraphMaker AddConcatNet() {
  GraphMaker m(2);
  const int32_t x = m.Input({4, 4, 2});
  const int32_t a = m.Conv(x, 4, 3, 1, Activation::kNone, "a");
  const int32_t b = m.Conv(x, 4, 1, 1, Activation::kNone, "b");
  const int32_t sum = m.Op(ImportedOpKind::kAdd, {a, b}, {4, 4, 4}, "add");
  m.Last().activation = Activation::kRelu;
  const int32_t cat =
      m.Op(ImportedOpKind::kConcat, {sum, a}, {4, 4, 8}, "concat");
  m.Last().axis = -1;
  const int32_t flat = m.Op(ImportedOpKind::kReshape, {cat}, {128}, "flat");
  m.Last().shape = {-1};
  const int32_t score = m.Fc(flat, 3, Activation::kNone, "score");
  const int32_t gate = m.Op(ImportedOpKind::kLogistic, {score}, {3}, "gate");
  m.Output(gate, -1, "gate");
  m.Output(score, -1, "score");
  return m;
}

struct Compiled {
  std::vector<uint8_t> bytes;
  ImportCompileLayout layout;
};

Compiled CalibrateAndCompile(const ImportedGraph& g,
                             const std::vector<float>& items,
                             const ImportCompileOptions& options = {}) {
  const size_t count =
      items.size() /
      static_cast<size_t>(ShapeElementCount(g.values[g.input].shape));
  std::vector<train::Range> ranges;
  std::string error;
  EXPECT_TRUE(CalibrateImportedGraph(
      g, items.data(), count, train::CalibrationParams(), &ranges, &error))
      << error;
  Compiled c;
  EXPECT_TRUE(
      CompileImportedGraph(g, &ranges, options, &c.bytes, &c.layout, &error))
      << error;
  return c;
}

// Interpreter outputs of every item: [item][value].
std::vector<std::vector<std::vector<float>>> Reference(
    const ImportedGraph& g, const std::vector<float>& items) {
  GraphInterpreter interpreter;
  std::string error;
  EXPECT_TRUE(interpreter.Init(g, &error)) << error;
  std::vector<std::vector<std::vector<float>>> out;
  for (size_t i = 0; i * interpreter.input_size() < items.size(); ++i) {
    out.emplace_back();
    interpreter.Run(items.data() + i * interpreter.input_size(), &out.back());
  }
  return out;
}

std::vector<float> Floats(const std::vector<uint8_t>& bytes) {
  std::vector<float> f(bytes.size() / sizeof(float));
  memcpy(f.data(), bytes.data(), f.size() * sizeof(float));
  return f;
}

// Runs the model on `inputs` (n items, raw bytes of the model input) and
// checks every ImportedOutput's float copy against the interpreter on
// `reference_items`: at most `max_steps` output quantization steps off,
// and under one step on average.
void ExpectMatchesInterpreter(const ImportedGraph& g, const Compiled& c,
                              const void* inputs,
                              const std::vector<float>& reference_items,
                              size_t n, double max_steps) {
  train::KilnRunner runner;
  std::string error;
  ASSERT_TRUE(runner.Load(c.bytes, n, &error)) << error;
  std::vector<std::vector<uint8_t>> outputs;
  ASSERT_TRUE(runner.Run(inputs, n, &outputs, nullptr, &error)) << error;
  const auto reference = Reference(g, reference_items);
  ASSERT_EQ(reference.size(), n);
  for (size_t o = 0; o < g.outputs.size(); ++o) {
    const ImportedOutput& out = g.outputs[o];
    SCOPED_TRACE("output " + out.name);
    const int32_t index = c.layout.outputs[o].float_output;
    ASSERT_GE(index, 0);
    EXPECT_EQ(runner.output_info(index).dtype, KILN_FLOAT32);
    const std::vector<float> actual = Floats(outputs[index]);
    const size_t per_item =
        static_cast<size_t>(ShapeElementCount(g.values[out.value].shape));
    ASSERT_EQ(actual.size(), n * per_item);
    double scale = c.layout.value_quant[out.value]->scale;
    // A probability's error is its input's, through the slope (at most
    // 1/4 for the logistic, 1/2 for softmax), when that is the larger.
    for (const ImportedOp& op : g.ops) {
      if (op.output != out.value) continue;
      const double in_scale = c.layout.value_quant[op.inputs[0]]->scale;
      if (op.kind == ImportedOpKind::kLogistic) {
        scale = std::max(scale, 0.25 * in_scale);
      } else if (op.kind == ImportedOpKind::kSoftmax) {
        scale = std::max(scale, 0.5 * in_scale);
      }
    }
    double worst = 0.0, total = 0.0;
    for (size_t i = 0; i < n; ++i) {
      for (size_t k = 0; k < per_item; ++k) {
        const double e =
            fabs(actual[i * per_item + k] - reference[i][out.value][k]) / scale;
        worst = std::max(worst, e);
        total += e;
      }
    }
    EXPECT_LE(worst, max_steps);
    EXPECT_LT(total / static_cast<double>(n * per_item), 1.0);
  }
}

TEST(ImportCompile, ConvClassifierMatchesTheInterpreter) {
  GraphMaker m = ConvClassifier();
  const std::vector<float> items = m.Items(32, -1.0f, 1.0f);
  const Compiled c = CalibrateAndCompile(m.g, items);
  ASSERT_FALSE(c.bytes.empty());
  ExpectMatchesInterpreter(m.g, c, items.data(), items, 32, 4.0);
}

TEST(ImportCompile, AddConcatNetMatchesTheInterpreter) {
  GraphMaker m = AddConcatNet();
  const std::vector<float> items = m.Items(32, -2.0f, 2.0f);
  const Compiled c = CalibrateAndCompile(m.g, items);
  ASSERT_FALSE(c.bytes.empty());
  ExpectMatchesInterpreter(m.g, c, items.data(), items, 32, 4.0);
}

TEST(ImportCompile, CalibrationMethodsAllCompile) {
  GraphMaker m = AddConcatNet();
  const std::vector<float> items = m.Items(16, -2.0f, 2.0f);
  for (train::CalibrationMethod method :
       {train::CalibrationMethod::kPercentile, train::CalibrationMethod::kKl}) {
    train::CalibrationParams params;
    params.method = method;
    params.percentile = 99.0;
    std::vector<train::Range> ranges;
    std::string error;
    int passes = 0;
    ASSERT_TRUE(
        CalibrateImportedGraph(m.g, items.data(), 16, params, &ranges, &error,
                               [&](int pass, size_t done, size_t total) {
                                 EXPECT_EQ(total, 16u);
                                 if (done == total) passes = pass;
                               }))
        << error;
    EXPECT_EQ(passes, method == train::CalibrationMethod::kKl ? 2 : 1);
    ASSERT_EQ(ranges.size(), m.g.values.size());
    // A ReLU output starts at 0 and the input spans about [-2, 2].
    EXPECT_GE(ranges[3].min, 0.0f);
    EXPECT_LT(ranges[0].min, -1.0f);
    EXPECT_GT(ranges[0].max, 1.0f);
    std::vector<uint8_t> bytes;
    EXPECT_TRUE(CompileImportedGraph(m.g, &ranges, ImportCompileOptions(),
                                     &bytes, &error))
        << error;
  }
}

TEST(ImportCompile, CalibrationRangesAreTheObservedMinMax) {
  GraphMaker m(3);
  const int32_t x = m.Input({3});
  const int32_t y = m.Op(ImportedOpKind::kLogistic, {x}, {3}, "sig");
  m.Output(y, -1, "y");
  const std::vector<float> items = {-1, 0.5f, 2, 3, -4, 0};
  std::vector<train::Range> ranges;
  std::string error;
  ASSERT_TRUE(CalibrateImportedGraph(
      m.g, items.data(), 2, train::CalibrationParams(), &ranges, &error))
      << error;
  EXPECT_EQ(ranges[x].min, -4.0f);
  EXPECT_EQ(ranges[x].max, 3.0f);
  EXPECT_FLOAT_EQ(ranges[y].min, 1.0f / (1.0f + expf(4.0f)));
  EXPECT_FLOAT_EQ(ranges[y].max, 1.0f / (1.0f + expf(-3.0f)));
  // No items, a non-finite item, an invalid graph.
  EXPECT_FALSE(CalibrateImportedGraph(
      m.g, items.data(), 0, train::CalibrationParams(), &ranges, &error));
  EXPECT_NE(error.find("at least one item"), std::string::npos) << error;
  const std::vector<float> bad = {1, NAN, 0};
  EXPECT_FALSE(CalibrateImportedGraph(
      m.g, bad.data(), 1, train::CalibrationParams(), &ranges, &error));
  EXPECT_NE(error.find("value 'input'"), std::string::npos) << error;
  m.g.input = 5;
  EXPECT_FALSE(CalibrateImportedGraph(
      m.g, items.data(), 1, train::CalibrationParams(), &ranges, &error));
  EXPECT_NE(error.find("invalid imported graph"), std::string::npos) << error;
}

TEST(ImportCompile, OutputsHeadsAndMetadata) {
  GraphMaker m = ConvClassifier();
  const std::vector<float> items = m.Items(8, -1.0f, 1.0f);
  std::vector<train::Range> ranges;
  std::string error;
  ASSERT_TRUE(CalibrateImportedGraph(
      m.g, items.data(), 8, train::CalibrationParams(), &ranges, &error));
  ImportCompileOptions options;
  options.model_name = "tiny";
  options.model_version = "2.1.0";
  options.properties["source"] = "tiny.onnx";
  PreprocessDef pre;
  pre.layout = Layout::kNHWC;
  pre.channel_order = ChannelOrder::kRGB;
  pre.height = pre.width = 8;
  pre.mean = {0.5f, 0.5f, 0.5f};
  pre.std = {0.25f, 0.25f, 0.25f};
  options.preprocess = pre;
  ModelBuilder b;
  ImportCompileLayout layout;
  ASSERT_TRUE(BuildImportedGraph(m.g, &ranges, options, &b, &layout, &error))
      << error;
  ModelDef def;
  ASSERT_TRUE(b.Finish(&def, &error)) << error;
  // Outputs: int8 probs, int8 logits (the head's), float probs.
  ASSERT_EQ(def.outputs.size(), 3u);
  EXPECT_EQ(layout.outputs[0].int8_output, 0);
  EXPECT_EQ(layout.outputs[0].logits_output, 1);
  EXPECT_EQ(layout.outputs[0].float_output, 2);
  EXPECT_EQ(layout.outputs[0].head, 0);
  EXPECT_EQ(def.tensors[def.outputs[0]].name, "softmax");
  EXPECT_EQ(def.tensors[def.outputs[1]].name, "fc");
  EXPECT_EQ(def.tensors[def.outputs[2]].name, "probs");
  EXPECT_EQ(def.tensors[def.outputs[2]].type, DType::kFloat32);
  // Softmax keeps Kiln's fixed quantization.
  EXPECT_EQ(layout.value_quant[m.g.outputs[0].value]->scale, 1.0f / 256.0f);
  EXPECT_EQ(layout.value_quant[m.g.outputs[0].value]->zero_point, -128);
  // The head: named after the output, labels from the graph, top_k 5.
  ASSERT_EQ(def.heads.size(), 1u);
  EXPECT_EQ(def.heads[0].name, "probs");
  EXPECT_EQ(def.heads[0].tensor, def.outputs[1]);
  EXPECT_EQ(def.heads[0].labels,
            (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(def.heads[0].policy.top_k, 5);
  EXPECT_EQ(def.heads[0].policy.confidence, ConfidenceKind::kTop1Prob);
  EXPECT_EQ(def.heads[0].policy.threshold, 0);
  // The depthwise conv became a Conv2D with groups = C.
  for (const OperatorDef& op : def.operators) {
    if (op.name == "dw") {
      EXPECT_EQ(op.conv2d.groups, 8);
    }
    if (op.name == "grouped") {
      EXPECT_EQ(op.conv2d.groups, 2);
    }
  }
  // Metadata and preprocessing.
  ASSERT_TRUE(def.metadata.has_value());
  EXPECT_EQ(def.metadata->model_name, "tiny");
  EXPECT_EQ(def.metadata->model_version, "2.1.0");
  std::map<std::string, std::string> props;
  for (const auto& p : def.metadata->properties) props[p.key] = p.value;
  EXPECT_EQ(props["source"], "tiny.onnx");
  EXPECT_EQ(props["onnx_producer"], "hand 1.0");
  EXPECT_EQ(props["onnx_opset"], "13");
  ASSERT_TRUE(def.preprocess.has_value());
  EXPECT_EQ(def.preprocess->mean, pre.mean);

  // Overrides: labels, a per-output policy, no float copies.
  options.labels["probs"] = {"v", "w", "x", "y", "z"};
  DecisionPolicy margin;
  margin.top_k = 2;
  margin.confidence = ConfidenceKind::kMargin;
  margin.threshold_real = 0.5f;
  options.output_policies["probs"] = margin;
  options.float_outputs = false;
  ModelBuilder b2;
  ASSERT_TRUE(BuildImportedGraph(m.g, &ranges, options, &b2, &layout, &error))
      << error;
  ASSERT_TRUE(b2.Finish(&def, &error)) << error;
  EXPECT_EQ(def.outputs.size(), 2u);
  EXPECT_EQ(layout.outputs[0].float_output, -1);
  EXPECT_EQ(def.heads[0].labels[0], "v");
  EXPECT_EQ(def.heads[0].policy.top_k, 2);
  EXPECT_EQ(def.heads[0].policy.confidence, ConfidenceKind::kMargin);

  // No heads: only the value and its float copy.
  options.heads = false;
  options.float_outputs = true;
  ModelBuilder b3;
  ASSERT_TRUE(BuildImportedGraph(m.g, &ranges, options, &b3, &layout, &error))
      << error;
  ASSERT_TRUE(b3.Finish(&def, &error)) << error;
  EXPECT_EQ(def.outputs.size(), 2u);
  EXPECT_TRUE(def.heads.empty());
  EXPECT_EQ(layout.outputs[0].logits_output, -1);
}

TEST(ImportCompile, GlobalPolicyIsCappedAtTheClassCount) {
  GraphMaker m = ConvClassifier();
  const std::vector<float> items = m.Items(4, -1.0f, 1.0f);
  std::vector<train::Range> ranges;
  std::string error;
  ASSERT_TRUE(CalibrateImportedGraph(
      m.g, items.data(), 4, train::CalibrationParams(), &ranges, &error));
  ImportCompileOptions options;
  options.policy = DecisionPolicy{10, ConfidenceKind::kTopKProb, 0.9f};
  ModelBuilder b;
  ImportCompileLayout layout;
  ASSERT_TRUE(BuildImportedGraph(m.g, &ranges, options, &b, &layout, &error))
      << error;
  ModelDef def;
  ASSERT_TRUE(b.Finish(&def, &error)) << error;
  EXPECT_EQ(def.heads[0].policy.top_k, 5);
  EXPECT_EQ(def.heads[0].policy.confidence, ConfidenceKind::kTopKProb);
  // Per output, the policy is used as given: top_k 10 of 5 classes fails.
  options.output_policies["probs"] = *options.policy;
  std::vector<uint8_t> bytes;
  EXPECT_FALSE(CompileImportedGraph(m.g, &ranges, options, &bytes, &error));
  EXPECT_NE(error.find("graph output 'probs'"), std::string::npos) << error;
  EXPECT_NE(error.find("top_k 10"), std::string::npos) << error;
}

TEST(ImportCompile, HeadDecisionsFollowTheLogits) {
  GraphMaker m = ConvClassifier();
  const std::vector<float> items = m.Items(16, -1.0f, 1.0f);
  const Compiled c = CalibrateAndCompile(m.g, items);
  train::KilnRunner runner;
  std::string error;
  ASSERT_TRUE(runner.Load(c.bytes, 16, &error)) << error;
  ASSERT_EQ(runner.num_heads(), 1);
  EXPECT_EQ(runner.head_info(0).output_index,
            c.layout.outputs[0].logits_output);
  std::vector<std::vector<uint8_t>> outputs;
  std::vector<kiln_decision> decisions;
  ASSERT_TRUE(runner.Run(items.data(), 16, &outputs, &decisions, &error));
  const std::vector<uint8_t>& logits =
      outputs[c.layout.outputs[0].logits_output];
  for (size_t i = 0; i < 16; ++i) {
    const int8_t* l = reinterpret_cast<const int8_t*>(logits.data()) + i * 5;
    EXPECT_EQ(decisions[i].class_id[0], std::max_element(l, l + 5) - l);
    EXPECT_EQ(decisions[i].k, 5);
  }
}

TEST(ImportCompile, IsDeterministic) {
  GraphMaker m = AddConcatNet();
  const std::vector<float> items = m.Items(8, -2.0f, 2.0f);
  const Compiled a = CalibrateAndCompile(m.g, items);
  const Compiled b = CalibrateAndCompile(m.g, items);
  EXPECT_FALSE(a.bytes.empty());
  EXPECT_EQ(a.bytes, b.bytes);
}

TEST(ImportCompile, RawUint8ImagesWithAScale) {
  GraphMaker m = ConvClassifier();
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> pixel(0, 255);
  const size_t n = 16, per_item = 8 * 8 * 3;
  std::vector<uint8_t> pixels(n * per_item);
  std::vector<float> reals(n * per_item);
  for (size_t i = 0; i < pixels.size(); ++i) {
    pixels[i] = static_cast<uint8_t>(pixel(rng));
    reals[i] = pixels[i] / 255.0f;
  }
  ImportCompileOptions options;
  options.input_uint8_scale = 1.0f / 255.0f;
  const Compiled c = CalibrateAndCompile(m.g, reals, options);
  EXPECT_EQ(c.layout.input_type, DType::kUInt8);
  EXPECT_EQ(c.layout.input_uint8.scale, 1.0f / 255.0f);
  EXPECT_EQ(c.layout.input_uint8.zero_point, 0);
  // The full pixel range, exactly.
  EXPECT_EQ(c.layout.value_quant[m.g.input]->scale, 1.0f / 255.0f);
  EXPECT_EQ(c.layout.value_quant[m.g.input]->zero_point, -128);
  ExpectMatchesInterpreter(m.g, c, pixels.data(), reals, n, 4.0);

  train::KilnRunner runner;
  std::string error;
  ASSERT_TRUE(runner.Load(c.bytes, 1, &error)) << error;
  EXPECT_EQ(runner.input_info().dtype, KILN_UINT8);
  EXPECT_EQ(std::string(runner.input_info().name), "input");
}

// A QDQ graph: every value quantized by the graph, weights on their own
// grids (including -128), a pool whose output scale differs from its
// input's, and a uint8 graph input.
GraphMaker QdqGraph(const std::vector<int8_t>& conv_q,
                    const std::vector<float>& conv_scales,
                    const std::vector<int8_t>& fc_q, float fc_scale) {
  GraphMaker m(4);
  const int32_t x = m.Input({4, 4, 2});
  m.g.input_type = DType::kUInt8;
  m.g.values[x].quant = QuantParams{0.02f, -100};
  const int32_t conv =
      m.Op(ImportedOpKind::kConv2D, {x}, {4, 4, 3}, "/conv/Conv");
  ImportedOp& c = m.Last();
  c.weight_shape = {3, 3, 3, 2};
  c.weight_scales = conv_scales;
  for (size_t i = 0; i < conv_q.size(); ++i) {
    c.weights.push_back(conv_q[i] * conv_scales[i / 18]);
  }
  c.bias = {0.1f, -0.2f, 0.05f};
  c.conv.pad_top = c.conv.pad_left = c.conv.pad_bottom = c.conv.pad_right = 1;
  c.activation = Activation::kRelu;
  m.g.values[conv].quant = QuantParams{0.1f, -128};
  const int32_t pool =
      m.Op(ImportedOpKind::kMaxPool2D, {conv}, {2, 2, 3}, "/pool/MaxPool");
  Pool2DOptions& p = m.Last().pool;
  p.filter_h = p.filter_w = p.stride_h = p.stride_w = 2;
  m.g.values[pool].quant = QuantParams{0.2f, -128};
  const int32_t fc =
      m.Op(ImportedOpKind::kFullyConnected, {pool}, {4}, "/fc/Gemm");
  ImportedOp& f = m.Last();
  f.weight_shape = {4, 12};
  f.weight_scales = {fc_scale};
  for (int8_t q : fc_q) f.weights.push_back(q * fc_scale);
  m.g.values[fc].quant = QuantParams{0.08f, 3};
  m.Output(fc, fc, "logits");
  m.g.quantized = true;
  return m;
}

TEST(ImportCompile, QdqGraphKeepsItsOwnScalesAndWeights) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> q8(-128, 127);
  std::vector<int8_t> conv_q(3 * 18), fc_q(4 * 12);
  for (int8_t& q : conv_q) q = static_cast<int8_t>(q8(rng));
  for (int8_t& q : fc_q) q = static_cast<int8_t>(q8(rng));
  conv_q[0] = -128;
  const std::vector<float> conv_scales = {0.004f, 0.0023f, 0.006f};
  GraphMaker m = QdqGraph(conv_q, conv_scales, fc_q, 0.0021f);

  // No ranges: the graph has everything.
  ModelBuilder b;
  ImportCompileLayout layout;
  std::string error;
  ASSERT_TRUE(BuildImportedGraph(m.g, nullptr, ImportCompileOptions(), &b,
                                 &layout, &error))
      << error;
  ModelDef def;
  ASSERT_TRUE(b.Finish(&def, &error)) << error;
  auto tensor = [&](const std::string& name) -> const TensorDef& {
    for (const TensorDef& t : def.tensors) {
      if (t.name == name) return t;
    }
    ADD_FAILURE() << "no tensor " << name;
    return def.tensors[0];
  };
  auto int8_data = [&](const TensorDef& t) {
    const std::vector<uint8_t>& d = def.buffers[t.buffer].data;
    return std::vector<int8_t>(d.begin(), d.end());
  };
  // The uint8 input: zero point -100 + 128, then an exact Quantize.
  const TensorDef& in = def.tensors[def.inputs[0]];
  EXPECT_EQ(in.type, DType::kUInt8);
  EXPECT_EQ(in.quantization->scale[0], 0.02f);
  EXPECT_EQ(in.quantization->zero_point[0], 28);
  EXPECT_EQ(layout.input_uint8.zero_point, 28);
  const TensorDef& quantized = tensor("input/quantize");
  EXPECT_EQ(quantized.quantization->scale[0], 0.02f);
  EXPECT_EQ(quantized.quantization->zero_point[0], -100);
  // Conv: the graph's int8 weights and scales, its output quantization.
  const TensorDef& cw = tensor("/conv/Conv/weights");
  EXPECT_EQ(int8_data(cw), conv_q);
  EXPECT_EQ(cw.quantization->scale, conv_scales);
  EXPECT_EQ(tensor("/conv/Conv").quantization->scale[0], 0.1f);
  EXPECT_EQ(tensor("/conv/Conv").quantization->zero_point[0], -128);
  // The pool inherits 0.1; the graph's 0.2 is reached by a requantize.
  EXPECT_EQ(tensor("/pool/MaxPool").quantization->scale[0], 0.1f);
  const TensorDef& rq = tensor("/pool/MaxPool/requantize");
  EXPECT_EQ(rq.quantization->scale[0], 0.2f);
  EXPECT_EQ(layout.value_quant[2]->scale, 0.2f);
  // FC: one scale broadcast per channel.
  const TensorDef& fw = tensor("/fc/Gemm/weights");
  EXPECT_EQ(int8_data(fw), fc_q);
  EXPECT_EQ(fw.quantization->scale, std::vector<float>(4, 0.0021f));
  EXPECT_EQ(tensor("/fc/Gemm").quantization->zero_point[0], 3);

  // And it runs like the interpreter on the represented input values.
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(CompileImportedGraph(m.g, nullptr, ImportCompileOptions(), &bytes,
                                   &layout, &error))
      << error;
  const size_t n = 8, per_item = 32;
  std::vector<uint8_t> raw(n * per_item);
  std::vector<float> reals(raw.size());
  std::uniform_int_distribution<int> u8(0, 255);
  for (size_t i = 0; i < raw.size(); ++i) {
    raw[i] = static_cast<uint8_t>(u8(rng));
    reals[i] = 0.02f * (static_cast<int>(raw[i]) - 28);
  }
  ExpectMatchesInterpreter(m.g, Compiled{bytes, layout}, raw.data(), reals, n,
                           3.0);
}

TEST(ImportCompile, NamesAreMadeUnique) {
  GraphMaker m(6);
  const int32_t x = m.Input({4});
  // Two nodes with the same name, and an output named like a node.
  const int32_t a = m.Fc(x, 4, Activation::kNone, "dup");
  const int32_t b = m.Fc(a, 3, Activation::kNone, "dup");
  m.Output(b, b, "dup");
  const std::vector<float> items = m.Items(4, -1.0f, 1.0f);
  std::vector<train::Range> ranges;
  std::string error;
  ASSERT_TRUE(CalibrateImportedGraph(
      m.g, items.data(), 4, train::CalibrationParams(), &ranges, &error));
  ModelBuilder builder;
  ImportCompileLayout layout;
  ASSERT_TRUE(BuildImportedGraph(m.g, &ranges, ImportCompileOptions(), &builder,
                                 &layout, &error))
      << error;
  ModelDef def;
  ASSERT_TRUE(builder.Finish(&def, &error)) << error;
  EXPECT_EQ(def.tensors[def.outputs[0]].name, "dup_2");
  EXPECT_EQ(def.tensors[def.outputs[1]].name, "dup_3");  // the float copy
  EXPECT_EQ(def.heads[0].name, "dup");
}

TEST(ImportCompileErrors, MissingAndBadRanges) {
  GraphMaker m = AddConcatNet();
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_FALSE(CompileImportedGraph(m.g, nullptr, ImportCompileOptions(),
                                    &bytes, &error));
  EXPECT_NE(error.find("value 'input'"), std::string::npos) << error;
  EXPECT_NE(error.find("no calibration ranges"), std::string::npos) << error;

  const std::vector<float> items = m.Items(4, -1.0f, 1.0f);
  std::vector<train::Range> ranges;
  ASSERT_TRUE(CalibrateImportedGraph(
      m.g, items.data(), 4, train::CalibrationParams(), &ranges, &error));
  std::vector<train::Range> short_ranges(ranges.begin(), ranges.end() - 1);
  EXPECT_FALSE(CompileImportedGraph(m.g, &short_ranges, ImportCompileOptions(),
                                    &bytes, &error));
  EXPECT_NE(error.find("calibration ranges for"), std::string::npos) << error;

  ranges[3].max = INFINITY;  // the add's output
  EXPECT_FALSE(CompileImportedGraph(m.g, &ranges, ImportCompileOptions(),
                                    &bytes, &error));
  EXPECT_NE(error.find("node 'add' (Add)"), std::string::npos) << error;
  EXPECT_NE(error.find("value 'add:out'"), std::string::npos) << error;
  EXPECT_NE(error.find("is not valid"), std::string::npos) << error;
}

TEST(ImportCompileErrors, BadGraphsAndOptions) {
  GraphMaker m = AddConcatNet();
  const std::vector<float> items = m.Items(4, -1.0f, 1.0f);
  std::vector<train::Range> ranges;
  std::string error;
  ASSERT_TRUE(CalibrateImportedGraph(
      m.g, items.data(), 4, train::CalibrationParams(), &ranges, &error));
  std::vector<uint8_t> bytes;
  {
    ImportedGraph bad = m.g;
    bad.ops[2].inputs = {1, 9};
    EXPECT_FALSE(CompileImportedGraph(bad, &ranges, ImportCompileOptions(),
                                      &bytes, &error));
    EXPECT_NE(error.find("invalid imported graph"), std::string::npos);
  }
  {
    ImportCompileOptions options;
    options.labels["nope"] = {"x"};
    EXPECT_FALSE(CompileImportedGraph(m.g, &ranges, options, &bytes, &error));
    EXPECT_NE(error.find("'nope', which is not a graph output"),
              std::string::npos)
        << error;
  }
  {
    ImportCompileOptions options;
    options.input_uint8_scale = -1.0f;
    EXPECT_FALSE(CompileImportedGraph(m.g, &ranges, options, &bytes, &error));
    EXPECT_NE(error.find("not a positive normal float"), std::string::npos)
        << error;
    ImportedGraph u8 = m.g;
    u8.input_type = DType::kUInt8;
    options.input_uint8_scale = 1.0f;
    EXPECT_FALSE(CompileImportedGraph(u8, &ranges, options, &bytes, &error));
    EXPECT_NE(error.find("input_uint8_scale is for a FLOAT32 graph input"),
              std::string::npos)
        << error;
  }
  {
    ImportCompileOptions options;
    options.model_version = "not a version";
    EXPECT_FALSE(CompileImportedGraph(m.g, &ranges, options, &bytes, &error));
    EXPECT_NE(error.find("metadata"), std::string::npos) << error;
  }
}

TEST(ImportCompileErrors, BuilderErrorsNameTheNode) {
  // 17 inputs to a Concat: valid as a graph, beyond Kiln's limit of 16.
  GraphMaker m(7);
  const int32_t x = m.Input({2});
  std::vector<int32_t> inputs(17, x);
  const int32_t cat =
      m.Op(ImportedOpKind::kConcat, inputs, {34}, "/wide/Concat");
  m.Last().axis = 0;
  m.Output(cat, -1, "cat");
  const std::vector<float> items = m.Items(2, -1.0f, 1.0f);
  std::vector<train::Range> ranges;
  std::string error;
  ASSERT_TRUE(CalibrateImportedGraph(
      m.g, items.data(), 2, train::CalibrationParams(), &ranges, &error))
      << error;
  std::vector<uint8_t> bytes;
  EXPECT_FALSE(CompileImportedGraph(m.g, &ranges, ImportCompileOptions(),
                                    &bytes, &error));
  EXPECT_NE(error.find("node '/wide/Concat' (Concat)"), std::string::npos)
      << error;
  EXPECT_NE(error.find("1 to kMaxConcatInputs (16) inputs"), std::string::npos)
      << error;
}

}  // namespace
}  // namespace onnx_import
}  // namespace kiln
