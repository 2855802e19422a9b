// Arena layout and context construction (docs/runtime.md, "Arena"):
//
//   [pad to 64][context][tensors][operators][heads][live ranges]
//   [fixed region][activation region: max_batch * bytes_per_item]
//
// The fixed region holds the plan's fixed bytes, then the weights prepacked
// for the kernel path, then the kernels' scratch (docs/runtime.md).
// Every piece starts on a 64-byte boundary. Nothing outside the arena is
// written, and the model bytes are only read.
#include <string.h>

#include "runtime/src/internal.h"

namespace kiln {
namespace rt {
namespace {

constexpr uint64_t kAlign = KILN_ARENA_ALIGNMENT;

struct Layout {
  size_t tensors, operators, heads, def_op, last_use, header;
};

Layout ComputeLayout(uint32_t tensors, uint32_t operators, uint32_t heads) {
  Layout l;
  l.tensors = AlignUp(sizeof(kiln_context), kAlign);
  l.operators =
      l.tensors + AlignUp(uint64_t(tensors) * sizeof(TensorRt), kAlign);
  l.heads = l.operators + AlignUp(uint64_t(operators) * sizeof(OpRt), kAlign);
  l.def_op = l.heads + AlignUp(uint64_t(heads) * sizeof(HeadRt), kAlign);
  l.last_use = l.def_op + AlignUp(uint64_t(tensors) * sizeof(int32_t), kAlign);
  l.header = l.last_use + AlignUp(uint64_t(tensors) * sizeof(int32_t), kAlign);
  return l;
}

void PointArrays(kiln_context* ctx, const Layout& l) {
  uint8_t* base = reinterpret_cast<uint8_t*>(ctx);
  ctx->tensors = reinterpret_cast<TensorRt*>(base + l.tensors);
  ctx->operators = reinterpret_cast<OpRt*>(base + l.operators);
  ctx->heads = reinterpret_cast<HeadRt*>(base + l.heads);
  ctx->def_op = reinterpret_cast<int32_t*>(base + l.def_op);
  ctx->last_use = reinterpret_cast<int32_t*>(base + l.last_use);
  ctx->header_bytes = l.header;
}

// Finds the 64-aligned start of the arena and how many items fit per step.
kiln_status PlaceInArena(void* arena, size_t arena_len, size_t header,
                         uint64_t fixed_bytes, uint64_t bytes_per_item,
                         uint8_t** base, size_t* max_batch, kiln_error* err) {
  if (arena == nullptr) {
    return SetError(err, KILN_ERR_INVALID_ARGUMENT, "null arena");
  }
  const uintptr_t start = reinterpret_cast<uintptr_t>(arena);
  const uint64_t pad = AlignUp(start, kAlign) - start;
  const uint64_t fixed = AlignUp(fixed_bytes, kAlign);
  const uint64_t need = pad + header + fixed + bytes_per_item;
  if (arena_len < need) {
    return SetError(err, KILN_ERR_ARENA_TOO_SMALL,
                    "arena has %zu bytes, one "
                    "item needs %llu (kiln_arena_size(batch=1) = %llu)",
                    arena_len, static_cast<unsigned long long>(need),
                    static_cast<unsigned long long>(
                        header + fixed + bytes_per_item + kAlign - 1));
  }
  *base = reinterpret_cast<uint8_t*>(start + pad);
  *max_batch = (arena_len - pad - header - fixed) / bytes_per_item;
  return KILN_OK;
}

// Kernels index with int32: batch * elements of any tensor must stay < 2^31.
size_t CapBatch(const kiln_context* ctx, size_t max_batch) {
  int64_t largest = 1;
  for (uint32_t t = 0; t < ctx->num_tensors; ++t) {
    if (ctx->tensors[t].item_elements > largest) {
      largest = ctx->tensors[t].item_elements;
    }
  }
  const size_t cap = static_cast<size_t>(INT32_MAX / largest);
  return max_batch < cap ? max_batch : cap;
}

void PlaceRegions(kiln_context* ctx, size_t max_batch) {
  uint8_t* base = reinterpret_cast<uint8_t*>(ctx);
  ctx->fixed = base + ctx->header_bytes;
  ctx->activations = ctx->fixed + AlignUp(ctx->fixed_bytes, kAlign);
  ctx->max_batch = CapBatch(ctx, max_batch);
}

}  // namespace

size_t HeaderBytes(const ModelCounts& counts) {
  return ComputeLayout(counts.num_tensors, counts.num_operators,
                       counts.num_heads)
      .header;
}

}  // namespace rt
}  // namespace kiln

using namespace kiln::rt;

extern "C" kiln_status kiln_arena_size(const void* model, size_t model_len,
                                       size_t batch, size_t* bytes,
                                       kiln_error* err) {
  if (bytes != nullptr) *bytes = 0;
  if (bytes == nullptr || batch == 0) {
    return SetError(err, KILN_ERR_INVALID_ARGUMENT, "null result or batch 0");
  }
  ModelCounts counts;
  const kiln_status s = CheckStructure(model, model_len, &counts, err);
  if (s != KILN_OK) return s;
  uint64_t activations = 0;
  uint64_t total = HeaderBytes(counts) + AlignUp(counts.fixed_bytes, 64) +
                   KILN_ARENA_ALIGNMENT - 1;
  if (__builtin_mul_overflow(uint64_t(batch), counts.bytes_per_item,
                             &activations) ||
      __builtin_add_overflow(total, activations, &total) || total > SIZE_MAX) {
    return SetError(err, KILN_ERR_OVERFLOW, "arena for batch %zu overflows",
                    batch);
  }
  *bytes = static_cast<size_t>(total);
  return KILN_OK;
}

extern "C" kiln_status kiln_init(const void* model, size_t model_len,
                                 void* arena, size_t arena_len,
                                 kiln_context** ctx, kiln_error* err) {
  if (ctx == nullptr) {
    return SetError(err, KILN_ERR_INVALID_ARGUMENT, "null context pointer");
  }
  *ctx = nullptr;
  ModelCounts counts;
  kiln_status s = CheckStructure(model, model_len, &counts, err);
  if (s != KILN_OK) return s;
  const Layout layout =
      ComputeLayout(counts.num_tensors, counts.num_operators, counts.num_heads);
  uint8_t* base = nullptr;
  size_t max_batch = 0;
  s = PlaceInArena(arena, arena_len, layout.header, counts.fixed_bytes,
                   counts.bytes_per_item, &base, &max_batch, err);
  if (s != KILN_OK) return s;
  kiln_context* c = reinterpret_cast<kiln_context*>(base);
  memset(c, 0, sizeof(*c));
  c->model = static_cast<const uint8_t*>(model);
  c->model_len = model_len;
  c->num_tensors = counts.num_tensors;
  c->num_operators = counts.num_operators;
  c->num_heads = counts.num_heads;
  c->bytes_per_item = counts.bytes_per_item;
  c->fixed_bytes = counts.fixed_bytes;
  c->packed_offset = counts.packed_offset;
  c->scratch_offset = counts.scratch_offset;
  PointArrays(c, layout);
  s = VerifyAndDecode(c, err);
  if (s != KILN_OK) return s;
  PlaceRegions(c, max_batch);
  if ((s = SelectKernels(c, err)) != KILN_OK) return s;
  if ((s = PrepackOperators(c, err)) != KILN_OK) return s;
  c->magic = kContextMagic;
  *ctx = c;
  if (err != nullptr) {
    err->code = KILN_OK;
    err->message[0] = '\0';
  }
  return KILN_OK;
}

extern "C" kiln_status kiln_init_like(const kiln_context* verified, void* arena,
                                      size_t arena_len, kiln_context** ctx,
                                      kiln_error* err) {
  if (ctx == nullptr || verified == nullptr ||
      verified->magic != kContextMagic) {
    return SetError(err, KILN_ERR_INVALID_ARGUMENT,
                    "null or uninitialized context");
  }
  *ctx = nullptr;
  const Layout layout = ComputeLayout(
      verified->num_tensors, verified->num_operators, verified->num_heads);
  uint8_t* base = nullptr;
  size_t max_batch = 0;
  const kiln_status s =
      PlaceInArena(arena, arena_len, layout.header, verified->fixed_bytes,
                   verified->bytes_per_item, &base, &max_batch, err);
  if (s != KILN_OK) return s;
  const uint8_t* from = reinterpret_cast<const uint8_t*>(verified);
  if (base < from + layout.header && from < base + layout.header) {
    return SetError(err, KILN_ERR_INVALID_ARGUMENT,
                    "the new arena overlaps the verified context");
  }
  // The header holds no pointers into itself except the array bases, which
  // PointArrays recomputes; everything else points into the shared model.
  memcpy(base, verified, layout.header);
  kiln_context* c = reinterpret_cast<kiln_context*>(base);
  PointArrays(c, layout);
  PlaceRegions(c, max_batch);
  *ctx = c;
  return KILN_OK;
}
