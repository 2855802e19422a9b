// `kiln build` writing DIR/model.onnx and `kiln export-onnx` rebuilding the
// same file from DIR/checkpoint.pt, end to end through the kiln executable
// on the digits dataset (one short epoch). Needs a kiln built with LibTorch;
// skipped otherwise.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "onnx/checker.h"
#include "onnx/onnx_pb.h"
#include "tests/onnx/onnx_test_evaluator.h"
#include "tests/toolchain/scratch_dir.h"
#include "tests/train/kiln_exe_util.h"
#include "toolchain/data/sources.h"
#include "toolchain/serialize.h"
#include "toolchain/train/params.h"
#include "toolchain/train/quantize_model.h"

namespace kiln {
namespace {

using train::Contains;
using train::Kiln;
using train::KilnRun;
using train::Quote;
using train::ReadFile;

class ExportOnnxCommandTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::ScratchDir;
    const KilnRun probe =
        Kiln(*dir_, {"export-onnx", "nowhere", "--out", "x.onnx"});
    if (Contains(probe.err, "without LibTorch")) {
      skip_ = "kiln was built without LibTorch";
      return;
    }
    std::string error;
    train::TrainParams p;
    ASSERT_TRUE(train::LoadTrainParams(
        std::string(KILN_SOURCE_DIR) + "/toolchain/params/digits_cnn.json", &p,
        &error))
        << error;
    p.split.manifest = "digits.split";
    p.training.epochs = 1;
    p.training.warmup_epochs = 0;
    p.training.batch_size = 64;
    p.calibration.samples = 128;
    std::ofstream(dir_->Path("digits_small.json")) << train::TrainParamsJson(p);
    p.model.channels = {4};  // another architecture
    std::ofstream(dir_->Path("other.json")) << train::TrainParamsJson(p);
    build_ = new KilnRun(
        Kiln(*dir_, {"build", "digits_small.json", "--out", "run", "--quiet"}));
  }
  static void TearDownTestSuite() {
    delete build_;
    delete dir_;
    build_ = nullptr;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_NE(build_, nullptr) << "the suite's setup failed";
    ASSERT_EQ(build_->code, 0) << build_->err;
  }

  static inline testing::ScratchDir* dir_ = nullptr;
  static inline KilnRun* build_ = nullptr;
  static inline std::string skip_;
};

TEST_F(ExportOnnxCommandTest, BuildWritesAModelOnnxThatAgreesWithTheInt8Model) {
  EXPECT_TRUE(Contains(build_->out, "run/model.onnx")) << build_->out;
  const std::string bytes = ReadFile(dir_->Path("run/model.onnx"));
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(bytes));
  EXPECT_NO_THROW(onnx::checker::check_model(m));
  ASSERT_EQ(m.graph().input_size(), 1);
  const auto& dims = m.graph().input(0).type().tensor_type().shape().dim();
  ASSERT_EQ(dims.size(), 4);
  EXPECT_EQ(dims[1].dim_value(), 1);  // C, H, W of digits' 8x8x1
  EXPECT_EQ(dims[2].dim_value(), 8);
  EXPECT_EQ(dims[3].dim_value(), 8);
  bool has_params = false;
  for (const auto& e : m.metadata_props()) {
    if (e.key() == "kiln.model_name") {
      EXPECT_EQ(e.value(), "digits_small");
    }
    has_params |= e.key() == "kiln.train_params";
  }
  EXPECT_TRUE(has_params);

  // The int8 model (the runtime) and the ONNX float model (the test
  // evaluator) must mostly agree on the digits: wrong layouts (HWC vs CHW,
  // OHWI vs OIHW) would leave them near chance.
  data::Dataset digits;
  std::string error;
  ASSERT_TRUE(data::OpenDataset("digits", &digits, &error)) << error;
  const size_t n = 200, item = digits.item_byte_size();
  std::vector<uint8_t> kiln_bytes;
  ASSERT_TRUE(ReadFileBytes(dir_->Path("run/model.kiln"), &kiln_bytes, &error))
      << error;
  train::KilnRunner runner;
  ASSERT_TRUE(runner.Load(kiln_bytes, n, &error)) << error;
  std::vector<uint8_t> items(n * item);
  for (size_t i = 0; i < n; ++i) {
    std::copy_n(digits.item_bytes(i), item, items.data() + i * item);
  }
  std::vector<std::vector<uint8_t>> outputs;
  ASSERT_TRUE(runner.Run(items.data(), n, &outputs, nullptr, &error)) << error;

  float scale = 0.0f;
  for (const auto& e : m.metadata_props()) {
    if (e.key() == "kiln.input_scale_real") scale = std::stof(e.value());
  }
  ASSERT_GT(scale, 0.0f);
  onnx_test::Tensor input{{int64_t(n), 1, 8, 8}, {}};
  for (uint8_t v : items) input.data.push_back(v * scale);  // C = 1: HWC=CHW
  const auto got = onnx_test::Evaluate(m, {{"input", input}});
  const std::string head = m.graph().output(0).name();
  const onnx_test::Tensor& logits = got.at(head);
  const kiln_head_info info = runner.head_info(0);
  ASSERT_EQ(std::string(info.name), head);
  const int64_t classes = logits.dims[1];
  ASSERT_EQ(classes, info.num_classes);
  const std::vector<uint8_t>& q = outputs[info.output_index];
  size_t agree = 0;
  for (size_t i = 0; i < n; ++i) {
    const float* f = logits.data.data() + i * classes;
    const int8_t* k = reinterpret_cast<const int8_t*>(q.data()) + i * classes;
    agree += std::max_element(f, f + classes) - f ==
             std::max_element(k, k + classes) - k;
  }
  EXPECT_GE(agree, n * 9 / 10) << agree << " of " << n;
}

TEST_F(ExportOnnxCommandTest, ExportFromTheCheckpointGivesTheSameBytes) {
  const KilnRun r =
      Kiln(*dir_, {"export-onnx", "run", "--out", "again.onnx", "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "again.onnx")) << r.out;
  // Policies from run/model.kiln, params from its train_params, no QAT:
  // the very file kiln build wrote.
  EXPECT_EQ(ReadFile(dir_->Path("again.onnx")),
            ReadFile(dir_->Path("run/model.onnx")));
  // The checkpoint file itself and explicit params work too.
  const KilnRun r2 = Kiln(*dir_, {"export-onnx", "run/checkpoint.pt",
                                  "--params", "digits_small.json", "--out",
                                  "again2.onnx", "--name", "renamed"});
  ASSERT_EQ(r2.code, 0) << r2.err;
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(ReadFile(dir_->Path("again2.onnx"))));
  EXPECT_EQ(m.graph().name(), "renamed");
}

TEST_F(ExportOnnxCommandTest, ClearErrors) {
  const std::string checkpoint = ReadFile(dir_->Path("run/checkpoint.pt"));
  KilnRun r = Kiln(*dir_, {"export-onnx", "run", "--out", "run/checkpoint.pt"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "refusing to overwrite")) << r.err;
  EXPECT_EQ(ReadFile(dir_->Path("run/checkpoint.pt")), checkpoint);
  r = Kiln(*dir_, {"export-onnx", "run", "--params", "digits_small.json",
                   "--out", "digits_small.json"});
  EXPECT_TRUE(Contains(r.err, "refusing to overwrite")) << r.err;

  r = Kiln(*dir_, {"export-onnx", "nowhere", "--out", "x.onnx"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "nowhere does not exist")) << r.err;

  r = Kiln(*dir_, {"export-onnx", "run", "--params", "other.json", "--out",
                   "x.onnx", "--quiet"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "another architecture")) << r.err;
  EXPECT_NE(system(("test -e " + Quote(dir_->Path("x.onnx"))).c_str()), 0);

  r = Kiln(*dir_, {"export-onnx", "run"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "--out")) << r.err;
}

}  // namespace
}  // namespace kiln
