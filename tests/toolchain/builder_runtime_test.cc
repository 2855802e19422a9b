// Builder output run by the runtime (kiln_init / kiln_invoke): the models the
// builder writes load, and compute what their float definition says within
// quantization error. These need the runtime (runtime/src).
#include <gtest/gtest.h>
#include <math.h>

#include <random>

#include "kernels/requant.h"
#include "kiln/kiln.h"
#include "tests/toolchain/toolchain_test_util.h"
#include "toolchain/aligned_bytes.h"
#include "toolchain/serialize.h"
#include "toolchain/zoo/reference_models.h"

namespace kiln {
namespace {

using testing::BuildOrFail;
using testing::FinishOrFail;

// A context over aligned model bytes with an arena for `batch` items.
struct Loaded {
  AlignedBytes model;
  std::vector<uint8_t> arena;
  kiln_context* ctx = nullptr;
  kiln_error err{};
  kiln_status status = KILN_OK;

  Loaded(const std::vector<uint8_t>& bytes, size_t batch) : model(bytes) {
    size_t need = 0;
    status = kiln_arena_size(model.data(), model.size(), batch, &need, &err);
    if (status != KILN_OK) return;
    arena.resize(need);
    status = kiln_init(model.data(), model.size(), arena.data(), arena.size(),
                       &ctx, &err);
  }
};

TEST(BuilderRuntime, ZooModelsLoadAndRun) {
  for (const ModelBuilder& b :
       {zoo::TrivialModel(), zoo::Mlp160(1, false), zoo::Mlp160(1, true),
        zoo::BlockNet(1), zoo::AllOpsModel(1)}) {
    Loaded m(BuildOrFail(b), 4);
    ASSERT_EQ(m.status, KILN_OK) << m.err.message;
    std::vector<std::vector<uint8_t>> in(kiln_num_inputs(m.ctx));
    std::vector<const void*> in_ptrs;
    for (int32_t i = 0; i < kiln_num_inputs(m.ctx); ++i) {
      kiln_tensor_info info;
      ASSERT_EQ(kiln_get_input_info(m.ctx, i, &info), KILN_OK);
      in[i].assign(5 * info.item_bytes, 0);
      in_ptrs.push_back(in[i].data());
    }
    std::vector<kiln_decision> d(5 * kiln_num_heads(m.ctx) + 1);
    EXPECT_EQ(kiln_invoke(m.ctx, 5, in_ptrs.data(), nullptr, d.data()),
              KILN_OK);
  }
}

TEST(BuilderRuntime, ArenaGrowsWithTheBatchByThePlan) {
  const ModelDef def = FinishOrFail(zoo::BlockNet(1));
  const AlignedBytes model(SerializeModel(def));
  size_t one = 0, many = 0;
  ASSERT_EQ(kiln_arena_size(model.data(), model.size(), 1, &one, nullptr),
            KILN_OK);
  ASSERT_EQ(kiln_arena_size(model.data(), model.size(), 9, &many, nullptr),
            KILN_OK);
  EXPECT_EQ(many - one, 8 * def.plan.bytes_per_item);
}

// Float reference of a quantized conv: dequantize input and the builder's
// quantized weights/bias, convolve in double, quantize the result.
TEST(BuilderRuntime, Conv2DMatchesItsFloatDefinition) {
  const int h = 6, w = 5, c = 4, oc = 6, k = 3;
  const float s_in = 0.05f, s_out = 0.08f;
  const int32_t zp_in = 3, zp_out = -7;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> weights(oc * k * k * (c / 2)), bias(oc);
  for (float& v : weights) v = u(rng) * 0.3f;
  for (float& v : bias) v = u(rng) * 0.2f;
  Conv2DOptions o;
  o.stride_h = 2;
  o.pad_top = o.pad_left = o.pad_bottom = o.pad_right = 1;
  o.groups = 2;

  ModelBuilder b;
  const TensorId x = b.AddInput("x", DType::kInt8, {h, w, c}, s_in, zp_in);
  const TensorId y = b.Conv2D(x, weights, {oc, k, k, c / 2}, bias, o,
                              {s_out, zp_out}, Activation::kRelu, "conv");
  b.AddOutput(y);
  const ModelDef def = FinishOrFail(b);
  const std::vector<int32_t> out_shape = def.tensors[y].shape;
  Loaded m(SerializeModel(def), 2);
  ASSERT_EQ(m.status, KILN_OK) << m.err.message;

  std::vector<int8_t> input(2 * h * w * c);
  std::uniform_int_distribution<int> q(-128, 127);
  for (int8_t& v : input) v = static_cast<int8_t>(q(rng));
  std::vector<int8_t> output(2 * out_shape[0] * out_shape[1] * oc);
  const void* ins[] = {input.data()};
  void* outs[] = {output.data()};
  ASSERT_EQ(kiln_invoke(m.ctx, 2, ins, outs, nullptr), KILN_OK);

  const TensorDef& wt = testing::TensorNamed(def, "conv/weights");
  const std::vector<int8_t> qw = testing::Int8Data(def, wt);
  const std::vector<int32_t> qb =
      testing::Int32Data(def, testing::TensorNamed(def, "conv/bias"));
  const int oh = out_shape[0], ow = out_shape[1], cg = c / 2, og = oc / 2;
  ASSERT_EQ(oh, 3);
  ASSERT_EQ(ow, 5);
  int max_diff = 0;
  for (int n = 0; n < 2; ++n) {
    for (int oy = 0; oy < oh; ++oy) {
      for (int ox = 0; ox < ow; ++ox) {
        for (int co = 0; co < oc; ++co) {
          const double sw = wt.quantization->scale[co];
          double acc = qb[co] * double(s_in) * sw;
          const int g = co / og;
          for (int ky = 0; ky < k; ++ky) {
            for (int kx = 0; kx < k; ++kx) {
              const int iy = oy * 2 - 1 + ky, ix = ox - 1 + kx;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              for (int ci = 0; ci < cg; ++ci) {
                const int8_t xv =
                    input[((n * h + iy) * w + ix) * c + g * cg + ci];
                const int8_t wv = qw[((co * k + ky) * k + kx) * cg + ci];
                acc += double(s_in) * (xv - zp_in) * sw * wv;
              }
            }
          }
          double expected = round(acc / s_out) + zp_out;
          expected = std::min(127.0, std::max(double(zp_out), expected));
          const int got = output[((n * oh + oy) * ow + ox) * oc + co];
          max_diff = std::max(max_diff, abs(got - int(expected)));
        }
      }
    }
  }
  // Fixed-point requantization may differ from the double by one step.
  EXPECT_LE(max_diff, 1);
}

TEST(BuilderRuntime, QuantizeDequantizeRoundTrip) {
  ModelBuilder b;
  const TensorId f = b.AddInput("f", DType::kFloat32, {8});
  const TensorId q = b.Quantize(f, {0.1f, 2}, "q");
  b.AddOutput(b.Dequantize(q, "d"));
  Loaded m(BuildOrFail(b), 1);
  ASSERT_EQ(m.status, KILN_OK) << m.err.message;
  const float in[8] = {0.0f, 0.1f, -0.26f, 1.0f, -12.0f, 12.5f, 100.0f, -0.04f};
  float out[8];
  const void* ins[] = {in};
  void* outs[] = {out};
  ASSERT_EQ(kiln_invoke(m.ctx, 1, ins, outs, nullptr), KILN_OK);
  const float expected[8] = {0.0f,   0.1f,  -0.3f, 1.0f,
                             -12.0f, 12.5f, 12.5f, 0.0f};
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(out[i], expected[i], 1e-5f) << i;
}

TEST(BuilderRuntime, HeadReportsThresholds) {
  Loaded m(BuildOrFail(zoo::Mlp160(1, false)), 1);
  ASSERT_EQ(m.status, KILN_OK) << m.err.message;
  ASSERT_EQ(kiln_num_heads(m.ctx), 1);
  kiln_head_info info;
  ASSERT_EQ(kiln_get_head_info(m.ctx, 0, &info), KILN_OK);
  EXPECT_EQ(info.top_k, 3);
  EXPECT_EQ(info.confidence, KILN_CONFIDENCE_TOP1_PROB);
  EXPECT_EQ(info.threshold, 32768);
  EXPECT_EQ(info.threshold_real, 0.5f);
  EXPECT_STREQ(kiln_head_label(m.ctx, 0, 7), "class7");
}

}  // namespace
}  // namespace kiln
