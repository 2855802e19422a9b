// The prepacked INT8 GEMM shared by FullyConnected and Conv2D (1x1 directly,
// other groups == 1 convolutions through im2col), and the contract every
// per-ISA GEMM kernel implements (docs/runtime.md, "Kernel paths"):
//
//   out[m][n] = clamp(Requantize(bias[n] + sum_k (x[m][k] - x_zp) * w[n][k]))
//
// bit for bit as kernels/ref/fully_connected.cc computes it. The input zero
// point is folded into the packed bias at init:
//   sum_k (x - x_zp) w = sum_k (x + offset) w - (x_zp + offset) sum_k w
// where `offset` is the input encoding's offset (128 for the unsigned rows the
// x86 dot-product instructions take, 0 for signed rows). All sums are int32
// with wrap-around, so the result does not depend on summation order.
#ifndef KILN_KERNELS_GEMM_H_
#define KILN_KERNELS_GEMM_H_

#include <stddef.h>
#include <stdint.h>

#include "kernels/params.h"

namespace kiln {

// Packed weight layout: output channels in blocks of kGemmBlockN, reduction
// in groups of kGemmGroupK; for block b, group g, channel j, lane i:
//   weights[((b * (k_padded / 4) + g) * 16 + j) * 4 + i] = w[16b + j][4g + i]
// zero where 16b + j >= n or 4g + i >= k. One group of one block is 64 bytes:
// one zmm for vpdpbusd, two ymm, four NEON q registers, one AMX B-tile row.
constexpr int32_t kGemmBlockN = 16;
constexpr int32_t kGemmGroupK = 4;
// Readable (zero) bytes after the packed weights, so a kernel may load a whole
// 16-row AMX B tile at the last block even when k_padded / 4 < 16.
constexpr int32_t kGemmWeightsTailBytes = 16 * 64;

// Encoding of the input rows a kernel reads.
enum class GemmInput : int32_t {
  kUint8Offset128 = 0,  // byte = x + 128 (x ^ 0x80) as uint8
  kInt8 = 1,            // byte = x as int8
};

struct PackedGemm {
  int32_t n;                  // output channels
  int32_t k;                  // reduction length
  int32_t k_padded;           // k rounded up to kGemmGroupK
  int32_t n_blocks;           // ceil(n / kGemmBlockN)
  GemmInput input;            // the encoding the bias was folded for
  const int8_t* weights;      // layout above, then kGemmWeightsTailBytes
  const int32_t* bias;        // [n_blocks * 16]: folded, 0 in padding
  const int32_t* multiplier;  // [n_blocks * 16]: per channel (expanded)
  const int32_t* shift;       // [n_blocks * 16]: per channel (expanded)
};

// Bytes PackGemm writes for (n, k), including the PackedGemm header; a
// multiple of 64. Independent of the ISA, so arena sizes are too.
size_t PackedGemmBytes(int32_t n, int32_t k);

// Packs row-major w[n][k] (the model's OHWI filter flattened), bias (may be
// null) and requantization into `dst` (64-byte aligned, PackedGemmBytes
// long) and returns the header, which lives at the start of dst.
const PackedGemm* PackGemm(int32_t n, int32_t k, const int8_t* w,
                           const int32_t* bias, const RequantParams& requant,
                           int32_t input_zero_point, GemmInput input,
                           void* dst);

// Input rows handed to a GEMM kernel: `rows` rows of `stride` bytes in the
// packed encoding, bytes [k, stride) zero. stride is a multiple of 64 and at
// least k_padded. The buffer holds round_up(rows, 16) rows so that a kernel
// may read (never use) whole 16-row tiles.
//
// Raw rows (flip != 0, only for tables with gemm_reads_raw_rows): the rows
// are the int8 input values themselves, read in place (a pointwise
// convolution's input pixels, a FullyConnected's batch), so no copy is made.
// Then a kernel reads exactly k_padded bytes of each of the `rows` rows and
// nothing else (bytes past k meet zero weights, so whatever they hold adds
// nothing; the caller guarantees they are readable), stride is any value
// >= k, and the kernel XORs every 4-byte group it reads with `flip`
// (0x80808080) to obtain its encoding (x ^ 0x80 == x + 128 as uint8).
struct GemmRows {
  int32_t rows;
  const uint8_t* data;
  size_t stride;
  uint32_t flip = 0;
};

// The flip that turns raw int8 rows into the uint8-offset-128 encoding.
constexpr uint32_t kGemmFlipToUint8 = 0x80808080u;

struct GemmOutput {
  int8_t* data;  // row m at data + m * stride
  size_t stride;
  int32_t zero_point;
  ClampParams clamp;
};

// Per-call scratch a kernel may use freely (AMX accumulator tiles).
constexpr size_t kGemmKernelScratchBytes = 16 * 1024;

// Computes every row of `a` against every output channel of `w`.
typedef void (*GemmKernel)(const GemmRows& a, const PackedGemm& w,
                           const GemmOutput& out, void* kernel_scratch);

// Rows per tile the drivers hand to a kernel (a multiple of 16).
constexpr int32_t kGemmTileRows = 64;

// Row stride of a tile for reduction length k: round_up(k, 64).
inline size_t GemmRowStride(int32_t k) {
  return (static_cast<size_t>(k) + 63) & ~static_cast<size_t>(63);
}

}  // namespace kiln

#endif  // KILN_KERNELS_GEMM_H_
