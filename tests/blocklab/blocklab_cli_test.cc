// `kiln blocklab` through the dispatcher (RunCli -> RunBlocklab): encode /
// decode round trip, refusing to overwrite the input, usage errors (exit
// 2), corrupt inputs (exit 1), the TLG8 summary.
#include <gtest/gtest.h>
#include <stdio.h>

#include <string>
#include <vector>

#include "tests/blocklab/block_test_util.h"
#include "tests/toolchain/cli_test_util.h"
#include "tests/toolchain/scratch_dir.h"
#include "toolchain/blocklab/block_coder.h"
#include "toolchain/cli/command.h"

namespace kiln {
namespace blocklab {
namespace {

using testing::ReadBytes;
using testing::WriteBytes;

using kiln::testing::Cli;
using kiln::testing::CliRun;
using kiln::testing::Contains;
using kiln::testing::ScratchDir;

std::string SourceDir() {
  const std::string file = __FILE__;
  const size_t at = file.rfind("tests/blocklab/");
  return at == std::string::npos ? std::string(".") : file.substr(0, at);
}

// 19x11: 3x2 blocks with partial edges; smooth gradients plus noise.
Image SmallImage() {
  Image image;
  image.width = 19;
  image.height = 11;
  image.rgb.resize(static_cast<size_t>(image.width) * image.height * 3);
  uint32_t seed = 7;
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      for (int c = 0; c < 3; ++c) {
        seed = seed * 1664525u + 1013904223u;
        image.rgb[(static_cast<size_t>(y) * image.width + x) * 3 + c] =
            static_cast<uint8_t>(x * 9 + y * 4 * (c + 1) + (seed >> 28));
      }
    }
  }
  return image;
}

TEST(BlocklabCliTest, IsLinkedAndDispatched) {
  ASSERT_NE(&cli::RunBlocklab, nullptr);
  const CliRun r = Cli({"blocklab", "--help"});
  EXPECT_EQ(r.code, cli::kExitOk);
  EXPECT_TRUE(Contains(r.out + r.err, "kiln blocklab encode")) << r.out;
}

TEST(BlocklabCliTest, EncodeDecodeRoundTrip) {
  ScratchDir dir;
  const Image image = SmallImage();
  std::string error;
  const std::string png = dir.Path("in.png");
  ASSERT_TRUE(WritePng(png, image, &error)) << error;

  for (const char* search : {"full", "default"}) {
    SCOPED_TRACE(search);
    const std::string kbl = dir.Path(std::string(search) + ".kbl");
    const std::string out = dir.Path(std::string(search) + ".png");
    CliRun r = Cli({"blocklab", "encode", png, "--out", kbl, "--search", search,
                    "--threads", "2"});
    ASSERT_EQ(r.code, cli::kExitOk) << r.err;
    EXPECT_TRUE(Contains(r.out, "bits/pixel")) << r.out;
    EXPECT_TRUE(Contains(r.out, "estimates/block")) << r.out;
    if (std::string(search) == "full") {
      EXPECT_TRUE(Contains(r.out, "12288.0 estimates/block")) << r.out;
    }
    const std::vector<uint8_t> stream = ReadBytes(kbl);
    ASSERT_GE(stream.size(), 4u);
    EXPECT_EQ(std::string(stream.begin(), stream.begin() + 4), "KBLK");

    r = Cli({"blocklab", "decode", kbl, "--out=" + out});
    ASSERT_EQ(r.code, cli::kExitOk) << r.err;
    Image back;
    ASSERT_TRUE(LoadImage(out, &back, &error)) << error;
    EXPECT_EQ(back.width, image.width);
    EXPECT_EQ(back.height, image.height);
    EXPECT_EQ(back.rgb, image.rgb);
  }
}

TEST(BlocklabCliTest, RefusesToOverwriteTheInput) {
  ScratchDir dir;
  std::string error;
  const std::string png = dir.Path("in.png");
  ASSERT_TRUE(WritePng(png, SmallImage(), &error)) << error;
  const std::vector<uint8_t> before = ReadBytes(png);
  CliRun r = Cli({"blocklab", "encode", png, "--out", png});
  EXPECT_EQ(r.code, cli::kExitUsage);
  EXPECT_TRUE(Contains(r.err, "refusing to overwrite")) << r.err;
  // The same file under another name.
  r = Cli({"blocklab", "encode", png, "--out", dir.path() + "/./in.png"});
  EXPECT_EQ(r.code, cli::kExitUsage);
  EXPECT_EQ(ReadBytes(png), before);

  const std::string kbl = dir.Path("a.kbl");
  ASSERT_EQ(Cli({"blocklab", "encode", png, "--out", kbl}).code, cli::kExitOk);
  const std::vector<uint8_t> stream = ReadBytes(kbl);
  r = Cli({"blocklab", "decode", kbl, "--out", kbl});
  EXPECT_EQ(r.code, cli::kExitUsage);
  EXPECT_EQ(ReadBytes(kbl), stream);
}

TEST(BlocklabCliTest, BadUsageExitsTwo) {
  ScratchDir dir;
  std::string error;
  const std::string png = dir.Path("in.png");
  ASSERT_TRUE(WritePng(png, SmallImage(), &error)) << error;
  const std::vector<std::vector<std::string>> cases = {
      {"blocklab"},
      {"blocklab", "frobnicate"},
      {"blocklab", "encode", png},
      {"blocklab", "encode", "--out", dir.Path("x.kbl")},
      {"blocklab", "encode", png, png, "--out", dir.Path("x.kbl")},
      {"blocklab", "encode", png, "--out"},
      {"blocklab", "encode", png, "--out", dir.Path("x.kbl"), "--search",
       "fast"},
      {"blocklab", "encode", png, "--out", dir.Path("x.kbl"), "--threads", "0"},
      {"blocklab", "encode", png, "--out", dir.Path("x.kbl"), "--threads",
       "2x"},
      {"blocklab", "encode", png, "--out", dir.Path("x.kbl"), "--bogus"},
      {"blocklab", "encode", png, "--out", dir.Path("x.kbl"), "--out",
       dir.Path("y.kbl")},
      {"blocklab", "decode", dir.Path("x.kbl")},
      {"blocklab", "decode", "--out", dir.Path("x.png")},
      {"blocklab", "dataset"},
      {"blocklab", "dataset", "--out", dir.Path("d.kbds"), "--images",
       "no_such_photo"},
      {"blocklab", "dataset", "--out", dir.Path("d.kbds"), "--threads", "-1"},
      {"blocklab", "dataset", "extra", "--out", dir.Path("d.kbds")},
      {"blocklab", "tlg8"},
      {"blocklab", "tlg8", "a.jsonl", "b.jsonl"},
      {"blocklab", "tlg8", "a.jsonl", "--strict=yes"},
  };
  for (const auto& args : cases) {
    std::string line;
    for (const std::string& a : args) line += a + " ";
    SCOPED_TRACE(line);
    const CliRun r = Cli(args);
    EXPECT_EQ(r.code, cli::kExitUsage) << r.err;
    EXPECT_TRUE(Contains(r.err, "kiln blocklab")) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  EXPECT_TRUE(dir.Entries() == std::vector<std::string>{"in.png"});
}

TEST(BlocklabCliTest, MissingAndCorruptInputsExitOne) {
  ScratchDir dir;
  std::string error;
  const std::string png = dir.Path("in.png");
  ASSERT_TRUE(WritePng(png, SmallImage(), &error)) << error;
  const std::string kbl = dir.Path("a.kbl");
  ASSERT_EQ(Cli({"blocklab", "encode", png, "--out", kbl}).code, cli::kExitOk);
  const std::vector<uint8_t> stream = ReadBytes(kbl);
  ASSERT_GT(stream.size(), 20u);

  CliRun r = Cli({"blocklab", "encode", dir.Path("missing.png"), "--out",
                  dir.Path("m.kbl")});
  EXPECT_EQ(r.code, cli::kExitFailure);
  EXPECT_TRUE(Contains(r.err, "missing.png")) << r.err;
  r = Cli({"blocklab", "decode", dir.Path("missing.kbl"), "--out",
           dir.Path("m.png")});
  EXPECT_EQ(r.code, cli::kExitFailure);
  EXPECT_TRUE(Contains(r.err, "missing.kbl")) << r.err;

  // A PNG that is not one.
  WriteBytes(dir.Path("fake.png"), {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i'});
  r = Cli(
      {"blocklab", "encode", dir.Path("fake.png"), "--out", dir.Path("f.kbl")});
  EXPECT_EQ(r.code, cli::kExitFailure);

  std::vector<uint8_t> bad = stream;
  bad[0] = 'X';  // magic
  WriteBytes(dir.Path("magic.kbl"), bad);
  bad.assign(stream.begin(), stream.begin() + stream.size() / 2);
  WriteBytes(dir.Path("cut.kbl"), bad);
  WriteBytes(dir.Path("empty.kbl"), {});
  for (const char* name : {"magic.kbl", "cut.kbl", "empty.kbl"}) {
    SCOPED_TRACE(name);
    r = Cli(
        {"blocklab", "decode", dir.Path(name), "--out", dir.Path("out.png")});
    EXPECT_EQ(r.code, cli::kExitFailure);
    EXPECT_TRUE(Contains(r.err, name)) << r.err;
  }
  // Nothing was written for the failures.
  for (const std::string& e : dir.Entries()) {
    EXPECT_TRUE(e != "out.png" && e != "m.kbl" && e != "m.png" && e != "f.kbl")
        << e;
  }
}

TEST(BlocklabCliTest, Tlg8SummarisesTheSample) {
  const std::string sample = SourceDir() + "tests/data/tlg8/sample.jsonl.gz";
  CliRun r = Cli({"blocklab", "tlg8", sample});
  ASSERT_EQ(r.code, cli::kExitOk) << r.err;
  EXPECT_TRUE(Contains(r.out, "40 records, 0 bad lines")) << r.out;
  EXPECT_TRUE(Contains(r.out, "dko_sss (40)")) << r.out;
  // Hand count over the 40 blocks: the lowest residual energy names the
  // best predictor in 30 of them and the top 3 hold it in 38.
  EXPECT_TRUE(Contains(r.out,
                       "top-1 is the best predictor in 75.0% of blocks, top-3 "
                       "holds it in 95.0%"))
      << r.out;

  ScratchDir dir;
  FILE* f = fopen(dir.Path("bad.jsonl").c_str(), "wb");
  ASSERT_NE(f, nullptr);
  fputs("{\"image\": 1}\n\n", f);
  fclose(f);
  r = Cli({"blocklab", "tlg8", dir.Path("bad.jsonl")});
  EXPECT_EQ(r.code, cli::kExitFailure);  // no valid record
  EXPECT_TRUE(Contains(r.out, "line 1: 'image' is not a string")) << r.out;
  EXPECT_TRUE(Contains(r.out, "line 2: empty line")) << r.out;
  r = Cli({"blocklab", "tlg8", dir.Path("bad.jsonl"), "--strict"});
  EXPECT_EQ(r.code, cli::kExitFailure);
  EXPECT_TRUE(Contains(r.err, "line 1:")) << r.err;
  r = Cli({"blocklab", "tlg8", dir.Path("missing.jsonl")});
  EXPECT_EQ(r.code, cli::kExitFailure);
  EXPECT_TRUE(Contains(r.err, "missing.jsonl")) << r.err;
}

}  // namespace
}  // namespace blocklab
}  // namespace kiln
