// The runtime trusts nothing it loads. A corpus of damaged models — every
// truncation, random bit flips and byte garbage, and targeted semantic
// mutations of a valid model — must each give an error code (never a crash,
// never undefined behaviour: this suite also runs under ASan+UBSan). Each
// semantic mutation must be caught with its own distinct code.
#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "tests/runtime/runtime_test_util.h"
#include "toolchain/model_def.h"
#include "toolchain/serialize.h"
#include "toolchain/zoo/reference_models.h"

namespace kiln {
namespace {

using testing::AlignedBytes;

// Loads `bytes` and, when the runtime accepts them, runs a few items so that
// an accepted-but-wrong model would show up as a sanitizer error.
kiln_status LoadAndRun(const std::vector<uint8_t>& bytes,
                       std::string* message = nullptr) {
  AlignedBytes model(bytes);
  size_t need = 0;
  kiln_error err = {KILN_OK, {0}};
  kiln_status s = kiln_arena_size(model.data(), model.size(), 2, &need, &err);
  if (s == KILN_OK) {
    if (need > (size_t(64) << 20)) return KILN_ERR_LIMITS;  // test budget
    std::vector<uint8_t> arena(need);
    kiln_context* ctx = nullptr;
    s = kiln_init(model.data(), model.size(), arena.data(), arena.size(), &ctx,
                  &err);
    if (s == KILN_OK) {
      std::vector<std::vector<uint8_t>> in(kiln_num_inputs(ctx));
      std::vector<const void*> in_ptrs;
      for (int32_t i = 0; i < kiln_num_inputs(ctx); ++i) {
        kiln_tensor_info info;
        kiln_get_input_info(ctx, i, &info);
        in[i].assign(3 * info.item_bytes, 0x3C);
        in_ptrs.push_back(in[i].data());
      }
      std::vector<std::vector<uint8_t>> out(kiln_num_outputs(ctx));
      std::vector<void*> out_ptrs;
      for (int32_t i = 0; i < kiln_num_outputs(ctx); ++i) {
        kiln_tensor_info info;
        kiln_get_output_info(ctx, i, &info);
        out[i].assign(3 * info.item_bytes, 0);
        out_ptrs.push_back(out[i].data());
      }
      std::vector<kiln_decision> d(3 * kiln_num_heads(ctx) + 1);
      EXPECT_EQ(kiln_invoke(ctx, 3, in_ptrs.data(), out_ptrs.data(), d.data()),
                KILN_OK);
    }
  }
  if (s != KILN_OK) {
    EXPECT_EQ(err.code, s);
    EXPECT_NE(err.message[0], '\0') << "status " << s << " without a message";
  }
  if (message != nullptr) *message = err.message;
  return s;
}

// Runs two loadable models on the same inputs; true when every output byte
// and decision agrees.
bool SameBehaviour(const std::vector<uint8_t>& a,
                   const std::vector<uint8_t>& b) {
  testing::LoadedModel ma(a, 4), mb(b, 4);
  if (ma.status != KILN_OK || mb.status != KILN_OK) return false;
  std::vector<std::vector<uint8_t>> in, out_a, out_b;
  std::vector<const void*> in_ptrs;
  std::vector<void*> a_ptrs, b_ptrs;
  for (int32_t i = 0; i < kiln_num_inputs(ma.ctx); ++i) {
    kiln_tensor_info info;
    kiln_get_input_info(ma.ctx, i, &info);
    in.emplace_back(4 * info.item_bytes);
    for (size_t k = 0; k < in.back().size(); ++k) {
      in.back()[k] = static_cast<uint8_t>(k * 7 + 1);
    }
  }
  for (auto& v : in) in_ptrs.push_back(v.data());
  for (int32_t i = 0; i < kiln_num_outputs(ma.ctx); ++i) {
    kiln_tensor_info info;
    kiln_get_output_info(ma.ctx, i, &info);
    out_a.emplace_back(4 * info.item_bytes);
    out_b.emplace_back(4 * info.item_bytes, 1);
  }
  for (size_t i = 0; i < out_a.size(); ++i) {
    a_ptrs.push_back(out_a[i].data());
    b_ptrs.push_back(out_b[i].data());
  }
  const size_t heads = kiln_num_heads(ma.ctx);
  std::vector<kiln_decision> da(4 * heads), db(4 * heads);
  kiln_invoke(ma.ctx, 4, in_ptrs.data(), a_ptrs.data(), da.data());
  kiln_invoke(mb.ctx, 4, in_ptrs.data(), b_ptrs.data(), db.data());
  return out_a == out_b &&
         memcmp(da.data(), db.data(), da.size() * sizeof(kiln_decision)) == 0;
}

ModelDef ValidDef() {
  ModelDef def;
  std::string error;
  EXPECT_TRUE(zoo::AllOpsModel(21).Finish(&def, &error)) << error;
  return def;
}

uint32_t TensorNamed(const ModelDef& def, const std::string& name) {
  for (size_t i = 0; i < def.tensors.size(); ++i) {
    if (def.tensors[i].name == name) return static_cast<uint32_t>(i);
  }
  ADD_FAILURE() << "no tensor " << name;
  return 0;
}

OperatorDef& OpNamed(ModelDef& def, const std::string& name) {
  for (auto& op : def.operators) {
    if (op.name == name) return op;
  }
  ADD_FAILURE() << "no operator " << name;
  return def.operators[0];
}

TEST(VerifierCorpus, ValidModelLoads) {
  std::string message;
  EXPECT_EQ(LoadAndRun(SerializeModel(ValidDef()), &message), KILN_OK)
      << message;
}

// A truncation must be rejected unless it removed only the builder's
// trailing alignment padding: the FlatBuffers verifier then proved that no
// referenced byte was lost, and the model must behave exactly as the whole.
TEST(VerifierCorpus, EveryTruncationIsRejected) {
  const std::vector<uint8_t> bytes = SerializeModel(ValidDef());
  size_t padding = 0;
  while (padding < bytes.size() && bytes[bytes.size() - 1 - padding] == 0) {
    ++padding;
  }
  ASSERT_LT(padding, 16u);
  for (size_t len = 1; len < bytes.size(); ++len) {
    const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + len);
    if (LoadAndRun(cut) == KILN_OK) {
      ASSERT_GE(len, bytes.size() - padding) << "truncated to " << len;
      EXPECT_TRUE(SameBehaviour(bytes, cut)) << "truncated to " << len;
    }
  }
  AlignedBytes empty;
  size_t need;
  EXPECT_EQ(kiln_arena_size(empty.data(), 0, 1, &need, nullptr),
            KILN_ERR_INVALID_ARGUMENT);
}

TEST(VerifierCorpus, RandomBitFlipsNeverCrash) {
  const std::vector<uint8_t> bytes = SerializeModel(ValidDef());
  std::mt19937 rng(1234);
  int rejected = 0;
  const int kTrials = 6000;
  for (int trial = 0; trial < kTrials; ++trial) {
    std::vector<uint8_t> damaged = bytes;
    const int flips = 1 + trial % 4;
    for (int f = 0; f < flips; ++f) {
      const size_t pos = rng() % damaged.size();
      damaged[pos] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    if (LoadAndRun(damaged) != KILN_OK) ++rejected;
  }
  // Flips inside weights give valid models; flips in offsets, shapes and
  // parameters must be caught. Both happen.
  EXPECT_GT(rejected, kTrials / 10);
  EXPECT_LT(rejected, kTrials);
}

TEST(VerifierCorpus, RandomGarbageIsRejected) {
  std::mt19937 rng(99);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<uint8_t> junk(8 + rng() % 512);
    for (auto& b : junk) b = static_cast<uint8_t>(rng());
    if (trial % 2 == 0) memcpy(junk.data() + 4, "KILN", 4);
    EXPECT_NE(LoadAndRun(junk), KILN_OK);
  }
}

struct Mutation {
  const char* name;
  kiln_status expected;
  std::function<void(ModelDef&)> apply;
};

class SemanticMutation : public ::testing::TestWithParam<Mutation> {};

TEST_P(SemanticMutation, IsRejectedWithItsCode) {
  ModelDef def = ValidDef();
  GetParam().apply(def);
  std::string message;
  EXPECT_EQ(LoadAndRun(SerializeModel(def), &message), GetParam().expected)
      << message;
}

const Mutation kMutations[] = {
    {"op_input_out_of_range", KILN_ERR_TENSOR_INDEX,
     [](ModelDef& d) { OpNamed(d, "conv").inputs[0] = 5000; }},
    {"graph_output_out_of_range", KILN_ERR_TENSOR_INDEX,
     [](ModelDef& d) { d.outputs[0] = 4095; }},
    {"head_tensor_out_of_range", KILN_ERR_TENSOR_INDEX,
     [](ModelDef& d) { d.heads[0].tensor = 777; }},
    {"buffer_out_of_range", KILN_ERR_BUFFER_INDEX,
     [](ModelDef& d) {
       d.tensors[TensorNamed(d, "conv/weights")].buffer = 900;
     }},
    {"batched_constant", KILN_ERR_BUFFER_INDEX,
     [](ModelDef& d) {
       d.tensors[TensorNamed(d, "conv/weights")].batched = true;
     }},
    {"unbatched_activation", KILN_ERR_BUFFER_INDEX,
     [](ModelDef& d) { d.tensors[TensorNamed(d, "conv")].batched = false; }},
    {"negative_dim", KILN_ERR_SHAPE,
     [](ModelDef& d) { d.tensors[TensorNamed(d, "conv")].shape[0] = -5; }},
    {"huge_dims", KILN_ERR_SHAPE,
     [](ModelDef& d) {
       d.tensors[TensorNamed(d, "conv")].shape = {1 << 20, 1 << 20, 8};
     }},
    {"rank_7", KILN_ERR_SHAPE,
     [](ModelDef& d) {
       d.tensors[TensorNamed(d, "conv")].shape = {1, 1, 1, 1, 5, 5, 8};
     }},
    {"wrong_conv_output_shape", KILN_ERR_SHAPE,
     [](ModelDef& d) { d.tensors[TensorNamed(d, "conv")].shape[0] = 4; }},
    {"groups_do_not_divide", KILN_ERR_SHAPE,
     [](ModelDef& d) { OpNamed(d, "grouped").conv2d.groups = 3; }},
    {"buffer_one_byte_short", KILN_ERR_BUFFER_SIZE,
     [](ModelDef& d) {
       d.buffers[d.tensors[TensorNamed(d, "fc/weights")].buffer]
           .data.pop_back();
     }},
    {"unknown_dtype", KILN_ERR_DTYPE,
     [](ModelDef& d) {
       d.tensors[TensorNamed(d, "add")].type = static_cast<DType>(9);
     }},
    {"float_into_conv", KILN_ERR_DTYPE,
     [](ModelDef& d) { OpNamed(d, "conv").inputs[0] = d.inputs[0]; }},
    {"nan_scale", KILN_ERR_QUANTIZATION,
     [](ModelDef& d) {
       d.tensors[TensorNamed(d, "add")].quantization->scale[0] = NAN;
     }},
    {"zero_scale", KILN_ERR_QUANTIZATION,
     [](ModelDef& d) {
       d.tensors[TensorNamed(d, "add")].quantization->scale[0] = 0.0f;
     }},
    {"negative_weight_scale", KILN_ERR_QUANTIZATION,
     [](ModelDef& d) {
       d.tensors[TensorNamed(d, "conv/weights")].quantization->scale[3] = -1;
     }},
    {"zero_point_out_of_range", KILN_ERR_QUANTIZATION,
     [](ModelDef& d) {
       d.tensors[TensorNamed(d, "add")].quantization->zero_point[0] = 200;
     }},
    {"weight_zero_point", KILN_ERR_QUANTIZATION,
     [](ModelDef& d) {
       auto& q = *d.tensors[TensorNamed(d, "fc/weights")].quantization;
       q.scale.resize(1);
       q.zero_point = {3};
     }},
    {"weight_scales_not_on_axis_0", KILN_ERR_QUANTIZATION,
     [](ModelDef& d) {
       // [8, 3, 3, 4] weights: 4 scales on axis 3 pass the tensor check
       // but are not per output channel.
       auto& q = *d.tensors[TensorNamed(d, "grouped/weights")].quantization;
       q.scale.resize(4);
       q.zero_point.resize(4);
       q.axis = 3;
     }},
    {"buffer_zero_not_empty", KILN_ERR_BUFFER_INDEX,
     [](ModelDef& d) {
       d.buffers[0].data = {1, 2, 3, 4};
     }},
    {"missing_quantization", KILN_ERR_QUANTIZATION,
     [](ModelDef& d) {
       d.tensors[TensorNamed(d, "add")].quantization.reset();
     }},
    {"multiplier_off_by_one", KILN_ERR_REQUANT,
     [](ModelDef& d) {
       OpNamed(d, "fc").fully_connected.requant->multiplier[2]++;
     }},
    {"shift_out_of_range", KILN_ERR_REQUANT,
     [](ModelDef& d) { OpNamed(d, "conv").conv2d.requant->shift[0] = 40; }},
    {"requant_missing", KILN_ERR_REQUANT,
     [](ModelDef& d) { OpNamed(d, "add").add.output_requant.reset(); }},
    {"stride_zero", KILN_ERR_OPERATOR,
     [](ModelDef& d) { OpNamed(d, "conv").conv2d.stride_h = 0; }},
    {"clamp_inverted", KILN_ERR_OPERATOR,
     [](ModelDef& d) {
       OpNamed(d, "conv").conv2d.act_min = 10;
       OpNamed(d, "conv").conv2d.act_max = 9;
     }},
    {"pool_padding_not_below_filter", KILN_ERR_OPERATOR,
     [](ModelDef& d) { OpNamed(d, "maxpool").pool2d.pad_bottom = 2; }},
    {"no_outputs", KILN_ERR_OPERATOR,
     [](ModelDef& d) { OpNamed(d, "add").outputs.clear(); }},
    {"unknown_op_kind", KILN_ERR_OPERATOR,
     [](ModelDef& d) { OpNamed(d, "add").kind = static_cast<OpKind>(77); }},
    {"bias_can_overflow", KILN_ERR_ACCUMULATOR,
     [](ModelDef& d) {
       auto& data = d.buffers[d.tensors[TensorNamed(d, "fc/bias")].buffer].data;
       const int32_t big = INT32_MAX - 1000;
       memcpy(data.data(), &big, 4);
     }},
    {"read_before_write", KILN_ERR_GRAPH,
     [](ModelDef& d) { std::swap(d.operators[2], d.operators[3]); }},
    {"written_twice", KILN_ERR_GRAPH,
     [](ModelDef& d) {
       OpNamed(d, "maxpool").outputs[0] = TensorNamed(d, "avgpool");
     }},
    {"writes_a_constant", KILN_ERR_GRAPH,
     [](ModelDef& d) {
       OpNamed(d, "add").outputs[0] = TensorNamed(d, "conv/bias");
     }},
    {"duplicate_graph_input", KILN_ERR_GRAPH,
     [](ModelDef& d) { d.inputs[1] = d.inputs[0]; }},
    {"no_graph_outputs", KILN_ERR_GRAPH,
     [](ModelDef& d) { d.outputs.clear(); }},
    {"overlapping_live_tensors", KILN_ERR_PLAN,
     [](ModelDef& d) {
       d.plan.tensor_offsets[TensorNamed(d, "add")] =
           d.plan.tensor_offsets[TensorNamed(d, "grouped")];
     }},
    {"offset_beyond_item", KILN_ERR_PLAN,
     [](ModelDef& d) {
       d.plan.tensor_offsets[TensorNamed(d, "add")] = d.plan.bytes_per_item;
     }},
    {"misaligned_offset", KILN_ERR_PLAN,
     [](ModelDef& d) { d.plan.tensor_offsets[TensorNamed(d, "add")] += 8; }},
    {"offsets_count", KILN_ERR_PLAN,
     [](ModelDef& d) { d.plan.tensor_offsets.pop_back(); }},
    {"alignment_not_power_of_two", KILN_ERR_PLAN,
     [](ModelDef& d) { d.plan.alignment = 48; }},
    {"zero_bytes_per_item", KILN_ERR_PLAN,
     [](ModelDef& d) { d.plan.bytes_per_item = 0; }},
    {"head_not_an_output", KILN_ERR_HEAD,
     [](ModelDef& d) { d.heads[0].tensor = TensorNamed(d, "add"); }},
    {"top_k_zero", KILN_ERR_HEAD,
     [](ModelDef& d) { d.heads[0].policy.top_k = 0; }},
    {"top_k_above_classes", KILN_ERR_HEAD,
     [](ModelDef& d) { d.heads[0].policy.top_k = 11; }},
    {"threshold_out_of_range", KILN_ERR_HEAD,
     [](ModelDef& d) { d.heads[0].policy.threshold = 300; }},
    {"wrong_label_count", KILN_ERR_HEAD,
     [](ModelDef& d) {
       d.heads[0].labels = {"a", "b"};
     }},
    {"unknown_confidence_kind", KILN_ERR_HEAD,
     [](ModelDef& d) {
       d.heads[0].policy.confidence = static_cast<ConfidenceKind>(7);
     }},
    {"increasing_exp_table", KILN_ERR_TABLE,
     [](ModelDef& d) {
       auto& data =
           d.buffers[d.tensors[TensorNamed(d, "label/exp_table")].buffer].data;
       const int32_t up = 1 << 24;
       memcpy(data.data() + 4 * 10, &up, 4);
     }},
    {"softmax_output_scale", KILN_ERR_QUANTIZATION,
     [](ModelDef& d) {
       d.tensors[TensorNamed(d, "softmax")].quantization->scale[0] = 0.01f;
     }},
    {"needs_newer_runtime", KILN_ERR_VERSION,
     [](ModelDef& d) {
       d.min_runtime_version = KILN_RUNTIME_FORMAT_VERSION + 1;
     }},
    {"too_many_tensors", KILN_ERR_LIMITS,
     [](ModelDef& d) { d.tensors.resize(4097, d.tensors.back()); }},
};

INSTANTIATE_TEST_SUITE_P(Corpus, SemanticMutation,
                         ::testing::ValuesIn(kMutations),
                         [](const ::testing::TestParamInfo<Mutation>& info) {
                           return std::string(info.param.name);
                         });

TEST(VerifierCorpus, WrongIdentifierAndMisalignment) {
  std::vector<uint8_t> bytes = SerializeModel(ValidDef());
  {
    std::vector<uint8_t> renamed = bytes;
    memcpy(renamed.data() + 4, "NOPE", 4);
    EXPECT_EQ(LoadAndRun(renamed), KILN_ERR_NOT_A_MODEL);
  }
  AlignedBytes shifted(std::vector<uint8_t>(bytes.size() + 1));
  memcpy(shifted.data() + 1, bytes.data(), bytes.size());
  size_t need = 0;
  kiln_error err;
  EXPECT_EQ(kiln_arena_size(shifted.data() + 1, bytes.size(), 1, &need, &err),
            KILN_ERR_MODEL_ALIGNMENT);
}

}  // namespace
}  // namespace kiln
