// INT8 GlobalAveragePool for AArch64 Advanced SIMD, 16 channels per step,
// exactly kernels/ref/global_average_pool.cc:
//   out = clamp(M(sum(x - zp_in)) + zp_out, -128, 127)
// with 1 / (h * w) folded into M. The sum is taken over the raw values
// (int16 lanes for up to 256 pixels, then int32) and the zero point removed
// once as spatial * zp_in; with int32 wrap-around that equals the
// reference's sum of differences whenever the latter fits int32 (always, for
// h * w below 2^23).
#include <stdint.h>

#include "kernels/qs8_gemm/requant_neon.h"
#include "kernels/requant.h"
#include "kernels/ukernels.h"

namespace kiln {
namespace {

constexpr int32_t kMaxInt16Pixels = 256;

}  // namespace

void qs8_gavgpool__neon(const GlobalAveragePoolParams& p, const int8_t* input,
                        int8_t* output) {
  const int32_t channels = p.channels;
  const int32_t spatial = p.h * p.w;
  const neon::ScalarRequant m = neon::MakeScalarRequant(p.multiplier, p.shift);
  const neon::OutputStage stage =
      neon::MakeOutputStage(p.output_zero_point, -128, 127);
  // spatial * zp_in with int32 wrap-around.
  const int32x4_t zp_sum = vdupq_n_s32(
      static_cast<int32_t>(static_cast<uint32_t>(spatial) *
                           static_cast<uint32_t>(p.input_zero_point)));
  for (int32_t b = 0; b < p.batch; ++b) {
    const int8_t* in = input + static_cast<size_t>(b) * spatial * channels;
    int8_t* out = output + static_cast<size_t>(b) * channels;
    int32_t c = 0;
    for (; c + 16 <= channels; c += 16) {
      int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0;
      for (int32_t i0 = 0; i0 < spatial; i0 += kMaxInt16Pixels) {
        const int32_t i1 =
            spatial - i0 < kMaxInt16Pixels ? spatial : i0 + kMaxInt16Pixels;
        int16x8_t lo = vdupq_n_s16(0), hi = lo;
        for (int32_t i = i0; i < i1; ++i) {
          const int8x16_t v =
              vld1q_s8(in + static_cast<size_t>(i) * channels + c);
          lo = vaddw_s8(lo, vget_low_s8(v));
          hi = vaddw_high_s8(hi, v);
        }
        s0 = vaddw_s16(s0, vget_low_s16(lo));
        s1 = vaddw_high_s16(s1, lo);
        s2 = vaddw_s16(s2, vget_low_s16(hi));
        s3 = vaddw_high_s16(s3, hi);
      }
      s0 = neon::MultiplyByQuantizedMultiplierScalar(
          neon::WrappingSub(s0, zp_sum), m);
      s1 = neon::MultiplyByQuantizedMultiplierScalar(
          neon::WrappingSub(s1, zp_sum), m);
      s2 = neon::MultiplyByQuantizedMultiplierScalar(
          neon::WrappingSub(s2, zp_sum), m);
      s3 = neon::MultiplyByQuantizedMultiplierScalar(
          neon::WrappingSub(s3, zp_sum), m);
      vst1q_s8(out + c, neon::FinishOutput16(s0, s1, s2, s3, stage));
    }
    // Fewer than 16 channels left: the reference's loop.
    for (; c < channels; ++c) {
      int32_t acc = 0;
      for (int32_t i = 0; i < spatial; ++i) {
        acc += int32_t(in[static_cast<size_t>(i) * channels + c]) -
               p.input_zero_point;
      }
      out[c] = static_cast<int8_t>(Requantize(acc, p.multiplier, p.shift,
                                              p.output_zero_point, -128, 127));
    }
  }
}

}  // namespace kiln
