// `kiln bench` (timing through the runtime, text / JSON / the peers' one-line
// contract) and `kiln zoo` (writing the reference models): sane figures,
// parseable output, exit codes 0 / 1 / 2 with a message.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kiln/kiln.h"
#include "tests/toolchain/cli_test_util.h"
#include "tests/toolchain/scratch_dir.h"
#include "toolchain/aligned_bytes.h"
#include "toolchain/atomic_file.h"
#include "toolchain/model_reader.h"
#include "toolchain/serialize.h"

namespace kiln {
namespace {

using testing::Cli;
using testing::CliRun;
using testing::Contains;

// The last non-empty line of `text`.
std::string LastLine(const std::string& text) {
  size_t end = text.size();
  while (end > 0 && text[end - 1] == '\n') --end;
  const size_t start = text.rfind('\n', end == 0 ? 0 : end - 1);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end - (start == std::string::npos ? 0 : start + 1));
}

class BenchCommandTest : public ::testing::Test {
 protected:
  // Writes a zoo model with `kiln zoo` and returns its path.
  std::string Zoo(const std::string& name) {
    const std::string path = dir_.Path(name + ".kiln");
    const CliRun r = Cli({"zoo", name, "--out", path});
    EXPECT_EQ(r.code, 0) << r.err;
    return path;
  }
  testing::ScratchDir dir_;
};

TEST_F(BenchCommandTest, TextReportHasTheFigures) {
  const std::string model = Zoo("mlp160");
  const CliRun r = Cli({"bench", model, "--reps", "5", "--warmup", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* what :
       {"median", "p90", "min", "mean", "items/s", "path", "arena",
        "74,752 MACs per item", "features int8[160]", "5 timed after 1"}) {
    EXPECT_TRUE(Contains(r.out, what)) << what << "\n" << r.out;
  }
}

TEST_F(BenchCommandTest, JsonParsesWithEverySample) {
  const std::string model = Zoo("mlp160");
  const CliRun r =
      Cli({"bench", model, "--reps", "7", "--batch", "3", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["batch"], 3);
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["reps"], 7);
  EXPECT_EQ(j["model_name"], "mlp160");
  EXPECT_EQ(j["macs_per_item"], 74752);
  EXPECT_GT(j["arena_bytes"].get<uint64_t>(), 0u);
  ASSERT_EQ(j["samples_us"].size(), 7u);
  const double median = j["median_us"], min = j["min_us"], p90 = j["p90_us"];
  EXPECT_GT(min, 0.0);
  EXPECT_LE(min, median);
  EXPECT_LE(median, p90);
  EXPECT_NEAR(j["items_per_s"].get<double>(), 3e6 / median,
              1e-6 * 3e6 / median);
  // The path the runtime chose is one it can run here.
  const std::string isa = j["isa"];
  bool runnable = false;
  for (int32_t i = 0; i < KILN_ISA_COUNT; ++i) {
    if (((kiln_supported_isas() >> i) & 1) && isa == kiln_isa_name_of(i)) {
      runnable = true;
    }
  }
  EXPECT_TRUE(runnable) << isa;
}

TEST_F(BenchCommandTest, PeerLastLineIsTheSamples) {
  const std::string model = Zoo("blocknet");
  const CliRun r = Cli({"bench", model, "--batch", "16", "--reps", "4",
                        "--warmup", "0", "--peer"});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string last = LastLine(r.out);
  const nlohmann::json j = nlohmann::json::parse(last);
  ASSERT_TRUE(j.contains("samples_us")) << last;
  ASSERT_EQ(j["samples_us"].size(), 4u);
  ASSERT_EQ(j["cpu_us"].size(), 4u);
  for (const auto& v : j["samples_us"]) EXPECT_GT(v.get<double>(), 0.0);
  // Nothing else on stdout: the summary went to stderr.
  EXPECT_EQ(r.out, last + "\n");
  EXPECT_TRUE(Contains(r.err, "median")) << r.err;
}

TEST_F(BenchCommandTest, ForcedPathAndThreads) {
  const std::string model = Zoo("blocknet");
  CliRun r = Cli({"bench", model, "--isa", "ref", "--reps", "2", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["isa"], "ref");
  r = Cli({"bench", model, "--threads", "2", "--batch", "8", "--reps", "3",
           "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["threads"], 2);
  EXPECT_EQ(j["arena_bytes_total"].get<uint64_t>(),
            2 * j["arena_bytes"].get<uint64_t>());
  EXPECT_EQ(j["samples_us"].size(), 3u);
  // A path this CPU cannot run is a failure, not a usage error.
  for (int32_t i = 0; i < KILN_ISA_COUNT; ++i) {
    if ((kiln_supported_isas() >> i) & 1) continue;
    r = Cli({"bench", model, "--isa", kiln_isa_name_of(i), "--reps", "1"});
    EXPECT_EQ(r.code, 1) << kiln_isa_name_of(i);
    EXPECT_TRUE(Contains(r.err, "cannot run")) << r.err;
    break;
  }
}

TEST_F(BenchCommandTest, UsageErrorsExit2) {
  const std::vector<std::vector<std::string>> bad = {
      {"bench"},
      {"bench", "m.kiln", "--batch", "0"},
      {"bench", "m.kiln", "--batch", "x"},
      {"bench", "m.kiln", "--batch"},
      {"bench", "m.kiln", "--reps", "0"},
      {"bench", "m.kiln", "--warmup", "-1"},
      {"bench", "m.kiln", "--threads", "0"},
      {"bench", "m.kiln", "--threads", "100000"},
      {"bench", "m.kiln", "--isa", "sse9"},
      {"bench", "m.kiln", "--json", "--peer"},
      {"bench", "m.kiln", "--verbose"},
      {"bench", "a.kiln", "b.kiln"},
      {"zoo"},
      {"zoo", "resnet50", "--out", "x.kiln"},
      {"zoo", "mlp160"},
      {"zoo", "mlp160", "--out"},
      {"zoo", "mlp160", "--out", "x.kiln", "--seed", "-3"},
      {"zoo", "--list", "mlp160"},
  };
  for (const auto& args : bad) {
    const CliRun r = Cli(args);
    std::string joined;
    for (const std::string& a : args) joined += a + " ";
    EXPECT_EQ(r.code, 2) << joined;
    EXPECT_TRUE(Contains(r.err, "--help")) << joined << r.err;
  }
  const CliRun help = Cli({"bench", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_TRUE(Contains(help.out, "--peer")) << help.out;
  EXPECT_TRUE(Contains(Cli({"--help"}).out, "bench"));
}

TEST_F(BenchCommandTest, MissingOrCorruptModelExits1) {
  CliRun r = Cli({"bench", dir_.Path("absent.kiln")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "absent.kiln")) << r.err;

  std::string error;
  const std::string junk = dir_.Path("junk.kiln");
  ASSERT_TRUE(WriteFileAtomic(junk, std::vector<uint8_t>(300, 0x5a), &error));
  r = Cli({"bench", junk, "--reps", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "not a valid Kiln model")) << r.err;

  // Structurally fine, semantically broken: the runtime's verifier says why.
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(ReadFileBytes(Zoo("mlp160"), &bytes, &error)) << error;
  const AlignedBytes aligned(bytes);
  ModelDef def;
  ASSERT_TRUE(ParseModel(aligned.data(), aligned.size(), &def, &error));
  def.operators[0].fully_connected.requant->multiplier[0] = 5;
  const std::string broken = dir_.Path("broken.kiln");
  ASSERT_TRUE(WriteFileAtomic(broken, SerializeModel(def), &error));
  r = Cli({"bench", broken, "--reps", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "broken.kiln")) << r.err;

  // Truncated.
  bytes.resize(bytes.size() / 2);
  const std::string half = dir_.Path("half.kiln");
  ASSERT_TRUE(WriteFileAtomic(half, bytes, &error));
  r = Cli({"bench", half, "--reps", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_FALSE(r.err.empty());
}

TEST_F(BenchCommandTest, ZooWritesLoadableModels) {
  CliRun r = Cli({"zoo", "--list"});
  ASSERT_EQ(r.code, 0);
  for (const char* name : {"mlp160", "blocknet", "resnet18"}) {
    EXPECT_TRUE(Contains(r.out, name)) << r.out;
  }
  for (const char* name : {"trivial", "mlp160", "blocknet", "all-ops"}) {
    std::vector<uint8_t> bytes;
    std::string error;
    ASSERT_TRUE(ReadFileBytes(Zoo(name), &bytes, &error)) << error;
    const AlignedBytes aligned(bytes);
    ModelDef def;
    EXPECT_TRUE(ParseModel(aligned.data(), aligned.size(), &def, &error))
        << name << ": " << error;
  }
  // Same name and seed, same bytes; another seed, other weights.
  const std::string a = dir_.Path("a.kiln"), b = dir_.Path("b.kiln"),
                    c = dir_.Path("c.kiln");
  ASSERT_EQ(Cli({"zoo", "mlp160", "--out", a, "--seed", "5"}).code, 0);
  ASSERT_EQ(Cli({"zoo", "mlp160", "--out=" + b, "--seed", "5"}).code, 0);
  ASSERT_EQ(Cli({"zoo", "mlp160", "--out", c, "--seed", "6"}).code, 0);
  std::vector<uint8_t> ba, bb, bc;
  std::string error;
  ASSERT_TRUE(ReadFileBytes(a, &ba, &error));
  ASSERT_TRUE(ReadFileBytes(b, &bb, &error));
  ASSERT_TRUE(ReadFileBytes(c, &bc, &error));
  EXPECT_EQ(ba, bb);
  EXPECT_NE(ba, bc);
  // An unwritable destination is a failure with the reason.
  r = Cli({"zoo", "mlp160", "--out", dir_.Path("no/such/dir/m.kiln")});
  EXPECT_EQ(r.code, 1);
  EXPECT_FALSE(r.err.empty());
}

}  // namespace
}  // namespace kiln
