#include "toolchain/onnx/onnx_file.h"

#include <stdio.h>

#include <exception>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "onnx/checker.h"
#include "onnx/shape_inference/implementation.h"
#include "toolchain/onnx/onnx_import.h"
#include "toolchain/onnx/onnx_lowering.h"

namespace kiln {
namespace onnx_import {
namespace {

// No tensor Kiln handles has more elements than this (Kiln sizes are
// int32); rejecting larger dims early keeps crafted files from asking for
// huge allocations anywhere later.
constexpr int64_t kMaxElements = std::numeric_limits<int32_t>::max();

bool ExternalData(const onnx::TensorProto& t) {
  return t.data_location() == onnx::TensorProto::EXTERNAL ||
         t.external_data_size() > 0;
}

// Tensors carried by a node's attributes (Constant values and the like).
bool CheckAttributeTensors(const onnx::NodeProto& node, std::string* error) {
  for (const onnx::AttributeProto& attr : node.attribute()) {
    std::vector<const onnx::TensorProto*> tensors;
    if (attr.has_t()) tensors.push_back(&attr.t());
    for (const onnx::TensorProto& t : attr.tensors()) tensors.push_back(&t);
    for (const onnx::TensorProto* t : tensors) {
      if (ExternalData(*t)) {
        *error = "node '" + node.name() + "' (" + node.op_type() +
                 "): attribute '" + attr.name() +
                 "' uses external data, which kiln import does not read";
        return false;
      }
      lowering::Constant c;
      std::string why = "negative dims or more than 2^31 - 1 elements";
      if (CheckedElementCount(t->dims(), kMaxElements) >= 0 &&
          lowering::ConstantFromTensorProto(*t, &c, &why))
        continue;
      *error = "node '" + node.name() + "' (" + node.op_type() +
               "): attribute '" + attr.name() + "': " + why;
      return false;
    }
  }
  return true;
}

bool CheckShape(const onnx::ValueInfoProto& info, std::string* error) {
  if (!info.type().has_tensor_type() || !info.type().tensor_type().has_shape())
    return true;
  int64_t product = 1;
  for (const auto& dim : info.type().tensor_type().shape().dim()) {
    if (!dim.has_dim_value()) continue;
    int64_t d = dim.dim_value();
    if (d < 0) {
      *error = "value '" + info.name() + "' has a negative dim";
      return false;
    }
    if (d != 0 && product > kMaxElements / d) {
      *error = "value '" + info.name() + "' has more than 2^31 - 1 elements";
      return false;
    }
    product *= d;
  }
  return true;
}

bool CheckGraphInput(const onnx::GraphProto& graph, std::string* error) {
  std::set<std::string> initializers;
  for (const auto& init : graph.initializer()) initializers.insert(init.name());
  const onnx::ValueInfoProto* input = nullptr;
  int count = 0;
  for (const auto& in : graph.input()) {
    if (initializers.count(in.name())) continue;
    input = &in;
    ++count;
  }
  if (count != 1) {
    *error = "the graph has " + std::to_string(count) +
             " inputs besides its initializers; kiln import needs exactly one";
    return false;
  }
  const std::string what = "graph input '" + input->name() + "'";
  if (!input->type().has_tensor_type()) {
    *error = what + " is not a tensor";
    return false;
  }
  const auto& tt = input->type().tensor_type();
  if (tt.elem_type() != onnx::TensorProto::FLOAT &&
      tt.elem_type() != onnx::TensorProto::UINT8) {
    *error = what + " must be float or uint8 (ONNX dtype " +
             std::to_string(tt.elem_type()) + ")";
    return false;
  }
  if (!tt.has_shape() ||
      (tt.shape().dim_size() != 2 && tt.shape().dim_size() != 4)) {
    *error = what + " needs a known shape of rank 2 ([N, K] features) or " +
             "4 ([N, C, H, W] images)";
    return false;
  }
  const auto& dims = tt.shape().dim();
  // The batch dim may be symbolic, unknown or 1; every other dim is the
  // shape of one item and must be known.
  if (dims[0].has_dim_value() && dims[0].dim_value() != 1) {
    *error = what + " has batch dim " + std::to_string(dims[0].dim_value()) +
             "; kiln import needs a symbolic or 1 batch dim";
    return false;
  }
  for (int i = 1; i < dims.size(); ++i) {
    if (!dims[i].has_dim_value() || dims[i].dim_value() <= 0) {
      *error = what + ": dim " + std::to_string(i) +
               " is unknown or not positive; only the batch dim may be";
      return false;
    }
  }
  return CheckShape(*input, error);
}

// Every graph output must be computed by a node. libonnx 1.12's inference
// lets an output's declared type replace the type of a graph input or an
// initializer of the same name, and a Conv reading that name with a rank
// it does not expect then reads out of bounds.
bool CheckOutputsAreComputed(const onnx::GraphProto& graph,
                             std::string* error) {
  std::set<std::string> given;
  for (const auto& in : graph.input()) given.insert(in.name());
  for (const auto& init : graph.initializer()) given.insert(init.name());
  for (const auto& out : graph.output()) {
    if (given.count(out.name())) {
      *error = "graph output '" + out.name() +
               "' is a graph input or initializer, not computed by a node";
      return false;
    }
  }
  return true;
}

// Whether two declarations of one value can describe the same tensor: true
// when either has no shape, else same rank and equal dims where both are
// known.
bool ShapesAgree(const onnx::ValueInfoProto& a, const onnx::ValueInfoProto& b) {
  const auto& ta = a.type().tensor_type();
  const auto& tb = b.type().tensor_type();
  if (!ta.has_shape() || !tb.has_shape()) return true;
  if (ta.shape().dim_size() != tb.shape().dim_size()) return false;
  for (int i = 0; i < ta.shape().dim_size(); ++i) {
    const auto& da = ta.shape().dim(i);
    const auto& db = tb.shape().dim(i);
    if (da.has_dim_value() && db.has_dim_value() &&
        da.dim_value() != db.dim_value())
      return false;
  }
  return true;
}

// Every node input must exist before the node: the graph input, an
// initializer or an earlier node's output. (The checker says so too, but
// without naming the node.)
bool CheckTopologicalOrder(const onnx::GraphProto& graph, std::string* error) {
  std::set<std::string> known;
  for (const auto& in : graph.input()) known.insert(in.name());
  for (const auto& init : graph.initializer()) known.insert(init.name());
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto& node = graph.node(i);
    for (const std::string& in : node.input()) {
      if (in.empty() || known.count(in)) continue;
      const std::string name = node.name().empty()
                                   ? node.op_type() + "_" + std::to_string(i)
                                   : node.name();
      *error = "node '" + name + "' (" + node.op_type() + "): input '" + in +
               "' is not the graph input, an initializer or the output of "
               "an earlier node (unknown name or a cycle)";
      return false;
    }
    for (const std::string& out : node.output()) known.insert(out);
  }
  return true;
}

// ONNX's messages span lines; an error here is one line.
std::string OneLine(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool space = c == '\n' || c == '\r' || c == '\t' || c == ' ';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace

int64_t CheckedElementCount(
    const google::protobuf::RepeatedField<int64_t>& dims, int64_t limit) {
  int64_t product = 1;
  for (int64_t d : dims) {
    if (d < 0) return -1;
    if (d != 0 && product > limit / d) return -1;
    product *= d;
  }
  return product;
}

bool ValidateOnnxModel(onnx::ModelProto* model, std::string* error) {
  if (!model->has_graph()) {
    *error = "the model has no graph";
    return false;
  }
  const onnx::GraphProto& graph = model->graph();
  if (graph.sparse_initializer_size() > 0) {
    *error = "sparse initializers are not supported";
    return false;
  }
  // Initializers first: the checker and shape inference must never see a
  // tensor whose data disagrees with its dims.
  for (const onnx::TensorProto& init : graph.initializer()) {
    if (ExternalData(init)) {
      *error = "initializer '" + init.name() +
               "' uses external data, which kiln import does not read "
               "(save the model with all tensors inside the file)";
      return false;
    }
    if (CheckedElementCount(init.dims(), kMaxElements) < 0) {
      *error = "initializer '" + init.name() +
               "' has negative dims or more than 2^31 - 1 elements";
      return false;
    }
    lowering::Constant c;
    std::string why;
    if (!lowering::ConstantFromTensorProto(init, &c, &why)) {
      *error = "initializer '" + init.name() + "': " + why;
      return false;
    }
  }
  for (const onnx::NodeProto& node : graph.node())
    if (!CheckAttributeTensors(node, error)) return false;
  for (const auto& info : graph.input())
    if (!CheckShape(info, error)) return false;
  for (const auto& info : graph.output())
    if (!CheckShape(info, error)) return false;
  for (const auto& info : graph.value_info())
    if (!CheckShape(info, error)) return false;
  if (!CheckGraphInput(graph, error)) return false;
  if (!CheckOutputsAreComputed(graph, error)) return false;
  if (!CheckTopologicalOrder(graph, error)) return false;

  try {
    onnx::checker::check_model(*model);
  } catch (const std::exception& e) {
    *error = "onnx checker: " + OneLine(e.what());
    return false;
  } catch (...) {
    *error = "onnx checker: failed";
    return false;
  }
  return true;
}

bool InferOnnxShapes(onnx::ModelProto* model, std::string* error) {
  // Declared intermediate shapes are not trusted (the lowering computed its
  // own): inference starts from the graph input alone.
  model->mutable_graph()->clear_value_info();
  // Declared output shapes do not seed it either (they would override what
  // the nodes compute before it is checked): they are compared afterwards.
  const std::vector<onnx::ValueInfoProto> declared(
      model->graph().output().begin(), model->graph().output().end());
  for (auto& out : *model->mutable_graph()->mutable_output())
    if (out.type().has_tensor_type())
      out.mutable_type()->mutable_tensor_type()->clear_shape();
  try {
    // Strict: a node whose shapes cannot be inferred is an error.
    onnx::ShapeInferenceOptions options(/*check_type=*/true,
                                        /*strict_mode=*/1,
                                        /*data_prop=*/true);
    onnx::shape_inference::InferShapes(
        *model, onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception& e) {
    *error = "onnx shape inference: " + OneLine(e.what());
    return false;
  } catch (...) {
    *error = "onnx shape inference: failed";
    return false;
  }
  for (const auto& info : model->graph().value_info())
    if (!CheckShape(info, error)) return false;
  for (int i = 0; i < model->graph().output_size(); ++i) {
    const onnx::ValueInfoProto& info = model->graph().output(i);
    if (!CheckShape(info, error)) return false;
    if (!ShapesAgree(declared[static_cast<size_t>(i)], info)) {
      *error = "graph output '" + info.name() +
               "' is declared with a shape the graph does not compute";
      return false;
    }
  }
  return true;
}

bool ParseOnnxModel(const uint8_t* data, size_t size, onnx::ModelProto* model,
                    std::string* error) {
  if (size > kMaxOnnxBytes) {
    *error = "the ONNX file is larger than 1 GiB";
    return false;
  }
  if (size == 0) {
    *error = "the ONNX file is empty";
    return false;
  }
  if (!model->ParseFromArray(data, static_cast<int>(size))) {
    *error = "not an ONNX model (protobuf parse failed; truncated file?)";
    return false;
  }
  return ValidateOnnxModel(model, error);
}

bool ReadOnnxModelFile(const std::string& path, onnx::ModelProto* model,
                       std::string* error) {
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) {
    *error = "cannot open " + path;
    return false;
  }
  std::vector<uint8_t> bytes;
  uint8_t buffer[1 << 16];
  size_t n;
  bool too_big = false;
  while ((n = fread(buffer, 1, sizeof(buffer), f)) > 0) {
    if (bytes.size() + n > kMaxOnnxBytes) {
      too_big = true;
      break;
    }
    bytes.insert(bytes.end(), buffer, buffer + n);
  }
  bool read_error = ferror(f) != 0;
  fclose(f);
  if (too_big) {
    *error = path + ": larger than 1 GiB";
    return false;
  }
  if (read_error) {
    *error = "cannot read " + path;
    return false;
  }
  if (!ParseOnnxModel(bytes.data(), bytes.size(), model, error)) {
    *error = path + ": " + *error;
    return false;
  }
  return true;
}

namespace {

// The lowering computes every shape itself and rejects whatever it cannot
// lower; ONNX's shape inference runs only afterwards, on a model made of
// ops the lowering accepted, because libonnx 1.12's inference is not safe
// on arbitrary graphs (a Conv whose input rank differs from its weights'
// reads out of bounds). Its strict pass then confirms the model's
// consistency.
bool LowerAndInfer(onnx::ModelProto* model, ImportedGraph* graph,
                   std::string* error) {
  if (!LowerOnnxModel(*model, graph, error)) return false;
  if (!InferOnnxShapes(model, error)) {
    *graph = ImportedGraph();
    return false;
  }
  return true;
}

}  // namespace

bool ImportOnnxBytes(const uint8_t* data, size_t size, ImportedGraph* graph,
                     std::string* error) {
  try {
    onnx::ModelProto model;
    if (!ParseOnnxModel(data, size, &model, error)) return false;
    return LowerAndInfer(&model, graph, error);
  } catch (const std::exception& e) {
    *error = std::string("ONNX import failed: ") + e.what();
  } catch (...) {
    *error = "ONNX import failed";
  }
  return false;
}

bool ImportOnnxFile(const std::string& path, ImportedGraph* graph,
                    std::string* error) {
  try {
    onnx::ModelProto model;
    if (!ReadOnnxModelFile(path, &model, error)) return false;
    if (!LowerAndInfer(&model, graph, error)) {
      *error = path + ": " + *error;
      return false;
    }
    return true;
  } catch (const std::exception& e) {
    *error = path + ": ONNX import failed: " + e.what();
  } catch (...) {
    *error = path + ": ONNX import failed";
  }
  return false;
}

}  // namespace onnx_import
}  // namespace kiln
