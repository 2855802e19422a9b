// `kiln inspect --json`: the same facts as the text, for programs. Every
// per-channel vector is printed in full.
#include "toolchain/cli/inspect_report.h"
#include "toolchain/cli/json_writer.h"

namespace kiln {
namespace cli {
namespace {

void WriteRequant(JsonWriter& j, const char* key,
                  const std::optional<RequantDef>& r) {
  j.Key(key);
  if (!r) {
    j.Null();
    return;
  }
  j.BeginObject();
  j.Key("multiplier").IntArray(r->multiplier);
  std::vector<int> shift(r->shift.begin(), r->shift.end());
  j.Key("shift").IntArray(shift);
  j.EndObject();
}

void WriteTensor(JsonWriter& j, const ModelDef& m, size_t index) {
  const TensorDef& t = m.tensors[index];
  const bool activation = t.batched && t.buffer == 0;
  j.BeginObject();
  j.Key("index").Uint(index);
  j.Key("name").String(t.name);
  j.Key("dtype").String(DTypeName(t.type));
  j.Key("shape").IntArray(t.shape);
  j.Key("batched").Bool(t.batched);
  j.Key("constant").Bool(t.buffer != 0);
  j.Key("buffer").Uint(t.buffer);
  j.Key(activation ? "bytes_per_item" : "bytes").Uint(TensorBytes(t));
  if (activation && index < m.plan.tensor_offsets.size()) {
    j.Key("plan_offset").Uint(m.plan.tensor_offsets[index]);
  }
  j.Key("quantization");
  if (t.quantization) {
    j.BeginObject();
    j.Key("scale").FloatArray(t.quantization->scale);
    j.Key("zero_point").IntArray(t.quantization->zero_point);
    j.Key("axis").Int(t.quantization->axis);
    j.EndObject();
  } else {
    j.Null();
  }
  j.EndObject();
}

void WriteClamp(JsonWriter& j, Activation activation, int32_t lo, int32_t hi) {
  j.Key("activation").String(ActivationName(activation));
  j.Key("act_min").Int(lo);
  j.Key("act_max").Int(hi);
}

void WriteOptions(JsonWriter& j, const OperatorDef& op) {
  j.Key("options").BeginObject();
  switch (op.kind) {
    case OpKind::kConv2D: {
      const Conv2DOptionsDef& o = op.conv2d;
      j.Key("stride").IntArray(std::vector<int32_t>{o.stride_h, o.stride_w});
      j.Key("dilation")
          .IntArray(std::vector<int32_t>{o.dilation_h, o.dilation_w});
      j.Key("pad_top_left_bottom_right")
          .IntArray(std::vector<int32_t>{o.pad_top, o.pad_left, o.pad_bottom,
                                         o.pad_right});
      j.Key("groups").Int(o.groups);
      WriteClamp(j, o.activation, o.act_min, o.act_max);
      WriteRequant(j, "requant", o.requant);
      break;
    }
    case OpKind::kFullyConnected: {
      const FullyConnectedOptionsDef& o = op.fully_connected;
      WriteClamp(j, o.activation, o.act_min, o.act_max);
      WriteRequant(j, "requant", o.requant);
      break;
    }
    case OpKind::kAdd: {
      const AddOptionsDef& o = op.add;
      WriteClamp(j, o.activation, o.act_min, o.act_max);
      j.Key("left_shift").Int(o.left_shift);
      WriteRequant(j, "input1_requant", o.input1_requant);
      WriteRequant(j, "input2_requant", o.input2_requant);
      WriteRequant(j, "output_requant", o.output_requant);
      break;
    }
    case OpKind::kAveragePool2D:
    case OpKind::kMaxPool2D: {
      const Pool2DOptionsDef& o = op.pool2d;
      j.Key("filter").IntArray(std::vector<int32_t>{o.filter_h, o.filter_w});
      j.Key("stride").IntArray(std::vector<int32_t>{o.stride_h, o.stride_w});
      j.Key("pad_top_left_bottom_right")
          .IntArray(std::vector<int32_t>{o.pad_top, o.pad_left, o.pad_bottom,
                                         o.pad_right});
      j.Key("act_min").Int(o.act_min);
      j.Key("act_max").Int(o.act_max);
      break;
    }
    case OpKind::kGlobalAveragePool:
      WriteRequant(j, "requant", op.global_average_pool.requant);
      break;
    case OpKind::kConcat:
      j.Key("axis").Int(op.concat.axis);
      j.Key("requant").BeginArray();
      for (const RequantDef& r : op.concat.requant) {
        j.BeginObject();
        j.Key("multiplier").IntArray(r.multiplier);
        j.Key("shift").IntArray(
            std::vector<int>(r.shift.begin(), r.shift.end()));
        j.EndObject();
      }
      j.EndArray();
      break;
    case OpKind::kSoftmax:
      j.Key("beta").Float(op.softmax.beta);
      break;
    case OpKind::kQuantize:
      WriteRequant(j, "requant", op.quantize.requant);
      break;
    default:
      break;
  }
  j.EndObject();
}

void WriteMetadata(JsonWriter& j, const ModelDef& m) {
  j.Key("metadata");
  if (!m.metadata) {
    j.Null();
    return;
  }
  const MetadataDef& md = *m.metadata;
  j.BeginObject();
  j.Key("model_name").String(md.model_name);
  j.Key("model_version").String(md.model_version);
  j.Key("training_data_hash").String(md.training_data_hash);
  j.Key("toolchain_version").String(md.toolchain_version);
  j.Key("toolchain_commit").String(md.toolchain_commit);
  j.Key("created_by").String(md.created_by);
  // Arrays of pairs, not objects: keys may repeat in a file.
  j.Key("metrics").BeginArray();
  for (const MetricDef& metric : md.metrics) {
    j.BeginObject().Key("key").String(metric.key);
    j.Key("value").Double(metric.value).EndObject();
  }
  j.EndArray();
  j.Key("properties").BeginArray();
  for (const KeyValueDef& kv : md.properties) {
    j.BeginObject().Key("key").String(kv.key);
    j.Key("value").String(kv.value).EndObject();
  }
  j.EndArray();
  j.EndObject();
}

void WritePreprocess(JsonWriter& j, const ModelDef& m) {
  j.Key("preprocess");
  if (!m.preprocess) {
    j.Null();
    return;
  }
  const PreprocessDef& p = *m.preprocess;
  j.BeginObject();
  j.Key("layout").String(LayoutName(p.layout));
  j.Key("channel_order").String(ChannelOrderName(p.channel_order));
  j.Key("mean").FloatArray(p.mean);
  j.Key("std").FloatArray(p.std);
  j.Key("height").Int(p.height);
  j.Key("width").Int(p.width);
  j.Key("resize").String(ResizeModeName(p.resize));
  j.Key("equalize").Bool(p.equalize);
  j.Key("gamma").Float(p.gamma);
  j.Key("feature_norm").String(FeatureNormName(p.feature_norm));
  j.EndObject();
}

void WriteHeads(JsonWriter& j, const ModelDef& m) {
  j.Key("heads").BeginArray();
  for (const HeadDef& h : m.heads) {
    const TensorDef* t =
        h.tensor < m.tensors.size() ? &m.tensors[h.tensor] : nullptr;
    j.BeginObject();
    j.Key("name").String(h.name);
    j.Key("tensor").Uint(h.tensor);
    j.Key("classes").Uint(t ? TensorBytes(*t) / DTypeSize(t->type) : 0);
    j.Key("labels").BeginArray();
    for (const std::string& label : h.labels) j.String(label);
    j.EndArray();
    const DecisionPolicyDef& p = h.policy;
    j.Key("policy").BeginObject();
    j.Key("top_k").Int(p.top_k);
    j.Key("confidence").String(ConfidenceKindName(p.confidence));
    j.Key("threshold").Int(p.threshold);
    j.Key("threshold_real").Float(p.threshold_real);
    j.Key("exp_table").Int(p.exp_table);
    j.EndObject();
    j.EndObject();
  }
  j.EndArray();
}

}  // namespace

void PrintInspectJson(const ModelDef& m, const InspectFacts& f, FILE* out) {
  JsonWriter j(out);
  j.BeginObject();
  j.Key("path").String(f.path);
  j.Key("file_bytes").Uint(f.file_bytes);
  j.Key("schema_version").Uint(m.schema_version);
  j.Key("min_runtime_version").Uint(m.min_runtime_version);
  WriteMetadata(j, m);
  WritePreprocess(j, m);
  j.Key("inputs").IntArray(m.inputs);
  j.Key("outputs").IntArray(m.outputs);
  j.Key("tensors").BeginArray();
  for (size_t t = 0; t < m.tensors.size(); ++t) WriteTensor(j, m, t);
  j.EndArray();
  j.Key("operators").BeginArray();
  for (size_t i = 0; i < m.operators.size(); ++i) {
    const OperatorDef& op = m.operators[i];
    j.BeginObject();
    j.Key("index").Uint(i);
    j.Key("kind").String(OpKindName(op.kind));
    j.Key("name").String(op.name);
    j.Key("inputs").IntArray(op.inputs);
    j.Key("outputs").IntArray(op.outputs);
    j.Key("requant_count").Uint(RequantCount(op));
    WriteOptions(j, op);
    j.EndObject();
  }
  j.EndArray();
  j.Key("plan").BeginObject();
  j.Key("bytes_per_item").Uint(m.plan.bytes_per_item);
  j.Key("fixed_bytes").Uint(m.plan.fixed_bytes);
  j.Key("alignment").Uint(m.plan.alignment);
  j.Key("tensor_offsets").IntArray(m.plan.tensor_offsets);
  j.EndObject();
  j.Key("arena").BeginObject();
  j.Key("batch_1_bytes").Uint(f.arena_bytes_batch1);
  j.Key("batch").Uint(f.batch);
  j.Key("batch_bytes").Uint(f.arena_bytes_batch);
  j.EndObject();
  WriteHeads(j, m);
  j.EndObject();
}

}  // namespace cli
}  // namespace kiln
