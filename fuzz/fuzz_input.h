// A tiny reader that turns fuzz bytes into structured choices, like
// libFuzzer's FuzzedDataProvider but a plain header, so that the targets
// also compile with gcc for the replay tests (FuzzedDataProvider.h ships
// with clang only). Once the bytes run out every choice is its minimum:
// short inputs still decode, to the simplest case.
#ifndef KILN_FUZZ_FUZZ_INPUT_H_
#define KILN_FUZZ_FUZZ_INPUT_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <vector>

namespace kiln_fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t remaining() const { return size_ - pos_; }

  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }

  bool Bool() { return (Byte() & 1) != 0; }

  // Uniform-ish in [lo, hi] (modulo bias is irrelevant for fuzzing). Takes
  // only as many bytes as the range needs, so small choices stay cheap.
  int64_t IntIn(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    const uint64_t range = static_cast<uint64_t>(hi - lo);
    uint64_t v = 0;
    for (uint64_t r = range; r != 0; r >>= 8) v = (v << 8) | Byte();
    return lo + static_cast<int64_t>(v % (range + 1));
  }
  int32_t Int32In(int32_t lo, int32_t hi) {
    return static_cast<int32_t>(IntIn(lo, hi));
  }

  // One of `n` options (n >= 1).
  size_t Pick(size_t n) { return static_cast<size_t>(IntIn(0, n - 1)); }

  // A float from four raw bytes: every bit pattern, NaN and infinities too.
  float RawFloat() {
    uint8_t b[4] = {Byte(), Byte(), Byte(), Byte()};
    float f;
    memcpy(&f, b, sizeof(f));
    return f;
  }

  // The next `n` bytes, repeating what is left when the input runs short
  // (zeros when nothing is left).
  std::vector<uint8_t> Bytes(size_t n) {
    std::vector<uint8_t> out(n);
    const size_t rest = remaining();
    for (size_t i = 0; i < n; ++i) {
      out[i] = rest == 0 ? 0 : data_[pos_ + i % rest];
    }
    pos_ += n < rest ? n : rest;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace kiln_fuzz

#endif  // KILN_FUZZ_FUZZ_INPUT_H_
