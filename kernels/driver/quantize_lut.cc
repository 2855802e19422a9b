#include "kernels/driver/quantize_lut.h"

#include "kernels/ref/ref_kernels.h"

namespace kiln {

void BuildQuantizeLut(const QuantizeIntParams& p, bool int8_input,
                      int8_t* table) {
  QuantizeIntParams all = p;
  all.size = kQuantizeLutBytes;
  uint8_t bytes[kQuantizeLutBytes];
  for (int32_t b = 0; b < kQuantizeLutBytes; ++b) {
    bytes[b] = static_cast<uint8_t>(b);
  }
  if (int8_input) {
    ref::QuantizeFromInt8(all, reinterpret_cast<const int8_t*>(bytes), table);
  } else {
    ref::QuantizeFromUint8(all, bytes, table);
  }
}

}  // namespace kiln
