#include "toolchain/blocklab/golomb_rice.h"

#include <string.h>

namespace kiln {
namespace blocklab {

uint32_t EstimateGolombBits(const uint8_t* m, int count) {
  GolombState state;
  uint32_t bits = 0;
  for (int t = 0; t < count; ++t) {
    bits += GolombCodeBits(m[t], state.K());
    state.Update(m[t]);
  }
  return bits;
}

namespace {

// Why this shape: the adaptive sum and n evolve from the values alone (not
// from k), and n is the same for every lane, so all lanes share one loop
// with no per-lane branches. Per lane, with s1 = sum - 1:
//   (n << j) < sum  <=>  (s1 >> j) >= n  (arithmetic shift; sum may be 0),
// and k = the number of j in 0..6 for which that holds (the condition is
// monotone in j). q = m >> k is computed as (m * (256 >> k)) >> 8 because
// SSE2 has no per-lane 16-bit shift; m * 256 >> k <= 65280 fits uint16.
// Ranges: sum <= 8160 + 4 and bits <= 192 * 32 fit int16.
//
// V is a GCC/Clang generic vector of int16 (U: the same of uint16): 8 lanes
// for the portable build (one SSE2 or NEON register; a wider type would be
// lowered lane by lane there), 16 lanes in the AVX2 clone below.
template <typename V, typename U>
__attribute__((always_inline)) inline void EstimateLanes(
    const int16_t* lanes, const uint16_t* offsets, int count,
    uint16_t bits[kGolombLanes]) {
  constexpr int kWidth = sizeof(V) / sizeof(int16_t);
  constexpr int kParts = kGolombLanes / kWidth;
  V sum[kParts], total[kParts];
  for (int h = 0; h < kParts; ++h) {
    sum[h] = V{} + static_cast<int16_t>(kGolombInitSum);
    total[h] = V{};
  }
  V n_minus_1 = {};  // n - 1, n = 1 at the start
  int n = 1;
  for (int t = 0; t < count; ++t) {
    for (int h = 0; h < kParts; ++h) {
      V m;
      memcpy(&m, lanes + offsets[t] + kWidth * h, sizeof(m));
      const V s1 = sum[h] - 1;
      const V c0 = s1 > n_minus_1;
      const V c1 = (s1 >> 1) > n_minus_1;
      const V c2 = (s1 >> 2) > n_minus_1;
      const V c3 = (s1 >> 3) > n_minus_1;
      const V c4 = (s1 >> 4) > n_minus_1;
      const V c5 = (s1 >> 5) > n_minus_1;
      const V c6 = (s1 >> 6) > n_minus_1;
      // Masks are -1 where true: minus_k = -k, pow = 256 >> k.
      const V minus_k = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + c6);
      const V pow = 256 - (((c0 & 128) + (c1 & 64)) + ((c2 & 32) + (c3 & 16)) +
                           ((c4 & 8) + (c5 & 4)) + (c6 & 2));
      const V q = (V)(((U)m * (U)pow) >> 8);
      const V regular = q + 1 - minus_k;
      const V escape = q > (kGolombEscape - 1);
      total[h] += (regular & ~escape) | ((kGolombEscape + 8) & escape);
      sum[h] += m;
    }
    n_minus_1 += 1;
    if (++n == kGolombResetCount) {
      n >>= 1;
      n_minus_1 = V{} + static_cast<int16_t>(n - 1);
      for (int h = 0; h < kParts; ++h) sum[h] >>= 1;
    }
  }
  for (int h = 0; h < kParts; ++h) {
    int16_t out[kWidth];
    memcpy(out, &total[h], sizeof(out));
    for (int l = 0; l < kWidth; ++l) {
      bits[h * kWidth + l] = static_cast<uint16_t>(out[l]);
    }
  }
}

typedef int16_t I16x8 __attribute__((vector_size(16)));
typedef uint16_t U16x8 __attribute__((vector_size(16)));

void EstimateLanesPortable(const int16_t* lanes, const uint16_t* offsets,
                           int count, uint16_t bits[kGolombLanes]) {
  EstimateLanes<I16x8, U16x8>(lanes, offsets, count, bits);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define KILN_BLOCKLAB_AVX2_CLONE 1
// The same loop on 256-bit registers where the CPU has AVX2 (chosen at run
// time; results are bit-identical by construction: integer lane ops).
typedef int16_t I16x16 __attribute__((vector_size(32)));
typedef uint16_t U16x16 __attribute__((vector_size(32)));

__attribute__((target("avx2"))) void EstimateLanesAvx2(
    const int16_t* lanes, const uint16_t* offsets, int count,
    uint16_t bits[kGolombLanes]) {
  EstimateLanes<I16x16, U16x16>(lanes, offsets, count, bits);
}
#endif

using EstimateFn = void (*)(const int16_t*, const uint16_t*, int, uint16_t*);

EstimateFn ChooseEstimator() {
#ifdef KILN_BLOCKLAB_AVX2_CLONE
  if (__builtin_cpu_supports("avx2")) return EstimateLanesAvx2;
#endif
  return EstimateLanesPortable;
}

}  // namespace

void EstimateGolombBitsLanes(const int16_t* lanes, const uint16_t* offsets,
                             int count, uint16_t bits[kGolombLanes]) {
  static const EstimateFn estimate = ChooseEstimator();
  estimate(lanes, offsets, count, bits);
}

void BitWriter::Put(uint32_t value, int count) {
  if (count == 0) return;
  acc_ = (acc_ << count) | (value & ((uint64_t{1} << count) - 1));
  pending_ += count;
  bits_ += count;
  while (pending_ >= 8) {
    pending_ -= 8;
    out_->push_back(static_cast<uint8_t>(acc_ >> pending_));
  }
  acc_ &= (uint64_t{1} << pending_) - 1;
}

void BitWriter::Flush() {
  if (pending_ > 0) {
    out_->push_back(static_cast<uint8_t>(acc_ << (8 - pending_)));
    acc_ = 0;
    pending_ = 0;
  }
}

bool BitReader::Get(int count, uint32_t* value) {
  if (pos_ + static_cast<uint64_t>(count) > size_bits()) {
    pos_ = size_bits() + 1;  // stays failed: every later read fails too
    return false;
  }
  uint32_t v = 0;
  for (int i = 0; i < count; ++i) {
    const uint64_t p = pos_ + i;
    v = (v << 1) | ((data_[p >> 3] >> (7 - (p & 7))) & 1u);
  }
  pos_ += count;
  *value = v;
  return true;
}

void WriteGolomb(BitWriter* writer, GolombState* state, int m) {
  const int k = state->K();
  const int q = m >> k;
  if (q < kGolombEscape) {
    // q ones then a zero, then the k low bits.
    writer->Put(((1u << q) - 1) << 1, q + 1);
    writer->Put(static_cast<uint32_t>(m), k);
  } else {
    writer->Put((1u << kGolombEscape) - 1, kGolombEscape);
    writer->Put(static_cast<uint32_t>(m), 8);
  }
  state->Update(m);
}

bool ReadGolomb(BitReader* reader, GolombState* state, int* m) {
  const int k = state->K();
  int q = 0;
  uint32_t bit = 0;
  while (q < kGolombEscape) {
    if (!reader->Get(1, &bit)) return false;
    if (bit == 0) break;
    ++q;
  }
  uint32_t value = 0;
  if (q < kGolombEscape) {
    uint32_t low = 0;
    if (!reader->Get(k, &low)) return false;
    value = (static_cast<uint32_t>(q) << k) | low;
    if (value > 255) return false;
  } else {
    if (!reader->Get(8, &value)) return false;
    if ((value >> k) < kGolombEscape) return false;  // not canonical
  }
  *m = static_cast<int>(value);
  state->Update(*m);
  return true;
}

}  // namespace blocklab
}  // namespace kiln
