// kiln_invoke_parallel: items split into contiguous ranges, one per context,
// run through the caller's parallel-for. Each item is computed by the same
// code whatever range it falls in, so the bytes never depend on the number
// of contexts or threads.
#include "runtime/src/internal.h"

using namespace kiln::rt;

namespace {

struct ParallelJob {
  kiln_context* const* contexts;
  int32_t num_contexts;
  size_t n;
  const void* const* inputs;
  void* const* outputs;
  kiln_decision* decisions;
  int32_t status;  // first failure (never expected after validation)
};

// Items [start, start + count) of range `task`: the first n % T ranges get
// one item more.
void RangeOf(size_t n, int32_t tasks, int32_t task, size_t* start,
             size_t* count) {
  const size_t t = static_cast<size_t>(tasks), i = static_cast<size_t>(task);
  const size_t base = n / t, extra = n % t;
  *start = i * base + (i < extra ? i : extra);
  *count = base + (i < extra ? 1 : 0);
}

void RunRange(void* job_ptr, int32_t task) {
  ParallelJob* job = static_cast<ParallelJob*>(job_ptr);
  if (task < 0 || task >= job->num_contexts) return;
  size_t start = 0, count = 0;
  RangeOf(job->n, job->num_contexts, task, &start, &count);
  if (count == 0) return;
  kiln_context* ctx = job->contexts[task];
  const void* inputs[kMaxGraphInputs];
  void* outputs[kMaxGraphOutputs];
  for (uint32_t i = 0; i < ctx->num_inputs; ++i) {
    inputs[i] = static_cast<const uint8_t*>(job->inputs[i]) +
                start * ctx->tensors[ctx->inputs[i]].item_bytes;
  }
  for (uint32_t j = 0; j < ctx->num_outputs; ++j) {
    void* out = job->outputs != nullptr ? job->outputs[j] : nullptr;
    outputs[j] = out == nullptr
                     ? nullptr
                     : static_cast<uint8_t*>(out) +
                           start * ctx->tensors[ctx->outputs[j]].item_bytes;
  }
  kiln_decision* decisions = job->decisions != nullptr
                                 ? job->decisions + start * ctx->num_heads
                                 : nullptr;
  const kiln_status s = kiln_invoke(ctx, count, inputs, outputs, decisions);
  // Some failure is recorded (which one, if several, does not matter). A
  // plain atomic store: no compare-and-swap, which AArch64 GCC would turn
  // into a libgcc call outside libc.
  if (s != KILN_OK)
    __atomic_store_n(&job->status, int32_t(s), __ATOMIC_RELAXED);
}

}  // namespace

extern "C" kiln_status kiln_invoke_parallel(
    kiln_context* const* contexts, int32_t num_contexts, size_t n,
    const void* const* inputs, void* const* outputs, kiln_decision* decisions,
    kiln_parallel_for_fn parallel_for, void* user) {
  if (contexts == nullptr || num_contexts < 1) {
    return KILN_ERR_INVALID_ARGUMENT;
  }
  const kiln_context* first = contexts[0];
  for (int32_t i = 0; i < num_contexts; ++i) {
    const kiln_context* c = contexts[i];
    if (c == nullptr || c->magic != kContextMagic || c->model != first->model) {
      return KILN_ERR_INVALID_ARGUMENT;
    }
    // Two ranges on one context would share its activations.
    for (int32_t j = 0; j < i; ++j) {
      if (contexts[j] == c) return KILN_ERR_INVALID_ARGUMENT;
    }
  }
  if (n == 0) return KILN_OK;
  if (inputs == nullptr) return KILN_ERR_INVALID_ARGUMENT;
  for (uint32_t i = 0; i < first->num_inputs; ++i) {
    if (inputs[i] == nullptr) return KILN_ERR_INVALID_ARGUMENT;
  }
  ParallelJob job{contexts, num_contexts, n,      inputs,
                  outputs,  decisions,    KILN_OK};
  if (parallel_for == nullptr || num_contexts == 1) {
    for (int32_t t = 0; t < num_contexts; ++t) RunRange(&job, t);
  } else {
    parallel_for(user, num_contexts, RunRange, &job);
  }
  return static_cast<kiln_status>(
      __atomic_load_n(&job.status, __ATOMIC_RELAXED));
}
