// IDX files (plain and gzip): valid pairs, every kind of corruption, the
// Fashion-MNIST loader on fake and (if installed) real files.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/toolchain/data_test_util.h"
#include "toolchain/data/idx_reader.h"
#include "toolchain/data/sources.h"

namespace kiln {
namespace data {
namespace {

using ::kiln::testing::BigEndian32;
using ::kiln::testing::IdxBytes;
using ::kiln::testing::ReadBytes;
using ::kiln::testing::ScratchDir;
using ::kiln::testing::WriteBytes;
using ::kiln::testing::WriteGzip;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUnderAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kUnderAsan = true;
#else
constexpr bool kUnderAsan = false;
#endif
#else
constexpr bool kUnderAsan = false;
#endif

// 3 images of 2x3: image i has pixels 10*i + 0..5.
std::string ThreeImages() {
  std::string pixels;
  for (int i = 0; i < 3; ++i) {
    for (int p = 0; p < 6; ++p) pixels += static_cast<char>(10 * i + p);
  }
  return IdxBytes({3, 2, 3}, pixels);
}

std::string ThreeLabels() {
  return IdxBytes({3}, std::string("\x02\x00\x01", 3));
}

const std::vector<std::string> kAbc = {"a", "b", "c"};

void ExpectThreeSamples(const Dataset& d, const std::string& images_path) {
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d.item_shape, (std::vector<int32_t>{2, 3, 1}));
  EXPECT_EQ(d.feature_type, FeatureType::kUint8);
  EXPECT_EQ(d.task, Task::kClassification);
  ASSERT_EQ(d.u8.size(), 18u);
  for (int i = 0; i < 3; ++i) {
    for (int p = 0; p < 6; ++p) EXPECT_EQ(d.u8[i * 6 + p], 10 * i + p);
  }
  EXPECT_EQ(d.labels, (std::vector<int32_t>{2, 0, 1}));
  EXPECT_EQ(d.origins[0], images_path + "#0");
  EXPECT_EQ(d.origins[2], images_path + "#2");
  EXPECT_EQ(d.source_splits, std::vector<Split>(3, Split::kNone));
  std::string error;
  EXPECT_TRUE(CheckDataset(d, &error)) << error;
}

TEST(DataIdxTest, LoadsPlainPair) {
  ScratchDir dir;
  const std::string images = dir.Path("images-idx3-ubyte");
  const std::string labels = dir.Path("labels-idx1-ubyte");
  WriteBytes(images, ThreeImages());
  WriteBytes(labels, ThreeLabels());
  Dataset d;
  std::string error;
  ASSERT_TRUE(LoadIdxPair(images, labels, kAbc, &d, &error)) << error;
  ExpectThreeSamples(d, images);
  EXPECT_EQ(d.class_names, kAbc);
  EXPECT_EQ(d.name, "images-idx3-ubyte");
}

TEST(DataIdxTest, LoadsGzipPair) {
  ScratchDir dir;
  const std::string images = dir.Path("images-idx3-ubyte.gz");
  const std::string labels = dir.Path("labels-idx1-ubyte.gz");
  WriteGzip(images, ThreeImages());
  WriteGzip(labels, ThreeLabels());
  ASSERT_NE(ReadBytes(images).substr(0, 2), std::string("\0\0", 2));
  Dataset d;
  std::string error;
  ASSERT_TRUE(LoadIdxPair(images, labels, kAbc, &d, &error)) << error;
  ExpectThreeSamples(d, images);
}

TEST(DataIdxTest, InfersClassNamesFromTheLargestLabel) {
  ScratchDir dir;
  WriteBytes(dir.Path("i"), ThreeImages());
  WriteBytes(dir.Path("l"), ThreeLabels());
  Dataset d;
  std::string error;
  ASSERT_TRUE(LoadIdxPair(dir.Path("i"), dir.Path("l"), {}, &d, &error))
      << error;
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"0", "1", "2"}));

  WriteBytes(dir.Path("l1"), IdxBytes({3}, std::string(3, '\0')));
  EXPECT_FALSE(LoadIdxPair(dir.Path("i"), dir.Path("l1"), {}, &d, &error));
  EXPECT_NE(error.find("at least two classes"), std::string::npos) << error;
  EXPECT_EQ(d.size(), 0u);
}

// Loads the pair and returns the error (empty if it loaded).
std::string PairError(const std::string& images, const std::string& labels) {
  Dataset d;
  std::string error;
  if (LoadIdxPair(images, labels, kAbc, &d, &error)) return "";
  EXPECT_EQ(d.size(), 0u);
  EXPECT_TRUE(d.u8.empty());
  return error;
}

TEST(DataIdxTest, RejectsBadMagic) {
  ScratchDir dir;
  const std::string images = dir.Path("bad-images");
  std::string bytes = ThreeImages();
  bytes[0] = 0x12;
  WriteBytes(images, bytes);
  WriteBytes(dir.Path("l"), ThreeLabels());
  const std::string error = PairError(images, dir.Path("l"));
  EXPECT_EQ(error, images +
                       ": not an IDX file: bad magic 0x12000803 (expected "
                       "0x00000803, an unsigned-byte IDX file of 3 "
                       "dimensions)");
}

TEST(DataIdxTest, RejectsSwappedFilesAndOtherElementTypes) {
  ScratchDir dir;
  WriteBytes(dir.Path("i"), ThreeImages());
  WriteBytes(dir.Path("l"), ThreeLabels());
  std::string error = PairError(dir.Path("l"), dir.Path("i"));
  EXPECT_NE(error.find(dir.Path("l") + ": the IDX file has 1 dimensions"),
            std::string::npos)
      << error;
  std::string floats = ThreeImages();
  floats[2] = 0x0D;
  WriteBytes(dir.Path("f"), floats);
  error = PairError(dir.Path("f"), dir.Path("l"));
  EXPECT_NE(error.find("IDX element type 0x0d is not supported"),
            std::string::npos)
      << error;
}

TEST(DataIdxTest, RejectsTruncatedFiles) {
  ScratchDir dir;
  WriteBytes(dir.Path("l"), ThreeLabels());
  const std::string full = ThreeImages();

  WriteBytes(dir.Path("short"), full.substr(0, full.size() - 6));
  EXPECT_EQ(
      PairError(dir.Path("short"), dir.Path("l")),
      dir.Path("short") + ": header says 3 images of 2x3 but the file holds 2");

  WriteBytes(dir.Path("partial"), full.substr(0, full.size() - 2));
  EXPECT_EQ(PairError(dir.Path("partial"), dir.Path("l")),
            dir.Path("partial") +
                ": header says 3 images of 2x3 but the file holds 2 images "
                "and 4 bytes of another");

  WriteBytes(dir.Path("header"), full.substr(0, 10));
  EXPECT_EQ(
      PairError(dir.Path("header"), dir.Path("l")),
      dir.Path("header") + ": the IDX header is truncated (10 of 16 bytes)");

  WriteBytes(dir.Path("tiny"), "ab");
  EXPECT_EQ(PairError(dir.Path("tiny"), dir.Path("l")),
            dir.Path("tiny") + ": too short for an IDX header (2 bytes)");

  WriteBytes(dir.Path("empty"), "");
  EXPECT_NE(PairError(dir.Path("empty"), dir.Path("l")).find(dir.Path("empty")),
            std::string::npos);

  // The same truncation inside a gzip stream.
  WriteGzip(dir.Path("short.gz"), full.substr(0, full.size() - 6));
  EXPECT_EQ(PairError(dir.Path("short.gz"), dir.Path("l")),
            dir.Path("short.gz") +
                ": header says 3 images of 2x3 but the file holds 2");
}

TEST(DataIdxTest, RejectsTrailingBytes) {
  ScratchDir dir;
  WriteBytes(dir.Path("l"), ThreeLabels());
  WriteBytes(dir.Path("long"), ThreeImages() + std::string(6, '\x07'));
  EXPECT_EQ(
      PairError(dir.Path("long"), dir.Path("l")),
      dir.Path("long") + ": header says 3 images of 2x3 but the file holds 4");
  WriteBytes(dir.Path("i"), ThreeImages());
  WriteBytes(dir.Path("l4"), ThreeLabels() + "\x01");
  EXPECT_EQ(PairError(dir.Path("i"), dir.Path("l4")),
            dir.Path("l4") + ": header says 3 labels but the file holds 4");
}

TEST(DataIdxTest, RejectsCorruptGzipStream) {
  ScratchDir dir;
  WriteBytes(dir.Path("l"), ThreeLabels());
  // Compress something big enough that cutting the stream loses data.
  std::string pixels;
  for (int i = 0; i < 100 * 6; ++i) pixels += static_cast<char>(i * 7919 % 251);
  WriteGzip(dir.Path("full.gz"), IdxBytes({100, 2, 3}, pixels));
  const std::string gz = ReadBytes(dir.Path("full.gz"));
  WriteBytes(dir.Path("cut.gz"), gz.substr(0, gz.size() / 2));
  std::string error = PairError(dir.Path("cut.gz"), dir.Path("l"));
  EXPECT_EQ(error.rfind(dir.Path("cut.gz") + ": ", 0), 0u) << error;

  std::string garbled = gz;
  for (size_t i = 12; i < garbled.size() - 8; ++i) garbled[i] ^= 0x5A;
  WriteBytes(dir.Path("garbled.gz"), garbled);
  error = PairError(dir.Path("garbled.gz"), dir.Path("l"));
  EXPECT_EQ(error.rfind(dir.Path("garbled.gz") + ": ", 0), 0u) << error;
}

TEST(DataIdxTest, RejectsCountMismatchBetweenImagesAndLabels) {
  ScratchDir dir;
  WriteBytes(dir.Path("i"), ThreeImages());
  WriteBytes(dir.Path("l"), IdxBytes({2}, std::string("\x00\x01", 2)));
  EXPECT_EQ(PairError(dir.Path("i"), dir.Path("l")),
            dir.Path("i") + " holds 3 images but " + dir.Path("l") +
                " holds 2 labels");
}

TEST(DataIdxTest, RejectsLabelOutOfRangeNamingTheRecord) {
  ScratchDir dir;
  WriteBytes(dir.Path("i"), ThreeImages());
  WriteBytes(dir.Path("l"), IdxBytes({3}, std::string("\x00\x01\x03", 3)));
  EXPECT_EQ(PairError(dir.Path("i"), dir.Path("l")),
            dir.Path("l") + "#2: label 3 is out of range (3 classes, 0 to 2)");
}

TEST(DataIdxTest, RejectsZeroImageSize) {
  ScratchDir dir;
  WriteBytes(dir.Path("i"), IdxBytes({3, 0, 3}, ""));
  WriteBytes(dir.Path("l"), ThreeLabels());
  const std::string error = PairError(dir.Path("i"), dir.Path("l"));
  EXPECT_NE(error.find("dimension 1 is zero"), std::string::npos) << error;
}

// Runs in a death-test child limited to 256 MiB of data: reserving the
// 2.2 GiB the headers declare would throw std::bad_alloc and abort.
void ReadBigFilesWithLimitedMemory(const ScratchDir& dir) {
  rlimit limit;
  limit.rlim_cur = limit.rlim_max = rlim_t{256} << 20;
  setrlimit(RLIMIT_DATA, &limit);
  for (const char* name : {"big", "big.gz"}) {
    std::vector<uint32_t> dims;
    std::vector<uint8_t> data;
    std::string error;
    if (ReadIdxUint8(dir.Path(name), 3, &dims, &data, &error)) _exit(3);
    if (error.find("holds 0 images") == std::string::npos) _exit(4);
  }
  _exit(0);
}

TEST(DataIdxTest, HugeDeclaredSizeIsAnErrorNotAnAllocation) {
  ScratchDir dir;
  WriteBytes(dir.Path("l"), ThreeLabels());
  // 2^31 images of 28x28 in a 100-byte file: over the limit.
  const std::string huge = IdxBytes({1u << 31, 28, 28}, std::string(84, 'x'));
  ASSERT_EQ(huge.size(), 100u);
  WriteBytes(dir.Path("huge"), huge);
  EXPECT_EQ(PairError(dir.Path("huge"), dir.Path("l")),
            dir.Path("huge") +
                ": header says 2147483648 images of 28x28, more than the "
                "4.0 GiB limit (corrupt header?)");
  // Dimensions whose product overflows 64 bits.
  WriteBytes(dir.Path("overflow"),
             IdxBytes({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, "x"));
  EXPECT_NE(PairError(dir.Path("overflow"), dir.Path("l")).find("limit"),
            std::string::npos);
  // 3,000,000 images of 28x28 (2.2 GiB, under the limit) in a 100-byte file:
  // the truth is told and nothing near 2.2 GiB is allocated.
  WriteBytes(dir.Path("big"),
             IdxBytes({3000000, 28, 28}, std::string(84, 'x')));
  WriteGzip(dir.Path("big.gz"),
            IdxBytes({3000000, 28, 28}, std::string(84, 'x')));
  for (const char* name : {"big", "big.gz"}) {
    EXPECT_EQ(PairError(dir.Path(name), dir.Path("l")),
              dir.Path(name) +
                  ": header says 3000000 images of 28x28 but the file holds 0 "
                  "images and 84 bytes of another");
  }
  if (kUnderAsan) return;  // ASan reserves terabytes of address space
  EXPECT_EXIT(ReadBigFilesWithLimitedMemory(dir), ::testing::ExitedWithCode(0),
              "");
}

TEST(DataIdxTest, MissingFileOrDirectoryIsAnError) {
  ScratchDir dir;
  WriteBytes(dir.Path("l"), ThreeLabels());
  std::string error = PairError(dir.Path("nope"), dir.Path("l"));
  EXPECT_EQ(error,
            dir.Path("nope") + ": cannot open: No such file or directory");
  error = PairError(dir.path(), dir.Path("l"));
  EXPECT_EQ(error, dir.path() + ": is a directory, not a file");
}

TEST(DataIdxTest, ReadIdxAppendsAndLeavesDataAloneOnFailure) {
  ScratchDir dir;
  WriteBytes(dir.Path("l"), ThreeLabels());
  WriteBytes(dir.Path("bad"), ThreeLabels() + "x");
  std::vector<uint32_t> dims;
  std::vector<uint8_t> data = {42};
  std::string error;
  ASSERT_TRUE(ReadIdxUint8(dir.Path("l"), 1, &dims, &data, &error)) << error;
  EXPECT_EQ(dims, std::vector<uint32_t>{3});
  EXPECT_EQ(data, (std::vector<uint8_t>{42, 2, 0, 1}));
  EXPECT_FALSE(ReadIdxUint8(dir.Path("bad"), 1, &dims, &data, &error));
  EXPECT_EQ(data, (std::vector<uint8_t>{42, 2, 0, 1}));
}

// A fake Fashion-MNIST directory: 28x28 images, 3 train and 2 test.
void WriteFakeFashion(const ScratchDir& dir, bool gzip) {
  auto write = gzip ? WriteGzip : WriteBytes;
  const std::string suffix = gzip ? ".gz" : "";
  std::string train, test;
  for (int i = 0; i < 3; ++i) train += std::string(784, static_cast<char>(i));
  for (int i = 0; i < 2; ++i)
    test += std::string(784, static_cast<char>(100 + i));
  write(dir.Path("train-images-idx3-ubyte" + suffix),
        IdxBytes({3, 28, 28}, train));
  write(dir.Path("train-labels-idx1-ubyte" + suffix),
        IdxBytes({3}, std::string("\x09\x00\x05", 3)));
  write(dir.Path("t10k-images-idx3-ubyte" + suffix),
        IdxBytes({2, 28, 28}, test));
  write(dir.Path("t10k-labels-idx1-ubyte" + suffix),
        IdxBytes({2}, std::string("\x01\x08", 2)));
}

TEST(DataFashionMnistTest, LoadsTrainThenTestFromAFakeDirectory) {
  for (bool gzip : {true, false}) {
    ScratchDir dir;
    WriteFakeFashion(dir, gzip);
    Dataset d;
    std::string error;
    ASSERT_TRUE(LoadFashionMnist(dir.path(), &d, &error)) << error;
    ASSERT_EQ(d.size(), 5u);
    EXPECT_EQ(d.name, "fashion-mnist");
    EXPECT_EQ(d.item_shape, (std::vector<int32_t>{28, 28, 1}));
    EXPECT_EQ(d.labels, (std::vector<int32_t>{9, 0, 5, 1, 8}));
    EXPECT_EQ(d.source_splits,
              (std::vector<Split>{Split::kNone, Split::kNone, Split::kNone,
                                  Split::kTest, Split::kTest}));
    EXPECT_EQ(d.class_names.size(), 10u);
    EXPECT_EQ(d.class_names[0], "T-shirt/top");
    EXPECT_EQ(d.class_names[9], "Ankle boot");
    EXPECT_EQ(d.u8[784 * 2], 2);
    EXPECT_EQ(d.u8[784 * 4 + 783], 101);
    const std::string suffix = gzip ? ".gz" : "";
    EXPECT_EQ(d.origins[0],
              dir.Path("train-images-idx3-ubyte" + suffix) + "#0");
    EXPECT_EQ(d.origins[4], dir.Path("t10k-images-idx3-ubyte" + suffix) + "#1");

    Dataset via_spec;
    ASSERT_TRUE(OpenDataset("fashion-mnist:" + dir.path(), &via_spec, &error))
        << error;
    EXPECT_EQ(via_spec.u8, d.u8);
  }
}

TEST(DataFashionMnistTest, ReportsMissingAndWrongSizedFiles) {
  ScratchDir dir;
  WriteFakeFashion(dir, true);
  ASSERT_EQ(unlink(dir.Path("t10k-labels-idx1-ubyte.gz").c_str()), 0);
  Dataset d;
  std::string error;
  EXPECT_FALSE(LoadFashionMnist(dir.path(), &d, &error));
  EXPECT_EQ(error, dir.path() +
                       ": has neither t10k-labels-idx1-ubyte.gz nor "
                       "t10k-labels-idx1-ubyte");
  EXPECT_FALSE(LoadFashionMnist(dir.Path("nowhere"), &d, &error));
  EXPECT_NE(error.find("dataset-fashion-mnist"), std::string::npos) << error;

  ScratchDir small;
  WriteGzip(small.Path("train-images-idx3-ubyte.gz"),
            IdxBytes({1, 2, 3}, "abcdef"));
  WriteGzip(small.Path("train-labels-idx1-ubyte.gz"), IdxBytes({1}, "\x01"));
  WriteGzip(small.Path("t10k-images-idx3-ubyte.gz"),
            IdxBytes({1, 2, 3}, "abcdef"));
  WriteGzip(small.Path("t10k-labels-idx1-ubyte.gz"), IdxBytes({1}, "\x01"));
  EXPECT_FALSE(LoadFashionMnist(small.path(), &d, &error));
  EXPECT_NE(error.find("28x28"), std::string::npos) << error;
  EXPECT_EQ(d.size(), 0u);
}

TEST(DataFashionMnistTest, LoadsTheInstalledDataset) {
  const std::string dir = DefaultFashionMnistDir();
  if (access((dir + "/train-images-idx3-ubyte.gz").c_str(), R_OK) != 0) {
    GTEST_SKIP() << dir << " is absent (Debian package dataset-fashion-mnist)";
  }
  Dataset d;
  std::string error;
  ASSERT_TRUE(OpenDataset("fashion-mnist", &d, &error)) << error;
  ASSERT_EQ(d.size(), 70000u);
  EXPECT_EQ(d.item_shape, (std::vector<int32_t>{28, 28, 1}));
  EXPECT_EQ(d.u8.size(), 70000u * 784u);
  size_t test = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    const bool is_test = d.source_splits[i] == Split::kTest;
    test += is_test;
    EXPECT_EQ(is_test, i >= 60000) << i;
    if (is_test != (i >= 60000)) break;
  }
  EXPECT_EQ(test, 10000u);
  std::vector<int> counts(10, 0);
  for (int32_t label : d.labels) ++counts[static_cast<size_t>(label)];
  EXPECT_EQ(counts, std::vector<int>(10, 7000));
  EXPECT_EQ(d.origins[60000], dir + "/t10k-images-idx3-ubyte.gz#0");
  const std::string description = DescribeDataset(d);
  EXPECT_NE(description.find("70000 samples"), std::string::npos)
      << description;
  EXPECT_NE(description.find("none 60000, test 10000"), std::string::npos)
      << description;
}

}  // namespace
}  // namespace data
}  // namespace kiln
