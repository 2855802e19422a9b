// train::FloatModel -> onnx::ModelProto -> bytes (see onnx_export.h).
#include "toolchain/onnx/onnx_export.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <climits>
#include <exception>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "onnx/checker.h"
#include "onnx/onnx_pb.h"
#include "onnx/shape_inference/implementation.h"
#include "toolchain/model_def.h"
#include "toolchain/train/quantize_model.h"

namespace kiln {
namespace {

using train::FloatHead;
using train::FloatLayer;
using train::FloatModel;
using train::LayerKind;

// Opset 13 arrived with IR version 7 (ONNX 1.8): the oldest pair that has
// every op and attribute written here, so the widest range of runtimes
// loads the file.
constexpr int64_t kOpsetVersion = 13;
constexpr int64_t kIrVersion = 7;
const char kInputName[] = "input";
const char kBatchDim[] = "batch";

// ONNX graphs are single-assignment: every tensor name must be unique, while
// Kiln layer names may repeat or be empty.
class NameTable {
 public:
  // False when the name is taken.
  bool Reserve(const std::string& name) { return used_.insert(name).second; }
  std::string Fresh(const std::string& base) {
    if (used_.insert(base).second) return base;
    for (int i = 2;; ++i) {
      std::string candidate = base + "_" + std::to_string(i);
      if (used_.insert(candidate).second) return candidate;
    }
  }

 private:
  std::set<std::string> used_;
};

// How a Kiln per-item shape appears in the ONNX graph.
enum class Layout {
  kSpatial,  // Kiln [H, W, C] <-> ONNX [batch, C, H, W]
  kFlat,     // Kiln [K] <-> ONNX [batch, K]
  kOther,    // the model input of any other rank: [batch, dims...] as is
};

struct Value {
  std::string name;
  Layout layout = Layout::kFlat;
  std::vector<int32_t> shape;  // Kiln per-item shape
};

Layout LayoutOf(const std::vector<int32_t>& shape) {
  if (shape.size() == 3) return Layout::kSpatial;
  if (shape.size() == 1) return Layout::kFlat;
  return Layout::kOther;
}

// The ONNX dims after the batch dim.
std::vector<int64_t> OnnxDims(const std::vector<int32_t>& shape) {
  if (LayoutOf(shape) == Layout::kSpatial)
    return {shape[2], shape[0], shape[1]};
  return std::vector<int64_t>(shape.begin(), shape.end());
}

std::string ShapeText(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    s += (i ? ", " : "") + std::to_string(dims[i]);
  }
  return s + "]";
}

bool AllFinite(const std::vector<float>& v) {
  for (float x : v) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

void SetTensorType(onnx::ValueInfoProto* info, const std::vector<int64_t>& dims,
                   const std::string& doc) {
  onnx::TypeProto_Tensor* t = info->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto* shape = t->mutable_shape();
  shape->add_dim()->set_dim_param(kBatchDim);
  for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
  if (!doc.empty()) info->set_doc_string(doc);
}

// Builds the GraphProto layer by layer.
class GraphWriter {
 public:
  GraphWriter(onnx::GraphProto* graph, NameTable* names)
      : graph_(graph), names_(names) {}

  // A FLOAT initializer, little-endian raw_data.
  std::string Initializer(const std::string& base,
                          const std::vector<int64_t>& dims,
                          const std::vector<float>& values) {
    onnx::TensorProto* t = graph_->add_initializer();
    const std::string name = names_->Fresh(base);
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    std::string raw(values.size() * 4, '\0');
    for (size_t i = 0; i < values.size(); ++i) {
      uint32_t bits;
      memcpy(&bits, &values[i], 4);
      for (int b = 0; b < 4; ++b) {
        raw[i * 4 + b] = static_cast<char>((bits >> (8 * b)) & 0xff);
      }
    }
    t->set_raw_data(std::move(raw));
    return name;
  }

  onnx::NodeProto* Node(const std::string& op,
                        const std::vector<std::string>& inputs,
                        const std::string& output) {
    onnx::NodeProto* n = graph_->add_node();
    n->set_op_type(op);
    n->set_name(output);
    for (const std::string& in : inputs) n->add_input(in);
    n->add_output(output);
    return n;
  }

  static void Ints(onnx::NodeProto* n, const std::string& name,
                   const std::vector<int64_t>& values) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : values) a->add_ints(v);
  }
  static void Int(onnx::NodeProto* n, const std::string& name, int64_t value) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(value);
  }

  // Writes `activation` from `linear` to `out` (nothing to do for kNone,
  // where the caller wrote straight to `out`).
  void Activate(Activation activation, const std::string& linear,
                const std::string& out) {
    if (activation == Activation::kRelu) {
      Node("Relu", {linear}, out);
    } else if (activation == Activation::kRelu6) {
      // Opset 13's Clip takes its bounds as (scalar) inputs.
      if (relu6_min_.empty()) {
        relu6_min_ = Initializer("relu6_min", {}, {0.0f});
        relu6_max_ = Initializer("relu6_max", {}, {6.0f});
      }
      Node("Clip", {linear, relu6_min_, relu6_max_}, out);
    }
  }

  // `v` as [batch, K] for a Gemm (cached: several layers may read one).
  std::string Flattened(const Value& v) {
    if (v.layout == Layout::kFlat) return v.name;
    auto it = flattened_.find(v.name);
    if (it != flattened_.end()) return it->second;
    const std::string out = names_->Fresh(v.name + "/flatten");
    Int(Node("Flatten", {v.name}, out), "axis", 1);
    flattened_[v.name] = out;
    return out;
  }

 private:
  onnx::GraphProto* graph_;
  NameTable* names_;
  std::string relu6_min_, relu6_max_;
  std::map<std::string, std::string> flattened_;
};

// Kiln's [N, K] columns over an [H, W, C] input are in HWC order; ONNX's
// Flatten of [C, H, W] gives CHW order.
std::vector<float> HwcColumnsToChw(const std::vector<float>& w, int32_t n,
                                   const std::vector<int32_t>& in_shape) {
  const size_t H = in_shape[0], W = in_shape[1], C = in_shape[2];
  const size_t K = H * W * C;
  std::vector<float> out(w.size());
  for (size_t row = 0; row < static_cast<size_t>(n); ++row) {
    const float* src = w.data() + row * K;
    float* dst = out.data() + row * K;
    for (size_t h = 0; h < H; ++h) {
      for (size_t x = 0; x < W; ++x) {
        for (size_t c = 0; c < C; ++c) {
          dst[(c * H + h) * W + x] = src[(h * W + x) * C + c];
        }
      }
    }
  }
  return out;
}

// Conv weights OHWI -> OIHW.
std::vector<float> OhwiToOihw(const std::vector<float>& w,
                              const std::vector<int32_t>& s) {
  const size_t O = s[0], KH = s[1], KW = s[2], I = s[3];
  std::vector<float> out(w.size());
  for (size_t o = 0; o < O; ++o) {
    for (size_t y = 0; y < KH; ++y) {
      for (size_t x = 0; x < KW; ++x) {
        for (size_t i = 0; i < I; ++i) {
          out[((o * I + i) * KH + y) * KW + x] =
              w[((o * KH + y) * KW + x) * I + i];
        }
      }
    }
  }
  return out;
}

std::string LayerLabel(const FloatModel& model, size_t l) {
  const std::string& name = model.layers[l].name;
  return "layer " + std::to_string(l) + (name.empty() ? "" : " '" + name + "'");
}

// Refuses what the exporter cannot write faithfully (beyond what
// InferLayerShapes checks).
bool CheckExportable(const FloatModel& model,
                     const std::vector<std::vector<int32_t>>& shapes,
                     std::string* error) {
  if (model.uint8_input && !(std::isfinite(model.input_scale_real) &&
                             model.input_scale_real > 0.0f)) {
    *error = "input_scale_real must be positive and finite";
    return false;
  }
  if (model.heads.empty()) {
    *error = "the model has no heads: nothing to output";
    return false;
  }
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const FloatLayer& layer = model.layers[l];
    if (!AllFinite(layer.weights) || !AllFinite(layer.bias)) {
      *error = LayerLabel(model, l) + " has non-finite weights or biases";
      return false;
    }
    if (layer.kind == LayerKind::kMaxPool2D ||
        layer.kind == LayerKind::kAveragePool2D) {
      // With padding >= the window a window may hold padding only: Kiln
      // refuses that (docs/format.md), and ONNX has no agreed answer.
      const Pool2DOptions& p = layer.pool;
      if (p.pad_top < 0 || p.pad_bottom < 0 || p.pad_left < 0 ||
          p.pad_right < 0 || p.pad_top >= p.filter_h ||
          p.pad_bottom >= p.filter_h || p.pad_left >= p.filter_w ||
          p.pad_right >= p.filter_w) {
        *error = LayerLabel(model, l) +
                 ": pool padding must be in [0, window) on each axis";
        return false;
      }
    }
    if (layer.kind == LayerKind::kConv2D) {
      const Conv2DOptions& c = layer.conv;
      if (c.pad_top < 0 || c.pad_bottom < 0 || c.pad_left < 0 ||
          c.pad_right < 0 || c.stride_h < 1 || c.stride_w < 1 ||
          c.dilation_h < 1 || c.dilation_w < 1) {
        *error = LayerLabel(model, l) +
                 ": negative padding or non-positive stride/dilation";
        return false;
      }
    }
  }
  std::set<std::string> head_names;
  for (const FloatHead& head : model.heads) {
    if (head.name.empty()) {
      *error = "a head has no name (its ONNX output needs one)";
      return false;
    }
    if (head.name == kInputName) {
      *error = "head 'input' would collide with the graph input's name";
      return false;
    }
    if (!head_names.insert(head.name).second) {
      *error = "two heads are named '" + head.name + "'";
      return false;
    }
    const size_t classes = static_cast<size_t>(shapes[head.layer][0]);
    if (!head.labels.empty() && head.labels.size() != classes) {
      *error = "head '" + head.name + "' has " +
               std::to_string(head.labels.size()) + " labels for " +
               std::to_string(classes) + " logits";
      return false;
    }
  }
  return true;
}

std::string InputDoc(const FloatModel& model) {
  char scale[32];
  snprintf(scale, sizeof scale, "%.9g", model.input_scale_real);
  const bool image = model.input_shape.size() == 3;
  std::string doc;
  if (model.uint8_input) {
    doc = std::string("real values x = raw * ") + scale + " (raw: the uint8 " +
          (image ? "pixels" : "features") + " Kiln takes)";
  } else {
    doc = "the float features as Kiln takes them";
  }
  if (image) {
    doc +=
        ", transposed from Kiln's HWC to NCHW; any mean/std normalization "
        "is folded into the first layer";
  }
  return doc;
}

nlohmann::json PolicyJson(const DecisionPolicy& p) {
  return {{"top_k", p.top_k},
          {"confidence", ConfidenceKindName(p.confidence)},
          {"threshold", p.threshold_real}};
}

bool AddMetadata(const FloatModel& model, const OnnxExportOptions& options,
                 onnx::ModelProto* proto, std::string* error) {
  std::map<std::string, std::string> props;
  char scale[32];
  snprintf(scale, sizeof scale, "%.9g", model.input_scale_real);
  props["kiln.model_name"] = options.model_name;
  props["kiln.input"] = InputDoc(model);
  props["kiln.input_scale_real"] = model.uint8_input ? scale : "1";
  nlohmann::json heads = nlohmann::json::array();
  for (const FloatHead& head : model.heads) {
    const nlohmann::json labels = head.labels;
    heads.push_back({{"name", head.name},
                     {"labels", labels},
                     {"policy", PolicyJson(head.policy)}});
    props["kiln.head." + head.name + ".labels"] = labels.dump();
    props["kiln.head." + head.name + ".policy"] =
        PolicyJson(head.policy).dump();
  }
  props["kiln.heads"] = heads.dump();
  for (const auto& [key, value] : options.metadata) {
    if (!props.emplace(key, value).second) {
      *error = "metadata key '" + key + "' is written by the exporter";
      return false;
    }
  }
  for (const auto& [key, value] : props) {
    onnx::StringStringEntryProto* e = proto->add_metadata_props();
    e->set_key(key);
    e->set_value(value);
  }
  return true;
}

// The ONNX checker, then strict shape inference; every layer's inferred
// shape must be the one the Kiln shapes say (a check of this file's own
// layout conversions, not just of ONNX's rules).
bool CheckAndInfer(onnx::ModelProto* proto,
                   const std::map<std::string, std::vector<int64_t>>& expected,
                   std::string* error) {
  try {
    onnx::checker::check_model(*proto);
  } catch (const std::exception& e) {
    *error = std::string("ONNX checker: ") + e.what();
    return false;
  }
  try {
    onnx::ShapeInferenceOptions options(/*check_type=*/true,
                                        /*error_mode=*/1);
    onnx::shape_inference::InferShapes(
        *proto, onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception& e) {
    *error = std::string("ONNX shape inference: ") + e.what();
    return false;
  }
  std::map<std::string, const onnx::ValueInfoProto*> inferred;
  for (const onnx::ValueInfoProto& v : proto->graph().value_info()) {
    inferred[v.name()] = &v;
  }
  for (const onnx::ValueInfoProto& v : proto->graph().output()) {
    inferred[v.name()] = &v;
  }
  for (const auto& [name, dims] : expected) {
    auto it = inferred.find(name);
    if (it == inferred.end() || !it->second->type().has_tensor_type() ||
        !it->second->type().tensor_type().has_shape()) {
      *error = "ONNX shape inference gave no shape for '" + name + "'";
      return false;
    }
    const onnx::TensorShapeProto& shape =
        it->second->type().tensor_type().shape();
    bool same = shape.dim_size() == static_cast<int>(dims.size()) + 1 &&
                shape.dim(0).dim_param() == kBatchDim;
    std::vector<int64_t> got;
    for (int i = 1; i < shape.dim_size(); ++i) {
      got.push_back(shape.dim(i).has_dim_value() ? shape.dim(i).dim_value()
                                                 : -1);
    }
    same = same && got == dims;
    if (!same) {
      *error = "ONNX shape inference gives '" + name + "' [batch] + " +
               ShapeText(got) + ", Kiln's shape is [batch] + " +
               ShapeText(dims);
      return false;
    }
  }
  return true;
}

bool Export(const FloatModel& model, const OnnxExportOptions& options,
            std::vector<uint8_t>* bytes, std::string* error) {
  std::vector<std::vector<int32_t>> shapes;
  if (!train::InferLayerShapes(model, &shapes, error)) return false;
  if (!CheckExportable(model, shapes, error)) return false;

  onnx::ModelProto proto;
  proto.set_ir_version(kIrVersion);
  proto.set_producer_name("kiln");
  if (!options.producer_version.empty()) {
    proto.set_producer_version(options.producer_version);
  }
  proto.set_model_version(options.model_version);
  proto.set_doc_string(
      "A Kiln float model (BatchNorm folded). Input: " + InputDoc(model) +
      ". Outputs: one tensor of float logits per head.");
  onnx::OperatorSetIdProto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpsetVersion);
  onnx::GraphProto* graph = proto.mutable_graph();
  graph->set_name(options.model_name.empty() ? "model" : options.model_name);

  // Names: the graph input and head outputs are fixed, the rest fit around.
  NameTable names;
  names.Reserve(kInputName);
  for (const FloatHead& head : model.heads) names.Reserve(head.name);
  // A layer's output tensor takes the name of the first head on it.
  std::vector<std::string> out_name(model.layers.size());
  for (const FloatHead& head : model.heads) {
    if (out_name[head.layer].empty()) out_name[head.layer] = head.name;
  }
  for (size_t l = 0; l < model.layers.size(); ++l) {
    if (out_name[l].empty()) {
      const std::string& n = model.layers[l].name;
      out_name[l] = names.Fresh(n.empty() ? "layer" + std::to_string(l) : n);
    }
  }

  SetTensorType(graph->add_input(), OnnxDims(model.input_shape),
                InputDoc(model));
  graph->mutable_input(0)->set_name(kInputName);

  GraphWriter w(graph, &names);
  const Value input{kInputName, LayoutOf(model.input_shape), model.input_shape};
  std::vector<Value> values(model.layers.size());
  std::map<std::string, std::vector<int64_t>> expected;
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const FloatLayer& layer = model.layers[l];
    const Value& in = layer.input < 0 ? input : values[layer.input];
    const std::string& out = out_name[l];
    // The op writes `linear`; the activation (if any) then writes `out`.
    const std::string linear = layer.activation == Activation::kNone
                                   ? out
                                   : names.Fresh(out + "/linear");
    const std::vector<int32_t>& ws = layer.weight_shape;
    switch (layer.kind) {
      case LayerKind::kConv2D: {
        const Conv2DOptions& c = layer.conv;
        std::vector<std::string> inputs = {
            in.name,
            w.Initializer(out + ".weight", {ws[0], ws[3], ws[1], ws[2]},
                          OhwiToOihw(layer.weights, ws))};
        if (!layer.bias.empty()) {
          inputs.push_back(w.Initializer(out + ".bias", {ws[0]}, layer.bias));
        }
        onnx::NodeProto* n = w.Node("Conv", inputs, linear);
        GraphWriter::Ints(n, "kernel_shape", {ws[1], ws[2]});
        GraphWriter::Ints(n, "strides", {c.stride_h, c.stride_w});
        GraphWriter::Ints(n, "dilations", {c.dilation_h, c.dilation_w});
        GraphWriter::Ints(n, "pads",
                          {c.pad_top, c.pad_left, c.pad_bottom, c.pad_right});
        GraphWriter::Int(n, "group", c.groups);
        break;
      }
      case LayerKind::kFullyConnected: {
        const std::vector<float> weights =
            in.layout == Layout::kSpatial
                ? HwcColumnsToChw(layer.weights, ws[0], in.shape)
                : layer.weights;
        std::vector<std::string> inputs = {
            w.Flattened(in),
            w.Initializer(out + ".weight", {ws[0], ws[1]}, weights)};
        if (!layer.bias.empty()) {
          inputs.push_back(w.Initializer(out + ".bias", {ws[0]}, layer.bias));
        }
        GraphWriter::Int(w.Node("Gemm", inputs, linear), "transB", 1);
        break;
      }
      case LayerKind::kMaxPool2D:
      case LayerKind::kAveragePool2D: {
        const Pool2DOptions& p = layer.pool;
        const bool is_max = layer.kind == LayerKind::kMaxPool2D;
        onnx::NodeProto* n =
            w.Node(is_max ? "MaxPool" : "AveragePool", {in.name}, linear);
        GraphWriter::Ints(n, "kernel_shape", {p.filter_h, p.filter_w});
        GraphWriter::Ints(n, "strides", {p.stride_h, p.stride_w});
        GraphWriter::Ints(n, "pads",
                          {p.pad_top, p.pad_left, p.pad_bottom, p.pad_right});
        // Kiln averages over the real elements of a window only.
        if (!is_max) GraphWriter::Int(n, "count_include_pad", 0);
        break;
      }
      case LayerKind::kGlobalAveragePool: {
        // Kiln's output is [C]: GlobalAveragePool's [batch, C, 1, 1]
        // flattened to [batch, C].
        const std::string pooled = names.Fresh(out + "/pooled");
        w.Node("GlobalAveragePool", {in.name}, pooled);
        GraphWriter::Int(w.Node("Flatten", {pooled}, linear), "axis", 1);
        break;
      }
      case LayerKind::kAdd: {
        const Value& in2 = layer.input2 < 0 ? input : values[layer.input2];
        w.Node("Add", {in.name, in2.name}, linear);
        break;
      }
    }
    w.Activate(layer.activation, linear, out);
    values[l] = Value{out, LayoutOf(shapes[l]), shapes[l]};
    expected[out] = OnnxDims(shapes[l]);
  }

  // Outputs: one per head; a second head on the same layer reads it through
  // an Identity.
  for (const FloatHead& head : model.heads) {
    const std::string& layer_out = out_name[head.layer];
    if (layer_out != head.name) w.Node("Identity", {layer_out}, head.name);
    onnx::ValueInfoProto* o = graph->add_output();
    o->set_name(head.name);
    SetTensorType(o, OnnxDims(shapes[head.layer]),
                  "float logits of head '" + head.name + "'");
  }
  if (!AddMetadata(model, options, &proto, error)) return false;
  if (!CheckAndInfer(&proto, expected, error)) return false;

  const size_t size = proto.ByteSizeLong();
  if (size > static_cast<size_t>(INT_MAX)) {
    *error = "the model is " + std::to_string(size) +
             " bytes: over protobuf's 2 GB limit for one ONNX file";
    return false;
  }
  std::string serialized;
  if (!proto.SerializeToString(&serialized)) {
    *error = "protobuf could not serialize the ONNX model";
    return false;
  }
  bytes->assign(serialized.begin(), serialized.end());
  return true;
}

}  // namespace

bool ExportFloatModelToOnnx(const train::FloatModel& model,
                            const OnnxExportOptions& options,
                            std::vector<uint8_t>* bytes, std::string* error) {
  bytes->clear();
  try {
    if (Export(model, options, bytes, error)) return true;
  } catch (const std::exception& e) {
    *error = std::string("ONNX export: ") + e.what();
  }
  bytes->clear();
  *error = "cannot export to ONNX: " + *error;
  return false;
}

}  // namespace kiln
