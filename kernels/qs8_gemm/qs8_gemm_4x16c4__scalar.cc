// Portable C twin of the SIMD GEMM kernels (contract: kernels/gemm.h): the
// same packed layout and loop structure (a tile of up to 4 rows x one
// 16-channel block, k in groups of 4), plain integer arithmetic. It reads
// int8 rows (GemmInput::kInt8), so the packed bias holds
// bias - x_zp * sum(w). Accumulation is done in uint32, which is the
// reference's wrap-around int32 addition without undefined behaviour.
#include <stddef.h>
#include <stdint.h>

#include "kernels/requant.h"
#include "kernels/ukernels.h"

namespace kiln {
namespace {

constexpr int32_t kTileRows = 4;

}  // namespace

void qs8_gemm__scalar(const GemmRows& a, const PackedGemm& w,
                      const GemmOutput& out, void* kernel_scratch) {
  (void)kernel_scratch;
  const int32_t groups = w.k_padded / kGemmGroupK;
  const size_t block_bytes = static_cast<size_t>(w.k_padded) * kGemmBlockN;
  for (int32_t b = 0; b < w.n_blocks; ++b) {
    const int8_t* wb = w.weights + static_cast<size_t>(b) * block_bytes;
    const int32_t c0 = b * kGemmBlockN;
    const int32_t valid = w.n - c0 < kGemmBlockN ? w.n - c0 : kGemmBlockN;
    for (int32_t m0 = 0; m0 < a.rows; m0 += kTileRows) {
      const int32_t mr = a.rows - m0 < kTileRows ? a.rows - m0 : kTileRows;
      const int8_t* row[kTileRows];
      uint32_t acc[kTileRows][kGemmBlockN];
      for (int32_t r = 0; r < kTileRows; ++r) {
        // Rows past the end alias the last valid row (computed, not stored).
        const int32_t m = m0 + (r < mr ? r : mr - 1);
        row[r] = reinterpret_cast<const int8_t*>(a.data) +
                 static_cast<size_t>(m) * a.stride;
        for (int32_t j = 0; j < kGemmBlockN; ++j) {
          acc[r][j] = static_cast<uint32_t>(w.bias[c0 + j]);
        }
      }
      const int8_t* wg = wb;
      for (int32_t g = 0; g < groups; ++g, wg += kGemmBlockN * kGemmGroupK) {
        for (int32_t r = 0; r < kTileRows; ++r) {
          const int8_t* x = row[r] + kGemmGroupK * g;
          for (int32_t j = 0; j < kGemmBlockN; ++j) {
            const int8_t* wj = wg + j * kGemmGroupK;
            // |x * w| <= 2^14, so the int32 dot of 4 never overflows.
            acc[r][j] += static_cast<uint32_t>(x[0] * wj[0] + x[1] * wj[1] +
                                               x[2] * wj[2] + x[3] * wj[3]);
          }
        }
      }
      for (int32_t r = 0; r < mr; ++r) {
        int8_t* dst = out.data + static_cast<size_t>(m0 + r) * out.stride + c0;
        for (int32_t j = 0; j < valid; ++j) {
          dst[j] = static_cast<int8_t>(Requantize(
              static_cast<int32_t>(acc[r][j]), w.multiplier[c0 + j],
              w.shift[c0 + j], out.zero_point, out.clamp.min, out.clamp.max));
        }
      }
    }
  }
}

}  // namespace kiln
