// Runtime latency benchmarks (single thread, batch as named), whole models
// through the public C API, once per kernel path this CPU runs (".../path"):
//   InvokeOverhead    trivial model (160-byte copy): the fixed cost per call
//   Mlp160            160 -> 256 -> 128 -> 8, int8 or float I/O
//   BlockNet          4 heads with decisions, blocks per second
//   ResNet18          1x224x224x3
// ref and scalar run Mlp160 and BlockNet batch 1 only (the reference takes
// seconds per ResNet-18 image or 4096 blocks).
// Reported counters: items/s, and MAC/s for models with MACs. Compare runs
// side by side on the same machine; absolute numbers drift with load.
// KILN_ISA, when set, restricts the run to that one path.
#include <benchmark/benchmark.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <random>
#include <string>
#include <vector>

#include "kiln/kiln.h"
#include "toolchain/zoo/reference_models.h"

namespace {

// A model with its own aligned copy and a context sized for `batch`, on
// kernel path `path` ("" = the runtime's choice).
class Loaded {
 public:
  Loaded(const std::vector<uint8_t>& bytes, size_t batch,
         const std::string& path = "")
      : model_(Aligned(bytes.size())), size_(bytes.size()) {
    memcpy(model_, bytes.data(), bytes.size());
    if (!path.empty()) setenv("KILN_ISA", path.c_str(), 1);
    size_t need = 0;
    kiln_error err;
    if (kiln_arena_size(model_, size_, batch, &need, &err) != KILN_OK) {
      Die(err);
    }
    arena_ = Aligned(need);
    if (kiln_init(model_, size_, arena_, need, &ctx_, &err) != KILN_OK) {
      Die(err);
    }
  }
  ~Loaded() {
    free(model_);
    free(arena_);
  }
  kiln_context* ctx() const { return ctx_; }

 private:
  static uint8_t* Aligned(size_t n) {
    return static_cast<uint8_t*>(aligned_alloc(64, (n + 63) / 64 * 64));
  }
  static void Die(const kiln_error& err) {
    fprintf(stderr, "kiln: %s\n", err.message);
    exit(1);
  }
  uint8_t* model_;
  size_t size_;
  uint8_t* arena_ = nullptr;
  kiln_context* ctx_ = nullptr;
};

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

void BM_InvokeOverhead(benchmark::State& state, std::string path) {
  Loaded m(kiln::zoo::BuildOrDie(kiln::zoo::TrivialModel()), 1, path);
  const std::vector<uint8_t> in = RandomBytes(160, 1);
  std::vector<uint8_t> out(160);
  const void* inputs[] = {in.data()};
  void* outputs[] = {out.data()};
  for (auto _ : state) {
    kiln_invoke(m.ctx(), 1, inputs, outputs, nullptr);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}

constexpr double kMlp160Macs = 160 * 256 + 256 * 128 + 128 * 8;  // 74,752

void BM_Mlp160(benchmark::State& state, std::string path) {
  const bool float_io = state.range(0) != 0;
  const size_t batch = static_cast<size_t>(state.range(1));
  Loaded m(kiln::zoo::BuildOrDie(kiln::zoo::Mlp160(1, float_io)), batch, path);
  std::vector<float> features(batch * 160);
  std::mt19937 rng(2);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& f : features) f = normal(rng);
  const std::vector<uint8_t> int8_features = RandomBytes(batch * 160, 3);
  std::vector<int8_t> logits(batch * 8);
  std::vector<float> logits_float(batch * 8);
  std::vector<kiln_decision> decisions(batch);
  const void* inputs[] = {float_io ? static_cast<const void*>(features.data())
                                   : int8_features.data()};
  void* outputs[] = {logits.data(), logits_float.data()};
  for (auto _ : state) {
    kiln_invoke(m.ctx(), batch, inputs, outputs, decisions.data());
    benchmark::DoNotOptimize(decisions.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["MAC/s"] = benchmark::Counter(
      kMlp160Macs * batch * state.iterations(), benchmark::Counter::kIsRate);
}

constexpr double kBlockNetMacs = 465792;

void BM_BlockNet(benchmark::State& state, std::string path) {
  const size_t batch = static_cast<size_t>(state.range(0));
  Loaded m(kiln::zoo::BuildOrDie(kiln::zoo::BlockNet(1)), batch, path);
  const std::vector<uint8_t> pixels = RandomBytes(batch * 192, 4);
  std::vector<kiln_decision> decisions(batch * 4);
  const void* inputs[] = {pixels.data()};
  for (auto _ : state) {
    kiln_invoke(m.ctx(), batch, inputs, nullptr, decisions.data());
    benchmark::DoNotOptimize(decisions.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["MAC/s"] = benchmark::Counter(
      kBlockNetMacs * batch * state.iterations(), benchmark::Counter::kIsRate);
}
constexpr double kResNet18Macs = 1814073344.0;

void BM_ResNet18(benchmark::State& state, std::string path) {
  Loaded m(kiln::zoo::BuildOrDie(kiln::zoo::ResNet18(1)), 1, path);
  kiln_tensor_info in;
  kiln_get_input_info(m.ctx(), 0, &in);
  const std::vector<uint8_t> image = RandomBytes(in.item_bytes, 5);
  std::vector<kiln_decision> decisions(kiln_num_heads(m.ctx()));
  const void* inputs[] = {image.data()};
  for (auto _ : state) {
    kiln_invoke(m.ctx(), 1, inputs, nullptr, decisions.data());
    benchmark::DoNotOptimize(decisions.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["MAC/s"] = benchmark::Counter(
      kResNet18Macs * state.iterations(), benchmark::Counter::kIsRate);
}

// The kernel paths to measure: KILN_ISA alone if set, else every runnable.
std::vector<std::string> Paths() {
  if (const char* forced = getenv("KILN_ISA")) {
    if (forced[0] != '\0') return {forced};
  }
  std::vector<std::string> paths;
  for (int32_t i = 0; i < KILN_ISA_COUNT; ++i) {
    if ((kiln_supported_isas() >> i) & 1u) paths.push_back(kiln_isa_name_of(i));
  }
  return paths;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("InvokeOverhead", BM_InvokeOverhead, "");
  for (const std::string& path : Paths()) {
    benchmark::RegisterBenchmark(("Mlp160/" + path).c_str(), BM_Mlp160, path)
        ->ArgNames({"float_io", "batch"})
        ->Args({0, 1})
        ->Args({1, 1})
        ->Args({0, 64});
    // The portable paths are there to compare against; a batch of 4096
    // blocks takes them seconds.
    const bool portable = path == "ref" || path == "scalar";
    auto* blocknet = benchmark::RegisterBenchmark(("BlockNet/" + path).c_str(),
                                                  BM_BlockNet, path);
    blocknet->ArgName("batch")->Arg(1);
    if (!portable) blocknet->Arg(4096);
    if (!portable) {
      benchmark::RegisterBenchmark(("ResNet18/" + path).c_str(), BM_ResNet18,
                                   path)
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
