// Packing of GEMM weights at init (kernels/gemm.h). Runs once per model in
// kiln_init; plain C++ so it is the same on every path.
#include <string.h>

#include "kernels/gemm.h"

namespace kiln {
namespace {

constexpr size_t kAlign = 64;

inline size_t AlignUp(size_t v) { return (v + kAlign - 1) & ~(kAlign - 1); }

struct GemmSizes {
  int32_t k_padded, n_blocks;
  size_t header, weights, per_channel;
};

GemmSizes Sizes(int32_t n, int32_t k) {
  GemmSizes s;
  s.k_padded = (k + kGemmGroupK - 1) / kGemmGroupK * kGemmGroupK;
  s.n_blocks = (n + kGemmBlockN - 1) / kGemmBlockN;
  s.header = AlignUp(sizeof(PackedGemm));
  s.weights = AlignUp(static_cast<size_t>(s.n_blocks) * kGemmBlockN *
                          static_cast<size_t>(s.k_padded) +
                      kGemmWeightsTailBytes);
  s.per_channel =
      AlignUp(static_cast<size_t>(s.n_blocks) * kGemmBlockN * sizeof(int32_t));
  return s;
}

// Wrap-around int32 arithmetic (the accumulator contract of the reference).
inline int32_t Wrap(int64_t v) {
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v)));
}

}  // namespace

size_t PackedGemmBytes(int32_t n, int32_t k) {
  const GemmSizes s = Sizes(n, k);
  return s.header + s.weights + 3 * s.per_channel;
}

const PackedGemm* PackGemm(int32_t n, int32_t k, const int8_t* w,
                           const int32_t* bias, const RequantParams& requant,
                           int32_t input_zero_point, GemmInput input,
                           void* dst) {
  const GemmSizes s = Sizes(n, k);
  uint8_t* base = static_cast<uint8_t*>(dst);
  memset(base, 0, PackedGemmBytes(n, k));
  PackedGemm* h = reinterpret_cast<PackedGemm*>(base);
  int8_t* weights = reinterpret_cast<int8_t*>(base + s.header);
  int32_t* folded = reinterpret_cast<int32_t*>(base + s.header + s.weights);
  int32_t* multiplier = folded + s.per_channel / sizeof(int32_t);
  int32_t* shift = multiplier + s.per_channel / sizeof(int32_t);

  const int32_t groups = s.k_padded / kGemmGroupK;
  const int32_t offset = input == GemmInput::kUint8Offset128 ? 128 : 0;
  for (int32_t o = 0; o < n; ++o) {
    const int32_t block = o / kGemmBlockN, lane = o % kGemmBlockN;
    int32_t sum = 0;
    for (int32_t kk = 0; kk < k; ++kk) {
      const int8_t v = w[static_cast<size_t>(o) * k + kk];
      const size_t at =
          ((static_cast<size_t>(block) * groups + kk / kGemmGroupK) *
               kGemmBlockN +
           lane) *
              kGemmGroupK +
          kk % kGemmGroupK;
      weights[at] = v;
      sum = Wrap(int64_t(sum) + v);
    }
    const int32_t b = bias != nullptr ? bias[o] : 0;
    folded[o] = Wrap(int64_t(b) -
                     int64_t(Wrap(int64_t(input_zero_point + offset) * sum)));
    multiplier[o] = RequantMultiplier(requant, o);
    shift[o] = RequantShift(requant, o);
  }
  h->n = n;
  h->k = k;
  h->k_padded = s.k_padded;
  h->n_blocks = s.n_blocks;
  h->input = input;
  h->weights = weights;
  h->bias = folded;
  h->multiplier = multiplier;
  h->shift = shift;
  return h;
}

}  // namespace kiln
