#include "toolchain/serialize.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "formats/kiln_generated.h"

namespace kiln {
namespace {

namespace fb = ::kiln::fb;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

Offset<flatbuffers::String> Str(FlatBufferBuilder& fbb, const std::string& s) {
  return fbb.CreateString(s);
}

Offset<fb::Quantization> WriteQuantization(
    FlatBufferBuilder& fbb, const std::optional<QuantizationDef>& q) {
  if (!q) return 0;
  const auto scale = fbb.CreateVector(q->scale);
  const auto zero_point = fbb.CreateVector(q->zero_point);
  return fb::CreateQuantization(fbb, scale, zero_point, q->axis);
}

Offset<fb::Requant> WriteRequant(FlatBufferBuilder& fbb, const RequantDef& r) {
  const auto multiplier = fbb.CreateVector(r.multiplier);
  const auto shift = fbb.CreateVector(r.shift);
  return fb::CreateRequant(fbb, multiplier, shift);
}

Offset<fb::Requant> WriteRequant(FlatBufferBuilder& fbb,
                                 const std::optional<RequantDef>& r) {
  return r ? WriteRequant(fbb, *r) : 0;
}

fb::Activation Act(Activation a) { return static_cast<fb::Activation>(a); }

Offset<fb::Tensor> WriteTensor(FlatBufferBuilder& fbb, const TensorDef& t) {
  const auto name = Str(fbb, t.name);
  const auto shape = fbb.CreateVector(t.shape);
  const auto quantization = WriteQuantization(fbb, t.quantization);
  return fb::CreateTensor(fbb, name, static_cast<fb::DType>(t.type), shape,
                          t.batched, quantization, t.buffer);
}

Offset<fb::Buffer> WriteBuffer(FlatBufferBuilder& fbb, const BufferDef& b) {
  // The schema's force_align: 16, which CreateVector alone does not honour.
  fbb.ForceVectorAlignment(b.data.size(), sizeof(uint8_t), 16);
  const auto data = fbb.CreateVector(b.data);
  return fb::CreateBuffer(fbb, data);
}

Offset<void> WritePool(FlatBufferBuilder& fbb, const Pool2DOptionsDef& p) {
  return fb::CreatePool2DOptions(
             fbb, p.filter_h, p.filter_w, p.stride_h, p.stride_w, p.pad_top,
             p.pad_left, p.pad_bottom, p.pad_right, p.act_min, p.act_max)
      .Union();
}

// The options table of `op` for its kind. Kinds without options, and kinds
// the schema does not know, get an empty table so that the required field is
// present and the kind survives in the union type.
Offset<void> WriteOptions(FlatBufferBuilder& fbb, const OperatorDef& op) {
  switch (op.kind) {
    case OpKind::kConv2D: {
      const Conv2DOptionsDef& o = op.conv2d;
      const auto requant = WriteRequant(fbb, o.requant);
      return fb::CreateConv2DOptions(
                 fbb, o.stride_h, o.stride_w, o.dilation_h, o.dilation_w,
                 o.pad_top, o.pad_left, o.pad_bottom, o.pad_right, o.groups,
                 Act(o.activation), o.act_min, o.act_max, requant)
          .Union();
    }
    case OpKind::kFullyConnected: {
      const FullyConnectedOptionsDef& o = op.fully_connected;
      const auto requant = WriteRequant(fbb, o.requant);
      return fb::CreateFullyConnectedOptions(fbb, Act(o.activation), o.act_min,
                                             o.act_max, requant)
          .Union();
    }
    case OpKind::kAdd: {
      const AddOptionsDef& o = op.add;
      const auto r1 = WriteRequant(fbb, o.input1_requant);
      const auto r2 = WriteRequant(fbb, o.input2_requant);
      const auto ro = WriteRequant(fbb, o.output_requant);
      return fb::CreateAddOptions(fbb, Act(o.activation), o.act_min, o.act_max,
                                  o.left_shift, r1, r2, ro)
          .Union();
    }
    case OpKind::kAveragePool2D:
    case OpKind::kMaxPool2D:
      return WritePool(fbb, op.pool2d);
    case OpKind::kGlobalAveragePool: {
      const auto requant = WriteRequant(fbb, op.global_average_pool.requant);
      return fb::CreateGlobalAveragePoolOptions(fbb, requant).Union();
    }
    case OpKind::kConcat: {
      std::vector<Offset<fb::Requant>> requants;
      for (const RequantDef& r : op.concat.requant) {
        requants.push_back(WriteRequant(fbb, r));
      }
      const auto vec = fbb.CreateVector(requants);
      return fb::CreateConcatOptions(fbb, op.concat.axis, vec).Union();
    }
    case OpKind::kSoftmax:
      return fb::CreateSoftmaxOptions(fbb, op.softmax.beta).Union();
    case OpKind::kLogistic:
      return fb::CreateLogisticOptions(fbb).Union();
    case OpKind::kQuantize: {
      const auto requant = WriteRequant(fbb, op.quantize.requant);
      return fb::CreateQuantizeOptions(fbb, requant).Union();
    }
    case OpKind::kNone:
      return 0;  // NONE carries no table: the file is invalid, as asked.
    case OpKind::kReshape:
    case OpKind::kDequantize:
    default:
      return fb::CreateReshapeOptions(fbb).Union();  // an empty table
  }
}

Offset<fb::Operator> WriteOperator(FlatBufferBuilder& fbb,
                                   const OperatorDef& op) {
  const auto name = Str(fbb, op.name);
  const auto options = WriteOptions(fbb, op);
  const auto inputs = fbb.CreateVector(op.inputs);
  const auto outputs = fbb.CreateVector(op.outputs);
  return fb::CreateOperator(fbb, name,
                            static_cast<fb::OperatorOptions>(op.kind), options,
                            inputs, outputs);
}

Offset<fb::Head> WriteHead(FlatBufferBuilder& fbb, const HeadDef& h) {
  const auto name = Str(fbb, h.name);
  std::vector<Offset<flatbuffers::String>> label_offsets;
  for (const std::string& label : h.labels) {
    label_offsets.push_back(Str(fbb, label));
  }
  const auto labels = fbb.CreateVector(label_offsets);
  const DecisionPolicyDef& p = h.policy;
  const auto policy = fb::CreateDecisionPolicy(
      fbb, p.top_k, static_cast<fb::ConfidenceKind>(p.confidence), p.threshold,
      p.threshold_real, p.exp_table);
  return fb::CreateHead(fbb, name, h.tensor, labels, policy);
}

Offset<fb::Preprocess> WritePreprocess(FlatBufferBuilder& fbb,
                                       const std::optional<PreprocessDef>& p) {
  if (!p) return 0;
  const auto mean = fbb.CreateVector(p->mean);
  const auto std_dev = fbb.CreateVector(p->std);
  // Fields equal to their defaults are omitted, so a spec that uses no
  // format-2 field gives the same bytes as before they existed.
  return fb::CreatePreprocess(
      fbb, static_cast<fb::Layout>(p->layout),
      static_cast<fb::ChannelOrder>(p->channel_order), mean, std_dev, p->height,
      p->width, static_cast<fb::ResizeMode>(p->resize), p->equalize, p->gamma,
      static_cast<fb::FeatureNorm>(p->feature_norm));
}

Offset<fb::MemoryPlan> WritePlan(FlatBufferBuilder& fbb,
                                 const MemoryPlanDef& p) {
  const auto offsets = fbb.CreateVector(p.tensor_offsets);
  return fb::CreateMemoryPlan(fbb, p.bytes_per_item, p.fixed_bytes, p.alignment,
                              offsets);
}

Offset<fb::Metadata> WriteMetadata(FlatBufferBuilder& fbb,
                                   const std::optional<MetadataDef>& m) {
  if (!m) return 0;
  const auto model_name = Str(fbb, m->model_name);
  const auto model_version = Str(fbb, m->model_version);
  const auto data_hash = Str(fbb, m->training_data_hash);
  const auto toolchain_version = Str(fbb, m->toolchain_version);
  const auto toolchain_commit = Str(fbb, m->toolchain_commit);
  const auto created_by = Str(fbb, m->created_by);
  std::vector<Offset<fb::Metric>> metrics;
  for (const MetricDef& metric : m->metrics) {
    metrics.push_back(
        fb::CreateMetric(fbb, Str(fbb, metric.key), metric.value));
  }
  const auto metrics_vec = fbb.CreateVector(metrics);
  std::vector<Offset<fb::KeyValue>> properties;
  for (const KeyValueDef& kv : m->properties) {
    const auto key = Str(fbb, kv.key);
    const auto value = Str(fbb, kv.value);
    properties.push_back(fb::CreateKeyValue(fbb, key, value));
  }
  const auto properties_vec = fbb.CreateVector(properties);
  return fb::CreateMetadata(fbb, model_name, model_version, data_hash,
                            toolchain_version, toolchain_commit, created_by,
                            metrics_vec, properties_vec);
}

template <typename T, typename F>
auto WriteTables(FlatBufferBuilder& fbb, const std::vector<T>& items, F write) {
  std::vector<decltype(write(fbb, items[0]))> offsets;
  offsets.reserve(items.size());
  for (const T& item : items) offsets.push_back(write(fbb, item));
  return fbb.CreateVector(offsets);
}

}  // namespace

std::vector<uint8_t> SerializeModel(const ModelDef& model) {
  FlatBufferBuilder fbb(1024);
  // FlatBuffers are built back to front, so what is written first ends the
  // file. The inputs vector (uint32s, no padding after them) goes first so
  // that the last bytes are always verified data: cutting even one byte off
  // the end then fails verification instead of dropping unused padding.
  const auto inputs = fbb.CreateVector(model.inputs);
  const auto tensors = WriteTables(fbb, model.tensors, WriteTensor);
  const auto buffers = WriteTables(fbb, model.buffers, WriteBuffer);
  const auto operators = WriteTables(fbb, model.operators, WriteOperator);
  const auto outputs = fbb.CreateVector(model.outputs);
  const auto heads = WriteTables(fbb, model.heads, WriteHead);
  const auto preprocess = WritePreprocess(fbb, model.preprocess);
  const auto plan = WritePlan(fbb, model.plan);
  const auto metadata = WriteMetadata(fbb, model.metadata);
  const auto root = fb::CreateModel(
      fbb, model.schema_version, model.min_runtime_version, tensors, buffers,
      operators, inputs, outputs, heads, preprocess, plan, metadata);
  fb::FinishModelBuffer(fbb, root);
  return std::vector<uint8_t>(fbb.GetBufferPointer(),
                              fbb.GetBufferPointer() + fbb.GetSize());
}

bool ReadFileBytes(const std::string& path, std::vector<uint8_t>* bytes,
                   std::string* error) {
  return ReadFileBytes(path, UINT64_MAX, bytes, error);
}

bool ReadFileBytes(const std::string& path, uint64_t max_bytes,
                   std::vector<uint8_t>* bytes, std::string* error) {
  // POSIX rather than iostreams: a directory or a read error must be an
  // error with a reason, not an empty file.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot open '" + path + "': " + strerror(errno);
    return false;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    *error = "'" + path + "' is not a regular file";
    close(fd);
    return false;
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    *error =
        "'" + path + "' is larger than " + std::to_string(max_bytes) + " bytes";
    close(fd);
    return false;
  }
  std::vector<uint8_t> data(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = read(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = "cannot read '" + path +
               "': " + (n < 0 ? strerror(errno) : "file shrank while reading");
      close(fd);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  close(fd);
  *bytes = std::move(data);
  return true;
}

}  // namespace kiln
