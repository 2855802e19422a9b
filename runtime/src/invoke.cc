// Invoke: runs the verified graph over a batch in chunks that fit the arena.
// Nothing here can fail or allocate: every size and index was proven by the
// verifier, so the only checks are on the call's own arguments.
#include <string.h>

#include "kernels/driver/drivers.h"
#include "kernels/driver/quantize_lut.h"
#include "kernels/ref/ref_kernels.h"
#include "runtime/src/internal.h"

namespace kiln {
namespace rt {
namespace {

// Address of an activation tensor for a chunk of `batch` items: per-item
// offsets scale with the batch, so the tensor's items are contiguous.
inline uint8_t* Activation(const kiln_context* ctx, uint32_t t, int32_t batch) {
  return ctx->activations + ctx->tensors[t].offset_per_item * batch;
}

template <typename T>
inline T* As(const kiln_context* ctx, uint32_t t, int32_t batch) {
  return reinterpret_cast<T*>(Activation(ctx, t, batch));
}

inline uint8_t* Scratch(const kiln_context* ctx) {
  return ctx->fixed + ctx->scratch_offset;
}

}  // namespace

void RunOperator(const kiln_context* ctx, const OpRt& op, int32_t batch) {
  const uint32_t in = op.inputs[0];
  switch (op.kind) {
    case OpKind::kConv2D: {
      Conv2DParams p = op.p.conv;
      p.batch = batch;
      const int8_t* x = As<int8_t>(ctx, in, batch);
      int8_t* y = As<int8_t>(ctx, op.output, batch);
      if (op.packed == nullptr) {
        ref::Conv2D(p, x, op.filter, op.bias, y);
      } else if (ConvIsGemm(p)) {
        RunConv2DGemm(ctx->kernels, p, x,
                      *static_cast<const PackedGemm*>(op.packed), y,
                      Scratch(ctx));
      } else {
        ctx->kernels.dwconv(p, x, *static_cast<const PackedDw*>(op.packed), y,
                            Scratch(ctx));
      }
      break;
    }
    case OpKind::kFullyConnected: {
      FullyConnectedParams p = op.p.fc;
      p.batch = batch;
      const int8_t* x = As<int8_t>(ctx, in, batch);
      int8_t* y = As<int8_t>(ctx, op.output, batch);
      if (op.packed == nullptr) {
        ref::FullyConnected(p, x, op.filter, op.bias, y);
      } else {
        RunFullyConnectedGemm(ctx->kernels, p, x,
                              *static_cast<const PackedGemm*>(op.packed), y,
                              Scratch(ctx));
      }
      break;
    }
    case OpKind::kAdd: {
      AddParams p = op.p.add;
      p.size *= batch;
      ctx->kernels.add(p, As<int8_t>(ctx, in, batch),
                       As<int8_t>(ctx, op.inputs[1], batch),
                       As<int8_t>(ctx, op.output, batch));
      break;
    }
    case OpKind::kAveragePool2D:
    case OpKind::kMaxPool2D: {
      Pool2DParams p = op.p.pool;
      p.batch = batch;
      const Pool2DKernel pool = op.kind == OpKind::kAveragePool2D
                                    ? ctx->kernels.average_pool
                                    : ctx->kernels.max_pool;
      pool(p, As<int8_t>(ctx, in, batch), As<int8_t>(ctx, op.output, batch));
      break;
    }
    case OpKind::kGlobalAveragePool: {
      GlobalAveragePoolParams p = op.p.gap;
      p.batch = batch;
      ctx->kernels.global_average_pool(p, As<int8_t>(ctx, in, batch),
                                       As<int8_t>(ctx, op.output, batch));
      break;
    }
    case OpKind::kConcat: {
      ConcatParams p = op.p.concat;
      p.outer *= batch;
      const int8_t* inputs[kMaxConcatInputs];
      for (int32_t i = 0; i < op.num_inputs; ++i) {
        inputs[i] = As<int8_t>(ctx, op.inputs[i], batch);
      }
      ref::Concat(p, inputs, As<int8_t>(ctx, op.output, batch));
      break;
    }
    case OpKind::kReshape:
      memcpy(Activation(ctx, op.output, batch), Activation(ctx, in, batch),
             ctx->tensors[in].item_bytes * batch);
      break;
    case OpKind::kSoftmax: {
      SoftmaxParams p = op.p.softmax;
      p.rows *= batch;
      ref::Softmax(p, As<int8_t>(ctx, in, batch),
                   As<int8_t>(ctx, op.output, batch));
      break;
    }
    case OpKind::kLogistic: {
      LogisticParams p = op.p.logistic;
      p.size *= batch;
      ref::Logistic(p, As<int8_t>(ctx, in, batch),
                    As<int8_t>(ctx, op.output, batch));
      break;
    }
    case OpKind::kQuantizeUint8:
    case OpKind::kQuantizeInt8: {
      QuantizeIntParams p = op.p.quantize_int;
      p.size *= batch;
      if (op.packed != nullptr) {
        QuantizeWithLut(static_cast<const int8_t*>(op.packed),
                        As<uint8_t>(ctx, in, batch), p.size,
                        As<int8_t>(ctx, op.output, batch));
      } else if (op.kind == OpKind::kQuantizeUint8) {
        ref::QuantizeFromUint8(p, As<uint8_t>(ctx, in, batch),
                               As<int8_t>(ctx, op.output, batch));
      } else {
        ref::QuantizeFromInt8(p, As<int8_t>(ctx, in, batch),
                              As<int8_t>(ctx, op.output, batch));
      }
      break;
    }
    case OpKind::kQuantizeFloat: {
      QuantizeFloatParams p = op.p.quantize_float;
      p.size *= batch;
      ctx->kernels.quantize_float(p, As<float>(ctx, in, batch),
                                  As<int8_t>(ctx, op.output, batch));
      break;
    }
    case OpKind::kDequantize: {
      DequantizeParams p = op.p.dequantize;
      p.size *= batch;
      ref::Dequantize(p, As<int8_t>(ctx, in, batch),
                      As<float>(ctx, op.output, batch));
      break;
    }
  }
}

}  // namespace rt
}  // namespace kiln

using namespace kiln::rt;

namespace {

// Activation bytes per invoke step (see kiln_invoke) and the fewest items a
// step takes even when one item is larger (per-op overheads amortize).
constexpr uint64_t kCacheStepBytes = 1u << 20;
constexpr size_t kMinStepItems = 16;

}  // namespace

extern "C" kiln_status kiln_invoke(kiln_context* ctx, size_t n,
                                   const void* const* inputs,
                                   void* const* outputs,
                                   kiln_decision* decisions) {
  if (ctx == nullptr || ctx->magic != kContextMagic) {
    return KILN_ERR_INVALID_ARGUMENT;
  }
  if (n == 0) return KILN_OK;
  if (inputs == nullptr) return KILN_ERR_INVALID_ARGUMENT;
  for (uint32_t i = 0; i < ctx->num_inputs; ++i) {
    if (inputs[i] == nullptr) return KILN_ERR_INVALID_ARGUMENT;
  }
  // Steps of at most max_batch items, and not many more than fit in a
  // core's L2 with all their activations: a layer's output is then still in
  // cache when the next layer reads it. The step never changes the bytes.
  size_t step = static_cast<size_t>(kCacheStepBytes / ctx->bytes_per_item);
  if (step < kMinStepItems) step = kMinStepItems;
  if (step > ctx->max_batch) step = ctx->max_batch;
  for (size_t start = 0; start < n; start += step) {
    const size_t remaining = n - start;
    const int32_t batch =
        static_cast<int32_t>(remaining < step ? remaining : step);
    for (uint32_t i = 0; i < ctx->num_inputs; ++i) {
      const TensorRt& t = ctx->tensors[ctx->inputs[i]];
      memcpy(ctx->activations + t.offset_per_item * batch,
             static_cast<const uint8_t*>(inputs[i]) + start * t.item_bytes,
             t.item_bytes * batch);
    }
    for (uint32_t o = 0; o < ctx->num_operators; ++o) {
      RunOperator(ctx, ctx->operators[o], batch);
    }
    for (uint32_t j = 0; outputs != nullptr && j < ctx->num_outputs; ++j) {
      if (outputs[j] == nullptr) continue;
      const TensorRt& t = ctx->tensors[ctx->outputs[j]];
      memcpy(static_cast<uint8_t*>(outputs[j]) + start * t.item_bytes,
             ctx->activations + t.offset_per_item * batch,
             t.item_bytes * batch);
    }
    if (decisions == nullptr) continue;
    for (uint32_t h = 0; h < ctx->num_heads; ++h) {
      const HeadRt& head = ctx->heads[h];
      const int8_t* logits = reinterpret_cast<const int8_t*>(
          ctx->activations + ctx->tensors[head.tensor].offset_per_item * batch);
      for (int32_t item = 0; item < batch; ++item) {
        Decide(head, logits + static_cast<size_t>(item) * head.num_classes,
               &decisions[(start + item) * ctx->num_heads + h]);
      }
    }
  }
  return KILN_OK;
}
