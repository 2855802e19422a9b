// The kiln command line: dispatch, usage errors, and `kiln inspect` on valid
// and corrupt models (a clear error and exit code, never a crash).
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/toolchain/cli_test_util.h"
#include "tests/toolchain/toolchain_test_util.h"
#include "toolchain/atomic_file.h"
#include "toolchain/cli/command.h"
#include "toolchain/serialize.h"
#include "toolchain/zoo/reference_models.h"

namespace kiln {
namespace {

using testing::Cli;
using testing::CliRun;
using testing::Contains;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kiln_cli_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const std::string& p : written_) unlink(p.c_str());
    rmdir(dir_.c_str());
  }
  std::string Write(const std::string& name,
                    const std::vector<uint8_t>& bytes) {
    const std::string path = dir_ + "/" + name;
    std::string error;
    EXPECT_TRUE(WriteFileAtomic(path, bytes, &error)) << error;
    written_.push_back(path);
    return path;
  }
  std::string dir_;
  std::vector<std::string> written_;
};

TEST_F(CliTest, HelpAndUsageErrors) {
  CliRun r = Cli({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(Contains(r.out, "inspect")) << r.out;
  r = Cli({});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "usage")) << r.err;
  r = Cli({"frobnicate"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "unknown command 'frobnicate'")) << r.err;
  r = Cli({"--frobnicate"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "unknown option")) << r.err;
  r = Cli({"inspect", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(Contains(r.out, "--batch")) << r.out;
  r = Cli({"inspect"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "missing MODEL")) << r.err;
  r = Cli({"inspect", "m.kiln", "--verbose"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "unknown option '--verbose'")) << r.err;
  for (const char* bad : {"0", "-1", "x", "", "99999999999"}) {
    r = Cli({"inspect", "m.kiln", "--batch", bad});
    EXPECT_EQ(r.code, 2) << bad;
  }
  r = Cli({"inspect", "m.kiln", "--batch"});
  EXPECT_EQ(r.code, 2);
  r = Cli({"inspect", "a.kiln", "b.kiln"});
  EXPECT_EQ(r.code, 2);
}

TEST_F(CliTest, InspectPrintsEverything) {
  ModelBuilder b = zoo::AllOpsModel(4);
  b.SetTrainingDataHash("sha256:feed");
  b.SetMetric("accuracy", 0.875);
  b.SetProperty("epochs", "12");
  const std::string path = Write("all.kiln", testing::BuildOrFail(b));
  const CliRun r = Cli({"inspect", path, "--batch", "8"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* part : {"schema version 1",
                           "all-ops",
                           "0.1.0-test",
                           "sha256:feed",
                           "accuracy = 0.875",
                           "epochs = 12",
                           "Inputs:",
                           "image",
                           "FLOAT32",
                           "UINT8",
                           "conv/weights",
                           "per-channel",
                           "Conv2D 'conv'",
                           "groups 2",
                           "RELU6",
                           "Concat 'concat'",
                           "Softmax 'softmax'",
                           "requant entries 8",
                           "Memory plan:",
                           "bytes per item",
                           "kiln_arena_size",
                           "at batch 8",
                           "label:",
                           "MARGIN",
                           "threshold 3"}) {
    EXPECT_TRUE(Contains(r.out, part)) << "missing '" << part << "' in\n"
                                       << r.out;
  }
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST_F(CliTest, InspectJson) {
  const std::string path =
      Write("mlp.kiln", testing::BuildOrFail(zoo::Mlp160(2, true)));
  const CliRun r = Cli({"inspect", "--json", path, "--batch=3"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.front(), '{');
  EXPECT_EQ(r.out.substr(r.out.size() - 2), "}\n");
  for (const char* part :
       {"\"schema_version\": 1", "\"model_name\": \"mlp160-float-io\"",
        "\"dtype\": \"FLOAT32\"", "\"kind\": \"FullyConnected\"",
        "\"requant_count\": 256", "\"bytes_per_item\":", "\"batch\": 3",
        "\"confidence\": \"TOP1_PROB\"", "\"threshold\": 32768",
        "\"threshold_real\": 0.5", "\"labels\": [", "\"class7\"",
        "\"scale\": [0.03]"}) {
    EXPECT_TRUE(Contains(r.out, part)) << "missing '" << part << "' in\n"
                                       << r.out.substr(0, 3000);
  }
  // Balanced brackets: a cheap structural check without a JSON parser.
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < r.out.size(); ++i) {
    const char c = r.out[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
    ASSERT_GE(depth, 0);
  }
  EXPECT_EQ(depth, 0);
}

TEST_F(CliTest, InspectRejectsBadFiles) {
  CliRun r = Cli({"inspect", dir_ + "/missing.kiln"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "cannot open")) << r.err;

  r = Cli({"inspect", dir_});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "not a regular file")) << r.err;

  const std::vector<uint8_t> good = testing::BuildOrFail(zoo::AllOpsModel(1));
  r = Cli({"inspect", Write("empty.kiln", {})});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "not a Kiln model")) << r.err;

  r = Cli({"inspect", Write("cut.kiln", std::vector<uint8_t>(
                                            good.begin(),
                                            good.begin() + good.size() / 2))});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "FlatBuffers verifier")) << r.err;

  // Structurally valid, semantically wrong: the runtime's verdict is shown.
  ModelDef def = testing::FinishOrFail(zoo::AllOpsModel(1));
  def.plan.tensor_offsets[testing::TensorIndex(def, "add")] += 8;
  r = Cli({"inspect", Write("plan.kiln", SerializeModel(def))});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "rejected by the runtime")) << r.err;
  EXPECT_TRUE(Contains(r.err, "plan")) << r.err;
  EXPECT_TRUE(r.out.empty()) << "nothing is printed for a bad model";

  // Random damage never crashes the inspector.
  uint32_t seed = 7;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<uint8_t> damaged = good;
    for (int f = 0; f < 3; ++f) {
      seed = seed * 1103515245u + 12345u;
      damaged[(seed >> 8) % damaged.size()] ^= uint8_t(1u << (seed % 8));
    }
    r = Cli({"inspect", Write("damaged.kiln", damaged), "--json"});
    EXPECT_TRUE(r.code == 0 || r.code == 1) << r.code;
  }
}

}  // namespace
}  // namespace kiln
