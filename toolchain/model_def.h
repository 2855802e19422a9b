// ModelDef: a plain C++ mirror of formats/kiln.fbs, one struct per table.
//
// It is deliberately dumb: every field can hold any value the file format can
// hold, valid or not (negative dims, out-of-range indices, NaN scales, buffers
// of the wrong size). ModelBuilder produces valid defs; tests edit them into
// corrupt ones; SerializeModel writes whatever is there. Enums are plain
// `enum class` with the schema's numbers so a test can static_cast any byte
// into them.
#ifndef KILN_TOOLCHAIN_MODEL_DEF_H_
#define KILN_TOOLCHAIN_MODEL_DEF_H_

#include <stddef.h>
#include <stdint.h>

#include <optional>
#include <string>
#include <vector>

namespace kiln {

enum class DType : int8_t { kInt8 = 0, kUInt8 = 1, kInt32 = 2, kFloat32 = 3 };
enum class Activation : int8_t { kNone = 0, kRelu = 1, kRelu6 = 2 };
enum class ConfidenceKind : int8_t {
  kTop1Prob = 0,
  kTopKProb = 1,
  kMargin = 2
};
enum class Layout : int8_t { kNHWC = 0, kNCHW = 1, kFlat = 2 };
enum class ChannelOrder : int8_t { kNone = 0, kRGB = 1, kBGR = 2, kGray = 3 };
// Image resizing to the model's height x width before anything else.
enum class ResizeMode : int8_t { kNone = 0, kBilinear = 1, kNearest = 2 };
// Per-item normalization of float feature vectors (scikit-learn's
// Normalizer): divide by the L1 norm, the L2 norm or the max |x|.
enum class FeatureNorm : int8_t { kNone = 0, kL1 = 1, kL2 = 2, kMax = 3 };

// The OperatorOptions union type; its value is the operator kind.
enum class OpKind : uint8_t {
  kNone = 0,
  kConv2D = 1,
  kFullyConnected = 2,
  kAdd = 3,
  kAveragePool2D = 4,
  kMaxPool2D = 5,
  kGlobalAveragePool = 6,
  kConcat = 7,
  kReshape = 8,
  kSoftmax = 9,
  kLogistic = 10,
  kQuantize = 11,
  kDequantize = 12,
};

// Names as in the schema ("Conv2D", "INT8", ...); "?" for unknown values.
const char* OpKindName(OpKind kind);
const char* DTypeName(DType type);
const char* ActivationName(Activation activation);
const char* ConfidenceKindName(ConfidenceKind kind);
const char* LayoutName(Layout layout);
const char* ChannelOrderName(ChannelOrder order);
const char* ResizeModeName(ResizeMode mode);
const char* FeatureNormName(FeatureNorm norm);

// Bytes of one element: 1 for INT8/UINT8, 4 for INT32/FLOAT32, 0 if unknown.
size_t DTypeSize(DType type);

struct QuantizationDef {
  std::vector<float> scale;
  std::vector<int32_t> zero_point;
  int32_t axis = 0;
};

struct BufferDef {
  std::vector<uint8_t> data;
};

struct TensorDef {
  std::string name;
  DType type = DType::kInt8;
  std::vector<int32_t> shape;  // per item when batched, whole otherwise
  bool batched = true;
  std::optional<QuantizationDef> quantization;  // absent for float tensors
  uint32_t buffer = 0;                          // 0: not a constant
};

struct RequantDef {
  std::vector<int32_t> multiplier;
  std::vector<int8_t> shift;
};

struct Conv2DOptionsDef {
  int32_t stride_h = 1, stride_w = 1;
  int32_t dilation_h = 1, dilation_w = 1;
  int32_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int32_t groups = 1;
  Activation activation = Activation::kNone;
  int32_t act_min = -128, act_max = 127;
  std::optional<RequantDef> requant;
};

struct FullyConnectedOptionsDef {
  Activation activation = Activation::kNone;
  int32_t act_min = -128, act_max = 127;
  std::optional<RequantDef> requant;
};

struct AddOptionsDef {
  Activation activation = Activation::kNone;
  int32_t act_min = -128, act_max = 127;
  int32_t left_shift = 20;
  std::optional<RequantDef> input1_requant;
  std::optional<RequantDef> input2_requant;
  std::optional<RequantDef> output_requant;
};

// AveragePool2D and MaxPool2D.
struct Pool2DOptionsDef {
  int32_t filter_h = 1, filter_w = 1;
  int32_t stride_h = 1, stride_w = 1;
  int32_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int32_t act_min = -128, act_max = 127;
};

struct GlobalAveragePoolOptionsDef {
  std::optional<RequantDef> requant;
};

struct ConcatOptionsDef {
  int32_t axis = 0;
  std::vector<RequantDef> requant;  // one per input
};

// The exp table is the operator's second input; beta is only recorded.
struct SoftmaxOptionsDef {
  float beta = 1.0f;
};

struct QuantizeOptionsDef {
  std::optional<RequantDef> requant;  // absent for float inputs
};

// One operator. `kind` selects which of the option members is serialized;
// the others are ignored (Reshape, Logistic and Dequantize have empty
// options). A kind outside the schema is written as an empty table of that
// union type; kNone is written without a table (an invalid file).
struct OperatorDef {
  std::string name;
  OpKind kind = OpKind::kNone;
  std::vector<uint32_t> inputs;
  std::vector<uint32_t> outputs;

  Conv2DOptionsDef conv2d;
  FullyConnectedOptionsDef fully_connected;
  AddOptionsDef add;
  Pool2DOptionsDef pool2d;
  GlobalAveragePoolOptionsDef global_average_pool;
  ConcatOptionsDef concat;
  SoftmaxOptionsDef softmax;
  QuantizeOptionsDef quantize;
};

struct DecisionPolicyDef {
  int32_t top_k = 1;
  ConfidenceKind confidence = ConfidenceKind::kTop1Prob;
  int32_t threshold = 0;
  float threshold_real = 0.0f;
  int32_t exp_table = -1;  // tensor index, -1 for none
};

struct HeadDef {
  std::string name;
  uint32_t tensor = 0;
  std::vector<std::string> labels;
  DecisionPolicyDef policy;
};

struct PreprocessDef {
  Layout layout = Layout::kFlat;
  ChannelOrder channel_order = ChannelOrder::kNone;
  std::vector<float> mean;
  std::vector<float> std;
  int32_t height = 0, width = 0;
  // Images: resize to height x width, then (per channel, on 8-bit values)
  // histogram equalization, then gamma (v = 255 * (v / 255)^gamma; 1 = off),
  // then (v / 255 - mean[c]) / std[c].
  ResizeMode resize = ResizeMode::kNone;
  bool equalize = false;
  float gamma = 1.0f;
  // Features: (x - mean[i]) / std[i], then feature_norm.
  FeatureNorm feature_norm = FeatureNorm::kNone;
};

struct MemoryPlanDef {
  uint64_t bytes_per_item = 0;
  uint64_t fixed_bytes = 0;
  uint32_t alignment = 64;
  std::vector<uint64_t> tensor_offsets;  // one per tensor
};

struct MetricDef {
  std::string key;
  double value = 0.0;
};

struct KeyValueDef {
  std::string key;
  std::string value;
};

struct MetadataDef {
  std::string model_name;
  std::string model_version;
  std::string training_data_hash;
  std::string toolchain_version;
  std::string toolchain_commit;
  std::string created_by;
  std::vector<MetricDef> metrics;
  std::vector<KeyValueDef> properties;
};

struct ModelDef {
  uint32_t schema_version = 1;
  uint32_t min_runtime_version = 1;
  std::vector<TensorDef> tensors;
  std::vector<BufferDef> buffers;      // buffers[0] is the empty sentinel
  std::vector<OperatorDef> operators;  // in execution order
  std::vector<uint32_t> inputs;
  std::vector<uint32_t> outputs;
  std::vector<HeadDef> heads;
  std::optional<PreprocessDef> preprocess;
  MemoryPlanDef plan;
  std::optional<MetadataDef> metadata;
};

}  // namespace kiln

#endif  // KILN_TOOLCHAIN_MODEL_DEF_H_
