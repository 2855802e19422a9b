// Integer Quantize (uint8 or int8 input) through a 256-entry table built at
// init from the reference kernel itself, so it is exact by construction: the
// input has only 256 possible values.
#ifndef KILN_KERNELS_DRIVER_QUANTIZE_LUT_H_
#define KILN_KERNELS_DRIVER_QUANTIZE_LUT_H_

#include <stdint.h>

#include "kernels/params.h"

namespace kiln {

constexpr int32_t kQuantizeLutBytes = 256;

// table[b] = the reference output for the input byte b (for int8 inputs, b
// is the value's two's-complement byte).
void BuildQuantizeLut(const QuantizeIntParams& p, bool int8_input,
                      int8_t* table);

inline void QuantizeWithLut(const int8_t* table, const uint8_t* input,
                            int32_t size, int8_t* output) {
  for (int32_t i = 0; i < size; ++i) output[i] = table[input[i]];
}

}  // namespace kiln

#endif  // KILN_KERNELS_DRIVER_QUANTIZE_LUT_H_
