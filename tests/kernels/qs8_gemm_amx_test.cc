// Tests of the AMX-INT8 GEMM kernel (kernels/qs8_gemm/qs8_gemm_32x32c4__amx.cc)
// against ref::FullyConnected, byte for byte, on shapes chosen for the AMX
// tails: 16-row tiles, 64-byte k steps, 16-channel blocks, the last k step
// reading past the last block's groups.
//
// Two ways to run the same cases:
//  * on the hardware, when SupportedIsaMask() has the AMX bit;
//  * everywhere GCC builds for x86-64 with AVX-512 VNNI at run time: the
//    kernel's own source compiled again here with its tile instructions
//    replaced by a software model of the tile unit (configuration, loads,
//    stores, TDPBUSD with the hardware's shape checks). This checks the
//    tiling, the tails and the requantization on machines without AMX; the
//    model reads and writes memory exactly where the hardware would, so
//    ASan sees the kernel's over-reads too.
#include <gtest/gtest.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/driver/drivers.h"
#include "kernels/gemm.h"
#include "kernels/isa.h"
#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/requant.h"
#include "kernels/ukernels.h"
#include "tests/kernels/kernel_test_util.h"

#if defined(__x86_64__) && defined(KILN_HAVE_X86_KERNELS) && \
    defined(__GNUC__) && !defined(__clang__)
#define KILN_AMX_EMULATION 1
// As in the kernel: GCC bug 105593 in the AVX-512 intrinsic headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

namespace kiln {
namespace amx_emulation {

// Software model of the tile unit (palette 1: eight tiles of up to 16 rows
// of 64 bytes). A use the hardware would fault on (#UD) records a fault.
struct TileUnit {
  bool configured = false;
  uint8_t rows[8] = {};
  uint16_t colsb[8] = {};
  uint8_t data[8][16][64] = {};
  const char* fault = nullptr;
};
TileUnit g_unit;

void Fault(const char* what) {
  if (g_unit.fault == nullptr) g_unit.fault = what;
}

bool Valid(int t) {
  if (!g_unit.configured) {
    Fault("tile instruction without a configuration");
    return false;
  }
  if (t < 0 || t >= 8 || g_unit.rows[t] == 0 || g_unit.colsb[t] == 0) {
    Fault("unconfigured tile");
    return false;
  }
  return true;
}

void LoadConfig(const void* config) {
  const uint8_t* c = static_cast<const uint8_t*>(config);
  if (c[0] != 1) {
    Fault("palette is not 1");
    return;
  }
  for (int i = 2; i < 16; ++i) {
    if (c[i] != 0) Fault("reserved config bytes not zero");
  }
  if (c[1] != 0) Fault("start_row not zero");
  g_unit = TileUnit{};
  g_unit.configured = true;
  for (int t = 0; t < 8; ++t) {
    uint16_t colsb;
    memcpy(&colsb, c + 16 + 2 * t, 2);
    const uint8_t rows = c[48 + t];
    if (rows > 16 || colsb > 64) Fault("tile larger than palette 1 allows");
    if ((rows == 0) != (colsb == 0)) Fault("tile half configured");
    g_unit.rows[t] = rows;
    g_unit.colsb[t] = colsb;
  }
  for (int t = 8; t < 16; ++t) {
    if (c[48 + t] != 0 || c[16 + 2 * t] != 0 || c[17 + 2 * t] != 0) {
      Fault("tile beyond 8 configured");
    }
  }
}

void Release() { g_unit.configured = false; }

void Zero(int t) {
  if (Valid(t)) memset(g_unit.data[t], 0, sizeof(g_unit.data[t]));
}

void Load(int t, const void* base, long stride) {
  if (!Valid(t)) return;
  memset(g_unit.data[t], 0, sizeof(g_unit.data[t]));
  for (int r = 0; r < g_unit.rows[t]; ++r) {
    memcpy(g_unit.data[t][r], static_cast<const uint8_t*>(base) + r * stride,
           g_unit.colsb[t]);
  }
}

void Store(int t, void* base, long stride) {
  if (!Valid(t)) return;
  for (int r = 0; r < g_unit.rows[t]; ++r) {
    memcpy(static_cast<uint8_t*>(base) + r * stride, g_unit.data[t][r],
           g_unit.colsb[t]);
  }
}

// TDPBUSD dst, a, b: dst[m][n] += sum_k,i u8(a[m][4k+i]) * s8(b[k][4n+i]),
// int32 wrap-around.
void Dpbusd(int dst, int a, int b) {
  if (!Valid(dst) || !Valid(a) || !Valid(b)) return;
  if (dst == a || dst == b || a == b) {
    Fault("TDPBUSD operands not distinct");
    return;
  }
  const int m_rows = g_unit.rows[dst], n = g_unit.colsb[dst] / 4;
  const int k = g_unit.colsb[a] / 4;
  if (g_unit.colsb[dst] % 4 != 0 || g_unit.colsb[a] % 4 != 0 ||
      g_unit.rows[a] != m_rows || g_unit.rows[b] != k ||
      g_unit.colsb[b] != g_unit.colsb[dst]) {
    Fault("TDPBUSD shapes do not match");
    return;
  }
  for (int m = 0; m < m_rows; ++m) {
    for (int j = 0; j < n; ++j) {
      uint32_t acc;
      memcpy(&acc, &g_unit.data[dst][m][4 * j], 4);
      for (int kk = 0; kk < k; ++kk) {
        for (int i = 0; i < 4; ++i) {
          const int32_t x = g_unit.data[a][m][4 * kk + i];
          const int32_t w = static_cast<int8_t>(g_unit.data[b][kk][4 * j + i]);
          acc += static_cast<uint32_t>(x * w);
        }
      }
      memcpy(&g_unit.data[dst][m][4 * j], &acc, 4);
    }
  }
}

}  // namespace amx_emulation

void qs8_gemm__amx_emulated(const GemmRows& a, const PackedGemm& w,
                            const GemmOutput& out, void* kernel_scratch);

}  // namespace kiln

// The kernel's source again, its tile instructions going to the model.
#undef _tile_loadd
#undef _tile_stored
#undef _tile_zero
#undef _tile_dpbusd
#define _tile_loadconfig(config) ::kiln::amx_emulation::LoadConfig(config)
#define _tile_release() ::kiln::amx_emulation::Release()
#define _tile_zero(t) ::kiln::amx_emulation::Zero(t)
#define _tile_loadd(t, base, stride) \
  ::kiln::amx_emulation::Load(t, base, stride)
#define _tile_stored(t, base, stride) \
  ::kiln::amx_emulation::Store(t, base, stride)
#define _tile_dpbusd(dst, a, b) ::kiln::amx_emulation::Dpbusd(dst, a, b)
#define qs8_gemm__amx qs8_gemm__amx_emulated
#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f,avx512bw,avx512vl,avx512dq")
#include "kernels/qs8_gemm/qs8_gemm_32x32c4__amx.cc"
#pragma GCC pop_options
#undef qs8_gemm__amx
#undef _tile_loadconfig
#undef _tile_release
#undef _tile_zero
#undef _tile_loadd
#undef _tile_stored
#undef _tile_dpbusd
#endif

namespace kiln {
namespace amx_test {

constexpr uint32_t Bit(Isa isa) { return uint32_t(1) << static_cast<int>(isa); }

// 64-byte aligned buffer of exactly `bytes` (a multiple of 64), so that
// ASan flags any access past it.
struct Aligned {
  explicit Aligned(size_t bytes)
      : p(static_cast<uint8_t*>(aligned_alloc(64, bytes))) {}
  ~Aligned() { free(p); }
  Aligned(const Aligned&) = delete;
  Aligned& operator=(const Aligned&) = delete;
  uint8_t* p;
};

size_t RoundUp(size_t v, size_t m) { return (v + m - 1) / m * m; }

enum class Bias { kNone, kSmall, kExtreme };

struct Case {
  int32_t rows, k, n;
  bool per_channel = false;
  Bias bias = Bias::kSmall;
  // Output zero point and clamp; kUnset draws them at random.
  static constexpr int32_t kUnset = INT32_MIN;
  int32_t output_zero_point = kUnset;
  int32_t act_min = kUnset, act_max = kUnset;
  int32_t input_zero_point = kUnset;
  bool extreme_inputs = false;  // x, w in {-128, 127}
  size_t extra_stride = 0;      // row stride beyond GemmRowStride(k)
};

// Multiplier/shift pairs: extremes half of the time, otherwise a scale that
// keeps typical accumulators of reduction length k inside int8 often.
void DrawRequant(std::mt19937& rng, int32_t k, int32_t* multiplier,
                 int8_t* shift) {
  switch (test::RandInt(rng, 0, 5)) {
    case 0:
      *multiplier = 0;
      *shift = 0;
      return;
    case 1:
      *multiplier = int32_t(1) << 30;
      break;
    case 2:
      *multiplier = INT32_MAX;
      break;
    default:
      *multiplier = test::RandInt(rng, int32_t(1) << 30, INT32_MAX);
  }
  switch (test::RandInt(rng, 0, 5)) {
    case 0:
      *shift = static_cast<int8_t>(kMinShift + test::RandInt(rng, 0, 2));
      return;
    case 1:
      *shift = static_cast<int8_t>(kMaxShift - test::RandInt(rng, 0, 2));
      return;
    default: {
      // |acc| is about 128 * 74 * sqrt(k); aim for ~50 after scaling.
      int32_t bits = 0;
      for (double v = 128.0 * 74.0 * std::sqrt(double(k)) / 50.0; v > 1.0;
           v /= 2) {
        ++bits;
      }
      *shift = static_cast<int8_t>(1 - bits + test::RandInt(rng, -2, 2));
    }
  }
}

// Runs `kernel` on one random instance of `c` and compares every output
// byte with ref::FullyConnected; bytes outside the output must not change.
void RunCase(GemmKernel kernel, const Case& c, std::mt19937& rng) {
  SCOPED_TRACE(::testing::Message()
               << "rows=" << c.rows << " k=" << c.k << " n=" << c.n
               << " per_channel=" << c.per_channel
               << " bias=" << static_cast<int>(c.bias));
  auto rand8 = [&]() -> int8_t {
    return c.extreme_inputs ? (test::RandInt(rng, 0, 1) ? 127 : -128)
                            : test::RandInt8(rng);
  };
  std::vector<int8_t> x(static_cast<size_t>(c.rows) * c.k);
  std::vector<int8_t> w(static_cast<size_t>(c.n) * c.k);
  for (auto& v : x) v = rand8();
  for (auto& v : w) v = rand8();
  std::vector<int32_t> bias(static_cast<size_t>(c.n));
  for (auto& b : bias) {
    b = c.bias == Bias::kExtreme
            ? (test::RandInt(rng, 0, 2) == 0
                   ? INT32_MAX
                   : (test::RandInt(rng, 0, 1)
                          ? INT32_MIN
                          : test::RandInt(rng, INT32_MIN, INT32_MAX)))
            : test::RandInt(rng, -20000, 20000);
  }
  const int32_t count = c.per_channel ? c.n : 1;
  std::vector<int32_t> multiplier(static_cast<size_t>(count));
  std::vector<int8_t> shift(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; ++i) {
    DrawRequant(rng, c.k, &multiplier[i], &shift[i]);
  }

  FullyConnectedParams p{};
  p.batch = c.rows;
  p.in_features = c.k;
  p.out_features = c.n;
  p.input_zero_point = c.input_zero_point != Case::kUnset
                           ? c.input_zero_point
                           : test::RandZeroPoint(rng);
  p.output_zero_point = c.output_zero_point != Case::kUnset
                            ? c.output_zero_point
                            : test::RandZeroPoint(rng);
  if (c.act_min != Case::kUnset) {
    p.clamp = {c.act_min, c.act_max};
  } else {
    const int32_t zp = p.output_zero_point;
    switch (test::RandInt(rng, 0, 3)) {
      case 0:
        p.clamp = {-128, 127};
        break;
      case 1:  // ReLU
        p.clamp = {zp, 127};
        break;
      case 2:  // ReLU6-like
        p.clamp = {zp, std::min(127, zp + test::RandInt(rng, 0, 60))};
        break;
      default: {  // narrow
        const int32_t lo = test::RandInt(rng, -128, 127);
        p.clamp = {lo, std::min(127, lo + test::RandInt(rng, 0, 3))};
      }
    }
  }
  p.requant = {multiplier.data(), shift.data(), count};
  const int32_t* bias_ptr = c.bias == Bias::kNone ? nullptr : bias.data();

  std::vector<int8_t> expected(static_cast<size_t>(c.rows) * c.n);
  ref::FullyConnected(p, x.data(), w.data(), bias_ptr, expected.data());

  Aligned packed(PackedGemmBytes(c.n, c.k));
  const PackedGemm* pw =
      PackGemm(c.n, c.k, w.data(), bias_ptr, p.requant, p.input_zero_point,
               GemmInput::kUint8Offset128, packed.p);

  // Rows as the drivers hand them: x + 128, zero from k to the stride, and
  // whatever (here: random bytes) in the rows up to the next multiple of 16.
  const size_t stride = GemmRowStride(c.k) + c.extra_stride;
  const size_t rows_alloc = RoundUp(static_cast<size_t>(c.rows), 16);
  Aligned rows(rows_alloc * stride);
  for (size_t r = 0; r < rows_alloc; ++r) {
    uint8_t* dst = rows.p + r * stride;
    if (r < static_cast<size_t>(c.rows)) {
      for (int32_t i = 0; i < c.k; ++i) {
        dst[i] = static_cast<uint8_t>(x[r * c.k + i]) ^ 0x80u;
      }
      memset(dst + c.k, 0, stride - c.k);
    } else {
      for (size_t i = 0; i < stride; ++i) {
        dst[i] = static_cast<uint8_t>(test::RandInt(rng, 0, 255));
      }
    }
  }

  // Output rows with a gap of sentinel bytes between them.
  const size_t out_stride = static_cast<size_t>(c.n) + test::RandInt(rng, 0, 5);
  constexpr int8_t kSentinel = 0x5a;
  std::vector<int8_t> got(static_cast<size_t>(c.rows) * out_stride, kSentinel);
  Aligned scratch(kGemmKernelScratchBytes);

  const GemmRows a{c.rows, rows.p, stride};
  const GemmOutput out{got.data(), out_stride, p.output_zero_point, p.clamp};
  kernel(a, *pw, out, scratch.p);

  int mismatches = 0;
  for (int32_t r = 0; r < c.rows; ++r) {
    for (size_t i = 0; i < out_stride; ++i) {
      const int8_t g = got[r * out_stride + i];
      const int8_t e =
          i < static_cast<size_t>(c.n) ? expected[r * c.n + i] : kSentinel;
      if (g != e && ++mismatches <= 5) {
        ADD_FAILURE() << "row " << r << " byte " << i << ": got " << int(g)
                      << ", expected " << int(e);
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

// The shape sweep: every rows x k pair, with n cycling through its list,
// and every n with a few (rows, k).
void RunSweep(GemmKernel kernel, uint32_t seed) {
  std::mt19937 rng(seed);
  const int32_t kRows[] = {15, 16, 17, 31, 33, 64};
  const int32_t kK[] = {1, 3, 63, 64, 65, 127, 128, 129, 300, 576, 1000};
  const int32_t kN[] = {1, 15, 16, 17, 63, 64, 65, 100};
  int i = 0;
  for (int32_t rows : kRows) {
    for (int32_t k : kK) {
      Case c{rows, k, kN[(i * 3 + rows) % 8]};
      c.per_channel = (i % 3) != 0;
      c.bias = static_cast<Bias>(i % 3);
      c.extra_stride = (i % 7 == 0) ? 64 : 0;
      RunCase(kernel, c, rng);
      ++i;
    }
  }
  for (int32_t n : kN) {
    for (int j = 0; j < 3; ++j) {
      Case c{kRows[test::RandInt(rng, 0, 5)], kK[test::RandInt(rng, 0, 10)], n};
      c.per_channel = j != 0;
      c.bias = static_cast<Bias>(j);
      RunCase(kernel, c, rng);
    }
  }
}

void RunSpecialCases(GemmKernel kernel, uint32_t seed) {
  std::mt19937 rng(seed);
  {
    // k_padded / 4 = 250 (not a multiple of 16) at the last of 7 blocks:
    // the last k step reads 6 B rows into the zero tail.
    Case c{40, 1000, 100};
    c.per_channel = true;
    RunCase(kernel, c, rng);
    Case d{33, 37, 17};  // 10 groups: most of the B tile is tail
    RunCase(kernel, d, rng);
  }
  {
    // Largest accumulators: every x - zp and w at the extremes, wrapping
    // extreme biases.
    Case c{64, 1000, 65};
    c.extreme_inputs = true;
    c.bias = Bias::kExtreme;
    c.input_zero_point = 127;
    c.per_channel = true;
    RunCase(kernel, c, rng);
    c.input_zero_point = -128;
    RunCase(kernel, c, rng);
  }
  {
    // Output parameters the vector path cannot take (the exact scalar
    // path): a zero point past int8 and a clamp with min > max.
    Case c{17, 65, 20};
    c.output_zero_point = INT32_MAX;
    c.act_min = -128;
    c.act_max = 127;
    RunCase(kernel, c, rng);
    c.output_zero_point = INT32_MIN;
    RunCase(kernel, c, rng);
    c.output_zero_point = 5;
    c.act_min = 10;
    c.act_max = -10;
    RunCase(kernel, c, rng);
    c.act_min = c.act_max = 0;
    RunCase(kernel, c, rng);
  }
  {
    // More rows than a driver tile, and the resnet18 56x56 shape.
    Case c{80, 200, 48};
    RunCase(kernel, c, rng);
    Case r{64, 576, 64};
    r.per_channel = true;
    RunCase(kernel, r, rng);
  }
  {
    // Few rows go to the AVX-512 VNNI kernel.
    for (int32_t rows : {1, 2, 15}) {
      Case c{rows, 160, 256};
      RunCase(kernel, c, rng);
    }
  }
}

TEST(Qs8GemmAmxTest, Sweep) {
  if ((SupportedIsaMask() & Bit(Isa::kAmx)) == 0) {
    GTEST_SKIP() << "AMX not available";
  }
  KernelTable table;
  ASSERT_TRUE(GetKernelTable(Isa::kAmx, &table));
  RunSweep(table.gemm, 1234);
}

TEST(Qs8GemmAmxTest, Special) {
  if ((SupportedIsaMask() & Bit(Isa::kAmx)) == 0) {
    GTEST_SKIP() << "AMX not available";
  }
  KernelTable table;
  ASSERT_TRUE(GetKernelTable(Isa::kAmx, &table));
  RunSpecialCases(table.gemm, 99);
}

// Through the dispatch table and the FullyConnected driver: several 64-row
// tiles and a short last tile.
TEST(Qs8GemmAmxTest, FullyConnectedDriver) {
  if ((SupportedIsaMask() & Bit(Isa::kAmx)) == 0) {
    GTEST_SKIP() << "AMX not available";
  }
  KernelTable table;
  ASSERT_TRUE(GetKernelTable(Isa::kAmx, &table));
  std::mt19937 rng(7);
  FullyConnectedParams p{};
  p.batch = 64 * 3 + 21;
  p.in_features = 150;
  p.out_features = 70;
  p.input_zero_point = -3;
  p.output_zero_point = 4;
  p.clamp = {-128, 127};
  const int32_t mult[] = {int32_t(1) << 30};
  const int8_t shift[] = {-12};
  p.requant = {mult, shift, 1};
  std::vector<int8_t> x(static_cast<size_t>(p.batch) * p.in_features);
  std::vector<int8_t> w(static_cast<size_t>(p.out_features) * p.in_features);
  std::vector<int32_t> bias(static_cast<size_t>(p.out_features));
  for (auto& v : x) v = test::RandInt8(rng);
  for (auto& v : w) v = test::RandInt8(rng);
  for (auto& v : bias) v = test::RandInt(rng, -5000, 5000);
  std::vector<int8_t> expected(static_cast<size_t>(p.batch) * p.out_features);
  ref::FullyConnected(p, x.data(), w.data(), bias.data(), expected.data());
  Aligned packed(PackedGemmBytes(p.out_features, p.in_features));
  const PackedGemm* pw =
      PackGemm(p.out_features, p.in_features, w.data(), bias.data(), p.requant,
               p.input_zero_point, table.gemm_input, packed.p);
  Aligned scratch(RoundUp(GemmDriverScratchBytes(p.in_features), 64));
  std::vector<int8_t> got(expected.size());
  RunFullyConnectedGemm(table, p, x.data(), *pw, got.data(), scratch.p);
  EXPECT_EQ(got, expected);
}

#if defined(KILN_AMX_EMULATION)

void CheckNoFault() {
  EXPECT_EQ(amx_emulation::g_unit.fault, nullptr)
      << amx_emulation::g_unit.fault;
  EXPECT_FALSE(amx_emulation::g_unit.configured) << "tiles not released";
  amx_emulation::g_unit.fault = nullptr;
}

void EmulatedKernel(const GemmRows& a, const PackedGemm& w,
                    const GemmOutput& out, void* kernel_scratch) {
  qs8_gemm__amx_emulated(a, w, out, kernel_scratch);
  CheckNoFault();
}

// The emulated kernel needs AVX-512 for its requantization and, for fewer
// than 16 rows, the AVX-512 VNNI kernel.
TEST(Qs8GemmAmxTest, EmulatedSweep) {
  if ((SupportedIsaMask() & Bit(Isa::kAvx512Vnni)) == 0) {
    GTEST_SKIP() << "AVX-512 VNNI not available";
  }
  RunSweep(EmulatedKernel, 1234);
}

TEST(Qs8GemmAmxTest, EmulatedSpecial) {
  if ((SupportedIsaMask() & Bit(Isa::kAvx512Vnni)) == 0) {
    GTEST_SKIP() << "AVX-512 VNNI not available";
  }
  RunSpecialCases(EmulatedKernel, 99);
}

#endif

}  // namespace amx_test
}  // namespace kiln
