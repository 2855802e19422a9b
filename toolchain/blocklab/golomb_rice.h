// The adaptive Golomb-Rice code of block_coder.h: one k rule shared by the
// bit estimator (the search's hot loop), the bit writer and the reader, so
// that an estimate is exactly the number of bits the encoder writes.
#ifndef KILN_TOOLCHAIN_BLOCKLAB_GOLOMB_RICE_H_
#define KILN_TOOLCHAIN_BLOCKLAB_GOLOMB_RICE_H_

#include <stddef.h>
#include <stdint.h>

#include <vector>

#include "toolchain/blocklab/block_coder.h"

namespace kiln {
namespace blocklab {

// Residual e (int8) <-> code value m in 0..255 (0, -1, 1, -2, ... -> 0..).
inline int ZigZag(int e) { return e >= 0 ? 2 * e : -2 * e - 1; }
inline int UnZigZag(int m) { return (m & 1) ? -((m + 1) >> 1) : m >> 1; }

// The adaptive state, reset at every block start.
struct GolombState {
  uint32_t sum = kGolombInitSum;
  uint32_t n = 1;
  // The smallest k in 0..7 with (n << k) >= sum; 7 when none is.
  int K() const {
    int k = 0;
    while (k < 7 && (n << k) < sum) ++k;
    return k;
  }
  void Update(int m) {
    sum += static_cast<uint32_t>(m);
    if (++n == kGolombResetCount) {
      sum >>= 1;
      n >>= 1;
    }
  }
};

// Bits of code value m under parameter k: q ones, a zero and k bits, or the
// escape (kGolombEscape ones, then m in 8 bits).
inline uint32_t GolombCodeBits(int m, int k) {
  const int q = m >> k;
  return q < kGolombEscape ? static_cast<uint32_t>(q + 1 + k)
                           : static_cast<uint32_t>(kGolombEscape + 8);
}

// Scalar estimate of a sequence of code values (fresh state).
uint32_t EstimateGolombBits(const uint8_t* m, int count);

// The same estimate for kGolombLanes sequences at once (the search's hot
// loop): sequence l's t-th value is lanes[offsets[t] + l], values as int16
// in 0..255. count <= 3 * 64. bits[l] = that sequence's estimate.
constexpr int kGolombLanes = 16;
void EstimateGolombBitsLanes(const int16_t* lanes, const uint16_t* offsets,
                             int count, uint16_t bits[kGolombLanes]);

// MSB-first bit packing into a byte vector.
class BitWriter {
 public:
  explicit BitWriter(std::vector<uint8_t>* out) : out_(out) {}
  // The low `count` (<= 32) bits of `value`, most significant first.
  void Put(uint32_t value, int count);
  // Pads the last byte with zero bits.
  void Flush();
  uint64_t bits_written() const { return bits_; }

 private:
  std::vector<uint8_t>* out_;
  uint64_t acc_ = 0;
  int pending_ = 0;  // bits in acc_ not yet in out_
  uint64_t bits_ = 0;
};

// Reads what BitWriter wrote; never reads past `size` bytes. A read past
// the end fails and leaves the reader failed.
class BitReader {
 public:
  BitReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool Get(int count, uint32_t* value);  // count <= 32
  uint64_t position() const { return pos_; }
  uint64_t size_bits() const { return static_cast<uint64_t>(size_) * 8; }

 private:
  const uint8_t* data_;
  size_t size_;
  uint64_t pos_ = 0;  // in bits
};

// Writes m (0..255) with the state's k and updates the state.
void WriteGolomb(BitWriter* writer, GolombState* state, int m);
// Reads one value; false on truncation or a code the writer never emits
// (a value above 255, or an escape whose value had a regular code).
bool ReadGolomb(BitReader* reader, GolombState* state, int* m);

}  // namespace blocklab
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_BLOCKLAB_GOLOMB_RICE_H_
