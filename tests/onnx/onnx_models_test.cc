// The generated ONNX test models (fixture onnx_models) as Kiln's readers
// see them: every input and reference-output .npy reads with NpyReader,
// has one row per evaluation input, and the NHWC copies hold exactly the
// NCHW inputs transposed. Skipped when the models were not generated.
#include "tests/onnx/onnx_models.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "toolchain/data/npy_reader.h"

namespace kiln {
namespace {

using ::kiln::data::NpyArray;
using ::kiln::data::NpyDType;
using ::kiln::data::ReadNpy;
using ::kiln::testing::OnnxModelFile;
using ::kiln::testing::OnnxModelsDir;

struct GeneratedModel {
  const char* name;
  std::vector<int64_t> item_shape;  // per input, as the framework sees it
  std::vector<const char*> outputs;
};

const std::vector<GeneratedModel>& TorchModels() {
  static const std::vector<GeneratedModel> models = {
      {"mlp160", {160}, {"output"}},
      {"blocknet", {3, 8, 8}, {"predictor", "filter", "scan", "entropy"}},
      {"resnet18", {3, 224, 224}, {"output"}},
      {"smallcnn", {3, 32, 32}, {"probabilities", "attributes"}},
  };
  return models;
}

NpyArray MustRead(const std::string& file) {
  NpyArray array;
  std::string error;
  const std::string path = OnnxModelFile(file);
  EXPECT_FALSE(path.empty()) << file << " was not generated";
  if (!path.empty()) {
    EXPECT_TRUE(ReadNpy(path, &array, &error)) << error;
  }
  return array;
}

#define SKIP_WITHOUT_MODELS()                                    \
  if (OnnxModelsDir().empty()) {                                 \
    GTEST_SKIP() << "ONNX test models not generated (run ctest " \
                    "-R onnx_models.generate)";                  \
  }

TEST(OnnxTestModels, InputsAndOutputsReadBack) {
  SKIP_WITHOUT_MODELS();
  for (const GeneratedModel& m : TorchModels()) {
    SCOPED_TRACE(m.name);
    EXPECT_FALSE(OnnxModelFile(std::string(m.name) + ".onnx").empty());
    for (const char* set : {".calib", ".eval"}) {
      const NpyArray x = MustRead(m.name + std::string(set) + ".npy");
      ASSERT_EQ(x.dtype, NpyDType::kFloat32);
      ASSERT_EQ(x.shape.size(), m.item_shape.size() + 1);
      EXPECT_GT(x.shape[0], 0);
      EXPECT_EQ(std::vector<int64_t>(x.shape.begin() + 1, x.shape.end()),
                m.item_shape);
    }
    const int64_t rows = MustRead(m.name + std::string(".eval.npy")).shape[0];
    for (const char* output : m.outputs) {
      const NpyArray y =
          MustRead(m.name + std::string(".eval.") + output + ".npy");
      ASSERT_FALSE(y.shape.empty());
      EXPECT_EQ(y.shape[0], rows) << output;
    }
  }
}

TEST(OnnxTestModels, NhwcCopiesAreTheTransposedInputs) {
  SKIP_WITHOUT_MODELS();
  for (const GeneratedModel& m : TorchModels()) {
    if (m.item_shape.size() != 3) continue;
    SCOPED_TRACE(m.name);
    for (const char* set : {".calib", ".eval"}) {
      const NpyArray nchw = MustRead(m.name + std::string(set) + ".npy");
      const NpyArray nhwc = MustRead(m.name + std::string(set) + "_nhwc.npy");
      ASSERT_EQ(nchw.shape.size(), 4u);
      const int64_t n = nchw.shape[0], c = nchw.shape[1], h = nchw.shape[2],
                    w = nchw.shape[3];
      ASSERT_EQ(nhwc.shape, (std::vector<int64_t>{n, h, w, c}));
      int64_t mismatches = 0;
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t y = 0; y < h; ++y) {
          for (int64_t x = 0; x < w; ++x) {
            for (int64_t k = 0; k < c; ++k) {
              mismatches += nhwc.values[((i * h + y) * w + x) * c + k] !=
                            nchw.values[((i * c + k) * h + y) * w + x];
            }
          }
        }
      }
      EXPECT_EQ(mismatches, 0) << set;
    }
  }
}

TEST(OnnxTestModels, QdqModelsShareTheFloatInputs) {
  SKIP_WITHOUT_MODELS();
  for (const char* name : {"mlp160", "blocknet", "resnet18"}) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(OnnxModelFile(std::string(name) + "_int8.onnx").empty());
    const NpyArray reference = MustRead(
        std::string(name) + ".eval." +
        (std::string(name) == "blocknet" ? "predictor" : "output") + ".npy");
    const NpyArray simulated =
        MustRead(std::string(name) + "_int8.eval." +
                 (std::string(name) == "blocknet" ? "predictor" : "output") +
                 ".simulated.npy");
    EXPECT_EQ(simulated.shape, reference.shape);
  }
}

TEST(OnnxTestModels, ScikitLearnModelsHaveInt64Labels) {
  SKIP_WITHOUT_MODELS();
  for (const char* name : {"logreg_digits", "scaled_logreg_breast_cancer",
                           "normalized_logreg_iris"}) {
    SCOPED_TRACE(name);
    const NpyArray x = MustRead(std::string(name) + ".eval.npy");
    const NpyArray labels = MustRead(std::string(name) + ".eval.label.npy");
    const NpyArray probabilities =
        MustRead(std::string(name) + ".eval.probabilities.npy");
    ASSERT_EQ(labels.dtype, NpyDType::kInt64);
    ASSERT_EQ(labels.shape, (std::vector<int64_t>{x.shape[0]}));
    ASSERT_EQ(probabilities.shape.size(), 2u);
    // The label is the most probable class (ties aside) and each row of
    // probabilities sums to 1.
    const int64_t classes = probabilities.shape[1];
    for (int64_t i = 0; i < x.shape[0]; ++i) {
      const float* p = &probabilities.values[i * classes];
      double sum = 0;
      int64_t best = 0;
      for (int64_t k = 0; k < classes; ++k) {
        sum += p[k];
        if (p[k] > p[best]) best = k;
      }
      EXPECT_NEAR(sum, 1.0, 1e-5) << "row " << i;
      EXPECT_EQ(labels.integers[i], best) << "row " << i;
    }
  }
  const NpyArray y = MustRead("linreg_diabetes.eval.variable.npy");
  EXPECT_EQ(y.shape.size(), 2u);
}

TEST(OnnxTestModels, MalformedFilesArePresent) {
  SKIP_WITHOUT_MODELS();
  for (const char* name :
       {"malformed_empty", "malformed_truncated", "malformed_random_bytes",
        "malformed_undefined_input", "malformed_cycle", "unsupported_op",
        "unsupported_domain", "malformed_initializer_size",
        "malformed_initializer_huge", "malformed_external_data",
        "malformed_shape_mismatch", "malformed_future_opset"}) {
    EXPECT_FALSE(OnnxModelFile(std::string(name) + ".onnx").empty()) << name;
  }
}

}  // namespace
}  // namespace kiln
