// Where the ONNX test models are: the ctest fixture onnx_models
// (onnx_models.generate, tests/onnx/models/make_models.py) writes them to
// ${CMAKE_BINARY_DIR}/onnx_models, and onnx_models.ort_outputs adds ONNX
// Runtime's outputs under ort/. docs/onnx_test_models.md lists the models
// and the manifest.json that describes them.
//
// File names follow fixed patterns, so a test can use them without parsing
// the manifest:
//   <model>.onnx                        the model
//   <model>.calib.npy, <model>.eval.npy inputs as the framework sees them
//                                       (NCHW images, [N, features] tables)
//   <model>.calib_nhwc.npy, <model>.eval_nhwc.npy   NHWC copies (images)
//   <model>.eval.<output>.npy           the framework's outputs on eval
//   <model>.eval.labels.npy             true classes (resnet18 only)
//   <m>_int8.onnx                       QDQ model; its inputs are <m>'s
//   <m>_int8.eval.<output>.simulated.npy  the QDQ graph evaluated in float
//   ort/<model>.<output>.npy            ONNX Runtime's outputs on eval
//
// Tests that use them declare FIXTURES_REQUIRED onnx_models (and
// onnx_models_ort for the ort/ files) and skip when the directory is empty:
//   const std::string dir = kiln::testing::OnnxModelsDir();
//   if (dir.empty()) GTEST_SKIP() << "ONNX test models not generated";
#ifndef KILN_TESTS_ONNX_ONNX_MODELS_H_
#define KILN_TESTS_ONNX_ONNX_MODELS_H_

#include <stdlib.h>
#include <sys/stat.h>

#include <string>

#ifndef KILN_BINARY_DIR
#error "KILN_BINARY_DIR must be defined (tests/CMakeLists.txt does it)"
#endif

namespace kiln {
namespace testing {

inline bool OnnxModelsFileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The models directory, or "" when no complete generation is there
// (manifest.json is written last). KILN_ONNX_MODELS_DIR overrides the
// build-tree location.
inline std::string OnnxModelsDir() {
  const char* env = getenv("KILN_ONNX_MODELS_DIR");
  const std::string dir = env != nullptr && *env != '\0'
                              ? std::string(env)
                              : std::string(KILN_BINARY_DIR) + "/onnx_models";
  return OnnxModelsFileExists(dir + "/manifest.json") ? dir : std::string();
}

// The path of `file` in the models directory, or "" when the models (or
// that file) are missing.
inline std::string OnnxModelFile(const std::string& file) {
  const std::string dir = OnnxModelsDir();
  if (dir.empty()) return std::string();
  const std::string path = dir + "/" + file;
  return OnnxModelsFileExists(path) ? path : std::string();
}

// The directory holding ONNX Runtime's outputs (ort/<model>.<output>.npy,
// ort/report.json), or "" when onnx_models.ort_outputs has not run
// (onnxruntime-node not installed).
inline std::string OrtOutputsDir() {
  const std::string dir = OnnxModelsDir();
  if (dir.empty() || !OnnxModelsFileExists(dir + "/ort/report.json")) {
    return std::string();
  }
  return dir + "/ort";
}

}  // namespace testing
}  // namespace kiln

#endif  // KILN_TESTS_ONNX_ONNX_MODELS_H_
