// Small ONNX models built with the protobuf API, for the importer's tests
// (and the fuzz seeds). Everything is a valid model unless a test breaks it.
#ifndef KILN_TESTS_ONNX_ONNX_TEST_GRAPHS_H_
#define KILN_TESTS_ONNX_ONNX_TEST_GRAPHS_H_

#include <stdint.h>

#include <string>
#include <vector>

#include "onnx/onnx_pb.h"

namespace kiln {
namespace onnx_import {
namespace testing {

class TestModel {
 public:
  explicit TestModel(int64_t opset = 13, int64_t ml_opset = 0);

  // dims[0] < 0 makes the batch dim symbolic ("N").
  void Input(const std::string& name, const std::vector<int64_t>& dims,
             int32_t elem_type = onnx::TensorProto::FLOAT);
  // Without dims, Bytes() declares the shape shape inference finds.
  void Output(const std::string& name,
              int32_t elem_type = onnx::TensorProto::FLOAT,
              const std::vector<int64_t>& dims = {});

  void Floats(const std::string& name, const std::vector<int64_t>& dims,
              const std::vector<float>& data);
  void Ints(const std::string& name, const std::vector<int64_t>& dims,
            const std::vector<int64_t>& data,
            int32_t elem_type = onnx::TensorProto::INT64);

  onnx::NodeProto* Node(const std::string& op_type,
                        const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs,
                        const std::string& name = "",
                        const std::string& domain = "");

  onnx::ModelProto& model() { return model_; }
  std::string Bytes() const;

 private:
  onnx::ModelProto model_;
};

// Typed tensors and attributes.
onnx::TensorProto FloatTensor(const std::string& name,
                              const std::vector<int64_t>& dims,
                              const std::vector<float>& data);
onnx::TensorProto IntTensor(const std::string& name,
                            const std::vector<int64_t>& dims,
                            const std::vector<int64_t>& data, int32_t type);
void AttrInt(onnx::NodeProto* node, const std::string& name, int64_t v);
void AttrFloat(onnx::NodeProto* node, const std::string& name, float v);
void AttrString(onnx::NodeProto* node, const std::string& name,
                const std::string& v);
void AttrInts(onnx::NodeProto* node, const std::string& name,
              const std::vector<int64_t>& v);
void AttrFloats(onnx::NodeProto* node, const std::string& name,
                const std::vector<float>& v);
void AttrStrings(onnx::NodeProto* node, const std::string& name,
                 const std::vector<std::string>& v);
void AttrTensor(onnx::NodeProto* node, const std::string& name,
                const onnx::TensorProto& t);

// Deterministic test data: v[i] = scale * ((i * 7 + offset) % 13 - 6).
std::vector<float> Ramp(size_t n, float scale = 0.1f, int offset = 0);

// Ready-made models (used by the tests and to write the fuzz seeds).
// Conv(3x3, pad 1) -> BatchNormalization -> Relu -> MaxPool ->
// GlobalAveragePool -> Flatten -> Gemm -> Softmax on [N, 2, 4, 4].
TestModel SmallCnn();
// Conv -> Flatten -> Gemm, the flatten-then-FC column permutation case.
TestModel FlattenFc();
// QDQ: Q/DQ input -> Conv(DQ weights, DQ bias) -> Relu -> Q -> DQ -> ...
TestModel QdqConv();
// Scaler -> LinearClassifier (3 classes, SOFTMAX) on [N, 4] features.
TestModel SklearnClassifier();

}  // namespace testing
}  // namespace onnx_import
}  // namespace kiln

#endif  // KILN_TESTS_ONNX_ONNX_TEST_GRAPHS_H_
