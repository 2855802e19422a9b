// Every kernel path the CPU can run (KILN_ISA) gives exactly the bytes of the
// reference path on whole models — outputs and decisions — for any batch
// chunking and any number of threads (kiln_invoke_parallel).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kiln/kiln.h"
#include "tests/runtime/runtime_test_util.h"
#include "toolchain/model_builder.h"
#include "toolchain/zoo/reference_models.h"

namespace kiln {
namespace {

using testing::LoadedModel;

// Sets KILN_ISA for the scope of a test step and restores the old value.
class ScopedIsa {
 public:
  explicit ScopedIsa(const char* name) {
    const char* old = getenv("KILN_ISA");
    had_old_ = old != nullptr;
    if (had_old_) old_ = old;
    setenv("KILN_ISA", name, 1);
  }
  ~ScopedIsa() {
    if (had_old_) {
      setenv("KILN_ISA", old_.c_str(), 1);
    } else {
      unsetenv("KILN_ISA");
    }
  }

 private:
  bool had_old_ = false;
  std::string old_;
};

std::vector<std::string> RunnablePaths() {
  std::vector<std::string> names;
  const uint32_t mask = kiln_supported_isas();
  for (int32_t i = 0; i < KILN_ISA_COUNT; ++i) {
    if ((mask >> i) & 1) names.push_back(kiln_isa_name_of(i));
  }
  return names;
}

// All graph outputs (as bytes) and decisions of n items.
struct ModelRun {
  std::vector<std::vector<uint8_t>> outputs;
  std::vector<kiln_decision> decisions;
};

// Deterministic random bytes for every input; float inputs get values in
// [-4, 4] so that quantization sees both signs and saturation.
std::vector<std::vector<uint8_t>> RandomInputs(kiln_context* ctx, size_t n,
                                               uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<uint8_t>> inputs;
  for (int32_t i = 0; i < kiln_num_inputs(ctx); ++i) {
    kiln_tensor_info info;
    EXPECT_EQ(kiln_get_input_info(ctx, i, &info), KILN_OK);
    std::vector<uint8_t> bytes(info.item_bytes * n);
    if (info.dtype == KILN_FLOAT32) {
      std::uniform_real_distribution<float> d(-4.0f, 4.0f);
      for (size_t j = 0; j < bytes.size() / 4; ++j) {
        const float v = d(rng);
        memcpy(&bytes[j * 4], &v, 4);
      }
    } else {
      std::uniform_int_distribution<int> d(0, 255);
      for (auto& b : bytes) b = static_cast<uint8_t>(d(rng));
    }
    inputs.push_back(std::move(bytes));
  }
  return inputs;
}

ModelRun Invoke(kiln_context* ctx,
                const std::vector<std::vector<uint8_t>>& inputs, size_t n) {
  ModelRun r;
  std::vector<const void*> in;
  for (const auto& v : inputs) in.push_back(v.data());
  std::vector<void*> out;
  for (int32_t j = 0; j < kiln_num_outputs(ctx); ++j) {
    kiln_tensor_info info;
    EXPECT_EQ(kiln_get_output_info(ctx, j, &info), KILN_OK);
    r.outputs.emplace_back(info.item_bytes * n, 0xAB);
  }
  for (auto& v : r.outputs) out.push_back(v.data());
  r.decisions.assign(n * kiln_num_heads(ctx), kiln_decision{});
  EXPECT_EQ(kiln_invoke(ctx, n, in.data(), out.data(), r.decisions.data()),
            KILN_OK);
  return r;
}

void ExpectSame(const ModelRun& a, const ModelRun& b, const std::string& what) {
  ASSERT_EQ(a.outputs.size(), b.outputs.size()) << what;
  for (size_t j = 0; j < a.outputs.size(); ++j) {
    EXPECT_TRUE(a.outputs[j] == b.outputs[j]) << what << ": output " << j;
  }
  ASSERT_EQ(a.decisions.size(), b.decisions.size()) << what;
  EXPECT_EQ(0, memcmp(a.decisions.data(), b.decisions.data(),
                      a.decisions.size() * sizeof(kiln_decision)))
      << what << ": decisions";
}

std::vector<float> RandomVector(std::mt19937* rng, size_t n, float scale) {
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(*rng);
  return v;
}

// Convolutions of every kind the paths treat differently (3x3, 7x7 strided,
// depthwise strided and dilated, 1x1, odd channel counts), pools, Add, GAP
// and FullyConnected, at input zero point `zp`.
std::vector<uint8_t> ConvMixModel(uint32_t seed, int32_t zp) {
  std::mt19937 rng(seed);
  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {13, 11, 6}, 0.05f, zp);
  Conv2DOptions same3;
  same3.pad_top = same3.pad_left = same3.pad_bottom = same3.pad_right = 1;
  const TensorId c1 = b.Conv2D(x, RandomVector(&rng, 20 * 3 * 3 * 6, 1),
                               {20, 3, 3, 6}, RandomVector(&rng, 20, 2), same3,
                               {0.4f, -20}, Activation::kRelu);
  Conv2DOptions stem;
  stem.stride_h = stem.stride_w = 2;
  stem.pad_top = stem.pad_left = stem.pad_bottom = stem.pad_right = 3;
  const TensorId c2 = b.Conv2D(c1, RandomVector(&rng, 17 * 7 * 7 * 20, 0.3f),
                               {17, 7, 7, 20}, {}, stem, {0.9f, 3});
  const TensorId d1 = b.DepthwiseConv2D(
      c2, RandomVector(&rng, 17 * 9, 1), {17, 3, 3, 1},
      RandomVector(&rng, 17, 1), same3, {0.2f, -128}, Activation::kRelu6);
  Conv2DOptions dilated;
  dilated.dilation_h = dilated.dilation_w = 2;
  dilated.pad_top = dilated.pad_left = dilated.pad_bottom = dilated.pad_right =
      4;
  const TensorId d2 = b.DepthwiseConv2D(c2, RandomVector(&rng, 17 * 25, 1),
                                        {17, 5, 5, 1}, {}, dilated, {1.5f, 10});
  const TensorId sum = b.Add(d1, d2, {0.6f, -7}, Activation::kRelu);
  const TensorId p1 =
      b.Conv2D(sum, RandomVector(&rng, 33 * 17, 1), {33, 1, 1, 17},
               RandomVector(&rng, 33, 1), Conv2DOptions{}, {0.5f, 2});
  Pool2DOptions mp;
  mp.filter_h = mp.filter_w = 3;
  mp.stride_h = mp.stride_w = 2;
  mp.pad_top = mp.pad_left = mp.pad_bottom = mp.pad_right = 1;
  const TensorId m = b.MaxPool2D(p1, mp);
  Pool2DOptions ap;
  ap.filter_h = ap.filter_w = 2;
  const TensorId a = b.AveragePool2D(m, ap);
  const TensorId g = b.GlobalAveragePool(a, {0.3f, -3});
  const TensorId fc =
      b.FullyConnected(g, RandomVector(&rng, 10 * 33, 1), {10, 33},
                       RandomVector(&rng, 10, 1), {0.25f, 0});
  b.AddOutput(p1);
  b.AddOutput(fc);
  DecisionPolicy policy;
  policy.top_k = 3;
  policy.threshold_real = 0.5f;
  b.AddHead("class", fc, {}, policy);
  return zoo::BuildOrDie(b);
}

struct NamedModel {
  std::string name;
  std::vector<uint8_t> bytes;
};

std::vector<NamedModel> Models() {
  return {{"mlp160", zoo::BuildOrDie(zoo::Mlp160(7, false))},
          {"mlp160_float_io", zoo::BuildOrDie(zoo::Mlp160(8, true))},
          {"blocknet", zoo::BuildOrDie(zoo::BlockNet(9))},
          {"all_ops", zoo::BuildOrDie(zoo::AllOpsModel(10))},
          {"conv_mix_zp-128", ConvMixModel(11, -128)},
          {"conv_mix_zp127", ConvMixModel(12, 127)},
          {"conv_mix_zp-5", ConvMixModel(13, -5)}};
}

TEST(KernelPaths, EveryPathMatchesTheReferenceOnWholeModels) {
  const std::vector<std::string> paths = RunnablePaths();
  ASSERT_GE(paths.size(), 2u);  // ref and scalar at least
  for (const NamedModel& model : Models()) {
    const size_t n = 37;  // chunks of 16 leave a tail
    ModelRun expected;
    std::vector<std::vector<uint8_t>> inputs;
    {
      ScopedIsa isa("ref");
      LoadedModel m(model.bytes, 16);
      ASSERT_EQ(m.status, KILN_OK) << model.name << ": " << m.message();
      EXPECT_STREQ(kiln_isa_name(m.ctx), "ref");
      inputs = RandomInputs(m.ctx, n, 99);
      expected = Invoke(m.ctx, inputs, n);
    }
    for (const std::string& path : paths) {
      ScopedIsa isa(path.c_str());
      LoadedModel m(model.bytes, 16);
      ASSERT_EQ(m.status, KILN_OK)
          << model.name << " " << path << ": " << m.message();
      EXPECT_EQ(kiln_isa_name(m.ctx), path);
      ExpectSame(Invoke(m.ctx, inputs, n), expected, model.name + " " + path);
    }
  }
}

TEST(KernelPaths, DefaultPathIsTheFastestRunnable) {
  unsetenv("KILN_ISA");
  LoadedModel m(zoo::BuildOrDie(zoo::Mlp160(1, false)), 1);
  ASSERT_EQ(m.status, KILN_OK) << m.message();
  const std::vector<std::string> paths = RunnablePaths();
  // Detection order puts the preferred path last among the runnable ones
  // except that ref/scalar are only chosen when nothing else runs.
  const std::string chosen = kiln_isa_name(m.ctx);
  EXPECT_NE(chosen, "ref");
  if (paths.size() > 2) {
    EXPECT_NE(chosen, "scalar");
  }
}

TEST(KernelPaths, ForcedPathErrorsAreClear) {
  const std::vector<uint8_t> bytes = zoo::BuildOrDie(zoo::Mlp160(1, false));
  {
    ScopedIsa isa("avx9000");
    LoadedModel m(bytes, 1);
    EXPECT_EQ(m.status, KILN_ERR_UNSUPPORTED);
    EXPECT_NE(std::string(m.error.message).find("not a kernel path"),
              std::string::npos)
        << m.error.message;
  }
  const uint32_t mask = kiln_supported_isas();
  for (int32_t i = 0; i < KILN_ISA_COUNT; ++i) {
    if ((mask >> i) & 1) continue;
    ScopedIsa isa(kiln_isa_name_of(i));
    LoadedModel m(bytes, 1);
    EXPECT_EQ(m.status, KILN_ERR_UNSUPPORTED) << kiln_isa_name_of(i);
    EXPECT_NE(std::string(m.error.message).find("cannot run"),
              std::string::npos)
        << m.error.message;
  }
  EXPECT_EQ(kiln_isa_name_of(-1), nullptr);
  EXPECT_EQ(kiln_isa_name_of(KILN_ISA_COUNT), nullptr);
  EXPECT_EQ(kiln_isa_name(nullptr), nullptr);
}

TEST(KernelPaths, ArenaSizeDoesNotDependOnThePath) {
  const std::vector<uint8_t> bytes = zoo::BuildOrDie(zoo::BlockNet(2));
  testing::AlignedBytes model(bytes);
  size_t first = 0;
  for (const std::string& path : RunnablePaths()) {
    ScopedIsa isa(path.c_str());
    size_t need = 0;
    ASSERT_EQ(kiln_arena_size(model.data(), model.size(), 8, &need, nullptr),
              KILN_OK);
    if (first == 0) first = need;
    EXPECT_EQ(need, first) << path;
  }
}

// A parallel-for over std::threads, as a caller would lend its pool.
void ThreadsParallelFor(void* /*user*/, int32_t tasks, kiln_task_fn task,
                        void* task_ctx) {
  std::vector<std::thread> threads;
  for (int32_t i = 1; i < tasks; ++i) {
    threads.emplace_back([=] { task(task_ctx, i); });
  }
  task(task_ctx, 0);
  for (auto& t : threads) t.join();
}

TEST(KernelPaths, AnyThreadCountGivesIdenticalBytes) {
  for (const NamedModel& model :
       {NamedModel{"blocknet", zoo::BuildOrDie(zoo::BlockNet(3))},
        NamedModel{"conv_mix", ConvMixModel(4, -9)}}) {
    LoadedModel first(model.bytes, 8);
    ASSERT_EQ(first.status, KILN_OK) << first.message();
    const size_t n = 101;
    const auto inputs = RandomInputs(first.ctx, n, 5);
    const ModelRun single = Invoke(first.ctx, inputs, n);
    std::vector<const void*> in;
    for (const auto& v : inputs) in.push_back(v.data());
    for (int32_t threads : {1, 2, 3, 4, 7}) {
      std::vector<std::vector<uint8_t>> arenas(threads);
      std::vector<kiln_context*> contexts = {first.ctx};
      for (int32_t t = 1; t < threads; ++t) {
        arenas[t].resize(first.arena.size());
        kiln_context* c = nullptr;
        ASSERT_EQ(kiln_init_like(first.ctx, arenas[t].data(), arenas[t].size(),
                                 &c, nullptr),
                  KILN_OK);
        EXPECT_STREQ(kiln_isa_name(c), kiln_isa_name(first.ctx));
        contexts.push_back(c);
      }
      ModelRun r;
      for (const auto& o : single.outputs) r.outputs.emplace_back(o.size(), 0);
      r.decisions.assign(single.decisions.size(), kiln_decision{});
      std::vector<void*> out;
      for (auto& v : r.outputs) out.push_back(v.data());
      for (kiln_parallel_for_fn pfor :
           {static_cast<kiln_parallel_for_fn>(ThreadsParallelFor),
            static_cast<kiln_parallel_for_fn>(nullptr)}) {
        ASSERT_EQ(
            kiln_invoke_parallel(contexts.data(), threads, n, in.data(),
                                 out.data(), r.decisions.data(), pfor, nullptr),
            KILN_OK);
        ExpectSame(r, single,
                   model.name + " threads " + std::to_string(threads));
      }
    }
  }
}

TEST(KernelPaths, InvokeParallelRejectsBadArguments) {
  LoadedModel a(zoo::BuildOrDie(zoo::Mlp160(1, false)), 4);
  LoadedModel other(zoo::BuildOrDie(zoo::Mlp160(2, false)), 4);
  ASSERT_EQ(a.status, KILN_OK);
  ASSERT_EQ(other.status, KILN_OK);
  std::vector<int8_t> x(160 * 3);
  const void* in[] = {x.data()};
  kiln_context* same_twice[] = {a.ctx, a.ctx};
  kiln_context* mixed[] = {a.ctx, other.ctx};
  kiln_context* with_null[] = {a.ctx, nullptr};
  EXPECT_EQ(kiln_invoke_parallel(nullptr, 1, 3, in, nullptr, nullptr, nullptr,
                                 nullptr),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_invoke_parallel(same_twice, 0, 3, in, nullptr, nullptr,
                                 nullptr, nullptr),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_invoke_parallel(same_twice, 2, 3, in, nullptr, nullptr,
                                 nullptr, nullptr),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(
      kiln_invoke_parallel(mixed, 2, 3, in, nullptr, nullptr, nullptr, nullptr),
      KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_invoke_parallel(with_null, 2, 3, in, nullptr, nullptr, nullptr,
                                 nullptr),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_invoke_parallel(same_twice, 1, 3, nullptr, nullptr, nullptr,
                                 nullptr, nullptr),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_invoke_parallel(same_twice, 1, 0, nullptr, nullptr, nullptr,
                                 nullptr, nullptr),
            KILN_OK);
}

}  // namespace
}  // namespace kiln
