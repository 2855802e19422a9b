#include "tests/onnx/onnx_test_graphs.h"

#include "onnx/shape_inference/implementation.h"

namespace kiln {
namespace onnx_import {
namespace testing {

TestModel::TestModel(int64_t opset, int64_t ml_opset) {
  model_.set_ir_version(8);
  model_.set_producer_name("kiln-tests");
  auto* op = model_.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  if (ml_opset > 0) {
    auto* ml = model_.add_opset_import();
    ml->set_domain("ai.onnx.ml");
    ml->set_version(ml_opset);
  }
  model_.mutable_graph()->set_name("test");
}

void TestModel::Input(const std::string& name, const std::vector<int64_t>& dims,
                      int32_t elem_type) {
  auto* in = model_.mutable_graph()->add_input();
  in->set_name(name);
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) {
    auto* dim = shape->add_dim();
    if (d < 0)
      dim->set_dim_param("N");
    else
      dim->set_dim_value(d);
  }
}

void TestModel::Output(const std::string& name, int32_t elem_type,
                       const std::vector<int64_t>& dims) {
  auto* out = model_.mutable_graph()->add_output();
  out->set_name(name);
  auto* tt = out->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  if (dims.empty()) return;
  for (int64_t d : dims) {
    auto* dim = tt->mutable_shape()->add_dim();
    if (d < 0)
      dim->set_dim_param("N");
    else
      dim->set_dim_value(d);
  }
}

void TestModel::Floats(const std::string& name,
                       const std::vector<int64_t>& dims,
                       const std::vector<float>& data) {
  *model_.mutable_graph()->add_initializer() = FloatTensor(name, dims, data);
}

void TestModel::Ints(const std::string& name, const std::vector<int64_t>& dims,
                     const std::vector<int64_t>& data, int32_t elem_type) {
  *model_.mutable_graph()->add_initializer() =
      IntTensor(name, dims, data, elem_type);
}

onnx::NodeProto* TestModel::Node(const std::string& op_type,
                                 const std::vector<std::string>& inputs,
                                 const std::vector<std::string>& outputs,
                                 const std::string& name,
                                 const std::string& domain) {
  onnx::NodeProto* node = model_.mutable_graph()->add_node();
  node->set_op_type(op_type);
  node->set_name(name);
  if (!domain.empty()) node->set_domain(domain);
  for (const auto& in : inputs) node->add_input(in);
  for (const auto& out : outputs) node->add_output(out);
  return node;
}

std::string TestModel::Bytes() const {
  // The checker wants every graph output to declare its shape: fill the
  // undeclared ones from (lenient) shape inference, as exporters do.
  onnx::ModelProto copy = model_;
  try {
    onnx::ModelProto inferred = model_;
    onnx::shape_inference::InferShapes(
        inferred, onnx::OpSchemaRegistry::Instance(),
        onnx::ShapeInferenceOptions(false, 0, /*data_prop=*/true));
    for (auto& out : *copy.mutable_graph()->mutable_output()) {
      if (!out.type().has_tensor_type() || out.type().tensor_type().has_shape())
        continue;
      for (const auto& info : inferred.graph().output())
        if (info.name() == out.name() && info.type().has_tensor_type() &&
            info.type().tensor_type().has_shape())
          *out.mutable_type()->mutable_tensor_type()->mutable_shape() =
              info.type().tensor_type().shape();
    }
  } catch (...) {
    // Broken test models stay broken: the importer must reject them.
  }
  std::string bytes;
  copy.SerializeToString(&bytes);
  return bytes;
}

onnx::TensorProto FloatTensor(const std::string& name,
                              const std::vector<int64_t>& dims,
                              const std::vector<float>& data) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t.add_dims(d);
  for (float v : data) t.add_float_data(v);
  return t;
}

onnx::TensorProto IntTensor(const std::string& name,
                            const std::vector<int64_t>& dims,
                            const std::vector<int64_t>& data, int32_t type) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(type);
  for (int64_t d : dims) t.add_dims(d);
  for (int64_t v : data) {
    if (type == onnx::TensorProto::INT64)
      t.add_int64_data(v);
    else
      t.add_int32_data(static_cast<int32_t>(v));
  }
  return t;
}

namespace {
onnx::AttributeProto* NewAttr(onnx::NodeProto* node, const std::string& name,
                              onnx::AttributeProto::AttributeType type) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(type);
  return a;
}
}  // namespace

void AttrInt(onnx::NodeProto* node, const std::string& name, int64_t v) {
  NewAttr(node, name, onnx::AttributeProto::INT)->set_i(v);
}
void AttrFloat(onnx::NodeProto* node, const std::string& name, float v) {
  NewAttr(node, name, onnx::AttributeProto::FLOAT)->set_f(v);
}
void AttrString(onnx::NodeProto* node, const std::string& name,
                const std::string& v) {
  NewAttr(node, name, onnx::AttributeProto::STRING)->set_s(v);
}
void AttrInts(onnx::NodeProto* node, const std::string& name,
              const std::vector<int64_t>& v) {
  auto* a = NewAttr(node, name, onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void AttrFloats(onnx::NodeProto* node, const std::string& name,
                const std::vector<float>& v) {
  auto* a = NewAttr(node, name, onnx::AttributeProto::FLOATS);
  for (float x : v) a->add_floats(x);
}
void AttrStrings(onnx::NodeProto* node, const std::string& name,
                 const std::vector<std::string>& v) {
  auto* a = NewAttr(node, name, onnx::AttributeProto::STRINGS);
  for (const auto& x : v) a->add_strings(x);
}
void AttrTensor(onnx::NodeProto* node, const std::string& name,
                const onnx::TensorProto& t) {
  *NewAttr(node, name, onnx::AttributeProto::TENSOR)->mutable_t() = t;
}

std::vector<float> Ramp(size_t n, float scale, int offset) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] =
        scale * static_cast<float>((static_cast<int>(i) * 7 + offset) % 13 - 6);
  return v;
}

TestModel SmallCnn() {
  TestModel m(13);
  m.Input("x", {-1, 2, 4, 4});
  m.Floats("w", {3, 2, 3, 3}, Ramp(54));
  m.Floats("b", {3}, {0.1f, -0.2f, 0.3f});
  m.Floats("gamma", {3}, {1.0f, 0.5f, 2.0f});
  m.Floats("beta", {3}, {0.0f, 0.1f, -0.1f});
  m.Floats("mean", {3}, {0.2f, -0.1f, 0.0f});
  m.Floats("var", {3}, {1.0f, 4.0f, 0.25f});
  m.Floats("fc_w", {4, 3}, Ramp(12, 0.2f, 3));
  m.Floats("fc_b", {4}, {0.5f, 0.0f, -0.5f, 1.0f});
  AttrInts(m.Node("Conv", {"x", "w", "b"}, {"c1"}, "conv1"), "pads",
           {1, 1, 1, 1});
  m.Node("BatchNormalization", {"c1", "gamma", "beta", "mean", "var"}, {"bn1"},
         "bn1");
  m.Node("Relu", {"bn1"}, {"r1"}, "relu1");
  auto* pool = m.Node("MaxPool", {"r1"}, {"p1"}, "pool1");
  AttrInts(pool, "kernel_shape", {2, 2});
  AttrInts(pool, "strides", {2, 2});
  m.Node("GlobalAveragePool", {"p1"}, {"g1"}, "gap");
  m.Node("Flatten", {"g1"}, {"f1"}, "flatten");
  AttrInt(m.Node("Gemm", {"f1", "fc_w", "fc_b"}, {"logits"}, "fc"), "transB",
          1);
  m.Node("Softmax", {"logits"}, {"y"}, "softmax");
  m.Output("y");
  return m;
}

TestModel FlattenFc() {
  TestModel m(13);
  m.Input("x", {-1, 2, 2, 3});
  m.Floats("w", {2, 2, 1, 1}, {1.0f, 0.0f, 0.0f, 1.0f});
  m.Floats("fc_w", {12, 2}, Ramp(24, 0.5f));
  m.Node("Conv", {"x", "w"}, {"c1"}, "conv1");
  m.Node("Flatten", {"c1"}, {"f1"}, "flatten");
  m.Node("Gemm", {"f1", "fc_w"}, {"y"}, "fc");
  m.Output("y");
  return m;
}

TestModel QdqConv() {
  using onnx::TensorProto;
  TestModel m(13);
  m.Input("x", {-1, 1, 3, 3});
  m.Floats("x_scale", {}, {0.02f});
  m.Ints("x_zp", {}, {128}, TensorProto::UINT8);
  m.Ints("w_q", {2, 1, 3, 3},
         {1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -2, -3, -4, -5, -6, -7, -8, -127},
         TensorProto::INT8);
  m.Floats("w_scale", {2}, {0.01f, 0.02f});
  m.Ints("w_zp", {2}, {0, 0}, TensorProto::INT8);
  m.Ints("b_q", {2}, {100, -50}, TensorProto::INT32);
  m.Floats("b_scale", {2}, {0.0002f, 0.0004f});
  m.Ints("b_zp", {2}, {0, 0}, TensorProto::INT32);
  m.Floats("y_scale", {}, {0.05f});
  m.Ints("y_zp", {}, {0}, TensorProto::UINT8);
  m.Floats("g_scale", {}, {0.03f});
  m.Ints("g_zp", {}, {-5}, TensorProto::INT8);
  m.Node("QuantizeLinear", {"x", "x_scale", "x_zp"}, {"xq"}, "x_q");
  m.Node("DequantizeLinear", {"xq", "x_scale", "x_zp"}, {"xd"}, "x_dq");
  AttrInt(m.Node("DequantizeLinear", {"w_q", "w_scale", "w_zp"}, {"w"}, "w_dq"),
          "axis", 0);
  AttrInt(m.Node("DequantizeLinear", {"b_q", "b_scale", "b_zp"}, {"b"}, "b_dq"),
          "axis", 0);
  m.Node("Conv", {"xd", "w", "b"}, {"c1"}, "conv1");
  m.Node("Relu", {"c1"}, {"r1"}, "relu1");
  m.Node("QuantizeLinear", {"r1", "y_scale", "y_zp"}, {"r1q"}, "r1_q");
  m.Node("DequantizeLinear", {"r1q", "y_scale", "y_zp"}, {"r1d"}, "r1_dq");
  m.Node("GlobalAveragePool", {"r1d"}, {"g"}, "gap");
  m.Node("QuantizeLinear", {"g", "g_scale", "g_zp"}, {"gq"}, "g_q");
  m.Node("DequantizeLinear", {"gq", "g_scale", "g_zp"}, {"gd"}, "g_dq");
  m.Node("Flatten", {"gd"}, {"y"}, "flatten");
  m.Output("y");
  return m;
}

TestModel SklearnClassifier() {
  TestModel m(13, 1);
  m.Input("features", {-1, 4});
  auto* scaler =
      m.Node("Scaler", {"features"}, {"scaled"}, "scaler", "ai.onnx.ml");
  AttrFloats(scaler, "offset", {1.0f, 2.0f, 3.0f, 4.0f});
  AttrFloats(scaler, "scale", {0.5f, 2.0f, 1.0f, 4.0f});
  auto* clf = m.Node("LinearClassifier", {"scaled"}, {"label", "probabilities"},
                     "classifier", "ai.onnx.ml");
  AttrFloats(clf, "coefficients", Ramp(12, 0.3f, 1));
  AttrFloats(clf, "intercepts", {0.1f, 0.2f, 0.3f});
  AttrInts(clf, "classlabels_ints", {0, 1, 2});
  AttrString(clf, "post_transform", "SOFTMAX");
  m.Output("label", onnx::TensorProto::INT64, {-1});
  m.Output("probabilities", onnx::TensorProto::FLOAT, {-1, 3});
  return m;
}

}  // namespace testing
}  // namespace onnx_import
}  // namespace kiln
