// Helpers for runtime tests: aligned model storage and a context that owns
// its arena (tests may allocate; the runtime never does).
#ifndef KILN_TESTS_RUNTIME_RUNTIME_TEST_UTIL_H_
#define KILN_TESTS_RUNTIME_RUNTIME_TEST_UTIL_H_

#include <stdint.h>
#include <string.h>

#include <memory>
#include <string>
#include <vector>

#include "kiln/kiln.h"

namespace kiln {
namespace testing {

// Bytes at a 64-byte boundary, as a model file read into aligned memory.
class AlignedBytes {
 public:
  AlignedBytes() = default;
  explicit AlignedBytes(const std::vector<uint8_t>& bytes) { Assign(bytes); }
  void Assign(const std::vector<uint8_t>& bytes) {
    size_ = bytes.size();
    storage_.assign(size_ / 64 + 2, Block{});
    if (size_ != 0) memcpy(data(), bytes.data(), size_);
  }
  uint8_t* data() { return reinterpret_cast<uint8_t*>(storage_.data()); }
  const uint8_t* data() const {
    return reinterpret_cast<const uint8_t*>(storage_.data());
  }
  size_t size() const { return size_; }

 private:
  struct alignas(64) Block {
    uint8_t b[64];
  };
  std::vector<Block> storage_;
  size_t size_ = 0;
};

// A verified model with a context sized for `batch` items per step.
struct LoadedModel {
  AlignedBytes model;
  std::vector<uint8_t> arena;
  kiln_context* ctx = nullptr;
  kiln_error error = {KILN_OK, {0}};
  kiln_status status = KILN_OK;

  LoadedModel(const std::vector<uint8_t>& bytes, size_t batch) : model(bytes) {
    size_t need = 0;
    status = kiln_arena_size(model.data(), model.size(), batch, &need, &error);
    if (status != KILN_OK) return;
    arena.resize(need);
    status = kiln_init(model.data(), model.size(), arena.data(), arena.size(),
                       &ctx, &error);
  }
  std::string message() const {
    return std::string(kiln_status_string(status)) + ": " + error.message;
  }
};

}  // namespace testing
}  // namespace kiln

#endif  // KILN_TESTS_RUNTIME_RUNTIME_TEST_UTIL_H_
