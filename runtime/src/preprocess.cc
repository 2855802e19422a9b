// Preprocessing: raw images and feature vectors -> one item of the model's
// first graph input. docs/preprocessing.md is the normative specification;
// this file is its implementation, and the toolchain calls it too, so the
// two cannot disagree.
//
// No heap and no scratch buffer: the 8-bit image after channel conversion
// and resize is never stored. Each stage is a pure function of the output
// pixel, so the pipeline samples the source for every output value, and
// when equalizing samples it twice (once for the histograms). Everything
// after the resize is a per-channel table of 256 entries: equalization and
// gamma map 8-bit values to 8-bit values, normalization and quantization map
// those to output elements.
//
// Determinism: the 8-bit stages are integer arithmetic. The gamma table is
// computed with a log/exp written here from +, -, *, / and the exact libm
// operations frexp, ldexp and floor, with floating-point contraction off
// (runtime/CMakeLists.txt), so no libm's pow accuracy can change an entry.
// Normalization and quantization are single IEEE float operations in a
// fixed order, exactly as specified.
#include "runtime/src/preprocess.h"

#include <math.h>
#include <string.h>

namespace kiln {
namespace rt {
namespace {

constexpr int32_t kMaxChannels = 3;  // the model's: GRAY 1, RGB/BGR 3
constexpr uint64_t kOne = 65536;     // 16.16 fixed point

// ---------------------------------------------------------------- sampling

struct Image {
  const uint8_t* pixels;
  int32_t height;
  int32_t width;
  int32_t channels;  // 1..4 in the buffer
};

// Channel k of the model's channel order at source pixel (y, x): gray
// sources are replicated, alpha is dropped, GRAY from colour is the integer
// luma (77 R + 150 G + 29 B) >> 8 (the formula stb_image uses, so the
// toolchain's image folders, which let stb_image convert, agree).
inline uint32_t SourceValue(const Image& im, int32_t order, int32_t y,
                            int32_t x, int32_t k) {
  const uint8_t* p =
      im.pixels + (static_cast<size_t>(y) * static_cast<size_t>(im.width) +
                   static_cast<size_t>(x)) *
                      static_cast<size_t>(im.channels);
  if (im.channels < 3) return p[0];
  if (order == KILN_CHANNELS_GRAY) {
    return (77u * p[0] + 150u * p[1] + 29u * p[2]) >> 8;
  }
  return order == KILN_CHANNELS_BGR ? p[2 - k] : p[k];
}

// Where output index i of an axis of `dst` samples a source axis of `src`:
// the two neighbours and the weight of the second, 16.16.
struct Tap {
  int32_t i0;
  int32_t i1;
  uint64_t f;  // 0..65535
};

// Half-pixel centres: output i covers source coordinate
// (i + 1/2) * src / dst - 1/2, truncated to 1/65536 and clamped to
// [0, src - 1]. Nearest takes the source pixel under the output centre,
// floor((2i + 1) * src / (2 dst)). Same sizes give i itself either way.
// |(2i + 1) * src * 65536| < 2^25 * 2^20 * 2^16: no overflow in int64.
inline Tap TapOf(int32_t i, int32_t src, int32_t dst, int32_t mode) {
  Tap t;
  if (mode == KILN_RESIZE_BILINEAR) {
    const int64_t scaled =
        ((2 * int64_t{i} + 1) * src - dst) * static_cast<int64_t>(kOne);
    int64_t c = scaled < 0 ? 0 : scaled / (2 * int64_t{dst});
    const int64_t last = int64_t{src - 1} * static_cast<int64_t>(kOne);
    if (c > last) c = last;
    t.i0 = static_cast<int32_t>(c >> 16);
    t.i1 = t.i0 + 1 < src ? t.i0 + 1 : src - 1;
    t.f = static_cast<uint64_t>(c & 0xFFFF);
    return t;
  }
  int64_t s = (2 * int64_t{i} + 1) * src / (2 * int64_t{dst});
  if (s > src - 1) s = src - 1;
  t.i0 = t.i1 = static_cast<int32_t>(s);
  t.f = 0;
  return t;
}

// The resized 8-bit value of channel k: the four neighbours weighted in
// 16.16 and rounded half up; with zero weights (nearest, same size) it is
// the source value exactly.
inline uint32_t Sample(const Image& im, int32_t order, const Tap& ty,
                       const Tap& tx, int32_t k) {
  const uint64_t p00 = SourceValue(im, order, ty.i0, tx.i0, k);
  if (ty.f == 0 && tx.f == 0) return static_cast<uint32_t>(p00);
  const uint64_t p01 = SourceValue(im, order, ty.i0, tx.i1, k);
  const uint64_t p10 = SourceValue(im, order, ty.i1, tx.i0, k);
  const uint64_t p11 = SourceValue(im, order, ty.i1, tx.i1, k);
  const uint64_t top = p00 * (kOne - tx.f) + p01 * tx.f;
  const uint64_t bottom = p10 * (kOne - tx.f) + p11 * tx.f;
  const uint64_t v =
      (top * (kOne - ty.f) + bottom * ty.f + (uint64_t{1} << 31)) >> 32;
  return static_cast<uint32_t>(v > 255 ? 255 : v);
}

// Calls visit(out_index, channel, value) for every element of the resized
// image, in NHWC or NCHW output order.
template <typename Visit>
void ForEachSample(const kiln_preprocess_spec& s, const Image& im,
                   int32_t channels, Visit visit) {
  const int32_t h = s.height, w = s.width;
  const bool nchw = s.layout == KILN_LAYOUT_NCHW;
  const size_t plane = static_cast<size_t>(h) * static_cast<size_t>(w);
  for (int32_t y = 0; y < h; ++y) {
    const Tap ty = TapOf(y, im.height, h, s.resize);
    for (int32_t x = 0; x < w; ++x) {
      const Tap tx = TapOf(x, im.width, w, s.resize);
      const size_t pixel = static_cast<size_t>(y) * w + x;
      for (int32_t k = 0; k < channels; ++k) {
        const size_t at = nchw ? k * plane + pixel : pixel * channels + k;
        visit(at, k, Sample(im, s.channel_order, ty, tx, k));
      }
    }
  }
}

// ------------------------------------------------------------ 8-bit tables

// Histogram equalization of one channel of n pixels: with cdf(v) the number
// of pixels <= v and c_min the count of the lowest value present,
// v -> round_half_up(255 * (cdf(v) - c_min) / (n - c_min)). A constant
// channel (c_min == n) is left unchanged.
void EqualizeTable(const uint32_t hist[256], uint64_t n, uint8_t table[256]) {
  int32_t first = 0;
  while (first < 255 && hist[first] == 0) ++first;
  const uint64_t c_min = hist[first];
  if (c_min == n) {
    for (int32_t v = 0; v < 256; ++v) table[v] = static_cast<uint8_t>(v);
    return;
  }
  const uint64_t range = n - c_min;
  uint64_t cdf = 0;
  for (int32_t v = 0; v < 256; ++v) {
    cdf += hist[v];
    if (v < first) {
      table[v] = 0;  // no pixel has this value
      continue;
    }
    table[v] =
        static_cast<uint8_t>((2 * 255 * (cdf - c_min) + range) / (2 * range));
  }
}

constexpr double kLn2 = 0.6931471805599453094;
constexpr double kSqrtHalf = 0.7071067811865475244;

// ln(x) for x > 0: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), then
// ln(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, by its series to
// s^23 (the next term is below 1e-20).
double Ln(double x) {
  int e = 0;
  double m = frexp(x, &e);  // [0.5, 1)
  if (m < kSqrtHalf) {
    m *= 2.0;
    --e;
  }
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  double sum = 0.0;
  for (int k = 23; k >= 1; k -= 2) sum = sum * s2 + 1.0 / k;
  return e * kLn2 + 2.0 * s * sum;
}

// exp(t) for t <= 0: t = j ln 2 + r with |r| <= 0.35, e^r by its Taylor
// series to r^24, then scaled by 2^j (exact, subnormals included).
double ExpNonPositive(double t) {
  if (t < -746.0) return 0.0;  // below the smallest subnormal
  const double j = floor(t / kLn2 + 0.5);
  const double r = t - j * kLn2;
  double sum = 1.0;
  for (int i = 24; i >= 1; --i) sum = 1.0 + sum * r / i;
  return ldexp(sum, static_cast<int>(j));
}

// table[v] = floor(255 * (v / 255)^gamma + 1/2) in double precision; gamma 1
// is the identity exactly.
void GammaTable(float gamma, uint8_t table[256]) {
  for (int32_t v = 0; v < 256; ++v) table[v] = static_cast<uint8_t>(v);
  if (gamma == 1.0f) return;
  table[0] = 0;  // 0^gamma = 0 for gamma > 0
  for (int32_t v = 1; v < 255; ++v) {
    const double x = v / 255.0;
    const double y = 255.0 * ExpNonPositive(gamma * Ln(x)) + 0.5;
    const double r = floor(y);
    table[v] = static_cast<uint8_t>(r > 255.0 ? 255.0 : r);
  }
  table[255] = 255;  // 1^gamma = 1
}

// ------------------------------------------------------------------ output

// The Quantize operator's float rule (docs/quantization.md): divide by the
// scale, NaN -> zero point, round half away from zero, saturate.
inline int32_t QuantizeReal(float real, float scale, int32_t zero_point,
                            int32_t lo, int32_t hi) {
  const float v = real / scale;
  int32_t q;
  if (isnan(v)) {
    q = zero_point;
  } else {
    float r = roundf(v);
    if (r > 512.0f) r = 512.0f;    // saturates anyway; avoids an undefined
    if (r < -512.0f) r = -512.0f;  // float -> int conversion
    q = static_cast<int32_t>(r) + zero_point;
  }
  return q < lo ? lo : (q > hi ? hi : q);
}

// Writes element `at` of the item from the real value.
inline void Store(const kiln_tensor_info& in, float real, size_t at,
                  uint8_t* item) {
  if (in.dtype == KILN_FLOAT32) {
    memcpy(item + at * sizeof(float), &real, sizeof(float));
  } else if (in.dtype == KILN_UINT8) {
    item[at] = static_cast<uint8_t>(
        QuantizeReal(real, in.scale, in.zero_point, 0, 255));
  } else {
    const int8_t q = static_cast<int8_t>(
        QuantizeReal(real, in.scale, in.zero_point, -128, 127));
    memcpy(item + at, &q, 1);
  }
}

// mean[i] and std[i], or 0 and 1 when absent.
inline float MeanOf(const kiln_preprocess_spec& s, int64_t i) {
  return s.mean_count != 0 ? s.mean[i] : 0.0f;
}
inline float StdOf(const kiln_preprocess_spec& s, int64_t i) {
  return s.std_count != 0 ? s.std[i] : 1.0f;
}

// --------------------------------------------------------------- pipelines

kiln_status PreprocessImage(const kiln_preprocess_spec& s, const Image& im,
                            uint8_t* item) {
  const int32_t channels = s.channel_order == KILN_CHANNELS_GRAY ? 1 : 3;
  const size_t elem = s.input.dtype == KILN_FLOAT32 ? sizeof(float) : 1;
  // The histograms are dead once the 8-bit tables exist, and the output
  // tables are only built then: one region serves both.
  union {
    uint32_t hist[kMaxChannels][256];
    uint8_t out[kMaxChannels][256 * sizeof(float)];
  } u;
  uint8_t map[kMaxChannels][256];
  for (int32_t k = 0; k < channels; ++k) {
    for (int32_t v = 0; v < 256; ++v) map[k][v] = static_cast<uint8_t>(v);
  }
  if (s.equalize) {
    memset(u.hist, 0, sizeof(u.hist));
    ForEachSample(s, im, channels,
                  [&](size_t, int32_t k, uint32_t v) { ++u.hist[k][v]; });
    const uint64_t n = static_cast<uint64_t>(s.height) * s.width;
    for (int32_t k = 0; k < channels; ++k) {
      EqualizeTable(u.hist[k], n, map[k]);
    }
  }
  uint8_t gamma[256];
  GammaTable(s.gamma, gamma);
  for (int32_t k = 0; k < channels; ++k) {
    const float mean = MeanOf(s, k), std_dev = StdOf(s, k);
    for (int32_t v = 0; v < 256; ++v) {
      const uint8_t g = gamma[map[k][v]];
      const float real = (static_cast<float>(g) / 255.0f - mean) / std_dev;
      Store(s.input, real, static_cast<size_t>(v), u.out[k]);
    }
  }
  ForEachSample(s, im, channels, [&](size_t at, int32_t k, uint32_t v) {
    memcpy(item + at * elem, u.out[k] + v * elem, elem);
  });
  return KILN_OK;
}

// (x[i] - mean[i]) / std[i] in float32.
inline float Standardized(const kiln_preprocess_spec& s, const float* x,
                          int64_t i) {
  return (x[i] - MeanOf(s, i)) / StdOf(s, i);
}

kiln_status PreprocessFeatures(const kiln_preprocess_spec& s, const float* x,
                               int64_t count, uint8_t* item) {
  // The norm, over the standardized values in index order, in double
  // (float products are exact in double, so contraction cannot matter).
  double norm = 0.0;
  bool scale = false;
  if (s.feature_norm != KILN_FEATURE_NORM_NONE) {
    bool nan = false;
    for (int64_t i = 0; i < count; ++i) {
      const double y = Standardized(s, x, i);
      if (isnan(y)) nan = true;
      if (s.feature_norm == KILN_FEATURE_NORM_L1) {
        norm += fabs(y);
      } else if (s.feature_norm == KILN_FEATURE_NORM_L2) {
        norm += y * y;
      } else if (fabs(y) > norm) {
        norm = fabs(y);
      }
    }
    if (s.feature_norm == KILN_FEATURE_NORM_L2) norm = sqrt(norm);
    // A zero, infinite or NaN norm leaves the vector as it is.
    scale = !nan && isfinite(norm) && norm > 0.0;
  }
  for (int64_t i = 0; i < count; ++i) {
    float y = Standardized(s, x, i);
    if (scale) y = static_cast<float>(static_cast<double>(y) / norm);
    Store(s.input, y, static_cast<size_t>(i), item);
  }
  return KILN_OK;
}

bool ValidContext(const kiln_context* ctx) {
  return ctx != nullptr && ctx->magic == kContextMagic;
}

}  // namespace
}  // namespace rt
}  // namespace kiln

using namespace kiln::rt;

extern "C" kiln_status kiln_get_preprocess_spec(const kiln_context* ctx,
                                                kiln_preprocess_spec* spec) {
  if (!ValidContext(ctx) || spec == nullptr) return KILN_ERR_INVALID_ARGUMENT;
  return ReadPreprocessSpec(ctx, spec) ? KILN_OK : KILN_ERR_NO_PREPROCESS;
}

extern "C" kiln_status kiln_preprocess_image_spec(
    const kiln_preprocess_spec* spec, const uint8_t* pixels, int32_t height,
    int32_t width, int32_t channels, void* item) {
  if (spec == nullptr || pixels == nullptr || item == nullptr || height < 1 ||
      height > KILN_MAX_IMAGE_SIDE || width < 1 ||
      width > KILN_MAX_IMAGE_SIDE || channels < 1 || channels > 4) {
    return KILN_ERR_INVALID_ARGUMENT;
  }
  // The source's byte count must be addressable (32-bit hosts).
  const uint64_t bytes = static_cast<uint64_t>(height) *
                         static_cast<uint64_t>(width) *
                         static_cast<uint64_t>(channels);
  if (bytes > SIZE_MAX) return KILN_ERR_INVALID_ARGUMENT;
  kiln_status status = kiln_check_preprocess_spec(spec, nullptr);
  if (status != KILN_OK) return status;
  if (spec->layout == KILN_LAYOUT_FLAT) return KILN_ERR_NO_PREPROCESS;
  if (spec->resize == KILN_RESIZE_NONE &&
      (height != spec->height || width != spec->width)) {
    return KILN_ERR_INVALID_ARGUMENT;
  }
  const Image im = {pixels, height, width, channels};
  return PreprocessImage(*spec, im, static_cast<uint8_t*>(item));
}

extern "C" kiln_status kiln_preprocess_features_spec(
    const kiln_preprocess_spec* spec, const float* features, size_t count,
    void* item) {
  if (spec == nullptr || features == nullptr || item == nullptr || count == 0) {
    return KILN_ERR_INVALID_ARGUMENT;
  }
  kiln_status status = kiln_check_preprocess_spec(spec, nullptr);
  if (status != KILN_OK) return status;
  if (spec->layout != KILN_LAYOUT_FLAT) return KILN_ERR_NO_PREPROCESS;
  int64_t elements = 1;
  for (int32_t d = 0; d < spec->input.rank; ++d)
    elements *= spec->input.dims[d];
  if (static_cast<uint64_t>(elements) != static_cast<uint64_t>(count)) {
    return KILN_ERR_INVALID_ARGUMENT;
  }
  return PreprocessFeatures(*spec, features, elements,
                            static_cast<uint8_t*>(item));
}

extern "C" kiln_status kiln_preprocess_image(const kiln_context* ctx,
                                             const uint8_t* pixels,
                                             int32_t height, int32_t width,
                                             int32_t channels, void* item) {
  kiln_preprocess_spec spec;
  const kiln_status status = kiln_get_preprocess_spec(ctx, &spec);
  if (status != KILN_OK) return status;
  return kiln_preprocess_image_spec(&spec, pixels, height, width, channels,
                                    item);
}

extern "C" kiln_status kiln_preprocess_features(const kiln_context* ctx,
                                                const float* features,
                                                size_t count, void* item) {
  kiln_preprocess_spec spec;
  const kiln_status status = kiln_get_preprocess_spec(ctx, &spec);
  if (status != KILN_OK) return status;
  return kiln_preprocess_features_spec(&spec, features, count, item);
}
