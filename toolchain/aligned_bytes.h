// Model bytes at a 64-byte boundary. The runtime reads int32 data in place
// and requires KILN_MODEL_ALIGNMENT; a std::vector's buffer happens to be
// aligned enough on common allocators, but nothing promises it.
#ifndef KILN_TOOLCHAIN_ALIGNED_BYTES_H_
#define KILN_TOOLCHAIN_ALIGNED_BYTES_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <vector>

namespace kiln {

class AlignedBytes {
 public:
  AlignedBytes() = default;
  explicit AlignedBytes(const std::vector<uint8_t>& bytes) {
    size_ = bytes.size();
    blocks_.resize(size_ / sizeof(Block) + 1);
    if (size_ != 0) memcpy(blocks_.data(), bytes.data(), size_);
  }
  const uint8_t* data() const {
    return reinterpret_cast<const uint8_t*>(blocks_.data());
  }
  size_t size() const { return size_; }

 private:
  struct alignas(64) Block {
    uint8_t b[64];
  };
  std::vector<Block> blocks_;
  size_t size_ = 0;
};

}  // namespace kiln

#endif  // KILN_TOOLCHAIN_ALIGNED_BYTES_H_
