// SerializeModel / ParseModel: round trips through the FlatBuffers verifier,
// alignment, and faithful writing of invalid values.
#include "toolchain/serialize.h"

#include <gtest/gtest.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "formats/kiln_generated.h"
#include "tests/toolchain/toolchain_test_util.h"
#include "toolchain/aligned_bytes.h"
#include "toolchain/model_reader.h"
#include "toolchain/zoo/reference_models.h"

namespace kiln {
namespace {

using testing::FinishOrFail;
using testing::TensorIndex;

ModelDef Parse(const std::vector<uint8_t>& bytes) {
  const AlignedBytes aligned(bytes);
  ModelDef def;
  std::string error;
  EXPECT_TRUE(ParseModel(aligned.data(), aligned.size(), &def, &error))
      << error;
  return def;
}

bool Verifies(const std::vector<uint8_t>& bytes) {
  const AlignedBytes aligned(bytes);
  flatbuffers::Verifier verifier(aligned.data(), aligned.size());
  return fb::VerifyModelBuffer(verifier);
}

TEST(Serialize, ZooModelsRoundTripExactly) {
  for (const ModelBuilder& b : {zoo::TrivialModel(), zoo::Mlp160(3, true),
                                zoo::BlockNet(3), zoo::AllOpsModel(3)}) {
    const ModelDef def = FinishOrFail(b);
    const std::vector<uint8_t> bytes = SerializeModel(def);
    ASSERT_TRUE(Verifies(bytes));
    // Writing what was read gives the same bytes: nothing was lost or
    // reinterpreted on the way.
    EXPECT_EQ(SerializeModel(Parse(bytes)), bytes);
  }
}

TEST(Serialize, FileIdentifierAndFields) {
  const ModelDef def = FinishOrFail(zoo::AllOpsModel(5));
  const std::vector<uint8_t> bytes = SerializeModel(def);
  ASSERT_GE(bytes.size(), 8u);
  EXPECT_EQ(std::string(bytes.begin() + 4, bytes.begin() + 8), "KILN");
  const ModelDef back = Parse(bytes);
  EXPECT_EQ(back.tensors.size(), def.tensors.size());
  EXPECT_EQ(back.operators.size(), def.operators.size());
  EXPECT_EQ(back.plan.tensor_offsets, def.plan.tensor_offsets);
  EXPECT_EQ(back.plan.bytes_per_item, def.plan.bytes_per_item);
  EXPECT_EQ(back.heads[0].policy.exp_table, def.heads[0].policy.exp_table);
  EXPECT_EQ(back.metadata->model_name, "all-ops");
  for (size_t i = 0; i < def.operators.size(); ++i) {
    EXPECT_EQ(back.operators[i].kind, def.operators[i].kind) << i;
    EXPECT_EQ(back.operators[i].inputs, def.operators[i].inputs) << i;
  }
  for (size_t i = 0; i < def.buffers.size(); ++i) {
    EXPECT_EQ(back.buffers[i].data, def.buffers[i].data) << i;
  }
}

TEST(Serialize, ConstantBuffersAre16ByteAligned) {
  const std::vector<uint8_t> bytes =
      SerializeModel(FinishOrFail(zoo::BlockNet(1)));
  const AlignedBytes aligned(bytes);
  const fb::Model* m = fb::GetModel(aligned.data());
  ASSERT_GT(m->buffers()->size(), 1u);
  for (const fb::Buffer* b : *m->buffers()) {
    if (b->data() == nullptr || b->data()->size() == 0) continue;
    const size_t offset = b->data()->data() - aligned.data();
    EXPECT_EQ(offset % 16, 0u);
  }
}

TEST(Serialize, WritesInvalidValuesFaithfully) {
  ModelDef def = FinishOrFail(zoo::TrivialModel());
  def.tensors[0].shape = {-5, 0};
  def.tensors[0].quantization->scale = {NAN, -1.0f};
  def.tensors[0].type = static_cast<DType>(9);
  def.tensors[1].buffer = 999;
  def.operators[0].inputs = {4000};
  def.operators[0].kind = static_cast<OpKind>(77);
  def.heads.push_back(HeadDef{"h", 12345, {"x"}, {}});
  def.heads[0].policy.exp_table = -7;
  def.plan.tensor_offsets = {3};
  def.plan.alignment = 48;
  def.min_runtime_version = 99;
  const std::vector<uint8_t> bytes = SerializeModel(def);
  // Structurally fine (an unknown union type is not the verifier's
  // business): the semantic errors are for the runtime to find.
  ASSERT_TRUE(Verifies(bytes));
  const ModelDef back = Parse(bytes);
  EXPECT_EQ(back.tensors[0].shape, (std::vector<int32_t>{-5, 0}));
  EXPECT_TRUE(isnan(back.tensors[0].quantization->scale[0]));
  EXPECT_EQ(back.tensors[0].quantization->scale[1], -1.0f);
  EXPECT_EQ(static_cast<int>(back.tensors[0].type), 9);
  EXPECT_EQ(back.tensors[1].buffer, 999u);
  EXPECT_EQ(back.operators[0].inputs, (std::vector<uint32_t>{4000}));
  EXPECT_EQ(static_cast<int>(back.operators[0].kind), 77);
  EXPECT_EQ(back.heads[0].tensor, 12345u);
  EXPECT_EQ(back.heads[0].policy.exp_table, -7);
  EXPECT_EQ(back.plan.tensor_offsets, (std::vector<uint64_t>{3}));
  EXPECT_EQ(back.plan.alignment, 48u);
  EXPECT_EQ(back.min_runtime_version, 99u);
}

TEST(Serialize, AbsentTablesStayAbsent) {
  ModelDef def = FinishOrFail(zoo::AllOpsModel(2));
  def.metadata.reset();
  def.preprocess.reset();
  for (OperatorDef& op : def.operators) {
    if (op.kind == OpKind::kAdd) op.add.output_requant.reset();
  }
  def.tensors[TensorIndex(def, "add")].quantization.reset();
  const ModelDef back = Parse(SerializeModel(def));
  EXPECT_FALSE(back.metadata.has_value());
  EXPECT_FALSE(back.preprocess.has_value());
  EXPECT_FALSE(back.tensors[TensorIndex(def, "add")].quantization.has_value());
  for (const OperatorDef& op : back.operators) {
    if (op.kind != OpKind::kAdd) continue;
    EXPECT_FALSE(op.add.output_requant.has_value());
    EXPECT_TRUE(op.add.input1_requant.has_value());
  }
}

TEST(Serialize, OperatorWithoutKindFailsVerification) {
  ModelDef def = FinishOrFail(zoo::TrivialModel());
  def.operators[0].kind = OpKind::kNone;  // the required options go missing
  EXPECT_FALSE(Verifies(SerializeModel(def)));
}

TEST(Serialize, EmptyDefStillSerializes) {
  const std::vector<uint8_t> bytes = SerializeModel(ModelDef{});
  EXPECT_TRUE(Verifies(bytes));  // plan is present, even if empty
  const ModelDef back = Parse(bytes);
  EXPECT_TRUE(back.tensors.empty());
}

TEST(ParseModel, RejectsCorruptBytes) {
  const std::vector<uint8_t> bytes =
      SerializeModel(FinishOrFail(zoo::AllOpsModel(1)));
  ModelDef def;
  std::string error;
  {
    std::vector<uint8_t> renamed = bytes;
    renamed[4] = 'X';
    const AlignedBytes a(renamed);
    EXPECT_FALSE(ParseModel(a.data(), a.size(), &def, &error));
    EXPECT_NE(error.find("identifier"), std::string::npos) << error;
  }
  // Every truncation is rejected (most by the verifier, the shortest by the
  // identifier check) and none crashes.
  for (size_t len = 0; len < bytes.size(); ++len) {
    const AlignedBytes a(
        std::vector<uint8_t>(bytes.begin(), bytes.begin() + len));
    EXPECT_FALSE(ParseModel(a.data(), a.size(), &def, &error)) << len;
  }
  EXPECT_FALSE(ParseModel(nullptr, 0, &def, &error));
}

std::string TempDir() {
  char tmpl[] = "/tmp/kiln_serialize_test.XXXXXX";
  const char* dir = mkdtemp(tmpl);
  EXPECT_NE(dir, nullptr);
  return dir ? dir : "/tmp";
}

TEST(ReadFileBytes, ReadsWholeFilesAndExplainsFailures) {
  const std::string dir = TempDir();
  const std::string path = dir + "/model.kiln";
  const std::vector<uint8_t> bytes =
      SerializeModel(FinishOrFail(zoo::Mlp160(1, false)));
  FILE* f = fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  fclose(f);
  std::vector<uint8_t> read;
  std::string error;
  ASSERT_TRUE(ReadFileBytes(path, &read, &error)) << error;
  EXPECT_EQ(read, bytes);

  EXPECT_FALSE(ReadFileBytes(dir + "/missing", &read, &error));
  EXPECT_NE(error.find("missing"), std::string::npos) << error;
  EXPECT_FALSE(ReadFileBytes(dir, &read, &error));
  EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;
  unlink(path.c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace kiln
