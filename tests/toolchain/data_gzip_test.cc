// Reading plain and gzip files with a size limit.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/toolchain/data_test_util.h"
#include "toolchain/data/gzip_file.h"

namespace kiln {
namespace data {
namespace {

using ::kiln::testing::ReadBytes;
using ::kiln::testing::ScratchDir;
using ::kiln::testing::WriteBytes;
using ::kiln::testing::WriteGzip;

std::string Text(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += static_cast<char>('a' + i * 7 % 26);
  return s;
}

TEST(DataGzipTest, ReadsPlainAndGzipUpToTheLimit) {
  ScratchDir dir;
  // Sizes around the reader's internal chunk sizes too.
  for (size_t size : {size_t{0}, size_t{1}, size_t{10}, size_t{65536},
                      size_t{65537}, size_t{300000}}) {
    const std::string text = Text(size);
    WriteBytes(dir.Path("plain"), text);
    WriteGzip(dir.Path("packed.gz"), text);
    for (const char* name : {"plain", "packed.gz"}) {
      std::vector<uint8_t> bytes;
      std::string error;
      ASSERT_TRUE(ReadFileMaybeGzip(dir.Path(name), size, &bytes, &error))
          << name << " " << size << ": " << error;
      EXPECT_EQ(std::string(bytes.begin(), bytes.end()), text) << name;
      if (size == 0) continue;
      EXPECT_FALSE(ReadFileMaybeGzip(dir.Path(name), size - 1, &bytes, &error));
      EXPECT_EQ(error, dir.Path(name) + ": larger than the " +
                           FormatByteCount(size - 1) +
                           " limit for this kind of file");
      EXPECT_TRUE(bytes.empty());
    }
  }
}

TEST(DataGzipTest, ReportsCorruptStreams) {
  ScratchDir dir;
  WriteGzip(dir.Path("ok.gz"), Text(100000));
  const std::string gz = ReadBytes(dir.Path("ok.gz"));
  WriteBytes(dir.Path("cut.gz"), gz.substr(0, gz.size() - 100));
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_FALSE(ReadFileMaybeGzip(dir.Path("cut.gz"), 1 << 20, &bytes, &error));
  EXPECT_EQ(error.rfind(dir.Path("cut.gz") + ": corrupt gzip data: ", 0), 0u)
      << error;
  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 6] ^= 1;  // in the CRC-32 of the trailer
  WriteBytes(dir.Path("crc.gz"), bad_crc);
  EXPECT_FALSE(ReadFileMaybeGzip(dir.Path("crc.gz"), 1 << 20, &bytes, &error));
  EXPECT_EQ(error.rfind(dir.Path("crc.gz") + ": corrupt gzip data: ", 0), 0u)
      << error;
  EXPECT_FALSE(ReadFileMaybeGzip(dir.path(), 1 << 20, &bytes, &error));
  EXPECT_EQ(error, dir.path() + ": is a directory, not a file");
}

TEST(DataGzipTest, FormatByteCount) {
  EXPECT_EQ(FormatByteCount(0), "0 bytes");
  EXPECT_EQ(FormatByteCount(1023), "1023 bytes");
  EXPECT_EQ(FormatByteCount(1536), "1.5 KiB");
  EXPECT_EQ(FormatByteCount(uint64_t{4} << 30), "4.0 GiB");
}

}  // namespace
}  // namespace data
}  // namespace kiln
