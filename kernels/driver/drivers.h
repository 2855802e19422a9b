// ISA-independent drivers that run Conv2D and FullyConnected through a
// kernel table: they gather input rows (im2col for Conv2D) into tiles of
// kGemmTileRows rows in the GEMM kernel's encoding and hand each tile to the
// table's GEMM kernel; depthwise convolutions go to its depthwise kernel.
#ifndef KILN_KERNELS_DRIVER_DRIVERS_H_
#define KILN_KERNELS_DRIVER_DRIVERS_H_

#include <stddef.h>
#include <stdint.h>

#include "kernels/dispatch.h"

namespace kiln {

// Scratch bytes the GEMM drivers need for reduction length k: one tile of
// rows plus the kernel's own scratch (64-byte aligned pieces).
size_t GemmDriverScratchBytes(int32_t k);

// The reduction length of a Conv2D lowered to GEMM.
inline int32_t ConvGemmK(const Conv2DParams& p) {
  return p.kernel_h * p.kernel_w * (p.in_c / p.groups);
}

// How many of n contiguous rows of k int8 values (stride k) a GEMM can read
// in place (GemmRows::flip). A kernel reads k_padded bytes per row; the
// bytes past k are the first bytes of the following rows (they meet zero
// weights), so the last rows, whose padding would lie past the tensor, are
// left to the copying path: none when k is a multiple of 4, otherwise
// ceil((k_padded - k) / k) of them. 0 when the table's kernel needs copied
// rows.
inline int64_t RowsReadableInPlace(const KernelTable& table, int32_t k,
                                   int64_t n) {
  if (!table.gemm_reads_raw_rows) return 0;
  const int32_t pad = (kGemmGroupK - k % kGemmGroupK) % kGemmGroupK;
  const int64_t tail = (pad + k - 1) / k;
  return n > tail ? n - tail : 0;
}

// True if this Conv2D runs as a GEMM (groups == 1).
inline bool ConvIsGemm(const Conv2DParams& p) { return p.groups == 1; }

// True if this Conv2D is depthwise with one output channel per input.
inline bool ConvIsDepthwise(const Conv2DParams& p) {
  return p.groups > 1 && p.groups == p.in_c && p.groups == p.out_c;
}

// FullyConnected for p.batch rows; `scratch` is 64-byte aligned and
// GemmDriverScratchBytes(p.in_features) long.
void RunFullyConnectedGemm(const KernelTable& table,
                           const FullyConnectedParams& p, const int8_t* input,
                           const PackedGemm& w, int8_t* output,
                           uint8_t* scratch);

// Conv2D with groups == 1 for p.batch items; scratch as above for
// ConvGemmK(p).
void RunConv2DGemm(const KernelTable& table, const Conv2DParams& p,
                   const int8_t* input, const PackedGemm& w, int8_t* output,
                   uint8_t* scratch);

}  // namespace kiln

#endif  // KILN_KERNELS_DRIVER_DRIVERS_H_
