// Thin header-only C++ wrapper over the C API (kiln.h). It adds no
// allocation, no exceptions and no library dependency: the caller still owns
// the model bytes and the arena.
//
//   alignas(64) static uint8_t arena[1 << 20];
//   kiln::Session s;
//   if (!s.Init(model, model_len, arena, sizeof(arena))) {
//     fprintf(stderr, "%s\n", s.error().message);
//   }
//   s.Invoke(n, inputs, outputs, decisions);
#ifndef KILN_KILN_HPP_
#define KILN_KILN_HPP_

#include <stddef.h>
#include <stdint.h>

#include "kiln/kiln.h"

namespace kiln {

// Bytes of arena needed to run `batch` items per step; 0 with `error` set
// when the model is invalid.
inline size_t ArenaSize(const void* model, size_t model_len, size_t batch,
                        kiln_error* error = nullptr) {
  size_t bytes = 0;
  kiln_arena_size(model, model_len, batch, &bytes, error);
  return bytes;
}

class Session {
 public:
  Session() = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Verifies the model and builds the context in `arena`.
  bool Init(const void* model, size_t model_len, void* arena,
            size_t arena_len) {
    ctx_ = nullptr;
    return kiln_init(model, model_len, arena, arena_len, &ctx_, &error_) ==
           KILN_OK;
  }

  // A second context for the same model in another arena (another thread).
  bool InitLike(const Session& verified, void* arena, size_t arena_len) {
    ctx_ = nullptr;
    return kiln_init_like(verified.ctx_, arena, arena_len, &ctx_, &error_) ==
           KILN_OK;
  }

  bool ok() const { return ctx_ != nullptr; }
  const kiln_error& error() const { return error_; }
  kiln_context* context() const { return ctx_; }

  kiln_status Invoke(size_t n, const void* const* inputs, void* const* outputs,
                     kiln_decision* decisions = nullptr) {
    return kiln_invoke(ctx_, n, inputs, outputs, decisions);
  }

  // Single-input, single-output convenience.
  kiln_status Invoke(size_t n, const void* input, void* output,
                     kiln_decision* decisions = nullptr) {
    const void* inputs[1] = {input};
    void* outputs[1] = {output};
    return kiln_invoke(ctx_, n, inputs, output != nullptr ? outputs : nullptr,
                       decisions);
  }

  size_t max_batch() const { return kiln_max_batch(ctx_); }
  // The kernel path this session runs ("avx512vnni", ...).
  const char* isa() const { return kiln_isa_name(ctx_); }
  int32_t num_inputs() const { return kiln_num_inputs(ctx_); }
  int32_t num_outputs() const { return kiln_num_outputs(ctx_); }
  int32_t num_heads() const { return kiln_num_heads(ctx_); }

  bool input_info(int32_t i, kiln_tensor_info* info) const {
    return kiln_get_input_info(ctx_, i, info) == KILN_OK;
  }
  bool output_info(int32_t i, kiln_tensor_info* info) const {
    return kiln_get_output_info(ctx_, i, info) == KILN_OK;
  }
  bool head_info(int32_t i, kiln_head_info* info) const {
    return kiln_get_head_info(ctx_, i, info) == KILN_OK;
  }
  const char* head_label(int32_t head, int32_t class_id) const {
    return kiln_head_label(ctx_, head, class_id);
  }

  // Preprocessing (docs/preprocessing.md): one item of graph input 0 from
  // an 8-bit image (channels 1..4 interleaved) or a feature vector.
  bool preprocess_spec(kiln_preprocess_spec* spec) const {
    return kiln_get_preprocess_spec(ctx_, spec) == KILN_OK;
  }
  kiln_status PreprocessImage(const uint8_t* pixels, int32_t height,
                              int32_t width, int32_t channels,
                              void* item) const {
    return kiln_preprocess_image(ctx_, pixels, height, width, channels, item);
  }
  kiln_status PreprocessFeatures(const float* features, size_t count,
                                 void* item) const {
    return kiln_preprocess_features(ctx_, features, count, item);
  }

 private:
  kiln_context* ctx_ = nullptr;
  kiln_error error_ = {KILN_OK, {0}};
};

}  // namespace kiln

#endif  // KILN_KILN_HPP_
