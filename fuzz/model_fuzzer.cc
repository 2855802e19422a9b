// Model bytes -> kiln_arena_size -> kiln_init -> kiln_invoke with decisions.
// Whatever the bytes, the runtime must return an error code or run cleanly:
// no crash, no out-of-bounds access, no undefined behaviour (run with
// ASan+UBSan). Seeds: fuzz/corpus/kiln_fuzz_model (valid reference models).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/kiln.h"

namespace {

constexpr size_t kMaxArena = size_t(32) << 20;  // keep each run fast
constexpr size_t kItems = 3;                    // > max_batch forces chunks

void* AlignedCopy(const uint8_t* data, size_t size) {
  void* p = aligned_alloc(64, (size + 63) / 64 * 64);
  if (p != nullptr && size != 0) memcpy(p, data, size);
  return p;
}

void RunModel(kiln_context* ctx, uint8_t fill) {
  void* inputs[16] = {};
  void* outputs[16] = {};
  const int32_t n_in = kiln_num_inputs(ctx), n_out = kiln_num_outputs(ctx);
  for (int32_t i = 0; i < n_in; ++i) {
    kiln_tensor_info info;
    kiln_get_input_info(ctx, i, &info);
    inputs[i] = malloc(kItems * info.item_bytes);
    // Patterned bytes: for float inputs these include NaN and infinities.
    for (size_t b = 0; b < kItems * info.item_bytes; ++b) {
      static_cast<uint8_t*>(inputs[i])[b] = static_cast<uint8_t>(fill + b * 37);
    }
  }
  for (int32_t i = 0; i < n_out; ++i) {
    kiln_tensor_info info;
    kiln_get_output_info(ctx, i, &info);
    outputs[i] = malloc(kItems * info.item_bytes);
  }
  kiln_decision* decisions = static_cast<kiln_decision*>(
      calloc(kItems * (kiln_num_heads(ctx) + 1), sizeof(kiln_decision)));
  if (kiln_invoke(ctx, kItems, inputs, outputs, decisions) != KILN_OK) abort();
  for (int32_t h = 0; h < kiln_num_heads(ctx); ++h) {
    for (size_t item = 0; item < kItems; ++item) {
      const kiln_decision& d = decisions[item * kiln_num_heads(ctx) + h];
      if (d.k < 1 || d.k > KILN_MAX_TOP_K || (d.fallback & ~1)) abort();
    }
  }
  free(decisions);
  for (int32_t i = 0; i < n_in; ++i) free(inputs[i]);
  for (int32_t i = 0; i < n_out; ++i) free(outputs[i]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  void* model = AlignedCopy(data, size);
  if (model == nullptr) return 0;
  size_t need = 0;
  kiln_error err;
  if (kiln_arena_size(model, size, 2, &need, &err) == KILN_OK &&
      need <= kMaxArena) {
    void* arena = aligned_alloc(64, (need + 63) / 64 * 64);
    kiln_context* ctx = nullptr;
    if (kiln_init(model, size, arena, need, &ctx, &err) == KILN_OK) {
      RunModel(ctx, size != 0 ? data[size / 2] : 0);
    } else if (ctx != nullptr || err.message[0] == '\0') {
      abort();  // a failed init must report why and return no context
    }
    free(arena);
  }
  free(model);
  return 0;
}
