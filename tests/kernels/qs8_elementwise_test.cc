// The elementwise and pooling kernels of every runnable kernel path (AVX2 on
// x86, NEON on AArch64) against the reference kernels: Add with multipliers
// derived from random scales, MaxPool2D / AveragePool2D with padding,
// strides, filter sizes and channel tails, GlobalAveragePool. Every output
// byte must match.
#include <gtest/gtest.h>
#include <stdint.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/isa.h"
#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/requant.h"
#include "tests/kernels/kernel_test_util.h"

namespace kiln {
namespace {

using test::RandInt;
using test::RandInt8;
using test::RandScale;
using test::RandZeroPoint;

// Tables of runnable paths whose kernel `member` is not the reference one.
template <typename Fn>
std::vector<KernelTable> Tables(Fn KernelTable::*member, Fn reference) {
  std::vector<KernelTable> tables;
  const uint32_t mask = SupportedIsaMask();
  for (int i = 0; i < static_cast<int>(Isa::kCount); ++i) {
    KernelTable t;
    if (((mask >> i) & 1) == 0) continue;
    if (!GetKernelTable(static_cast<Isa>(i), &t)) continue;
    if (t.*member == nullptr || t.*member == reference) continue;
    tables.push_back(t);
  }
  return tables;
}

std::vector<int8_t> RandomBytes(std::mt19937& rng, size_t n) {
  std::vector<int8_t> v(n);
  const bool extremes = RandInt(rng, 0, 7) == 0;
  for (auto& x : v) {
    x = extremes ? static_cast<int8_t>(RandInt(rng, 0, 1) ? 127 : -128)
                 : RandInt8(rng);
  }
  return v;
}

ClampParams RandClamp(std::mt19937& rng, int32_t zero_point) {
  switch (RandInt(rng, 0, 3)) {
    case 0:
      return {-128, 127};
    case 1:
      return {zero_point, 127};  // ReLU-like
    case 2: {
      const int32_t a = RandInt(rng, -128, 127), b = RandInt(rng, -128, 127);
      return {std::min(a, b), std::max(a, b)};
    }
    default:
      return {RandInt(rng, -128, -100), RandInt(rng, 100, 127)};
  }
}

constexpr size_t kGuard = 32;

// Compares out (kGuard guard bytes after n) with expected.
void ExpectSame(const std::vector<int8_t>& out,
                const std::vector<int8_t>& expected) {
  const size_t n = expected.size();
  ASSERT_EQ(out.size(), n + kGuard);
  for (size_t i = 0; i < kGuard; ++i) {
    ASSERT_EQ(out[n + i], int8_t(0x5a)) << "wrote past the output";
  }
  for (size_t i = 0; i < n; ++i) {
    if (out[i] != expected[i]) {
      ADD_FAILURE() << "first mismatch at " << i << ": got " << int(out[i])
                    << ", expected " << int(expected[i]);
      return;
    }
  }
}

// ---------------------------------------------------------------------------
// Add

bool AddParamsFromScales(float s1, float s2, float s_out, AddParams* p) {
  const AddRealMultipliers r =
      ComputeAddRealMultipliers(s1, s2, s_out, p->left_shift);
  return QuantizeMultiplier(r.input1, &p->input1_multiplier,
                            &p->input1_shift) == MultiplierStatus::kOk &&
         QuantizeMultiplier(r.input2, &p->input2_multiplier,
                            &p->input2_shift) == MultiplierStatus::kOk &&
         QuantizeMultiplier(r.output, &p->output_multiplier,
                            &p->output_shift) == MultiplierStatus::kOk;
}

void CheckAdd(std::mt19937& rng, int32_t size, float s1, float s2,
              float s_out) {
  AddParams p{};
  p.size = size;
  p.left_shift = kAddLeftShift;
  if (!AddParamsFromScales(s1, s2, s_out, &p)) return;  // not representable
  p.input1_zero_point = RandZeroPoint(rng);
  p.input2_zero_point = RandZeroPoint(rng);
  p.output_zero_point = RandZeroPoint(rng);
  p.clamp = RandClamp(rng, p.output_zero_point);
  SCOPED_TRACE(testing::Message()
               << "size " << size << " scales " << s1 << " " << s2 << " "
               << s_out << " shifts " << p.input1_shift << " " << p.input2_shift
               << " " << p.output_shift);
  const std::vector<int8_t> a = RandomBytes(rng, size);
  const std::vector<int8_t> b = RandomBytes(rng, size);
  std::vector<int8_t> expected(size);
  ref::Add(p, a.data(), b.data(), expected.data());
  for (const KernelTable& t : Tables(&KernelTable::add, &ref::Add)) {
    SCOPED_TRACE(IsaName(t.isa));
    std::vector<int8_t> out(size + kGuard, int8_t(0x5a));
    t.add(p, a.data(), b.data(), out.data());
    ExpectSame(out, expected);
  }
}

TEST(Qs8ElementwiseTest, AddRandomScales) {
  std::mt19937 rng(501);
  for (int iter = 0; iter < 300; ++iter) {
    const int32_t size =
        iter % 3 == 0 ? RandInt(rng, 1, 40) : RandInt(rng, 1, 600);
    CheckAdd(rng, size, RandScale(rng, 1e-3, 1.0), RandScale(rng, 1e-3, 1.0),
             RandScale(rng, 1e-3, 1.0));
  }
}

TEST(Qs8ElementwiseTest, AddEdgeScales) {
  std::mt19937 rng(502);
  for (int32_t size : {1, 15, 16, 17, 31, 32, 33, 100, 1000}) {
    CheckAdd(rng, size, 0.5f, 0.5f, 0.5f);  // input multipliers 0.5, shift 0
    CheckAdd(rng, size, 0.5f, 0.25f, 1.0f);
    CheckAdd(rng, size, 0.1f, 0.1f, 1e-4f);  // large output multiplier
    CheckAdd(rng, size, 0.1f, 0.1f, 10.0f);  // tiny output multiplier
    CheckAdd(rng, size, 1.0f, 1e-4f, 0.5f);  // very unequal inputs
    CheckAdd(rng, size, 0.02f, 0.03f, 0.04f);
    // Output multiplier ~19: the sum's requantization saturates int32.
    CheckAdd(rng, size, 1.0f, 1.0f, 1e-7f);
  }
}

// ---------------------------------------------------------------------------
// MaxPool2D / AveragePool2D

struct PoolShape {
  int32_t batch, in_h, in_w, c;
  int32_t fh, fw, sh, sw;
  int32_t pt, pl, pb, pr;
};

void CheckPool(std::mt19937& rng, const PoolShape& s) {
  SCOPED_TRACE(testing::Message()
               << "b" << s.batch << " " << s.in_h << "x" << s.in_w << "x" << s.c
               << " f" << s.fh << "x" << s.fw << " s" << s.sh << "," << s.sw
               << " pad " << s.pt << " " << s.pl << " " << s.pb << " " << s.pr);
  Pool2DParams p{};
  p.batch = s.batch;
  p.in_h = s.in_h, p.in_w = s.in_w, p.channels = s.c;
  p.filter_h = s.fh, p.filter_w = s.fw;
  p.stride_h = s.sh, p.stride_w = s.sw;
  p.pad_top = s.pt, p.pad_left = s.pl;
  p.out_h = (s.in_h + s.pt + s.pb - s.fh) / s.sh + 1;
  p.out_w = (s.in_w + s.pl + s.pr - s.fw) / s.sw + 1;
  ASSERT_GE(p.out_h, 1);
  ASSERT_GE(p.out_w, 1);
  p.clamp = RandClamp(rng, RandZeroPoint(rng));
  const std::vector<int8_t> in =
      RandomBytes(rng, size_t(s.batch) * s.in_h * s.in_w * s.c);
  const size_t n = size_t(s.batch) * p.out_h * p.out_w * s.c;
  std::vector<int8_t> expected_max(n), expected_avg(n);
  ref::MaxPool2D(p, in.data(), expected_max.data());
  ref::AveragePool2D(p, in.data(), expected_avg.data());
  for (const KernelTable& t : Tables(&KernelTable::max_pool, &ref::MaxPool2D)) {
    SCOPED_TRACE(std::string("max ") + IsaName(t.isa));
    std::vector<int8_t> out(n + kGuard, int8_t(0x5a));
    t.max_pool(p, in.data(), out.data());
    ExpectSame(out, expected_max);
  }
  for (const KernelTable& t :
       Tables(&KernelTable::average_pool, &ref::AveragePool2D)) {
    SCOPED_TRACE(std::string("avg ") + IsaName(t.isa));
    std::vector<int8_t> out(n + kGuard, int8_t(0x5a));
    t.average_pool(p, in.data(), out.data());
    ExpectSame(out, expected_avg);
  }
}

// Random pool with padding in [0, filter) on every side (the verifier's
// rule) and at least one window.
PoolShape RandPool(std::mt19937& rng, int32_t c, int32_t max_filter) {
  PoolShape s;
  s.batch = RandInt(rng, 1, 3);
  s.c = c;
  s.fh = RandInt(rng, 1, max_filter);
  s.fw = RandInt(rng, 1, max_filter);
  s.sh = RandInt(rng, 1, 3);
  s.sw = RandInt(rng, 1, 3);
  s.pt = RandInt(rng, 0, s.fh - 1);
  s.pl = RandInt(rng, 0, s.fw - 1);
  s.pb = RandInt(rng, 0, s.fh - 1);
  s.pr = RandInt(rng, 0, s.fw - 1);
  s.in_h = std::max(RandInt(rng, 1, 11), s.fh - s.pt - s.pb);
  s.in_w = std::max(RandInt(rng, 1, 11), s.fw - s.pl - s.pr);
  return s;
}

TEST(Qs8ElementwiseTest, PoolRandomShapes) {
  std::mt19937 rng(503);
  const int32_t channels[] = {1, 3, 8, 15, 16, 17, 31, 32, 33, 48, 64, 65};
  for (int iter = 0; iter < 150; ++iter) {
    CheckPool(rng, RandPool(rng, channels[RandInt(rng, 0, 11)], 4));
  }
}

TEST(Qs8ElementwiseTest, PoolModelShapes) {
  std::mt19937 rng(504);
  // resnet18's 3x3/2 max pool (reduced), 2x2/2, global-sized windows.
  CheckPool(rng, {1, 28, 28, 64, 3, 3, 2, 2, 1, 1, 1, 1});
  CheckPool(rng, {2, 8, 8, 32, 2, 2, 2, 2, 0, 0, 0, 0});
  CheckPool(rng, {2, 7, 7, 40, 7, 7, 1, 1, 0, 0, 0, 0});
  // More than 256 taps: AveragePool sums in int32.
  CheckPool(rng, {1, 17, 17, 33, 17, 17, 1, 1, 0, 0, 0, 0});
  CheckPool(rng, {1, 20, 20, 17, 17, 16, 2, 3, 3, 5, 4, 2});
}

// ---------------------------------------------------------------------------
// GlobalAveragePool

void CheckGap(std::mt19937& rng, int32_t batch, int32_t h, int32_t w,
              int32_t c) {
  GlobalAveragePoolParams p{};
  p.batch = batch;
  p.h = h, p.w = w, p.channels = c;
  p.input_zero_point = RandZeroPoint(rng);
  p.output_zero_point = RandZeroPoint(rng);
  const double real = GlobalAveragePoolRealMultiplier(
      RandScale(rng, 1e-3, 1.0), RandScale(rng, 1e-3, 1.0), h, w);
  if (QuantizeMultiplier(real, &p.multiplier, &p.shift) !=
      MultiplierStatus::kOk) {
    return;
  }
  SCOPED_TRACE(testing::Message() << "b" << batch << " " << h << "x" << w << "x"
                                  << c << " shift " << p.shift);
  const std::vector<int8_t> in = RandomBytes(rng, size_t(batch) * h * w * c);
  std::vector<int8_t> expected(size_t(batch) * c);
  ref::GlobalAveragePool(p, in.data(), expected.data());
  for (const KernelTable& t :
       Tables(&KernelTable::global_average_pool, &ref::GlobalAveragePool)) {
    SCOPED_TRACE(IsaName(t.isa));
    std::vector<int8_t> out(expected.size() + kGuard, int8_t(0x5a));
    t.global_average_pool(p, in.data(), out.data());
    ExpectSame(out, expected);
  }
}

TEST(Qs8ElementwiseTest, GlobalAveragePool) {
  std::mt19937 rng(505);
  for (int iter = 0; iter < 120; ++iter) {
    const int32_t channels[] = {1, 3, 15, 16, 17, 31, 32, 33, 64, 65, 80, 512};
    CheckGap(rng, RandInt(rng, 1, 3), RandInt(rng, 1, 9), RandInt(rng, 1, 9),
             channels[RandInt(rng, 0, 11)]);
  }
  CheckGap(rng, 4, 8, 8, 64);    // blocknet
  CheckGap(rng, 1, 7, 7, 512);   // resnet18
  CheckGap(rng, 2, 17, 19, 48);  // more than 256 positions
  CheckGap(rng, 1, 1, 1, 33);
}

}  // namespace
}  // namespace kiln
