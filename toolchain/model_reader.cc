#include "toolchain/model_reader.h"

#include "formats/kiln_generated.h"

namespace kiln {
namespace {

namespace fb = ::kiln::fb;

std::string Str(const flatbuffers::String* s) {
  return s ? s->str() : std::string();
}

template <typename T, typename U = T>
std::vector<T> Vec(const flatbuffers::Vector<U>* v) {
  return v ? std::vector<T>(v->begin(), v->end()) : std::vector<T>();
}

std::optional<RequantDef> ReadRequant(const fb::Requant* r) {
  if (!r) return std::nullopt;
  RequantDef def;
  def.multiplier = Vec<int32_t>(r->multiplier());
  def.shift = Vec<int8_t>(r->shift());
  return def;
}

Activation Act(fb::Activation a) { return static_cast<Activation>(a); }

TensorDef ReadTensor(const fb::Tensor& t) {
  TensorDef def;
  def.name = Str(t.name());
  def.type = static_cast<DType>(t.type());
  def.shape = Vec<int32_t>(t.shape());
  def.batched = t.batched();
  if (const fb::Quantization* q = t.quantization()) {
    QuantizationDef qd;
    qd.scale = Vec<float>(q->scale());
    qd.zero_point = Vec<int32_t>(q->zero_point());
    qd.axis = q->axis();
    def.quantization = std::move(qd);
  }
  def.buffer = t.buffer();
  return def;
}

Pool2DOptionsDef ReadPool(const fb::Pool2DOptions* o) {
  Pool2DOptionsDef d;
  if (!o) return d;
  d.filter_h = o->filter_h();
  d.filter_w = o->filter_w();
  d.stride_h = o->stride_h();
  d.stride_w = o->stride_w();
  d.pad_top = o->pad_top();
  d.pad_left = o->pad_left();
  d.pad_bottom = o->pad_bottom();
  d.pad_right = o->pad_right();
  d.act_min = o->act_min();
  d.act_max = o->act_max();
  return d;
}

// Fills the option member matching the operator's kind. A table of the wrong
// layout cannot occur: the union type decides how the table is read.
void ReadOptions(const fb::Operator& op, OperatorDef* def) {
  if (const auto* o = op.options_as_Conv2DOptions()) {
    Conv2DOptionsDef& d = def->conv2d;
    d.stride_h = o->stride_h();
    d.stride_w = o->stride_w();
    d.dilation_h = o->dilation_h();
    d.dilation_w = o->dilation_w();
    d.pad_top = o->pad_top();
    d.pad_left = o->pad_left();
    d.pad_bottom = o->pad_bottom();
    d.pad_right = o->pad_right();
    d.groups = o->groups();
    d.activation = Act(o->activation());
    d.act_min = o->act_min();
    d.act_max = o->act_max();
    d.requant = ReadRequant(o->requant());
  } else if (const auto* o = op.options_as_FullyConnectedOptions()) {
    FullyConnectedOptionsDef& d = def->fully_connected;
    d.activation = Act(o->activation());
    d.act_min = o->act_min();
    d.act_max = o->act_max();
    d.requant = ReadRequant(o->requant());
  } else if (const auto* o = op.options_as_AddOptions()) {
    AddOptionsDef& d = def->add;
    d.activation = Act(o->activation());
    d.act_min = o->act_min();
    d.act_max = o->act_max();
    d.left_shift = o->left_shift();
    d.input1_requant = ReadRequant(o->input1_requant());
    d.input2_requant = ReadRequant(o->input2_requant());
    d.output_requant = ReadRequant(o->output_requant());
  } else if (const auto* o = op.options_as_AveragePool2DOptions()) {
    def->pool2d = ReadPool(o);
  } else if (const auto* o = op.options_as_MaxPool2DOptions()) {
    def->pool2d = ReadPool(o);
  } else if (const auto* o = op.options_as_GlobalAveragePoolOptions()) {
    def->global_average_pool.requant = ReadRequant(o->requant());
  } else if (const auto* o = op.options_as_ConcatOptions()) {
    def->concat.axis = o->axis();
    if (o->requant()) {
      for (const fb::Requant* r : *o->requant()) {
        def->concat.requant.push_back(ReadRequant(r).value_or(RequantDef{}));
      }
    }
  } else if (const auto* o = op.options_as_SoftmaxOptions()) {
    def->softmax.beta = o->beta();
  } else if (const auto* o = op.options_as_QuantizeOptions()) {
    def->quantize.requant = ReadRequant(o->requant());
  }
}

OperatorDef ReadOperator(const fb::Operator& op) {
  OperatorDef def;
  def.name = Str(op.name());
  def.kind = static_cast<OpKind>(op.options_type());
  def.inputs = Vec<uint32_t>(op.inputs());
  def.outputs = Vec<uint32_t>(op.outputs());
  ReadOptions(op, &def);
  return def;
}

HeadDef ReadHead(const fb::Head& h) {
  HeadDef def;
  def.name = Str(h.name());
  def.tensor = h.tensor();
  if (h.labels()) {
    for (const flatbuffers::String* label : *h.labels()) {
      def.labels.push_back(Str(label));
    }
  }
  if (const fb::DecisionPolicy* p = h.policy()) {
    def.policy.top_k = p->top_k();
    def.policy.confidence = static_cast<ConfidenceKind>(p->confidence());
    def.policy.threshold = p->threshold();
    def.policy.threshold_real = p->threshold_real();
    def.policy.exp_table = p->exp_table();
  }
  return def;
}

MetadataDef ReadMetadata(const fb::Metadata& m) {
  MetadataDef def;
  def.model_name = Str(m.model_name());
  def.model_version = Str(m.model_version());
  def.training_data_hash = Str(m.training_data_hash());
  def.toolchain_version = Str(m.toolchain_version());
  def.toolchain_commit = Str(m.toolchain_commit());
  def.created_by = Str(m.created_by());
  if (m.metrics()) {
    for (const fb::Metric* metric : *m.metrics()) {
      def.metrics.push_back({Str(metric->key()), metric->value()});
    }
  }
  if (m.properties()) {
    for (const fb::KeyValue* kv : *m.properties()) {
      def.properties.push_back({Str(kv->key()), Str(kv->value())});
    }
  }
  return def;
}

template <typename Def, typename Table, typename F>
std::vector<Def> ReadTables(
    const flatbuffers::Vector<flatbuffers::Offset<Table>>* v, F read) {
  std::vector<Def> defs;
  if (!v) return defs;
  defs.reserve(v->size());
  for (const Table* t : *v) defs.push_back(read(*t));
  return defs;
}

}  // namespace

bool ParseModel(const uint8_t* data, size_t size, ModelDef* model,
                std::string* error) {
  if (data == nullptr || size < 8 || !fb::ModelBufferHasIdentifier(data)) {
    *error = "not a Kiln model (too short or file identifier is not KILN)";
    return false;
  }
  flatbuffers::Verifier verifier(data, size);
  if (!fb::VerifyModelBuffer(verifier)) {
    *error = "corrupt model: the FlatBuffers verifier rejected the bytes";
    return false;
  }
  const fb::Model& m = *fb::GetModel(data);
  ModelDef def;
  def.schema_version = m.schema_version();
  def.min_runtime_version = m.min_runtime_version();
  def.tensors = ReadTables<TensorDef>(m.tensors(), ReadTensor);
  def.buffers = ReadTables<BufferDef>(m.buffers(), [](const fb::Buffer& b) {
    return BufferDef{Vec<uint8_t>(b.data())};
  });
  def.operators = ReadTables<OperatorDef>(m.operators(), ReadOperator);
  def.inputs = Vec<uint32_t>(m.inputs());
  def.outputs = Vec<uint32_t>(m.outputs());
  def.heads = ReadTables<HeadDef>(m.heads(), ReadHead);
  if (const fb::Preprocess* p = m.preprocess()) {
    PreprocessDef pd;
    pd.layout = static_cast<Layout>(p->layout());
    pd.channel_order = static_cast<ChannelOrder>(p->channel_order());
    pd.mean = Vec<float>(p->mean());
    pd.std = Vec<float>(p->std());
    pd.height = p->height();
    pd.width = p->width();
    pd.resize = static_cast<ResizeMode>(p->resize());
    pd.equalize = p->equalize();
    pd.gamma = p->gamma();
    pd.feature_norm = static_cast<FeatureNorm>(p->feature_norm());
    def.preprocess = std::move(pd);
  }
  if (const fb::MemoryPlan* p = m.plan()) {
    def.plan.bytes_per_item = p->bytes_per_item();
    def.plan.fixed_bytes = p->fixed_bytes();
    def.plan.alignment = p->alignment();
    def.plan.tensor_offsets = Vec<uint64_t>(p->tensor_offsets());
  }
  if (m.metadata()) def.metadata = ReadMetadata(*m.metadata());
  *model = std::move(def);
  return true;
}

}  // namespace kiln
