// FullyConnected through the GEMM kernel: batch rows in tiles.
#include <string.h>

#include "kernels/driver/drivers.h"
#include "kernels/driver/gemm_rows.h"

namespace kiln {

size_t GemmDriverScratchBytes(int32_t k) {
  return static_cast<size_t>(kGemmTileRows) * GemmRowStride(k) +
         kGemmKernelScratchBytes;
}

void RunFullyConnectedGemm(const KernelTable& table,
                           const FullyConnectedParams& p, const int8_t* input,
                           const PackedGemm& w, int8_t* output,
                           uint8_t* scratch) {
  // The batch rows are the GEMM rows: read in place where possible.
  const int32_t first =
      static_cast<int32_t>(RowsReadableInPlace(table, p.in_features, p.batch));
  if (first > 0) {
    const GemmRows a{first, reinterpret_cast<const uint8_t*>(input),
                     static_cast<size_t>(p.in_features), kGemmFlipToUint8};
    const GemmOutput out{output, static_cast<size_t>(p.out_features),
                         p.output_zero_point, p.clamp};
    table.gemm(a, w, out, driver::KernelScratch(scratch, p.in_features));
  }
  if (first == p.batch) return;
  const size_t stride = GemmRowStride(p.in_features);
  void* kernel_scratch = driver::KernelScratch(scratch, p.in_features);
  // Bytes [in_features, stride) of every row stay zero: cleared once here,
  // never written by the loop below. Only the rows a tile uses are cleared
  // (one row for a batch-1 call).
  const int32_t left = p.batch - first;
  const int32_t used = left < kGemmTileRows ? left : kGemmTileRows;
  for (int32_t r = 0; r < used; ++r) {
    memset(scratch + r * stride + p.in_features, 0, stride - p.in_features);
  }
  for (int32_t m0 = first; m0 < p.batch; m0 += kGemmTileRows) {
    const int32_t rows =
        p.batch - m0 < kGemmTileRows ? p.batch - m0 : kGemmTileRows;
    for (int32_t r = 0; r < rows; ++r) {
      driver::EncodeRow(input + static_cast<size_t>(m0 + r) * p.in_features,
                        p.in_features, table.gemm_input, scratch + r * stride);
    }
    const GemmRows a{rows, scratch, stride};
    const GemmOutput out{output + static_cast<size_t>(m0) * p.out_features,
                         static_cast<size_t>(p.out_features),
                         p.output_zero_point, p.clamp};
    table.gemm(a, w, out, kernel_scratch);
  }
}

}  // namespace kiln
