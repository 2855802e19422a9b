// The TLG8 dump reader on the committed sample (tests/data/tlg8/: the first
// 40 lines of a real encoder dump, plain and gzip) and on broken lines.
#include "toolchain/blocklab/tlg8_dump.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <zlib.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/toolchain/scratch_dir.h"

namespace kiln {
namespace blocklab {
namespace {

using Json = nlohmann::json;
using kiln::testing::ScratchDir;

constexpr uint64_t kMax = kTlg8Pruned;

std::string SourceDir() {
  const std::string file = __FILE__;
  const size_t at = file.rfind("tests/blocklab/");
  return at == std::string::npos ? std::string(".") : file.substr(0, at);
}
std::string SamplePath(const char* name) {
  return SourceDir() + "tests/data/tlg8/" + name;
}

std::vector<std::string> SampleLines() {
  std::ifstream in(SamplePath("sample.jsonl"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void WriteText(const std::string& path, const std::string& text) {
  FILE* f = fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(fwrite(text.data(), 1, text.size(), f), text.size());
  fclose(f);
}

void WriteGzip(const std::string& path, const std::string& text) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, text.data(), static_cast<unsigned>(text.size())),
            static_cast<int>(text.size()));
  gzclose(f);
}

struct ReadAll {
  std::vector<Tlg8Record> records;
  std::vector<std::string> bad;
  uint64_t lines = 0, bad_count = 0;
  std::string error;
};

ReadAll Read(const std::string& path, bool strict = false) {
  ReadAll r;
  Tlg8DumpReader reader;
  reader.set_strict(strict);
  if (!reader.Open(path, &r.error)) return r;
  Tlg8Record record;
  while (reader.Next(&record, &r.error)) r.records.push_back(record);
  r.bad = reader.bad_lines();
  r.lines = reader.lines_read();
  r.bad_count = reader.bad_line_count();
  return r;
}

void ExpectSameTuple(const Tlg8Tuple& a, const Tlg8Tuple& b) {
  EXPECT_EQ(a.predictor, b.predictor);
  EXPECT_EQ(a.filter, b.filter);
  EXPECT_EQ(a.reorder, b.reorder);
  EXPECT_EQ(a.interleave, b.interleave);
  EXPECT_EQ(a.entropy, b.entropy);
  EXPECT_EQ(a.bits, b.bits);
}

void ExpectSameRecord(const Tlg8Record& a, const Tlg8Record& b) {
  EXPECT_EQ(a.line, b.line);
  EXPECT_EQ(a.image, b.image);
  EXPECT_EQ(a.image_width, b.image_width);
  EXPECT_EQ(a.image_height, b.image_height);
  EXPECT_EQ(a.tile_x, b.tile_x);
  EXPECT_EQ(a.tile_y, b.tile_y);
  EXPECT_EQ(a.block_x, b.block_x);
  EXPECT_EQ(a.block_y, b.block_y);
  EXPECT_EQ(a.block_width, b.block_width);
  EXPECT_EQ(a.block_height, b.block_height);
  EXPECT_EQ(a.components, b.components);
  EXPECT_EQ(a.pixels, b.pixels);
  EXPECT_EQ(a.predictor_bits, b.predictor_bits);
  EXPECT_EQ(a.perm_bits, b.perm_bits);
  EXPECT_EQ(a.primary_bits, b.primary_bits);
  EXPECT_EQ(a.secondary_bits, b.secondary_bits);
  EXPECT_EQ(a.reorder_bits, b.reorder_bits);
  EXPECT_EQ(a.interleave_bits, b.interleave_bits);
  ExpectSameTuple(a.best, b.best);
  ExpectSameTuple(a.second, b.second);
  EXPECT_EQ(a.residual_energy_by_predictor, b.residual_energy_by_predictor);
  EXPECT_EQ(a.filtered_energy_by_filter, b.filtered_energy_by_filter);
}

TEST(Tlg8DumpTest, ReadsTheSamplePlainAndGzipAlike) {
  const ReadAll plain = Read(SamplePath("sample.jsonl"));
  const ReadAll gz = Read(SamplePath("sample.jsonl.gz"));
  ASSERT_EQ(plain.error, "");
  ASSERT_EQ(gz.error, "");
  ASSERT_EQ(plain.records.size(), 40u);
  ASSERT_EQ(gz.records.size(), 40u);
  EXPECT_EQ(plain.lines, 40u);
  EXPECT_EQ(plain.bad_count, 0u);
  EXPECT_EQ(gz.bad_count, 0u);
  for (size_t i = 0; i < 40; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(plain.records[i].line, i + 1);
    ExpectSameRecord(plain.records[i], gz.records[i]);
  }
}

// Values read by hand from line 1 of tests/data/tlg8/sample.jsonl.
TEST(Tlg8DumpTest, ParsesTheFirstRecordsFields) {
  const ReadAll all = Read(SamplePath("sample.jsonl"));
  ASSERT_EQ(all.error, "");
  ASSERT_FALSE(all.records.empty());
  const Tlg8Record& r = all.records[0];
  EXPECT_EQ(r.line, 1u);
  EXPECT_EQ(r.image, "dko_sss");
  EXPECT_EQ(r.image_width, 200);
  EXPECT_EQ(r.image_height, 200);
  EXPECT_EQ(r.tile_x, 0);
  EXPECT_EQ(r.tile_y, 0);
  EXPECT_EQ(r.block_x, 0);
  EXPECT_EQ(r.block_y, 0);
  EXPECT_EQ(r.block_width, 8);
  EXPECT_EQ(r.block_height, 8);
  EXPECT_EQ(r.components, 3);
  ASSERT_EQ(r.pixels.size(), 192u);
  EXPECT_EQ(
      std::vector<uint8_t>(r.pixels.begin(), r.pixels.begin() + 10),
      (std::vector<uint8_t>{93, 115, 122, 98, 120, 130, 89, 113, 121, 85}));
  EXPECT_EQ(std::vector<uint8_t>(r.pixels.end() - 3, r.pixels.end()),
            (std::vector<uint8_t>{90, 114, 120}));
  EXPECT_EQ(r.predictor_bits, (std::vector<uint64_t>{549, kMax, kMax, kMax,
                                                     kMax, kMax, kMax, kMax}));
  EXPECT_EQ(r.perm_bits,
            (std::vector<uint64_t>{549, 559, kMax, kMax, 604, 589}));
  EXPECT_EQ(r.primary_bits, (std::vector<uint64_t>{kMax, 552, kMax, 549}));
  EXPECT_EQ(r.secondary_bits, (std::vector<uint64_t>{kMax, 564, 549, 559}));
  EXPECT_EQ(r.reorder_bits,
            (std::vector<uint64_t>{553, 549, 578, 561, 561, 579, 558, 567}));
  EXPECT_EQ(r.interleave_bits, (std::vector<uint64_t>{573, 549}));
  EXPECT_EQ(r.best.predictor, 0);
  EXPECT_EQ(r.best.filter, 14);
  EXPECT_EQ(r.best.reorder, 1);
  EXPECT_EQ(r.best.interleave, 1);
  EXPECT_EQ(r.best.entropy, 0);
  EXPECT_EQ(r.best.bits, 549u);
  EXPECT_EQ(r.second.predictor, 0);
  EXPECT_EQ(r.second.filter, 6);
  EXPECT_EQ(r.second.reorder, 1);
  EXPECT_EQ(r.second.interleave, 1);
  EXPECT_EQ(r.second.entropy, 0);
  EXPECT_EQ(r.second.bits, 552u);
  EXPECT_EQ(r.residual_energy_by_predictor,
            (std::vector<uint64_t>{38622, 328012, 335547, 278928, 268539,
                                   279780, 511031, 278626}));
  ASSERT_EQ(r.filtered_energy_by_filter.size(), 96u);
  EXPECT_EQ(r.filtered_energy_by_filter[0], 38622u);
  EXPECT_EQ(r.filtered_energy_by_filter[1], 23874u);
  EXPECT_EQ(r.filtered_energy_by_filter[2], 23072u);
  EXPECT_EQ(r.filtered_energy_by_filter[14], 9973u);
  EXPECT_EQ(r.filtered_energy_by_filter[95], 21371u);

  // Line 40: block (112, 8).
  const Tlg8Record& last = all.records.back();
  EXPECT_EQ(last.line, 40u);
  EXPECT_EQ(last.block_x, 112);
  EXPECT_EQ(last.block_y, 8);
  EXPECT_EQ(last.best.predictor, 4);
  EXPECT_EQ(last.best.filter, 94);
  EXPECT_EQ(last.best.bits, 752u);
  EXPECT_EQ(last.second.predictor, 0);
  EXPECT_EQ(last.second.bits, 766u);
  EXPECT_EQ(std::vector<uint8_t>(last.pixels.begin(), last.pixels.begin() + 3),
            (std::vector<uint8_t>{98, 145, 159}));
}

// A file of good and bad lines: each bad one is reported with its number
// and the reader goes on.
struct BrokenFile {
  std::string text;
  std::vector<std::string> expected_bad;  // "line N: <prefix of the why>"
  std::vector<uint64_t> good_lines;
};

BrokenFile MakeBrokenFile(const std::string& good, const std::string& eol) {
  BrokenFile f;
  const Json base = Json::parse(good);
  std::vector<std::string> lines;
  auto add_good = [&](const std::string& line) {
    lines.push_back(line);
    f.good_lines.push_back(lines.size());
  };
  auto add_bad = [&](const std::string& line, const std::string& why) {
    lines.push_back(line);
    f.expected_bad.push_back("line " + std::to_string(lines.size()) + ": " +
                             why);
  };
  auto modified = [&](const std::function<void(Json*)>& fn) {
    Json j = base;
    fn(&j);
    return j.dump();
  };
  add_good(good);                                              // 1
  add_bad(good.substr(0, good.size() / 2), "truncated JSON");  // 2
  add_bad("", "empty line");                                   // 3
  add_bad(modified([](Json* j) { (*j)["components"] = "3"; }),
          "components is not an integer");  // 4
  add_bad(modified([](Json* j) { (*j)["proj_cf_perm_bits"].erase(0); }),
          "'proj_cf_perm_bits' has 5 entries, expected 6");  // 5
  add_bad(std::string((size_t{1} << 20) + 100, ' '),
          "line longer than 1.0 MiB");  // 6
  add_good(good);                       // 7
  add_bad(modified([](Json* j) { (*j)["best"]["filter"] = 96; }),
          "best.filter is 96, out of range 0..95");  // 8
  add_bad(modified([](Json* j) {
            (*j)["block_size"] = {4, 8};
          }),
          "'pixels' has 192 entries, expected 96");  // 9
  add_bad(modified([](Json* j) { (*j)["pixels"][5] = 256; }),
          "pixels[5] is 256, out of range 0..255");  // 10
  add_bad(modified([](Json* j) { (*j)["proj_reorder_bits"][2] = -1; }),
          "proj_reorder_bits[2] is negative");  // 11
  add_bad(modified([](Json* j) { (*j)["best"] = "x"; }),
          "'best' is not an object");  // 12
  add_bad(
      modified([](Json* j) { j->erase("score_residual_energy_by_predictor"); }),
      "missing key 'score_residual_energy_by_predictor'");  // 13
  add_bad("[1, 2, 3]", "not a JSON object");                // 14
  add_bad(modified([](Json* j) {
            (*j)["block_origin"] = {196, 0};
          }),
          "block at (196,0) size 8x8 lies outside");  // 15
  add_bad(modified([](Json* j) { (*j)["proj_interleave_bits"][0] = 1.5; }),
          "proj_interleave_bits[0] is not an unsigned integer");  // 16
  add_bad("{\"image\": \"x\"} trailing", "parse error");          // 17
  // Deep nesting (under the 1 MiB cap): no stack overflow, just bad lines.
  add_bad(std::string(400000, '[') + std::string(400000, ']'),
          "not a JSON object (array)");  // 18
  std::string open_objects;
  for (int i = 0; i < 100000; ++i) open_objects += "{\"a\":";
  add_bad(open_objects, "truncated JSON");  // 19
  add_good(good);                           // 20
  for (size_t i = 0; i < lines.size(); ++i) {
    f.text += lines[i];
    if (i + 1 < lines.size()) f.text += eol;  // the last line has no newline
  }
  return f;
}

void ExpectReported(const ReadAll& all, const BrokenFile& f) {
  EXPECT_EQ(all.error, "");
  ASSERT_EQ(all.records.size(), f.good_lines.size());
  for (size_t i = 0; i < f.good_lines.size(); ++i) {
    EXPECT_EQ(all.records[i].line, f.good_lines[i]);
    EXPECT_EQ(all.records[i].image, "dko_sss");
  }
  EXPECT_EQ(all.lines, f.good_lines.size() + f.expected_bad.size());
  EXPECT_EQ(all.bad_count, f.expected_bad.size());
  ASSERT_EQ(all.bad.size(), f.expected_bad.size());
  for (size_t i = 0; i < f.expected_bad.size(); ++i) {
    EXPECT_EQ(all.bad[i].rfind(f.expected_bad[i], 0), 0u)
        << "got:      " << all.bad[i] << "\nexpected: " << f.expected_bad[i];
  }
}

TEST(Tlg8DumpTest, ReportsBadLinesByNumberAndGoesOn) {
  const std::vector<std::string> sample = SampleLines();
  ASSERT_FALSE(sample.empty());
  ScratchDir dir;
  const BrokenFile f = MakeBrokenFile(sample[0], "\n");
  WriteText(dir.Path("broken.jsonl"), f.text);
  ExpectReported(Read(dir.Path("broken.jsonl")), f);
}

TEST(Tlg8DumpTest, ReportsBadLinesInGzipWithCrLf) {
  const std::vector<std::string> sample = SampleLines();
  ASSERT_FALSE(sample.empty());
  ScratchDir dir;
  const BrokenFile f = MakeBrokenFile(sample[0], "\r\n");
  WriteGzip(dir.Path("broken.jsonl.gz"), f.text);
  ExpectReported(Read(dir.Path("broken.jsonl.gz")), f);
}

TEST(Tlg8DumpTest, StrictModeStopsAtTheFirstBadLine) {
  const std::vector<std::string> sample = SampleLines();
  ASSERT_GE(sample.size(), 2u);
  ScratchDir dir;
  WriteText(dir.Path("d.jsonl"),
            sample[0] + "\n" + sample[1] + "\n{\"image\": 1}\n" + sample[0]);
  Tlg8DumpReader reader;
  reader.set_strict(true);
  std::string error;
  ASSERT_TRUE(reader.Open(dir.Path("d.jsonl"), &error)) << error;
  Tlg8Record r;
  ASSERT_TRUE(reader.Next(&r, &error));
  ASSERT_TRUE(reader.Next(&r, &error));
  EXPECT_EQ(r.line, 2u);
  EXPECT_FALSE(reader.Next(&r, &error));
  EXPECT_NE(error.find("d.jsonl: line 3: 'image' is not a string"),
            std::string::npos)
      << error;
  EXPECT_EQ(reader.bad_line_count(), 1u);
}

TEST(Tlg8DumpTest, AcceptsANullSecondTuple) {
  const std::vector<std::string> sample = SampleLines();
  ASSERT_FALSE(sample.empty());
  Json j = Json::parse(sample[0]);
  j["second"] = nullptr;
  ScratchDir dir;
  WriteText(dir.Path("d.jsonl"), j.dump() + "\n");
  const ReadAll all = Read(dir.Path("d.jsonl"));
  ASSERT_EQ(all.records.size(), 1u) << all.error;
  EXPECT_EQ(all.records[0].second.predictor, -1);
  EXPECT_EQ(all.records[0].best.predictor, 0);
}

TEST(Tlg8DumpTest, EmptyFileHasNoRecords) {
  ScratchDir dir;
  WriteText(dir.Path("empty.jsonl"), "");
  const ReadAll all = Read(dir.Path("empty.jsonl"));
  EXPECT_EQ(all.error, "");
  EXPECT_TRUE(all.records.empty());
  EXPECT_EQ(all.lines, 0u);
}

TEST(Tlg8DumpTest, MissingAndCorruptFilesAreErrors) {
  ScratchDir dir;
  Tlg8DumpReader reader;
  std::string error;
  EXPECT_FALSE(reader.Open(dir.Path("missing.jsonl"), &error));
  EXPECT_NE(error.find("missing.jsonl"), std::string::npos) << error;

  // A gzip stream cut in half: an I/O error, not a bad line.
  std::ifstream in(SamplePath("sample.jsonl.gz"), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string gz = ss.str();
  ASSERT_GT(gz.size(), 1000u);
  WriteText(dir.Path("cut.jsonl.gz"), gz.substr(0, gz.size() / 2));
  const ReadAll all = Read(dir.Path("cut.jsonl.gz"));
  EXPECT_NE(all.error, "");
  EXPECT_LT(all.records.size(), 40u);
}

}  // namespace
}  // namespace blocklab
}  // namespace kiln
