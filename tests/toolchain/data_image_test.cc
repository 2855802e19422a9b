// Image folders: tiny PNG and BMP files written with stb_image_write, the
// class and file order, sizes, channels, resizing and every error.
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>

#include <string>
#include <vector>

#include "tests/toolchain/data_test_util.h"
#include "toolchain/data/image_folder.h"
#include "toolchain/data/sources.h"

namespace kiln {
namespace data {
namespace {

using ::kiln::testing::ScratchDir;
using ::kiln::testing::WriteBytes;

// An h x w image of c channels whose pixel (y, x, k) is base + 16y + 4x + k.
std::vector<uint8_t> Pattern(int h, int w, int c, int base) {
  std::vector<uint8_t> p;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int k = 0; k < c; ++k) {
        p.push_back(static_cast<uint8_t>(base + 16 * y + 4 * x + k));
      }
    }
  }
  return p;
}

void WritePng(const std::string& path, int h, int w, int c,
              const std::vector<uint8_t>& pixels) {
  ASSERT_NE(stbi_write_png(path.c_str(), w, h, c, pixels.data(), w * c), 0)
      << path;
}

void WriteBmp(const std::string& path, int h, int w, int c,
              const std::vector<uint8_t>& pixels) {
  ASSERT_NE(stbi_write_bmp(path.c_str(), w, h, c, pixels.data()), 0) << path;
}

std::string LoadError(const std::string& dir, const ImageFolderOptions& o) {
  Dataset d;
  std::string error;
  if (LoadImageFolder(dir, o, &d, &error)) return "";
  EXPECT_EQ(d.size(), 0u);
  return error;
}

TEST(DataImageTest, LoadsClassesAndFilesInSortedOrder) {
  ScratchDir dir;
  dir.MakeDir("dog");
  dir.MakeDir("cat");
  dir.MakeDir(".hidden");
  WritePng(dir.Path("dog/b.png"), 2, 3, 3, Pattern(2, 3, 3, 100));
  WriteBmp(dir.Path("dog/a.BMP"), 2, 3, 3, Pattern(2, 3, 3, 50));
  WritePng(dir.Path("cat/z.png"), 2, 3, 3, Pattern(2, 3, 3, 0));
  WriteBytes(dir.Path("cat/notes.txt"), "not an image");
  WriteBytes(dir.Path("cat/.z.png"), "hidden");
  WriteBytes(dir.Path("README"), "ignored");
  Dataset d;
  std::string error;
  ASSERT_TRUE(LoadImageFolder(dir.path(), ImageFolderOptions(), &d, &error))
      << error;
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(d.labels, (std::vector<int32_t>{0, 1, 1}));
  EXPECT_EQ(d.origins, (std::vector<std::string>{dir.Path("cat/z.png"),
                                                 dir.Path("dog/a.BMP"),
                                                 dir.Path("dog/b.png")}));
  EXPECT_EQ(d.item_shape, (std::vector<int32_t>{2, 3, 3}));
  EXPECT_EQ(d.feature_type, FeatureType::kUint8);
  std::vector<uint8_t> expected = Pattern(2, 3, 3, 0);
  for (int base : {50, 100}) {
    const std::vector<uint8_t> p = Pattern(2, 3, 3, base);
    expected.insert(expected.end(), p.begin(), p.end());
  }
  EXPECT_EQ(d.u8, expected);
  const size_t slash = dir.path().find_last_of('/');
  EXPECT_EQ(d.name, dir.path().substr(slash + 1));
  EXPECT_TRUE(CheckDataset(d, &error)) << error;
}

TEST(DataImageTest, ChannelsFollowTheFirstImageOrTheOption) {
  ScratchDir dir;
  dir.MakeDir("a");
  dir.MakeDir("b");
  WritePng(dir.Path("a/1.png"), 2, 2, 1, {0, 50, 100, 250});
  // RGB pure grey converts to the same grey.
  WritePng(dir.Path("b/1.png"), 2, 2, 3, std::vector<uint8_t>(12, 77));
  Dataset d;
  std::string error;
  ASSERT_TRUE(LoadImageFolder(dir.path(), ImageFolderOptions(), &d, &error))
      << error;
  EXPECT_EQ(d.item_shape, (std::vector<int32_t>{2, 2, 1}));
  EXPECT_EQ(d.u8, (std::vector<uint8_t>{0, 50, 100, 250, 77, 77, 77, 77}));

  ImageFolderOptions rgb;
  rgb.channels = 3;
  ASSERT_TRUE(LoadImageFolder(dir.path(), rgb, &d, &error)) << error;
  EXPECT_EQ(d.item_shape, (std::vector<int32_t>{2, 2, 3}));
  EXPECT_EQ(d.u8.size(), 24u);
  EXPECT_EQ(d.u8[3], 50);
  EXPECT_EQ(d.u8[4], 50);
  EXPECT_EQ(d.u8[5], 50);

  ImageFolderOptions bad;
  bad.channels = 4;
  EXPECT_EQ(LoadError(dir.path(), bad),
            dir.path() + ": images must have 1 or 3 channels, not 4");
}

TEST(DataImageTest, WrongSizeIsAnErrorUnlessResizing) {
  ScratchDir dir;
  dir.MakeDir("a");
  dir.MakeDir("b");
  WritePng(dir.Path("a/1.png"), 4, 4, 1, Pattern(4, 4, 1, 0));
  WritePng(dir.Path("b/1.png"), 2, 2, 1, std::vector<uint8_t>(4, 200));
  EXPECT_EQ(LoadError(dir.path(), ImageFolderOptions()),
            dir.Path("b/1.png") +
                ": image is 2x2 (HxW) but the dataset's are 4x4 (resize "
                "them, or ask for resize=nearest or resize=bilinear)");
  ImageFolderOptions fixed;
  fixed.height = 4;
  fixed.width = 4;
  fixed.channels = 1;
  EXPECT_NE(LoadError(dir.path(), fixed).find(dir.Path("b/1.png")),
            std::string::npos);
  for (ResizeMode mode : {ResizeMode::kNearest, ResizeMode::kBilinear}) {
    fixed.resize = mode;
    Dataset d;
    std::string error;
    ASSERT_TRUE(LoadImageFolder(dir.path(), fixed, &d, &error)) << error;
    EXPECT_EQ(d.item_shape, (std::vector<int32_t>{4, 4, 1}));
    ASSERT_EQ(d.u8.size(), 32u);
    // The 4x4 image is untouched; the constant one stays constant.
    const std::vector<uint8_t> first(d.u8.begin(), d.u8.begin() + 16);
    EXPECT_EQ(first, Pattern(4, 4, 1, 0));
    EXPECT_EQ(std::vector<uint8_t>(d.u8.begin() + 16, d.u8.end()),
              std::vector<uint8_t>(16, 200));
  }
  ImageFolderOptions no_size;
  no_size.resize = ResizeMode::kBilinear;
  EXPECT_EQ(LoadError(dir.path(), no_size),
            dir.path() + ": resizing needs a target size (HxWxC)");
}

TEST(DataImageTest, ResizeNearestAndBilinear) {
  // 1x2 -> 1x4: nearest repeats, bilinear interpolates at half-pixel centres.
  const uint8_t row[2] = {0, 200};
  uint8_t out[4];
  ResizeImage(row, 1, 2, 1, out, 1, 4, ResizeMode::kNearest);
  EXPECT_EQ(std::vector<uint8_t>(out, out + 4),
            (std::vector<uint8_t>{0, 0, 200, 200}));
  ResizeImage(row, 1, 2, 1, out, 1, 4, ResizeMode::kBilinear);
  // Source x = 0.25 * 2 - 0.5 + ... : -0.25 (clamped 0), 0.25, 0.75, 1.25.
  EXPECT_EQ(std::vector<uint8_t>(out, out + 4),
            (std::vector<uint8_t>{0, 50, 150, 200}));
  // 4x4 -> 2x2 bilinear averages each 2x2 block (centres fall between).
  const std::vector<uint8_t> src = Pattern(4, 4, 1, 0);
  uint8_t small[4];
  ResizeImage(src.data(), 4, 4, 1, small, 2, 2, ResizeMode::kBilinear);
  // Block (0,0) holds 0, 4, 16, 20: mean 10.
  EXPECT_EQ(std::vector<uint8_t>(small, small + 4),
            (std::vector<uint8_t>{10, 18, 42, 50}));
  ResizeImage(src.data(), 4, 4, 1, small, 2, 2, ResizeMode::kNearest);
  EXPECT_EQ(std::vector<uint8_t>(small, small + 4),
            (std::vector<uint8_t>{20, 28, 52, 60}));
  // Channels stay separate.
  const uint8_t rgb[6] = {10, 20, 30, 110, 120, 130};
  uint8_t rgb_out[12];
  ResizeImage(rgb, 1, 2, 3, rgb_out, 2, 2, ResizeMode::kBilinear);
  EXPECT_EQ(std::vector<uint8_t>(rgb_out, rgb_out + 6),
            (std::vector<uint8_t>{10, 20, 30, 110, 120, 130}));
}

TEST(DataImageTest, FolderErrors) {
  ScratchDir dir;
  EXPECT_EQ(LoadError(dir.Path("absent"), ImageFolderOptions()),
            dir.Path("absent") +
                ": cannot open directory: No such file or directory");
  EXPECT_EQ(LoadError(dir.path(), ImageFolderOptions()),
            dir.path() + ": no class folders (expected " + dir.path() +
                "/<class name>/<image>.png, .jpg, .jpeg or .bmp)");
  dir.MakeDir("only");
  WritePng(dir.Path("only/1.png"), 2, 2, 1, std::vector<uint8_t>(4, 1));
  EXPECT_EQ(LoadError(dir.path(), ImageFolderOptions()),
            dir.path() +
                ": only one class folder ('only'); classification needs at "
                "least two");
  dir.MakeDir("empty");
  WriteBytes(dir.Path("empty/readme.txt"), "no images here");
  EXPECT_EQ(LoadError(dir.path(), ImageFolderOptions()),
            dir.Path("empty") +
                ": class folder 'empty' has no .png, .jpg, .jpeg or .bmp "
                "files");
}

TEST(DataImageTest, CorruptImagesAreErrorsNamingTheFile) {
  ScratchDir dir;
  dir.MakeDir("a");
  dir.MakeDir("b");
  WritePng(dir.Path("a/good.png"), 2, 2, 1, std::vector<uint8_t>(4, 9));
  WriteBytes(dir.Path("b/bad.png"), "this is not a PNG at all");
  std::string error = LoadError(dir.path(), ImageFolderOptions());
  EXPECT_EQ(error.rfind(dir.Path("b/bad.png") + ": cannot decode image: ", 0),
            0u)
      << error;

  WriteBytes(dir.Path("b/bad.png"), "");
  error = LoadError(dir.path(), ImageFolderOptions());
  EXPECT_EQ(error,
            dir.Path("b/bad.png") + ": cannot decode image: the file is empty");

  // A real PNG cut short, and one whose header claims 65535x65535.
  WritePng(dir.Path("b/full.png"), 16, 16, 3, Pattern(16, 16, 3, 0));
  const std::string png = ::kiln::testing::ReadBytes(dir.Path("b/full.png"));
  ASSERT_GT(png.size(), 40u);
  ASSERT_EQ(unlink(dir.Path("b/full.png").c_str()), 0);
  WriteBytes(dir.Path("b/bad.png"), png.substr(0, png.size() / 2));
  error = LoadError(dir.path(), ImageFolderOptions());
  EXPECT_EQ(error.rfind(dir.Path("b/bad.png") + ": ", 0), 0u) << error;

  std::string huge = png;
  // IHDR width and height live at bytes 16..23 (the CRC is then wrong too).
  for (int i = 16; i < 24; ++i) huge[i] = (i % 4 < 2) ? '\0' : '\xFF';
  WriteBytes(dir.Path("b/bad.png"), huge);
  error = LoadError(dir.path(), ImageFolderOptions());
  EXPECT_EQ(error.rfind(dir.Path("b/bad.png") + ": ", 0), 0u) << error;
}

TEST(DataImageTest, OpenDatasetImagesSpec) {
  ScratchDir dir;
  dir.MakeDir("a:colon");
  dir.MakeDir("b");
  WritePng(dir.Path("a:colon/1.png"), 3, 3, 3, Pattern(3, 3, 3, 0));
  WritePng(dir.Path("b/1.png"), 5, 7, 3, Pattern(5, 7, 3, 0));
  Dataset d;
  std::string error;
  EXPECT_FALSE(OpenDataset("images:" + dir.path(), &d, &error));
  EXPECT_NE(error.find(dir.Path("b/1.png")), std::string::npos) << error;
  ASSERT_TRUE(OpenDataset("images:" + dir.path() + ":4x6x1:resize=bilinear", &d,
                          &error))
      << error;
  EXPECT_EQ(d.item_shape, (std::vector<int32_t>{4, 6, 1}));
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"a:colon", "b"}));
  ASSERT_TRUE(
      OpenDataset("images:" + dir.path() + ":resize=nearest:8x8x3", &d, &error))
      << error;
  EXPECT_EQ(d.item_shape, (std::vector<int32_t>{8, 8, 3}));
  EXPECT_FALSE(
      OpenDataset("images:" + dir.path() + ":8x8x3:resize=cubic", &d, &error));
  EXPECT_NE(error.find("resize must be 'nearest' or 'bilinear', not 'cubic'"),
            std::string::npos)
      << error;
  EXPECT_FALSE(OpenDataset("images:" + dir.path() + ":8x8x2", &d, &error));
  EXPECT_NE(error.find("1 or 3 channels"), std::string::npos) << error;
}

}  // namespace
}  // namespace data
}  // namespace kiln
