// Image files through the system's stb (libstb-dev: the decoders and the
// PNG writer are compiled into libstb, so only the declarations are
// included here).
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#include <string.h>

#include "toolchain/atomic_file.h"
#include "toolchain/blocklab/block_coder.h"
#include "toolchain/blocklab/block_pixels.h"

namespace kiln {
namespace blocklab {
namespace {

void AppendBytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* bytes = static_cast<const uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

}  // namespace

bool LoadImage(const std::string& path, Image* out, std::string* error) {
  int width = 0, height = 0, channels = 0;
  // Asking for 3 components replicates grey and drops alpha.
  stbi_uc* pixels = stbi_load(path.c_str(), &width, &height, &channels, 3);
  if (pixels == nullptr) {
    *error = path + ": cannot read image (" + stbi_failure_reason() + ")";
    return false;
  }
  if (width <= 0 || height <= 0 || width > kMaxImageSide ||
      height > kMaxImageSide || int64_t{width} * height > kMaxImagePixels) {
    stbi_image_free(pixels);
    *error = path + ": image size " + std::to_string(width) + "x" +
             std::to_string(height) + " out of range";
    return false;
  }
  out->width = width;
  out->height = height;
  out->rgb.assign(pixels, pixels + static_cast<size_t>(width) * height * 3);
  stbi_image_free(pixels);
  return true;
}

bool WritePng(const std::string& path, const Image& image, std::string* error) {
  if (image.width <= 0 || image.height <= 0 || image.width > kMaxImageSide ||
      image.height > kMaxImageSide ||
      image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3) {
    *error = path + ": invalid image (" + std::to_string(image.width) + "x" +
             std::to_string(image.height) + ", " +
             std::to_string(image.rgb.size()) + " bytes)";
    return false;
  }
  // Encode in memory, then hand the bytes to the atomic writer: readers
  // never see a half-written PNG.
  std::vector<uint8_t> png;
  if (stbi_write_png_to_func(AppendBytes, &png, image.width, image.height, 3,
                             image.rgb.data(), image.width * 3) == 0) {
    *error = path + ": PNG encoding failed";
    return false;
  }
  return WriteFileAtomic(path, png, error);
}

}  // namespace blocklab
}  // namespace kiln
