// Image folders: DIR/<class name>/<image>.{png,jpg,jpeg,bmp}, decoded with
// stb_image. The classes are the sub-folders of DIR sorted by name (byte
// order), their ids in that order; the images of a class are its files
// sorted by name. Entries whose names start with '.', files directly in DIR,
// sub-sub-folders and files with other extensions are ignored.
#ifndef KILN_TOOLCHAIN_DATA_IMAGE_FOLDER_H_
#define KILN_TOOLCHAIN_DATA_IMAGE_FOLDER_H_

#include <stdint.h>

#include <string>
#include <vector>

#include "toolchain/data/dataset.h"

namespace kiln {
namespace data {

enum class ResizeMode { kNone, kNearest, kBilinear };

struct ImageFolderOptions {
  // Target size. 0 and 0: the size of the first image (in class, then file
  // order); every image must then have that size.
  int32_t height = 0;
  int32_t width = 0;
  // 1 (grayscale) or 3 (RGB). 0: 1 if the first image is grayscale (with or
  // without alpha), else 3. Images are converted (stb_image's luminance for
  // RGB to gray); alpha is dropped, not composited.
  int32_t channels = 0;
  // kNone: an image of another size is an error naming the file. Otherwise
  // such images are resized to height x width (needs both set).
  ResizeMode resize = ResizeMode::kNone;
};

// The largest image accepted, in pixels (a corrupt header cannot make the
// loader allocate more).
constexpr int64_t kMaxImagePixels = int64_t{1} << 26;

// Loads DIR as a uint8 classification dataset with item shape {H, W, C}.
// origins are the image files' paths. Errors: no class folders, only one,
// a class folder without images, an undecodable image, an image of the
// wrong size (without resize). On failure *out is cleared.
bool LoadImageFolder(const std::string& dir, const ImageFolderOptions& options,
                     Dataset* out, std::string* error);

// Resizes an HWC uint8 image (channels c) from src_h x src_w to dst_h x
// dst_w into dst (dst_h * dst_w * c bytes). Sample centres are aligned
// (half-pixel convention, edges clamped). Nearest takes the source pixel
// under each destination centre; bilinear interpolates the four around it in
// 16.16 fixed point, so results are bit-identical on every platform. Same
// size is a copy. No anti-aliasing: shrinking far loses detail. kNone
// behaves as kNearest.
void ResizeImage(const uint8_t* src, int32_t src_h, int32_t src_w, int32_t c,
                 uint8_t* dst, int32_t dst_h, int32_t dst_w, ResizeMode mode);

}  // namespace data
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_DATA_IMAGE_FOLDER_H_
