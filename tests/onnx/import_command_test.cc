// `kiln import` in process (RunCli): items from .npy (NCHW transposed),
// CSV (header skipped), IDX and image folders; the command on the exported
// test models with a calibrated fallback and another runtime's outputs as a
// reference; and every usage error and refusal.
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/onnx/onnx_models.h"
#include "tests/toolchain/cli_test_util.h"
#include "tests/toolchain/scratch_dir.h"
#include "toolchain/onnx/import_inputs.h"

namespace kiln {
namespace onnx_import {
namespace {

using testing::Cli;
using testing::Contains;
using testing::ScratchDir;

// A .npy v1.0 file of float32 values with `shape`.
void WriteNpy(const std::string& path, const std::vector<int>& shape,
              const std::vector<float>& values) {
  std::string dims;
  for (int d : shape) dims += std::to_string(d) + ", ";
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += char(1);
  bytes += char(0);
  bytes += char(header.size() & 0xff);
  bytes += char(header.size() >> 8);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(values.data()),
               values.size() * sizeof(float));
  std::ofstream(path, std::ios::binary) << bytes;
}

// An image graph input [H=2, W=3, C=2] that came from ONNX NCHW.
ImportedGraph ImageGraph() {
  ImportedGraph g;
  g.values.push_back({"x", {2, 3, 2}, std::nullopt});
  g.input = 0;
  g.input_was_nchw = true;
  return g;
}

TEST(ImportInputsTest, NpyImagesAreTransposedFromNchwToNhwc) {
  ScratchDir dir;
  std::vector<float> v(2 * 2 * 2 * 3);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  WriteNpy(dir.Path("x.npy"), {2, 2, 2, 3}, v);  // [N, C, H, W]
  ImportItems items;
  std::string error;
  ASSERT_TRUE(LoadImportItems(dir.Path("x.npy"), ImageGraph(), std::nullopt, 0,
                              0, &items, &error))
      << error;
  ASSERT_EQ(items.count, 2u);
  ASSERT_EQ(items.item_elements, 12u);
  // Item 1, (y=1, x=2, c=1) = NCHW index 1*12 + 1*6 + 1*3 + 2.
  EXPECT_EQ(items.values[12 + (1 * 3 + 2) * 2 + 1], float(12 + 6 + 3 + 2));
  EXPECT_EQ(items.values[0 + (0 * 3 + 1) * 2 + 1], float(6 + 1));
  // skip and limit pick rows.
  ASSERT_TRUE(LoadImportItems(dir.Path("x.npy"), ImageGraph(), std::nullopt, 1,
                              5, &items, &error));
  EXPECT_EQ(items.count, 1u);
  EXPECT_EQ(items.values[0], 12.0f);
}

TEST(ImportInputsTest, NpyOfTheWrongSizeIsRefused) {
  ScratchDir dir;
  WriteNpy(dir.Path("x.npy"), {2, 5}, std::vector<float>(10));
  ImportItems items;
  std::string error;
  EXPECT_FALSE(LoadImportItems(dir.Path("x.npy"), ImageGraph(), std::nullopt, 0,
                               0, &items, &error));
  EXPECT_TRUE(Contains(error, "5 values")) << error;
}

TEST(ImportInputsTest, CsvSkipsAHeaderAndReportsBadRowsByLine) {
  ScratchDir dir;
  ImportedGraph g;
  g.values.push_back({"x", {3}, std::nullopt});
  g.input = 0;
  std::ofstream(dir.Path("ok.csv")) << "a,b,c\n1,2,3\n4,5,6\n";
  ImportItems items;
  std::string error;
  ASSERT_TRUE(LoadImportItems(dir.Path("ok.csv"), g, std::nullopt, 0, 0, &items,
                              &error))
      << error;
  EXPECT_EQ(items.count, 2u);
  EXPECT_EQ(items.values, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  std::ofstream(dir.Path("bad.csv")) << "1,2,3\n4,x,6\n";
  EXPECT_FALSE(LoadImportItems(dir.Path("bad.csv"), g, std::nullopt, 0, 0,
                               &items, &error));
  EXPECT_TRUE(Contains(error, "bad.csv:2")) << error;
  std::ofstream(dir.Path("short.csv")) << "1,2\n";
  EXPECT_FALSE(LoadImportItems(dir.Path("short.csv"), g, std::nullopt, 0, 0,
                               &items, &error));
  EXPECT_TRUE(Contains(error, "2 fields")) << error;
  EXPECT_FALSE(LoadImportItems(dir.Path("x.txt"), g, std::nullopt, 0, 0, &items,
                               &error));
}

TEST(ImportInputsTest, FeaturePreprocessingIsApplied) {
  ScratchDir dir;
  ImportedGraph g;
  g.values.push_back({"x", {2}, std::nullopt});
  g.input = 0;
  PreprocessDef p;
  p.layout = Layout::kFlat;
  p.mean = {1, 2};
  p.std = {2, 4};
  p.feature_norm = FeatureNorm::kNone;
  std::ofstream(dir.Path("f.csv")) << "3,10\n";
  ImportItems items;
  std::string error;
  ASSERT_TRUE(LoadImportItems(dir.Path("f.csv"), g, p, 0, 0, &items, &error))
      << error;
  EXPECT_EQ(items.values, (std::vector<float>{1.0f, 2.0f}));
}

TEST(ImportInputsTest, ImageFoldersAndIdxGoThroughTheRuntimePreprocessing) {
  ScratchDir dir;
  ImportedGraph g;
  g.values.push_back({"x", {2, 2, 1}, std::nullopt});
  g.input = 0;
  PreprocessDef p;
  p.layout = Layout::kNHWC;
  p.channel_order = ChannelOrder::kGray;
  p.height = 2;
  p.width = 2;
  p.resize = ResizeMode::kNearest;
  // Two classes of 4x4 gray images; nearest resize to 2x2.
  ASSERT_EQ(mkdir(dir.Path("a").c_str(), 0700), 0);
  ASSERT_EQ(mkdir(dir.Path("b").c_str(), 0700), 0);
  const std::vector<uint8_t> dark(16, 51), light(16, 255);
  ASSERT_TRUE(
      stbi_write_png(dir.Path("a/1.png").c_str(), 4, 4, 1, dark.data(), 4));
  ASSERT_TRUE(
      stbi_write_png(dir.Path("b/2.png").c_str(), 4, 4, 1, light.data(), 4));
  ImportItems items;
  std::string error;
  ASSERT_TRUE(LoadImportItems(dir.path(), g, p, 0, 0, &items, &error)) << error;
  ASSERT_EQ(items.count, 2u);
  EXPECT_EQ(items.labels, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(items.label_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_FLOAT_EQ(items.values[0], 0.2f);
  EXPECT_FLOAT_EQ(items.values[4], 1.0f);
  // An image folder without an image spec is refused.
  EXPECT_FALSE(
      LoadImportItems(dir.path(), g, std::nullopt, 0, 0, &items, &error));
  // IDX3: 3 images of 2x2, gzip'd like the Debian datasets.
  const uint8_t idx[] = {0, 0, 8, 3, 0, 0, 0,   3,   0,   0,   0,  2,  0,  0,
                         0, 2, 0, 0, 0, 0, 255, 255, 255, 255, 51, 51, 51, 51};
  const std::string idx_path = dir.Path("t-images-idx3-ubyte.gz");
  gzFile f = gzopen(idx_path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzwrite(f, idx, sizeof(idx));
  gzclose(f);
  ASSERT_TRUE(LoadImportItems(idx_path, g, p, 1, 0, &items, &error)) << error;
  ASSERT_EQ(items.count, 2u);
  EXPECT_FLOAT_EQ(items.values[0], 1.0f);
  EXPECT_FLOAT_EQ(items.values[4], 0.2f);
}

// ---- The command ----

TEST(ImportCommandTest, UsageErrors) {
  EXPECT_EQ(Cli({"import"}).code, cli::kExitUsage);
  EXPECT_EQ(Cli({"import", "m.onnx"}).code, cli::kExitUsage);  // no --out
  auto r = Cli({"import", "m.onnx", "--out", "m.onnx"});
  EXPECT_EQ(r.code, cli::kExitUsage);
  EXPECT_TRUE(Contains(r.err, "overwrite")) << r.err;
  EXPECT_EQ(Cli({"import", "m.onnx", "--out", "x.kiln", "--bogus"}).code,
            cli::kExitUsage);
  EXPECT_EQ(Cli({"import", "m.onnx", "--out", "x.kiln", "--top-k", "0"}).code,
            cli::kExitUsage);
  EXPECT_EQ(
      Cli({"import", "m.onnx", "--out", "x.kiln", "--calibration", "p"}).code,
      cli::kExitUsage);
  EXPECT_EQ(Cli({"import", "m.onnx", "--out", "x.kiln", "--gamma", "-1"}).code,
            cli::kExitUsage);
  EXPECT_EQ(
      Cli({"import", "m.onnx", "--out", "x.kiln", "--fallback-target", "0.9"})
          .code,
      cli::kExitUsage);  // needs --calib
  EXPECT_EQ(
      Cli({"import", "m.onnx", "--out", "x.kiln", "--eval-labels", "l.npy"})
          .code,
      cli::kExitUsage);  // needs --eval
}

TEST(ImportCommandTest, MissingOrMalformedModelFailsCleanly) {
  ScratchDir dir;
  auto r = Cli({"import", dir.Path("none.onnx"), "--out", dir.Path("o.kiln")});
  EXPECT_EQ(r.code, cli::kExitFailure);
  EXPECT_FALSE(r.err.empty());
  std::ofstream(dir.Path("junk.onnx")) << "not a protobuf at all";
  r = Cli({"import", dir.Path("junk.onnx"), "--out", dir.Path("o.kiln")});
  EXPECT_EQ(r.code, cli::kExitFailure);
  EXPECT_TRUE(Contains(r.err, "junk.onnx")) << r.err;
  EXPECT_TRUE(dir.Entries().size() == 1u);  // nothing written
}

TEST(ImportCommandTest, FloatModelNeedsCalibrationAndThenImports) {
  const std::string model = testing::OnnxModelFile("logreg_digits.onnx");
  if (model.empty()) GTEST_SKIP() << "ONNX test models not generated";
  const std::string calib = testing::OnnxModelFile("logreg_digits.calib.npy");
  const std::string eval = testing::OnnxModelFile("logreg_digits.eval.npy");
  const std::string labels =
      testing::OnnxModelFile("logreg_digits.eval.label.npy");
  ScratchDir dir;
  const std::string out = dir.Path("digits.kiln");
  auto r = Cli({"import", model, "--out", out});
  EXPECT_EQ(r.code, cli::kExitFailure);
  EXPECT_TRUE(Contains(r.err, "--calib")) << r.err;

  r = Cli({"import", model, "--out", out, "--calib", calib, "--eval", eval,
           "--eval-labels", labels, "--fallback-target", "0.99", "--top-k",
           "2"});
  ASSERT_EQ(r.code, cli::kExitOk) << r.err;
  EXPECT_TRUE(Contains(r.out, "fallback 'probabilities': top-")) << r.out;
  EXPECT_TRUE(Contains(r.out, "top-1 agreement")) << r.out;
  EXPECT_TRUE(Contains(r.out, "accuracy int8")) << r.out;
  EXPECT_GT(std::ifstream(out, std::ios::binary | std::ios::ate).tellg(), 0);
  // The written model runs: `kiln run` on the evaluation rows.
  r = Cli({"run", out, eval});
  EXPECT_EQ(r.code, cli::kExitOk) << r.err;
  EXPECT_TRUE(Contains(r.out, "fallback")) << r.out;
}

TEST(ImportCommandTest, QdqModelAgainstAReferenceRuntime) {
  const std::string model = testing::OnnxModelFile("mlp160_int8.onnx");
  if (model.empty()) GTEST_SKIP() << "ONNX test models not generated";
  const std::string eval = testing::OnnxModelFile("mlp160.eval.npy");
  ScratchDir dir;
  // The numpy evaluation of the QDQ graph as the reference runtime.
  const std::string ref =
      testing::OnnxModelFile("mlp160_int8.eval.output.simulated.npy");
  ASSERT_FALSE(ref.empty());
  const std::string prefix = dir.Path("ref.");
  ASSERT_EQ(link(ref.c_str(), (prefix + "output.npy").c_str()) == 0 ||
                symlink(ref.c_str(), (prefix + "output.npy").c_str()) == 0,
            true);
  auto r = Cli({"import", model, "--out", dir.Path("m.kiln"), "--eval", eval,
                "--eval-reference", prefix, "--head", "all"});
  ASSERT_EQ(r.code, cli::kExitOk) << r.err;
  EXPECT_TRUE(Contains(r.out, "QDQ int8 graph")) << r.out;
  EXPECT_TRUE(Contains(r.out, "100.000% within 1 step")) << r.out;
  r = Cli({"import", model, "--out", dir.Path("m2.kiln"), "--eval", eval,
           "--eval-reference", dir.Path("none.")});
  EXPECT_EQ(r.code, cli::kExitFailure);
  r = Cli({"import", model, "--out", dir.Path("m3.kiln"), "--head", "nope"});
  EXPECT_EQ(r.code, cli::kExitUsage);
}

}  // namespace
}  // namespace onnx_import
}  // namespace kiln
