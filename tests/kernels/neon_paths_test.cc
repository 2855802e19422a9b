// Exactness of the AArch64 kernel paths (kNeon, kNeonDot) against the
// reference kernels, byte for byte: GEMM through PackGemm (int8 rows) and
// the Conv2D driver, depthwise through PackDw, Add, MaxPool2D,
// AveragePool2D, GlobalAveragePool, and the NEON requantization itself.
// Compiled only for AArch64; elsewhere this file is empty.
//
// scripts/test_arm.sh runs this binary under QEMU with several CPU models
// and reads the "[kiln-isa]" lines it prints: which paths the CPU reports
// as runnable and which paths each test actually exercised. KILN_TEST_QUICK=1
// (set by that script: QEMU is slow) runs fewer random cases.
#if defined(__aarch64__)

#include <gtest/gtest.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/driver/drivers.h"
#include "kernels/dwconv.h"
#include "kernels/gemm.h"
#include "kernels/isa.h"
#include "kernels/qs8_gemm/requant_neon.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/requant.h"

namespace kiln {
namespace {

constexpr Isa kNeonPaths[] = {Isa::kNeon, Isa::kNeonDot};

bool Quick() {
  const char* q = getenv("KILN_TEST_QUICK");
  return q != nullptr && q[0] != '\0' && strcmp(q, "0") != 0;
}

// Random cases per path: fewer under emulation.
int Cases(int full) { return Quick() ? (full + 3) / 4 : full; }

bool Runnable(Isa isa) {
  return (SupportedIsaMask() & (uint32_t(1) << static_cast<int>(isa))) != 0;
}

// The table of a runnable path, or false (and a note) if it cannot run here.
bool TableFor(Isa isa, const char* op, KernelTable* table) {
  if (!Runnable(isa)) {
    printf("[kiln-isa] not runnable here, skipped: %s %s\n", IsaName(isa), op);
    return false;
  }
  EXPECT_TRUE(GetKernelTable(isa, table)) << IsaName(isa);
  printf("[kiln-isa] exercised %s: %s\n", IsaName(isa), op);
  return true;
}

struct FreeDeleter {
  void operator()(void* p) const { free(p); }
};
using Buffer = std::unique_ptr<uint8_t, FreeDeleter>;

// 64-byte aligned, `bytes` long (rounded up), filled with `fill`.
Buffer AlignedBuffer(size_t bytes, uint8_t fill = 0) {
  const size_t n = (bytes + 63) / 64 * 64 + 64;
  Buffer b(static_cast<uint8_t*>(aligned_alloc(64, n)));
  memset(b.get(), fill, n);
  return b;
}

int32_t RandInt(std::mt19937& rng, int32_t lo, int32_t hi) {
  return std::uniform_int_distribution<int32_t>(lo, hi)(rng);
}

int8_t RandInt8(std::mt19937& rng) {
  return static_cast<int8_t>(RandInt(rng, -128, 127));
}

int32_t RandZeroPoint(std::mt19937& rng) {
  switch (RandInt(rng, 0, 3)) {
    case 0:
      return -128;
    case 1:
      return 127;
    default:
      return RandInt(rng, -128, 127);
  }
}

// int8 data; sometimes all one extreme value (worst case for int16 sums).
std::vector<int8_t> RandData(std::mt19937& rng, size_t n) {
  std::vector<int8_t> v(n);
  const int mode = RandInt(rng, 0, 7);
  for (auto& x : v) {
    x = mode == 0 ? int8_t(-128) : mode == 1 ? int8_t(127) : RandInt8(rng);
  }
  return v;
}

ClampParams RandClamp(std::mt19937& rng, int32_t zero_point) {
  switch (RandInt(rng, 0, 4)) {
    case 0:  // ReLU
      return {zero_point, 127};
    case 1: {  // ReLU6-like
      const int32_t hi = zero_point + RandInt(rng, 0, 60);
      return {zero_point, hi > 127 ? 127 : hi};
    }
    case 2: {
      const int32_t lo = RandInt(rng, -128, 127);
      return {lo, RandInt(rng, lo, 127)};
    }
    default:
      return {-128, 127};
  }
}

// A multiplier/shift pair: mostly useful scales, often the extremes.
void RandMultiplier(std::mt19937& rng, int32_t useful_lo, int32_t useful_hi,
                    int32_t* multiplier, int32_t* shift) {
  switch (RandInt(rng, 0, 7)) {
    case 0:
      *multiplier = 0;
      *shift = 0;
      return;
    case 1:
      *multiplier = kMinMultiplier;
      *shift = RandInt(rng, kMinShift, kMaxShift);
      return;
    case 2:
      *multiplier = INT32_MAX;
      *shift = RandInt(rng, kMinShift, kMaxShift);
      return;
    case 3:  // 2^30 * 2^(shift-31): exact ties at every other accumulator
      *multiplier = kMinMultiplier;
      *shift = RandInt(rng, -12, 0);
      return;
    case 4:
      *multiplier = RandInt(rng, kMinMultiplier, INT32_MAX);
      *shift = RandInt(rng, 0, 1) ? kMinShift : kMaxShift;
      return;
    default:
      *multiplier = RandInt(rng, kMinMultiplier, INT32_MAX);
      *shift = RandInt(rng, useful_lo, useful_hi);
  }
}

struct Requant {
  std::vector<int32_t> multiplier;
  std::vector<int8_t> shift;
  RequantParams params() const {
    return {multiplier.data(), shift.data(),
            static_cast<int32_t>(multiplier.size())};
  }
};

Requant RandRequant(std::mt19937& rng, int32_t channels, int32_t useful_lo,
                    int32_t useful_hi) {
  const int32_t count = RandInt(rng, 0, 1) ? channels : 1;
  Requant r;
  r.multiplier.resize(count);
  r.shift.resize(count);
  for (int32_t i = 0; i < count; ++i) {
    int32_t s = 0;
    RandMultiplier(rng, useful_lo, useful_hi, &r.multiplier[i], &s);
    r.shift[i] = static_cast<int8_t>(s);
  }
  return r;
}

// Bias: none, moderate, or extreme (wrap-around in the accumulator).
std::vector<int32_t> RandBias(std::mt19937& rng, int32_t n, bool* present) {
  std::vector<int32_t> b(n);
  const int mode = RandInt(rng, 0, 4);
  *present = mode != 0;
  for (auto& v : b) {
    switch (mode) {
      case 1:
        v = RandInt(rng, INT32_MIN, INT32_MAX);
        break;
      case 2:
        v = RandInt(rng, 0, 1) ? INT32_MAX - RandInt(rng, 0, 1000)
                               : INT32_MIN + RandInt(rng, 0, 1000);
        break;
      default:
        v = RandInt(rng, -(1 << 20), 1 << 20);
    }
  }
  return b;
}

std::string ShapeString(const char* what, std::initializer_list<int32_t> v) {
  std::string s = what;
  for (int32_t x : v) s += " " + std::to_string(x);
  return s;
}

// ---------------------------------------------------------------------------
// Requantization: the NEON form equals kernels/requant.h for every shift.

TEST(NeonRequant, MatchesScalarForEveryShift) {
  std::mt19937 rng(7);
  std::vector<int32_t> accs = {
      INT32_MIN, INT32_MIN + 1, -65536,        -3,       -2, -1, 0, 1, 2,
      3,         65535,         INT32_MAX - 1, INT32_MAX};
  for (int i = 0; i < 19; ++i)
    accs.push_back(RandInt(rng, INT32_MIN, INT32_MAX));
  const int32_t mults[] = {0, kMinMultiplier, kMinMultiplier + 1, INT32_MAX,
                           RandInt(rng, kMinMultiplier, INT32_MAX)};
  for (int32_t m : mults) {
    for (int32_t shift = kMinShift; shift <= kMaxShift; ++shift) {
      const neon::ScalarRequant r = neon::MakeScalarRequant(m, shift);
      for (size_t i = 0; i < accs.size(); i += 4) {
        int32_t in[4], out[4], per_lane[4];
        for (int j = 0; j < 4; ++j) in[j] = accs[(i + j) % accs.size()];
        vst1q_s32(out,
                  neon::MultiplyByQuantizedMultiplierScalar(vld1q_s32(in), r));
        vst1q_s32(per_lane,
                  neon::MultiplyByQuantizedMultiplierPerLane(
                      vld1q_s32(in), vdupq_n_s32(m), vdupq_n_s32(shift)));
        for (int j = 0; j < 4; ++j) {
          const int32_t want = MultiplyByQuantizedMultiplier(in[j], m, shift);
          ASSERT_EQ(out[j], want) << in[j] << " * " << m << " shift " << shift;
          ASSERT_EQ(per_lane[j], want)
              << in[j] << " * " << m << " shift " << shift;
        }
      }
    }
  }
}

TEST(NeonRequant, OutputStageMatchesRequantize) {
  std::mt19937 rng(8);
  for (int it = 0; it < 2000; ++it) {
    const int32_t zp = RandZeroPoint(rng);
    const ClampParams clamp = RandClamp(rng, zp);
    int32_t m, s;
    RandMultiplier(rng, -20, 5, &m, &s);
    int32_t acc[16];
    for (auto& a : acc) {
      a = RandInt(rng, 0, 3) == 0 ? RandInt(rng, INT32_MIN, INT32_MAX)
                                  : RandInt(rng, -100000, 100000);
    }
    int32_t mult16[16], shift16[16];
    for (int j = 0; j < 16; ++j) {
      mult16[j] = m;
      shift16[j] = s;
    }
    int8_t got[16];
    vst1q_s8(got, neon::RequantizePerChannel16(
                      vld1q_s32(acc), vld1q_s32(acc + 4), vld1q_s32(acc + 8),
                      vld1q_s32(acc + 12), mult16, shift16,
                      neon::MakeOutputStage(zp, clamp.min, clamp.max)));
    for (int j = 0; j < 16; ++j) {
      ASSERT_EQ(got[j], Requantize(acc[j], m, s, zp, clamp.min, clamp.max))
          << acc[j] << " m " << m << " s " << s << " zp " << zp;
    }
  }
}

// ---------------------------------------------------------------------------
// GEMM (FullyConnected shapes) against ref::FullyConnected.

struct GemmShape {
  int32_t rows, n, k;
};

void CheckGemm(const KernelTable& table, std::mt19937& rng,
               const GemmShape& s) {
  const std::vector<int8_t> x = RandData(rng, size_t(s.rows) * s.k);
  const std::vector<int8_t> w = RandData(rng, size_t(s.n) * s.k);
  bool has_bias = false;
  const std::vector<int32_t> bias = RandBias(rng, s.n, &has_bias);
  const Requant rq = RandRequant(rng, s.n, -22, -4);
  FullyConnectedParams p;
  p.batch = s.rows;
  p.in_features = s.k;
  p.out_features = s.n;
  p.input_zero_point = RandZeroPoint(rng);
  p.output_zero_point = RandZeroPoint(rng);
  p.clamp = RandClamp(rng, p.output_zero_point);
  p.requant = rq.params();
  std::vector<int8_t> want(size_t(s.rows) * s.n);
  ref::FullyConnected(p, x.data(), w.data(), has_bias ? bias.data() : nullptr,
                      want.data());

  Buffer packed = AlignedBuffer(PackedGemmBytes(s.n, s.k));
  const PackedGemm* pw =
      PackGemm(s.n, s.k, w.data(), has_bias ? bias.data() : nullptr, p.requant,
               p.input_zero_point, table.gemm_input, packed.get());
  // Rows in the kernel's encoding, zero beyond k, round_up(rows, 16) rows;
  // the rows past `rows` hold garbage the kernel may read but not use.
  const size_t stride = GemmRowStride(s.k);
  const int32_t rows_alloc = (s.rows + 15) / 16 * 16;
  Buffer a = AlignedBuffer(stride * rows_alloc, 0x5a);
  for (int32_t m = 0; m < s.rows; ++m) {
    uint8_t* row = a.get() + m * stride;
    for (int32_t kk = 0; kk < s.k; ++kk) {
      const uint8_t raw = static_cast<uint8_t>(x[size_t(m) * s.k + kk]);
      row[kk] = table.gemm_input == GemmInput::kInt8 ? raw : raw ^ 0x80u;
    }
    memset(row + s.k, 0, stride - s.k);
  }
  // Output rows wider than n: the kernel must not touch the gap.
  const size_t out_stride = s.n + RandInt(rng, 0, 9);
  std::vector<int8_t> got(out_stride * s.rows, int8_t(0x77));
  Buffer scratch = AlignedBuffer(kGemmKernelScratchBytes);
  const GemmOutput out{got.data(), out_stride, p.output_zero_point, p.clamp};
  table.gemm(GemmRows{s.rows, a.get(), stride}, *pw, out, scratch.get());
  for (int32_t m = 0; m < s.rows; ++m) {
    ASSERT_EQ(memcmp(got.data() + m * out_stride, want.data() + m * s.n, s.n),
              0)
        << IsaName(table.isa) << " row " << m << " of "
        << ShapeString("rows/n/k", {s.rows, s.n, s.k});
    for (size_t j = s.n; j < out_stride; ++j) {
      ASSERT_EQ(got[m * out_stride + j], int8_t(0x77)) << "wrote past n";
    }
  }
}

TEST(NeonPaths, ReportsRunnablePaths) {
  std::string names;
  for (int i = 0; i < static_cast<int>(Isa::kCount); ++i) {
    if (Runnable(static_cast<Isa>(i))) {
      names +=
          std::string(names.empty() ? "" : " ") + IsaName(static_cast<Isa>(i));
    }
  }
  printf("[kiln-isa] runnable: %s\n", names.c_str());
  printf("[kiln-isa] best: %s\n", IsaName(BestIsa(SupportedIsaMask())));
  // Advanced SIMD is part of AArch64: the plain NEON path always runs.
  EXPECT_TRUE(Runnable(Isa::kNeon));
  KernelTable t;
  for (Isa isa : kNeonPaths) {
    ASSERT_TRUE(GetKernelTable(isa, &t)) << IsaName(isa);
    EXPECT_EQ(t.gemm_input, GemmInput::kInt8);
    EXPECT_NE(t.gemm, nullptr);
    EXPECT_NE(t.dwconv, nullptr);
  }
}

TEST(NeonPaths, GemmFixedShapes) {
  // Tails of every kind: rows vs the 2- and 4-row tiles, n vs 16, k vs the
  // 4-k group and the 16-k step; the model shapes of blocknet and mlp160.
  const GemmShape shapes[] = {
      {1, 1, 1},    {1, 16, 4},    {2, 17, 3},    {3, 15, 5},  {4, 16, 16},
      {5, 33, 17},  {7, 8, 64},    {8, 64, 3},    {9, 32, 32}, {16, 64, 64},
      {17, 31, 65}, {1, 256, 160}, {1, 128, 256}, {1, 8, 128}, {64, 32, 3},
      {64, 64, 32}, {33, 64, 147}, {6, 1000, 12}, {2, 3, 300}, {13, 50, 47},
  };
  for (Isa isa : kNeonPaths) {
    KernelTable table;
    if (!TableFor(isa, "gemm (fixed shapes)", &table)) continue;
    std::mt19937 rng(11);
    for (const GemmShape& s : shapes) {
      const int reps = Quick() ? 1 : 3;
      for (int r = 0; r < reps; ++r) CheckGemm(table, rng, s);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(NeonPaths, GemmRandomShapes) {
  for (Isa isa : kNeonPaths) {
    KernelTable table;
    if (!TableFor(isa, "gemm (random shapes)", &table)) continue;
    std::mt19937 rng(12);
    for (int it = 0; it < Cases(80); ++it) {
      const GemmShape s{RandInt(rng, 1, 40), RandInt(rng, 1, 70),
                        RandInt(rng, 1, RandInt(rng, 0, 3) ? 80 : 600)};
      CheckGemm(table, rng, s);
      if (HasFatalFailure()) return;
    }
  }
}

// Conv2D (groups == 1) through the ISA-independent im2col driver and the
// path's GEMM kernel, against ref::Conv2D.
TEST(NeonPaths, Conv2DThroughDriver) {
  for (Isa isa : kNeonPaths) {
    KernelTable table;
    if (!TableFor(isa, "conv2d gemm driver", &table)) continue;
    std::mt19937 rng(13);
    for (int it = 0; it < Cases(24); ++it) {
      Conv2DParams p;
      p.batch = RandInt(rng, 1, 2);
      p.in_h = RandInt(rng, 1, 9);
      p.in_w = RandInt(rng, 1, 9);
      p.in_c = RandInt(rng, 1, 20);
      p.out_c = RandInt(rng, 1, 40);
      p.kernel_h = RandInt(rng, 1, 3);
      p.kernel_w = RandInt(rng, 1, 3);
      p.stride_h = RandInt(rng, 1, 2);
      p.stride_w = RandInt(rng, 1, 2);
      p.dilation_h = RandInt(rng, 1, 2);
      p.dilation_w = RandInt(rng, 1, 2);
      p.pad_top = RandInt(rng, 0, p.kernel_h - 1);
      p.pad_left = RandInt(rng, 0, p.kernel_w - 1);
      const int32_t eh = (p.kernel_h - 1) * p.dilation_h + 1;
      const int32_t ew = (p.kernel_w - 1) * p.dilation_w + 1;
      const int32_t span_h = p.in_h + 2 * p.pad_top - eh;
      const int32_t span_w = p.in_w + 2 * p.pad_left - ew;
      if (span_h < 0 || span_w < 0) continue;
      p.out_h = span_h / p.stride_h + 1;
      p.out_w = span_w / p.stride_w + 1;
      p.groups = 1;
      p.input_zero_point = RandZeroPoint(rng);
      p.output_zero_point = RandZeroPoint(rng);
      p.clamp = RandClamp(rng, p.output_zero_point);
      const int32_t k = p.kernel_h * p.kernel_w * p.in_c;
      const Requant rq = RandRequant(rng, p.out_c, -20, -4);
      p.requant = rq.params();
      const std::vector<int8_t> in =
          RandData(rng, size_t(p.batch) * p.in_h * p.in_w * p.in_c);
      const std::vector<int8_t> filter = RandData(rng, size_t(p.out_c) * k);
      bool has_bias = false;
      const std::vector<int32_t> bias = RandBias(rng, p.out_c, &has_bias);
      const size_t out_n = size_t(p.batch) * p.out_h * p.out_w * p.out_c;
      std::vector<int8_t> want(out_n), got(out_n);
      ref::Conv2D(p, in.data(), filter.data(), has_bias ? bias.data() : nullptr,
                  want.data());
      Buffer packed = AlignedBuffer(PackedGemmBytes(p.out_c, k));
      const PackedGemm* pw = PackGemm(
          p.out_c, k, filter.data(), has_bias ? bias.data() : nullptr,
          p.requant, p.input_zero_point, table.gemm_input, packed.get());
      Buffer scratch = AlignedBuffer(GemmDriverScratchBytes(k));
      RunConv2DGemm(table, p, in.data(), *pw, got.data(), scratch.get());
      ASSERT_EQ(memcmp(got.data(), want.data(), out_n), 0)
          << IsaName(isa) << " case " << it;
    }
  }
}

// ---------------------------------------------------------------------------
// Depthwise convolution through PackDw against ref::Conv2D.

void CheckDw(const KernelTable& table, std::mt19937& rng, Conv2DParams p) {
  p.out_c = p.in_c;
  p.groups = p.in_c;
  p.input_zero_point = RandZeroPoint(rng);
  p.output_zero_point = RandZeroPoint(rng);
  p.clamp = RandClamp(rng, p.output_zero_point);
  const Requant rq = RandRequant(rng, p.out_c, -16, -2);
  p.requant = rq.params();
  const int32_t taps = p.kernel_h * p.kernel_w;
  const std::vector<int8_t> in =
      RandData(rng, size_t(p.batch) * p.in_h * p.in_w * p.in_c);
  const std::vector<int8_t> filter = RandData(rng, size_t(p.in_c) * taps);
  bool has_bias = false;
  const std::vector<int32_t> bias = RandBias(rng, p.out_c, &has_bias);
  const size_t out_n = size_t(p.batch) * p.out_h * p.out_w * p.out_c;
  std::vector<int8_t> want(out_n), got(out_n + 64, int8_t(0x77));
  ref::Conv2D(p, in.data(), filter.data(), has_bias ? bias.data() : nullptr,
              want.data());
  Buffer packed = AlignedBuffer(PackedDwBytes(p.in_c, p.kernel_h, p.kernel_w));
  const PackedDw* pw =
      PackDw(p.in_c, p.kernel_h, p.kernel_w, filter.data(),
             has_bias ? bias.data() : nullptr, p.requant, packed.get());
  Buffer scratch = AlignedBuffer(DwScratchBytes(p), 0xa5);
  table.dwconv(p, in.data(), *pw, got.data(), scratch.get());
  ASSERT_EQ(memcmp(got.data(), want.data(), out_n), 0)
      << IsaName(table.isa)
      << ShapeString(" b/h/w/c/kh/kw/sh/sw/dh/dw/pt/pl/oh/ow",
                     {p.batch, p.in_h, p.in_w, p.in_c, p.kernel_h, p.kernel_w,
                      p.stride_h, p.stride_w, p.dilation_h, p.dilation_w,
                      p.pad_top, p.pad_left, p.out_h, p.out_w});
  for (size_t i = out_n; i < got.size(); ++i) {
    ASSERT_EQ(got[i], int8_t(0x77)) << "wrote past the output";
  }
}

// Output size for the given padding; false if no output pixel exists.
bool SetDwOutput(Conv2DParams* p, int32_t pad_bottom, int32_t pad_right) {
  const int32_t eh = (p->kernel_h - 1) * p->dilation_h + 1;
  const int32_t ew = (p->kernel_w - 1) * p->dilation_w + 1;
  const int32_t span_h = p->in_h + p->pad_top + pad_bottom - eh;
  const int32_t span_w = p->in_w + p->pad_left + pad_right - ew;
  if (span_h < 0 || span_w < 0) return false;
  p->out_h = span_h / p->stride_h + 1;
  p->out_w = span_w / p->stride_w + 1;
  return true;
}

Conv2DParams DwShape(int32_t batch, int32_t h, int32_t w, int32_t c, int32_t kh,
                     int32_t kw, int32_t stride, int32_t dil, int32_t pad) {
  Conv2DParams p{};
  p.batch = batch;
  p.in_h = h;
  p.in_w = w;
  p.in_c = c;
  p.kernel_h = kh;
  p.kernel_w = kw;
  p.stride_h = p.stride_w = stride;
  p.dilation_h = p.dilation_w = dil;
  p.pad_top = p.pad_left = pad;
  SetDwOutput(&p, pad, pad);
  return p;
}

TEST(NeonPaths, DepthwiseFixedShapes) {
  // blocknet's 3x3 pad-1 layers (3, 32, 64 channels), the 3x3 fast path with
  // channel tails and strides, and general kernels with dilation.
  const Conv2DParams shapes[] = {
      DwShape(3, 8, 8, 3, 3, 3, 1, 1, 1),
      DwShape(2, 8, 8, 32, 3, 3, 1, 1, 1),
      DwShape(2, 8, 8, 64, 3, 3, 1, 1, 1),
      DwShape(1, 9, 7, 17, 3, 3, 2, 1, 1),
      DwShape(1, 6, 11, 48, 3, 3, 1, 2, 2),
      DwShape(1, 9, 9, 33, 3, 3, 1, 3, 0),
      DwShape(1, 7, 7, 16, 5, 5, 1, 1, 2),
      DwShape(1, 9, 9, 40, 5, 3, 2, 2, 3),
      DwShape(2, 4, 4, 1, 1, 1, 1, 1, 0),
      DwShape(1, 12, 12, 24, 7, 7, 2, 1, 3),
      DwShape(1, 3, 3, 8, 3, 3, 1, 1, 4),
      DwShape(1, 10, 10, 96, 3, 3, 2, 1, 1),
  };
  for (Isa isa : kNeonPaths) {
    KernelTable table;
    if (!TableFor(isa, "depthwise (fixed shapes)", &table)) continue;
    std::mt19937 rng(21);
    for (const Conv2DParams& p : shapes) {
      CheckDw(table, rng, p);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(NeonPaths, DepthwiseRandomShapes) {
  for (Isa isa : kNeonPaths) {
    KernelTable table;
    if (!TableFor(isa, "depthwise (random shapes)", &table)) continue;
    std::mt19937 rng(22);
    int done = 0;
    while (done < Cases(80)) {
      Conv2DParams p{};
      p.batch = RandInt(rng, 1, 2);
      p.in_h = RandInt(rng, 1, 10);
      p.in_w = RandInt(rng, 1, 10);
      const int32_t channel_choices[] = {1,  2,  3,  7,  8,  15, 16,
                                         17, 31, 32, 33, 47, 64, 70};
      p.in_c = channel_choices[RandInt(rng, 0, 13)];
      const bool k3 = RandInt(rng, 0, 1) == 0;
      p.kernel_h = k3 ? 3 : RandInt(rng, 1, 5);
      p.kernel_w = k3 ? 3 : RandInt(rng, 1, 5);
      p.stride_h = RandInt(rng, 1, 3);
      p.stride_w = RandInt(rng, 1, 3);
      p.dilation_h = RandInt(rng, 1, 3);
      p.dilation_w = RandInt(rng, 1, 3);
      // Padding up to beyond the kernel extent (wider than the kernel_w
      // zero margins of the kernel's scratch rows).
      const int32_t eh = (p.kernel_h - 1) * p.dilation_h + 1;
      const int32_t ew = (p.kernel_w - 1) * p.dilation_w + 1;
      p.pad_top = RandInt(rng, 0, eh);
      p.pad_left = RandInt(rng, 0, ew);
      if (!SetDwOutput(&p, RandInt(rng, 0, eh), RandInt(rng, 0, ew))) continue;
      CheckDw(table, rng, p);
      if (HasFatalFailure()) return;
      ++done;
    }
  }
}

// ---------------------------------------------------------------------------
// Elementwise and pooling against the reference.

TEST(NeonPaths, Add) {
  for (Isa isa : kNeonPaths) {
    KernelTable table;
    if (!TableFor(isa, "add", &table)) continue;
    std::mt19937 rng(31);
    for (int it = 0; it < Cases(120); ++it) {
      AddParams p;
      p.size = RandInt(rng, 0, 3) == 0 ? 16 * RandInt(rng, 1, 8)
                                       : RandInt(rng, 1, 150);
      p.input1_zero_point = RandZeroPoint(rng);
      p.input2_zero_point = RandZeroPoint(rng);
      p.output_zero_point = RandZeroPoint(rng);
      p.left_shift = RandInt(rng, 0, 2) ? kAddLeftShift : RandInt(rng, 0, 20);
      // Input multipliers are <= 1 (scale / (2 * max scale)): shift <= 0.
      RandMultiplier(rng, -3, 0, &p.input1_multiplier, &p.input1_shift);
      RandMultiplier(rng, -3, 0, &p.input2_multiplier, &p.input2_shift);
      if (p.input1_shift > 0) p.input1_shift = 0;
      if (p.input2_shift > 0) p.input2_shift = 0;
      RandMultiplier(rng, -22, -10, &p.output_multiplier, &p.output_shift);
      p.clamp = RandClamp(rng, p.output_zero_point);
      const std::vector<int8_t> a = RandData(rng, p.size);
      const std::vector<int8_t> b = RandData(rng, p.size);
      std::vector<int8_t> want(p.size), got(p.size + 16, int8_t(0x77));
      ref::Add(p, a.data(), b.data(), want.data());
      table.add(p, a.data(), b.data(), got.data());
      ASSERT_EQ(memcmp(got.data(), want.data(), p.size), 0)
          << IsaName(isa) << " size " << p.size;
      for (int i = 0; i < 16; ++i) ASSERT_EQ(got[p.size + i], int8_t(0x77));
    }
  }
}

Pool2DParams RandPool(std::mt19937& rng, bool big_window) {
  Pool2DParams p;
  for (;;) {
    p.batch = RandInt(rng, 1, 2);
    p.in_h = RandInt(rng, 1, big_window ? 20 : 9);
    p.in_w = RandInt(rng, 1, big_window ? 20 : 9);
    const int32_t channel_choices[] = {1, 3, 8, 15, 16, 17, 32, 33, 64, 70};
    p.channels = channel_choices[RandInt(rng, 0, 9)];
    p.filter_h = big_window ? p.in_h : RandInt(rng, 1, 4);
    p.filter_w = big_window ? p.in_w : RandInt(rng, 1, 4);
    p.stride_h = RandInt(rng, 1, 3);
    p.stride_w = RandInt(rng, 1, 3);
    // Every window keeps at least one in-bounds tap (the verifier's rule):
    // padding below the filter size.
    p.pad_top = RandInt(rng, 0, p.filter_h - 1);
    p.pad_left = RandInt(rng, 0, p.filter_w - 1);
    const int32_t pad_bottom = RandInt(rng, 0, p.filter_h - 1);
    const int32_t pad_right = RandInt(rng, 0, p.filter_w - 1);
    const int32_t span_h = p.in_h + p.pad_top + pad_bottom - p.filter_h;
    const int32_t span_w = p.in_w + p.pad_left + pad_right - p.filter_w;
    if (span_h < 0 || span_w < 0) continue;
    p.out_h = span_h / p.stride_h + 1;
    p.out_w = span_w / p.stride_w + 1;
    const int32_t zp = RandZeroPoint(rng);
    p.clamp = RandClamp(rng, zp);
    return p;
  }
}

void CheckPool(const KernelTable& table, std::mt19937& rng, bool max,
               bool big_window) {
  const Pool2DParams p = RandPool(rng, big_window);
  const std::vector<int8_t> in =
      RandData(rng, size_t(p.batch) * p.in_h * p.in_w * p.channels);
  const size_t out_n = size_t(p.batch) * p.out_h * p.out_w * p.channels;
  std::vector<int8_t> want(out_n), got(out_n + 16, int8_t(0x77));
  if (max) {
    ref::MaxPool2D(p, in.data(), want.data());
    table.max_pool(p, in.data(), got.data());
  } else {
    ref::AveragePool2D(p, in.data(), want.data());
    table.average_pool(p, in.data(), got.data());
  }
  ASSERT_EQ(memcmp(got.data(), want.data(), out_n), 0)
      << IsaName(table.isa) << (max ? " max" : " avg")
      << ShapeString(
             " b/h/w/c/fh/fw/sh/sw/pt/pl",
             {p.batch, p.in_h, p.in_w, p.channels, p.filter_h, p.filter_w,
              p.stride_h, p.stride_w, p.pad_top, p.pad_left});
  for (int i = 0; i < 16; ++i) ASSERT_EQ(got[out_n + i], int8_t(0x77));
}

TEST(NeonPaths, MaxPool) {
  for (Isa isa : kNeonPaths) {
    KernelTable table;
    if (!TableFor(isa, "maxpool", &table)) continue;
    std::mt19937 rng(41);
    for (int it = 0; it < Cases(80); ++it) {
      CheckPool(table, rng, true, false);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(NeonPaths, AveragePool) {
  for (Isa isa : kNeonPaths) {
    KernelTable table;
    if (!TableFor(isa, "avgpool", &table)) continue;
    std::mt19937 rng(42);
    for (int it = 0; it < Cases(80); ++it) {
      // Some windows of more than 256 taps (int16 partial sums flushed).
      CheckPool(table, rng, false, it % 8 == 7);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(NeonPaths, AveragePoolHugeWindow) {
  // 257 x 257 = 66049 taps: more than the float division handles exactly,
  // so the kernel divides lane by lane.
  for (Isa isa : kNeonPaths) {
    KernelTable table;
    if (!TableFor(isa, "avgpool (huge window)", &table)) continue;
    std::mt19937 rng(44);
    Pool2DParams p;
    p.batch = 1;
    p.in_h = p.in_w = p.filter_h = p.filter_w = 257;
    p.channels = 16;
    p.out_h = p.out_w = 1;
    p.stride_h = p.stride_w = 1;
    p.pad_top = p.pad_left = 0;
    p.clamp = {-128, 127};
    for (int mode = 0; mode < 3; ++mode) {
      std::vector<int8_t> in(size_t(p.in_h) * p.in_w * p.channels);
      for (auto& v : in) {
        v = mode == 0 ? int8_t(-128) : mode == 1 ? int8_t(127) : RandInt8(rng);
      }
      int8_t want[16], got[16];
      ref::AveragePool2D(p, in.data(), want);
      table.average_pool(p, in.data(), got);
      ASSERT_EQ(memcmp(got, want, 16), 0) << IsaName(isa) << " mode " << mode;
    }
  }
}

TEST(NeonPaths, GlobalAveragePool) {
  for (Isa isa : kNeonPaths) {
    KernelTable table;
    if (!TableFor(isa, "gavgpool", &table)) continue;
    std::mt19937 rng(43);
    for (int it = 0; it < Cases(60); ++it) {
      GlobalAveragePoolParams p;
      p.batch = RandInt(rng, 1, 3);
      // Up to 24 x 24 = 576 pixels: beyond 256, the int16 sums are flushed.
      p.h = RandInt(rng, 1, it % 4 == 3 ? 24 : 8);
      p.w = RandInt(rng, 1, it % 4 == 3 ? 24 : 8);
      const int32_t channel_choices[] = {1, 3, 8, 15, 16, 17, 32, 33, 64, 70};
      p.channels = channel_choices[RandInt(rng, 0, 9)];
      p.input_zero_point = RandZeroPoint(rng);
      p.output_zero_point = RandZeroPoint(rng);
      RandMultiplier(rng, -12, -4, &p.multiplier, &p.shift);
      const std::vector<int8_t> in =
          RandData(rng, size_t(p.batch) * p.h * p.w * p.channels);
      const size_t out_n = size_t(p.batch) * p.channels;
      std::vector<int8_t> want(out_n), got(out_n + 16, int8_t(0x77));
      ref::GlobalAveragePool(p, in.data(), want.data());
      table.global_average_pool(p, in.data(), got.data());
      ASSERT_EQ(memcmp(got.data(), want.data(), out_n), 0)
          << IsaName(isa)
          << ShapeString(" b/h/w/c", {p.batch, p.h, p.w, p.channels});
      for (int i = 0; i < 16; ++i) ASSERT_EQ(got[out_n + i], int8_t(0x77));
    }
  }
}

}  // namespace
}  // namespace kiln

#endif  // defined(__aarch64__)
