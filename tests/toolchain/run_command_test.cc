// `kiln run`: a colour classifier and a feature model built here, images
// written with stb_image_write (PNG, BMP) and by hand (PPM, PGM), CSV and
// .npy feature files, corrupt and mismatched inputs, text and JSON output.
#include <gtest/gtest.h>
#include <math.h>
#include <stb/stb_image_write.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/toolchain/cli_test_util.h"
#include "tests/toolchain/scratch_dir.h"
#include "tests/toolchain/toolchain_test_util.h"
#include "toolchain/atomic_file.h"
#include "toolchain/model_builder.h"
#include "toolchain/serialize.h"

namespace kiln {
namespace {

using testing::BuildOrFail;
using testing::Cli;
using testing::Contains;
using testing::ScratchDir;

// Logit c is 0.25 x the sum of channel c over the 4x4 image (in [0, 1]):
// a pure colour gives logits {4, 0, 0} in some order.
constexpr float kWeight = 0.25f;

ModelBuilder ColourModel(ResizeMode resize, bool with_spec = true) {
  ModelBuilder b;
  if (with_spec) {
    PreprocessDef pre;
    pre.layout = Layout::kNHWC;
    pre.channel_order = ChannelOrder::kRGB;
    pre.height = 4;
    pre.width = 4;
    pre.resize = resize;
    b.SetPreprocess(pre);
  }
  const TensorId px =
      b.AddInput("pixels", DType::kUInt8, {4, 4, 3}, 1.0f / 255.0f, 0);
  const TensorId x = b.Quantize(px, {1.0f / 255.0f, -128}, "to_int8");
  std::vector<float> w(3 * 48, 0.0f);
  for (int c = 0; c < 3; ++c) {
    for (int p = 0; p < 16; ++p) w[c * 48 + p * 3 + c] = kWeight;
  }
  const TensorId logits =
      b.FullyConnected(x, w, {3, 48}, {0.0f, 0.0f, 0.0f}, {0.05f, 0},
                       Activation::kNone, "logits");
  b.AddOutput(logits);
  b.AddHead("colour", logits, {"red", "green", "blue"},
            {2, ConfidenceKind::kTop1Prob, 0.6f});
  return b;
}

// Two logits copying features 0 and 1 after L2 normalization; the spec's
// mean/std make the raw rows "3,1,9" look like {1, 0.5, 4}.
ModelBuilder FeatureModel() {
  ModelBuilder b;
  PreprocessDef pre;
  pre.layout = Layout::kFlat;
  pre.mean = {1.0f, 0.0f, 1.0f};
  pre.std = {2.0f, 2.0f, 2.0f};
  pre.feature_norm = FeatureNorm::kL2;
  b.SetPreprocess(pre);
  const TensorId f = b.AddInput("features", DType::kFloat32, {3});
  const TensorId x = b.Quantize(f, {1.0f / 127.0f, 0}, "to_int8");
  const TensorId logits =
      b.FullyConnected(x, {4, 0, 0, 0, 4, 0}, {2, 3}, {0.0f, 0.0f}, {0.05f, 0},
                       Activation::kNone, "logits");
  b.AddOutput(logits);
  b.AddHead("which", logits, {"first", "second"},
            {1, ConfidenceKind::kMargin, 0.5f});
  return b;
}

std::string WriteModel(const ScratchDir& dir, const std::string& name,
                       const ModelBuilder& b) {
  const std::string path = dir.Path(name);
  std::string error;
  EXPECT_TRUE(WriteFileAtomic(path, BuildOrFail(b), &error)) << error;
  return path;
}

std::string WriteBytes(const ScratchDir& dir, const std::string& name,
                       const std::string& bytes) {
  const std::string path = dir.Path(name);
  std::string error;
  EXPECT_TRUE(WriteFileAtomic(
      path, std::vector<uint8_t>(bytes.begin(), bytes.end()), &error))
      << error;
  return path;
}

std::vector<uint8_t> Solid(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  std::vector<uint8_t> px;
  for (int i = 0; i < w * h; ++i) px.insert(px.end(), {r, g, b});
  return px;
}

std::string WritePng(const ScratchDir& dir, const std::string& name, int w,
                     int h, const std::vector<uint8_t>& rgb) {
  const std::string path = dir.Path(name);
  EXPECT_NE(stbi_write_png(path.c_str(), w, h, 3, rgb.data(), w * 3), 0);
  return path;
}

std::string WriteBmp(const ScratchDir& dir, const std::string& name, int w,
                     int h, const std::vector<uint8_t>& rgb) {
  const std::string path = dir.Path(name);
  EXPECT_NE(stbi_write_bmp(path.c_str(), w, h, 3, rgb.data()), 0);
  return path;
}

// Binary PPM (P6) or PGM (P5), written by hand.
std::string WritePnm(const ScratchDir& dir, const std::string& name, int w,
                     int h, int channels, const std::vector<uint8_t>& px) {
  std::string bytes = std::string(channels == 3 ? "P6" : "P5") + "\n" +
                      std::to_string(w) + " " + std::to_string(h) + "\n255\n";
  bytes.append(px.begin(), px.end());
  return WriteBytes(dir, name, bytes);
}

double Softmax0(double a, double b, double c) {
  return exp(a) / (exp(a) + exp(b) + exp(c));
}

TEST(RunCommand, ClassifiesImagesOfEveryFormat) {
  ScratchDir dir;
  const std::string model =
      WriteModel(dir, "colour.kiln", ColourModel(ResizeMode::kBilinear));
  // Different sizes: the spec resizes them all to 4x4.
  const std::string red =
      WritePng(dir, "red.png", 9, 5, Solid(9, 5, 255, 0, 0));
  const std::string green =
      WriteBmp(dir, "green.bmp", 4, 4, Solid(4, 4, 0, 255, 0));
  const std::string blue =
      WritePnm(dir, "blue.ppm", 3, 7, 3, Solid(3, 7, 0, 0, 255));
  // Gray: every logit equal, so the best is 1/3 likely: a fallback.
  const std::string gray =
      WritePnm(dir, "gray.pgm", 6, 6, 1, std::vector<uint8_t>(36, 200));

  const testing::CliRun r =
      Cli({"run", model, red, green, blue, gray, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["preprocess"], "model");
  ASSERT_EQ(j["items"].size(), 4u);
  EXPECT_TRUE(j["errors"].empty());
  const char* want[] = {"red", "green", "blue"};
  for (int i = 0; i < 3; ++i) {
    const auto& item = j["items"][i];
    const auto& head = item["heads"][0];
    EXPECT_EQ(head["name"], "colour");
    ASSERT_EQ(head["top"].size(), 2u);  // the head's top_k
    EXPECT_EQ(head["top"][0]["label"], want[i]) << item["input"];
    EXPECT_EQ(head["top"][0]["class"], i);
    // Logits {4, 0, 0} in 0.05 steps: 80.
    EXPECT_EQ(head["top"][0]["logit"], 80);
    // The softmax of the dequantized logits (80 steps of the float 0.05).
    EXPECT_NEAR(head["top"][0]["probability"].get<double>(),
                Softmax0(80 * static_cast<double>(0.05f), 0, 0), 1e-12);
    EXPECT_NEAR(head["confidence"].get<double>(), Softmax0(4, 0, 0), 2e-3);
    EXPECT_EQ(head["fallback"], false);
  }
  const auto& g = j["items"][3]["heads"][0];
  EXPECT_EQ(g["fallback"], true);
  EXPECT_EQ(g["top"][0]["label"], "red");  // ties go to the lower class id
  EXPECT_NEAR(g["top"][0]["probability"].get<double>(), 1.0 / 3, 1e-9);
  EXPECT_EQ(j["items"][3]["input"], gray);
}

TEST(RunCommand, TextOutputAndTopK) {
  ScratchDir dir;
  const std::string model =
      WriteModel(dir, "colour.kiln", ColourModel(ResizeMode::kNearest));
  const std::string blue =
      WritePng(dir, "blue.png", 8, 8, Solid(8, 8, 0, 0, 255));
  const testing::CliRun r = Cli({"run", model, blue, "--top-k", "3"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, blue + "\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "colour: fallback 0")) << r.out;
  EXPECT_TRUE(Contains(r.out, "1. blue (2)")) << r.out;
  EXPECT_TRUE(Contains(r.out, "2. red (0)")) << r.out;
  EXPECT_TRUE(Contains(r.out, "3. green (1)")) << r.out;
}

TEST(RunCommand, BadImagesFailCleanlyAndTheRestStillRun) {
  ScratchDir dir;
  const std::string model =
      WriteModel(dir, "colour.kiln", ColourModel(ResizeMode::kBilinear));
  const std::string red =
      WritePng(dir, "red.png", 5, 5, Solid(5, 5, 255, 0, 0));
  // A real PNG cut in half, garbage, an empty file, a missing file.
  std::vector<uint8_t> png;
  {
    std::string error;
    ASSERT_TRUE(ReadFileBytes(red, &png, &error)) << error;
  }
  const std::string cut = WriteBytes(
      dir, "cut.png", std::string(png.begin(), png.begin() + png.size() / 2));
  const std::string junk = WriteBytes(dir, "junk.jpg", "\xFF\xD8 not a jpeg");
  const std::string empty = WriteBytes(dir, "empty.png", "");
  const std::string missing = dir.Path("missing.png");
  const testing::CliRun r =
      Cli({"run", model, cut, red, junk, empty, missing, "--json"});
  EXPECT_EQ(r.code, 1);
  for (const std::string& bad : {cut, junk, empty, missing}) {
    EXPECT_TRUE(Contains(r.err, bad + ": ")) << r.err;
  }
  EXPECT_TRUE(Contains(r.err, "cannot decode image")) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["items"].size(), 1u);
  EXPECT_EQ(j["items"][0]["input"], red);
  EXPECT_EQ(j["errors"].size(), 4u);
}

TEST(RunCommand, WrongSizeWithoutResizeIsAnError) {
  ScratchDir dir;
  const std::string model =
      WriteModel(dir, "colour.kiln", ColourModel(ResizeMode::kNone));
  const std::string big = WritePng(dir, "big.png", 5, 4, Solid(5, 4, 1, 2, 3));
  const std::string fits =
      WritePng(dir, "fits.png", 4, 4, Solid(4, 4, 0, 255, 0));
  const testing::CliRun r = Cli({"run", model, big, fits});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "image is 4x5 (HxW) but the model takes 4x4"))
      << r.err;
  EXPECT_TRUE(Contains(r.out, "1. green (1)")) << r.out;
  EXPECT_FALSE(Contains(r.out, big)) << r.out;
}

TEST(RunCommand, ModelWithoutSpecTakesImagesAsTheyAre) {
  ScratchDir dir;
  const std::string model = WriteModel(
      dir, "plain.kiln", ColourModel(ResizeMode::kNone, /*with_spec=*/false));
  const std::string green =
      WritePng(dir, "green.png", 4, 4, Solid(4, 4, 0, 255, 0));
  const testing::CliRun r = Cli({"run", model, green});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, "no preprocessing spec")) << r.err;
  EXPECT_TRUE(Contains(r.out, "1. green (1)")) << r.out;
}

TEST(RunCommand, FeatureRowsFromCsvAndNpy) {
  ScratchDir dir;
  const std::string model = WriteModel(dir, "features.kiln", FeatureModel());
  // After (x - mean) / std: {1, 0.5, 4} and {0, 2, 0.5}; L2 keeps the order
  // of the first two features.
  const std::string csv = WriteBytes(dir, "rows.csv",
                                     "a,b,c\n"
                                     "3,1,9\n"
                                     "1,4,2\n"
                                     "1,2\n"
                                     "x,1,1\n");
  // .npy float32 [2, 3]: the same two rows.
  std::string npy = "\x93NUMPY\x01";
  npy += '\0';
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  npy += static_cast<char>(header.size() & 0xFF);
  npy += static_cast<char>(header.size() >> 8);
  npy += header;
  for (float v : {3.0f, 1.0f, 9.0f, 1.0f, 4.0f, 2.0f}) {
    npy.append(reinterpret_cast<const char*>(&v), 4);
  }
  const std::string npy_path = WriteBytes(dir, "rows.npy", npy);

  const testing::CliRun r = Cli({"run", model, csv, npy_path, "--json"});
  EXPECT_EQ(r.code, 1);  // the two bad rows
  EXPECT_TRUE(Contains(r.err, csv + ":4: 2 values, the model takes 3"))
      << r.err;
  EXPECT_TRUE(Contains(r.err, csv + ":5: column 1")) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["items"].size(), 4u) << r.out;
  EXPECT_EQ(j["items"][0]["input"], csv + ":2");
  EXPECT_EQ(j["items"][2]["input"], npy_path + "[0]");
  for (int i : {0, 2}) {
    EXPECT_EQ(j["items"][i]["heads"][0]["top"][0]["label"], "first");
  }
  for (int i : {1, 3}) {
    EXPECT_EQ(j["items"][i]["heads"][0]["top"][0]["label"], "second");
    EXPECT_EQ(j["items"][i]["heads"][0]["confidence_kind"], "MARGIN");
  }
}

TEST(RunCommand, UsageAndModelErrors) {
  ScratchDir dir;
  const std::string model =
      WriteModel(dir, "colour.kiln", ColourModel(ResizeMode::kBilinear));
  EXPECT_EQ(Cli({"run"}).code, 2);
  EXPECT_EQ(Cli({"run", model}).code, 2);
  EXPECT_EQ(Cli({"run", model, "x.png", "--top-k", "0"}).code, 2);
  EXPECT_EQ(Cli({"run", model, "x.png", "--top-k"}).code, 2);
  EXPECT_EQ(Cli({"run", model, "x.png", "--bogus"}).code, 2);
  const std::string corrupt = WriteBytes(dir, "corrupt.kiln", "KILN? no");
  const std::string img = WritePng(dir, "r.png", 4, 4, Solid(4, 4, 9, 9, 9));
  const testing::CliRun r = Cli({"run", corrupt, img});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, corrupt + ": ")) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace
}  // namespace kiln
