// INT8 GEMM for AArch64 with the dot-product extension (Armv8.2 DotProd,
// SDOT): tiles of 4 rows x 16 output channels over the packed layout of
// kernels/gemm.h, rows encoded as int8 (GemmInput::kInt8). Compiled with
// -march=armv8.2-a+dotprod and only ever called when the CPU reports
// HWCAP_ASIMDDP (kernels/isa.cc).
//
// One packed group (16 channels x 4 k, 64 bytes) is four q registers, q
// register j holding channels 4j..4j+3 with their 4 k values: exactly the
// operand SDOT (by element) wants. vdotq_laneq_s32(acc, w_j, x, lane) adds,
// for each of the 4 channels, the dot product of its 4 weights with the
// row's 4 values in 32-bit lane `lane` of x, so one 16-byte load of a row
// feeds four groups. SDOT forms the four int8 x int8 products and their sum
// exactly and adds it to the int32 lane with wrap-around: bit-exact to the
// reference in any order.
#include <stdint.h>

#include "kernels/qs8_gemm/requant_neon.h"
#include "kernels/ukernels.h"

namespace kiln {
namespace {

// Accumulators of one row: v[j] = channels 4j..4j+3.
struct RowAcc {
  int32x4_t v[4];
};

static inline __attribute__((always_inline)) void StoreRow(
    const RowAcc& acc, const int32_t* bias, const int32_t* multiplier,
    const int32_t* shift, const neon::OutputStage& stage, int8_t* dst,
    int32_t count) {
  neon::StorePartial16(dst,
                       neon::RequantizePerChannel16(
                           neon::WrappingAdd(acc.v[0], vld1q_s32(bias)),
                           neon::WrappingAdd(acc.v[1], vld1q_s32(bias + 4)),
                           neon::WrappingAdd(acc.v[2], vld1q_s32(bias + 8)),
                           neon::WrappingAdd(acc.v[3], vld1q_s32(bias + 12)),
                           multiplier, shift, stage),
                       count);
}

// One group (64 weight bytes at wg) for the MR rows, 4 k values in `lane`.
#define KILN_DOT_ROW(acc, x, lane)                     \
  do {                                                 \
    acc.v[0] = vdotq_laneq_s32(acc.v[0], w0, x, lane); \
    acc.v[1] = vdotq_laneq_s32(acc.v[1], w1, x, lane); \
    acc.v[2] = vdotq_laneq_s32(acc.v[2], w2, x, lane); \
    acc.v[3] = vdotq_laneq_s32(acc.v[3], w3, x, lane); \
  } while (0)
#define KILN_GROUP(lane, wg)                  \
  do {                                        \
    const int8x16_t w0 = vld1q_s8(wg);        \
    const int8x16_t w1 = vld1q_s8((wg) + 16); \
    const int8x16_t w2 = vld1q_s8((wg) + 32); \
    const int8x16_t w3 = vld1q_s8((wg) + 48); \
    KILN_DOT_ROW(acc0, x0, lane);             \
    if (MR > 1) KILN_DOT_ROW(acc1, x1, lane); \
    if (MR > 2) KILN_DOT_ROW(acc2, x2, lane); \
    if (MR > 3) KILN_DOT_ROW(acc3, x3, lane); \
  } while (0)

// MR (1..4) rows starting at `row` against one block of 16 channels.
template <int MR>
static inline __attribute__((always_inline)) void Tile(
    const uint8_t* row, size_t stride, const int8_t* wb, int32_t groups,
    const int32_t* bias, const int32_t* multiplier, const int32_t* shift,
    const neon::OutputStage& stage, int8_t* dst, size_t dst_stride,
    int32_t count) {
  RowAcc acc0, acc1, acc2, acc3;
  for (int i = 0; i < 4; ++i) {
    acc0.v[i] = vdupq_n_s32(0);
    acc1.v[i] = vdupq_n_s32(0);
    acc2.v[i] = vdupq_n_s32(0);
    acc3.v[i] = vdupq_n_s32(0);
  }
  const int8_t* a0 = reinterpret_cast<const int8_t*>(row);
  const int8_t* a1 = MR > 1 ? a0 + stride : a0;
  const int8_t* a2 = MR > 2 ? a0 + 2 * stride : a0;
  const int8_t* a3 = MR > 3 ? a0 + 3 * stride : a0;
  int32_t g = 0;
  for (; g + 4 <= groups; g += 4) {
    const int8x16_t x0 = vld1q_s8(a0 + 4 * g);
    const int8x16_t x1 = MR > 1 ? vld1q_s8(a1 + 4 * g) : x0;
    const int8x16_t x2 = MR > 2 ? vld1q_s8(a2 + 4 * g) : x0;
    const int8x16_t x3 = MR > 3 ? vld1q_s8(a3 + 4 * g) : x0;
    const int8_t* wg = wb + static_cast<size_t>(g) * 64;
    KILN_GROUP(0, wg);
    KILN_GROUP(1, wg + 64);
    KILN_GROUP(2, wg + 128);
    KILN_GROUP(3, wg + 192);
  }
  if (g < groups) {
    // 1-3 groups left. The 16-byte loads stay inside the rows (the stride
    // is a multiple of 64 >= k_padded) and read zeros beyond k.
    const int32_t rest = groups - g;
    const int8x16_t x0 = vld1q_s8(a0 + 4 * g);
    const int8x16_t x1 = MR > 1 ? vld1q_s8(a1 + 4 * g) : x0;
    const int8x16_t x2 = MR > 2 ? vld1q_s8(a2 + 4 * g) : x0;
    const int8x16_t x3 = MR > 3 ? vld1q_s8(a3 + 4 * g) : x0;
    const int8_t* wg = wb + static_cast<size_t>(g) * 64;
    KILN_GROUP(0, wg);
    if (rest > 1) KILN_GROUP(1, wg + 64);
    if (rest > 2) KILN_GROUP(2, wg + 128);
  }
  StoreRow(acc0, bias, multiplier, shift, stage, dst, count);
  if (MR > 1) {
    StoreRow(acc1, bias, multiplier, shift, stage, dst + dst_stride, count);
  }
  if (MR > 2) {
    StoreRow(acc2, bias, multiplier, shift, stage, dst + 2 * dst_stride, count);
  }
  if (MR > 3) {
    StoreRow(acc3, bias, multiplier, shift, stage, dst + 3 * dst_stride, count);
  }
}

#undef KILN_GROUP
#undef KILN_DOT_ROW

}  // namespace

void qs8_gemm__neondot(const GemmRows& a, const PackedGemm& w,
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
    const uint8_t* row = a.data;
    int8_t* dst = out.data + n0;
    int32_t m = 0;
    for (; m + 4 <= a.rows; m += 4) {
      Tile<4>(row + static_cast<size_t>(m) * a.stride, a.stride, wb, groups,
              bias, multiplier, shift, stage,
              dst + static_cast<size_t>(m) * out.stride, out.stride, count);
    }
    // Row tail: exact tile heights, so a GEMV (rows == 1) does no extra work.
    const int32_t rest = a.rows - m;
    const uint8_t* tail_row = row + static_cast<size_t>(m) * a.stride;
    int8_t* tail_dst = dst + static_cast<size_t>(m) * out.stride;
    if (rest == 3) {
      Tile<3>(tail_row, a.stride, wb, groups, bias, multiplier, shift, stage,
              tail_dst, out.stride, count);
    } else if (rest == 2) {
      Tile<2>(tail_row, a.stride, wb, groups, bias, multiplier, shift, stage,
              tail_dst, out.stride, count);
    } else if (rest == 1) {
      Tile<1>(tail_row, a.stride, wb, groups, bias, multiplier, shift, stage,
              tail_dst, out.stride, count);
    }
  }
}

}  // namespace kiln
