// ExportFloatModelToOnnx on hand-built float models: the bytes parse, pass
// the ONNX checker and shape inference, weights land where ONNX expects
// them (OHWI -> OIHW, HWC -> CHW columns), and the exported graph computes
// what train::FloatInterpreter computes (through the test evaluator in
// onnx_test_evaluator.h). Python's onnx checks the file too when present.
#include "toolchain/onnx/onnx_export.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "onnx/checker.h"
#include "onnx/onnx_pb.h"
#include "onnx/shape_inference/implementation.h"
#include "tests/onnx/onnx_test_evaluator.h"
#include "tests/toolchain/scratch_dir.h"
#include "toolchain/onnx/graph_interpreter.h"
#include "toolchain/onnx/onnx_import.h"
#include "toolchain/train/quantize_model.h"

namespace kiln {
namespace {

using onnx_test::Tensor;
using train::FloatHead;
using train::FloatLayer;
using train::FloatModel;
using train::LayerKind;

std::vector<float> RandomVector(size_t n, std::mt19937* rng, float scale) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = u(*rng);
  return v;
}

FloatLayer Conv(const std::string& name, int32_t input,
                std::vector<int32_t> weight_shape, std::mt19937* rng) {
  FloatLayer l;
  l.kind = LayerKind::kConv2D;
  l.name = name;
  l.input = input;
  l.weight_shape = weight_shape;
  size_t n = 1;
  for (int32_t d : weight_shape) n *= d;
  l.weights = RandomVector(n, rng, 0.5f);
  l.bias = RandomVector(weight_shape[0], rng, 0.2f);
  return l;
}

FloatLayer Fc(const std::string& name, int32_t input, int32_t n, int32_t k,
              std::mt19937* rng) {
  FloatLayer l;
  l.kind = LayerKind::kFullyConnected;
  l.name = name;
  l.input = input;
  l.weight_shape = {n, k};
  l.weights = RandomVector(size_t(n) * k, rng, 0.4f);
  l.bias = RandomVector(n, rng, 0.2f);
  return l;
}

FloatLayer Pool(LayerKind kind, const std::string& name, int32_t input,
                Pool2DOptions options) {
  FloatLayer l;
  l.kind = kind;
  l.name = name;
  l.input = input;
  l.pool = options;
  return l;
}

FloatHead Head(const std::string& name, int32_t layer,
               std::vector<std::string> labels) {
  FloatHead h;
  h.name = name;
  h.layer = layer;
  h.labels = std::move(labels);
  return h;
}

// uint8 [6, 5, 3] image (H != W catches transposed axes): a dilated conv
// with asymmetric padding, a depthwise conv (multiplier 2, stride 2,
// ReLU6), a padded max pool, a padded average pool (padding excluded from
// the count), an FC on a spatial input (HWC -> CHW columns), a GAP branch,
// and two heads.
FloatModel ImageModel(uint32_t seed) {
  std::mt19937 rng(seed);
  FloatModel m;
  m.input_shape = {6, 5, 3};
  m.uint8_input = true;
  m.input_scale_real = 1.0f / 255.0f;
  FloatLayer c0 = Conv("stem", -1, {4, 3, 3, 3}, &rng);
  c0.conv.dilation_w = 2;
  c0.conv.pad_top = 1;
  c0.conv.pad_left = 2;
  c0.conv.pad_right = 1;
  c0.activation = Activation::kRelu;  // -> [5, 4, 4]
  m.layers.push_back(c0);
  FloatLayer c1 = Conv("dw", 0, {8, 3, 3, 1}, &rng);
  c1.conv.groups = 4;
  c1.conv.stride_h = c1.conv.stride_w = 2;
  c1.conv.pad_top = c1.conv.pad_left = c1.conv.pad_bottom = c1.conv.pad_right =
      1;
  c1.activation = Activation::kRelu6;  // -> [3, 2, 8]
  m.layers.push_back(c1);
  Pool2DOptions mp;
  mp.filter_h = mp.filter_w = 2;
  mp.pad_bottom = mp.pad_right = 1;
  m.layers.push_back(Pool(LayerKind::kMaxPool2D, "max", 1, mp));  // [3, 2, 8]
  Pool2DOptions ap;
  ap.filter_h = ap.filter_w = 3;
  ap.stride_h = ap.stride_w = 2;
  ap.pad_top = ap.pad_left = ap.pad_bottom = ap.pad_right = 1;
  m.layers.push_back(Pool(LayerKind::kAveragePool2D, "avg", 2, ap));  // [2,1,8]
  FloatLayer f4 = Fc("hidden", 3, 5, 2 * 1 * 8, &rng);
  f4.activation = Activation::kRelu;
  m.layers.push_back(f4);
  FloatLayer gap;
  gap.kind = LayerKind::kGlobalAveragePool;
  gap.name = "gap";
  gap.input = 1;
  m.layers.push_back(gap);
  m.layers.push_back(Fc("fc_b", 5, 3, 8, &rng));
  m.layers.push_back(Fc("fc_a", 4, 4, 5, &rng));
  m.heads.push_back(Head("shape", 7, {"circle", "square", "star", "cross"}));
  m.heads.push_back(Head("color", 6, {"red", "green", "blue"}));
  m.heads[1].policy = {2, ConfidenceKind::kTopKProb, 0.75f};
  return m;
}

// float features [7] -> 6 (ReLU) -> 5 (ReLU6) -> 3.
FloatModel FeatureModel(uint32_t seed) {
  std::mt19937 rng(seed);
  FloatModel m;
  m.input_shape = {7};
  m.uint8_input = false;
  m.layers.push_back(Fc("fc1", -1, 6, 7, &rng));
  m.layers[0].activation = Activation::kRelu;
  m.layers.push_back(Fc("fc2", 0, 5, 6, &rng));
  m.layers[1].activation = Activation::kRelu6;
  m.layers.push_back(Fc("fc3", 1, 3, 5, &rng));
  m.heads.push_back(Head("iris", 2, {"setosa", "versicolor", "virginica"}));
  return m;
}

onnx::ModelProto ExportAndParse(const FloatModel& model,
                                const OnnxExportOptions& options = {}) {
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_TRUE(ExportFloatModelToOnnx(model, options, &bytes, &error)) << error;
  onnx::ModelProto proto;
  EXPECT_TRUE(proto.ParseFromArray(bytes.data(), int(bytes.size())));
  return proto;
}

const onnx::TensorProto* FindInitializer(const onnx::ModelProto& m,
                                         const std::string& name) {
  for (const onnx::TensorProto& t : m.graph().initializer()) {
    if (t.name() == name) return &t;
  }
  return nullptr;
}

std::string Metadata(const onnx::ModelProto& m, const std::string& key) {
  for (const auto& e : m.metadata_props()) {
    if (e.key() == key) return e.value();
  }
  return "";
}

std::vector<int64_t> Dims(const onnx::ValueInfoProto& v) {
  std::vector<int64_t> dims;
  for (const auto& d : v.type().tensor_type().shape().dim()) {
    dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  }
  return dims;
}

// Runs `count` random items through the exported graph and through
// FloatInterpreter; every head's logits must agree.
void ExpectSameOutputs(const FloatModel& model, size_t count, uint32_t seed) {
  const onnx::ModelProto proto = ExportAndParse(model);
  train::FloatInterpreter interp;
  std::string error;
  ASSERT_TRUE(interp.Init(model, &error)) << error;
  std::mt19937 rng(seed);
  const size_t elements = interp.input_elements();
  // Kiln's real input x per item (HWC for images), and the ONNX input.
  std::vector<std::vector<float>> xs(count);
  Tensor input;
  input.dims.push_back(int64_t(count));
  const bool image = model.input_shape.size() == 3;
  if (image) {
    input.dims.insert(
        input.dims.end(),
        {model.input_shape[2], model.input_shape[0], model.input_shape[1]});
  } else {
    input.dims.insert(input.dims.end(), model.input_shape.begin(),
                      model.input_shape.end());
  }
  input.data.resize(count * elements);
  std::uniform_int_distribution<int> pixel(0, 255);
  std::normal_distribution<float> feature(0.0f, 1.5f);
  for (size_t i = 0; i < count; ++i) {
    xs[i].resize(elements);
    for (float& v : xs[i]) {
      v = model.uint8_input ? float(pixel(rng)) * model.input_scale_real
                            : feature(rng);
    }
    if (image) {
      const size_t H = model.input_shape[0], W = model.input_shape[1],
                   C = model.input_shape[2];
      for (size_t h = 0; h < H; ++h)
        for (size_t w = 0; w < W; ++w)
          for (size_t c = 0; c < C; ++c)
            input.data[i * elements + (c * H + h) * W + w] =
                xs[i][(h * W + w) * C + c];
    } else {
      std::copy(xs[i].begin(), xs[i].end(), input.data.begin() + i * elements);
    }
  }
  const std::map<std::string, Tensor> got =
      onnx_test::Evaluate(proto, {{"input", input}});
  for (size_t i = 0; i < count; ++i) {
    std::vector<std::vector<float>> outputs;
    interp.Run(xs[i].data(), &outputs);
    for (const FloatHead& head : model.heads) {
      const std::vector<float>& want = outputs[head.layer];
      auto it = got.find(head.name);
      ASSERT_NE(it, got.end()) << "no output " << head.name;
      ASSERT_EQ(it->second.dims,
                (std::vector<int64_t>{int64_t(count), int64_t(want.size())}));
      for (size_t j = 0; j < want.size(); ++j) {
        EXPECT_NEAR(it->second.data[i * want.size() + j], want[j],
                    1e-5 + 1e-4 * std::abs(want[j]))
            << "head " << head.name << " item " << i << " logit " << j;
      }
    }
  }
}

TEST(OnnxExportTest, ImageModelParsesChecksAndInfersShapes) {
  OnnxExportOptions options;
  options.model_name = "shapes_cnn";
  options.producer_version = "abc123";
  options.metadata["kiln.train_params"] = "{}";
  onnx::ModelProto m = ExportAndParse(ImageModel(1), options);
  EXPECT_EQ(m.ir_version(), 7);
  EXPECT_EQ(m.producer_name(), "kiln");
  EXPECT_EQ(m.producer_version(), "abc123");
  ASSERT_EQ(m.opset_import_size(), 1);
  EXPECT_EQ(m.opset_import(0).domain(), "");
  EXPECT_EQ(m.opset_import(0).version(), 13);
  EXPECT_EQ(m.graph().name(), "shapes_cnn");
  EXPECT_NO_THROW(onnx::checker::check_model(m));
  EXPECT_NO_THROW(
      onnx::shape_inference::InferShapes(m, onnx::OpSchemaRegistry::Instance(),
                                         onnx::ShapeInferenceOptions(true, 1)));

  ASSERT_EQ(m.graph().input_size(), 1);
  EXPECT_EQ(m.graph().input(0).name(), "input");
  EXPECT_EQ(m.graph().input(0).type().tensor_type().shape().dim(0).dim_param(),
            "batch");
  EXPECT_EQ(Dims(m.graph().input(0)), (std::vector<int64_t>{-1, 3, 6, 5}));
  ASSERT_EQ(m.graph().output_size(), 2);
  EXPECT_EQ(m.graph().output(0).name(), "shape");
  EXPECT_EQ(Dims(m.graph().output(0)), (std::vector<int64_t>{-1, 4}));
  EXPECT_EQ(m.graph().output(1).name(), "color");
  EXPECT_EQ(Dims(m.graph().output(1)), (std::vector<int64_t>{-1, 3}));

  // Inferred intermediate shapes are in the file (Netron shows them).
  std::map<std::string, std::vector<int64_t>> inferred;
  for (const auto& v : m.graph().value_info()) inferred[v.name()] = Dims(v);
  EXPECT_EQ(inferred["stem"], (std::vector<int64_t>{-1, 4, 5, 4}));
  EXPECT_EQ(inferred["dw"], (std::vector<int64_t>{-1, 8, 3, 2}));
  EXPECT_EQ(inferred["avg"], (std::vector<int64_t>{-1, 8, 2, 1}));
  EXPECT_EQ(inferred["gap"], (std::vector<int64_t>{-1, 8}));

  // Op types and the attributes that carry Kiln's semantics.
  std::map<std::string, int> ops;
  for (const onnx::NodeProto& n : m.graph().node()) {
    ++ops[n.op_type()];
    if (n.op_type() == "AveragePool") {
      EXPECT_EQ(onnx_test::IntAttr(n, "count_include_pad", -1), 0);
    }
    if (n.op_type() == "Gemm") {
      EXPECT_EQ(onnx_test::IntAttr(n, "transB", 0), 1);
    }
    if (n.op_type() == "Conv" && n.output(0) == "dw/linear") {
      EXPECT_EQ(onnx_test::IntAttr(n, "group", 0), 4);
      EXPECT_EQ(onnx_test::IntsAttr(n, "strides", {}),
                (std::vector<int64_t>{2, 2}));
    }
    if (n.op_type() == "Conv" && n.output(0) == "stem/linear") {
      EXPECT_EQ(onnx_test::IntsAttr(n, "pads", {}),
                (std::vector<int64_t>{1, 2, 0, 1}));
      EXPECT_EQ(onnx_test::IntsAttr(n, "dilations", {}),
                (std::vector<int64_t>{1, 2}));
    }
  }
  EXPECT_EQ(ops["Conv"], 2);
  EXPECT_EQ(ops["Relu"], 2);
  EXPECT_EQ(ops["Clip"], 1);
  EXPECT_EQ(ops["MaxPool"], 1);
  EXPECT_EQ(ops["AveragePool"], 1);
  EXPECT_EQ(ops["GlobalAveragePool"], 1);
  EXPECT_EQ(ops["Gemm"], 3);
  EXPECT_EQ(ops["Flatten"], 2);  // after GAP, before the spatial FC

  // Metadata.
  EXPECT_EQ(Metadata(m, "kiln.model_name"), "shapes_cnn");
  EXPECT_EQ(Metadata(m, "kiln.train_params"), "{}");
  EXPECT_NE(Metadata(m, "kiln.input").find("NCHW"), std::string::npos);
  EXPECT_EQ(std::stof(Metadata(m, "kiln.input_scale_real")), 1.0f / 255.0f);
  EXPECT_EQ(nlohmann::json::parse(Metadata(m, "kiln.head.color.labels")),
            nlohmann::json({"red", "green", "blue"}));
  const nlohmann::json policy =
      nlohmann::json::parse(Metadata(m, "kiln.head.color.policy"));
  EXPECT_EQ(policy["top_k"], 2);
  EXPECT_EQ(policy["confidence"], "TOPK_PROB");
  EXPECT_FLOAT_EQ(policy["threshold"].get<float>(), 0.75f);
  const nlohmann::json heads = nlohmann::json::parse(Metadata(m, "kiln.heads"));
  ASSERT_EQ(heads.size(), 2u);
  EXPECT_EQ(heads[0]["name"], "shape");
  EXPECT_EQ(heads[0]["labels"][3], "cross");
  EXPECT_EQ(heads[0]["policy"]["top_k"], 1);
}

TEST(OnnxExportTest, ImageModelMatchesTheFloatInterpreter) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE(seed);
    ExpectSameOutputs(ImageModel(seed), 4, seed + 100);
  }
}

TEST(OnnxExportTest, FeatureModelMatchesTheFloatInterpreter) {
  const onnx::ModelProto m = ExportAndParse(FeatureModel(7));
  EXPECT_EQ(Dims(m.graph().input(0)), (std::vector<int64_t>{-1, 7}));
  ASSERT_EQ(m.graph().output_size(), 1);
  EXPECT_EQ(m.graph().output(0).name(), "iris");
  EXPECT_EQ(Metadata(m, "kiln.input_scale_real"), "1");
  for (const onnx::NodeProto& n : m.graph().node()) {
    EXPECT_NE(n.op_type(), "Flatten") << "a flat input needs no Flatten";
  }
  ExpectSameOutputs(FeatureModel(7), 5, 8);
  ExpectSameOutputs(FeatureModel(9), 5, 10);
}

// A wide path beside the deep one: fc3's logits plus an FC of the input.
TEST(OnnxExportTest, AddLayerBecomesAnAddNode) {
  FloatModel m = FeatureModel(11);
  std::mt19937 rng(12);
  m.layers.push_back(Fc("wide", -1, 3, 7, &rng));
  FloatLayer sum;
  sum.kind = LayerKind::kAdd;
  sum.name = "sum";
  sum.input = 2;
  sum.input2 = 3;
  sum.activation = Activation::kRelu;
  m.layers.push_back(sum);
  m.heads[0].layer = 4;
  const onnx::ModelProto p = ExportAndParse(m);
  int adds = 0;
  for (const onnx::NodeProto& n : p.graph().node())
    adds += n.op_type() == "Add";
  EXPECT_EQ(adds, 1);
  ExpectSameOutputs(m, 6, 13);
}

// A uint8 feature model: x = raw * input_scale_real, [batch, D].
TEST(OnnxExportTest, Uint8FeatureModelTakesScaledValues) {
  FloatModel m = FeatureModel(3);
  m.uint8_input = true;
  m.input_scale_real = 0.5f;
  ExpectSameOutputs(m, 3, 4);
}

// Element positions on tiny tensors: conv OHWI -> OIHW and the FC's
// HWC -> CHW column permutation, checked index by index against formulas
// written independently of the exporter's loops.
TEST(OnnxExportTest, WeightsLandInOnnxLayouts) {
  FloatModel m;
  m.input_shape = {2, 3, 2};  // H, W, C
  FloatLayer conv;
  conv.kind = LayerKind::kConv2D;
  conv.name = "c";
  conv.weight_shape = {3, 2, 1, 2};  // O, KH, KW, I -> output [1, 3, 3]
  for (int i = 0; i < 12; ++i) conv.weights.push_back(float(i));
  conv.bias = {10, 11, 12};
  m.layers.push_back(conv);
  FloatLayer fc;
  fc.kind = LayerKind::kFullyConnected;
  fc.name = "f";
  fc.input = 0;
  fc.weight_shape = {2, 9};  // over [1, 3, 3] HWC
  for (int i = 0; i < 18; ++i) fc.weights.push_back(100.0f + i);
  m.layers.push_back(fc);
  FloatHead head;
  head.name = "out";
  head.layer = 1;
  m.heads.push_back(head);

  const onnx::ModelProto proto = ExportAndParse(m);
  const onnx::TensorProto* cw = FindInitializer(proto, "c.weight");
  ASSERT_NE(cw, nullptr);
  const Tensor w = onnx_test::FromProto(*cw);
  ASSERT_EQ(w.dims, (std::vector<int64_t>{3, 2, 2, 1}));  // O, I, KH, KW
  for (int o = 0; o < 3; ++o)
    for (int i = 0; i < 2; ++i)
      for (int y = 0; y < 2; ++y) {
        // Kiln: o * (KH*KW*I) + y * (KW*I) + i, with KW = 1, I = 2.
        EXPECT_EQ(w.data[o * 4 + i * 2 + y], float(o * 4 + y * 2 + i))
            << o << " " << i << " " << y;
      }
  const Tensor cb = onnx_test::FromProto(*FindInitializer(proto, "c.bias"));
  EXPECT_EQ(cb.data, (std::vector<float>{10, 11, 12}));
  EXPECT_EQ(FindInitializer(proto, "out.bias"), nullptr);  // none in Kiln

  // The FC reads [1, 3, 3] (H=1, W=3, C=3). ONNX column c*3 + x must hold
  // Kiln column x*3 + c.
  const onnx::TensorProto* fw = FindInitializer(proto, "out.weight");
  ASSERT_NE(fw, nullptr);
  const Tensor f = onnx_test::FromProto(*fw);
  ASSERT_EQ(f.dims, (std::vector<int64_t>{2, 9}));
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int x = 0; x < 3; ++x) {
        EXPECT_EQ(f.data[n * 9 + c * 3 + x], 100.0f + n * 9 + x * 3 + c)
            << n << " " << c << " " << x;
      }
  // And the whole thing still computes what Kiln computes.
  ExpectSameOutputs(m, 2, 5);
}

// Two heads on one layer: the second reads it through an Identity; layer
// names that clash with each other or are empty still give unique tensors.
TEST(OnnxExportTest, SharedHeadLayerAndClashingNames) {
  FloatModel m = FeatureModel(11);
  m.layers[0].name = "";
  m.layers[1].name = "fc3";  // same as the last layer
  m.layers[2].name = "fc3";
  m.heads.push_back(Head("iris_copy", 2, {}));
  const onnx::ModelProto proto = ExportAndParse(m);
  ASSERT_EQ(proto.graph().output_size(), 2);
  EXPECT_EQ(proto.graph().output(1).name(), "iris_copy");
  std::set<std::string> outputs;
  for (const onnx::NodeProto& n : proto.graph().node()) {
    EXPECT_TRUE(outputs.insert(n.output(0)).second) << n.output(0);
  }
  EXPECT_EQ(outputs.count("iris_copy"), 1u);
  ExpectSameOutputs(m, 3, 12);
}

TEST(OnnxExportTest, RefusesWhatItCannotWriteFaithfully) {
  std::vector<uint8_t> bytes = {1, 2, 3};
  std::string error;
  auto refuses = [&](const FloatModel& m, const std::string& why,
                     const OnnxExportOptions& options = {}) {
    error.clear();
    EXPECT_FALSE(ExportFloatModelToOnnx(m, options, &bytes, &error)) << why;
    EXPECT_NE(error.find(why), std::string::npos) << error;
    EXPECT_TRUE(bytes.empty());
  };
  FloatModel m = FeatureModel(1);
  m.layers[1].weights[3] = NAN;
  refuses(m, "non-finite");
  m = FeatureModel(1);
  m.heads.push_back(Head("iris", 1, {}));
  refuses(m, "two heads are named 'iris'");
  m = FeatureModel(1);
  m.heads[0].name = "input";
  refuses(m, "collide");
  m = FeatureModel(1);
  m.heads.clear();
  refuses(m, "no heads");
  m = FeatureModel(1);
  m.heads[0].labels.pop_back();
  refuses(m, "2 labels for 3 logits");
  m = FeatureModel(1);
  m.layers[1].input = 2;  // not an earlier layer
  refuses(m, "not an earlier layer");
  m = FeatureModel(1);
  OnnxExportOptions clash;
  clash.metadata["kiln.heads"] = "x";
  refuses(m, "metadata key 'kiln.heads'", clash);
  m = ImageModel(1);
  m.layers[2].pool.pad_bottom = 2;  // window 2: padding-only windows
  refuses(m, "pool padding");
  m = ImageModel(1);
  m.input_scale_real = 0.0f;
  refuses(m, "input_scale_real");
  m = ImageModel(1);
  m.layers[0].conv.dilation_h = 0;
  refuses(m, "non-positive stride/dilation");
  m = ImageModel(1);
  m.layers[1].conv.pad_left = -1;
  refuses(m, "negative padding");
}

// Kiln -> ONNX -> Kiln: the importer (ImportOnnxBytes) lowers the exported
// file back to Kiln layouts, and its float interpreter computes what
// FloatInterpreter computes on the original model.
TEST(OnnxExportTest, RoundTripsThroughTheImporter) {
  for (const FloatModel& model : {ImageModel(4), FeatureModel(4)}) {
    const bool image = model.input_shape.size() == 3;
    SCOPED_TRACE(image ? "image model" : "feature model");
    std::vector<uint8_t> bytes;
    std::string error;
    ASSERT_TRUE(ExportFloatModelToOnnx(model, {}, &bytes, &error)) << error;
    onnx_import::ImportedGraph graph;
    ASSERT_TRUE(onnx_import::ImportOnnxBytes(bytes.data(), bytes.size(), &graph,
                                             &error))
        << error;
    EXPECT_EQ(graph.input_was_nchw, image);
    EXPECT_EQ(graph.values[graph.input].shape, model.input_shape);
    ASSERT_EQ(graph.outputs.size(), model.heads.size());
    onnx_import::GraphInterpreter imported;
    ASSERT_TRUE(imported.Init(graph, &error)) << error;
    train::FloatInterpreter original;
    ASSERT_TRUE(original.Init(model, &error)) << error;
    ASSERT_EQ(imported.input_size(), original.input_elements());

    std::mt19937 rng(21);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (int item = 0; item < 4; ++item) {
      std::vector<float> x(original.input_elements());
      for (float& v : x) v = u(rng);  // HWC, as both interpreters take it
      std::vector<std::vector<float>> want, got;
      original.Run(x.data(), &want);
      imported.Run(x.data(), &got);
      for (size_t h = 0; h < model.heads.size(); ++h) {
        const onnx_import::ImportedOutput& out = graph.outputs[h];
        EXPECT_EQ(out.name, model.heads[h].name);
        // The heads come back from the metadata: logits, labels, policy.
        EXPECT_EQ(out.logits, out.value);
        EXPECT_EQ(out.labels, model.heads[h].labels);
        ASSERT_TRUE(out.policy.has_value());
        EXPECT_EQ(out.policy->top_k, model.heads[h].policy.top_k);
        EXPECT_EQ(out.policy->confidence, model.heads[h].policy.confidence);
        EXPECT_FLOAT_EQ(out.policy->threshold_real,
                        model.heads[h].policy.threshold_real);
        const std::vector<float>& w = want[model.heads[h].layer];
        const std::vector<float>& g = got[out.value];
        ASSERT_EQ(g.size(), w.size()) << out.name;
        for (size_t j = 0; j < w.size(); ++j) {
          EXPECT_NEAR(g[j], w[j], 1e-5 + 1e-4 * std::abs(w[j]))
              << out.name << " item " << item << " logit " << j;
        }
      }
    }
  }
}

// Python's onnx (Debian's python3-onnx) loads and fully checks the file:
// another implementation's reading of the same bytes.
TEST(OnnxExportTest, PythonOnnxAcceptsTheFile) {
  if (system("/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3-onnx is not installed";
  }
  testing::ScratchDir dir;
  for (const auto& [name, model] :
       {std::make_pair("image", ImageModel(5)),
        std::make_pair("features", FeatureModel(5))}) {
    std::vector<uint8_t> bytes;
    std::string error;
    ASSERT_TRUE(ExportFloatModelToOnnx(model, {}, &bytes, &error)) << error;
    const std::string path = dir.Path(std::string(name) + ".onnx");
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    const std::string script =
        "import onnx, sys\n"
        "m = onnx.load(sys.argv[1])\n"
        "onnx.checker.check_model(m, full_check=True)\n"
        "i = onnx.shape_inference.infer_shapes(m, check_type=True, "
        "strict_mode=True)\n"
        "outs = [[d.dim_param or d.dim_value for d in "
        "o.type.tensor_type.shape.dim] for o in i.graph.output]\n"
        "print(m.producer_name, len(m.graph.node), outs)\n";
    std::ofstream(dir.Path("check.py")) << script;
    const std::string out = dir.Path("out.txt");
    const int rc = system(("/usr/bin/python3 " + dir.Path("check.py") + " " +
                           path + " >" + out + " 2>&1")
                              .c_str());
    std::ifstream in(out);
    const std::string text((std::istreambuf_iterator<char>(in)),
                           std::istreambuf_iterator<char>());
    EXPECT_EQ(rc, 0) << text;
    EXPECT_EQ(text.find("kiln "), 0u) << text;
    EXPECT_NE(text.find("'batch'"), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace kiln
