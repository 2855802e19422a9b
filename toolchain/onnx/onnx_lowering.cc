// The walk that lowers an ONNX graph (see onnx_lowering.h): the graph
// input, every node in order, the graph outputs, then the QDQ check. Also
// the bookkeeping every operator file uses: what each ONNX name stands for,
// adding Kiln values and ops, and moving a tensor into the Kiln shape an op
// reads. The operators themselves live in onnx_lowering_*.cc; the table in
// LowerDefaultNode says which function lowers which op_type.
#include "toolchain/onnx/onnx_lowering.h"

#include <algorithm>
#include <exception>
#include <utility>

namespace kiln {
namespace onnx_import {
namespace lowering {

using onnx::NodeProto;
using onnx::TensorProto;

// --- dims ---

int64_t Product(const std::vector<int64_t>& dims, size_t from) {
  int64_t p = 1;
  for (size_t i = from; i < dims.size(); ++i) p *= dims[i];
  return p;
}

bool LayoutNeutral(const std::vector<int64_t>& dims) {
  if (dims.size() == 2) return true;
  return dims.size() == 4 && (dims[1] == 1 || dims[2] * dims[3] == 1);
}

std::string DimsString(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// --- the Lowerer's shared helpers ---

Lowerer::Lowerer(const onnx::ModelProto& model, ImportedGraph* graph)
    : model_(model), graph_(graph) {}

void Lowerer::Fail(const NodeProto& node, const std::string& why) const {
  throw LoweringError("node '" + NodeName(node) + "' (" + node.op_type() +
                      "): " + why);
}

std::string Lowerer::NodeName(const NodeProto& node) const {
  if (!node.name().empty()) return node.name();
  return node.op_type() + "_" + std::to_string(node_index_);
}

const Entry& Lowerer::Lookup(const NodeProto& node,
                             const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end())
    Fail(node, "input '" + name +
                   "' is not the graph input, an initializer or the output "
                   "of an earlier node (unknown name or a cycle)");
  return it->second;
}

bool Lowerer::HasInput(const NodeProto& node, int index) const {
  return index < node.input_size() && !node.input(index).empty();
}

const Tensor& Lowerer::InputTensor(const NodeProto& node, int index) const {
  if (!HasInput(node, index))
    Fail(node, "input " + std::to_string(index) + " is missing");
  const std::string& name = node.input(index);
  const Entry& e = Lookup(node, name);
  if (e.is_constant)
    Fail(node, "input '" + name +
                   "' is a constant here; Kiln needs a computed tensor");
  if (e.tensor.is_label)
    Fail(node, "reads '" + name +
                   "', a classifier's label output; only the graph "
                   "outputs may use it");
  if (e.tensor.quantized_int && node.op_type() != "DequantizeLinear")
    Fail(node, "reads '" + name +
                   "', the integer output of a QuantizeLinear; only a "
                   "DequantizeLinear may read it");
  return e.tensor;
}

const Constant& Lowerer::InputConstant(const NodeProto& node, int index) const {
  if (!HasInput(node, index))
    Fail(node, "input " + std::to_string(index) + " is missing");
  const std::string& name = node.input(index);
  const Entry& e = Lookup(node, name);
  if (!e.is_constant)
    Fail(node, "input '" + name +
                   "' must be a constant (an initializer, a Constant or "
                   "foldable shape arithmetic)");
  return e.constant;
}

void Lowerer::SetConstant(const std::string& name, Constant constant) {
  if (name.empty()) return;
  Entry e;
  e.is_constant = true;
  e.constant = std::move(constant);
  entries_[name] = std::move(e);
}

void Lowerer::SetTensor(const std::string& name, Tensor tensor) {
  if (name.empty()) return;
  Entry e;
  e.tensor = std::move(tensor);
  entries_[name] = std::move(e);
}

int Lowerer::Consumers(const std::string& name) const {
  auto it = consumers_.find(name);
  return it == consumers_.end() ? 0 : it->second;
}

bool Lowerer::IsGraphOutput(const std::string& name) const {
  return graph_outputs_.count(name) != 0;
}

Tensor Lowerer::Alias(const NodeProto& node, int index) const {
  Tensor t = InputTensor(node, index);
  const std::string& name = node.input(index);
  t.sole = t.sole && Consumers(name) == 1 && !IsGraphOutput(name);
  return t;
}

void Lowerer::RequireUnusedOutputs(const NodeProto& node, int first) const {
  for (int k = first; k < node.output_size(); ++k) {
    const std::string& name = node.output(k);
    if (name.empty()) continue;
    if (Consumers(name) > 0 || IsGraphOutput(name))
      Fail(node, "output " + std::to_string(k) + " ('" + name +
                     "') is used; Kiln computes only the first output");
  }
}

int32_t Lowerer::FoldableProducer(const NodeProto& node, int index,
                                  const std::vector<ImportedOpKind>& kinds,
                                  bool allow_activation) const {
  const Tensor& t = InputTensor(node, index);
  const std::string& name = node.input(index);
  if (!t.sole || Consumers(name) != 1 || IsGraphOutput(name)) return -1;
  if (!t.chw.empty() || !t.pending_a.empty() || !t.pending_pads.empty())
    return -1;
  int32_t op = producer_[t.value];
  if (op < 0) return -1;
  const ImportedOp& p = graph_->ops[op];
  if ((p.activation != Activation::kNone && !allow_activation) ||
      p.output != t.value)
    return -1;
  if (std::find(kinds.begin(), kinds.end(), p.kind) == kinds.end()) return -1;
  return op;
}

std::vector<int32_t> Lowerer::KilnShape(
    const NodeProto& node, const std::vector<int64_t>& dims) const {
  if (dims.empty() || dims[0] != 1)
    Fail(node, "the result " + DimsString(dims) +
                   " does not keep the batch dim first");
  if (dims.size() == 4)
    return {static_cast<int32_t>(dims[2]), static_cast<int32_t>(dims[3]),
            static_cast<int32_t>(dims[1])};
  if (dims.size() == 2) return {static_cast<int32_t>(dims[1])};
  Fail(node, "produces a rank-" + std::to_string(dims.size()) + " tensor " +
                 DimsString(dims) +
                 "; Kiln handles [N, C, H, W] and [N, K] tensors only");
}

int32_t Lowerer::AddValue(const NodeProto& node, const std::string& name,
                          const std::vector<int64_t>& dims,
                          std::vector<int32_t> kiln_shape) {
  int64_t count = 1;
  for (int64_t d : dims) {
    if (d < 1 || count > kMaxElements / d)
      Fail(node, "result dims " + DimsString(dims) + " are empty or too large");
    count *= d;
  }
  ImportedValue v;
  v.name = name;
  v.shape = std::move(kiln_shape);
  graph_->values.push_back(std::move(v));
  producer_.push_back(-1);
  return static_cast<int32_t>(graph_->values.size() - 1);
}

int32_t Lowerer::AddOp(ImportedOp op) {
  const int32_t index = static_cast<int32_t>(graph_->ops.size());
  producer_[op.output] = index;
  graph_->ops.push_back(std::move(op));
  return index;
}

ImportedOp Lowerer::NewOp(const NodeProto& node, ImportedOpKind kind,
                          std::vector<int32_t> inputs) const {
  ImportedOp op;
  op.kind = kind;
  op.name = NodeName(node);
  op.op_type = node.op_type();
  op.inputs = std::move(inputs);
  return op;
}

int32_t Lowerer::ValueInShape(const NodeProto& node, const Tensor& tensor,
                              const std::vector<int32_t>& shape) {
  if (!tensor.pending_pads.empty()) RequirePlain(node, tensor, true);
  const ImportedValue& v = graph_->values[tensor.value];
  if (v.shape == shape) return tensor.value;
  if (!tensor.chw.empty() || !LayoutNeutral(tensor.dims))
    Fail(node, "needs its input in Kiln shape, which would reorder data");
  const std::string name = v.name + "/reshaped";
  std::vector<int64_t> dims = tensor.dims;
  const std::optional<QuantParams> quant = v.quant;
  int32_t out = AddValue(node, name, dims, shape);
  graph_->values[out].quant = quant;  // a Reshape keeps the quantization
  ImportedOp op = NewOp(node, ImportedOpKind::kReshape, {tensor.value});
  op.name += "/reshape";
  op.op_type = "Reshape";
  op.output = out;
  op.shape = shape;
  AddOp(std::move(op));
  return out;
}

void Lowerer::RequirePlain(const NodeProto& node, const Tensor& t,
                           bool allow_chw) const {
  if (!t.pending_pads.empty())
    Fail(node,
         "reads the output of a Pad, which Kiln can fold only into a "
         "directly following Conv or AveragePool");
  if (!t.pending_a.empty())
    Fail(node,
         "reads the output of a Scaler, which Kiln can fold only into "
         "a directly following linear op");
  if (!allow_chw && !t.chw.empty())
    Fail(node, "reads a flattened [C, H, W] = " + DimsString(t.chw) +
                   " tensor, whose element order differs between ONNX "
                   "(CHW) and Kiln (HWC); only Gemm/MatMul can read it");
}

std::vector<int64_t> EntryDims(Lowerer& l, const NodeProto& node, int index) {
  const Entry& e = l.Lookup(node, node.input(index));
  return e.is_constant ? e.constant.dims : e.tensor.dims;
}

// --- the walk ---

void Lowerer::Run() {
  const onnx::GraphProto& g = model_.graph();
  for (const auto& op : model_.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") opset_ = op.version();
  if (opset_ < 7 || opset_ > 18)
    throw LoweringError("default-domain opset " + std::to_string(opset_) +
                        " is not supported (7..18)");
  graph_->opset = opset_;
  graph_->producer = model_.producer_name();
  if (!model_.producer_version().empty())
    graph_->producer += " " + model_.producer_version();

  for (const auto& node : g.node())
    for (const auto& in : node.input())
      if (!in.empty()) ++consumers_[in];
  for (const auto& out : g.output()) graph_outputs_[out.name()] = true;

  for (const auto& init : g.initializer()) {
    Constant c;
    std::string why;
    if (!ConstantFromTensorProto(init, &c, &why))
      throw LoweringError("initializer '" + init.name() + "': " + why);
    SetConstant(init.name(), std::move(c));
  }
  LowerInput();
  for (int i = 0; i < g.node_size(); ++i) {
    node_index_ = i;
    LowerNode(g.node(i));
  }
  LowerOutputs();
  ApplyKilnHeadMetadata(model_, graph_);
  CheckQuantized();
}

void Lowerer::LowerInput() {
  const onnx::GraphProto& g = model_.graph();
  const onnx::ValueInfoProto* input = nullptr;
  for (const auto& in : g.input())
    if (entries_.count(in.name()) == 0) {
      if (input != nullptr)
        throw LoweringError("the graph has more than one input");
      input = &in;
    }
  if (input == nullptr) throw LoweringError("the graph has no input");
  const std::string what = "graph input '" + input->name() + "'";
  const auto& tt = input->type().tensor_type();
  if (tt.elem_type() == TensorProto::UINT8)
    graph_->input_type = DType::kUInt8;
  else if (tt.elem_type() == TensorProto::FLOAT)
    graph_->input_type = DType::kFloat32;
  else
    throw LoweringError(what + " must be float or uint8");
  std::vector<int64_t> dims;
  for (int i = 0; i < tt.shape().dim_size(); ++i) {
    const auto& d = tt.shape().dim(i);
    if (i == 0) {
      dims.push_back(1);
      continue;
    }
    if (!d.has_dim_value() || d.dim_value() < 1 || d.dim_value() > kMaxElements)
      throw LoweringError(what + " has an unknown or invalid dim " +
                          std::to_string(i));
    dims.push_back(d.dim_value());
  }
  if (dims.size() != 2 && dims.size() != 4)
    throw LoweringError(what + " has rank " + std::to_string(dims.size()) +
                        "; kiln import supports [N, C, H, W] images and "
                        "[N, K] feature vectors");
  NodeProto pseudo;
  pseudo.set_name(input->name());
  pseudo.set_op_type("input");
  Tensor t;
  t.dims = dims;
  t.value = AddValue(pseudo, input->name(), dims, KilnShape(pseudo, dims));
  t.preprocess_stage = 0;
  graph_->input = t.value;
  graph_->input_was_nchw = dims.size() == 4;
  SetTensor(input->name(), std::move(t));
}

void Lowerer::LowerOutputs() {
  const onnx::GraphProto& g = model_.graph();
  auto lookup = [&](const std::string& name) -> const Tensor& {
    auto it = entries_.find(name);
    if (it == entries_.end())
      throw LoweringError("graph output '" + name +
                          "' is not produced by any node");
    if (it->second.is_constant)
      throw LoweringError("graph output '" + name +
                          "' is a constant; Kiln models compute outputs");
    const Tensor& t = it->second.tensor;
    if (!t.pending_a.empty())
      throw LoweringError("graph output '" + name +
                          "' is a Scaler's output; Kiln folds Scalers into "
                          "a following linear op only");
    if (!t.chw.empty())
      throw LoweringError("graph output '" + name +
                          "' flattens a [C, H, W] tensor, whose element "
                          "order differs in Kiln (HWC)");
    if (!t.pending_pads.empty())
      throw LoweringError("graph output '" + name +
                          "' is a Pad's output; Kiln folds Pads into a "
                          "following Conv or AveragePool only");
    return t;
  };
  for (int pass = 0; pass < 2; ++pass) {
    // Scores first, then the label outputs whose scores are not outputs.
    for (const auto& out : g.output()) {
      const Tensor& t = lookup(out.name());
      if (t.is_label != (pass == 1)) continue;
      if (t.is_label) {
        bool listed = false;
        for (const ImportedOutput& o : graph_->outputs)
          listed = listed || o.value == t.value;
        if (listed) continue;
      }
      ImportedOutput o;
      o.value = t.value;
      o.name = out.name();
      o.logits = t.logits;
      o.labels = t.labels;
      graph_->outputs.push_back(std::move(o));
    }
  }
}

void Lowerer::CheckQuantized() {
  if (!had_qdq_) return;
  if (!graph_->values[graph_->input].quant)
    throw LoweringError(
        "QDQ graph: the graph input '" + graph_->values[graph_->input].name +
        "' has no QuantizeLinear; Kiln needs the input's quantization");
  for (const ImportedOp& op : graph_->ops) {
    switch (op.kind) {
      case ImportedOpKind::kReshape:
      case ImportedOpKind::kMaxPool2D:
      case ImportedOpKind::kAveragePool2D:
      case ImportedOpKind::kSoftmax:
      case ImportedOpKind::kLogistic:
        continue;  // these keep their input's or a fixed quantization
      default:
        break;
    }
    // An AveragePool lowered as a depthwise conv (count_include_pad) mixes
    // its input's values with real zeros, so its output stays within the
    // input's range: without a QuantizeLinear of its own, the input's
    // quantization fits it (as it does Kiln's AveragePool2D).
    if (!graph_->values[op.output].quant && op.op_type == "AveragePool")
      graph_->values[op.output].quant = graph_->values[op.inputs[0]].quant;
    if (!graph_->values[op.output].quant)
      throw LoweringError("QDQ graph: node '" + op.name + "' (" + op.op_type +
                          ") output '" + graph_->values[op.output].name +
                          "' is not followed by QuantizeLinear/"
                          "DequantizeLinear; a QDQ graph must quantize "
                          "every such output");
  }
  graph_->quantized = true;
}

// --- default-domain operators: op_type -> the function lowering it ---

void LowerDefaultNode(Lowerer& l, const NodeProto& node) {
  using Handler = void (*)(Lowerer&, const NodeProto&);
  static const std::pair<const char*, Handler> kHandlers[] = {
      {"Conv", LowerConv},
      {"Gemm", LowerGemm},
      {"MatMul", LowerMatMul},
      {"Add", LowerArithmetic},
      {"Sub", LowerArithmetic},
      {"Mul", LowerArithmetic},
      {"Div", LowerArithmetic},
      {"BatchNormalization", LowerBatchNorm},
      {"Relu", LowerActivation},
      {"Clip", LowerActivation},
      {"MaxPool", LowerPool},
      {"AveragePool", LowerPool},
      {"GlobalAveragePool", LowerGlobalAveragePool},
      {"Flatten", LowerFlatten},
      {"Reshape", LowerReshape},
      {"Squeeze", LowerSqueeze},
      {"Unsqueeze", LowerUnsqueeze},
      {"Concat", LowerConcat},
      {"Pad", LowerPad},
      {"Softmax", LowerSoftmaxOrSigmoid},
      {"Sigmoid", LowerSoftmaxOrSigmoid},
      {"Identity", LowerPassThrough},
      {"Dropout", LowerPassThrough},
      {"Cast", LowerPassThrough},
      {"Constant", LowerConstant},
      {"Shape", LowerShape},
      {"Gather", LowerGather},
      {"QuantizeLinear", LowerQuantize},
      {"DequantizeLinear", LowerDequantize},
  };
  for (const auto& h : kHandlers) {
    if (node.op_type() != h.first) continue;
    if (node.output_size() < 1 || node.output(0).empty())
      l.Fail(node, "has no output");
    if (node.op_type() != "Constant" &&
        (node.input_size() < 1 || node.input(0).empty()))
      l.Fail(node, "has no input");
    h.second(l, node);
    return;
  }
  l.Fail(node, "operator not supported by kiln import");
}

void Lowerer::LowerNode(const NodeProto& node) {
  const std::string& domain = node.domain();
  if (domain == "ai.onnx.ml") {
    LowerMlNode(node);
  } else if (domain.empty() || domain == "ai.onnx") {
    LowerDefaultNode(*this, node);
  } else {
    Fail(node, "domain '" + domain + "' is not supported");
  }
}

}  // namespace lowering

bool LowerOnnxModel(const onnx::ModelProto& model, ImportedGraph* graph,
                    std::string* error) {
  *graph = ImportedGraph();
  try {
    lowering::Lowerer lowerer(model, graph);
    lowerer.Run();
    return true;
  } catch (const lowering::LoweringError& e) {
    *error = e.what();
  } catch (const std::exception& e) {
    *error = std::string("ONNX lowering failed: ") + e.what();
  } catch (...) {
    *error = "ONNX lowering failed";
  }
  return false;
}

}  // namespace onnx_import
}  // namespace kiln
