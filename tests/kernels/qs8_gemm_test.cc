// Tests of the packed INT8 GEMM kernels (kernels/gemm.h) of every ISA path
// this binary has and this CPU can run: each must reproduce the reference
// FullyConnected / Conv2D byte for byte, directly and through the drivers.
#include <gtest/gtest.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/driver/drivers.h"
#include "kernels/gemm.h"
#include "kernels/isa.h"
#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "tests/kernels/kernel_test_util.h"

namespace kiln {
namespace {

using test::RandInt;
using test::RandInt8;
using test::RandZeroPoint;

constexpr int32_t kTwo30 = int32_t(1) << 30;
constexpr int32_t kMaxMultiplier = INT32_MAX;

// A zero-initialized, 64-byte aligned byte buffer.
class Aligned {
 public:
  explicit Aligned(size_t bytes) : storage_(bytes + 64, 0) {
    const uintptr_t p = reinterpret_cast<uintptr_t>(storage_.data());
    data_ = storage_.data() + ((64 - p % 64) % 64);
  }
  uint8_t* data() { return data_; }

 private:
  std::vector<uint8_t> storage_;
  uint8_t* data_;
};

// Every path with a GEMM kernel that can run here.
std::vector<KernelTable> GemmTables() {
  std::vector<KernelTable> tables;
  const uint32_t mask = SupportedIsaMask();
  for (int32_t i = 0; i < static_cast<int32_t>(Isa::kCount); ++i) {
    KernelTable t;
    if (!GetKernelTable(static_cast<Isa>(i), &t) || t.gemm == nullptr) continue;
    if ((mask & (uint32_t(1) << i)) == 0) continue;
    tables.push_back(t);
  }
  return tables;
}

// One FullyConnected-shaped problem.
struct Problem {
  int32_t rows = 1, k = 1, n = 1;
  int32_t input_zp = 0, output_zp = 0;
  ClampParams clamp{-128, 127};
  std::vector<int32_t> multiplier;  // 1 or n entries
  std::vector<int8_t> shift;
  std::vector<int8_t> input;    // rows x k
  std::vector<int8_t> weights;  // n x k
  std::vector<int32_t> bias;    // empty: null bias
  size_t extra_row_stride = 0;  // added to GemmRowStride(k), multiple of 64
  size_t extra_out_stride = 0;  // output row stride n + this

  FullyConnectedParams Params() const {
    FullyConnectedParams p{};
    p.batch = rows;
    p.in_features = k;
    p.out_features = n;
    p.input_zero_point = input_zp;
    p.output_zero_point = output_zp;
    p.clamp = clamp;
    p.requant = {multiplier.data(), shift.data(),
                 static_cast<int32_t>(multiplier.size())};
    return p;
  }
  const int32_t* BiasOrNull() const {
    return bias.empty() ? nullptr : bias.data();
  }
  std::string Describe() const {
    return "rows=" + std::to_string(rows) + " k=" + std::to_string(k) +
           " n=" + std::to_string(n) + " in_zp=" + std::to_string(input_zp) +
           " out_zp=" + std::to_string(output_zp) + " clamp=[" +
           std::to_string(clamp.min) + "," + std::to_string(clamp.max) +
           "] requant_count=" + std::to_string(multiplier.size()) +
           (bias.empty() ? " no bias" : "");
  }
};

std::vector<int8_t> Expected(const Problem& pr) {
  std::vector<int8_t> out(static_cast<size_t>(pr.rows) * pr.n);
  ref::FullyConnected(pr.Params(), pr.input.data(), pr.weights.data(),
                      pr.BiasOrNull(), out.data());
  return out;
}

// Packs the problem for `t`, encodes the rows as the contract says, calls the
// kernel directly and compares every byte, including that the output
// padding between rows is left alone.
void CheckKernel(const KernelTable& t, const Problem& pr,
                 const std::vector<int8_t>& expected) {
  SCOPED_TRACE(std::string(IsaName(t.isa)) + ": " + pr.Describe());
  Aligned packed(PackedGemmBytes(pr.n, pr.k));
  const FullyConnectedParams p = pr.Params();
  const PackedGemm* w =
      PackGemm(pr.n, pr.k, pr.weights.data(), pr.BiasOrNull(), p.requant,
               pr.input_zp, t.gemm_input, packed.data());

  const size_t stride = GemmRowStride(pr.k) + pr.extra_row_stride;
  const int32_t alloc_rows = (pr.rows + 15) / 16 * 16;
  Aligned rows(stride * alloc_rows);
  // Rows past `rows` are readable but hold garbage: a kernel must not use
  // them.
  memset(rows.data(), 0xa5, stride * alloc_rows);
  for (int32_t r = 0; r < pr.rows; ++r) {
    uint8_t* dst = rows.data() + r * stride;
    memset(dst, 0, stride);
    for (int32_t i = 0; i < pr.k; ++i) {
      const uint8_t raw = static_cast<uint8_t>(pr.input[r * pr.k + i]);
      dst[i] = t.gemm_input == GemmInput::kInt8 ? raw : raw ^ 0x80u;
    }
  }
  const size_t out_stride = pr.n + pr.extra_out_stride;
  std::vector<int8_t> out(out_stride * pr.rows, int8_t(0x5a));
  Aligned scratch(kGemmKernelScratchBytes);
  const GemmRows a{pr.rows, rows.data(), stride};
  const GemmOutput o{out.data(), out_stride, pr.output_zp, pr.clamp};
  t.gemm(a, *w, o, scratch.data());

  for (int32_t r = 0; r < pr.rows; ++r) {
    const int8_t* got = out.data() + r * out_stride;
    const int8_t* want = expected.data() + r * pr.n;
    if (memcmp(got, want, pr.n) != 0) {
      for (int32_t c = 0; c < pr.n; ++c) {
        ASSERT_EQ(int(got[c]), int(want[c])) << "row " << r << " channel " << c;
      }
    }
    for (size_t c = pr.n; c < out_stride; ++c) {
      ASSERT_EQ(got[c], int8_t(0x5a)) << "row " << r << " wrote padding " << c;
    }
  }
}

void CheckAllKernels(const Problem& pr) {
  const std::vector<int8_t> expected = Expected(pr);
  for (const KernelTable& t : GemmTables()) CheckKernel(t, pr, expected);
}

int32_t Pick(std::mt19937& rng, std::initializer_list<int32_t> special,
             int32_t lo, int32_t hi) {
  const int32_t i = RandInt(rng, 0, static_cast<int32_t>(special.size()) * 2);
  if (i < static_cast<int32_t>(special.size())) return special.begin()[i];
  return RandInt(rng, lo, hi);
}

std::vector<int8_t> RandData(std::mt19937& rng, size_t size) {
  std::vector<int8_t> v(size);
  switch (RandInt(rng, 0, 7)) {
    case 0:
      for (int8_t& x : v) x = -128;
      break;
    case 1:
      for (int8_t& x : v) x = 127;
      break;
    default:
      for (int8_t& x : v) x = RandInt8(rng);
      break;
  }
  return v;
}

// Multiplier and shift: usually a scale that keeps outputs spread over the
// int8 range for reduction length k, sometimes the extremes of the format.
void RandRequant(std::mt19937& rng, int32_t k, int32_t* multiplier,
                 int8_t* shift) {
  if (RandInt(rng, 0, 3) != 0) {
    int32_t log2k = 0;
    while ((1 << (log2k + 1)) <= k) ++log2k;
    *multiplier = RandInt(rng, kTwo30, kMaxMultiplier);
    *shift = static_cast<int8_t>(-6 - log2k / 2 + RandInt(rng, -2, 2));
    return;
  }
  *multiplier = Pick(rng, {0, kTwo30, kMaxMultiplier}, kTwo30, kMaxMultiplier);
  *shift = static_cast<int8_t>(Pick(rng, {-31, -30, 0, 29, 30}, -31, 30));
  if (*multiplier == 0) *shift = 0;
}

Problem RandProblem(std::mt19937& rng) {
  Problem pr;
  pr.rows = Pick(rng, {1, 2, 5, 6, 7, 16, 63, 64}, 1, 70);
  pr.k = Pick(rng, {1, 3, 4, 5, 63, 64, 65, 160}, 1, 300);
  pr.n = Pick(rng, {1, 8, 15, 16, 17, 33, 64, 65}, 1, 80);
  pr.input_zp = RandZeroPoint(rng);
  pr.output_zp = RandZeroPoint(rng);
  switch (RandInt(rng, 0, 3)) {
    case 0:  // ReLU
      pr.clamp = {pr.output_zp, 127};
      break;
    case 1: {  // narrow, possibly a single value
      const int32_t a = RandInt(rng, -128, 127), b = RandInt(rng, -128, 127);
      pr.clamp = {a < b ? a : b, a < b ? b : a};
      break;
    }
    default:
      pr.clamp = {-128, 127};
      break;
  }
  const int32_t count = RandInt(rng, 0, 1) ? pr.n : 1;
  pr.multiplier.resize(count);
  pr.shift.resize(count);
  for (int32_t i = 0; i < count; ++i) {
    RandRequant(rng, pr.k, &pr.multiplier[i], &pr.shift[i]);
  }
  switch (RandInt(rng, 0, 3)) {
    case 0:  // null bias
      break;
    case 1:  // huge: the accumulation wraps around
      pr.bias.resize(pr.n);
      for (int32_t& b : pr.bias) {
        b = RandInt(rng, 0, 1) ? INT32_MAX - RandInt(rng, 0, 1000)
                               : INT32_MIN + RandInt(rng, 0, 1000);
      }
      break;
    default:
      pr.bias.resize(pr.n);
      for (int32_t& b : pr.bias) b = RandInt(rng, -(1 << 17), 1 << 17);
      break;
  }
  pr.input = RandData(rng, static_cast<size_t>(pr.rows) * pr.k);
  pr.weights = RandData(rng, static_cast<size_t>(pr.n) * pr.k);
  pr.extra_row_stride = RandInt(rng, 0, 3) == 0 ? 64 : 0;
  pr.extra_out_stride = RandInt(rng, 0, 2) == 0 ? RandInt(rng, 1, 9) : 0;
  return pr;
}

TEST(Qs8GemmTest, PathsUnderTest) {
  // Documents which paths this machine exercises (scalar at least).
  std::string names;
  for (const KernelTable& t : GemmTables())
    names += IsaName(t.isa) + std::string(" ");
  EXPECT_NE(names.find("scalar"), std::string::npos);
  std::printf("GEMM paths tested: %s\n", names.c_str());
}

TEST(Qs8GemmTest, RandomMatchesReference) {
  std::mt19937 rng(4004);
  for (int iter = 0; iter < 300; ++iter) {
    CheckAllKernels(RandProblem(rng));
    if (HasFatalFailure()) return;
  }
}

// Every (rows, n) tail combination around the tile sizes, small k.
TEST(Qs8GemmTest, AllRowAndChannelTails) {
  std::mt19937 rng(4005);
  for (int32_t rows = 1; rows <= 13; ++rows) {
    for (int32_t n : {1, 7, 16, 17, 31, 32, 48, 49, 64, 65, 80, 129}) {
      Problem pr = RandProblem(rng);
      pr.rows = rows;
      pr.n = n;
      pr.k = Pick(rng, {1, 4, 5, 12}, 1, 40);
      if (pr.multiplier.size() != 1) {
        pr.multiplier.assign(n, kTwo30 + 12345);
        pr.shift.assign(n, -4);
      }
      pr.multiplier[0] = kTwo30 + 12345;
      pr.shift[0] = -4;
      if (!pr.bias.empty()) pr.bias.resize(n, 77);
      pr.input = RandData(rng, static_cast<size_t>(rows) * pr.k);
      pr.weights = RandData(rng, static_cast<size_t>(n) * pr.k);
      CheckAllKernels(pr);
      if (HasFatalFailure()) return;
    }
  }
}

// The requantization corner cases one by one on a wide accumulator range:
// each extreme multiplier with each extreme shift, both zero-point extremes.
TEST(Qs8GemmTest, RequantExtremes) {
  std::mt19937 rng(4006);
  for (int32_t multiplier : {0, kTwo30, kTwo30 + 1, kMaxMultiplier}) {
    for (int32_t shift : {-31, -30, -20, -1, 0, 1, 29, 30}) {
      for (int32_t zp : {-128, 127, 0}) {
        Problem pr;
        pr.rows = 9;
        pr.k = 37;
        pr.n = 35;
        pr.input_zp = -zp / 2;
        pr.output_zp = zp;
        pr.multiplier = {multiplier};
        pr.shift = {static_cast<int8_t>(multiplier == 0 ? 0 : shift)};
        pr.bias.resize(pr.n);
        // Accumulators from tiny to beyond +/- 2^31 (wrap), including ties
        // at every rounding position.
        for (int32_t i = 0; i < pr.n; ++i) {
          pr.bias[i] = i % 5 == 0   ? INT32_MAX - i
                       : i % 5 == 1 ? INT32_MIN + i
                       : i % 5 == 2 ? (int32_t(1) << (i % 31))
                       : i % 5 == 3 ? -(int32_t(1) << (i % 31))
                                    : RandInt(rng, -100, 100);
        }
        pr.input = RandData(rng, static_cast<size_t>(pr.rows) * pr.k);
        pr.weights = RandData(rng, static_cast<size_t>(pr.n) * pr.k);
        CheckAllKernels(pr);
        if (HasFatalFailure()) return;
      }
    }
  }
}

// Per-channel requantization where every channel of a block differs, with
// shifts across the whole range (even and odd lanes take separate paths in
// the SIMD requantization).
TEST(Qs8GemmTest, PerChannelAllShifts) {
  std::mt19937 rng(4007);
  Problem pr;
  pr.rows = 7;
  pr.k = 19;
  pr.n = 62;
  pr.input_zp = 3;
  pr.output_zp = -5;
  pr.clamp = {-100, 90};
  for (int32_t c = 0; c < pr.n; ++c) {
    const int32_t shift = -31 + c % 62;
    pr.shift.push_back(static_cast<int8_t>(shift));
    pr.multiplier.push_back(c % 7 == 0 ? 0 : RandInt(rng, kTwo30, INT32_MAX));
    if (pr.multiplier.back() == 0) pr.shift.back() = 0;
  }
  pr.bias.resize(pr.n);
  for (int32_t& b : pr.bias) b = RandInt(rng, -(1 << 20), 1 << 20);
  for (int iter = 0; iter < 8; ++iter) {
    pr.input = RandData(rng, static_cast<size_t>(pr.rows) * pr.k);
    pr.weights = RandData(rng, static_cast<size_t>(pr.n) * pr.k);
    CheckAllKernels(pr);
    if (HasFatalFailure()) return;
  }
}

// The model shapes the kernels are tuned for (single tile of the drivers).
TEST(Qs8GemmTest, ModelShapes) {
  std::mt19937 rng(4008);
  struct Shape {
    int32_t rows, k, n;
  };
  for (const Shape s :
       {Shape{1, 160, 256}, Shape{1, 256, 128}, Shape{1, 128, 8},
        Shape{64, 3, 32}, Shape{64, 32, 64}, Shape{64, 64, 64},
        Shape{64, 576, 64}, Shape{17, 1152, 128}, Shape{5, 2304, 256},
        Shape{1, 512, 1000}}) {
    Problem pr = RandProblem(rng);
    pr.rows = s.rows;
    pr.k = s.k;
    pr.n = s.n;
    pr.multiplier.resize(1);
    pr.shift.resize(1);
    RandRequant(rng, s.k, &pr.multiplier[0], &pr.shift[0]);
    if (!pr.bias.empty()) pr.bias.resize(s.n, -3);
    pr.input.resize(static_cast<size_t>(s.rows) * s.k);
    pr.weights.resize(static_cast<size_t>(s.n) * s.k);
    for (int8_t& x : pr.input) x = RandInt8(rng);
    for (int8_t& x : pr.weights) x = RandInt8(rng);
    CheckAllKernels(pr);
    if (HasFatalFailure()) return;
  }
}

// FullyConnected through RunFullyConnectedGemm (several 64-row tiles).
TEST(Qs8GemmTest, FullyConnectedDriverMatchesReference) {
  std::mt19937 rng(4009);
  for (int iter = 0; iter < 40; ++iter) {
    Problem pr = RandProblem(rng);
    pr.rows = Pick(rng, {1, 64, 65, 128, 130}, 1, 200);
    pr.input = RandData(rng, static_cast<size_t>(pr.rows) * pr.k);
    const std::vector<int8_t> expected = Expected(pr);
    const FullyConnectedParams p = pr.Params();
    for (const KernelTable& t : GemmTables()) {
      SCOPED_TRACE(std::string(IsaName(t.isa)) + ": " + pr.Describe());
      Aligned packed(PackedGemmBytes(pr.n, pr.k));
      const PackedGemm* w =
          PackGemm(pr.n, pr.k, pr.weights.data(), pr.BiasOrNull(), p.requant,
                   pr.input_zp, t.gemm_input, packed.data());
      Aligned scratch(GemmDriverScratchBytes(pr.k));
      std::vector<int8_t> out(expected.size(), int8_t(0x5a));
      RunFullyConnectedGemm(t, p, pr.input.data(), *w, out.data(),
                            scratch.data());
      ASSERT_EQ(0, memcmp(out.data(), expected.data(), expected.size()));
    }
  }
}

// Runs the Conv2D GEMM driver on every path for `p` (shape, padding and
// strides set; quantization and data drawn from rng) against the reference.
void CheckConv2DDriver(std::mt19937& rng, Conv2DParams p,
                       const std::string& what) {
  p.input_zero_point = RandZeroPoint(rng);
  p.output_zero_point = RandZeroPoint(rng);
  p.clamp = RandInt(rng, 0, 1) ? ClampParams{-128, 127}
                               : ClampParams{p.output_zero_point, 127};
  const int32_t k = ConvGemmK(p);
  const int32_t count = RandInt(rng, 0, 1) ? p.out_c : 1;
  std::vector<int32_t> multiplier(count);
  std::vector<int8_t> shift(count);
  for (int32_t i = 0; i < count; ++i) {
    RandRequant(rng, k, &multiplier[i], &shift[i]);
  }
  p.requant = {multiplier.data(), shift.data(), count};
  const std::vector<int8_t> input =
      RandData(rng, static_cast<size_t>(p.batch) * p.in_h * p.in_w * p.in_c);
  const std::vector<int8_t> filter =
      RandData(rng, static_cast<size_t>(p.out_c) * k);
  std::vector<int32_t> bias(p.out_c);
  for (int32_t& b : bias) b = RandInt(rng, -(1 << 16), 1 << 16);
  const int32_t* bias_ptr = RandInt(rng, 0, 3) == 0 ? nullptr : bias.data();
  const size_t out_size =
      static_cast<size_t>(p.batch) * p.out_h * p.out_w * p.out_c;
  std::vector<int8_t> expected(out_size);
  ref::Conv2D(p, input.data(), filter.data(), bias_ptr, expected.data());
  for (const KernelTable& t : GemmTables()) {
    SCOPED_TRACE(std::string(IsaName(t.isa)) + " " + what + " k=" +
                 std::to_string(k) + " out_c=" + std::to_string(p.out_c));
    Aligned packed(PackedGemmBytes(p.out_c, k));
    const PackedGemm* w =
        PackGemm(p.out_c, k, filter.data(), bias_ptr, p.requant,
                 p.input_zero_point, t.gemm_input, packed.data());
    Aligned scratch(GemmDriverScratchBytes(k));
    std::vector<int8_t> out(out_size, int8_t(0x5a));
    RunConv2DGemm(t, p, input.data(), *w, out.data(), scratch.data());
    ASSERT_EQ(0, memcmp(out.data(), expected.data(), out_size));
  }
}

// Conv2D (groups == 1) through RunConv2DGemm: im2col with padding,
// strides and dilation.
TEST(Qs8GemmTest, Conv2DDriverMatchesReference) {
  std::mt19937 rng(4010);
  for (int iter = 0; iter < 60; ++iter) {
    Conv2DParams p{};
    p.batch = RandInt(rng, 1, 2);
    const int32_t ksize = Pick(rng, {1, 3, 7}, 1, 7);
    p.kernel_h = ksize;
    p.kernel_w = RandInt(rng, 0, 3) == 0 ? RandInt(rng, 1, 7) : ksize;
    p.stride_h = RandInt(rng, 1, 2);
    p.stride_w = RandInt(rng, 1, 2);
    p.dilation_h = RandInt(rng, 0, 3) == 0 ? 2 : 1;
    p.dilation_w = RandInt(rng, 0, 3) == 0 ? 2 : 1;
    p.in_c = Pick(rng, {1, 3, 4, 16, 32}, 1, 40);
    p.out_c = Pick(rng, {1, 16, 17, 32, 64}, 1, 70);
    p.groups = 1;
    const int32_t eff_h = (p.kernel_h - 1) * p.dilation_h + 1;
    const int32_t eff_w = (p.kernel_w - 1) * p.dilation_w + 1;
    p.pad_top = RandInt(rng, 0, eff_h / 2);
    p.pad_left = RandInt(rng, 0, eff_w / 2);
    const int32_t pad_bottom = RandInt(rng, 0, eff_h / 2);
    const int32_t pad_right = RandInt(rng, 0, eff_w / 2);
    p.in_h = RandInt(rng, 1, 14);
    p.in_w = RandInt(rng, 1, 14);
    const int32_t span_h = p.in_h + p.pad_top + pad_bottom - eff_h;
    const int32_t span_w = p.in_w + p.pad_left + pad_right - eff_w;
    if (span_h < 0 || span_w < 0) {
      --iter;
      continue;
    }
    p.out_h = span_h / p.stride_h + 1;
    p.out_w = span_w / p.stride_w + 1;
    CheckConv2DDriver(rng, p, "conv iter " + std::to_string(iter));
    if (HasFatalFailure()) return;
  }
}

// A 1x1 stride-1 convolution padded only at the bottom or right has more
// output pixels than input pixels: it must not take the read-in-place path
// (found by kiln_fuzz_op_model: rows were read past the input).
TEST(Qs8GemmTest, Conv2DDriverPointwiseWithBottomRightPadding) {
  std::mt19937 rng(4011);
  for (int32_t pad_bottom = 0; pad_bottom <= 2; ++pad_bottom) {
    for (int32_t pad_right = 0; pad_right <= 2; ++pad_right) {
      Conv2DParams p{};
      p.batch = 2;
      p.kernel_h = p.kernel_w = 1;
      p.stride_h = p.stride_w = p.dilation_h = p.dilation_w = 1;
      p.groups = 1;
      p.in_h = 8;
      p.in_w = 6;
      p.in_c = 5;
      p.out_c = 7;
      p.out_h = p.in_h + pad_bottom;
      p.out_w = p.in_w + pad_right;
      CheckConv2DDriver(rng, p,
                        "pad bottom " + std::to_string(pad_bottom) + " right " +
                            std::to_string(pad_right));
      if (HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace kiln
