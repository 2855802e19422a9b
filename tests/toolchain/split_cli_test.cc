// `kiln data`: usage errors, the report, and a manifest that persists
// across runs and refuses a conflicting seed.
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/toolchain/cli_test_util.h"
#include "toolchain/atomic_file.h"
#include "toolchain/cli/command.h"
#include "toolchain/serialize.h"

namespace kiln {
namespace {

using testing::Cli;
using testing::CliRun;
using testing::Contains;

class SplitCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kiln_split_cli_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    DIR* d = opendir(dir_.c_str());
    if (d != nullptr) {
      while (const dirent* e = readdir(d)) {
        const std::string n = e->d_name;
        if (n != "." && n != "..") unlink((dir_ + "/" + n).c_str());
      }
      closedir(d);
    }
    rmdir(dir_.c_str());
  }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::string error;
    EXPECT_TRUE(WriteFileAtomic(
        path, std::vector<uint8_t>(text.begin(), text.end()), &error))
        << error;
    return path;
  }
  std::string Read(const std::string& path) {
    std::vector<uint8_t> bytes;
    std::string error;
    EXPECT_TRUE(ReadFileBytes(path, &bytes, &error)) << error;
    return std::string(bytes.begin(), bytes.end());
  }
  std::string dir_;
};

TEST_F(SplitCliTest, HelpAndUsageErrors) {
  CliRun r = Cli({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(Contains(r.out, "  data ")) << r.out;
  r = Cli({"data", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(Contains(r.out, "usage: kiln data SPEC")) << r.out;
  EXPECT_TRUE(Contains(r.out, "--no-source-splits")) << r.out;

  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  const Case cases[] = {
      {{"data"}, "missing SPEC"},
      {{"data", "digits", "--frob"}, "unknown option '--frob'"},
      {{"data", "digits", "digits"}, "more than one SPEC"},
      {{"data", "digits", "--seed"}, "--seed needs a value"},
      {{"data", "digits", "--seed", "-3"}, "--seed wants an integer"},
      {{"data", "digits", "--seed=1x"}, "not '1x'"},
      {{"data", "digits", "--seed", "18446744073709551616"},
       "--seed wants an integer"},
      {{"data", "digits", "--ratios", "0.5,0.5"},
       "--ratios wants three numbers"},
      {{"data", "digits", "--ratios=0.5,0.5,0.5"}, "sum to 1.5, not 1"},
      {{"data", "digits", "--ratios", "0.5,-0.5,1"}, "not a non-negative"},
      {{"data", "digits", "--ratios", "0.5,nan,0.5"},
       "--ratios wants three numbers"},
      {{"data", "digits", "--manifest"}, "--manifest needs a value"},
      {{"data", "digits", "--manifest="}, "--manifest needs a file name"},
  };
  for (const Case& c : cases) {
    r = Cli(c.args);
    EXPECT_EQ(r.code, 2) << c.error;
    EXPECT_EQ(r.err.rfind("kiln data: ", 0), 0u) << r.err;
    EXPECT_TRUE(Contains(r.err, c.error)) << r.err;
    EXPECT_TRUE(Contains(r.err, "kiln data --help")) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

TEST_F(SplitCliTest, ReportAndPersistentManifest) {
  const std::string manifest = dir_ + "/digits.splits";
  CliRun r = Cli({"data", "digits", "--manifest", manifest});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out,
                       "digits: 1797 samples, classification, 10 "
                       "classes"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "item        8x8x1 uint8")) << r.out;
  EXPECT_TRUE(Contains(r.out, "new, 1797 entries, saved")) << r.out;
  EXPECT_TRUE(Contains(r.out, "total        1797            0        1797"))
      << r.out;
  const std::string first = Read(manifest);
  EXPECT_EQ(first.rfind("# kiln-split-manifest v1 seed=1 train=0.7 "
                        "valid=0.15 test=0.15\n",
                        0),
            0u);

  r = Cli({"data", "digits", "--manifest=" + manifest});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "1797 entries, 1797 after this run")) << r.out;
  EXPECT_TRUE(Contains(r.out, "total        1797         1797           0"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "(from the manifest)")) << r.out;
  EXPECT_EQ(Read(manifest), first);

  // Matching explicit values are fine; others are refused, file untouched.
  r = Cli({"data", "digits", "--manifest", manifest, "--seed", "1", "--ratios",
           "0.7,0.15,0.15"});
  EXPECT_EQ(r.code, 0) << r.err;
  r = Cli({"data", "digits", "--manifest", manifest, "--seed", "2"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err,
                       "was made with seed=1 train=0.7 valid=0.15 "
                       "test=0.15"))
      << r.err;
  EXPECT_TRUE(Contains(r.err, "ask for seed=2")) << r.err;
  r = Cli(
      {"data", "digits", "--manifest", manifest, "--ratios", "0.8,0.1,0.1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(Read(manifest), first);

  // Same data, other seed, no manifest: another split, same dataset hash.
  const CliRun seed1 = Cli({"data", "digits", "--json"});
  const CliRun seed2 = Cli({"data", "digits", "--json", "--seed", "2"});
  ASSERT_EQ(seed1.code, 0) << seed1.err;
  ASSERT_EQ(seed2.code, 0) << seed2.err;
  EXPECT_NE(seed1.out, seed2.out);
  const size_t at = seed1.out.find("\"hash\": \"");
  ASSERT_NE(at, std::string::npos) << seed1.out;
  EXPECT_TRUE(Contains(seed2.out, seed1.out.substr(at, 9 + 64)));
  EXPECT_TRUE(Contains(seed1.out, "\"manifest\": null")) << seed1.out;
  EXPECT_TRUE(Contains(seed1.out, "\"hashes_new\": ")) << seed1.out;
  EXPECT_TRUE(Contains(seed1.out, "\"per_class\": [")) << seed1.out;
}

TEST_F(SplitCliTest, DuplicatesInACsv) {
  const std::string csv = Write("t.csv",
                                "a,b,label\n"
                                "1,2,cat\n"
                                "3,4,dog\n"
                                "1,2,dog\n"
                                "5,6,cat\n"
                                "3,4,dog\n");
  const std::string manifest = dir_ + "/t.splits";
  const CliRun r =
      Cli({"data", "csv:" + csv + ":label=label", "--manifest", manifest});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "item        2 float32")) << r.out;
  EXPECT_TRUE(Contains(r.out,
                       "2 samples repeat an earlier one (2 groups, 1 "
                       "with conflicting labels)"))
      << r.out;
  // Three distinct samples, three manifest lines after the header.
  const std::string text = Read(manifest);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4) << text;
}

TEST_F(SplitCliTest, Failures) {
  CliRun r = Cli({"data", "no-such-kind"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "kiln data: ")) << r.err;

  const std::string bad =
      Write("bad.splits",
            "# kiln-split-manifest v1 seed=1 train=0.7 valid=0.15 test=0.15\n" +
                std::string(64, 'a') + "\tholdout\n");
  r = Cli({"data", "digits", "--manifest", bad});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, bad + ":2: unknown split 'holdout'")) << r.err;
  EXPECT_EQ(r.out, "");

  r = Cli({"data", "digits", "--manifest", dir_});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "cannot read split manifest")) << r.err;

  r = Cli({"data", "digits", "--manifest", dir_ + "/missing/dir/m.splits"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "cannot save split manifest")) << r.err;
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace kiln
