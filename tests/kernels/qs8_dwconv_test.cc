// The depthwise kernel of every runnable kernel path (scalar twin, AVX2,
// AVX-512 VNNI, NEON) against ref::Conv2D with groups == in_c == out_c: random
// shapes, kernels, strides, dilations and paddings, extreme zero points,
// multipliers, shifts, biases and clamps. Every output byte must match.
#include <gtest/gtest.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/dwconv.h"
#include "kernels/isa.h"
#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "tests/kernels/kernel_test_util.h"

namespace kiln {
namespace {

using test::RandInt;
using test::RandInt8;
using test::RandZeroPoint;

// The depthwise kernels this binary has and this CPU can run.
std::vector<KernelTable> DwTables() {
  std::vector<KernelTable> tables;
  const uint32_t mask = SupportedIsaMask();
  for (int i = 0; i < static_cast<int>(Isa::kCount); ++i) {
    KernelTable t;
    if (((mask >> i) & 1) == 0) continue;
    if (!GetKernelTable(static_cast<Isa>(i), &t) || t.dwconv == nullptr) {
      continue;
    }
    tables.push_back(t);
  }
  return tables;
}

struct AlignedFree {
  void operator()(uint8_t* p) const {
    ::operator delete[](p, std::align_val_t(64));
  }
};
using AlignedBytes = std::unique_ptr<uint8_t[], AlignedFree>;

AlignedBytes AllocAligned(size_t n) {
  return AlignedBytes(new (std::align_val_t(64)) uint8_t[n]);
}

struct DwShape {
  int32_t batch, in_h, in_w, c;
  int32_t kh, kw, sh, sw, dh, dw;
  int32_t pt, pl, pb, pr;
};

std::string Describe(const DwShape& s) {
  char buf[200];
  snprintf(buf, sizeof(buf),
           "b%d %dx%dx%d k%dx%d s%d,%d d%d,%d pad t%d l%d b%d r%d", s.batch,
           s.in_h, s.in_w, s.c, s.kh, s.kw, s.sh, s.sw, s.dh, s.dw, s.pt, s.pl,
           s.pb, s.pr);
  return buf;
}

// How requantization parameters are drawn.
enum class Requant {
  kRealistic,  // shifts in [-12, -2] (the kernels' fast path)
  kAny,        // any multiplier/shift, extremes often
  kMixed,      // per channel, half realistic, half any
};

int32_t RandMultiplier(std::mt19937& rng) {
  switch (RandInt(rng, 0, 4)) {
    case 0:
      return int32_t(1) << 30;
    case 1:
      return INT32_MAX;
    default:
      return RandInt(rng, int32_t(1) << 30, INT32_MAX);
  }
}

int8_t RandShift(std::mt19937& rng, bool realistic) {
  if (realistic) return static_cast<int8_t>(RandInt(rng, -12, -2));
  switch (RandInt(rng, 0, 7)) {
    case 0:
      return -31;
    case 1:
      return 30;
    case 2:
      return static_cast<int8_t>(RandInt(rng, -3, 1));  // around t = 32
    default:
      return static_cast<int8_t>(RandInt(rng, -31, 30));
  }
}

// Runs one shape with random data on every path and compares with the
// reference.
void CheckShape(const DwShape& s, std::mt19937& rng, Requant mode) {
  SCOPED_TRACE(Describe(s));
  Conv2DParams p{};
  p.batch = s.batch;
  p.in_h = s.in_h, p.in_w = s.in_w, p.in_c = s.c;
  p.out_c = s.c;
  p.groups = s.c;
  p.kernel_h = s.kh, p.kernel_w = s.kw;
  p.stride_h = s.sh, p.stride_w = s.sw;
  p.dilation_h = s.dh, p.dilation_w = s.dw;
  p.pad_top = s.pt, p.pad_left = s.pl;
  const int32_t ext_h = (s.kh - 1) * s.dh + 1, ext_w = (s.kw - 1) * s.dw + 1;
  p.out_h = (s.in_h + s.pt + s.pb - ext_h) / s.sh + 1;
  p.out_w = (s.in_w + s.pl + s.pr - ext_w) / s.sw + 1;
  ASSERT_GE(p.out_h, 1);
  ASSERT_GE(p.out_w, 1);
  p.input_zero_point = RandZeroPoint(rng);
  p.output_zero_point = RandZeroPoint(rng);
  switch (RandInt(rng, 0, 3)) {
    case 0:
      p.clamp = {-128, 127};
      break;
    case 1:  // ReLU-like
      p.clamp = {p.output_zero_point, 127};
      break;
    case 2: {  // narrow
      const int32_t a = RandInt(rng, -128, 127), b = RandInt(rng, -128, 127);
      p.clamp = {a < b ? a : b, a < b ? b : a};
      break;
    }
    default:
      p.clamp = {RandInt(rng, -128, -100), RandInt(rng, 100, 127)};
  }

  const size_t in_size = size_t(s.batch) * s.in_h * s.in_w * s.c;
  std::vector<int8_t> input(in_size);
  const bool saturated_input = RandInt(rng, 0, 9) == 0;
  for (auto& v : input) {
    v = saturated_input ? static_cast<int8_t>(RandInt(rng, 0, 1) ? 127 : -128)
                        : RandInt8(rng);
  }
  const int32_t taps = s.kh * s.kw;
  std::vector<int8_t> filter(size_t(s.c) * taps);
  const bool extreme_weights = RandInt(rng, 0, 4) == 0;
  for (auto& v : filter) {
    v = extreme_weights ? static_cast<int8_t>(RandInt(rng, 0, 1) ? 127 : -128)
                        : RandInt8(rng);
  }
  std::vector<int32_t> bias_storage(s.c);
  const int bias_mode = RandInt(rng, 0, 4);
  for (auto& v : bias_storage) {
    switch (bias_mode) {
      case 0:  // huge: the accumulator wraps
        v = RandInt(rng, 0, 1) ? INT32_MAX - RandInt(rng, 0, 1000)
                               : INT32_MIN + RandInt(rng, 0, 1000);
        break;
      case 1:
        v = RandInt(rng, INT32_MIN, INT32_MAX);
        break;
      default:
        v = RandInt(rng, -20000, 20000);
    }
  }
  const int32_t* bias = RandInt(rng, 0, 4) == 0 ? nullptr : bias_storage.data();

  const bool per_channel = RandInt(rng, 0, 2) != 0;
  const int32_t count = per_channel ? s.c : 1;
  std::vector<int32_t> mult(count);
  std::vector<int8_t> shift(count);
  for (int32_t i = 0; i < count; ++i) {
    const bool realistic = mode == Requant::kRealistic ||
                           (mode == Requant::kMixed && RandInt(rng, 0, 1) == 0);
    mult[i] = RandMultiplier(rng);
    shift[i] = RandShift(rng, realistic);
    if (!realistic && RandInt(rng, 0, 15) == 0) {
      mult[i] = 0;  // underflowed real multiplier
      shift[i] = 0;
    }
  }
  p.requant = {mult.data(), shift.data(), count};

  const size_t out_size = size_t(s.batch) * p.out_h * p.out_w * s.c;
  std::vector<int8_t> expected(out_size);
  ref::Conv2D(p, input.data(), filter.data(), bias, expected.data());

  AlignedBytes packed = AllocAligned(PackedDwBytes(s.c, s.kh, s.kw));
  const PackedDw* w =
      PackDw(s.c, s.kh, s.kw, filter.data(), bias, p.requant, packed.get());
  // Exact size: the sanitizer build catches any overrun.
  AlignedBytes scratch = AllocAligned(DwScratchBytes(p));
  constexpr size_t kGuard = 64;
  for (const KernelTable& t : DwTables()) {
    SCOPED_TRACE(IsaName(t.isa));
    std::vector<int8_t> out(out_size + kGuard, int8_t(0x5a));
    // The requant in p must not be used: give the kernel a copy without it.
    Conv2DParams kp = p;
    kp.requant = {nullptr, nullptr, 0};
    t.dwconv(kp, input.data(), *w, out.data(), scratch.get());
    for (size_t i = 0; i < kGuard; ++i) {
      ASSERT_EQ(out[out_size + i], int8_t(0x5a)) << "wrote past the output";
    }
    out.resize(out_size);
    if (out != expected) {
      size_t i = 0;
      while (out[i] == expected[i]) ++i;
      const size_t pixel = i / s.c;
      ADD_FAILURE() << "first mismatch at byte " << i << " (pixel " << pixel
                    << ", channel " << i % s.c << "): got " << int(out[i])
                    << ", expected " << int(expected[i]);
    }
  }
}

TEST(Qs8DwconvTest, HasPaths) {
  // The scalar twin is always present; report the others.
  const std::vector<KernelTable> tables = DwTables();
  ASSERT_FALSE(tables.empty());
  std::string names;
  for (const KernelTable& t : tables)
    names += std::string(IsaName(t.isa)) + " ";
  RecordProperty("paths", names);
}

TEST(Qs8DwconvTest, Blocknet) {
  // blocknet's depthwise layers: 8x8, 3/32/64 channels, 3x3, pad 1.
  std::mt19937 rng(401);
  for (int32_t c : {3, 32, 64}) {
    for (Requant mode : {Requant::kRealistic, Requant::kAny}) {
      CheckShape({3, 8, 8, c, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, rng, mode);
    }
  }
}

TEST(Qs8DwconvTest, Channels3x3) {
  std::mt19937 rng(402);
  for (int32_t c : {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 64, 65, 80}) {
    for (int32_t stride : {1, 2}) {
      const Requant mode = c % 2 ? Requant::kMixed : Requant::kRealistic;
      CheckShape({2, 7, 9, c, 3, 3, stride, stride, 1, 1, 1, 1, 1, 1}, rng,
                 mode);
      CheckShape({1, 5, 6, c, 3, 3, stride, stride, 1, 1, 0, 0, 0, 0}, rng,
                 Requant::kAny);
    }
  }
}

TEST(Qs8DwconvTest, ThreeByThreePadOneChannelTiles) {
  // The AVX-512 kernel's 3x3 / stride 1 / padding 1 path for 16, 32, 64 and
  // 64n channels (qs8_dwconv_3x3p1_64c__avx512vnni.cc): rows of every length
  // (partial last chunks, one position per vector or several), one-row and
  // one-column images, wide rows that fall back to the general kernel, and
  // every requantization form, zero point and clamp CheckShape draws.
  std::mt19937 rng(406);
  for (int32_t c : {16, 32, 64, 128, 192}) {
    for (int iter = 0; iter < 12; ++iter) {
      const int32_t h = iter < 2 ? 1 + iter : RandInt(rng, 1, 12);
      const int32_t w = iter == 2 ? 1 : (iter == 3 ? 70 : RandInt(rng, 1, 12));
      CheckShape({RandInt(rng, 1, 3), h, w, c, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
                 rng, static_cast<Requant>(RandInt(rng, 0, 2)));
    }
  }
}

TEST(Qs8DwconvTest, Kernels) {
  std::mt19937 rng(403);
  const int32_t kernels[][2] = {{1, 1}, {3, 3}, {5, 5}, {3, 1},
                                {1, 3}, {2, 2}, {7, 7}, {4, 3}};
  for (const auto& k : kernels) {
    for (int32_t c : {1, 3, 31, 32, 33, 64, 65}) {
      for (int32_t dil : {1, 2}) {
        const int32_t ext_h = (k[0] - 1) * dil + 1;
        const int32_t ext_w = (k[1] - 1) * dil + 1;
        DwShape s{RandInt(rng, 1, 3),
                  RandInt(rng, 1, 10),
                  RandInt(rng, 1, 10),
                  c,
                  k[0],
                  k[1],
                  RandInt(rng, 1, 2),
                  RandInt(rng, 1, 2),
                  dil,
                  dil,
                  RandInt(rng, 0, ext_h - 1),
                  RandInt(rng, 0, ext_w - 1),
                  0,
                  0};
        // Bottom/right padding so that at least one window fits.
        s.pb = std::max(0, ext_h - s.in_h - s.pt) + RandInt(rng, 0, ext_h - 1);
        s.pr = std::max(0, ext_w - s.in_w - s.pl) + RandInt(rng, 0, ext_w - 1);
        CheckShape(s, rng, static_cast<Requant>(RandInt(rng, 0, 2)));
      }
    }
  }
}

TEST(Qs8DwconvTest, RandomShapes) {
  std::mt19937 rng(404);
  const int32_t channels[] = {1, 3, 31, 32, 33, 64, 65, 80, 5, 12, 16, 24};
  for (int iter = 0; iter < 160; ++iter) {
    DwShape s;
    s.batch = RandInt(rng, 1, 3);
    s.c = channels[RandInt(rng, 0, 11)];
    s.kh = RandInt(rng, 1, 5);
    s.kw = RandInt(rng, 1, 5);
    s.sh = RandInt(rng, 1, 3);
    s.sw = RandInt(rng, 1, 3);
    s.dh = RandInt(rng, 1, 3);
    s.dw = RandInt(rng, 1, 3);
    const int32_t ext_h = (s.kh - 1) * s.dh + 1, ext_w = (s.kw - 1) * s.dw + 1;
    s.in_h = RandInt(rng, 1, 12);
    s.in_w = RandInt(rng, 1, 12);
    // Padding up to beyond the window: whole windows in the padding.
    s.pt = RandInt(rng, 0, ext_h + 1);
    s.pl = RandInt(rng, 0, ext_w + 1);
    s.pb = std::max(0, ext_h - s.in_h - s.pt) + RandInt(rng, 0, ext_h + 1);
    s.pr = std::max(0, ext_w - s.in_w - s.pl) + RandInt(rng, 0, ext_w + 1);
    CheckShape(s, rng, static_cast<Requant>(RandInt(rng, 0, 2)));
  }
}

TEST(Qs8DwconvTest, RandomShapesLargeImages) {
  // Wide images: the x86 kernels keep only kernel_h converted rows (row
  // mode) instead of the whole padded image once it passes 64 KiB; row reuse
  // across output rows with any stride and dilation.
  std::mt19937 rng(406);
  const int32_t channels[] = {1, 3, 16, 31, 32, 33, 64, 65};
  for (int iter = 0; iter < 24; ++iter) {
    DwShape s;
    s.batch = RandInt(rng, 1, 2);
    s.c = channels[RandInt(rng, 0, 7)];
    s.kh = RandInt(rng, 1, 4);
    s.kw = RandInt(rng, 1, 4);
    s.sh = RandInt(rng, 1, 2);
    s.sw = RandInt(rng, 1, 2);
    s.dh = RandInt(rng, 1, 2);
    s.dw = RandInt(rng, 1, 2);
    const int32_t ext_h = (s.kh - 1) * s.dh + 1, ext_w = (s.kw - 1) * s.dw + 1;
    s.in_h = RandInt(rng, 5, 9);
    s.in_w = RandInt(rng, 300, 400) / (s.c > 32 ? 2 : 1);
    s.pt = RandInt(rng, 0, ext_h);
    s.pl = RandInt(rng, 0, ext_w);
    s.pb = std::max(0, ext_h - s.in_h - s.pt) + RandInt(rng, 0, ext_h);
    s.pr = RandInt(rng, 0, ext_w);
    CheckShape(s, rng, static_cast<Requant>(RandInt(rng, 0, 2)));
  }
}

TEST(Qs8DwconvTest, SizesAndLargeInputs) {
  std::mt19937 rng(405);
  // 1x1 images with and without padding.
  CheckShape({3, 1, 1, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, rng, Requant::kAny);
  CheckShape({2, 1, 1, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, rng, Requant::kAny);
  CheckShape({1, 1, 1, 65, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2}, rng, Requant::kAny);
  // A wide row (many positions per output row) and 56x56 layers.
  CheckShape({1, 3, 70, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, rng, Requant::kMixed);
  CheckShape({1, 56, 56, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, rng,
             Requant::kRealistic);
  CheckShape({1, 56, 56, 32, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1}, rng,
             Requant::kMixed);
  CheckShape({1, 28, 28, 64, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2}, rng,
             Requant::kRealistic);
}

}  // namespace
}  // namespace kiln
