// Model verification, part 1: structure, tensors, graph, memory plan, heads.
// The runtime trusts nothing it loads: after the FlatBuffers verifier has
// proven every offset in bounds, these checks prove that every index, shape,
// scale and plan entry is consistent, so that invoke can run without a
// single check. Operators are checked in verify_operators.cc, the
// preprocessing spec in verify_preprocess.cc.
#include <math.h>
#include <string.h>

#include "runtime/src/internal.h"
#include "runtime/src/preprocess.h"
#include "runtime/src/schema.h"

namespace kiln {
namespace rt {
namespace {

constexpr int32_t kUndefined = INT32_MIN;

kiln_status CheckQuantization(const fb::Tensor* t, const TensorRt& r,
                              uint32_t index, kiln_error* err) {
  const fb::Quantization* q = t->quantization();
  const bool quantized_type = r.dtype == KILN_INT8 || r.dtype == KILN_UINT8;
  const auto* scales = q != nullptr ? q->scale() : nullptr;
  const auto* zps = q != nullptr ? q->zero_point() : nullptr;
  const uint32_t count = scales != nullptr ? scales->size() : 0;
  if (count == 0) {
    if (quantized_type) {
      return SetError(err, KILN_ERR_QUANTIZATION,
                      "tensor %u: int8/uint8 tensor without a scale", index);
    }
    return KILN_OK;
  }
  if (zps == nullptr || zps->size() != count) {
    return SetError(err, KILN_ERR_QUANTIZATION,
                    "tensor %u: %u scales but %u zero points", index, count,
                    zps != nullptr ? zps->size() : 0u);
  }
  for (uint32_t i = 0; i < count; ++i) {
    const float s = scales->Get(i);
    if (!isfinite(s) || !(s > 0.0f) || !isnormal(s)) {
      return SetError(err, KILN_ERR_QUANTIZATION,
                      "tensor %u: scale %u is %g, must be finite, normal and "
                      "> 0",
                      index, i, static_cast<double>(s));
    }
  }
  if (count == 1) {
    const int32_t zp = zps->Get(0);
    const int32_t lo = r.dtype == KILN_UINT8 ? 0 : -128;
    const int32_t hi = r.dtype == KILN_UINT8 ? 255 : 127;
    if (r.dtype != KILN_FLOAT32 && r.dtype != KILN_INT32 &&
        (zp < lo || zp > hi)) {
      return SetError(err, KILN_ERR_QUANTIZATION,
                      "tensor %u: zero point %d outside [%d, %d]", index, zp,
                      lo, hi);
    }
    if (r.dtype == KILN_INT32 && zp != 0) {
      return SetError(err, KILN_ERR_QUANTIZATION,
                      "tensor %u: int32 tensor with zero point %d", index, zp);
    }
    return KILN_OK;
  }
  // Per-channel: constants only, symmetric, one scale per slice of `axis`.
  if (!r.constant) {
    return SetError(err, KILN_ERR_QUANTIZATION,
                    "tensor %u: per-channel quantization on an activation",
                    index);
  }
  const int32_t axis = q->axis();
  if (axis < 0 || axis >= r.rank ||
      r.dims[axis] != static_cast<int32_t>(count)) {
    return SetError(err, KILN_ERR_QUANTIZATION,
                    "tensor %u: %u scales do not match axis %d of the shape",
                    index, count, axis);
  }
  for (uint32_t i = 0; i < count; ++i) {
    if (zps->Get(i) != 0) {
      return SetError(err, KILN_ERR_QUANTIZATION,
                      "tensor %u: per-channel zero point %u is %d, must be 0",
                      index, i, zps->Get(i));
    }
  }
  return KILN_OK;
}

kiln_status DecodeTensor(const fb::Model* m, uint32_t index, TensorRt* r,
                         kiln_error* err) {
  const fb::Tensor* t = m->tensors()->Get(index);
  memset(r, 0, sizeof(*r));
  r->name = t->name() != nullptr ? t->name()->c_str() : nullptr;
  const int32_t type = static_cast<int32_t>(t->type());
  if (type < KILN_INT8 || type > KILN_FLOAT32) {
    return SetError(err, KILN_ERR_DTYPE, "tensor %u: unknown type %d", index,
                    type);
  }
  r->dtype = static_cast<kiln_dtype>(type);
  const auto* shape = t->shape();
  r->rank = shape != nullptr ? static_cast<int32_t>(shape->size()) : 0;
  if (r->rank > KILN_MAX_RANK) {
    return SetError(err, KILN_ERR_SHAPE, "tensor %u: rank %d exceeds %d", index,
                    r->rank, KILN_MAX_RANK);
  }
  int64_t elements = 1;
  for (int32_t d = 0; d < r->rank; ++d) {
    const int32_t dim = shape->Get(d);
    if (dim < 1 || dim > kMaxDim) {
      return SetError(err, KILN_ERR_SHAPE,
                      "tensor %u: dimension %d is %d, must be in [1, %d]",
                      index, d, dim, kMaxDim);
    }
    r->dims[d] = dim;
    elements *= dim;  // < 2^31 * 2^24: no overflow before the check below
    if (elements > kMaxItemElements) {
      return SetError(err, KILN_ERR_SHAPE,
                      "tensor %u: more than 2^31-1 elements per item", index);
    }
  }
  r->item_elements = elements;
  r->item_bytes = static_cast<uint64_t>(elements) * DTypeSize(r->dtype);
  r->batched = t->batched();
  const uint32_t buffer = t->buffer();
  if (buffer != 0) {
    const auto* buffers = m->buffers();
    if (buffers == nullptr || buffer >= buffers->size()) {
      return SetError(err, KILN_ERR_BUFFER_INDEX,
                      "tensor %u: buffer %u out of range", index, buffer);
    }
    if (r->batched) {
      return SetError(err, KILN_ERR_BUFFER_INDEX,
                      "tensor %u: a constant cannot be batched", index);
    }
    const auto* data = buffers->Get(buffer)->data();
    const uint64_t have = data != nullptr ? data->size() : 0;
    if (have != r->item_bytes) {
      return SetError(err, KILN_ERR_BUFFER_SIZE,
                      "tensor %u: buffer %u holds %llu bytes, shape needs "
                      "%llu",
                      index, buffer, static_cast<unsigned long long>(have),
                      static_cast<unsigned long long>(r->item_bytes));
    }
    r->data = data->data();
    if (reinterpret_cast<uintptr_t>(r->data) % DTypeSize(r->dtype) != 0) {
      return SetError(err, KILN_ERR_BUFFER_SIZE,
                      "tensor %u: buffer %u misaligned for its type", index,
                      buffer);
    }
    r->constant = true;
  } else if (!r->batched) {
    return SetError(err, KILN_ERR_BUFFER_INDEX,
                    "tensor %u: not batched but has no constant buffer", index);
  }
  kiln_status s = CheckQuantization(t, *r, index, err);
  if (s != KILN_OK) return s;
  const fb::Quantization* q = t->quantization();
  if (q != nullptr && q->scale() != nullptr && q->scale()->size() > 0) {
    r->scale = q->scale()->Get(0);
    r->zero_point = q->zero_point()->Get(0);
  }
  return KILN_OK;
}

kiln_status CheckGraphEnds(const flatbuffers::Vector<uint32_t>* list,
                           const char* what, uint32_t max_count,
                           const kiln_context* ctx, uint32_t* out,
                           kiln_error* err) {
  const uint32_t n = list != nullptr ? list->size() : 0;
  if (n == 0 || n > max_count) {
    return SetError(err, KILN_ERR_GRAPH, "model has %u graph %ss, need 1..%u",
                    n, what, max_count);
  }
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t t = list->Get(i);
    if (t >= ctx->num_tensors) {
      return SetError(err, KILN_ERR_TENSOR_INDEX,
                      "graph %s %u: tensor %u "
                      "out of range",
                      what, i, t);
    }
    if (ctx->tensors[t].constant) {
      return SetError(err, KILN_ERR_GRAPH,
                      "graph %s %u: tensor %u is a "
                      "constant",
                      what, i, t);
    }
    for (uint32_t j = 0; j < i; ++j) {
      if (out[j] == t) {
        return SetError(err, KILN_ERR_GRAPH,
                        "graph %s %u: tensor %u listed "
                        "twice",
                        what, i, t);
      }
    }
    out[i] = t;
  }
  return KILN_OK;
}

// Walks the operators in order: every activation read must already have been
// written, and every tensor is written once. Records the live ranges.
kiln_status CheckDataflow(const fb::Model* m, kiln_context* ctx,
                          kiln_error* err) {
  for (uint32_t t = 0; t < ctx->num_tensors; ++t) {
    ctx->def_op[t] = kUndefined;
    ctx->last_use[t] = kUndefined;
  }
  for (uint32_t i = 0; i < ctx->num_inputs; ++i) {
    ctx->def_op[ctx->inputs[i]] = -1;
    ctx->last_use[ctx->inputs[i]] = -1;
  }
  for (uint32_t o = 0; o < ctx->num_operators; ++o) {
    const fb::Operator* op = m->operators()->Get(o);
    for (uint32_t t : *op->inputs()) {
      if (ctx->tensors[t].constant) continue;
      if (ctx->def_op[t] == kUndefined) {
        return SetError(err, KILN_ERR_GRAPH,
                        "operator %u reads tensor %u "
                        "before anything writes it",
                        o, t);
      }
      ctx->last_use[t] = static_cast<int32_t>(o);
    }
    const uint32_t out = op->outputs()->Get(0);
    if (ctx->def_op[out] != kUndefined) {
      return SetError(err, KILN_ERR_GRAPH,
                      "operator %u writes tensor %u, "
                      "which is already written",
                      o, out);
    }
    ctx->def_op[out] = static_cast<int32_t>(o);
    ctx->last_use[out] = static_cast<int32_t>(o);
  }
  for (uint32_t i = 0; i < ctx->num_outputs; ++i) {
    const uint32_t t = ctx->outputs[i];
    if (ctx->def_op[t] == kUndefined) {
      return SetError(err, KILN_ERR_GRAPH,
                      "graph output %u (tensor %u) is "
                      "never written",
                      i, t);
    }
    ctx->last_use[t] = static_cast<int32_t>(ctx->num_operators);
  }
  return KILN_OK;
}

kiln_status CheckPlan(const fb::Model* m, kiln_context* ctx, kiln_error* err) {
  const fb::MemoryPlan* plan = m->plan();
  const auto* offsets = plan->tensor_offsets();
  if (offsets == nullptr || offsets->size() != ctx->num_tensors) {
    return SetError(err, KILN_ERR_PLAN, "plan has %u offsets for %u tensors",
                    offsets != nullptr ? offsets->size() : 0u,
                    ctx->num_tensors);
  }
  const uint32_t alignment = plan->alignment();
  if (alignment < 16 || alignment > 4096 || (alignment & (alignment - 1))) {
    return SetError(err, KILN_ERR_PLAN,
                    "plan alignment %u is not a power of "
                    "two in [16, 4096]",
                    alignment);
  }
  const uint64_t limit = ctx->bytes_per_item;
  for (uint32_t t = 0; t < ctx->num_tensors; ++t) {
    TensorRt& r = ctx->tensors[t];
    if (r.constant || ctx->def_op[t] == kUndefined) continue;
    const uint64_t off = offsets->Get(t);
    if (off % alignment != 0 || off > limit || r.item_bytes > limit - off) {
      return SetError(err, KILN_ERR_PLAN,
                      "tensor %u: offset %llu + %llu "
                      "bytes misaligned or beyond %llu bytes per item",
                      t, static_cast<unsigned long long>(off),
                      static_cast<unsigned long long>(r.item_bytes),
                      static_cast<unsigned long long>(limit));
    }
    r.offset_per_item = off;
  }
  // Tensors live at the same step must not share bytes. Scaling every offset
  // and size by the batch keeps disjoint intervals disjoint.
  for (uint32_t a = 0; a < ctx->num_tensors; ++a) {
    const TensorRt& ta = ctx->tensors[a];
    if (ta.constant || ctx->def_op[a] == kUndefined) continue;
    for (uint32_t b = a + 1; b < ctx->num_tensors; ++b) {
      const TensorRt& tb = ctx->tensors[b];
      if (tb.constant || ctx->def_op[b] == kUndefined) continue;
      const bool live_together = ctx->def_op[a] <= ctx->last_use[b] &&
                                 ctx->def_op[b] <= ctx->last_use[a];
      const bool share_bytes =
          ta.offset_per_item < tb.offset_per_item + tb.item_bytes &&
          tb.offset_per_item < ta.offset_per_item + ta.item_bytes;
      if (live_together && share_bytes) {
        return SetError(err, KILN_ERR_PLAN,
                        "tensors %u and %u are live at "
                        "the same time and overlap in the plan",
                        a, b);
      }
    }
  }
  return KILN_OK;
}

kiln_status DecodeHead(const fb::Model* m, kiln_context* ctx, uint32_t index,
                       kiln_error* err) {
  const fb::Head* h = m->heads()->Get(index);
  HeadRt& r = ctx->heads[index];
  memset(&r, 0, sizeof(r));
  r.name = h->name()->c_str();
  r.tensor = h->tensor();
  if (r.tensor >= ctx->num_tensors) {
    return SetError(err, KILN_ERR_TENSOR_INDEX,
                    "head %u: tensor %u out of "
                    "range",
                    index, r.tensor);
  }
  r.output_index = -1;
  for (uint32_t i = 0; i < ctx->num_outputs; ++i) {
    if (ctx->outputs[i] == r.tensor) r.output_index = static_cast<int32_t>(i);
  }
  const TensorRt& t = ctx->tensors[r.tensor];
  if (r.output_index < 0 || t.dtype != KILN_INT8) {
    return SetError(err, KILN_ERR_HEAD,
                    "head %u: tensor %u must be an int8 "
                    "graph output",
                    index, r.tensor);
  }
  if (t.item_elements > static_cast<int64_t>(kMaxClasses)) {
    return SetError(err, KILN_ERR_HEAD, "head %u: %lld classes exceed %u",
                    index, static_cast<long long>(t.item_elements),
                    kMaxClasses);
  }
  r.num_classes = static_cast<int32_t>(t.item_elements);
  const auto* labels = h->labels();
  if (labels != nullptr && labels->size() != 0 &&
      labels->size() != static_cast<uint32_t>(r.num_classes)) {
    return SetError(err, KILN_ERR_HEAD, "head %u: %u labels for %d classes",
                    index, labels->size(), r.num_classes);
  }
  r.labels = labels != nullptr && labels->size() != 0 ? labels : nullptr;
  const fb::DecisionPolicy* p = h->policy();
  r.top_k = p->top_k();
  const int32_t max_k =
      r.num_classes < KILN_MAX_TOP_K ? r.num_classes : KILN_MAX_TOP_K;
  if (r.top_k < 1 || r.top_k > max_k) {
    return SetError(err, KILN_ERR_HEAD, "head %u: top_k %d outside [1, %d]",
                    index, r.top_k, max_k);
  }
  const int32_t kind = static_cast<int32_t>(p->confidence());
  if (kind < KILN_CONFIDENCE_TOP1_PROB || kind > KILN_CONFIDENCE_MARGIN) {
    return SetError(err, KILN_ERR_HEAD, "head %u: unknown confidence kind %d",
                    index, kind);
  }
  r.confidence = static_cast<kiln_confidence_kind>(kind);
  r.threshold = p->threshold();
  r.threshold_real = p->threshold_real();
  if (!isfinite(r.threshold_real)) {
    return SetError(err, KILN_ERR_HEAD, "head %u: threshold_real not finite",
                    index);
  }
  const bool margin = r.confidence == KILN_CONFIDENCE_MARGIN;
  const int32_t max_threshold = margin ? 256 : 65536;
  if (r.threshold < 0 || r.threshold > max_threshold) {
    return SetError(err, KILN_ERR_HEAD,
                    "head %u: threshold %d outside "
                    "[0, %d]",
                    index, r.threshold, max_threshold);
  }
  if (margin && r.num_classes < 2) {
    return SetError(err, KILN_ERR_HEAD, "head %u: a margin needs >= 2 classes",
                    index);
  }
  const int32_t table = p->exp_table();
  if (table == -1) {
    if (!margin) {
      return SetError(err, KILN_ERR_HEAD,
                      "head %u: probability confidence "
                      "without an exp_table",
                      index);
    }
    return KILN_OK;
  }
  kiln_status s = CheckExpTable(ctx, table, err);
  if (s != KILN_OK) return s;
  r.exp_table = reinterpret_cast<const int32_t*>(ctx->tensors[table].data);
  return KILN_OK;
}

}  // namespace

kiln_status CheckExpTable(const kiln_context* ctx, int64_t index,
                          kiln_error* err) {
  if (index < 0 || index >= static_cast<int64_t>(ctx->num_tensors)) {
    return SetError(err, KILN_ERR_TENSOR_INDEX,
                    "exp table tensor %lld out of "
                    "range",
                    static_cast<long long>(index));
  }
  const TensorRt& t = ctx->tensors[index];
  if (!t.constant || t.dtype != KILN_INT32 || t.item_elements != 256) {
    return SetError(err, KILN_ERR_TABLE,
                    "exp table tensor %lld must be a "
                    "constant int32[256]",
                    static_cast<long long>(index));
  }
  // exp(-x) tables: positive at 0, never increasing, within 2^24, so sums of
  // up to 65535 entries times 2^16 stay far inside 64 bits.
  const int32_t* e = reinterpret_cast<const int32_t*>(t.data);
  if (e[0] < 1 || e[0] > (1 << 24)) {
    return SetError(err, KILN_ERR_TABLE,
                    "exp table tensor %lld: entry 0 is "
                    "%d, must be in [1, 2^24]",
                    static_cast<long long>(index), e[0]);
  }
  for (int i = 1; i < 256; ++i) {
    if (e[i] < 0 || e[i] > e[i - 1]) {
      return SetError(err, KILN_ERR_TABLE,
                      "exp table tensor %lld: entry %d "
                      "negative or increasing",
                      static_cast<long long>(index), i);
    }
  }
  return KILN_OK;
}

kiln_status CheckStructure(const void* model, size_t model_len,
                           ModelCounts* counts, kiln_error* err) {
  if (model == nullptr || model_len == 0 || counts == nullptr) {
    return SetError(err, KILN_ERR_INVALID_ARGUMENT, "null or empty model");
  }
  if (reinterpret_cast<uintptr_t>(model) % KILN_MODEL_ALIGNMENT != 0) {
    return SetError(err, KILN_ERR_MODEL_ALIGNMENT,
                    "model bytes must be "
                    "%d-byte aligned",
                    KILN_MODEL_ALIGNMENT);
  }
  if (model_len < 8 || !fb::ModelBufferHasIdentifier(model)) {
    return SetError(err, KILN_ERR_NOT_A_MODEL,
                    "missing the KILN file "
                    "identifier");
  }
  if (model_len >= FLATBUFFERS_MAX_BUFFER_SIZE) {
    return SetError(err, KILN_ERR_LIMITS, "model larger than 2 GiB");
  }
  flatbuffers::Verifier verifier(static_cast<const uint8_t*>(model), model_len,
                                 /*max_depth=*/32, /*max_tables=*/1 << 20);
  if (!fb::VerifyModelBuffer(verifier)) {
    return SetError(err, KILN_ERR_FLATBUFFER,
                    "FlatBuffers verification "
                    "failed: truncated or corrupt model");
  }
  const fb::Model* m = fb::GetModel(model);
  if (m->min_runtime_version() > KILN_RUNTIME_FORMAT_VERSION) {
    return SetError(err, KILN_ERR_VERSION,
                    "model needs runtime format %u, "
                    "this runtime reads %d",
                    m->min_runtime_version(), KILN_RUNTIME_FORMAT_VERSION);
  }
  const uint32_t tensors = m->tensors() ? m->tensors()->size() : 0;
  const uint32_t operators = m->operators() ? m->operators()->size() : 0;
  const uint32_t buffers = m->buffers() ? m->buffers()->size() : 0;
  const uint32_t heads = m->heads() ? m->heads()->size() : 0;
  if (tensors == 0 || tensors > kMaxTensors || operators > kMaxOperators ||
      buffers > kMaxBuffers || heads > kMaxHeads) {
    return SetError(err, KILN_ERR_LIMITS,
                    "%u tensors, %u operators, %u "
                    "buffers, %u heads: limits are 1..%u, %u, %u, %u",
                    tensors, operators, buffers, heads, kMaxTensors,
                    kMaxOperators, kMaxBuffers, kMaxHeads);
  }
  const auto* buffer0 = buffers != 0 ? m->buffers()->Get(0)->data() : nullptr;
  if (buffer0 != nullptr && buffer0->size() != 0) {
    return SetError(err, KILN_ERR_BUFFER_INDEX,
                    "buffer 0 is the empty "
                    "sentinel but holds %u bytes",
                    buffer0->size());
  }
  const fb::MemoryPlan* plan = m->plan();
  if (plan->bytes_per_item() == 0 || plan->bytes_per_item() > kMaxPlanBytes ||
      plan->fixed_bytes() > kMaxPlanBytes) {
    return SetError(err, KILN_ERR_PLAN,
                    "plan sizes %llu per item, %llu fixed "
                    "outside the allowed range",
                    static_cast<unsigned long long>(plan->bytes_per_item()),
                    static_cast<unsigned long long>(plan->fixed_bytes()));
  }
  counts->num_tensors = tensors;
  counts->num_operators = operators;
  counts->num_heads = heads;
  counts->bytes_per_item = plan->bytes_per_item();
  // The fixed region also holds the prepacked weights and kernel scratch.
  const KernelRegion region = KernelRegionOf(model);
  counts->packed_offset = AlignUp(plan->fixed_bytes(), 64);
  counts->scratch_offset = counts->packed_offset + region.packed;
  counts->fixed_bytes = counts->scratch_offset + region.scratch;
  if (region.packed > kMaxPlanBytes || region.scratch > kMaxPlanBytes) {
    return SetError(err, KILN_ERR_LIMITS,
                    "prepacked weights (%llu bytes) or kernel scratch (%llu) "
                    "beyond the limit",
                    static_cast<unsigned long long>(region.packed),
                    static_cast<unsigned long long>(region.scratch));
  }
  return KILN_OK;
}

kiln_status VerifyAndDecode(kiln_context* ctx, kiln_error* err) {
  const fb::Model* m = fb::GetModel(ctx->model);
  kiln_status s;
  for (uint32_t t = 0; t < ctx->num_tensors; ++t) {
    if ((s = DecodeTensor(m, t, &ctx->tensors[t], err)) != KILN_OK) return s;
  }
  if ((s = CheckGraphEnds(m->inputs(), "input", kMaxGraphInputs, ctx,
                          ctx->inputs, err)) != KILN_OK) {
    return s;
  }
  ctx->num_inputs = m->inputs()->size();
  if ((s = CheckGraphEnds(m->outputs(), "output", kMaxGraphOutputs, ctx,
                          ctx->outputs, err)) != KILN_OK) {
    return s;
  }
  ctx->num_outputs = m->outputs()->size();
  for (uint32_t i = 0; i < ctx->num_inputs; ++i) {
    if (ctx->tensors[ctx->inputs[i]].dtype == KILN_INT32) {
      return SetError(err, KILN_ERR_DTYPE, "graph input %u is int32", i);
    }
  }
  for (uint32_t o = 0; o < ctx->num_operators; ++o) {
    if ((s = DecodeOperator(ctx, o, err)) != KILN_OK) return s;
  }
  if ((s = CheckDataflow(m, ctx, err)) != KILN_OK) return s;
  if ((s = CheckPlan(m, ctx, err)) != KILN_OK) return s;
  for (uint32_t h = 0; h < ctx->num_heads; ++h) {
    if ((s = DecodeHead(m, ctx, h, err)) != KILN_OK) return s;
  }
  return VerifyPreprocess(ctx, err);
}

}  // namespace rt
}  // namespace kiln
