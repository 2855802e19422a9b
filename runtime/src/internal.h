// The runtime's private representation of a verified model. Everything here
// lives inside the caller's arena: a context header, then these arrays, then
// the fixed region and the activation region (docs/runtime.md, "Arena").
#ifndef KILN_RUNTIME_SRC_INTERNAL_H_
#define KILN_RUNTIME_SRC_INTERNAL_H_

#include <stddef.h>
#include <stdint.h>

#include "kernels/dispatch.h"
#include "kernels/params.h"
#include "kiln/kiln.h"

namespace kiln {
namespace rt {

// Hard limits that bound init time and header size (docs/format.md).
constexpr uint32_t kMaxTensors = 4096;
constexpr uint32_t kMaxOperators = 4096;
constexpr uint32_t kMaxBuffers = 4096;
constexpr uint32_t kMaxGraphInputs = 16;
constexpr uint32_t kMaxGraphOutputs = 16;
constexpr uint32_t kMaxHeads = 32;
constexpr uint32_t kMaxClasses = 65535;
constexpr int32_t kMaxDim = 1 << 24;
constexpr int32_t kMaxWindow = 1024;  // strides, dilations, pads, filters
// Per-item element count of any tensor, and batch * that, stay below 2^31 so
// kernels can index with int32.
constexpr int64_t kMaxItemElements = INT32_MAX;
// Bytes of per-item plan / fixed region the format allows (1 TiB).
constexpr uint64_t kMaxPlanBytes = uint64_t(1) << 40;
constexpr uint32_t kContextMagic = 0x4e4c494b;  // "KILN"

struct TensorRt {
  const char* name;  // may be null
  kiln_dtype dtype;
  bool batched;
  bool constant;
  int32_t rank;
  int32_t dims[KILN_MAX_RANK];
  int64_t item_elements;
  uint64_t item_bytes;
  uint64_t offset_per_item;  // activations: byte offset per batch item
  const uint8_t* data;       // constants: bytes inside the model
  float scale;               // per-tensor scale (first scale if per-channel)
  int32_t zero_point;
};

enum class OpKind : uint8_t {
  kConv2D,
  kFullyConnected,
  kAdd,
  kAveragePool2D,
  kMaxPool2D,
  kGlobalAveragePool,
  kConcat,
  kReshape,
  kSoftmax,
  kLogistic,
  kQuantizeUint8,
  kQuantizeInt8,
  kQuantizeFloat,
  kDequantize,
};

// One decoded operator. Params hold per-item sizes (batch 1); invoke scales
// them to the chunk's batch.
struct OpRt {
  OpKind kind;
  int32_t num_inputs;
  uint32_t inputs[kMaxConcatInputs];  // activation tensor indices
  uint32_t output;
  const int8_t* filter;  // Conv2D / FullyConnected weights
  const int32_t* bias;
  // Weights prepacked at init for the context's kernel path (a PackedGemm or
  // PackedDw inside the arena), or null: run the reference kernel.
  const void* packed;
  union {
    Conv2DParams conv;
    FullyConnectedParams fc;
    AddParams add;
    Pool2DParams pool;
    GlobalAveragePoolParams gap;
    ConcatParams concat;
    SoftmaxParams softmax;
    LogisticParams logistic;
    QuantizeIntParams quantize_int;
    QuantizeFloatParams quantize_float;
    DequantizeParams dequantize;
  } p;
};

struct HeadRt {
  const char* name;
  uint32_t tensor;
  int32_t output_index;
  int32_t num_classes;
  int32_t top_k;
  kiln_confidence_kind confidence;
  int32_t threshold;
  float threshold_real;
  const int32_t* exp_table;  // 256 entries, or null (margin without table)
  const void* labels;        // flatbuffers vector of strings, or null
};

}  // namespace rt
}  // namespace kiln

struct kiln_context {
  uint32_t magic;
  const uint8_t* model;
  size_t model_len;
  uint32_t num_tensors;
  uint32_t num_operators;
  uint32_t num_inputs;
  uint32_t num_outputs;
  uint32_t num_heads;
  kiln::rt::TensorRt* tensors;
  kiln::rt::OpRt* operators;
  uint32_t inputs[kiln::rt::kMaxGraphInputs];
  uint32_t outputs[kiln::rt::kMaxGraphOutputs];
  kiln::rt::HeadRt* heads;
  // Live range of each tensor in operator steps (verification and
  // documentation of the plan): written at def_op (-1: graph input), last
  // read at last_use (num_operators: graph output).
  int32_t* def_op;
  int32_t* last_use;
  uint64_t bytes_per_item;  // activation region per batch item
  // Fixed region: [model plan's fixed bytes][prepacked weights][scratch].
  uint64_t fixed_bytes;
  uint64_t packed_offset;  // offsets inside the fixed region
  uint64_t scratch_offset;
  kiln::KernelTable kernels;  // the kernel path chosen at init
  size_t header_bytes;        // context + arrays, rounded to the alignment
  size_t max_batch;
  uint8_t* fixed;        // fixed region (scratch), fixed_bytes long
  uint8_t* activations;  // activation region, max_batch * bytes_per_item
};

namespace kiln {
namespace rt {

// Sizes the verifier reads from a structurally valid model.
struct ModelCounts {
  uint32_t num_tensors;
  uint32_t num_operators;
  uint32_t num_heads;
  uint64_t bytes_per_item;
  uint64_t fixed_bytes;  // the whole fixed region (plan + packed + scratch)
  uint64_t packed_offset;
  uint64_t scratch_offset;
};

// Bytes of prepacked weights and of kernel scratch a model needs, read from
// its structure (before semantic verification; malformed parts count 0 and
// are rejected later). Independent of the kernel path.
struct KernelRegion {
  uint64_t packed;
  uint64_t scratch;
};
KernelRegion KernelRegionOf(const void* model);

// Picks the kernel path (KILN_ISA or detection) into ctx->kernels.
kiln_status SelectKernels(kiln_context* ctx, kiln_error* err);

// Packs every operator's weights for ctx->kernels into the fixed region and
// checks the decoded operators fit the region KernelRegionOf reserved.
kiln_status PrepackOperators(kiln_context* ctx, kiln_error* err);

// Formats a message into err (if not null) and returns code.
kiln_status SetError(kiln_error* err, kiln_status code, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Checks alignment, identifier, the FlatBuffers verifier, the version and the
// limits, and reads the counts the arena layout needs.
kiln_status CheckStructure(const void* model, size_t model_len,
                           ModelCounts* counts, kiln_error* err);

// Bytes of the context header and its arrays for these counts.
size_t HeaderBytes(const ModelCounts& counts);

// Full semantic verification. Fills ctx's tensors, operators, graph inputs
// and outputs and heads (whose arrays must already point into the arena).
kiln_status VerifyAndDecode(kiln_context* ctx, kiln_error* err);

// Decodes operator `index` of the model into ctx->operators[index] after
// checking it; part of VerifyAndDecode.
kiln_status DecodeOperator(kiln_context* ctx, uint32_t index, kiln_error* err);

// Checks that tensor `index` is a constant int32[256] exp(-x) table
// (non-increasing, entry 0 in [1, 2^24]).
kiln_status CheckExpTable(const kiln_context* ctx, int64_t index,
                          kiln_error* err);

inline uint32_t DTypeSize(kiln_dtype t) {
  return (t == KILN_INT32 || t == KILN_FLOAT32) ? 4 : 1;
}

// Runs one operator for a chunk of `batch` items.
void RunOperator(const kiln_context* ctx, const OpRt& op, int32_t batch);

// The decision of one head for one item's logits.
void Decide(const HeadRt& head, const int8_t* logits, kiln_decision* out);

// The public description of a tensor (info.cc): kiln_get_input_info and
// friends, and the input item a preprocessing spec writes.
void FillTensorInfo(const TensorRt& t, kiln_tensor_info* info);

inline uint64_t AlignUp(uint64_t v, uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}

}  // namespace rt
}  // namespace kiln

#endif  // KILN_RUNTIME_SRC_INTERNAL_H_
