// Compiled on its own with fixed flags (-O2 -fno-tree-vectorize, see
// bench/CMakeLists.txt) and sharing no code with Kiln: changing this file or
// its flags changes every score, so the baseline must be refreshed with it.
#include "bench/latency_gate_reference.h"

namespace kiln {
namespace gate {
namespace {

// A dependent chain of 64-bit multiplies, table loads (L1-resident) and
// shifts: integer work of the kind the runtime does between its vector
// kernels, with a loop-carried dependency so that out-of-order execution
// cannot overlap iterations beyond what the core naturally does.
constexpr int kIterations = 20000;
constexpr int kTableSize = 256;

}  // namespace

uint64_t ReferenceLoop(uint64_t seed) {
  uint32_t table[kTableSize];
  uint64_t x = seed | 1;
  for (int i = 0; i < kTableSize; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    table[i] = static_cast<uint32_t>(x >> 32);
  }
  uint64_t acc = seed;
  for (int i = 0; i < kIterations; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const uint32_t t = table[(x ^ acc) >> 56];
    acc = (acc ^ t) * 0x9e3779b97f4a7c15ull;
    acc ^= acc >> 29;
    table[t & (kTableSize - 1)] ^= static_cast<uint32_t>(acc);
  }
  return acc;
}

}  // namespace gate
}  // namespace kiln
