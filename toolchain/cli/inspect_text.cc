// `kiln inspect` as text for people.
#include <inttypes.h>
#include <stdint.h>

#include <type_traits>

#include "toolchain/cli/inspect_report.h"
#include "toolchain/cli/number_format.h"

namespace kiln {
namespace cli {
namespace {

// Per-channel vectors can have hundreds of entries; text shows the first few.
constexpr size_t kMaxListed = 8;

std::string Join(const std::vector<std::string>& items) {
  std::string s;
  for (size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + items[i];
  return s;
}

template <typename T>
std::string List(const std::vector<T>& values, size_t max = SIZE_MAX) {
  std::vector<std::string> items;
  for (size_t i = 0; i < values.size() && i < max; ++i) {
    if constexpr (std::is_same_v<T, float>) {
      items.push_back(ShortestFloat(values[i]));
    } else {
      items.push_back(std::to_string(values[i]));
    }
  }
  if (values.size() > max) {
    items.push_back("... (" + std::to_string(values.size()) + " in all)");
  }
  return "[" + Join(items) + "]";
}

std::string Quantization(const std::optional<QuantizationDef>& q) {
  if (!q) return "not quantized";
  if (q->scale.size() == 1 && q->zero_point.size() == 1) {
    return "scale " + ShortestFloat(q->scale[0]) + " zp " +
           std::to_string(q->zero_point[0]);
  }
  return "per-channel axis " + std::to_string(q->axis) + ", scales " +
         List(q->scale, kMaxListed) + ", zero points " +
         List(q->zero_point, kMaxListed);
}

std::string TensorRef(const ModelDef& m, uint32_t index) {
  std::string s = "#" + std::to_string(index);
  if (index < m.tensors.size()) s += " '" + m.tensors[index].name + "'";
  return s;
}

std::string Clamp(int32_t lo, int32_t hi) {
  return "clamp [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
}

std::string Window(int32_t h, int32_t w) {
  return std::to_string(h) + "x" + std::to_string(w);
}

std::string Pads(int32_t top, int32_t left, int32_t bottom, int32_t right) {
  return "pad t" + std::to_string(top) + " l" + std::to_string(left) + " b" +
         std::to_string(bottom) + " r" + std::to_string(right);
}

// The options that matter when reading a graph, one line.
std::string KeyOptions(const OperatorDef& op) {
  switch (op.kind) {
    case OpKind::kConv2D: {
      const Conv2DOptionsDef& o = op.conv2d;
      return "stride " + Window(o.stride_h, o.stride_w) + ", dilation " +
             Window(o.dilation_h, o.dilation_w) + ", " +
             Pads(o.pad_top, o.pad_left, o.pad_bottom, o.pad_right) +
             ", groups " + std::to_string(o.groups) + ", " +
             ActivationName(o.activation) + " " + Clamp(o.act_min, o.act_max);
    }
    case OpKind::kFullyConnected:
      return std::string(ActivationName(op.fully_connected.activation)) + " " +
             Clamp(op.fully_connected.act_min, op.fully_connected.act_max);
    case OpKind::kAdd:
      return std::string(ActivationName(op.add.activation)) + " " +
             Clamp(op.add.act_min, op.add.act_max) + ", left_shift " +
             std::to_string(op.add.left_shift);
    case OpKind::kAveragePool2D:
    case OpKind::kMaxPool2D: {
      const Pool2DOptionsDef& o = op.pool2d;
      return "filter " + Window(o.filter_h, o.filter_w) + ", stride " +
             Window(o.stride_h, o.stride_w) + ", " +
             Pads(o.pad_top, o.pad_left, o.pad_bottom, o.pad_right) + ", " +
             Clamp(o.act_min, o.act_max);
    }
    case OpKind::kConcat:
      return "axis " + std::to_string(op.concat.axis);
    case OpKind::kSoftmax: {
      return "beta " + ShortestFloat(op.softmax.beta);
    }
    default:
      return "";
  }
}

void PrintMetadata(const ModelDef& m, FILE* out) {
  if (!m.metadata) {
    fprintf(out, "Metadata: none\n");
    return;
  }
  const MetadataDef& md = *m.metadata;
  fprintf(out, "Metadata:\n");
  const std::pair<const char*, const std::string*> fields[] = {
      {"model_name", &md.model_name},
      {"model_version", &md.model_version},
      {"training_data_hash", &md.training_data_hash},
      {"toolchain_version", &md.toolchain_version},
      {"toolchain_commit", &md.toolchain_commit},
      {"created_by", &md.created_by}};
  for (const auto& [key, value] : fields) {
    fprintf(out, "  %-19s %s\n", key, value->c_str());
  }
  fprintf(out, "  metrics:%s\n", md.metrics.empty() ? " none" : "");
  for (const MetricDef& metric : md.metrics) {
    fprintf(out, "    %s = %s\n", metric.key.c_str(),
            ShortestDouble(metric.value).c_str());
  }
  fprintf(out, "  properties:%s\n", md.properties.empty() ? " none" : "");
  for (const KeyValueDef& kv : md.properties) {
    fprintf(out, "    %s = %s\n", kv.key.c_str(), kv.value.c_str());
  }
}

void PrintPreprocess(const ModelDef& m, FILE* out) {
  if (!m.preprocess) {
    fprintf(out, "Preprocess: none\n");
    return;
  }
  const PreprocessDef& p = *m.preprocess;
  if (p.layout == Layout::kFlat) {
    fprintf(out,
            "Preprocess: layout FLAT (features), mean %s, std %s, norm %s\n",
            List(p.mean).c_str(), List(p.std).c_str(),
            FeatureNormName(p.feature_norm));
    return;
  }
  fprintf(out,
          "Preprocess: layout %s, channel order %s, %dx%d, mean %s, std %s\n"
          "  resize %s, equalize %s, gamma %s\n",
          LayoutName(p.layout), ChannelOrderName(p.channel_order),
          static_cast<int>(p.height), static_cast<int>(p.width),
          List(p.mean).c_str(), List(p.std).c_str(), ResizeModeName(p.resize),
          p.equalize ? "yes" : "no", ShortestFloat(p.gamma).c_str());
}

void PrintTensorLine(const ModelDef& m, uint32_t index, FILE* out) {
  if (index >= m.tensors.size()) {
    fprintf(out, "  #%-4u (no such tensor)\n", index);
    return;
  }
  const TensorDef& t = m.tensors[index];
  std::string storage;
  if (t.buffer != 0) {
    storage = "constant, buffer " + std::to_string(t.buffer) + ", " +
              std::to_string(TensorBytes(t)) + " bytes";
  } else if (t.batched) {
    storage = "batched, " + std::to_string(TensorBytes(t)) + " bytes/item";
  } else {
    storage = "unbatched, " + std::to_string(TensorBytes(t)) + " bytes";
  }
  fprintf(out, "  #%-4u %-24s %-7s %-16s %s; %s\n", index, t.name.c_str(),
          DTypeName(t.type), List(t.shape).c_str(), storage.c_str(),
          Quantization(t.quantization).c_str());
}

void PrintGraphEnds(const ModelDef& m, FILE* out) {
  fprintf(out, "Inputs:\n");
  for (uint32_t t : m.inputs) PrintTensorLine(m, t, out);
  fprintf(out, "Outputs:\n");
  for (uint32_t t : m.outputs) PrintTensorLine(m, t, out);
}

void PrintOperators(const ModelDef& m, FILE* out) {
  fprintf(out, "Operators (%zu):\n", m.operators.size());
  for (size_t i = 0; i < m.operators.size(); ++i) {
    const OperatorDef& op = m.operators[i];
    std::vector<std::string> ins, outs;
    for (uint32_t t : op.inputs) ins.push_back(TensorRef(m, t));
    for (uint32_t t : op.outputs) outs.push_back(TensorRef(m, t));
    fprintf(out, "  %-4zu %s '%s': %s -> %s\n", i, OpKindName(op.kind),
            op.name.c_str(), Join(ins).c_str(), Join(outs).c_str());
    const std::string options = KeyOptions(op);
    fprintf(out, "       %s%srequant entries %zu\n", options.c_str(),
            options.empty() ? "" : "; ", RequantCount(op));
  }
}

void PrintPlan(const ModelDef& m, const InspectFacts& f, FILE* out) {
  const MemoryPlanDef& p = m.plan;
  fprintf(out,
          "Memory plan: %" PRIu64 " bytes per item, %" PRIu64
          " fixed bytes, alignment %u\n",
          p.bytes_per_item, p.fixed_bytes, p.alignment);
  for (size_t t = 0; t < m.tensors.size() && t < p.tensor_offsets.size(); ++t) {
    const TensorDef& tensor = m.tensors[t];
    if (!tensor.batched || tensor.buffer != 0) continue;
    fprintf(out, "  #%-4zu %-24s offset %-8" PRIu64 " size %zu\n", t,
            tensor.name.c_str(), p.tensor_offsets[t], TensorBytes(tensor));
  }
  fprintf(out, "Arena (kiln_arena_size): %zu bytes at batch 1",
          f.arena_bytes_batch1);
  if (f.batch != 1) {
    fprintf(out, ", %zu bytes at batch %zu", f.arena_bytes_batch, f.batch);
  }
  fprintf(out, "\n");
}

// The real value an integer threshold stands for: Q16 probability, or
// logit steps times the logits' scale.
std::string ThresholdMeaning(const DecisionPolicyDef& p, const TensorDef* t) {
  if (p.confidence != ConfidenceKind::kMargin) {
    return "probability " + ShortestDouble(p.threshold / 65536.0);
  }
  if (t == nullptr || !t->quantization || t->quantization->scale.empty()) {
    return "logit steps";
  }
  return "logit steps, " +
         ShortestFloat(static_cast<float>(p.threshold) *
                       t->quantization->scale[0]) +
         " real";
}

void PrintHeads(const ModelDef& m, FILE* out) {
  fprintf(out, "Heads (%zu):\n", m.heads.size());
  for (const HeadDef& h : m.heads) {
    const TensorDef* t =
        h.tensor < m.tensors.size() ? &m.tensors[h.tensor] : nullptr;
    fprintf(out, "  %s: logits %s, %zu classes\n", h.name.c_str(),
            TensorRef(m, h.tensor).c_str(),
            t ? TensorBytes(*t) / DTypeSize(t->type) : 0);
    if (!h.labels.empty()) {
      fprintf(out, "    labels: %s\n", Join(h.labels).c_str());
    }
    const DecisionPolicyDef& p = h.policy;
    const std::string table =
        p.exp_table < 0 ? "none"
                        : TensorRef(m, static_cast<uint32_t>(p.exp_table));
    fprintf(out,
            "    policy: top_k %d, %s, threshold %d (%s; threshold_real %s), "
            "exp_table %s\n",
            static_cast<int>(p.top_k), ConfidenceKindName(p.confidence),
            static_cast<int>(p.threshold), ThresholdMeaning(p, t).c_str(),
            ShortestFloat(p.threshold_real).c_str(), table.c_str());
  }
}

}  // namespace

void PrintInspectText(const ModelDef& m, const InspectFacts& f, FILE* out) {
  fprintf(out, "Model: %s (%zu bytes)\n", f.path.c_str(), f.file_bytes);
  fprintf(out, "Format: schema version %u, needs runtime format version %u\n",
          m.schema_version, m.min_runtime_version);
  PrintMetadata(m, out);
  PrintPreprocess(m, out);
  PrintGraphEnds(m, out);
  fprintf(out, "Tensors (%zu):\n", m.tensors.size());
  for (uint32_t t = 0; t < m.tensors.size(); ++t) PrintTensorLine(m, t, out);
  PrintOperators(m, out);
  PrintPlan(m, f, out);
  PrintHeads(m, out);
}

}  // namespace cli
}  // namespace kiln
