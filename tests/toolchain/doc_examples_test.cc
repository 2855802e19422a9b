// The worked examples of docs/quantization.md ("Worked examples", E1..E10),
// encoded against the real functions, reference kernels, toolchain and
// runtime so that the document and the code cannot drift apart silently.
// When a test here fails, either the code changed the numerics (update the
// document, deliberately) or the document is wrong.
//
// Nothing is transcribed: the tables and clamps come from
// toolchain/quantization.h, the head thresholds from ModelBuilder::AddHead,
// and the decisions from kiln_invoke on a model built for the example.
#include <gtest/gtest.h>
#include <stdint.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/requant.h"
#include "kiln/kiln.h"
#include "tests/runtime/runtime_test_util.h"
#include "tests/toolchain/toolchain_test_util.h"
#include "toolchain/model_builder.h"
#include "toolchain/model_def.h"
#include "toolchain/quantization.h"
#include "toolchain/serialize.h"

namespace kiln {
namespace {

constexpr int32_t kTwo30 = int32_t(1) << 30;

struct Fixed {
  MultiplierStatus status;
  int32_t multiplier;
  int32_t shift;
};

Fixed Quantize(double real) {
  Fixed f{MultiplierStatus::kOk, -1, -1};
  f.status = QuantizeMultiplier(real, &f.multiplier, &f.shift);
  return f;
}

// Expects QuantizeMultiplier(real) == (multiplier, shift) with status kOk.
void ExpectFixed(double real, int32_t multiplier, int32_t shift) {
  const Fixed f = Quantize(real);
  EXPECT_EQ(f.status, MultiplierStatus::kOk) << "real " << real;
  EXPECT_EQ(f.multiplier, multiplier) << "real " << real;
  EXPECT_EQ(f.shift, shift) << "real " << real;
}

// Expects ActivationClamp(RELU6, scale, zero_point) == [min, max].
void ExpectRelu6(float scale, int32_t zero_point, int32_t min, int32_t max) {
  const Clamp c = ActivationClamp(Activation::kRelu6, scale, zero_point);
  EXPECT_EQ(c.min, min) << "scale " << scale << ", zero point " << zero_point;
  EXPECT_EQ(c.max, max) << "scale " << scale << ", zero point " << zero_point;
}

// docs/quantization.md, "E1. QuantizeMultiplier".
TEST(DocExamples, E1QuantizeMultiplier) {
  ExpectFixed(0.5, 1073741824, 0);
  ExpectFixed(0.0123, 1690499128, -6);
  EXPECT_EQ(1690499128 * std::ldexp(1.0, -6 - 31), 0.012300000002142042);
  ExpectFixed(1.5, 1610612736, 1);
  ExpectFixed(3e-11, 0, 0);                            // underflow
  ExpectFixed(1.0 - std::ldexp(1.0, -33), kTwo30, 1);  // renormalized: 1.0
  ExpectFixed(std::ldexp(1.0, -32) * (1.0 - std::ldexp(1.0, -40)), kTwo30,
              -31);  // renormalized to e = -31, not an underflow
  ExpectFixed(std::ldexp(1.0, -32), kTwo30, -31);
  ExpectFixed(std::ldexp(1.0, 30) - 1.0, 2147483646, 30);
  ExpectFixed(std::ldexp(1.0, 30) - 0.5, INT32_MAX, 30);
  EXPECT_EQ(Quantize(std::ldexp(1.0, 30) - 0.25).status,
            MultiplierStatus::kTooLarge);
  // The underflow boundary 2^-32 - 2^-64 itself rounds up (half away).
  ExpectFixed(std::ldexp(1.0, -32) - std::ldexp(1.0, -64), kTwo30, -31);
  ExpectFixed(std::nextafter(std::ldexp(1.0, -32) - std::ldexp(1.0, -64), 0.0),
              0, 0);
  EXPECT_EQ(Quantize(std::ldexp(1.0, 30)).status, MultiplierStatus::kTooLarge);
  EXPECT_EQ(Quantize(-0.1).status, MultiplierStatus::kNegativeOrNotFinite);
  EXPECT_EQ(Quantize(std::numeric_limits<double>::quiet_NaN()).status,
            MultiplierStatus::kNegativeOrNotFinite);
  ExpectFixed(0.0, 0, 0);

  // The frexp column.
  int e = 0;
  EXPECT_EQ(std::frexp(0.0123, &e), 0.78720000000000001);
  EXPECT_EQ(e, -6);
  EXPECT_EQ(std::frexp(3e-11, &e), 0.51539607552);
  EXPECT_EQ(e, -34);

  // A convolution's multiplier.
  const double conv = ConvRealMultiplier(0.02f, 0.0035f, 0.05f);
  EXPECT_EQ(static_cast<double>(0.02f), 0.019999999552965164);
  EXPECT_EQ(static_cast<double>(0.0035f), 0.0035000001080334187);
  EXPECT_EQ(static_cast<double>(0.05f), 0.05000000074505806);
  EXPECT_EQ(conv, 0.0013999999910593024);
  EXPECT_EQ(std::frexp(conv, &e), 0.71679999542236283);
  EXPECT_EQ(e, -9);
  ExpectFixed(conv, 1539316269, -9);
}

// docs/quantization.md, "E2. MultiplyByQuantizedMultiplier and Requantize".
TEST(DocExamples, E2MultiplyByQuantizedMultiplierAndRequantize) {
  const int32_t m = 1690499128, s = -6;  // 0.0123
  EXPECT_EQ(int64_t(1000) * m, 1690499128000);
  EXPECT_EQ(int64_t(41) * m, 69310464248);
  EXPECT_EQ(int64_t(1000) * m + (int64_t(1) << 36), 1759218604736);
  EXPECT_EQ(int64_t(-1000) * m + (int64_t(1) << 36), -1621779651264);
  EXPECT_EQ(int64_t(41) * m + (int64_t(1) << 36), 138029940984);
  EXPECT_EQ(int64_t(-41) * m + (int64_t(1) << 36), -590987512);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(1000, m, s), 12);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-1000, m, s), -12);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(41, m, s), 1);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-41, m, s), -1);

  // Ties with M = 0.25: half toward +infinity.
  ExpectFixed(0.25, kTwo30, -1);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(6, kTwo30, -1), 2);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-6, kTwo30, -1), -1);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(10, kTwo30, -1), 3);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-10, kTwo30, -1), -2);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(7, kTwo30, -1), 2);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-7, kTwo30, -1), -2);

  // Requantize, zero point -10, RELU clamp [-10, 127].
  EXPECT_EQ(MultiplyByQuantizedMultiplier(20000, m, s), 246);
  EXPECT_EQ(Requantize(1000, m, s, -10, -10, 127), 2);
  EXPECT_EQ(Requantize(-1000, m, s, -10, -10, 127), -10);
  EXPECT_EQ(Requantize(20000, m, s, -10, -10, 127), 127);

  // Saturation with M = 8.0.
  ExpectFixed(8.0, kTwo30, 4);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(1 << 28, kTwo30, 4), INT32_MAX);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-(1 << 28), kTwo30, 4), INT32_MIN);
  EXPECT_EQ(Requantize(1 << 28, kTwo30, 4, 3, -128, 127), 127);
  EXPECT_EQ(Requantize(-(1 << 28), kTwo30, 4, 3, -128, 127), -128);
}

// docs/quantization.md, "E3. One FullyConnected output".
TEST(DocExamples, E3FullyConnectedOutput) {
  const float s_in = 0.02f, s_w = 0.0035f, s_out = 0.05f;
  const int32_t zp_in = -3, zp_out = 4;
  // docs/quantization.md, "Activation clamps": RELU6 at (0.05f, 4) is
  // [4, 124]; and the other examples of that section.
  EXPECT_EQ(6.0 / static_cast<double>(s_out), 119.99999821186069);
  ExpectRelu6(s_out, zp_out, 4, 124);
  ExpectRelu6(0.05f, -128, -128, -8);
  ExpectRelu6(0.02f, -128, -128, 127);

  const int8_t x[4] = {25, -100, 7, 60};
  const int8_t w[4] = {64, -127, 5, 100};
  const int32_t bias = 1234;
  const int32_t products[4] = {1792, 12319, 50, 6300};
  int32_t acc = bias;
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ((x[k] - zp_in) * w[k], products[k]) << "k " << k;
    acc += (x[k] - zp_in) * w[k];
  }
  EXPECT_EQ(acc, 21695);

  const Fixed f = Quantize(ConvRealMultiplier(s_in, s_w, s_out));
  EXPECT_EQ(f.multiplier, 1539316269);
  EXPECT_EQ(f.shift, -9);
  EXPECT_EQ(int64_t(acc) * f.multiplier, 33395466455955);
  EXPECT_EQ(int64_t(acc) * f.multiplier + (int64_t(1) << 39), 33945222269843);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(acc, f.multiplier, f.shift), 30);
  EXPECT_EQ(Requantize(acc, f.multiplier, f.shift, zp_out, 4, 124), 34);

  // The same element through the reference kernel.
  const int8_t shift8 = static_cast<int8_t>(f.shift);
  // batch, in and out features, zero points, clamp, requant.
  const FullyConnectedParams p{
      1, 4, 1, zp_in, zp_out, {4, 124}, {&f.multiplier, &shift8, 1}};
  int8_t out = 0;
  ref::FullyConnected(p, x, w, &bias, &out);
  EXPECT_EQ(out, 34);
}

// docs/quantization.md, "E4. Add".
TEST(DocExamples, E4Add) {
  const AddRealMultipliers r =
      ComputeAddRealMultipliers(0.05f, 0.02f, 0.06f, kAddLeftShift);
  EXPECT_EQ(2.0 * static_cast<double>(0.05f), 0.10000000149011612);
  EXPECT_EQ(r.input1, 0.5);
  EXPECT_EQ(r.input2, 0.19999999254941953);
  EXPECT_EQ(r.output, 1.5894572532223127e-06);
  const Fixed m1 = Quantize(r.input1), m2 = Quantize(r.input2),
              mo = Quantize(r.output);
  EXPECT_EQ(m1.multiplier, 1073741824);
  EXPECT_EQ(m1.shift, 0);
  EXPECT_EQ(m2.multiplier, 1717986854);
  EXPECT_EQ(m2.shift, -2);
  EXPECT_EQ(mo.multiplier, 1789569773);
  EXPECT_EQ(mo.shift, -19);

  const int8_t x1 = 37, x2 = -50;
  const int32_t zp1 = -2, zp2 = 10, zp_out = -5;
  const int32_t shifted1 = (x1 - zp1) * (1 << 20);
  const int32_t shifted2 = (x2 - zp2) * (1 << 20);
  EXPECT_EQ(shifted1, 40894464);
  EXPECT_EQ(shifted2, -62914560);
  const int32_t a =
      MultiplyByQuantizedMultiplier(shifted1, m1.multiplier, m1.shift);
  const int32_t b =
      MultiplyByQuantizedMultiplier(shifted2, m2.multiplier, m2.shift);
  EXPECT_EQ(a, 20447232);
  EXPECT_EQ(b, -12582912);
  EXPECT_EQ(a + b, 7864320);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(a + b, mo.multiplier, mo.shift), 13);

  const AddParams p{1,              // size
                    zp1,            // input1_zero_point
                    zp2,            // input2_zero_point
                    zp_out,         // output_zero_point
                    kAddLeftShift,  // left_shift, L
                    m1.multiplier,  // M1
                    m1.shift,
                    m2.multiplier,  // M2
                    m2.shift,
                    mo.multiplier,  // Mout
                    mo.shift,
                    {-128, 127}};  // no activation
  int8_t out = 0;
  ref::Add(p, &x1, &x2, &out);
  EXPECT_EQ(out, 8);
}

// docs/quantization.md, "E5. Softmax row".
TEST(DocExamples, E5SoftmaxRow) {
  const std::vector<int32_t> t = SoftmaxExpTable(0.1f, 1.0f);
  ASSERT_EQ(t.size(), 256u);
  EXPECT_EQ(t[0], 16777216);
  EXPECT_EQ(t[1], 15180653);  // also quoted in docs/format.md, "Example"
  EXPECT_EQ(t[10], 6171993);
  EXPECT_EQ(t[15], 3743503);
  EXPECT_EQ(t[168], 1);
  EXPECT_EQ(t[255], 0);

  // The row's e = T[d] and the quotients, in uint64 as in the kernel.
  const uint64_t e[4] = {16777216, 6171993, 3743503, 1};
  const uint64_t sum = e[0] + e[1] + e[2] + e[3];
  EXPECT_EQ(sum, 26692713u);
  EXPECT_EQ(sum / 2, 13346356u);
  const uint64_t numerators[4] = {4308313652u, 1593376564u, 971683124u,
                                  13346612u};
  const uint64_t quotients[4] = {161, 59, 36, 0};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(e[i] * 256 + sum / 2, numerators[i]) << "i " << i;
    EXPECT_EQ(numerators[i] / sum, quotients[i]) << "i " << i;
  }

  const int8_t row[4] = {40, 30, 25, -128};
  int8_t out[4] = {};
  ref::Softmax({1, 4, t.data()}, row, out);
  EXPECT_EQ(std::vector<int8_t>(out, out + 4),
            (std::vector<int8_t>{33, -69, -92, -128}));

  const int8_t dominant[3] = {127, -128, -128};
  int8_t out2[3] = {};
  ref::Softmax({1, 3, t.data()}, dominant, out2);
  EXPECT_EQ(std::vector<int8_t>(out2, out2 + 3),
            (std::vector<int8_t>{127, -128, -128}));
}

// docs/quantization.md, "E6. Decision: confidence and fallback". The
// example's head under each confidence kind, in one model: int8 logits [4]
// at scale 0.1f -> Reshape -> graph output -> three heads with top_k = 2,
// built by ModelBuilder and run by kiln_invoke.
TEST(DocExamples, E6DecisionConfidenceAndFallback) {
  // The thresholds' real arithmetic as the document spells it out.
  const float prob_real = 0.6f, margin_real = 0.3f, scale = 0.1f;
  EXPECT_EQ(static_cast<double>(prob_real), 0.60000002384185791);
  EXPECT_EQ(static_cast<double>(prob_real) * 65536.0, 39321.6015625);
  EXPECT_EQ(static_cast<double>(margin_real), 0.30000001192092896);
  EXPECT_EQ(static_cast<double>(scale), 0.10000000149011612);
  const double ratio =
      static_cast<double>(margin_real) / static_cast<double>(scale);
  EXPECT_EQ(ratio, 3.0000000745058051);
  EXPECT_EQ(std::ceil(ratio), 4.0);  // what a plain ceil would give

  enum : int32_t { kTop1 = 0, kTopK = 1, kMargin = 2, kHeads = 3 };
  ModelBuilder b;
  const TensorId in = b.AddInput("logits_in", DType::kInt8, {4}, scale, 0);
  const TensorId logits = b.Reshape(in, {4}, "logits");
  b.AddOutput(logits);
  b.AddHead("top1", logits, {}, {2, ConfidenceKind::kTop1Prob, prob_real});
  b.AddHead("topk", logits, {}, {2, ConfidenceKind::kTopKProb, prob_real});
  b.AddHead("margin", logits, {}, {2, ConfidenceKind::kMargin, margin_real});
  const ModelDef def = testing::FinishOrFail(b);
  ASSERT_EQ(def.heads.size(), size_t{kHeads});

  // The head's exp table is E5's, with the entries item B reads.
  ASSERT_GE(def.heads[kTop1].policy.exp_table, 0);
  const std::vector<int32_t> t = testing::Int32Data(
      def, def.tensors.at(def.heads[kTop1].policy.exp_table));
  EXPECT_EQ(t, SoftmaxExpTable(scale, 1.0f));
  ASSERT_EQ(t.size(), 256u);
  EXPECT_EQ(t[0] + t[10] + t[15] + t[168], 26692713);  // S of item A
  EXPECT_EQ(t[28], 1020224);
  EXPECT_EQ(t[2], 13736023);
  EXPECT_EQ(t[43], 227643);
  EXPECT_EQ(1020224 + 16777216 + 13736023 + 227643, 31761106);  // S of B
  EXPECT_EQ((uint64_t(16777216) * 65536 + 13346356) / 26692713, 41191u);
  EXPECT_EQ((uint64_t(16777216) * 65536 + 15880553) / 31761106, 34618u);

  testing::LoadedModel m(SerializeModel(def), 2);
  ASSERT_EQ(m.status, KILN_OK) << m.message();
  ASSERT_EQ(kiln_num_heads(m.ctx), kHeads);

  // Thresholds (ModelBuilder::AddHead), as the runtime reads them.
  kiln_head_info info[kHeads];
  for (int32_t h = 0; h < kHeads; ++h) {
    ASSERT_EQ(kiln_get_head_info(m.ctx, h, &info[h]), KILN_OK);
  }
  EXPECT_EQ(info[kTop1].threshold, 39322);
  EXPECT_EQ(info[kMargin].threshold, 3);  // not 4

  // Item A: [40, 30, 25, -128], top-2 = class 0 (40), class 1 (30).
  // Item B: [12, 40, 38, -3], top-2 = class 1 (40), class 2 (38).
  const int8_t items[2][4] = {{40, 30, 25, -128}, {12, 40, 38, -3}};
  const int32_t top_ids[2][2] = {{0, 1}, {1, 2}};
  const int32_t top_scores[2][2] = {{40, 30}, {40, 38}};
  const void* inputs[] = {items};
  kiln_decision d[2][kHeads] = {};
  ASSERT_EQ(kiln_invoke(m.ctx, 2, inputs, nullptr, &d[0][0]), KILN_OK);
  for (int item = 0; item < 2; ++item) {
    for (int32_t h = 0; h < kHeads; ++h) {
      EXPECT_EQ(d[item][h].k, 2) << "item " << item << ", head " << h;
      for (int i = 0; i < 2; ++i) {
        EXPECT_EQ(d[item][h].class_id[i], top_ids[item][i])
            << "item " << item << ", head " << h << ", rank " << i;
        EXPECT_EQ(d[item][h].score[i], top_scores[item][i])
            << "item " << item << ", head " << h << ", rank " << i;
      }
    }
  }

  // TOP1_PROB: A 41191 >= 39322 is kept, B 34618 < 39322 falls back.
  EXPECT_EQ(d[0][kTop1].confidence, 41191);
  EXPECT_EQ(d[0][kTop1].fallback, 0);
  EXPECT_EQ(d[1][kTop1].confidence, 34618);
  EXPECT_EQ(d[1][kTop1].fallback, 1);
  // TOPK_PROB, k = 2.
  EXPECT_EQ(d[0][kTopK].confidence, 56345);
  EXPECT_EQ(d[1][kTopK].confidence, 62961);
  // MARGIN with threshold 3: A (10) is kept, B (2) falls back.
  EXPECT_EQ(d[0][kMargin].confidence, 10);
  EXPECT_EQ(d[0][kMargin].fallback, 0);
  EXPECT_EQ(d[1][kMargin].confidence, 2);
  EXPECT_EQ(d[1][kMargin].fallback, 1);
}

// docs/quantization.md, "E7. AveragePool2D and GlobalAveragePool".
TEST(DocExamples, E7AveragePoolAndGlobalAveragePool) {
  EXPECT_EQ(DivideRoundHalfAway(5, 2), 3);
  EXPECT_EQ(DivideRoundHalfAway(-5, 2), -3);

  // Pool2DParams: batch; in_h, in_w, channels; out_h, out_w; filter_h,
  // filter_w; stride_h, stride_w; pad_top, pad_left; clamp.
  const Pool2DParams p{1, 1, 2, 1, 1, 1, 1, 2, 1, 1, 0, 0, {-128, 127}};
  int8_t out = 0;
  const int8_t pos[2] = {2, 3};
  ref::AveragePool2D(p, pos, &out);
  EXPECT_EQ(out, 3);
  const int8_t neg[2] = {-2, -3};
  ref::AveragePool2D(p, neg, &out);
  EXPECT_EQ(out, -3);

  const double real = GlobalAveragePoolRealMultiplier(0.1f, 0.05f, 2, 2);
  EXPECT_EQ(real, 0.5);
  const Fixed f = Quantize(real);
  EXPECT_EQ(f.multiplier, 1073741824);
  EXPECT_EQ(f.shift, 0);
  GlobalAveragePoolParams g{1, 2, 2, 1, 0, 0, f.multiplier, f.shift};
  const int8_t gpos[4] = {3, 4, 4, 4};
  ref::GlobalAveragePool(g, gpos, &out);
  EXPECT_EQ(out, 8);
  const int8_t gneg[4] = {-3, -4, -4, -4};
  ref::GlobalAveragePool(g, gneg, &out);
  EXPECT_EQ(out, -7);

  // Padding excluded from the average.
  const Pool2DParams pad{1, 2, 2, 1, 2, 2, 2, 2, 1, 1, 1, 1, {-128, 127}};
  const int8_t in[4] = {10, -7, 5, 100};
  int8_t padded[4] = {};
  ref::AveragePool2D(pad, in, padded);
  EXPECT_EQ(std::vector<int8_t>(padded, padded + 4),
            (std::vector<int8_t>{10, 2, 8, 27}));
}

// docs/quantization.md, "E8. Quantize and Dequantize".
TEST(DocExamples, E8QuantizeAndDequantize) {
  const float inf = std::numeric_limits<float>::infinity();
  const float in[7] = {
      1.25f, -1.25f, 0.75f, 100.0f, std::numeric_limits<float>::quiet_NaN(),
      inf,   -inf};
  int8_t out[7] = {};
  ref::QuantizeFromFloat({7, 0.5f, 5}, in, out);
  EXPECT_EQ(std::vector<int8_t>(out, out + 7),
            (std::vector<int8_t>{8, 2, 7, 127, 5, 127, -128}));

  const Fixed f = Quantize(RescaleRealMultiplier(1.0f / 255.0f, 1.0f / 255.0f));
  EXPECT_EQ(f.multiplier, 1073741824);
  EXPECT_EQ(f.shift, 1);
  const uint8_t pixels[3] = {0, 128, 255};
  int8_t q[3] = {};
  ref::QuantizeFromUint8({3, 0, -128, f.multiplier, f.shift}, pixels, q);
  EXPECT_EQ(std::vector<int8_t>(q, q + 3), (std::vector<int8_t>{-128, 0, 127}));

  EXPECT_EQ(static_cast<double>(0.1f) * 10.0, 1.0000000149011612);
  const int8_t dq_in[2] = {7, -128};
  float dq_out[2] = {};
  ref::Dequantize({2, 0.1f, -3}, dq_in, dq_out);
  EXPECT_EQ(dq_out[0], 1.0f);
  EXPECT_EQ(dq_out[1], -12.5f);
}

// docs/quantization.md, "E9. Concat".
TEST(DocExamples, E9Concat) {
  const double real = RescaleRealMultiplier(0.1f, 0.2f);
  EXPECT_EQ(real, 0.5);
  const Fixed f = Quantize(real);
  EXPECT_EQ(f.multiplier, 1073741824);
  EXPECT_EQ(f.shift, 0);

  const int8_t in0[2] = {5, -5};
  const int8_t in1[2] = {9, -9};
  const int8_t* inputs[2] = {in0, in1};
  // outer, inputs, inner sizes, input zero points, then the multipliers and
  // shifts (input 1: the copy marker (0, 0)), output zero point.
  const ConcatParams p{1, 2, {2, 2}, {0, 0}, {f.multiplier, 0}, {f.shift, 0},
                       0};
  int8_t out[4] = {};
  ref::Concat(p, inputs, out);
  EXPECT_EQ(std::vector<int8_t>(out, out + 4),
            (std::vector<int8_t>{3, -2, 9, -9}));
}

// docs/quantization.md, "E10. Logistic table" (the toolchain's table, looked
// up by the reference kernel).
TEST(DocExamples, E10LogisticTable) {
  const std::vector<int8_t> t = LogisticTable(0.1f, 0);
  ASSERT_EQ(t.size(), 256u);
  const int8_t in[5] = {-128, -10, 0, 10, 127};
  int8_t out[5] = {};
  ref::Logistic({5, t.data()}, in, out);
  EXPECT_EQ(std::vector<int8_t>(out, out + 5),
            (std::vector<int8_t>{-128, -59, 0, 59, 127}));
}

// docs/format.md, "Example": the requant tables of the example model
// (weight scales max|w| / 127 with max|w| = 1.0, 1.0 and 0.3).
TEST(DocExamples, FormatExampleRequant) {
  const Fixed q = Quantize(RescaleRealMultiplier(1.0f / 255.0f, 1.0f / 255.0f));
  EXPECT_EQ(q.multiplier, 1073741824);
  EXPECT_EQ(q.shift, 1);
  const float s_in = 1.0f / 255.0f, s_out = 0.1f;
  const Fixed fc0 = Quantize(ConvRealMultiplier(s_in, 1.0f / 127.0f, s_out));
  EXPECT_EQ(fc0.multiplier, 1358050545);
  EXPECT_EQ(fc0.shift, -11);
  const Fixed fc2 = Quantize(ConvRealMultiplier(s_in, 0.3f / 127.0f, s_out));
  EXPECT_EQ(fc2.multiplier, 1629660654);
  EXPECT_EQ(fc2.shift, -13);
}

}  // namespace
}  // namespace kiln
