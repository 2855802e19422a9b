// Kernel benchmarks on the real layer shapes of the reference models
// (mlp160, blocknet at batch 4096, resnet18), for every kernel path in
// kiln::GetKernelTable that this CPU runs:
//
//   gemm/<case>/<isa>      FullyConnected and Conv2D (groups == 1) through
//                          the drivers (im2col tiles -> table.gemm); the ref
//                          path runs the reference kernels
//   dwconv/<case>/<isa>    depthwise Conv2D (table.dwconv, or the reference)
//   add|maxpool|gavgpool/<case>/<isa>
//   peak/<unit>            the physical-limit loops (bench/peak.h)
//
// Elementwise and pooling kernels are shared by several paths (every x86
// path uses the AVX2 ones): each distinct function is benchmarked once,
// under the first path that has it, and the label lists the others.
//
// Counters: GMAC/s (per thread CPU second, as Google Benchmark computes
// rates) and pct_peak, the GEMM's share of the peak of the matching unit
// measured at start-up in this same process: vnni512 for avx512vnni, vnni256
// for avxvnni, avx2 maddubs for avx2, amx for amx. ref and scalar have no
// peak of their own (no pct_peak). The peaks are also printed on stderr and
// stored in the JSON context (peak_<unit>_gmacs).
//
//   kiln_bench_kernels --benchmark_filter='gemm/resnet18.*/avx512vnni'
#include <benchmark/benchmark.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/driver/drivers.h"
#include "kernels/dwconv.h"
#include "kernels/gemm.h"
#include "kernels/isa.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/requant.h"

#if defined(__x86_64__)
#include "bench/peak.h"
#endif

namespace kiln {
namespace {

// ---------------------------------------------------------------- buffers

// A 64-byte aligned, zeroed byte buffer.
class Buffer {
 public:
  explicit Buffer(size_t bytes) : size_(bytes) {
    data_ = static_cast<uint8_t*>(aligned_alloc(64, (bytes + 64) / 64 * 64));
    memset(data_, 0, (bytes + 64) / 64 * 64);
  }
  ~Buffer() { free(data_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  uint8_t* data() { return data_; }
  int8_t* i8() { return reinterpret_cast<int8_t*>(data_); }
  size_t size() const { return size_; }

 private:
  uint8_t* data_;
  size_t size_;
};

void FillRandom(Buffer* b, uint32_t seed) {
  std::mt19937 rng(seed);
  for (size_t i = 0; i < b->size(); ++i) {
    b->data()[i] = static_cast<uint8_t>(rng());
  }
}

// Per-channel requantization of a typical layer: multipliers in
// [2^30, 2^31), shifts around -8 (real multipliers of about 1/256..1/64).
struct Requant {
  std::vector<int32_t> multiplier;
  std::vector<int8_t> shift;
  std::vector<int32_t> bias;
  Requant(int32_t channels, uint32_t seed)
      : multiplier(channels), shift(channels), bias(channels) {
    std::mt19937 rng(seed);
    for (int32_t c = 0; c < channels; ++c) {
      multiplier[c] = kMinMultiplier + static_cast<int32_t>(rng() >> 2);
      shift[c] = static_cast<int8_t>(-9 + static_cast<int32_t>(rng() % 3));
      bias[c] = static_cast<int32_t>(rng() % 4001) - 2000;
    }
  }
  RequantParams params() const {
    return {multiplier.data(), shift.data(),
            static_cast<int32_t>(multiplier.size())};
  }
};

// ---------------------------------------------------------------- peaks

enum class Unit { kNone, kAvx2, kVnni256, kVnni512, kAmx };

const char* UnitName(Unit u) {
  switch (u) {
    case Unit::kAvx2:
      return "avx2_maddubs";
    case Unit::kVnni256:
      return "vnni256";
    case Unit::kVnni512:
      return "vnni512";
    case Unit::kAmx:
      return "amx_int8";
    default:
      return "none";
  }
}

// The unit whose peak a path's GEMM is measured against.
Unit UnitOf(Isa isa) {
  switch (isa) {
    case Isa::kAvx2:
      return Unit::kAvx2;
    case Isa::kAvxVnni:
      return Unit::kVnni256;
    case Isa::kAvx512Vnni:
      return Unit::kVnni512;
    case Isa::kAmx:
      return Unit::kAmx;
    default:
      return Unit::kNone;
  }
}

uint32_t Bit(Isa isa) { return uint32_t(1) << static_cast<int>(isa); }

#if defined(__x86_64__)
uint64_t (*PeakLoop(Unit u))(uint64_t) {
  switch (u) {
    case Unit::kAvx2:
      return bench::PeakLoopAvx2Maddubs;
    case Unit::kVnni256:
      return bench::PeakLoopVnni256;
    case Unit::kVnni512:
      return bench::PeakLoopVnni512;
    case Unit::kAmx:
      return bench::PeakLoopAmx;
    default:
      return nullptr;
  }
}
#endif

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) +
         1e-9 * static_cast<double>(ts.tv_nsec);
}

// MAC/s of a peak loop: the best of 7 runs of about 20 ms of thread CPU time
// each (thread CPU time, like the counters, so time slices lost to other
// processes on this shared machine do not count).
double MeasurePeak(uint64_t (*loop)(uint64_t)) {
  uint64_t iters = 1000;
  for (;;) {  // calibrate
    const double t0 = ThreadCpuSeconds();
    loop(iters);
    const double dt = ThreadCpuSeconds() - t0;
    if (dt > 0.005) {
      iters = static_cast<uint64_t>(static_cast<double>(iters) * 0.02 / dt) + 1;
      break;
    }
    iters *= 4;
  }
  double best = 0.0;
  for (int rep = 0; rep < 7; ++rep) {
    const double t0 = ThreadCpuSeconds();
    const uint64_t macs = loop(iters);
    const double dt = ThreadCpuSeconds() - t0;
    if (dt > 0 && static_cast<double>(macs) / dt > best) {
      best = static_cast<double>(macs) / dt;
    }
  }
  return best;
}

// MAC/s per unit measured at start-up; 0 when not measured.
std::map<Unit, double>& Peaks() {
  static std::map<Unit, double> peaks;
  return peaks;
}

// Rate counters: Google Benchmark divides kIsRate counters by the CPU time.
void SetMacCounters(benchmark::State& state, double macs_per_iteration,
                    Unit unit) {
  const double macs =
      macs_per_iteration * static_cast<double>(state.iterations());
  state.counters["GMAC/s"] =
      benchmark::Counter(macs * 1e-9, benchmark::Counter::kIsRate);
  const auto it = Peaks().find(unit);
  if (it != Peaks().end() && it->second > 0) {
    state.counters["pct_peak"] = benchmark::Counter(
        100.0 * macs / it->second, benchmark::Counter::kIsRate);
  }
}

// ---------------------------------------------------------------- cases

// A FullyConnected (conv == false) or a groups == 1 Conv2D.
struct GemmCase {
  const char* name;
  bool conv;
  int32_t batch;
  int32_t in_h, in_w, in_c, out_c;  // FC: in_c -> out_c
  int32_t kernel, stride, pad;
};

struct DwCase {
  const char* name;
  int32_t batch, h, w, channels, kernel;
};

constexpr int32_t kBlockBatch = 4096;

const GemmCase kGemmCases[] = {
    // mlp160, batch 1 (GEMV).
    {"mlp160_fc1_160x256", false, 1, 1, 1, 160, 256, 1, 1, 0},
    {"mlp160_fc2_256x128", false, 1, 1, 1, 256, 128, 1, 1, 0},
    {"mlp160_fc3_128x8", false, 1, 1, 1, 128, 8, 1, 1, 0},
    // blocknet at batch 4096: pointwise convs (rows = 4096 * 64), heads.
    {"blocknet_pw1_3x32", true, kBlockBatch, 8, 8, 3, 32, 1, 1, 0},
    {"blocknet_pw2_32x64", true, kBlockBatch, 8, 8, 32, 64, 1, 1, 0},
    {"blocknet_pw3_64x64", true, kBlockBatch, 8, 8, 64, 64, 1, 1, 0},
    {"blocknet_head_fc1_64x32", false, kBlockBatch, 1, 1, 64, 32, 1, 1, 0},
    {"blocknet_head_fc2_32x8", false, kBlockBatch, 1, 1, 32, 8, 1, 1, 0},
    {"blocknet_head_fc2_32x6", false, kBlockBatch, 1, 1, 32, 6, 1, 1, 0},
    {"blocknet_head_fc2_32x16", false, kBlockBatch, 1, 1, 32, 16, 1, 1, 0},
    // resnet18, batch 1: every distinct conv shape, then the classifier.
    {"resnet18_stem_7x7s2_224", true, 1, 224, 224, 3, 64, 7, 2, 3},
    {"resnet18_conv3x3_56", true, 1, 56, 56, 64, 64, 3, 1, 1},
    {"resnet18_conv3x3s2_56", true, 1, 56, 56, 64, 128, 3, 2, 1},
    {"resnet18_down1x1s2_56", true, 1, 56, 56, 64, 128, 1, 2, 0},
    {"resnet18_conv3x3_28", true, 1, 28, 28, 128, 128, 3, 1, 1},
    {"resnet18_conv3x3s2_28", true, 1, 28, 28, 128, 256, 3, 2, 1},
    {"resnet18_down1x1s2_28", true, 1, 28, 28, 128, 256, 1, 2, 0},
    {"resnet18_conv3x3_14", true, 1, 14, 14, 256, 256, 3, 1, 1},
    {"resnet18_conv3x3s2_14", true, 1, 14, 14, 256, 512, 3, 2, 1},
    {"resnet18_down1x1s2_14", true, 1, 14, 14, 256, 512, 1, 2, 0},
    {"resnet18_conv3x3_7", true, 1, 7, 7, 512, 512, 3, 1, 1},
    {"resnet18_fc_512x1000", false, 1, 1, 1, 512, 1000, 1, 1, 0},
};

const DwCase kDwCases[] = {
    {"blocknet_dw1_3ch", kBlockBatch, 8, 8, 3, 3},
    {"blocknet_dw2_32ch", kBlockBatch, 8, 8, 32, 3},
    {"blocknet_dw3_64ch", kBlockBatch, 8, 8, 64, 3},
};

Conv2DParams ConvParams(const GemmCase& c, const Requant& rq) {
  Conv2DParams p;
  memset(&p, 0, sizeof(p));
  p.batch = c.batch;
  p.in_h = c.in_h;
  p.in_w = c.in_w;
  p.in_c = c.in_c;
  p.out_h = (c.in_h + 2 * c.pad - c.kernel) / c.stride + 1;
  p.out_w = (c.in_w + 2 * c.pad - c.kernel) / c.stride + 1;
  p.out_c = c.out_c;
  p.kernel_h = p.kernel_w = c.kernel;
  p.stride_h = p.stride_w = c.stride;
  p.dilation_h = p.dilation_w = 1;
  p.pad_top = p.pad_left = c.pad;
  p.groups = 1;
  p.input_zero_point = -128;  // a ReLU output
  p.output_zero_point = -128;
  p.clamp = {-128, 127};
  p.requant = rq.params();
  return p;
}

double GemmMacs(const GemmCase& c) {
  if (!c.conv) return double(c.batch) * c.in_c * c.out_c;
  const int32_t oh = (c.in_h + 2 * c.pad - c.kernel) / c.stride + 1;
  const int32_t ow = (c.in_w + 2 * c.pad - c.kernel) / c.stride + 1;
  return double(c.batch) * oh * ow * c.out_c * c.kernel * c.kernel * c.in_c;
}

void BM_Gemm(benchmark::State& state, const GemmCase& c,
             const KernelTable& table) {
  const Requant rq(c.out_c, 11);
  const int32_t k = c.conv ? c.kernel * c.kernel * c.in_c : c.in_c;
  Buffer weights(size_t(c.out_c) * k);
  FillRandom(&weights, 12);
  const size_t in_items =
      c.conv ? size_t(c.in_h) * c.in_w * c.in_c : size_t(c.in_c);
  Buffer input(size_t(c.batch) * in_items);
  FillRandom(&input, 13);
  Conv2DParams conv = ConvParams(c, rq);
  FullyConnectedParams fc;
  memset(&fc, 0, sizeof(fc));
  fc.batch = c.batch;
  fc.in_features = c.in_c;
  fc.out_features = c.out_c;
  fc.input_zero_point = -128;
  fc.output_zero_point = 0;
  fc.clamp = {-128, 127};
  fc.requant = rq.params();
  const size_t out_items =
      c.conv ? size_t(conv.out_h) * conv.out_w * c.out_c : size_t(c.out_c);
  Buffer output(size_t(c.batch) * out_items);
  Buffer packed(table.gemm ? PackedGemmBytes(c.out_c, k) : 0);
  Buffer scratch(table.gemm ? GemmDriverScratchBytes(k) : 0);
  const PackedGemm* w = nullptr;
  if (table.gemm) {
    w = PackGemm(c.out_c, k, weights.i8(), rq.bias.data(), rq.params(),
                 c.conv ? conv.input_zero_point : fc.input_zero_point,
                 table.gemm_input, packed.data());
  }
  for (auto _ : state) {
    if (c.conv) {
      if (table.gemm) {
        RunConv2DGemm(table, conv, input.i8(), *w, output.i8(), scratch.data());
      } else {
        ref::Conv2D(conv, input.i8(), weights.i8(), rq.bias.data(),
                    output.i8());
      }
    } else if (table.gemm) {
      RunFullyConnectedGemm(table, fc, input.i8(), *w, output.i8(),
                            scratch.data());
    } else {
      ref::FullyConnected(fc, input.i8(), weights.i8(), rq.bias.data(),
                          output.i8());
    }
    benchmark::DoNotOptimize(output.data());
    benchmark::ClobberMemory();
  }
  const int64_t rows =
      c.conv ? int64_t(c.batch) * conv.out_h * conv.out_w : int64_t(c.batch);
  state.SetLabel("M=" + std::to_string(rows) + " N=" + std::to_string(c.out_c) +
                 " K=" + std::to_string(k));
  state.SetItemsProcessed(state.iterations() * c.batch);
  SetMacCounters(state, GemmMacs(c), UnitOf(table.isa));
}

void BM_DwConv(benchmark::State& state, const DwCase& c,
               const KernelTable& table) {
  const Requant rq(c.channels, 21);
  Conv2DParams p;
  memset(&p, 0, sizeof(p));
  p.batch = c.batch;
  p.in_h = p.out_h = c.h;
  p.in_w = p.out_w = c.w;
  p.in_c = p.out_c = p.groups = c.channels;
  p.kernel_h = p.kernel_w = c.kernel;
  p.stride_h = p.stride_w = 1;
  p.dilation_h = p.dilation_w = 1;
  p.pad_top = p.pad_left = c.kernel / 2;
  p.input_zero_point = -128;
  p.output_zero_point = -128;
  p.clamp = {-128, 127};
  p.requant = rq.params();
  Buffer filter(size_t(c.channels) * c.kernel * c.kernel);
  FillRandom(&filter, 22);
  const size_t items = size_t(c.batch) * c.h * c.w * c.channels;
  Buffer input(items), output(items);
  FillRandom(&input, 23);
  Buffer packed(table.dwconv ? PackedDwBytes(c.channels, c.kernel, c.kernel)
                             : 0);
  Buffer scratch(table.dwconv ? DwScratchBytes(p) : 0);
  const PackedDw* w = nullptr;
  if (table.dwconv) {
    w = PackDw(c.channels, c.kernel, c.kernel, filter.i8(), rq.bias.data(),
               rq.params(), packed.data());
  }
  for (auto _ : state) {
    if (table.dwconv) {
      table.dwconv(p, input.i8(), *w, output.i8(), scratch.data());
    } else {
      ref::Conv2D(p, input.i8(), filter.i8(), rq.bias.data(), output.i8());
    }
    benchmark::DoNotOptimize(output.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * c.batch);
  SetMacCounters(state, double(items) * c.kernel * c.kernel, Unit::kNone);
}

// Add of two resnet18 activations (n elements) with the multipliers the
// builder derives for typical scales.
void BM_Add(benchmark::State& state, int32_t n, AddKernel add) {
  const AddRealMultipliers real =
      ComputeAddRealMultipliers(0.05f, 0.08f, 0.1f, kAddLeftShift);
  AddParams p;
  memset(&p, 0, sizeof(p));
  p.size = n;
  p.input1_zero_point = -128;
  p.input2_zero_point = 0;
  p.output_zero_point = -128;
  p.left_shift = kAddLeftShift;
  QuantizeMultiplier(real.input1, &p.input1_multiplier, &p.input1_shift);
  QuantizeMultiplier(real.input2, &p.input2_multiplier, &p.input2_shift);
  QuantizeMultiplier(real.output, &p.output_multiplier, &p.output_shift);
  p.clamp = {-128, 127};  // ReLU with zero point -128
  Buffer a(n), b(n), out(n);
  FillRandom(&a, 31);
  FillRandom(&b, 32);
  for (auto _ : state) {
    add(p, a.i8(), b.i8(), out.i8());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * 3 * int64_t(n));
}

// resnet18's 3x3/2 pad 1 max pool over 112x112x64.
void BM_MaxPool(benchmark::State& state, Pool2DKernel pool) {
  Pool2DParams p;
  memset(&p, 0, sizeof(p));
  p.batch = 1;
  p.in_h = p.in_w = 112;
  p.channels = 64;
  p.out_h = p.out_w = 56;
  p.filter_h = p.filter_w = 3;
  p.stride_h = p.stride_w = 2;
  p.pad_top = p.pad_left = 1;
  p.clamp = {-128, 127};
  Buffer in(size_t(112) * 112 * 64), out(size_t(56) * 56 * 64);
  FillRandom(&in, 41);
  for (auto _ : state) {
    pool(p, in.i8(), out.i8());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * 56 * 56 * 64);
  state.SetBytesProcessed(state.iterations() * int64_t(in.size()));
}

// Global average pool of batch x h x w x c.
void BM_GlobalAvgPool(benchmark::State& state, int32_t batch, int32_t hw,
                      int32_t channels, GlobalAveragePoolKernel pool) {
  GlobalAveragePoolParams p;
  memset(&p, 0, sizeof(p));
  p.batch = batch;
  p.h = p.w = hw;
  p.channels = channels;
  p.input_zero_point = -128;
  p.output_zero_point = -128;
  QuantizeMultiplier(GlobalAveragePoolRealMultiplier(0.05f, 0.03f, hw, hw),
                     &p.multiplier, &p.shift);
  Buffer in(size_t(batch) * hw * hw * channels), out(size_t(batch) * channels);
  FillRandom(&in, 51);
  for (auto _ : state) {
    pool(p, in.i8(), out.i8());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.SetBytesProcessed(state.iterations() * int64_t(in.size()));
}

#if defined(__x86_64__)
void BM_Peak(benchmark::State& state, Unit unit) {
  uint64_t (*loop)(uint64_t) = PeakLoop(unit);
  double macs = 0;
  for (auto _ : state) macs += static_cast<double>(loop(100000));
  state.counters["GMAC/s"] =
      benchmark::Counter(macs * 1e-9, benchmark::Counter::kIsRate);
}
#endif

// ---------------------------------------------------------------- registry

// The paths GetKernelTable has and this CPU runs, in Isa order.
std::vector<KernelTable> RunnableTables() {
  std::vector<KernelTable> tables;
  const uint32_t mask = SupportedIsaMask();
  for (int i = 0; i < static_cast<int>(Isa::kCount); ++i) {
    const Isa isa = static_cast<Isa>(i);
    KernelTable t;
    if ((mask & Bit(isa)) != 0 && GetKernelTable(isa, &t)) tables.push_back(t);
  }
  return tables;
}

// Registers run(state, table) under "<op>/<name>/<isa>" once per distinct
// kernel (key_of: the table's function for this op, null for the
// reference); the label names the other paths that share it.
void RegisterShared(
    const std::string& op, const std::string& name,
    const std::vector<KernelTable>& tables,
    const std::function<const void*(const KernelTable&)>& key_of,
    const std::function<void(benchmark::State&, const KernelTable&)>& run) {
  std::vector<bool> done(tables.size(), false);
  for (size_t i = 0; i < tables.size(); ++i) {
    if (done[i]) continue;
    std::string also;
    for (size_t j = i + 1; j < tables.size(); ++j) {
      if (!done[j] && key_of(tables[j]) == key_of(tables[i])) {
        done[j] = true;
        also += std::string(also.empty() ? "" : ",") + IsaName(tables[j].isa);
      }
    }
    const KernelTable table = tables[i];
    benchmark::RegisterBenchmark(
        (op + "/" + name + "/" + IsaName(table.isa)).c_str(),
        [table, run, also](benchmark::State& state) {
          run(state, table);
          if (!also.empty()) state.SetLabel("same kernel as " + also);
        });
  }
}

template <typename Fn>
const void* Key(Fn fn) {
  return reinterpret_cast<const void*>(fn);
}

void RegisterAll() {
  const std::vector<KernelTable> tables = RunnableTables();
  const uint32_t mask = SupportedIsaMask();
  std::string paths;
  for (const KernelTable& t : tables) {
    paths += std::string(paths.empty() ? "" : ",") + IsaName(t.isa);
  }
  benchmark::AddCustomContext("kiln_paths", paths);
  fprintf(stderr, "kiln kernel paths here: %s\n", paths.c_str());

#if defined(__x86_64__)
  // The peaks first, on a quiet core if possible: every pct_peak uses them.
  const struct {
    Unit unit;
    Isa needs;
  } units[] = {{Unit::kAvx2, Isa::kAvx2},
               {Unit::kVnni256, Isa::kAvxVnni},
               {Unit::kVnni512, Isa::kAvx512Vnni},
               {Unit::kAmx, Isa::kAmx}};
  for (const auto& u : units) {
    if ((mask & Bit(u.needs)) == 0) continue;
    const double peak = MeasurePeak(PeakLoop(u.unit));
    Peaks()[u.unit] = peak;
    char value[32];
    snprintf(value, sizeof(value), "%.1f", peak * 1e-9);
    benchmark::AddCustomContext(
        std::string("peak_") + UnitName(u.unit) + "_gmacs", value);
    fprintf(stderr, "peak %-13s %8.1f GMAC/s (best of 7, thread CPU time)\n",
            UnitName(u.unit), peak * 1e-9);
    const Unit unit = u.unit;
    benchmark::RegisterBenchmark(
        (std::string("peak/") + UnitName(unit)).c_str(),
        [unit](benchmark::State& state) { BM_Peak(state, unit); });
  }
#else
  (void)mask;
#endif

  for (const GemmCase& c : kGemmCases) {
    for (const KernelTable& t : tables) {
      benchmark::RegisterBenchmark(
          (std::string("gemm/") + c.name + "/" + IsaName(t.isa)).c_str(),
          [&c, t](benchmark::State& state) { BM_Gemm(state, c, t); });
    }
  }
  for (const DwCase& c : kDwCases) {
    RegisterShared(
        "dwconv", c.name, tables,
        [](const KernelTable& t) { return Key(t.dwconv); },
        [&c](benchmark::State& state, const KernelTable& t) {
          BM_DwConv(state, c, t);
        });
  }
  const struct {
    const char* name;
    int32_t n;
  } adds[] = {{"resnet18_add_56x56x64", 56 * 56 * 64},
              {"resnet18_add_28x28x128", 28 * 28 * 128},
              {"resnet18_add_14x14x256", 14 * 14 * 256},
              {"resnet18_add_7x7x512", 7 * 7 * 512}};
  for (const auto& a : adds) {
    const int32_t n = a.n;
    RegisterShared(
        "add", a.name, tables, [](const KernelTable& t) { return Key(t.add); },
        [n](benchmark::State& state, const KernelTable& t) {
          BM_Add(state, n, t.add);
        });
  }
  RegisterShared(
      "maxpool", "resnet18_maxpool_3x3s2_112", tables,
      [](const KernelTable& t) { return Key(t.max_pool); },
      [](benchmark::State& state, const KernelTable& t) {
        BM_MaxPool(state, t.max_pool);
      });
  RegisterShared(
      "gavgpool", "resnet18_gap_7x7x512", tables,
      [](const KernelTable& t) { return Key(t.global_average_pool); },
      [](benchmark::State& state, const KernelTable& t) {
        BM_GlobalAvgPool(state, 1, 7, 512, t.global_average_pool);
      });
  RegisterShared(
      "gavgpool", "blocknet_gap_8x8x64", tables,
      [](const KernelTable& t) { return Key(t.global_average_pool); },
      [](benchmark::State& state, const KernelTable& t) {
        BM_GlobalAvgPool(state, kBlockBatch, 8, 64, t.global_average_pool);
      });
}

}  // namespace
}  // namespace kiln

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  kiln::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
