// Packing of depthwise weights at init (kernels/dwconv.h).
#include <string.h>

#include "kernels/dwconv.h"

namespace kiln {
namespace {

constexpr size_t kAlign = 64;

inline size_t AlignUp(size_t v) { return (v + kAlign - 1) & ~(kAlign - 1); }

inline int32_t PaddedChannels(int32_t c) {
  return (c + kDwChannelBlock - 1) / kDwChannelBlock * kDwChannelBlock;
}

}  // namespace

size_t PackedDwBytes(int32_t channels, int32_t kernel_h, int32_t kernel_w) {
  const size_t cp = static_cast<size_t>(PaddedChannels(channels));
  const size_t taps = static_cast<size_t>(kernel_h) * kernel_w;
  return AlignUp(sizeof(PackedDw)) + AlignUp(taps * cp * sizeof(int16_t)) +
         3 * AlignUp(cp * sizeof(int32_t));
}

const PackedDw* PackDw(int32_t channels, int32_t kernel_h, int32_t kernel_w,
                       const int8_t* filter, const int32_t* bias,
                       const RequantParams& requant, void* dst) {
  const int32_t cp = PaddedChannels(channels);
  const int32_t taps = kernel_h * kernel_w;
  uint8_t* base = static_cast<uint8_t*>(dst);
  memset(base, 0, PackedDwBytes(channels, kernel_h, kernel_w));
  PackedDw* h = reinterpret_cast<PackedDw*>(base);
  int16_t* weights =
      reinterpret_cast<int16_t*>(base + AlignUp(sizeof(PackedDw)));
  uint8_t* after_weights = reinterpret_cast<uint8_t*>(weights) +
                           AlignUp(static_cast<size_t>(taps) * cp * 2);
  const size_t per_channel = AlignUp(static_cast<size_t>(cp) * 4);
  int32_t* b = reinterpret_cast<int32_t*>(after_weights);
  int32_t* multiplier = reinterpret_cast<int32_t*>(after_weights + per_channel);
  int32_t* shift = reinterpret_cast<int32_t*>(after_weights + 2 * per_channel);
  for (int32_t c = 0; c < channels; ++c) {
    // OHWI with one input channel per group: filter[c][ky][kx][0].
    for (int32_t t = 0; t < taps; ++t) {
      weights[static_cast<size_t>(t) * cp + c] =
          filter[static_cast<size_t>(c) * taps + t];
    }
    b[c] = bias != nullptr ? bias[c] : 0;
    multiplier[c] = RequantMultiplier(requant, c);
    shift[c] = RequantShift(requant, c);
  }
  h->channels = channels;
  h->channels_padded = cp;
  h->kernel_h = kernel_h;
  h->kernel_w = kernel_w;
  h->weights = weights;
  h->bias = b;
  h->multiplier = multiplier;
  h->shift = shift;
  return h;
}

size_t DwScratchBytes(const Conv2DParams& p) {
  // The x86 and scalar kernels (kernels/qs8_dwconv/dw_rows.h, DwMakeLayout):
  // a data region, either kernel_h + 1 rows of int16 (one per kernel row and
  // an all-zero row for the vertical padding), each spanning every window of
  // an output row at channels_padded values per position plus 32 of slack,
  // or, when it takes at most 64 KiB, the whole padded image in that form
  // (SIMD kernels); the tap and row pointers; the slot bookkeeping; the
  // prepared weight pairs and requantization vectors per 32 channels; 64
  // bytes to align the start. The first form (one input row widened to
  // int16 per kernel row, plus one spare row) is kept as a lower bound for
  // kernels written against it.
  const size_t cp = static_cast<size_t>(PaddedChannels(p.in_c));
  const size_t kh = static_cast<size_t>(p.kernel_h);
  const size_t kw = static_cast<size_t>(p.kernel_w);
  const size_t taps = kh * kw;
  const size_t pairs = (taps + 1) / 2;
  const size_t width =
      static_cast<size_t>(p.out_w - 1) * static_cast<size_t>(p.stride_w) +
      (kw - 1) * static_cast<size_t>(p.dilation_w) + 1;
  const size_t height =
      static_cast<size_t>(p.out_h - 1) * static_cast<size_t>(p.stride_h) +
      (kh - 1) * static_cast<size_t>(p.dilation_h) + 1;
  const size_t row_elems = (width * cp + 32 + 31) & ~size_t(31);
  const size_t image_bytes =
      ((height * width * cp + 32 + 31) & ~size_t(31)) * 2;
  size_t data = row_elems * 2 * (kh + 1);
  if (image_bytes <= 64 * 1024 && image_bytes > data) data = image_bytes;
  const size_t x86 = kAlign + AlignUp(data) +
                     AlignUp(sizeof(void*) * (taps + 1 + kh)) +
                     AlignUp(sizeof(int32_t) * 2 * kh) +
                     cp / kDwChannelBlock * (pairs * 128 + 1536);
  const size_t first =
      AlignUp((static_cast<size_t>(p.in_w) + 2 * kw) * cp * 2 * (kh + 1));
  return x86 > first ? x86 : first;
}

}  // namespace kiln
