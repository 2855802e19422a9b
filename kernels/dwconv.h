// The prepacked INT8 depthwise convolution (Conv2D with groups == in_c ==
// out_c, one output channel per input channel) and the contract every
// per-ISA depthwise kernel implements: bit for bit what
// kernels/ref/conv2d.cc computes for such a convolution, for any kernel size,
// stride, dilation and padding (padding taps contribute nothing).
#ifndef KILN_KERNELS_DWCONV_H_
#define KILN_KERNELS_DWCONV_H_

#include <stddef.h>
#include <stdint.h>

#include "kernels/params.h"

namespace kiln {

// Channels are padded to a multiple of kDwChannelBlock (zeros beyond c).
constexpr int32_t kDwChannelBlock = 32;

struct PackedDw {
  int32_t channels;
  int32_t channels_padded;  // round_up(channels, kDwChannelBlock)
  int32_t kernel_h, kernel_w;
  const int16_t* weights;     // [kernel_h * kernel_w][channels_padded]
  const int32_t* bias;        // [channels_padded], model bias (0 if none)
  const int32_t* multiplier;  // [channels_padded], per channel (expanded)
  const int32_t* shift;       // [channels_padded], per channel (expanded)
};

// Bytes PackDw writes, header included; a multiple of 64, ISA-independent.
size_t PackedDwBytes(int32_t channels, int32_t kernel_h, int32_t kernel_w);

// Packs the OHWI depthwise filter [c][kh][kw][1], bias (may be null) and
// requantization into dst (64-byte aligned, PackedDwBytes long).
const PackedDw* PackDw(int32_t channels, int32_t kernel_h, int32_t kernel_w,
                       const int8_t* filter, const int32_t* bias,
                       const RequantParams& requant, void* dst);

// Scratch a depthwise kernel may use for one call with these params
// (e.g. one row of the input widened to int16 with the zero point removed).
size_t DwScratchBytes(const Conv2DParams& p);

// Runs the whole depthwise convolution for p.batch items. p.groups ==
// p.in_c == p.out_c; p.requant is ignored (the packed copy is used).
typedef void (*DwConvKernel)(const Conv2DParams& p, const int8_t* input,
                             const PackedDw& w, int8_t* output, void* scratch);

}  // namespace kiln

#endif  // KILN_KERNELS_DWCONV_H_
