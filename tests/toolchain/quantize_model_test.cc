#include "toolchain/train/quantize_model.h"

#include <gtest/gtest.h>
#include <math.h>

#include <random>

#include "toolchain/model_def.h"

namespace kiln {
namespace train {
namespace {

std::vector<float> Random(std::mt19937* rng, size_t n, float limit) {
  std::uniform_real_distribution<float> d(-limit, limit);
  std::vector<float> v(n);
  for (float& x : v) x = d(*rng);
  return v;
}

// Sets every layer's Range (and the input's) to what the float network
// produces on `items`: a well-calibrated model.
void Calibrate(FloatModel* model, const void* items, size_t count) {
  FloatInterpreter interp;
  std::string error;
  ASSERT_TRUE(interp.Init(*model, &error)) << error;
  const size_t item_bytes =
      interp.input_elements() * (model->uint8_input ? 1 : sizeof(float));
  std::vector<std::vector<float>> out;
  std::vector<Range> r(model->layers.size(), Range{1e30f, -1e30f});
  for (size_t i = 0; i < count; ++i) {
    interp.RunRaw(static_cast<const uint8_t*>(items) + i * item_bytes, &out);
    for (size_t l = 0; l < out.size(); ++l) {
      for (float v : out[l]) {
        r[l].min = std::min(r[l].min, v);
        r[l].max = std::max(r[l].max, v);
      }
    }
  }
  for (size_t l = 0; l < r.size(); ++l) model->layers[l].output = r[l];
  if (!model->uint8_input) {
    const float* f = static_cast<const float*>(items);
    Range in{1e30f, -1e30f};
    for (size_t i = 0; i < count * interp.input_elements(); ++i) {
      in.min = std::min(in.min, f[i]);
      in.max = std::max(in.max, f[i]);
    }
    model->input = in;
  }
}

// conv3x3(8, relu) -> maxpool 2x2 -> conv3x3 stride 2 (8, relu6) -> GAP ->
// FC 8 -> 4 (head "class").
FloatModel SmallCnn(uint32_t seed) {
  std::mt19937 rng(seed);
  FloatModel m;
  m.input_shape = {8, 8, 2};
  m.uint8_input = true;
  m.input_scale_real = 1.0f / 255.0f;
  FloatLayer c1;
  c1.kind = LayerKind::kConv2D;
  c1.name = "conv1";
  c1.weight_shape = {8, 3, 3, 2};
  c1.weights = Random(&rng, 8 * 9 * 2, 0.5f);
  c1.bias = Random(&rng, 8, 0.1f);
  c1.conv.pad_top = c1.conv.pad_left = c1.conv.pad_bottom = c1.conv.pad_right =
      1;
  c1.activation = Activation::kRelu;
  m.layers.push_back(c1);
  FloatLayer p;
  p.kind = LayerKind::kMaxPool2D;
  p.name = "pool";
  p.input = 0;
  p.pool.filter_h = p.pool.filter_w = 2;
  p.pool.stride_h = p.pool.stride_w = 2;
  m.layers.push_back(p);
  FloatLayer c2 = c1;
  c2.name = "conv2";
  c2.input = 1;
  c2.weight_shape = {8, 3, 3, 8};
  c2.weights = Random(&rng, 8 * 9 * 8, 0.3f);
  c2.bias = Random(&rng, 8, 0.1f);
  c2.conv.stride_h = c2.conv.stride_w = 2;
  c2.activation = Activation::kRelu6;
  m.layers.push_back(c2);
  FloatLayer g;
  g.kind = LayerKind::kGlobalAveragePool;
  g.name = "gap";
  g.input = 2;
  m.layers.push_back(g);
  FloatLayer fc;
  fc.kind = LayerKind::kFullyConnected;
  fc.name = "logits";
  fc.input = 3;
  fc.weight_shape = {4, 8};
  fc.weights = Random(&rng, 32, 1.0f);
  fc.bias = Random(&rng, 4, 0.1f);
  m.layers.push_back(fc);
  FloatHead h;
  h.name = "class";
  h.layer = 4;
  h.labels = {"a", "b", "c", "d"};
  m.heads.push_back(h);
  return m;
}

// Float features [6] -> FC 16 relu -> flattenless FC 3 (head).
FloatModel SmallMlp(uint32_t seed) {
  std::mt19937 rng(seed);
  FloatModel m;
  m.input_shape = {6};
  m.uint8_input = false;
  FloatLayer f1;
  f1.kind = LayerKind::kFullyConnected;
  f1.name = "fc1";
  f1.weight_shape = {16, 6};
  f1.weights = Random(&rng, 96, 0.6f);
  f1.bias = Random(&rng, 16, 0.1f);
  f1.activation = Activation::kRelu;
  m.layers.push_back(f1);
  FloatLayer f2;
  f2.kind = LayerKind::kFullyConnected;
  f2.name = "fc2";
  f2.input = 0;
  f2.weight_shape = {3, 16};
  f2.weights = Random(&rng, 48, 0.5f);
  f2.bias = Random(&rng, 3, 0.1f);
  m.layers.push_back(f2);
  FloatHead h;
  h.name = "y";
  h.layer = 1;
  m.heads.push_back(h);
  return m;
}

// SmallMlp plus a wide path: FC straight from the input to 3 logits, added
// to the deep logits; the head reads the sum.
FloatModel WideAndDeepMlp(uint32_t seed) {
  FloatModel m = SmallMlp(seed);
  std::mt19937 rng(seed + 1000);
  FloatLayer wide;
  wide.kind = LayerKind::kFullyConnected;
  wide.name = "wide";
  wide.input = -1;
  wide.weight_shape = {3, 6};
  wide.weights = Random(&rng, 18, 0.8f);
  wide.bias = Random(&rng, 3, 0.1f);
  m.layers.push_back(wide);
  FloatLayer sum;
  sum.kind = LayerKind::kAdd;
  sum.name = "sum";
  sum.input = 1;
  sum.input2 = 2;
  m.layers.push_back(sum);
  m.heads[0].layer = 3;
  return m;
}

std::vector<uint8_t> RandomPixels(uint32_t seed, size_t n) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<uint8_t> v(n);
  for (uint8_t& x : v) x = static_cast<uint8_t>(d(rng));
  return v;
}

std::vector<float> RandomFeatures(uint32_t seed, size_t n) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// Runs the int8 model and checks the head logits against the float ones
// within `steps` quantization steps of the logits.
void ExpectMatchesFloat(const FloatModel& m, const void* items, size_t count,
                        double steps) {
  std::vector<uint8_t> bytes;
  std::string error;
  ASSERT_TRUE(QuantizeModelToBytes(m, QuantizeOptions(), &bytes, &error))
      << error;
  KilnRunner runner;
  ASSERT_TRUE(runner.Load(bytes, 16, &error)) << error;
  std::vector<std::vector<uint8_t>> outputs;
  ASSERT_TRUE(runner.Run(items, count, &outputs, nullptr, &error)) << error;
  ASSERT_EQ(runner.num_outputs(), 1);
  const kiln_tensor_info info = runner.output_info(0);
  FloatInterpreter interp;
  ASSERT_TRUE(interp.Init(m, &error)) << error;
  const size_t item_bytes =
      interp.input_elements() * (m.uint8_input ? 1 : sizeof(float));
  std::vector<std::vector<float>> ref;
  double worst = 0.0;
  for (size_t i = 0; i < count; ++i) {
    interp.RunRaw(static_cast<const uint8_t*>(items) + i * item_bytes, &ref);
    const std::vector<float>& f = ref.back();
    ASSERT_EQ(f.size(), info.item_bytes);
    for (size_t c = 0; c < f.size(); ++c) {
      const int8_t q = static_cast<int8_t>(outputs[0][i * f.size() + c]);
      const double deq = info.scale * (double(q) - info.zero_point);
      worst = std::max(worst, fabs(deq - f[c]) / info.scale);
    }
  }
  EXPECT_LE(worst, steps) << "worst error in logit steps";
  EXPECT_GT(worst, 0.0);  // it is quantized after all
}

TEST(QuantizeModel, ActivationParams) {
  QuantParams q;
  std::string error;
  ASSERT_TRUE(
      ActivationQuantParams({0.0f, 1.0f}, Activation::kNone, &q, &error));
  EXPECT_FLOAT_EQ(q.scale, 1.0f / 255.0f);
  EXPECT_EQ(q.zero_point, -128);
  // Widened to include 0.
  ASSERT_TRUE(
      ActivationQuantParams({2.0f, 4.0f}, Activation::kNone, &q, &error));
  EXPECT_FLOAT_EQ(q.scale, 4.0f / 255.0f);
  EXPECT_EQ(q.zero_point, -128);
  ASSERT_TRUE(
      ActivationQuantParams({-3.0f, -1.0f}, Activation::kNone, &q, &error));
  EXPECT_EQ(q.zero_point, 127);
  ASSERT_TRUE(
      ActivationQuantParams({-1.0f, 3.0f}, Activation::kNone, &q, &error));
  EXPECT_FLOAT_EQ(q.scale, 4.0f / 255.0f);
  EXPECT_EQ(q.zero_point, -64);  // round(-128 + 63.75)
  // ReLU starts at 0.
  ASSERT_TRUE(
      ActivationQuantParams({-5.0f, 2.0f}, Activation::kRelu, &q, &error));
  EXPECT_FLOAT_EQ(q.scale, 2.0f / 255.0f);
  EXPECT_EQ(q.zero_point, -128);
  // Degenerate.
  ASSERT_TRUE(
      ActivationQuantParams({0.0f, 0.0f}, Activation::kNone, &q, &error));
  EXPECT_GT(q.scale, 0.0f);
  EXPECT_FALSE(
      ActivationQuantParams({NAN, 1.0f}, Activation::kNone, &q, &error));
}

TEST(QuantizeModel, CnnMatchesFloatInterpreter) {
  FloatModel m = SmallCnn(1);
  const std::vector<uint8_t> calib = RandomPixels(2, 64 * 128);
  Calibrate(&m, calib.data(), 64);
  const std::vector<uint8_t> test = RandomPixels(3, 64 * 128);
  ExpectMatchesFloat(m, test.data(), 64, 6.0);
}

TEST(QuantizeModel, MlpFloatInputMatchesFloatInterpreter) {
  FloatModel m = SmallMlp(5);
  const std::vector<float> calib = RandomFeatures(6, 200 * 6);
  Calibrate(&m, calib.data(), 200);
  const std::vector<float> test = RandomFeatures(7, 100 * 6);
  // Test data may fall outside the calibration range a little: clip.
  std::vector<float> clipped = test;
  for (float& v : clipped) v = std::min(std::max(v, m.input.min), m.input.max);
  ExpectMatchesFloat(m, clipped.data(), 100, 4.0);
}

TEST(QuantizeModel, AddOfTwoPathsMatchesFloatInterpreter) {
  FloatModel m = WideAndDeepMlp(11);
  const std::vector<float> calib = RandomFeatures(12, 200 * 6);
  Calibrate(&m, calib.data(), 200);
  std::vector<float> test = RandomFeatures(13, 100 * 6);
  for (float& v : test) v = std::min(std::max(v, m.input.min), m.input.max);
  // Both summands carry their own quantization error, measured in steps
  // of the (narrower) sum.
  ExpectMatchesFloat(m, test.data(), 100, 12.0);

  // The float sum is the sum of its summands.
  FloatInterpreter interp;
  std::string error;
  ASSERT_TRUE(interp.Init(m, &error)) << error;
  std::vector<std::vector<float>> out;
  interp.Run(test.data(), &out);
  for (size_t c = 0; c < 3; ++c)
    EXPECT_FLOAT_EQ(out[3][c], out[1][c] + out[2][c]);

  // The int8 sum is the sum of the int8 summands, to within one step.
  QuantizeOptions o;
  o.expose_layer_outputs = true;
  QuantizedLayout layout;
  ModelBuilder b;
  ASSERT_TRUE(BuildKilnModel(m, o, &b, &layout, &error)) << error;
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(b.Build(&bytes, &error)) << error;
  KilnRunner runner;
  ASSERT_TRUE(runner.Load(bytes, 16, &error)) << error;
  std::vector<std::vector<uint8_t>> q;
  ASSERT_TRUE(runner.Run(test.data(), 100, &q, nullptr, &error)) << error;
  auto deq = [&](int layer, size_t e) {
    const kiln_tensor_info t = runner.output_info(layout.layer_output[layer]);
    const int8_t v = static_cast<int8_t>(q[layout.layer_output[layer]][e]);
    return t.scale * (double(v) - t.zero_point);
  };
  const double step = runner.output_info(layout.layer_output[3]).scale;
  double worst = 0;
  size_t saturated = 0;
  for (size_t e = 0; e < 300; ++e) {
    // A test item may sum past the calibrated range: the sum clamps there.
    const int8_t raw = static_cast<int8_t>(q[layout.layer_output[3]][e]);
    if (raw == 127 || raw == -128) {
      ++saturated;
      continue;
    }
    worst = std::max(worst, fabs(deq(3, e) - deq(1, e) - deq(2, e)) / step);
  }
  EXPECT_LT(saturated, 10u);
  EXPECT_LE(worst, 1.0);

  // A summand may be the model input itself.
  FloatModel self = SmallMlp(11);
  FloatLayer twice;
  twice.kind = LayerKind::kAdd;
  twice.name = "twice";
  twice.input = -1;
  twice.input2 = -1;
  self.layers.insert(self.layers.begin(), twice);
  self.layers[1].input = 0;
  self.layers[2].input = 1;
  self.heads[0].layer = 2;
  Calibrate(&self, calib.data(), 200);
  ExpectMatchesFloat(self, test.data(), 100, 5.0);
}

TEST(QuantizeModel, GraphShapeMetadataAndDeterminism) {
  FloatModel m = SmallCnn(1);
  const std::vector<uint8_t> calib = RandomPixels(2, 16 * 128);
  Calibrate(&m, calib.data(), 16);
  m.heads[0].policy = {2, ConfidenceKind::kTopKProb, 0.75f};
  QuantizeOptions o;
  o.model_name = "cnn";
  o.model_version = "2.1.0";
  o.params_json = "{\"epochs\":3}";
  o.training_data_hash = std::string(64, 'a');
  o.metrics["valid_top1"] = 0.5;
  ModelBuilder b;
  std::string error;
  ASSERT_TRUE(BuildKilnModel(m, o, &b, &error)) << error;
  ModelDef def;
  ASSERT_TRUE(b.Finish(&def, &error)) << error;
  ASSERT_TRUE(def.metadata.has_value());
  EXPECT_EQ(def.metadata->model_name, "cnn");
  EXPECT_EQ(def.metadata->model_version, "2.1.0");
  EXPECT_EQ(def.metadata->training_data_hash, std::string(64, 'a'));
  ASSERT_EQ(def.metadata->metrics.size(), 1u);
  EXPECT_EQ(def.metadata->metrics[0].key, "valid_top1");
  bool found = false;
  for (const KeyValueDef& kv : def.metadata->properties) {
    found = found || (kv.key == "train_params" && kv.value == o.params_json);
  }
  EXPECT_TRUE(found);
  // UINT8 input, Quantize, a flatten before nothing (GAP gives [C]).
  ASSERT_EQ(def.inputs.size(), 1u);
  EXPECT_EQ(def.tensors[def.inputs[0]].type, DType::kUInt8);
  ASSERT_EQ(def.heads.size(), 1u);
  EXPECT_EQ(def.heads[0].policy.top_k, 2);
  EXPECT_EQ(def.heads[0].policy.threshold, lround(0.75 * 65536));

  std::vector<uint8_t> a, c;
  ASSERT_TRUE(QuantizeModelToBytes(m, o, &a, &error)) << error;
  ASSERT_TRUE(QuantizeModelToBytes(m, o, &c, &error)) << error;
  EXPECT_EQ(a, c);
}

TEST(QuantizeModel, FlattensSpatialInputOfFullyConnected) {
  FloatModel m = SmallCnn(3);
  // Replace GAP + FC with FC straight on the [2, 2, 8] conv2 output.
  m.layers.erase(m.layers.begin() + 3);
  m.layers[3].input = 2;
  m.layers[3].weight_shape = {4, 32};
  std::mt19937 rng(9);
  m.layers[3].weights = Random(&rng, 128, 0.3f);
  m.heads[0].layer = 3;
  const std::vector<uint8_t> calib = RandomPixels(4, 32 * 128);
  Calibrate(&m, calib.data(), 32);
  ExpectMatchesFloat(m, calib.data(), 32, 4.0);
}

TEST(QuantizeModel, RejectsInconsistentModels) {
  std::string error;
  ModelBuilder b;
  FloatModel m = SmallCnn(1);
  m.layers[2].input = 3;  // forward reference
  EXPECT_FALSE(BuildKilnModel(m, QuantizeOptions(), &b, &error));
  m = SmallCnn(1);
  m.layers[4].weights.pop_back();
  EXPECT_FALSE(BuildKilnModel(m, QuantizeOptions(), &b, &error));
  m = SmallCnn(1);
  m.heads[0].layer = 2;  // [H, W, C], not logits [classes]
  EXPECT_FALSE(BuildKilnModel(m, QuantizeOptions(), &b, &error));
  EXPECT_NE(error.find("logits"), std::string::npos) << error;

  m = WideAndDeepMlp(1);
  m.layers[3].input2 = 0;  // [16] + [3]
  EXPECT_FALSE(BuildKilnModel(m, QuantizeOptions(), &b, &error));
  EXPECT_NE(error.find("differ in shape"), std::string::npos) << error;
  m = WideAndDeepMlp(1);
  m.layers[3].input2 = 3;  // itself
  EXPECT_FALSE(BuildKilnModel(m, QuantizeOptions(), &b, &error));
  EXPECT_NE(error.find("input2"), std::string::npos) << error;
  m = WideAndDeepMlp(1);
  m.layers[3].input2 = -2;
  EXPECT_FALSE(BuildKilnModel(m, QuantizeOptions(), &b, &error));
}

TEST(LayerErrorReport, HighSqnrWhenWellCalibrated) {
  FloatModel m = SmallCnn(11);
  const std::vector<uint8_t> calib = RandomPixels(12, 128 * 128);
  Calibrate(&m, calib.data(), 128);
  LayerErrorTable t;
  std::string error;
  ASSERT_TRUE(LayerErrorReport(m, calib.data(), 128, &t, &error)) << error;
  ASSERT_EQ(t.layers.size(), m.layers.size());
  for (const LayerError& e : t.layers) {
    EXPECT_GT(e.sqnr_db, 25.0) << e.name;
    EXPECT_GT(e.local_sqnr_db, 25.0) << e.name;
  }
  const std::string text = FormatLayerErrorTable(t);
  EXPECT_NE(text.find("| conv2 | conv2d |"), std::string::npos) << text;
  EXPECT_NE(text.find("(inherited)"), std::string::npos) << text;
  EXPECT_NE(text.find("Worst layer"), std::string::npos);
}

TEST(LayerErrorReport, PointsAtMiscalibratedLayer) {
  for (const char* target : {"logits", "conv1"}) {
    FloatModel m = SmallCnn(11);
    const std::vector<uint8_t> calib = RandomPixels(12, 128 * 128);
    Calibrate(&m, calib.data(), 128);
    size_t index = 0;
    for (size_t l = 0; l < m.layers.size(); ++l) {
      if (m.layers[l].name == target) index = l;
    }
    m.layers[index].output.min /= 50.0f;
    m.layers[index].output.max /= 50.0f;
    LayerErrorTable t;
    std::string error;
    ASSERT_TRUE(LayerErrorReport(m, calib.data(), 128, &t, &error)) << error;
    ASSERT_GE(t.worst, 0);
    EXPECT_EQ(t.layers[t.worst].name, target) << FormatLayerErrorTable(t);
    EXPECT_LT(t.layers[t.worst].local_sqnr_db, 15.0);
    EXPECT_LT(t.layers[t.worst].sqnr_db, 15.0);
    // Upstream of the culprit nothing changed.
    for (size_t l = 0; l < index; ++l) {
      EXPECT_GT(t.layers[l].sqnr_db, 25.0) << t.layers[l].name;
    }
  }
}

TEST(LayerErrorReport, MlpOnFloatInput) {
  FloatModel m = SmallMlp(21);
  const std::vector<float> calib = RandomFeatures(22, 300 * 6);
  Calibrate(&m, calib.data(), 300);
  LayerErrorTable t;
  std::string error;
  ASSERT_TRUE(LayerErrorReport(m, calib.data(), 300, &t, &error)) << error;
  for (const LayerError& e : t.layers) EXPECT_GT(e.sqnr_db, 25.0) << e.name;
}

}  // namespace
}  // namespace train
}  // namespace kiln
