// End-to-end behaviour of kiln_init / kiln_invoke: exact agreement with the
// reference kernels, batch and chunk invariance, threads, arena bounds, safe
// model replacement and argument errors.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "kernels/ref/ref_kernels.h"
#include "kiln/kiln.hpp"
#include "tests/runtime/runtime_test_util.h"
#include "toolchain/model_def.h"
#include "toolchain/zoo/reference_models.h"

namespace kiln {
namespace {

using testing::AlignedBytes;
using testing::LoadedModel;

std::vector<int8_t> RandomInt8(std::mt19937* rng, size_t n) {
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(d(*rng));
  return v;
}

std::vector<uint8_t> RandomUint8(std::mt19937* rng, size_t n) {
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(d(*rng));
  return v;
}

std::vector<float> RandomFloat(std::mt19937* rng, size_t n, float lo,
                               float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(*rng);
  return v;
}

// Runs one FullyConnected layer of a ModelDef with the reference kernel.
std::vector<int8_t> RefFullyConnected(const ModelDef& def,
                                      const OperatorDef& op,
                                      const std::vector<int8_t>& input,
                                      int32_t batch) {
  const TensorDef& in = def.tensors[op.inputs[0]];
  const TensorDef& w = def.tensors[op.inputs[1]];
  const TensorDef& b = def.tensors[op.inputs[2]];
  const TensorDef& out = def.tensors[op.outputs[0]];
  const RequantDef& rq = *op.fully_connected.requant;
  FullyConnectedParams p;
  p.batch = batch;
  p.out_features = w.shape[0];
  p.in_features = w.shape[1];
  p.input_zero_point = in.quantization->zero_point[0];
  p.output_zero_point = out.quantization->zero_point[0];
  p.clamp = {op.fully_connected.act_min, op.fully_connected.act_max};
  p.requant = {rq.multiplier.data(), rq.shift.data(),
               static_cast<int32_t>(rq.multiplier.size())};
  std::vector<int8_t> output(size_t(batch) * p.out_features);
  ref::FullyConnected(
      p, input.data(),
      reinterpret_cast<const int8_t*>(def.buffers[w.buffer].data.data()),
      reinterpret_cast<const int32_t*>(def.buffers[b.buffer].data.data()),
      output.data());
  return output;
}

TEST(Invoke, Mlp160MatchesReferenceKernelsExactly) {
  const ModelBuilder builder = zoo::Mlp160(7, /*float_io=*/false);
  ModelDef def;
  std::string error;
  ASSERT_TRUE(builder.Finish(&def, &error)) << error;
  LoadedModel m(zoo::BuildOrDie(builder), 64);
  ASSERT_EQ(m.status, KILN_OK) << m.message();

  std::mt19937 rng(1);
  const int32_t n = 37;
  const std::vector<int8_t> input = RandomInt8(&rng, size_t(n) * 160);
  std::vector<int8_t> expected = input;
  for (const OperatorDef& op : def.operators) {
    ASSERT_EQ(op.kind, OpKind::kFullyConnected);
    expected = RefFullyConnected(def, op, expected, n);
  }
  std::vector<int8_t> got(size_t(n) * 8, 0x55);
  const void* inputs[] = {input.data()};
  void* outputs[] = {got.data()};
  ASSERT_EQ(kiln_invoke(m.ctx, n, inputs, outputs, nullptr), KILN_OK);
  EXPECT_EQ(got, expected);
}

// Every output and decision of a batch must equal running its items one by
// one, whatever the chunk size the arena forces.
TEST(Invoke, AllOpsBatchAndChunkInvariant) {
  const std::vector<uint8_t> bytes = zoo::BuildOrDie(zoo::AllOpsModel(3));
  LoadedModel big(bytes, 64);
  LoadedModel small(bytes, 3);
  LoadedModel single(bytes, 1);
  ASSERT_EQ(big.status, KILN_OK) << big.message();
  ASSERT_EQ(small.status, KILN_OK) << small.message();
  ASSERT_EQ(single.status, KILN_OK) << single.message();
  EXPECT_GE(kiln_max_batch(big.ctx), 64u);
  EXPECT_EQ(kiln_max_batch(small.ctx), 3u);
  ASSERT_EQ(kiln_num_inputs(big.ctx), 2);
  ASSERT_EQ(kiln_num_outputs(big.ctx), 3);
  ASSERT_EQ(kiln_num_heads(big.ctx), 1);

  std::mt19937 rng(5);
  const size_t n = 11;
  const std::vector<float> image = RandomFloat(&rng, n * 9 * 9 * 4, -3, 3);
  const std::vector<uint8_t> side = RandomUint8(&rng, n * 5 * 5 * 2);
  struct Result {
    std::vector<int8_t> logits, sigmoid;
    std::vector<float> probs;
    std::vector<kiln_decision> decisions;
  };
  auto run = [&](kiln_context* ctx, size_t first, size_t count, Result* r) {
    const void* inputs[] = {image.data() + first * 324,
                            side.data() + first * 50};
    void* outputs[] = {r->logits.data() + first * 10,
                       r->probs.data() + first * 10,
                       r->sigmoid.data() + first * 10};
    ASSERT_EQ(
        kiln_invoke(ctx, count, inputs, outputs, r->decisions.data() + first),
        KILN_OK);
  };
  auto fresh = [&] {
    Result r;
    r.logits.assign(n * 10, 0);
    r.sigmoid.assign(n * 10, 0);
    r.probs.assign(n * 10, -1.0f);
    r.decisions.assign(n, kiln_decision{});
    return r;
  };
  Result whole = fresh(), chunked = fresh(), one_by_one = fresh();
  run(big.ctx, 0, n, &whole);
  run(small.ctx, 0, n, &chunked);
  for (size_t i = 0; i < n; ++i) run(single.ctx, i, 1, &one_by_one);
  for (const Result* r : {&chunked, &one_by_one}) {
    EXPECT_EQ(r->logits, whole.logits);
    EXPECT_EQ(r->sigmoid, whole.sigmoid);
    EXPECT_EQ(
        0, memcmp(r->probs.data(), whole.probs.data(), n * 10 * sizeof(float)));
    EXPECT_EQ(0, memcmp(r->decisions.data(), whole.decisions.data(),
                        n * sizeof(kiln_decision)));
  }
  // The probabilities are a softmax: they sum to about 1 for every item.
  for (size_t i = 0; i < n; ++i) {
    float sum = 0;
    for (int c = 0; c < 10; ++c) sum += whole.probs[i * 10 + c];
    EXPECT_NEAR(sum, 1.0f, 0.05f) << "item " << i;
  }
}

TEST(Invoke, ArenaBoundsAndAlignment) {
  const std::vector<uint8_t> bytes = zoo::BuildOrDie(zoo::BlockNet(1));
  AlignedBytes model(bytes);
  size_t one = 0;
  ASSERT_EQ(kiln_arena_size(model.data(), model.size(), 1, &one, nullptr),
            KILN_OK);
  size_t two = 0;
  ASSERT_EQ(kiln_arena_size(model.data(), model.size(), 2, &two, nullptr),
            KILN_OK);
  EXPECT_GT(two, one);
  // Whatever the arena's alignment, kiln_arena_size(1) bytes suffice, and
  // nothing outside them is written.
  const size_t guard = 256;
  std::vector<uint8_t> memory(one + 2 * guard + 64);
  std::mt19937 rng(2);
  const std::vector<uint8_t> pixels = RandomUint8(&rng, 5 * 192);
  for (size_t misalign = 0; misalign < 64; misalign += 7) {
    std::fill(memory.begin(), memory.end(), 0xA5);
    uint8_t* arena = memory.data() + guard + misalign;
    kiln_context* ctx = nullptr;
    kiln_error err;
    ASSERT_EQ(kiln_init(model.data(), model.size(), arena, one, &ctx, &err),
              KILN_OK)
        << err.message;
    EXPECT_EQ(kiln_max_batch(ctx), 1u);
    const void* inputs[] = {pixels.data()};
    std::vector<kiln_decision> d(5 * 4);
    ASSERT_EQ(kiln_invoke(ctx, 5, inputs, nullptr, d.data()), KILN_OK);
    for (size_t i = 0; i < memory.size(); ++i) {
      if (i >= guard + misalign && i < guard + misalign + one) continue;
      ASSERT_EQ(memory[i], 0xA5) << "byte " << i << " outside the arena";
    }
    kiln_context* too_small = nullptr;
    EXPECT_EQ(kiln_init(model.data(), model.size(), arena, one - 64 - 1,
                        &too_small, &err),
              KILN_ERR_ARENA_TOO_SMALL);
    EXPECT_EQ(too_small, nullptr);
  }
}

TEST(Invoke, ThreadsWithOwnArenasGiveIdenticalBytes) {
  const std::vector<uint8_t> bytes = zoo::BuildOrDie(zoo::BlockNet(9));
  LoadedModel m(bytes, 16);
  ASSERT_EQ(m.status, KILN_OK) << m.message();
  std::mt19937 rng(3);
  const size_t n = 200;
  const std::vector<uint8_t> pixels = RandomUint8(&rng, n * 192);
  auto run = [&](kiln_context* ctx, std::vector<kiln_decision>* d) {
    d->assign(n * 4, kiln_decision{});
    const void* inputs[] = {pixels.data()};
    return kiln_invoke(ctx, n, inputs, nullptr, d->data());
  };
  std::vector<kiln_decision> expected;
  ASSERT_EQ(run(m.ctx, &expected), KILN_OK);

  const int kThreads = 4;
  std::vector<std::vector<uint8_t>> arenas(kThreads);
  std::vector<std::vector<kiln_decision>> results(kThreads);
  std::vector<kiln_status> status(kThreads, KILN_ERR_INVALID_ARGUMENT);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    // Smaller arenas (fewer items per step) must give the same bytes; the
    // fixed region (prepacked weights, scratch) needs room beyond one item.
    size_t one_item = 0;
    ASSERT_EQ(
        kiln_arena_size(m.model.data(), m.model.size(), 1, &one_item, nullptr),
        KILN_OK);
    arenas[t].resize(one_item + m.arena.size() / (t + 2));
    threads.emplace_back([&, t] {
      kiln_context* ctx = nullptr;
      if (kiln_init_like(m.ctx, arenas[t].data(), arenas[t].size(), &ctx,
                         nullptr) != KILN_OK) {
        return;
      }
      status[t] = run(ctx, &results[t]);
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(status[t], KILN_OK);
    EXPECT_EQ(0, memcmp(results[t].data(), expected.data(),
                        expected.size() * sizeof(kiln_decision)))
        << "thread " << t;
  }
}

TEST(Invoke, ModelAndInputsAreNeverWritten) {
  const std::vector<uint8_t> bytes = zoo::BuildOrDie(zoo::Mlp160(2, true));
  LoadedModel m(bytes, 8);
  ASSERT_EQ(m.status, KILN_OK) << m.message();
  std::mt19937 rng(4);
  const std::vector<float> input = RandomFloat(&rng, 20 * 160, -2, 2);
  const std::vector<float> input_copy = input;
  std::vector<int8_t> logits(20 * 8);
  std::vector<float> probs(20 * 8);
  const void* inputs[] = {input.data()};
  void* outputs[] = {logits.data(), probs.data()};
  ASSERT_EQ(kiln_invoke(m.ctx, 20, inputs, outputs, nullptr), KILN_OK);
  EXPECT_EQ(0, memcmp(m.model.data(), bytes.data(), bytes.size()));
  EXPECT_EQ(input, input_copy);
  // The float output is exactly the dequantized int8 logits.
  kiln_tensor_info info;
  ASSERT_EQ(kiln_get_output_info(m.ctx, 0, &info), KILN_OK);
  for (size_t i = 0; i < logits.size(); ++i) {
    EXPECT_EQ(probs[i], info.scale * float(logits[i] - info.zero_point));
  }
}

// A model update: the replacement is verified into a second arena while the
// current model keeps serving; a corrupt replacement is rejected and changes
// nothing.
TEST(Invoke, CorruptReplacementIsRejectedAndOldModelKeepsServing) {
  const std::vector<uint8_t> v1 = zoo::BuildOrDie(zoo::Mlp160(1, false));
  LoadedModel current(v1, 4);
  ASSERT_EQ(current.status, KILN_OK) << current.message();
  std::mt19937 rng(8);
  const std::vector<int8_t> input = RandomInt8(&rng, 6 * 160);
  std::vector<kiln_decision> before(6), after(6);
  const void* inputs[] = {input.data()};
  ASSERT_EQ(kiln_invoke(current.ctx, 6, inputs, nullptr, before.data()),
            KILN_OK);

  std::vector<uint8_t> v2 = zoo::BuildOrDie(zoo::Mlp160(2, false));
  v2.resize(v2.size() / 2);  // a truncated download
  LoadedModel replacement(v2, 4);
  EXPECT_NE(replacement.status, KILN_OK);
  EXPECT_EQ(replacement.ctx, nullptr);
  EXPECT_NE(std::string(replacement.error.message), "");

  ASSERT_EQ(kiln_invoke(current.ctx, 6, inputs, nullptr, after.data()),
            KILN_OK);
  EXPECT_EQ(0, memcmp(before.data(), after.data(), 6 * sizeof(kiln_decision)));

  LoadedModel good(zoo::BuildOrDie(zoo::Mlp160(2, false)), 4);
  ASSERT_EQ(good.status, KILN_OK) << good.message();
  ASSERT_EQ(kiln_invoke(good.ctx, 6, inputs, nullptr, after.data()), KILN_OK);
}

TEST(Invoke, ArgumentErrors) {
  LoadedModel m(zoo::BuildOrDie(zoo::TrivialModel()), 2);
  ASSERT_EQ(m.status, KILN_OK) << m.message();
  std::vector<int8_t> x(160), y(160);
  const void* inputs[] = {x.data()};
  const void* null_inputs[] = {nullptr};
  EXPECT_EQ(kiln_invoke(nullptr, 1, inputs, nullptr, nullptr),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_invoke(m.ctx, 1, nullptr, nullptr, nullptr),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_invoke(m.ctx, 1, null_inputs, nullptr, nullptr),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_invoke(m.ctx, 0, nullptr, nullptr, nullptr), KILN_OK);
  size_t bytes = 1;
  EXPECT_EQ(kiln_arena_size(m.model.data(), m.model.size(), 0, &bytes, nullptr),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(bytes, 0u);
  EXPECT_EQ(kiln_arena_size(m.model.data(), m.model.size(), SIZE_MAX, &bytes,
                            nullptr),
            KILN_ERR_OVERFLOW);
  kiln_context* ctx = nullptr;
  kiln_error err;
  EXPECT_EQ(kiln_init(nullptr, 10, m.arena.data(), m.arena.size(), &ctx, &err),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_init(m.model.data(), m.model.size(), nullptr, 100, &ctx, &err),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_init_like(nullptr, m.arena.data(), 10, &ctx, &err),
            KILN_ERR_INVALID_ARGUMENT);
  kiln_tensor_info info;
  EXPECT_EQ(kiln_get_input_info(m.ctx, 1, &info), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_get_head_info(m.ctx, 0, nullptr), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_head_label(m.ctx, 0, 0), nullptr);
  for (int s = KILN_OK; s <= KILN_ERR_OVERFLOW; ++s) {
    EXPECT_STRNE(kiln_status_string(static_cast<kiln_status>(s)),
                 "unknown status");
  }
  // The trivial model copies its input.
  for (int i = 0; i < 160; ++i) x[i] = static_cast<int8_t>(i - 80);
  void* outputs[] = {y.data()};
  ASSERT_EQ(kiln_invoke(m.ctx, 1, inputs, outputs, nullptr), KILN_OK);
  EXPECT_EQ(x, y);
}

TEST(Invoke, IntrospectionDescribesTheModel) {
  LoadedModel m(zoo::BuildOrDie(zoo::BlockNet(4)), 4);
  ASSERT_EQ(m.status, KILN_OK) << m.message();
  kiln::Session s;
  std::vector<uint8_t> arena(m.arena.size());
  ASSERT_TRUE(
      s.Init(m.model.data(), m.model.size(), arena.data(), arena.size()))
      << s.error().message;
  kiln_tensor_info in;
  ASSERT_TRUE(s.input_info(0, &in));
  EXPECT_STREQ(in.name, "pixels");
  EXPECT_EQ(in.dtype, KILN_UINT8);
  EXPECT_EQ(in.rank, 3);
  EXPECT_EQ(in.dims[0], 8);
  EXPECT_EQ(in.dims[2], 3);
  EXPECT_EQ(in.item_bytes, 192u);
  ASSERT_EQ(s.num_heads(), 4);
  const int classes[4] = {8, 6, 8, 16};
  for (int h = 0; h < 4; ++h) {
    kiln_head_info info;
    ASSERT_TRUE(s.head_info(h, &info));
    EXPECT_EQ(info.num_classes, classes[h]);
    EXPECT_EQ(info.output_index, h);
    EXPECT_EQ(info.confidence, KILN_CONFIDENCE_TOPK_PROB);
    EXPECT_EQ(info.threshold, 52429);  // round(0.8 * 65536)
  }
  EXPECT_STREQ(s.head_label(3, 15), "entropy15");
  EXPECT_EQ(s.head_label(3, 16), nullptr);
}

}  // namespace
}  // namespace kiln
