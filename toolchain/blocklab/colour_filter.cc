#include "toolchain/blocklab/colour_filter.h"

namespace kiln {
namespace blocklab {

const uint8_t kPermutationSources[kPermutations][3] = {
    {0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};

void ForwardFilter(int code, const int8_t residual[3], int8_t out[3]) {
  const uint8_t* src = kPermutationSources[FilterPerm(code)];
  const int c0 = residual[src[0]];
  const int c1 = residual[src[1]];
  const int c2 = residual[src[2]];
  out[0] = static_cast<int8_t>(c0);
  out[1] = static_cast<int8_t>(c1 - PrimaryTerm(FilterPrimary(code), c0));
  out[2] =
      static_cast<int8_t>(c2 - SecondaryTerm(FilterSecondary(code), c0, c1));
}

void InverseFilter(int code, const int8_t filtered[3], int8_t residual[3]) {
  const uint8_t* src = kPermutationSources[FilterPerm(code)];
  // c0 passes through; c1 needs only c0; c2 needs c0 and the restored c1.
  const int c0 = filtered[0];
  const int c1 =
      static_cast<int8_t>(filtered[1] + PrimaryTerm(FilterPrimary(code), c0));
  const int c2 = static_cast<int8_t>(
      filtered[2] + SecondaryTerm(FilterSecondary(code), c0, c1));
  residual[src[0]] = static_cast<int8_t>(c0);
  residual[src[1]] = static_cast<int8_t>(c1);
  residual[src[2]] = static_cast<int8_t>(c2);
}
namespace {

// The block loops are instantiated per (primary, secondary) so that the
// term selection leaves the pixel loop: these run 768 times per block in
// the energy pruning and the heuristics.
template <int kPrimary, int kSecondary>
void FilterBlockT(const uint8_t* src, const int8_t residual[3][64],
                  int8_t filtered[3][64]) {
  const int8_t* r0 = residual[src[0]];
  const int8_t* r1 = residual[src[1]];
  const int8_t* r2 = residual[src[2]];
  for (int pos = 0; pos < 64; ++pos) {
    const int c0 = r0[pos], c1 = r1[pos], c2 = r2[pos];
    filtered[0][pos] = static_cast<int8_t>(c0);
    filtered[1][pos] = static_cast<int8_t>(c1 - PrimaryTerm(kPrimary, c0));
    filtered[2][pos] =
        static_cast<int8_t>(c2 - SecondaryTerm(kSecondary, c0, c1));
  }
}

template <int kPrimary, int kSecondary>
void InverseFilterBlockT(const uint8_t* src, const int8_t filtered[3][64],
                         int8_t residual[3][64]) {
  int8_t* r0 = residual[src[0]];
  int8_t* r1 = residual[src[1]];
  int8_t* r2 = residual[src[2]];
  for (int pos = 0; pos < 64; ++pos) {
    const int c0 = filtered[0][pos];
    const int c1 =
        static_cast<int8_t>(filtered[1][pos] + PrimaryTerm(kPrimary, c0));
    r0[pos] = static_cast<int8_t>(c0);
    r1[pos] = static_cast<int8_t>(c1);
    r2[pos] = static_cast<int8_t>(filtered[2][pos] +
                                  SecondaryTerm(kSecondary, c0, c1));
  }
}

using BlockFn = void (*)(const uint8_t*, const int8_t[3][64], int8_t[3][64]);

#define KILN_FILTER_ROW(T, p) T<p, 0>, T<p, 1>, T<p, 2>, T<p, 3>
#define KILN_FILTER_TABLE(T)                                             \
  {                                                                      \
    KILN_FILTER_ROW(T, 0), KILN_FILTER_ROW(T, 1), KILN_FILTER_ROW(T, 2), \
        KILN_FILTER_ROW(T, 3)                                            \
  }
// Indexed by code & 15 (primary << 2 | secondary).
const BlockFn kForward[16] = KILN_FILTER_TABLE(FilterBlockT);
const BlockFn kInverse[16] = KILN_FILTER_TABLE(InverseFilterBlockT);
#undef KILN_FILTER_TABLE
#undef KILN_FILTER_ROW

}  // namespace

void FilterBlock(const int8_t residual[3][64], int code,
                 int8_t filtered[3][64]) {
  kForward[code & 15](kPermutationSources[FilterPerm(code)], residual,
                      filtered);
}

void InverseFilterBlock(const int8_t filtered[3][64], int code,
                        int8_t residual[3][64]) {
  kInverse[code & 15](kPermutationSources[FilterPerm(code)], filtered,
                      residual);
}

}  // namespace blocklab
}  // namespace kiln
