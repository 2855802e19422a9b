// Filling one tile of GEMM input rows in a kernel's encoding (shared by the
// FullyConnected and Conv2D drivers).
#ifndef KILN_KERNELS_DRIVER_GEMM_ROWS_H_
#define KILN_KERNELS_DRIVER_GEMM_ROWS_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/gemm.h"

namespace kiln {
namespace driver {

// Copies n int8 values into the kernel's encoding (x ^ 0x80 is x + 128 as
// uint8 for every int8 x).
inline void EncodeRow(const int8_t* src, int32_t n, GemmInput input,
                      uint8_t* dst) {
  if (input == GemmInput::kInt8) {
    memcpy(dst, src, static_cast<size_t>(n));
    return;
  }
  for (int32_t i = 0; i < n; ++i) {
    dst[i] = static_cast<uint8_t>(src[i]) ^ 0x80u;
  }
}

// The encoded byte of value x.
inline uint8_t EncodeValue(int32_t x, GemmInput input) {
  const uint8_t raw = static_cast<uint8_t>(static_cast<int8_t>(x));
  return input == GemmInput::kInt8 ? raw : static_cast<uint8_t>(raw ^ 0x80u);
}

// Where the kernel's private scratch starts inside a driver scratch block.
inline void* KernelScratch(uint8_t* scratch, int32_t k) {
  return scratch + static_cast<size_t>(kGemmTileRows) * GemmRowStride(k);
}

}  // namespace driver
}  // namespace kiln

#endif  // KILN_KERNELS_DRIVER_GEMM_ROWS_H_
