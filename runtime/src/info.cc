// Read-only introspection of a context: graph inputs, outputs and heads.
#include "runtime/src/internal.h"
#include "runtime/src/schema.h"

using namespace kiln::rt;

void kiln::rt::FillTensorInfo(const TensorRt& t, kiln_tensor_info* info) {
  info->name = t.name;
  info->dtype = t.dtype;
  info->rank = t.rank;
  for (int32_t d = 0; d < KILN_MAX_RANK; ++d) {
    info->dims[d] = d < t.rank ? t.dims[d] : 0;
  }
  info->item_bytes = static_cast<size_t>(t.item_bytes);
  info->scale = t.scale;
  info->zero_point = t.zero_point;
}

namespace {

bool Valid(const kiln_context* ctx) {
  return ctx != nullptr && ctx->magic == kContextMagic;
}

}  // namespace

extern "C" size_t kiln_max_batch(const kiln_context* ctx) {
  return Valid(ctx) ? ctx->max_batch : 0;
}

extern "C" int32_t kiln_num_inputs(const kiln_context* ctx) {
  return Valid(ctx) ? static_cast<int32_t>(ctx->num_inputs) : 0;
}

extern "C" int32_t kiln_num_outputs(const kiln_context* ctx) {
  return Valid(ctx) ? static_cast<int32_t>(ctx->num_outputs) : 0;
}

extern "C" int32_t kiln_num_heads(const kiln_context* ctx) {
  return Valid(ctx) ? static_cast<int32_t>(ctx->num_heads) : 0;
}

extern "C" kiln_status kiln_get_input_info(const kiln_context* ctx,
                                           int32_t index,
                                           kiln_tensor_info* info) {
  if (!Valid(ctx) || info == nullptr || index < 0 ||
      index >= static_cast<int32_t>(ctx->num_inputs)) {
    return KILN_ERR_INVALID_ARGUMENT;
  }
  FillTensorInfo(ctx->tensors[ctx->inputs[index]], info);
  return KILN_OK;
}

extern "C" kiln_status kiln_get_output_info(const kiln_context* ctx,
                                            int32_t index,
                                            kiln_tensor_info* info) {
  if (!Valid(ctx) || info == nullptr || index < 0 ||
      index >= static_cast<int32_t>(ctx->num_outputs)) {
    return KILN_ERR_INVALID_ARGUMENT;
  }
  FillTensorInfo(ctx->tensors[ctx->outputs[index]], info);
  return KILN_OK;
}

extern "C" kiln_status kiln_get_head_info(const kiln_context* ctx,
                                          int32_t index, kiln_head_info* info) {
  if (!Valid(ctx) || info == nullptr || index < 0 ||
      index >= static_cast<int32_t>(ctx->num_heads)) {
    return KILN_ERR_INVALID_ARGUMENT;
  }
  const HeadRt& h = ctx->heads[index];
  info->name = h.name;
  info->output_index = h.output_index;
  info->num_classes = h.num_classes;
  info->top_k = h.top_k;
  info->confidence = h.confidence;
  info->threshold = h.threshold;
  info->threshold_real = h.threshold_real;
  return KILN_OK;
}

extern "C" const char* kiln_head_label(const kiln_context* ctx, int32_t head,
                                       int32_t class_id) {
  if (!Valid(ctx) || head < 0 || head >= static_cast<int32_t>(ctx->num_heads)) {
    return nullptr;
  }
  const HeadRt& h = ctx->heads[head];
  if (h.labels == nullptr || class_id < 0 || class_id >= h.num_classes) {
    return nullptr;
  }
  const auto* labels = static_cast<
      const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>*>(
      h.labels);
  return labels->Get(static_cast<uint32_t>(class_id))->c_str();
}

extern "C" const char* kiln_isa_name_of(int32_t isa) {
  if (isa < 0 || isa >= static_cast<int32_t>(kiln::Isa::kCount)) return nullptr;
  return kiln::IsaName(static_cast<kiln::Isa>(isa));
}

extern "C" uint32_t kiln_supported_isas(void) {
  return kiln::SupportedIsaMask();
}

extern "C" const char* kiln_isa_name(const kiln_context* ctx) {
  return Valid(ctx) ? kiln::IsaName(ctx->kernels.isa) : nullptr;
}

static_assert(KILN_ISA_COUNT == static_cast<int>(kiln::Isa::kCount),
              "kiln.h and kernels/isa.h list the same paths");
