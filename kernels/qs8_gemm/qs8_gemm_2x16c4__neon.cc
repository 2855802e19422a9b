// INT8 GEMM for baseline AArch64 (Armv8.0 Advanced SIMD, no dot product):
// tiles of 2 rows x 16 output channels over the packed layout of
// kernels/gemm.h, rows encoded as int8 (GemmInput::kInt8).
//
// Exactness: every int8 x int8 product is formed on its own by SMULL into
// int16 (|product| <= 2^14 fits), and SADALP adds adjacent int16 products
// pairwise into the int32 accumulators, widening first. Adding two products
// in int16 (SMLAL .8h) is NOT exact: (-128)(-128) + (-128)(-128) = 2^15
// overflows, so it is never done. int32 accumulation wraps like the
// reference, so the summation order does not matter.
//
// One packed group is 16 channels x 4 k = four q registers, q register j
// holding channels 4j..4j+3 with their 4 k values each. The row's 4 values
// of the group are broadcast as a 32-bit lane to all four words; SMULL of
// the low half gives channel 4j's and 4j+1's products, SMULL2 (high half)
// those of 4j+2 and 4j+3, so SADALP leaves per-channel partial sums of k
// pairs in two lanes, folded by one ADDP at the end.
#include <stdint.h>
#include <string.h>

#include "kernels/qs8_gemm/requant_neon.h"
#include "kernels/ukernels.h"

namespace kiln {
namespace {

// Raw accumulators of one row: acc[2j] holds channels 4j, 4j+1 (two lanes
// each), acc[2j+1] channels 4j+2, 4j+3.
struct RowAcc {
  int32x4_t v[8];
};

static inline __attribute__((always_inline)) void MacGroup(
    RowAcc& acc, int8x16_t xb, int8x16_t w0, int8x16_t w1, int8x16_t w2,
    int8x16_t w3) {
  acc.v[0] = vpadalq_s16(acc.v[0], vmull_s8(vget_low_s8(w0), vget_low_s8(xb)));
  acc.v[1] = vpadalq_s16(acc.v[1], vmull_high_s8(w0, xb));
  acc.v[2] = vpadalq_s16(acc.v[2], vmull_s8(vget_low_s8(w1), vget_low_s8(xb)));
  acc.v[3] = vpadalq_s16(acc.v[3], vmull_high_s8(w1, xb));
  acc.v[4] = vpadalq_s16(acc.v[4], vmull_s8(vget_low_s8(w2), vget_low_s8(xb)));
  acc.v[5] = vpadalq_s16(acc.v[5], vmull_high_s8(w2, xb));
  acc.v[6] = vpadalq_s16(acc.v[6], vmull_s8(vget_low_s8(w3), vget_low_s8(xb)));
  acc.v[7] = vpadalq_s16(acc.v[7], vmull_high_s8(w3, xb));
}

// The 4 values of one group of a row, broadcast to all four 32-bit lanes
// (memcpy: the row pointer carries no alignment guarantee).
static inline __attribute__((always_inline)) int8x16_t LoadGroup(
    const int8_t* p) {
  int32_t v;
  memcpy(&v, p, sizeof(v));
  return vreinterpretq_s8_s32(vdupq_n_s32(v));
}

// Bias add, requantization and store of one row of 16 channels.
static inline __attribute__((always_inline)) void StoreRow(
    const RowAcc& acc, const int32_t* bias, const int32_t* multiplier,
    const int32_t* shift, const neon::OutputStage& stage, int8_t* dst,
    int32_t count) {
  // Fold the pairwise partial sums: lanes (c, c, c+1, c+1) -> (c, c+1).
  const int32x4_t s0 =
      neon::WrappingAdd(vpaddq_s32(acc.v[0], acc.v[1]), vld1q_s32(bias));
  const int32x4_t s1 =
      neon::WrappingAdd(vpaddq_s32(acc.v[2], acc.v[3]), vld1q_s32(bias + 4));
  const int32x4_t s2 =
      neon::WrappingAdd(vpaddq_s32(acc.v[4], acc.v[5]), vld1q_s32(bias + 8));
  const int32x4_t s3 =
      neon::WrappingAdd(vpaddq_s32(acc.v[6], acc.v[7]), vld1q_s32(bias + 12));
  neon::StorePartial16(
      dst,
      neon::RequantizePerChannel16(s0, s1, s2, s3, multiplier, shift, stage),
      count);
}

// MR (1 or 2) rows starting at `row` against one block of 16 channels.
template <int MR>
static inline __attribute__((always_inline)) void Tile(
    const uint8_t* row, size_t stride, const int8_t* wb, int32_t groups,
    const int32_t* bias, const int32_t* multiplier, const int32_t* shift,
    const neon::OutputStage& stage, int8_t* dst, size_t dst_stride,
    int32_t count) {
  RowAcc acc0, acc1;
  for (int i = 0; i < 8; ++i) {
    acc0.v[i] = vdupq_n_s32(0);
    acc1.v[i] = vdupq_n_s32(0);
  }
  const int8_t* a0 = reinterpret_cast<const int8_t*>(row);
  const int8_t* a1 = reinterpret_cast<const int8_t*>(row + stride);
  // One group per step: the row's 4 values broadcast by one LD1R each.
  // (Unrolling over four groups with one 16-byte row load made GCC hoist
  // all 16 weight registers next to the 16 accumulators and spill.)
  for (int32_t g = 0; g < groups; ++g) {
    const int8x16_t x0 = LoadGroup(a0 + 4 * g);
    const int8x16_t x1 = MR > 1 ? LoadGroup(a1 + 4 * g) : x0;
    const int8_t* wg = wb + static_cast<size_t>(g) * 64;
    const int8x16_t w0 = vld1q_s8(wg);
    const int8x16_t w1 = vld1q_s8(wg + 16);
    const int8x16_t w2 = vld1q_s8(wg + 32);
    const int8x16_t w3 = vld1q_s8(wg + 48);
    MacGroup(acc0, x0, w0, w1, w2, w3);
    if (MR > 1) MacGroup(acc1, x1, w0, w1, w2, w3);
  }
  StoreRow(acc0, bias, multiplier, shift, stage, dst, count);
  if (MR > 1) {
    StoreRow(acc1, bias, multiplier, shift, stage, dst + dst_stride, count);
  }
}

}  // namespace

void qs8_gemm__neon(const GemmRows& a, const PackedGemm& w,
                    const GemmOutput& out, void* kernel_scratch) {
  (void)kernel_scratch;
  const int32_t groups = w.k_padded / kGemmGroupK;
  const neon::OutputStage stage =
      neon::MakeOutputStage(out.zero_point, out.clamp.min, out.clamp.max);
  // Channel blocks outermost: one block's weights (k_padded * 16 bytes)
  // stay in cache while every row of the tile streams past them.
  for (int32_t b = 0; b < w.n_blocks; ++b) {
    const int32_t n0 = b * kGemmBlockN;
    const int32_t count = w.n - n0 < kGemmBlockN ? w.n - n0 : kGemmBlockN;
    const int8_t* wb = w.weights + static_cast<size_t>(b) * groups * 64;
    const int32_t* bias = w.bias + n0;
    const int32_t* multiplier = w.multiplier + n0;
    const int32_t* shift = w.shift + n0;
    int32_t m = 0;
    for (; m + 2 <= a.rows; m += 2) {
      Tile<2>(a.data + static_cast<size_t>(m) * a.stride, a.stride, wb, groups,
              bias, multiplier, shift, stage,
              out.data + static_cast<size_t>(m) * out.stride + n0, out.stride,
              count);
    }
    if (m < a.rows) {
      Tile<1>(a.data + static_cast<size_t>(m) * a.stride, a.stride, wb, groups,
              bias, multiplier, shift, stage,
              out.data + static_cast<size_t>(m) * out.stride + n0, out.stride,
              count);
    }
  }
}

}  // namespace kiln
