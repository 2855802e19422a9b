// Conv2D (groups == 1) through the GEMM kernel: output pixels of all items
// in tiles of kGemmTileRows, each pixel's receptive field gathered into one
// row (im2col) in the order of the OHWI filter, [ky][kx][ic]. Padding taps
// hold the input zero point, whose (x - zp) term is 0 as in the reference.
#include <string.h>

#include "kernels/driver/drivers.h"
#include "kernels/driver/gemm_rows.h"

namespace kiln {
namespace {

// Gathers the receptive field of output pixel `pixel` (flattened over
// batch, out_h, out_w) into dst (k bytes).
void GatherPixel(const Conv2DParams& p, const int8_t* input, int64_t pixel,
                 GemmInput enc, uint8_t pad, uint8_t* dst) {
  const int32_t ox = static_cast<int32_t>(pixel % p.out_w);
  const int64_t rest = pixel / p.out_w;
  const int32_t oy = static_cast<int32_t>(rest % p.out_h);
  const int64_t b = rest / p.out_h;
  const int32_t y0 = oy * p.stride_h - p.pad_top;
  const int32_t x0 = ox * p.stride_w - p.pad_left;
  const int32_t row_bytes = p.kernel_w * p.in_c;
  // With dilation 1 and the window inside the row, the kernel_w taps of a
  // kernel row are kernel_w * in_c contiguous input bytes: one copy.
  const bool contiguous =
      p.dilation_w == 1 && x0 >= 0 && x0 + p.kernel_w <= p.in_w;
  for (int32_t ky = 0; ky < p.kernel_h; ++ky, dst += row_bytes) {
    const int32_t y = y0 + ky * p.dilation_h;
    if (y < 0 || y >= p.in_h) {
      memset(dst, pad, static_cast<size_t>(row_bytes));
      continue;
    }
    const int8_t* row =
        input + ((b * p.in_h + y) * p.in_w) * static_cast<int64_t>(p.in_c);
    if (contiguous) {
      driver::EncodeRow(row + static_cast<int64_t>(x0) * p.in_c, row_bytes, enc,
                        dst);
      continue;
    }
    for (int32_t kx = 0; kx < p.kernel_w; ++kx) {
      const int32_t x = x0 + kx * p.dilation_w;
      uint8_t* tap = dst + kx * p.in_c;
      if (x < 0 || x >= p.in_w) {
        memset(tap, pad, static_cast<size_t>(p.in_c));
      } else {
        driver::EncodeRow(row + static_cast<int64_t>(x) * p.in_c, p.in_c, enc,
                          tap);
      }
    }
  }
}

}  // namespace

size_t GemmDriverScratchBytes(int32_t k) {
  return static_cast<size_t>(kGemmTileRows) * GemmRowStride(k) +
         kGemmKernelScratchBytes;
}

void RunConv2DGemm(const KernelTable& table, const Conv2DParams& p,
                   const int8_t* input, const PackedGemm& w, int8_t* output,
                   uint8_t* scratch) {
  const int32_t k = ConvGemmK(p);
  const size_t stride = GemmRowStride(k);
  void* kernel_scratch = driver::KernelScratch(scratch, k);
  const uint8_t pad = driver::EncodeValue(p.input_zero_point, table.gemm_input);
  const int64_t pixels = static_cast<int64_t>(p.batch) * p.out_h * p.out_w;
  // A 1x1 stride-1 unpadded convolution reads each output pixel's input
  // pixel as is: no window arithmetic per row. The output must also be the
  // input's size: bottom/right padding (not in the params; it shows as a
  // larger output) adds output pixels with no input pixel behind them,
  // which were read past the input and shifted every later row.
  const bool pointwise = p.kernel_h == 1 && p.kernel_w == 1 &&
                         p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 &&
                         p.pad_left == 0 && p.out_h == p.in_h &&
                         p.out_w == p.in_w;
  int64_t first = 0;  // first row to copy
  if (pointwise) {
    // Output pixels' rows are their input pixels: read in place, no copy.
    first = RowsReadableInPlace(table, k, pixels);
    if (first > 0) {
      const GemmRows a{static_cast<int32_t>(first),
                       reinterpret_cast<const uint8_t*>(input),
                       static_cast<size_t>(k), kGemmFlipToUint8};
      const GemmOutput out{output, static_cast<size_t>(p.out_c),
                           p.output_zero_point, p.clamp};
      table.gemm(a, w, out, kernel_scratch);
    }
    if (first == pixels) return;
  }
  // Bytes [k, stride) of every row stay zero: cleared once here, never
  // written by the loop below. Only the rows a tile uses are cleared (one
  // row for a batch-1 FullyConnected).
  const int64_t left = pixels - first;
  const int32_t used =
      static_cast<int32_t>(left < kGemmTileRows ? left : kGemmTileRows);
  for (int32_t r = 0; r < used; ++r) {
    memset(scratch + r * stride + k, 0, stride - k);
  }
  for (int64_t m0 = first; m0 < pixels; m0 += kGemmTileRows) {
    const int32_t rows = static_cast<int32_t>(
        pixels - m0 < kGemmTileRows ? pixels - m0 : kGemmTileRows);
    for (int32_t r = 0; r < rows; ++r) {
      uint8_t* dst = scratch + r * stride;
      if (pointwise) {
        driver::EncodeRow(input + (m0 + r) * p.in_c, k, table.gemm_input, dst);
      } else {
        GatherPixel(p, input, m0 + r, table.gemm_input, pad, dst);
      }
    }
    const GemmRows a{rows, scratch, stride};
    const GemmOutput out{output + m0 * p.out_c, static_cast<size_t>(p.out_c),
                         p.output_zero_point, p.clamp};
    table.gemm(a, w, out, kernel_scratch);
  }
}

}  // namespace kiln
