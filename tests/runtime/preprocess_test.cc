// kiln_preprocess_image / kiln_preprocess_features against a straightforward
// implementation of docs/preprocessing.md written here (whole-image vectors,
// doubles and libm's pow where the runtime uses fixed point and its own
// log/exp), the verifier's checks of the Preprocess table, argument errors,
// and the format round trip of the new fields.
#include <gtest/gtest.h>
#include <math.h>
#include <string.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "formats/kiln_generated.h"
#include "tests/runtime/runtime_test_util.h"
#include "tests/toolchain/toolchain_test_util.h"
#include "toolchain/data/image_folder.h"
#include "toolchain/model_builder.h"
#include "toolchain/model_reader.h"
#include "toolchain/serialize.h"

namespace kiln {
namespace {

using testing::BuildOrFail;
using testing::FinishOrFail;
using testing::LoadedModel;

// ------------------------------------------------------------ models

int ChannelsOf(ChannelOrder order) {
  return order == ChannelOrder::kGray ? 1 : 3;
}

// A model whose first input takes the preprocessed image: UINT8/INT8 (with
// `q`) or FLOAT32, followed by a Quantize (or a Reshape for INT8).
ModelBuilder ImageModelBuilder(const PreprocessDef& pre, DType dtype,
                               QuantParams q = {1.0f / 255.0f, 0}) {
  const int32_t c = ChannelsOf(pre.channel_order);
  const std::vector<int32_t> shape =
      pre.layout == Layout::kNCHW
          ? std::vector<int32_t>{c, pre.height, pre.width}
          : std::vector<int32_t>{pre.height, pre.width, c};
  ModelBuilder b;
  b.SetPreprocess(pre);
  const bool quantized = dtype != DType::kFloat32;
  const TensorId x = b.AddInput("x", dtype, shape, quantized ? q.scale : 0.0f,
                                quantized ? q.zero_point : 0);
  const TensorId y =
      dtype == DType::kInt8 ? b.Reshape(x, shape) : b.Quantize(x, {0.05f, 0});
  b.AddOutput(y);
  return b;
}

PreprocessDef ImageSpec(int32_t h, int32_t w, ChannelOrder order,
                        ResizeMode resize = ResizeMode::kBilinear) {
  PreprocessDef pre;
  pre.layout = Layout::kNHWC;
  pre.channel_order = order;
  pre.height = h;
  pre.width = w;
  pre.resize = resize;
  return pre;
}

PreprocessDef FeatureSpec(int32_t n, FeatureNorm norm) {
  PreprocessDef pre;
  pre.layout = Layout::kFlat;
  pre.feature_norm = norm;
  for (int32_t i = 0; i < n; ++i) {
    pre.mean.push_back(0.25f * static_cast<float>(i) - 1.0f);
    pre.std.push_back(0.5f + 0.125f * static_cast<float>(i));
  }
  return pre;
}

ModelBuilder FeatureModelBuilder(const PreprocessDef& pre, DType dtype,
                                 QuantParams q = {0.05f, 3}) {
  const int32_t n = static_cast<int32_t>(pre.mean.size());
  ModelBuilder b;
  b.SetPreprocess(pre);
  const bool quantized = dtype != DType::kFloat32;
  const TensorId x = b.AddInput("x", dtype, {n}, quantized ? q.scale : 0.0f,
                                quantized ? q.zero_point : 0);
  b.AddOutput(dtype == DType::kInt8 ? b.Reshape(x, {n})
                                    : b.Quantize(x, {0.05f, 0}));
  return b;
}

std::vector<uint8_t> RandomImage(int32_t h, int32_t w, int32_t c,
                                 uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> px(static_cast<size_t>(h) * w * c);
  for (uint8_t& v : px) v = static_cast<uint8_t>(rng() & 0xFF);
  return px;
}

// ------------------------------------------------ the reference pipeline

struct Plane {  // the model-channel image, HWC
  int32_t h = 0, w = 0, c = 0;
  std::vector<int32_t> v;
  int32_t& at(int32_t y, int32_t x, int32_t k) {
    return v[(static_cast<size_t>(y) * w + x) * c + k];
  }
};

Plane RefConvert(const std::vector<uint8_t>& src, int32_t h, int32_t w,
                 int32_t sc, ChannelOrder order) {
  Plane p;
  p.h = h;
  p.w = w;
  p.c = ChannelsOf(order);
  p.v.resize(static_cast<size_t>(h) * w * p.c);
  for (int32_t y = 0; y < h; ++y) {
    for (int32_t x = 0; x < w; ++x) {
      const uint8_t* s = &src[(static_cast<size_t>(y) * w + x) * sc];
      int32_t r = s[0], g = s[0], b = s[0];
      if (sc >= 3) {
        r = s[0];
        g = s[1];
        b = s[2];
      }
      if (order == ChannelOrder::kGray) {
        p.at(y, x, 0) = sc >= 3 ? (77 * r + 150 * g + 29 * b) / 256 : r;
      } else {
        const bool bgr = order == ChannelOrder::kBGR;
        p.at(y, x, 0) = bgr ? b : r;
        p.at(y, x, 1) = g;
        p.at(y, x, 2) = bgr ? r : b;
      }
    }
  }
  return p;
}

// Source position of output i in 1/65536 units, half-pixel centres.
int64_t RefPos(int32_t i, int32_t src, int32_t dst) {
  // (i + 0.5) * src / dst - 0.5, floored to 1/65536, clamped.
  const int64_t num = (2 * int64_t{i} + 1) * src - dst;  // over 2 dst
  int64_t pos = num <= 0 ? 0 : (num * 65536) / (2 * int64_t{dst});
  return std::min<int64_t>(pos, int64_t{src - 1} * 65536);
}

Plane RefResize(Plane& in, int32_t h, int32_t w, ResizeMode mode) {
  Plane out;
  out.h = h;
  out.w = w;
  out.c = in.c;
  out.v.resize(static_cast<size_t>(h) * w * in.c);
  for (int32_t y = 0; y < h; ++y) {
    for (int32_t x = 0; x < w; ++x) {
      for (int32_t k = 0; k < in.c; ++k) {
        if (mode != ResizeMode::kBilinear) {
          const int32_t sy = std::min<int32_t>(
              static_cast<int32_t>((2 * int64_t{y} + 1) * in.h / (2 * h)),
              in.h - 1);
          const int32_t sx = std::min<int32_t>(
              static_cast<int32_t>((2 * int64_t{x} + 1) * in.w / (2 * w)),
              in.w - 1);
          out.at(y, x, k) = in.at(sy, sx, k);
          continue;
        }
        const int64_t py = RefPos(y, in.h, h), px = RefPos(x, in.w, w);
        const int32_t y0 = static_cast<int32_t>(py / 65536);
        const int32_t x0 = static_cast<int32_t>(px / 65536);
        const int32_t y1 = std::min(y0 + 1, in.h - 1);
        const int32_t x1 = std::min(x0 + 1, in.w - 1);
        const uint64_t fy = static_cast<uint64_t>(py % 65536);
        const uint64_t fx = static_cast<uint64_t>(px % 65536);
        // The exact weighted sum in units of 2^-32, rounded half up.
        const uint64_t sum = in.at(y0, x0, k) * (65536 - fx) * (65536 - fy) +
                             in.at(y0, x1, k) * fx * (65536 - fy) +
                             in.at(y1, x0, k) * (65536 - fx) * fy +
                             in.at(y1, x1, k) * fx * fy;
        out.at(y, x, k) = static_cast<int32_t>((sum + (1ull << 31)) >> 32);
      }
    }
  }
  return out;
}

void RefEqualize(Plane& p) {
  const int64_t n = int64_t{p.h} * p.w;
  for (int32_t k = 0; k < p.c; ++k) {
    std::vector<int64_t> hist(256, 0);
    for (int32_t y = 0; y < p.h; ++y) {
      for (int32_t x = 0; x < p.w; ++x) ++hist[p.at(y, x, k)];
    }
    int32_t lowest = 0;
    while (hist[lowest] == 0) ++lowest;
    const int64_t c_min = hist[lowest];
    if (c_min == n) continue;  // constant: unchanged
    std::vector<int32_t> map(256);
    int64_t cdf = 0;
    for (int32_t v = 0; v < 256; ++v) {
      cdf += hist[v];
      map[v] = static_cast<int32_t>(
          floor(255.0 * (cdf - c_min) / (n - c_min) + 0.5));
    }
    for (int32_t y = 0; y < p.h; ++y) {
      for (int32_t x = 0; x < p.w; ++x) p.at(y, x, k) = map[p.at(y, x, k)];
    }
  }
}

// Gamma by libm; *near_tie flags entries within 1e-9 of a half, where a
// correct table may round either way.
int32_t RefGamma(int32_t v, float gamma, bool* near_tie) {
  const long double y = 255.0L * powl(v / 255.0L, gamma);
  const long double frac = y - floorl(y);
  *near_tie = fabsl(frac - 0.5L) < 1e-9L;
  return static_cast<int32_t>(floorl(y + 0.5L));
}

// Every step before the output, as an HWC plane of 8-bit values.
Plane RefPipeline8(const std::vector<uint8_t>& src, int32_t h, int32_t w,
                   int32_t sc, const PreprocessDef& pre) {
  Plane p = RefConvert(src, h, w, sc, pre.channel_order);
  p = RefResize(p, pre.height, pre.width, pre.resize);
  if (pre.equalize) RefEqualize(p);
  if (pre.gamma != 1.0f) {
    for (int32_t& v : p.v) {
      bool tie = false;
      v = RefGamma(v, pre.gamma, &tie);
    }
  }
  return p;
}

int32_t RefQuantize(float real, QuantParams q, int32_t lo, int32_t hi) {
  const float v = real / q.scale;
  if (isnan(v)) return q.zero_point;
  const double r = std::round(static_cast<double>(v));  // half away
  return static_cast<int32_t>(
      std::min<double>(hi, std::max<double>(lo, r + q.zero_point)));
}

// Runs the runtime's pipeline through a verified model.
std::vector<uint8_t> RunImage(const std::vector<uint8_t>& model,
                              const std::vector<uint8_t>& px, int32_t h,
                              int32_t w, int32_t sc) {
  LoadedModel m(model, 1);
  EXPECT_EQ(m.status, KILN_OK) << m.message();
  if (m.status != KILN_OK) return {};
  kiln_tensor_info info;
  EXPECT_EQ(kiln_get_input_info(m.ctx, 0, &info), KILN_OK);
  std::vector<uint8_t> item(info.item_bytes, 0xCD);
  EXPECT_EQ(kiln_preprocess_image(m.ctx, px.data(), h, w, sc, item.data()),
            KILN_OK);
  return item;
}

// The 8-bit result through a UINT8 input with scale 1/255, zero point 0 and
// no mean/std: the quantized real is the 8-bit value itself.
void Expect8BitPipeline(const PreprocessDef& pre,
                        const std::vector<uint8_t>& px, int32_t h, int32_t w,
                        int32_t sc, const std::string& what) {
  const std::vector<uint8_t> got = RunImage(
      BuildOrFail(ImageModelBuilder(pre, DType::kUInt8)), px, h, w, sc);
  Plane want = RefPipeline8(px, h, w, sc, pre);
  ASSERT_EQ(got.size(), want.v.size()) << what;
  size_t mismatches = 0;
  for (int32_t y = 0; y < want.h; ++y) {
    for (int32_t x = 0; x < want.w; ++x) {
      for (int32_t k = 0; k < want.c; ++k) {
        const size_t at =
            pre.layout == Layout::kNCHW
                ? (static_cast<size_t>(k) * want.h + y) * want.w + x
                : (static_cast<size_t>(y) * want.w + x) * want.c + k;
        if (got[at] != want.at(y, x, k) && mismatches++ < 5) {
          ADD_FAILURE() << what << ": (" << y << ", " << x << ", " << k
                        << ") is " << int(got[at]) << ", want "
                        << want.at(y, x, k);
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0u) << what;
}

// ------------------------------------------------------------- 8-bit stages

TEST(Preprocess, Uint8IdentityInputGetsThe8BitValue) {
  // The premise of the 8-bit tests: v / 255 quantized with scale 1/255 is v
  // for every v.
  PreprocessDef pre = ImageSpec(16, 16, ChannelOrder::kGray, ResizeMode::kNone);
  std::vector<uint8_t> px(256);
  for (int v = 0; v < 256; ++v) px[v] = static_cast<uint8_t>(v);
  EXPECT_EQ(RunImage(BuildOrFail(ImageModelBuilder(pre, DType::kUInt8)), px, 16,
                     16, 1),
            px);
}

TEST(Preprocess, ResizeEdgeCasesMatchTheReference) {
  struct Case {
    int32_t sh, sw, dh, dw;
  } cases[] = {
      {1, 1, 5, 7},    // one source pixel
      {3, 4, 7, 9},    // upscale
      {17, 13, 5, 4},  // downscale
      {6, 20, 6, 5},   // non-square, one axis kept
      {9, 9, 9, 9},    // same size: a copy
      {2, 50, 11, 3},  // extreme aspect ratios
  };
  for (const Case& c : cases) {
    for (ResizeMode mode : {ResizeMode::kBilinear, ResizeMode::kNearest}) {
      for (ChannelOrder order :
           {ChannelOrder::kRGB, ChannelOrder::kBGR, ChannelOrder::kGray}) {
        const std::string what =
            std::to_string(c.sh) + "x" + std::to_string(c.sw) + " -> " +
            std::to_string(c.dh) + "x" + std::to_string(c.dw) + " " +
            ResizeModeName(mode) + " " + ChannelOrderName(order);
        const std::vector<uint8_t> px = RandomImage(c.sh, c.sw, 3, 7);
        Expect8BitPipeline(ImageSpec(c.dh, c.dw, order, mode), px, c.sh, c.sw,
                           3, what);
      }
    }
  }
}

TEST(Preprocess, SameSizeIsACopyInEveryMode) {
  const std::vector<uint8_t> px = RandomImage(5, 6, 3, 11);
  for (ResizeMode mode :
       {ResizeMode::kNone, ResizeMode::kBilinear, ResizeMode::kNearest}) {
    EXPECT_EQ(
        RunImage(BuildOrFail(ImageModelBuilder(
                     ImageSpec(5, 6, ChannelOrder::kRGB, mode), DType::kUInt8)),
                 px, 5, 6, 3),
        px)
        << ResizeModeName(mode);
  }
}

TEST(Preprocess, BilinearAgreesWithTheImageFolderLoader) {
  // The toolchain's image-folder loader resizes with the same convention,
  // so datasets it loads and images the runtime resizes agree.
  const std::vector<uint8_t> px = RandomImage(23, 31, 3, 5);
  for (ResizeMode mode : {ResizeMode::kBilinear, ResizeMode::kNearest}) {
    std::vector<uint8_t> want(10 * 14 * 3);
    data::ResizeImage(px.data(), 23, 31, 3, want.data(), 10, 14,
                      mode == ResizeMode::kBilinear
                          ? data::ResizeMode::kBilinear
                          : data::ResizeMode::kNearest);
    EXPECT_EQ(RunImage(BuildOrFail(ImageModelBuilder(
                           ImageSpec(10, 14, ChannelOrder::kRGB, mode),
                           DType::kUInt8)),
                       px, 23, 31, 3),
              want)
        << ResizeModeName(mode);
  }
}

TEST(Preprocess, EveryChannelOrderFromEverySourceChannelCount) {
  for (int32_t sc = 1; sc <= 4; ++sc) {
    const std::vector<uint8_t> px = RandomImage(7, 5, sc, 100 + sc);
    for (ChannelOrder order :
         {ChannelOrder::kRGB, ChannelOrder::kBGR, ChannelOrder::kGray}) {
      for (Layout layout : {Layout::kNHWC, Layout::kNCHW}) {
        PreprocessDef pre = ImageSpec(4, 6, order);
        pre.layout = layout;
        Expect8BitPipeline(pre, px, 7, 5, sc,
                           std::to_string(sc) + " source channels to " +
                               ChannelOrderName(order) + " " +
                               LayoutName(layout));
      }
    }
  }
}

TEST(Preprocess, ChannelConversionValues) {
  // One RGBA pixel, no resize: RGB keeps, BGR swaps, GRAY is the luma.
  const std::vector<uint8_t> px = {200, 100, 50, 7};
  auto run = [&](ChannelOrder order) {
    return RunImage(
        BuildOrFail(ImageModelBuilder(ImageSpec(1, 1, order, ResizeMode::kNone),
                                      DType::kUInt8)),
        px, 1, 1, 4);
  };
  EXPECT_EQ(run(ChannelOrder::kRGB), (std::vector<uint8_t>{200, 100, 50}));
  EXPECT_EQ(run(ChannelOrder::kBGR), (std::vector<uint8_t>{50, 100, 200}));
  // (77 * 200 + 150 * 100 + 29 * 50) >> 8 = 31850 >> 8 = 124.
  EXPECT_EQ(run(ChannelOrder::kGray), (std::vector<uint8_t>{124}));
}

TEST(Preprocess, EqualizationOfAConstantImageChangesNothing) {
  for (uint8_t value : {0, 1, 77, 255}) {
    PreprocessDef pre = ImageSpec(6, 4, ChannelOrder::kGray, ResizeMode::kNone);
    pre.equalize = true;
    const std::vector<uint8_t> px(24, value);
    EXPECT_EQ(RunImage(BuildOrFail(ImageModelBuilder(pre, DType::kUInt8)), px,
                       6, 4, 1),
              px)
        << int(value);
  }
}

TEST(Preprocess, EqualizationStretchesToTheFullRange) {
  PreprocessDef pre = ImageSpec(2, 2, ChannelOrder::kGray, ResizeMode::kNone);
  pre.equalize = true;
  // Two levels: the lower becomes 0, the upper 255.
  EXPECT_EQ(RunImage(BuildOrFail(ImageModelBuilder(pre, DType::kUInt8)),
                     {100, 100, 101, 100}, 2, 2, 1),
            (std::vector<uint8_t>{0, 0, 255, 0}));
  // Random images, every channel on its own, after a resize.
  for (ChannelOrder order : {ChannelOrder::kRGB, ChannelOrder::kGray}) {
    PreprocessDef big = ImageSpec(19, 23, order);
    big.equalize = true;
    const std::vector<uint8_t> px = RandomImage(40, 30, 3, 3);
    Expect8BitPipeline(big, px, 40, 30, 3,
                       std::string("equalize ") + ChannelOrderName(order));
  }
}

TEST(Preprocess, GammaOneIsTheIdentity) {
  PreprocessDef pre = ImageSpec(16, 16, ChannelOrder::kGray, ResizeMode::kNone);
  pre.gamma = 1.0f;
  std::vector<uint8_t> px(256);
  for (int v = 0; v < 256; ++v) px[v] = static_cast<uint8_t>(255 - v);
  EXPECT_EQ(RunImage(BuildOrFail(ImageModelBuilder(pre, DType::kUInt8)), px, 16,
                     16, 1),
            px);
}

TEST(Preprocess, GammaTableMatchesPow) {
  for (float gamma : {0.4545f, 0.5f, 2.2f, 3.0f, 0.01f, 40.0f}) {
    PreprocessDef pre =
        ImageSpec(16, 16, ChannelOrder::kGray, ResizeMode::kNone);
    pre.gamma = gamma;
    std::vector<uint8_t> px(256);
    for (int v = 0; v < 256; ++v) px[v] = static_cast<uint8_t>(v);
    const std::vector<uint8_t> got = RunImage(
        BuildOrFail(ImageModelBuilder(pre, DType::kUInt8)), px, 16, 16, 1);
    ASSERT_EQ(got.size(), 256u);
    for (int v = 0; v < 256; ++v) {
      bool tie = false;
      const int32_t want = RefGamma(v, gamma, &tie);
      if (tie) {
        EXPECT_NEAR(got[v], want, 1) << "gamma " << gamma << " v " << v;
      } else {
        EXPECT_EQ(got[v], want) << "gamma " << gamma << " v " << v;
      }
    }
  }
}

TEST(Preprocess, FullPipelineWithEqualizationAndGamma) {
  PreprocessDef pre = ImageSpec(12, 9, ChannelOrder::kBGR);
  pre.equalize = true;
  pre.gamma = 0.8f;
  const std::vector<uint8_t> px = RandomImage(30, 33, 4, 17);
  Expect8BitPipeline(pre, px, 30, 33, 4, "bgr equalize gamma");
}

// ---------------------------------------------------------------- outputs

TEST(Preprocess, FloatOutputIsTheNormalizedReal) {
  PreprocessDef pre = ImageSpec(5, 4, ChannelOrder::kRGB);
  pre.mean = {0.485f, 0.456f, 0.406f};
  pre.std = {0.229f, 0.224f, 0.225f};
  pre.gamma = 1.3f;
  pre.layout = Layout::kNCHW;
  const std::vector<uint8_t> px = RandomImage(9, 7, 3, 23);
  const std::vector<uint8_t> got = RunImage(
      BuildOrFail(ImageModelBuilder(pre, DType::kFloat32)), px, 9, 7, 3);
  Plane p8 = RefPipeline8(px, 9, 7, 3, pre);
  ASSERT_EQ(got.size(), p8.v.size() * 4);
  for (int32_t k = 0; k < 3; ++k) {
    for (int32_t y = 0; y < 5; ++y) {
      for (int32_t x = 0; x < 4; ++x) {
        float v;
        memcpy(&v, &got[4 * ((static_cast<size_t>(k) * 5 + y) * 4 + x)], 4);
        const float want =
            (static_cast<float>(p8.at(y, x, k)) / 255.0f - pre.mean[k]) /
            pre.std[k];
        EXPECT_EQ(v, want) << k << " " << y << " " << x;  // bit-exact
      }
    }
  }
}

TEST(Preprocess, Int8OutputIsQuantizedAsQuantizeDoes) {
  PreprocessDef pre = ImageSpec(6, 6, ChannelOrder::kGray, ResizeMode::kNone);
  pre.mean = {0.5f};
  pre.std = {0.25f};
  const QuantParams q = {0.0157f, -3};
  std::vector<uint8_t> px(36);
  for (int i = 0; i < 36; ++i) px[i] = static_cast<uint8_t>(i * 7);
  const std::vector<uint8_t> got = RunImage(
      BuildOrFail(ImageModelBuilder(pre, DType::kInt8, q)), px, 6, 6, 1);
  ASSERT_EQ(got.size(), 36u);
  int saturated = 0;
  for (int i = 0; i < 36; ++i) {
    const float real = (static_cast<float>(px[i]) / 255.0f - 0.5f) / 0.25f;
    const int32_t want = RefQuantize(real, q, -128, 127);
    saturated += want == -128 || want == 127;
    EXPECT_EQ(static_cast<int8_t>(got[i]), want) << i;
  }
  EXPECT_GT(saturated, 0);  // the range [-2, 2] exceeds what q covers
}

TEST(Preprocess, Uint8OutputWithMeanAndStd) {
  PreprocessDef pre = ImageSpec(4, 4, ChannelOrder::kGray, ResizeMode::kNone);
  pre.mean = {0.25f};
  pre.std = {0.5f};
  const QuantParams q = {0.01f, 60};
  std::vector<uint8_t> px(16);
  for (int i = 0; i < 16; ++i) px[i] = static_cast<uint8_t>(i * 17);
  const std::vector<uint8_t> got = RunImage(
      BuildOrFail(ImageModelBuilder(pre, DType::kUInt8, q)), px, 4, 4, 1);
  ASSERT_EQ(got.size(), 16u);
  for (int i = 0; i < 16; ++i) {
    const float real = (static_cast<float>(px[i]) / 255.0f - 0.25f) / 0.5f;
    EXPECT_EQ(got[i], RefQuantize(real, q, 0, 255)) << i;
  }
}

// -------------------------------------------------------------- features

std::vector<float> RefFeatures(const PreprocessDef& pre,
                               const std::vector<float>& x) {
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    y[i] = (x[i] - pre.mean[i]) / pre.std[i];
  }
  double norm = 0;
  for (float v : y) {
    if (pre.feature_norm == FeatureNorm::kL1) norm += fabs(v);
    if (pre.feature_norm == FeatureNorm::kL2) norm += double(v) * v;
    if (pre.feature_norm == FeatureNorm::kMax) {
      norm = std::max(norm, double(fabs(v)));
    }
  }
  if (pre.feature_norm == FeatureNorm::kL2) norm = sqrt(norm);
  if (pre.feature_norm != FeatureNorm::kNone && norm > 0) {
    for (float& v : y) v = static_cast<float>(v / norm);
  }
  return y;
}

std::vector<float> RunFeatures(const std::vector<uint8_t>& model,
                               const std::vector<float>& x) {
  LoadedModel m(model, 1);
  EXPECT_EQ(m.status, KILN_OK) << m.message();
  if (m.status != KILN_OK) return {};
  std::vector<float> item(x.size(), -99.0f);
  EXPECT_EQ(kiln_preprocess_features(m.ctx, x.data(), x.size(), item.data()),
            KILN_OK);
  return item;
}

TEST(Preprocess, FeaturesStandardizedAndNormalized) {
  const std::vector<float> x = {0.5f, -2.0f, 3.25f, 7.0f, -0.125f, 1e-3f};
  for (FeatureNorm norm : {FeatureNorm::kNone, FeatureNorm::kL1,
                           FeatureNorm::kL2, FeatureNorm::kMax}) {
    const PreprocessDef pre = FeatureSpec(6, norm);
    const std::vector<float> got =
        RunFeatures(BuildOrFail(FeatureModelBuilder(pre, DType::kFloat32)), x);
    const std::vector<float> want = RefFeatures(pre, x);
    ASSERT_EQ(got.size(), want.size());
    double sum = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_FLOAT_EQ(got[i], want[i]) << FeatureNormName(norm) << " " << i;
      sum += norm == FeatureNorm::kL2 ? double(got[i]) * got[i] : fabs(got[i]);
    }
    if (norm == FeatureNorm::kL1 || norm == FeatureNorm::kL2) {
      EXPECT_NEAR(sum, 1.0, 1e-6) << FeatureNormName(norm);
    }
  }
}

TEST(Preprocess, ZeroNormLeavesFeaturesAsTheyAre) {
  PreprocessDef pre = FeatureSpec(3, FeatureNorm::kL2);
  const std::vector<float> x = {pre.mean[0], pre.mean[1], pre.mean[2]};
  EXPECT_EQ(
      RunFeatures(BuildOrFail(FeatureModelBuilder(pre, DType::kFloat32)), x),
      (std::vector<float>{0.0f, 0.0f, 0.0f}));
}

TEST(Preprocess, QuantizedFeaturesAndNaN) {
  PreprocessDef pre = FeatureSpec(4, FeatureNorm::kMax);
  const QuantParams q = {0.01f, 5};
  LoadedModel m(BuildOrFail(FeatureModelBuilder(pre, DType::kInt8, q)), 1);
  ASSERT_EQ(m.status, KILN_OK) << m.message();
  const std::vector<float> x = {1.0f, -3.0f, 0.0f, 2.0f};
  int8_t item[4];
  ASSERT_EQ(kiln_preprocess_features(m.ctx, x.data(), 4, item), KILN_OK);
  const std::vector<float> y = RefFeatures(pre, x);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(item[i], RefQuantize(y[i], q, -128, 127)) << i;
  }
  // A NaN feature: no norm is applied and the NaN becomes the zero point.
  const std::vector<float> bad = {1.0f, NAN, 0.0f, 2.0f};
  ASSERT_EQ(kiln_preprocess_features(m.ctx, bad.data(), 4, item), KILN_OK);
  EXPECT_EQ(item[1], 5);
  EXPECT_EQ(item[0],
            RefQuantize((1.0f - pre.mean[0]) / pre.std[0], q, -128, 127));
}

// ------------------------------------------------------- argument errors

TEST(Preprocess, BadArgumentsGetStatusCodes) {
  LoadedModel m(BuildOrFail(ImageModelBuilder(
                    ImageSpec(4, 4, ChannelOrder::kRGB, ResizeMode::kNone),
                    DType::kUInt8)),
                1);
  ASSERT_EQ(m.status, KILN_OK) << m.message();
  const std::vector<uint8_t> px(4 * 4 * 3, 9);
  std::vector<uint8_t> item(48);
  EXPECT_EQ(kiln_preprocess_image(nullptr, px.data(), 4, 4, 3, item.data()),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_preprocess_image(m.ctx, nullptr, 4, 4, 3, item.data()),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_preprocess_image(m.ctx, px.data(), 4, 4, 3, nullptr),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_preprocess_image(m.ctx, px.data(), 0, 4, 3, item.data()),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_preprocess_image(m.ctx, px.data(), 4, -1, 3, item.data()),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_preprocess_image(m.ctx, px.data(), 4, 4, 0, item.data()),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_preprocess_image(m.ctx, px.data(), 4, 4, 5, item.data()),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_preprocess_image(m.ctx, px.data(), KILN_MAX_IMAGE_SIDE + 1, 1,
                                  1, item.data()),
            KILN_ERR_INVALID_ARGUMENT);
  // No resize: only the model's size.
  EXPECT_EQ(kiln_preprocess_image(m.ctx, px.data(), 3, 4, 3, item.data()),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_preprocess_image(m.ctx, px.data(), 4, 4, 3, item.data()),
            KILN_OK);
  // An image model has no feature preprocessing.
  const float f[48] = {0};
  EXPECT_EQ(kiln_preprocess_features(m.ctx, f, 48, item.data()),
            KILN_ERR_NO_PREPROCESS);

  // A feature model: count must match, and it takes no images.
  LoadedModel fm(BuildOrFail(FeatureModelBuilder(
                     FeatureSpec(5, FeatureNorm::kNone), DType::kFloat32)),
                 1);
  ASSERT_EQ(fm.status, KILN_OK) << fm.message();
  float out[5];
  EXPECT_EQ(kiln_preprocess_features(fm.ctx, f, 4, out),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_preprocess_features(fm.ctx, f, 0, out),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_preprocess_features(fm.ctx, nullptr, 5, out),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_preprocess_features(fm.ctx, f, 5, out), KILN_OK);
  EXPECT_EQ(kiln_preprocess_image(fm.ctx, px.data(), 4, 4, 3, out),
            KILN_ERR_NO_PREPROCESS);

  // A model without a spec.
  ModelBuilder plain;
  plain.AddOutput(plain.Quantize(
      plain.AddInput("x", DType::kUInt8, {2, 2, 1}, 1.0f / 255, 0), {0.1f, 0}));
  LoadedModel pm(BuildOrFail(plain), 1);
  ASSERT_EQ(pm.status, KILN_OK) << pm.message();
  kiln_preprocess_spec spec;
  EXPECT_EQ(kiln_get_preprocess_spec(pm.ctx, &spec), KILN_ERR_NO_PREPROCESS);
  EXPECT_EQ(kiln_preprocess_image(pm.ctx, px.data(), 2, 2, 1, item.data()),
            KILN_ERR_NO_PREPROCESS);
  EXPECT_STRNE(kiln_status_string(KILN_ERR_PREPROCESS), "unknown status");
  EXPECT_STRNE(kiln_status_string(KILN_ERR_NO_PREPROCESS), "unknown status");
}

TEST(Preprocess, HandFilledSpecsAreChecked) {
  LoadedModel m(BuildOrFail(ImageModelBuilder(
                    ImageSpec(3, 3, ChannelOrder::kGray), DType::kFloat32)),
                1);
  ASSERT_EQ(m.status, KILN_OK) << m.message();
  kiln_preprocess_spec spec;
  ASSERT_EQ(kiln_get_preprocess_spec(m.ctx, &spec), KILN_OK);
  EXPECT_EQ(kiln_check_preprocess_spec(&spec, nullptr), KILN_OK);
  const uint8_t px[4] = {0, 85, 170, 255};
  float item[9];
  ASSERT_EQ(kiln_preprocess_image_spec(&spec, px, 2, 2, 1, item), KILN_OK);
  // The spec alone, no context: the same bytes as through the model.
  float via_ctx[9];
  ASSERT_EQ(kiln_preprocess_image(m.ctx, px, 2, 2, 1, via_ctx), KILN_OK);
  EXPECT_EQ(memcmp(item, via_ctx, sizeof(item)), 0);

  const std::vector<
      std::pair<const char*, std::function<void(kiln_preprocess_spec*)>>>
      bad = {
          {"item bytes",
           [](kiln_preprocess_spec* s) { s->input.item_bytes++; }},
          {"int32 input",
           [](kiln_preprocess_spec* s) { s->input.dtype = KILN_INT32; }},
          {"rank", [](kiln_preprocess_spec* s) { s->input.rank = 7; }},
          {"dim 0", [](kiln_preprocess_spec* s) { s->input.dims[0] = 0; }},
          {"uint8 scale 0",
           [](kiln_preprocess_spec* s) {
             s->input.dtype = KILN_UINT8;
             s->input.item_bytes = 9;
             s->input.scale = 0.0f;
           }},
          {"uint8 zero point",
           [](kiln_preprocess_spec* s) {
             s->input.dtype = KILN_UINT8;
             s->input.item_bytes = 9;
             s->input.scale = 0.1f;
             s->input.zero_point = 256;
           }},
          {"mean without data",
           [](kiln_preprocess_spec* s) {
             s->mean = nullptr;
             s->mean_count = 1;
           }},
          {"negative count",
           [](kiln_preprocess_spec* s) { s->std_count = -1; }},
      };
  for (const auto& [name, mutate] : bad) {
    kiln_preprocess_spec s = spec;
    mutate(&s);
    kiln_error err;
    EXPECT_EQ(kiln_check_preprocess_spec(&s, &err), KILN_ERR_PREPROCESS)
        << name;
    EXPECT_EQ(kiln_preprocess_image_spec(&s, px, 2, 2, 1, item),
              KILN_ERR_PREPROCESS)
        << name;
  }
  EXPECT_EQ(kiln_check_preprocess_spec(nullptr, nullptr),
            KILN_ERR_INVALID_ARGUMENT);
}

// ---------------------------------------------------------- verification

struct Mutation {
  const char* name;
  bool features;  // mutate the feature model (else the image model)
  std::function<void(PreprocessDef&)> apply;
};

TEST(Preprocess, VerifierRejectsEachBadField) {
  const ModelDef image = FinishOrFail(ImageModelBuilder(
      [] {
        PreprocessDef p = ImageSpec(4, 5, ChannelOrder::kRGB);
        p.mean = {0.1f, 0.2f, 0.3f};
        p.std = {1.0f, 2.0f, 3.0f};
        return p;
      }(),
      DType::kFloat32));
  const ModelDef features = FinishOrFail(
      FeatureModelBuilder(FeatureSpec(6, FeatureNorm::kL2), DType::kFloat32));
  const Mutation mutations[] = {
      {"unknown layout", false,
       [](PreprocessDef& p) { p.layout = static_cast<Layout>(3); }},
      {"unknown channel order", false,
       [](PreprocessDef& p) {
         p.channel_order = static_cast<ChannelOrder>(4);
       }},
      {"unknown resize", false,
       [](PreprocessDef& p) { p.resize = static_cast<ResizeMode>(3); }},
      {"unknown feature norm", true,
       [](PreprocessDef& p) { p.feature_norm = static_cast<FeatureNorm>(4); }},
      {"image without channel order", false,
       [](PreprocessDef& p) { p.channel_order = ChannelOrder::kNone; }},
      {"gray for a 3-channel input", false,
       [](PreprocessDef& p) {
         p.channel_order = ChannelOrder::kGray;
         p.mean.resize(1);
         p.std.resize(1);
       }},
      {"two means", false, [](PreprocessDef& p) { p.mean.resize(2); }},
      {"four stds", false, [](PreprocessDef& p) { p.std.push_back(1.0f); }},
      {"mean NaN", false, [](PreprocessDef& p) { p.mean[1] = NAN; }},
      {"mean inf", true, [](PreprocessDef& p) { p.mean[5] = INFINITY; }},
      {"std zero", false, [](PreprocessDef& p) { p.std[2] = 0.0f; }},
      {"std -0", true, [](PreprocessDef& p) { p.std[0] = -0.0f; }},
      {"std inf", false, [](PreprocessDef& p) { p.std[0] = -INFINITY; }},
      {"std NaN", true, [](PreprocessDef& p) { p.std[3] = NAN; }},
      {"gamma zero", false, [](PreprocessDef& p) { p.gamma = 0.0f; }},
      {"gamma negative", false, [](PreprocessDef& p) { p.gamma = -1.0f; }},
      {"gamma NaN", false, [](PreprocessDef& p) { p.gamma = NAN; }},
      {"gamma inf", false, [](PreprocessDef& p) { p.gamma = INFINITY; }},
      {"height", false, [](PreprocessDef& p) { p.height = 5; }},
      {"width", false, [](PreprocessDef& p) { p.width = 4; }},
      {"height zero", false, [](PreprocessDef& p) { p.height = 0; }},
      {"swapped sides", false,
       [](PreprocessDef& p) { std::swap(p.height, p.width); }},
      {"NCHW for an HWC input", false,
       [](PreprocessDef& p) { p.layout = Layout::kNCHW; }},
      {"feature norm on an image", false,
       [](PreprocessDef& p) { p.feature_norm = FeatureNorm::kL1; }},
      {"features with resize", true,
       [](PreprocessDef& p) { p.resize = ResizeMode::kBilinear; }},
      {"features with gamma", true, [](PreprocessDef& p) { p.gamma = 2.0f; }},
      {"features with equalize", true,
       [](PreprocessDef& p) { p.equalize = true; }},
      {"features with channel order", true,
       [](PreprocessDef& p) { p.channel_order = ChannelOrder::kRGB; }},
      {"features with a size", true, [](PreprocessDef& p) { p.height = 6; }},
      {"five feature means", true, [](PreprocessDef& p) { p.mean.resize(5); }},
      {"image layout on features", true,
       [](PreprocessDef& p) {
         p.layout = Layout::kNHWC;
         p.channel_order = ChannelOrder::kGray;
         p.height = 2;
         p.width = 3;
         p.feature_norm = FeatureNorm::kNone;
       }},
  };
  for (const ModelDef* base : {&image, &features}) {
    // The unmutated models pass.
    LoadedModel ok(SerializeModel(*base), 1);
    EXPECT_EQ(ok.status, KILN_OK) << ok.message();
  }
  for (const Mutation& m : mutations) {
    ModelDef def = m.features ? features : image;
    m.apply(*def.preprocess);
    LoadedModel loaded(SerializeModel(def), 1);
    EXPECT_EQ(loaded.status, KILN_ERR_PREPROCESS)
        << m.name << ": " << loaded.message();
    EXPECT_NE(strstr(loaded.error.message, "preprocess"), nullptr) << m.name;
  }
  // The last one is right once its sizes fit: 2 x 3 gray is 6 elements.
  ModelDef fixed = features;
  fixed.preprocess->layout = Layout::kNHWC;
  fixed.preprocess->channel_order = ChannelOrder::kGray;
  fixed.preprocess->height = 2;
  fixed.preprocess->width = 3;
  fixed.preprocess->feature_norm = FeatureNorm::kNone;
  fixed.preprocess->mean.resize(1);
  fixed.preprocess->std.resize(1);
  LoadedModel loaded(SerializeModel(fixed), 1);
  EXPECT_EQ(loaded.status, KILN_OK) << loaded.message();
}

// ---------------------------------------------------------- file format

TEST(Preprocess, NewFieldsRoundTripAndRaiseTheFormatVersion) {
  PreprocessDef pre = ImageSpec(8, 6, ChannelOrder::kBGR, ResizeMode::kNearest);
  pre.equalize = true;
  pre.gamma = 2.2f;
  pre.mean = {0.5f, 0.5f, 0.5f};
  const ModelDef def = FinishOrFail(ImageModelBuilder(pre, DType::kFloat32));
  EXPECT_EQ(def.min_runtime_version, 2u);
  EXPECT_EQ(def.schema_version, 2u);
  const std::vector<uint8_t> bytes = SerializeModel(def);
  const testing::AlignedBytes aligned(bytes);
  ModelDef back;
  std::string error;
  ASSERT_TRUE(ParseModel(aligned.data(), aligned.size(), &back, &error))
      << error;
  ASSERT_TRUE(back.preprocess.has_value());
  EXPECT_EQ(back.preprocess->resize, ResizeMode::kNearest);
  EXPECT_TRUE(back.preprocess->equalize);
  EXPECT_EQ(back.preprocess->gamma, 2.2f);
  EXPECT_EQ(back.preprocess->channel_order, ChannelOrder::kBGR);
  EXPECT_EQ(back.preprocess->mean, pre.mean);
  EXPECT_EQ(back.min_runtime_version, 2u);
  EXPECT_EQ(SerializeModel(back), bytes);

  const ModelDef feat = FinishOrFail(
      FeatureModelBuilder(FeatureSpec(3, FeatureNorm::kL1), DType::kFloat32));
  const testing::AlignedBytes fbytes(SerializeModel(feat));
  ASSERT_TRUE(ParseModel(fbytes.data(), fbytes.size(), &back, &error)) << error;
  EXPECT_EQ(back.preprocess->feature_norm, FeatureNorm::kL1);
  EXPECT_EQ(back.min_runtime_version, 2u);
}

TEST(Preprocess, Format1SpecsKeepFormat1Bytes) {
  // A spec without format-2 fields stores none of them (so older readers
  // see exactly what they know) and keeps min_runtime_version 1.
  PreprocessDef pre = ImageSpec(2, 2, ChannelOrder::kGray, ResizeMode::kNone);
  const ModelDef def = FinishOrFail(ImageModelBuilder(pre, DType::kUInt8));
  EXPECT_EQ(def.min_runtime_version, 1u);
  EXPECT_EQ(def.schema_version, 1u);
  const testing::AlignedBytes bytes(SerializeModel(def));
  const fb::Preprocess* p = fb::GetModel(bytes.data())->preprocess();
  ASSERT_NE(p, nullptr);
  const auto* table = reinterpret_cast<const flatbuffers::Table*>(p);
  for (int field :
       {fb::Preprocess::VT_RESIZE, fb::Preprocess::VT_EQUALIZE,
        fb::Preprocess::VT_GAMMA, fb::Preprocess::VT_FEATURE_NORM}) {
    EXPECT_EQ(table->GetOptionalFieldOffset(
                  static_cast<flatbuffers::voffset_t>(field)),
              0)
        << field;
  }
}

TEST(Preprocess, ARuntimeOfFormat1RefusesFormat2Models) {
  // What a format-1 runtime does with the model: its version check fails.
  PreprocessDef pre = ImageSpec(2, 2, ChannelOrder::kGray);
  ModelDef def = FinishOrFail(ImageModelBuilder(pre, DType::kUInt8));
  ASSERT_EQ(def.min_runtime_version, 2u);
  def.min_runtime_version = KILN_RUNTIME_FORMAT_VERSION + 1;
  LoadedModel m(SerializeModel(def), 1);
  EXPECT_EQ(m.status, KILN_ERR_VERSION);
}

}  // namespace
}  // namespace kiln
