#include "toolchain/onnx/import_compile.h"

#include <math.h>

#include <algorithm>
#include <exception>
#include <set>
#include <stdexcept>

#include "kiln/kiln.h"
#include "toolchain/onnx/graph_interpreter.h"
#include "toolchain/train/quantize_model.h"

namespace kiln {
namespace onnx_import {

namespace {

bool Fail(std::string* error, const std::string& message) {
  if (error) *error = message;
  return false;
}

// The tensor names the builder derives from an op's name: its output and
// its constants (model_builder_ops.cc).
std::vector<std::string> DerivedNames(ImportedOpKind kind) {
  switch (kind) {
    case ImportedOpKind::kConv2D:
    case ImportedOpKind::kFullyConnected:
      return {"", "/weights", "/bias"};
    case ImportedOpKind::kSoftmax:
      return {"", "/exp_table"};
    case ImportedOpKind::kLogistic:
      return {"", "/table"};
    default:
      return {""};
  }
}

class Compiler {
 public:
  Compiler(const ImportedGraph& g, const std::vector<train::Range>* ranges,
           const ImportCompileOptions& options, ModelBuilder* b,
           ImportCompileLayout* layout)
      : g_(g), ranges_(ranges), options_(options), b_(*b), layout_(*layout) {}

  // Throws std::invalid_argument with the message for the caller.
  void Compile() {
    CheckOptions();
    SetMetadata();
    tensor_.assign(g_.values.size(), kNoTensor);
    layout_ = ImportCompileLayout();
    layout_.value_quant.assign(g_.values.size(), std::nullopt);
    AddGraphInput();
    for (const ImportedOp& op : g_.ops) AddOp(op);
    AddOutputs();
  }

 private:
  void CheckOptions() const {
    if (ranges_ && ranges_->size() != g_.values.size()) {
      throw std::invalid_argument(
          std::to_string(ranges_->size()) + " calibration ranges for " +
          std::to_string(g_.values.size()) + " graph values");
    }
    std::set<std::string> names;
    for (const ImportedOutput& o : g_.outputs) names.insert(o.name);
    for (const auto& [name, labels] : options_.labels) {
      if (!names.count(name)) {
        throw std::invalid_argument("labels given for '" + name +
                                    "', which is not a graph output");
      }
    }
    for (const auto& [name, policy] : options_.output_policies) {
      if (!names.count(name)) {
        throw std::invalid_argument("a decision policy given for '" + name +
                                    "', which is not a graph output");
      }
    }
  }

  void SetMetadata() {
    b_.SetModelName(options_.model_name);
    b_.SetModelVersion(options_.model_version);
    if (!options_.created_by.empty()) b_.SetCreatedBy(options_.created_by);
    if (!options_.training_data_hash.empty()) {
      b_.SetTrainingDataHash(options_.training_data_hash);
    }
    std::map<std::string, std::string> properties = options_.properties;
    if (!g_.producer.empty()) properties.emplace("onnx_producer", g_.producer);
    if (g_.opset > 0) {
      properties.emplace("onnx_opset", std::to_string(g_.opset));
    }
    for (const auto& [key, value] : properties) b_.SetProperty(key, value);
    for (const auto& [key, value] : options_.metrics) b_.SetMetric(key, value);
    if (options_.preprocess) {
      b_.SetPreprocess(*options_.preprocess);
    } else if (g_.preprocess) {
      b_.SetPreprocess(*g_.preprocess);
    }
    CheckBuilder("metadata");
  }

  // A name based on `base` whose derived tensor names are all unused, and
  // reserves them. ONNX names are unique among nodes and among values, but
  // a node and a value may share one, and Kiln names them all alike.
  std::string Reserve(const std::string& base,
                      const std::vector<std::string>& suffixes) {
    const std::string root = base.empty() ? "op" : base;
    std::string name = root;
    for (int n = 2;; ++n) {
      bool free = true;
      for (const std::string& s : suffixes) {
        free = free && !used_.count(name + s);
      }
      if (free) break;
      name = root + "_" + std::to_string(n);
    }
    for (const std::string& s : suffixes) used_.insert(name + s);
    return name;
  }

  void CheckBuilder(const std::string& what) const {
    if (!b_.ok()) throw std::invalid_argument(what + ": " + b_.error());
  }

  // The int8 quantization of value v: the graph's (QDQ), else from its
  // calibrated range for an output after `activation`.
  QuantParams ValueQuant(int32_t v, Activation activation) const {
    const ImportedValue& value = g_.values[static_cast<size_t>(v)];
    if (value.quant) return *value.quant;
    if (!ranges_) {
      throw std::invalid_argument(
          "value '" + value.name +
          "' needs an int8 quantization: the graph gives none (it is not a "
          "QDQ graph there) and no calibration ranges were given");
    }
    QuantParams q;
    std::string why;
    if (!train::ActivationQuantParams((*ranges_)[static_cast<size_t>(v)],
                                      activation, &q, &why)) {
      throw std::invalid_argument("value '" + value.name + "': " + why);
    }
    return q;
  }

  static QuantParams TensorQuant(const TensorDef& t) {
    return {t.quantization->scale[0], t.quantization->zero_point[0]};
  }

  void AddGraphInput() {
    const ImportedValue& v = g_.values[static_cast<size_t>(g_.input)];
    const std::string name = Reserve(
        options_.input_name.empty() ? v.name : options_.input_name, {""});
    const bool raw_uint8 = options_.input_uint8_scale.has_value();
    if (raw_uint8 && g_.input_type != DType::kFloat32) {
      throw std::invalid_argument(
          "input_uint8_scale is for a FLOAT32 graph input; this one is " +
          std::string(DTypeName(g_.input_type)));
    }
    TensorId in;
    QuantParams q;
    if (raw_uint8 || g_.input_type == DType::kUInt8) {
      QuantParams u{1.0f, 0};  // an ONNX uint8 input read as its values
      if (raw_uint8) {
        u = {*options_.input_uint8_scale, 0};
        if (!(isnormal(u.scale) && u.scale > 0.0f)) {
          throw std::invalid_argument("input_uint8_scale " +
                                      std::to_string(u.scale) +
                                      " is not a positive normal float");
        }
      } else if (v.quant) {
        // A QDQ uint8 input: Kiln's int8 zero point is the uint8 one - 128.
        u = {v.quant->scale, v.quant->zero_point + 128};
      }
      in = b_.AddInput(name, DType::kUInt8, v.shape, u.scale, u.zero_point);
      // Every uint8 value exactly, unless the graph says otherwise.
      q = v.quant ? *v.quant : QuantParams{u.scale, u.zero_point - 128};
      layout_.input_type = DType::kUInt8;
      layout_.input_uint8 = u;
    } else {
      in = b_.AddInput(name, DType::kFloat32, v.shape);
      q = ValueQuant(g_.input, Activation::kNone);
    }
    CheckBuilder("graph input '" + v.name + "'");
    tensor_[static_cast<size_t>(g_.input)] =
        b_.Quantize(in, q, Reserve(name + "/quantize", {""}));
    CheckBuilder("graph input '" + v.name + "'");
    layout_.value_quant[static_cast<size_t>(g_.input)] = q;
  }

  TensorId In(const ImportedOp& op, size_t i) const {
    return tensor_[static_cast<size_t>(op.inputs[i])];
  }

  void AddOp(const ImportedOp& op) {
    const std::string what = "node '" + op.name + "' (" + op.op_type + ")";
    try {
      const std::string name = Reserve(op.name, DerivedNames(op.kind));
      TensorId t = BuildOp(op, name);
      CheckBuilder(what);
      // Fixed or inherited quantizations meet a QDQ graph's own.
      const std::optional<QuantParams>& want =
          g_.values[static_cast<size_t>(op.output)].quant;
      QuantParams have = TensorQuant(*b_.tensor(t));
      if (want &&
          (want->scale != have.scale || want->zero_point != have.zero_point)) {
        t = b_.Quantize(t, *want, Reserve(name + "/requantize", {""}));
        CheckBuilder(what);
        have = *want;
      }
      tensor_[static_cast<size_t>(op.output)] = t;
      layout_.value_quant[static_cast<size_t>(op.output)] = have;
    } catch (const std::invalid_argument& e) {
      if (!b_.ok()) throw;  // already prefixed by CheckBuilder
      throw std::invalid_argument(what + ": " + e.what());
    }
  }

  TensorId BuildOp(const ImportedOp& op, const std::string& name) {
    switch (op.kind) {
      case ImportedOpKind::kConv2D: {
        const TensorDef* in = b_.tensor(In(op, 0));
        const bool depthwise = op.conv.groups > 1 && in->shape.size() == 3 &&
                               op.conv.groups == in->shape[2] &&
                               op.weight_shape[3] == 1;
        const QuantParams q = ValueQuant(op.output, op.activation);
        if (depthwise) {
          return b_.DepthwiseConv2D(In(op, 0), op.weights, op.weight_shape,
                                    op.bias, op.conv, q, op.activation, name,
                                    op.weight_scales);
        }
        return b_.Conv2D(In(op, 0), op.weights, op.weight_shape, op.bias,
                         op.conv, q, op.activation, name, op.weight_scales);
      }
      case ImportedOpKind::kFullyConnected:
        return b_.FullyConnected(In(op, 0), op.weights, op.weight_shape,
                                 op.bias, ValueQuant(op.output, op.activation),
                                 op.activation, name, op.weight_scales);
      case ImportedOpKind::kAdd:
        return b_.Add(In(op, 0), In(op, 1),
                      ValueQuant(op.output, op.activation), op.activation,
                      name);
      case ImportedOpKind::kMaxPool2D:
        return b_.MaxPool2D(In(op, 0), op.pool, name);
      case ImportedOpKind::kAveragePool2D:
        return b_.AveragePool2D(In(op, 0), op.pool, name);
      case ImportedOpKind::kGlobalAveragePool:
        return b_.GlobalAveragePool(
            In(op, 0), ValueQuant(op.output, Activation::kNone), name);
      case ImportedOpKind::kConcat: {
        std::vector<TensorId> inputs;
        for (size_t i = 0; i < op.inputs.size(); ++i) {
          inputs.push_back(In(op, i));
        }
        return b_.Concat(inputs, op.axis,
                         ValueQuant(op.output, Activation::kNone), name);
      }
      case ImportedOpKind::kReshape:
        return b_.Reshape(In(op, 0), op.shape, name);
      case ImportedOpKind::kSoftmax:
        return b_.Softmax(In(op, 0), 1.0f, name);
      case ImportedOpKind::kLogistic:
        return b_.Logistic(In(op, 0), name);
    }
    throw std::invalid_argument("unknown op kind");
  }

  // Makes `t` a graph output once; returns its output index.
  int32_t Output(TensorId t, const std::string& what) {
    const auto it = output_index_.find(t);
    if (it != output_index_.end()) return it->second;
    b_.AddOutput(t);
    CheckBuilder(what);
    const int32_t index = static_cast<int32_t>(output_index_.size());
    output_index_.emplace(t, index);
    return index;
  }

  DecisionPolicy PolicyFor(const ImportedOutput& output,
                           int32_t classes) const {
    const auto it = options_.output_policies.find(output.name);
    if (it != options_.output_policies.end()) return it->second;
    if (options_.policy) {
      DecisionPolicy p = *options_.policy;
      p.top_k = std::min(p.top_k, classes);
      return p;
    }
    if (output.policy) {
      DecisionPolicy p = *output.policy;
      p.top_k = std::min(p.top_k, classes);
      return p;
    }
    DecisionPolicy p;
    p.top_k = std::min<int32_t>(std::min(5, KILN_MAX_TOP_K), classes);
    p.confidence = ConfidenceKind::kTop1Prob;
    p.threshold_real = 0.0f;
    return p;
  }

  std::string HeadName(const std::string& base) {
    const std::string root = base.empty() ? "head" : base;
    std::string name = root;
    for (int n = 2; head_names_.count(name) || used_.count(name + "/exp_table");
         ++n) {
      name = root + "_" + std::to_string(n);
    }
    head_names_.insert(name);
    used_.insert(name + "/exp_table");
    return name;
  }

  void AddOutputs() {
    layout_.outputs.assign(g_.outputs.size(), ImportedOutputLayout());
    int32_t heads = 0;
    for (size_t i = 0; i < g_.outputs.size(); ++i) {
      const ImportedOutput& out = g_.outputs[i];
      const std::string what = "graph output '" + out.name + "'";
      ImportedOutputLayout& l = layout_.outputs[i];
      l.int8_output = Output(tensor_[static_cast<size_t>(out.value)], what);
      if (!options_.heads || out.logits < 0) continue;
      const TensorId logits = tensor_[static_cast<size_t>(out.logits)];
      l.logits_output = Output(logits, what);
      const int32_t classes =
          static_cast<int32_t>(ShapeElementCount(b_.tensor(logits)->shape));
      const auto labels = options_.labels.find(out.name);
      b_.AddHead(HeadName(out.name), logits,
                 labels != options_.labels.end() ? labels->second : out.labels,
                 PolicyFor(out, classes));
      CheckBuilder(what + ": decision head");
      l.head = heads++;
    }
    if (!options_.float_outputs) return;
    for (size_t i = 0; i < g_.outputs.size(); ++i) {
      const ImportedOutput& out = g_.outputs[i];
      const std::string what = "graph output '" + out.name + "'";
      const TensorId f =
          b_.Dequantize(tensor_[static_cast<size_t>(out.value)],
                        Reserve(out.name.empty() ? "output" : out.name, {""}));
      CheckBuilder(what + ": float copy");
      // A value listed twice gets two copies; both are outputs.
      layout_.outputs[i].float_output = Output(f, what);
    }
  }

  const ImportedGraph& g_;
  const std::vector<train::Range>* ranges_;
  const ImportCompileOptions& options_;
  ModelBuilder& b_;
  ImportCompileLayout& layout_;
  std::vector<TensorId> tensor_;  // per value: its int8 tensor
  std::set<std::string> used_;    // tensor names
  std::set<std::string> head_names_;
  std::map<TensorId, int32_t> output_index_;
};

}  // namespace

bool BuildImportedGraph(const ImportedGraph& g,
                        const std::vector<train::Range>* ranges,
                        const ImportCompileOptions& options, ModelBuilder* b,
                        ImportCompileLayout* layout, std::string* error) {
  if (!ValidateImportedGraph(g, error)) return false;
  ImportCompileLayout local;
  try {
    Compiler(g, ranges, options, b, layout ? layout : &local).Compile();
    return true;
  } catch (const std::exception& e) {
    return Fail(error,
                std::string("cannot compile the imported graph: ") + e.what());
  }
}

bool CompileImportedGraph(const ImportedGraph& g,
                          const std::vector<train::Range>* ranges,
                          const ImportCompileOptions& options,
                          std::vector<uint8_t>* bytes,
                          ImportCompileLayout* layout, std::string* error) {
  ModelBuilder b;
  if (!BuildImportedGraph(g, ranges, options, &b, layout, error)) return false;
  std::string why;
  if (!b.Build(bytes, &why)) {
    return Fail(error, "cannot compile the imported graph: " + why);
  }
  return true;
}

bool CompileImportedGraph(const ImportedGraph& g,
                          const std::vector<train::Range>* ranges,
                          const ImportCompileOptions& options,
                          std::vector<uint8_t>* bytes, std::string* error) {
  return CompileImportedGraph(g, ranges, options, bytes, nullptr, error);
}

}  // namespace onnx_import
}  // namespace kiln
