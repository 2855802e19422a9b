// ModelBuilder: graph inputs/outputs, heads, metadata, bookkeeping and
// Finish. The operators are in model_builder_ops.cc.
#include "toolchain/model_builder.h"

#include <ctype.h>
#include <math.h>

#include <stdexcept>

#include "kiln/kiln.h"
#include "toolchain/builder_checks.h"
#include "toolchain/memory_planner.h"
#include "toolchain/quantization.h"
#include "toolchain/runtime_check.h"
#include "toolchain/serialize.h"

#ifndef KILN_TOOLCHAIN_VERSION
#define KILN_TOOLCHAIN_VERSION KILN_VERSION_STRING
#endif

namespace kiln {

using builder_internal::CheckQuant;
using builder_internal::CheckShape;
using builder_internal::Fmt;

ModelBuilder::ModelBuilder() {
  model_.schema_version = 1;
  model_.min_runtime_version = 1;
  model_.buffers.push_back(BufferDef{});  // buffer 0: the empty sentinel
  model_.metadata = MetadataDef{};
  model_.metadata->toolchain_version = KILN_TOOLCHAIN_VERSION;
}

void ModelBuilder::Fail(const std::string& message) {
  if (error_.empty()) error_ = message;
}

TensorId ModelBuilder::Guard(const std::string& what,
                             const std::function<TensorId()>& body) {
  if (!ok()) return kNoTensor;
  try {
    return body();
  } catch (const std::exception& e) {
    Fail(what + ": " + e.what());
    return kNoTensor;
  }
}

const TensorDef* ModelBuilder::tensor(TensorId id) const {
  if (id < 0 || static_cast<size_t>(id) >= model_.tensors.size()) {
    return nullptr;
  }
  return &model_.tensors[static_cast<size_t>(id)];
}

const TensorDef& ModelBuilder::Get(TensorId id, const char* role) const {
  const TensorDef* t = tensor(id);
  if (t == nullptr) {
    throw std::invalid_argument(Fmt("%s is not a tensor of this builder (%d)",
                                    role, static_cast<int>(id)));
  }
  if (!t->batched || t->buffer != 0) {
    throw std::invalid_argument(
        Fmt("%s '%s' is a constant, not an activation", role, t->name.c_str()));
  }
  return *t;
}

const TensorDef& ModelBuilder::GetInt8(TensorId id, const char* role) const {
  const TensorDef& t = Get(id, role);
  if (t.type != DType::kInt8) {
    throw std::invalid_argument(Fmt("%s '%s' is %s, expected INT8", role,
                                    t.name.c_str(), DTypeName(t.type)));
  }
  return t;
}

std::string ModelBuilder::OpName(const std::string& requested,
                                 OpKind kind) const {
  if (!requested.empty()) return requested;
  std::string lower;
  for (const char* p = OpKindName(kind); *p; ++p) {
    lower += static_cast<char>(tolower(static_cast<unsigned char>(*p)));
  }
  return lower + "_" + std::to_string(model_.operators.size());
}

TensorId ModelBuilder::AddTensor(TensorDef tensor) {
  if (tensor.name.empty() || !names_.insert(tensor.name).second) {
    throw std::invalid_argument(
        Fmt("tensor name '%s' is empty or already used", tensor.name.c_str()));
  }
  model_.tensors.push_back(std::move(tensor));
  return static_cast<TensorId>(model_.tensors.size() - 1);
}

TensorId ModelBuilder::AddActivation(const std::string& name, DType type,
                                     std::vector<int32_t> shape,
                                     const QuantizationDef* quantization) {
  CheckShape(shape, name);
  TensorDef t;
  t.name = name;
  t.type = type;
  t.shape = std::move(shape);
  t.batched = true;
  if (quantization) t.quantization = *quantization;
  return AddTensor(std::move(t));
}

TensorId ModelBuilder::AddConstant(
    const std::string& name, DType type, std::vector<int32_t> shape,
    std::vector<uint8_t> bytes, std::optional<QuantizationDef> quantization) {
  TensorDef t;
  t.name = name;
  t.type = type;
  t.shape = std::move(shape);
  t.batched = false;
  t.quantization = std::move(quantization);
  t.buffer = static_cast<uint32_t>(model_.buffers.size());
  const TensorId id = AddTensor(std::move(t));
  model_.buffers.push_back(BufferDef{std::move(bytes)});
  return id;
}

TensorId ModelBuilder::AddOp(OperatorDef op) {
  const TensorId out = static_cast<TensorId>(op.outputs.at(0));
  model_.operators.push_back(std::move(op));
  return out;
}

TensorId ModelBuilder::AddExpTable(const std::string& name, float input_scale,
                                   float beta) {
  return AddConstant(name, DType::kInt32, {256},
                     Int32Bytes(SoftmaxExpTable(input_scale, beta)),
                     std::nullopt);
}

TensorId ModelBuilder::AddInput(const std::string& name, DType dtype,
                                const std::vector<int32_t>& shape, float scale,
                                int32_t zero_point) {
  return Guard("AddInput '" + name + "'", [&] {
    std::optional<QuantizationDef> q;
    if (dtype == DType::kInt8 || dtype == DType::kUInt8) {
      CheckQuant({scale, zero_point}, dtype, "input");
      q = QuantizationDef{{scale}, {zero_point}, 0};
    } else if (dtype != DType::kFloat32) {
      throw std::invalid_argument(Fmt(
          "graph inputs are INT8, UINT8 or FLOAT32, not %s", DTypeName(dtype)));
    }
    const TensorId id = AddActivation(name, dtype, shape, q ? &*q : nullptr);
    model_.inputs.push_back(static_cast<uint32_t>(id));
    return id;
  });
}

void ModelBuilder::AddOutput(TensorId tensor) {
  Guard("AddOutput", [&] {
    Get(tensor, "output");
    for (uint32_t o : model_.outputs) {
      if (o == static_cast<uint32_t>(tensor)) {
        throw std::invalid_argument("tensor is already a graph output");
      }
    }
    model_.outputs.push_back(static_cast<uint32_t>(tensor));
    return tensor;
  });
}

void ModelBuilder::AddHead(const std::string& name, TensorId logits,
                           const std::vector<std::string>& labels,
                           const DecisionPolicy& policy) {
  Guard("AddHead '" + name + "'", [&] {
    if (name.empty()) throw std::invalid_argument("a head needs a name");
    for (const HeadDef& h : model_.heads) {
      if (h.name == name) throw std::invalid_argument("duplicate head name");
    }
    // A copy: AddExpTable below may move the tensor vector.
    const TensorDef t = GetInt8(logits, "logits");
    bool is_output = false;
    for (uint32_t o : model_.outputs) {
      is_output = is_output || o == static_cast<uint32_t>(logits);
    }
    if (!is_output) {
      throw std::invalid_argument(
          "the logits must be a graph output (call AddOutput first)");
    }
    if (t.shape.size() != 1) {
      throw std::invalid_argument("the logits must have shape [classes]");
    }
    const int32_t classes = t.shape[0];
    if (!labels.empty() && labels.size() != static_cast<size_t>(classes)) {
      throw std::invalid_argument(Fmt("%zu labels for %d classes",
                                      labels.size(),
                                      static_cast<int>(classes)));
    }
    const int32_t max_k = std::min<int32_t>(KILN_MAX_TOP_K, classes);
    if (policy.top_k < 1 || policy.top_k > max_k) {
      throw std::invalid_argument(Fmt("top_k %d is not in [1, %d]",
                                      static_cast<int>(policy.top_k),
                                      static_cast<int>(max_k)));
    }
    const float scale = t.quantization->scale[0];
    const double real = policy.threshold_real;
    HeadDef head;
    head.name = name;
    head.tensor = static_cast<uint32_t>(logits);
    head.labels = labels;
    head.policy.top_k = policy.top_k;
    head.policy.confidence = policy.confidence;
    head.policy.threshold_real = policy.threshold_real;
    switch (policy.confidence) {
      case ConfidenceKind::kTop1Prob:
      case ConfidenceKind::kTopKProb:
        if (!(real >= 0.0 && real <= 1.0)) {
          throw std::invalid_argument("a probability threshold is in [0, 1]");
        }
        head.policy.threshold = static_cast<int32_t>(lround(real * 65536.0));
        break;
      case ConfidenceKind::kMargin: {
        if (classes < 2) {
          throw std::invalid_argument("MARGIN needs at least 2 classes");
        }
        // ceil(threshold / scale), forgiving float32 representation error:
        // 0.3f / 0.1f is 3.0000000745 and must give 3 steps, not 4.
        const double ratio = real / static_cast<double>(scale);
        const double steps = ceil(ratio - 1e-6 * ratio);
        if (!(real >= 0.0) || !(steps <= 256.0)) {
          throw std::invalid_argument(
              "a MARGIN threshold is in [0, 256 logit steps]");
        }
        head.policy.threshold = static_cast<int32_t>(steps);
        break;
      }
      default:
        throw std::invalid_argument("unknown confidence kind");
    }
    // Probability kinds need the table to compute confidence. MARGIN gets
    // one as well so that a caller can still report a probability.
    head.policy.exp_table = AddExpTable(name + "/exp_table", scale, 1.0f);
    model_.heads.push_back(std::move(head));
    return logits;
  });
}

void ModelBuilder::SetModelName(const std::string& name) {
  model_.metadata->model_name = name;
}

void ModelBuilder::SetModelVersion(const std::string& semver) {
  if (!builder_internal::IsSemanticVersion(semver)) {
    Fail("SetModelVersion: '" + semver + "' is not a semantic version");
    return;
  }
  model_.metadata->model_version = semver;
}

void ModelBuilder::SetTrainingDataHash(const std::string& hash) {
  model_.metadata->training_data_hash = hash;
}

void ModelBuilder::SetToolchainVersion(const std::string& version) {
  model_.metadata->toolchain_version = version;
}

void ModelBuilder::SetToolchainCommit(const std::string& commit) {
  model_.metadata->toolchain_commit = commit;
}

void ModelBuilder::SetCreatedBy(const std::string& created_by) {
  model_.metadata->created_by = created_by;
}

void ModelBuilder::SetMetric(const std::string& key, double value) {
  if (key.empty()) return Fail("SetMetric: empty key");
  metrics_[key] = value;
}

void ModelBuilder::SetProperty(const std::string& key,
                               const std::string& value) {
  if (key.empty()) return Fail("SetProperty: empty key");
  properties_[key] = value;
}

void ModelBuilder::SetPreprocess(const PreprocessDef& preprocess) {
  model_.preprocess = preprocess;
  // Resize, equalization, gamma and feature norms are format 2
  // (docs/format.md): a format-1 runtime must refuse such a model rather
  // than run it on inputs preprocessed without them.
  if (preprocess.resize != ResizeMode::kNone || preprocess.equalize ||
      preprocess.gamma != 1.0f ||
      preprocess.feature_norm != FeatureNorm::kNone) {
    if (model_.schema_version < 2) model_.schema_version = 2;
    if (model_.min_runtime_version < 2) model_.min_runtime_version = 2;
  }
}

bool ModelBuilder::Finish(ModelDef* model, std::string* error) const {
  if (!ok()) {
    *error = error_;
    return false;
  }
  if (model_.inputs.empty() || model_.outputs.empty()) {
    *error = "the model needs at least one input and one output";
    return false;
  }
  ModelDef m = model_;
  for (const auto& [key, value] : metrics_) {
    m.metadata->metrics.push_back({key, value});
  }
  for (const auto& [key, value] : properties_) {
    m.metadata->properties.push_back({key, value});
  }
  try {
    m.plan = PlanMemory(m);
  } catch (const std::exception& e) {
    *error = std::string("memory plan: ") + e.what();
    return false;
  }
  // The builder's checks mirror the runtime's, but the runtime decides:
  // never hand out a model it would refuse.
  std::string reason;
  if (!RuntimeVerify(AlignedBytes(SerializeModel(m)), &reason)) {
    *error = "the runtime rejects the built model (a toolchain bug): " + reason;
    return false;
  }
  *model = std::move(m);
  return true;
}

bool ModelBuilder::Build(std::vector<uint8_t>* bytes,
                         std::string* error) const {
  ModelDef m;
  if (!Finish(&m, error)) return false;
  *bytes = SerializeModel(m);
  return true;
}

}  // namespace kiln
