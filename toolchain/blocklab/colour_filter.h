// The reversible colour filters: inter-channel decorrelation of one pixel's
// three predictor residuals (numerics in block_coder.h). All arithmetic
// wraps mod 256, which is what makes the inverse exact for every input.
#ifndef KILN_TOOLCHAIN_BLOCKLAB_COLOUR_FILTER_H_
#define KILN_TOOLCHAIN_BLOCKLAB_COLOUR_FILTER_H_

#include <stdint.h>

#include "toolchain/blocklab/block_coder.h"

namespace kiln {
namespace blocklab {

// kPermutationSources[perm][i] = the residual channel (0 R, 1 G, 2 B) that
// becomes c_i: the 6 permutations of (0, 1, 2) in lexicographic order.
extern const uint8_t kPermutationSources[kPermutations][3];

// The primary term subtracted from c1 and the secondary term subtracted
// from c2 (c0, c1 are the unfiltered, permuted residuals).
inline int PrimaryTerm(int primary, int c0) {
  switch (primary) {
    case 0:
      return 0;
    case 1:
      return c0;
    case 2:
      return c0 >> 1;
    default:
      return (3 * c0) >> 1;
  }
}
inline int SecondaryTerm(int secondary, int c0, int c1) {
  switch (secondary) {
    case 0:
      return 0;
    case 1:
      return c0;
    case 2:
      return c1;
    default:
      return (c0 + c1) >> 1;
  }
}

// residual[ch] (ch = R, G, B) -> out[i] = c_i' for filter `code` (valid).
void ForwardFilter(int code, const int8_t residual[3], int8_t out[3]);
// The exact inverse: filtered (c0', c1', c2') -> residual[ch].
void InverseFilter(int code, const int8_t filtered[3], int8_t residual[3]);
// The whole block: filtered[i][pos] = c_i' of residual[.][pos].
void FilterBlock(const int8_t residual[3][64], int code,
                 int8_t filtered[3][64]);
// Its exact inverse: residual[ch][pos] from filtered[i][pos].
void InverseFilterBlock(const int8_t filtered[3][64], int code,
                        int8_t residual[3][64]);

}  // namespace blocklab
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_BLOCKLAB_COLOUR_FILTER_H_
