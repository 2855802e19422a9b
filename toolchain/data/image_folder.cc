#include "toolchain/data/image_folder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stb/stb_image.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "toolchain/data/catch_errors.h"
#include "toolchain/serialize.h"

namespace kiln {
namespace data {
namespace {

// The largest image file read.
constexpr int64_t kMaxImageFileBytes = int64_t{256} << 20;

std::string Lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

bool IsImageName(const std::string& name) {
  const size_t dot = name.find_last_of('.');
  if (dot == std::string::npos || dot == 0) return false;
  const std::string ext = Lower(name.substr(dot + 1));
  return ext == "png" || ext == "jpg" || ext == "jpeg" || ext == "bmp";
}

std::string Join(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

// The names in `dir` (sorted, without "." entries) that are directories
// (want_dirs) or regular files (!want_dirs), following symbolic links.
bool ListDir(const std::string& dir, bool want_dirs,
             std::vector<std::string>* names, std::string* error) {
  names->clear();
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    *error = dir + ": cannot open directory: " + strerror(errno);
    return false;
  }
  for (;;) {
    errno = 0;
    const dirent* entry = readdir(d);
    if (entry == nullptr) {
      if (errno != 0) {
        *error = dir + ": cannot read directory: " + strerror(errno);
        closedir(d);
        return false;
      }
      break;
    }
    const std::string name = entry->d_name;
    if (name.empty() || name[0] == '.') continue;
    struct stat st;
    if (stat(Join(dir, name).c_str(), &st) != 0) continue;  // dangling link
    if (want_dirs ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)) {
      names->push_back(name);
    }
  }
  closedir(d);
  std::sort(names->begin(), names->end());
  return true;
}

struct Image {
  int32_t height = 0;
  int32_t width = 0;
  int32_t file_channels = 0;  // as stored in the file: 1 to 4
};

// Reads the header of the image in `bytes` (no pixel allocation).
bool ProbeImage(const std::string& path, const std::vector<uint8_t>& bytes,
                Image* image, std::string* error) {
  int w = 0, h = 0, comp = 0;
  if (bytes.empty()) {
    *error = path + ": cannot decode image: the file is empty";
    return false;
  }
  if (!stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w,
                             &h, &comp)) {
    const char* reason = stbi_failure_reason();
    *error = path + ": cannot decode image: " +
             (reason != nullptr ? reason : "unknown format");
    return false;
  }
  if (w <= 0 || h <= 0 || comp < 1 || comp > 4 ||
      static_cast<int64_t>(w) * h > kMaxImagePixels) {
    *error = path + ": image header says " + std::to_string(w) + "x" +
             std::to_string(h) + " with " + std::to_string(comp) +
             " channels, which is not plausible (the limit is " +
             std::to_string(kMaxImagePixels) + " pixels)";
    return false;
  }
  image->width = w;
  image->height = h;
  image->file_channels = comp;
  return true;
}

// Decodes the image in `bytes` to `channels` channels into *pixels.
bool DecodeImage(const std::string& path, const std::vector<uint8_t>& bytes,
                 int32_t channels, const Image& probed,
                 std::vector<uint8_t>* pixels, std::string* error) {
  int w = 0, h = 0, comp = 0;
  stbi_uc* data = stbi_load_from_memory(
      bytes.data(), static_cast<int>(bytes.size()), &w, &h, &comp, channels);
  if (data == nullptr) {
    const char* reason = stbi_failure_reason();
    *error = path + ": cannot decode image: " +
             (reason != nullptr ? reason : "unknown error");
    return false;
  }
  if (w != probed.width || h != probed.height) {
    stbi_image_free(data);
    *error = path + ": cannot decode image: inconsistent size";
    return false;
  }
  pixels->assign(data, data + static_cast<size_t>(w) * static_cast<size_t>(h) *
                                  static_cast<size_t>(channels));
  stbi_image_free(data);
  return true;
}

// Source coordinate of destination index i, 16.16 fixed point, half-pixel
// centres, clamped to [0, src - 1].
int64_t SourceCoord(int32_t i, int32_t src, int32_t dst) {
  const int64_t scaled = ((2 * int64_t{i} + 1) * src - dst) * 65536;
  int64_t v = scaled < 0 ? 0 : scaled / (2 * int64_t{dst});
  const int64_t last = int64_t{src - 1} * 65536;
  return v > last ? last : v;
}

}  // namespace

void ResizeImage(const uint8_t* src, int32_t src_h, int32_t src_w, int32_t c,
                 uint8_t* dst, int32_t dst_h, int32_t dst_w, ResizeMode mode) {
  if (src_h == dst_h && src_w == dst_w) {
    std::copy(src, src + static_cast<size_t>(src_h) * src_w * c, dst);
    return;
  }
  const size_t row = static_cast<size_t>(src_w) * c;
  if (mode != ResizeMode::kBilinear) {
    for (int32_t y = 0; y < dst_h; ++y) {
      const int64_t sy = std::min<int64_t>(
          (2 * int64_t{y} + 1) * src_h / (2 * int64_t{dst_h}), src_h - 1);
      for (int32_t x = 0; x < dst_w; ++x) {
        const int64_t sx = std::min<int64_t>(
            (2 * int64_t{x} + 1) * src_w / (2 * int64_t{dst_w}), src_w - 1);
        const uint8_t* p =
            src + static_cast<size_t>(sy) * row + static_cast<size_t>(sx) * c;
        std::copy(p, p + c, dst);
        dst += c;
      }
    }
    return;
  }
  constexpr uint64_t kOne = 65536;
  for (int32_t y = 0; y < dst_h; ++y) {
    const int64_t fy_full = SourceCoord(y, src_h, dst_h);
    const int32_t y0 = static_cast<int32_t>(fy_full >> 16);
    const int32_t y1 = std::min(y0 + 1, src_h - 1);
    const uint64_t fy = static_cast<uint64_t>(fy_full & 0xFFFF);
    for (int32_t x = 0; x < dst_w; ++x) {
      const int64_t fx_full = SourceCoord(x, src_w, dst_w);
      const int32_t x0 = static_cast<int32_t>(fx_full >> 16);
      const int32_t x1 = std::min(x0 + 1, src_w - 1);
      const uint64_t fx = static_cast<uint64_t>(fx_full & 0xFFFF);
      const uint8_t* r0 = src + static_cast<size_t>(y0) * row;
      const uint8_t* r1 = src + static_cast<size_t>(y1) * row;
      for (int32_t k = 0; k < c; ++k) {
        const uint64_t p00 = r0[static_cast<size_t>(x0) * c + k];
        const uint64_t p01 = r0[static_cast<size_t>(x1) * c + k];
        const uint64_t p10 = r1[static_cast<size_t>(x0) * c + k];
        const uint64_t p11 = r1[static_cast<size_t>(x1) * c + k];
        const uint64_t top = p00 * (kOne - fx) + p01 * fx;
        const uint64_t bottom = p10 * (kOne - fx) + p11 * fx;
        const uint64_t v =
            (top * (kOne - fy) + bottom * fy + (uint64_t{1} << 31)) >> 32;
        *dst++ = static_cast<uint8_t>(v > 255 ? 255 : v);
      }
    }
  }
}

static bool LoadImageFolderUnguarded(const std::string& dir,
                                     const ImageFolderOptions& options,
                                     Dataset* out, std::string* error) {
  if (options.channels != 0 && options.channels != 1 && options.channels != 3) {
    *error = dir + ": images must have 1 or 3 channels, not " +
             std::to_string(options.channels);
    return false;
  }
  if (options.height < 0 || options.width < 0 ||
      (options.height == 0) != (options.width == 0) ||
      int64_t{options.height} * options.width > kMaxImagePixels) {
    *error = dir + ": invalid target size " + std::to_string(options.height) +
             "x" + std::to_string(options.width);
    return false;
  }
  if (options.resize != ResizeMode::kNone && options.height == 0) {
    *error = dir + ": resizing needs a target size (HxWxC)";
    return false;
  }

  std::vector<std::string> classes;
  if (!ListDir(dir, /*want_dirs=*/true, &classes, error)) return false;
  if (classes.empty()) {
    *error = dir + ": no class folders (expected " + Join(dir, "") +
             "<class name>/<image>.png, .jpg, .jpeg or .bmp)";
    return false;
  }
  if (classes.size() == 1) {
    *error = dir + ": only one class folder ('" + classes[0] +
             "'); classification needs at least two";
    return false;
  }
  // All file names first: an empty class is reported before any decoding.
  std::vector<std::vector<std::string>> files(classes.size());
  size_t total = 0;
  for (size_t c = 0; c < classes.size(); ++c) {
    const std::string class_dir = Join(dir, classes[c]);
    std::vector<std::string> names;
    if (!ListDir(class_dir, /*want_dirs=*/false, &names, error)) return false;
    for (std::string& name : names) {
      if (IsImageName(name)) files[c].push_back(std::move(name));
    }
    if (files[c].empty()) {
      *error = class_dir + ": class folder '" + classes[c] +
               "' has no .png, .jpg, .jpeg or .bmp files";
      return false;
    }
    total += files[c].size();
  }

  Dataset result;
  size_t slash_end = dir.size();
  while (slash_end > 1 && dir[slash_end - 1] == '/') --slash_end;
  const std::string trimmed = dir.substr(0, slash_end);
  const size_t slash = trimmed.find_last_of('/');
  result.name =
      slash == std::string::npos ? trimmed : trimmed.substr(slash + 1);
  result.task = Task::kClassification;
  result.feature_type = FeatureType::kUint8;
  result.class_names = classes;
  int32_t height = options.height;
  int32_t width = options.width;
  int32_t channels = options.channels;

  std::vector<uint8_t> bytes;
  std::vector<uint8_t> pixels;
  for (size_t c = 0; c < classes.size(); ++c) {
    for (const std::string& name : files[c]) {
      const std::string path = Join(Join(dir, classes[c]), name);
      Image image;
      if (!ReadFileBytes(path, kMaxImageFileBytes, &bytes, error) ||
          !ProbeImage(path, bytes, &image, error)) {
        return false;
      }
      if (channels == 0) channels = image.file_channels <= 2 ? 1 : 3;
      if (height == 0) {
        height = image.height;
        width = image.width;
      }
      if (result.item_shape.empty()) {
        result.item_shape = {height, width, channels};
        result.u8.reserve(total * static_cast<size_t>(height) *
                          static_cast<size_t>(width) *
                          static_cast<size_t>(channels));
      }
      const bool same_size = image.height == height && image.width == width;
      if (!same_size && options.resize == ResizeMode::kNone) {
        *error = path + ": image is " + std::to_string(image.height) + "x" +
                 std::to_string(image.width) + " (HxW) but the dataset's are " +
                 std::to_string(height) + "x" + std::to_string(width) +
                 " (resize them, or ask for resize=nearest or "
                 "resize=bilinear)";
        return false;
      }
      if (!DecodeImage(path, bytes, channels, image, &pixels, error)) {
        return false;
      }
      const size_t at = result.u8.size();
      result.u8.resize(at + static_cast<size_t>(height) *
                                static_cast<size_t>(width) *
                                static_cast<size_t>(channels));
      ResizeImage(pixels.data(), image.height, image.width, channels,
                  result.u8.data() + at, height, width, options.resize);
      result.labels.push_back(static_cast<int32_t>(c));
      result.origins.push_back(path);
    }
  }
  result.source_splits.assign(result.origins.size(), Split::kNone);
  *out = std::move(result);
  return true;
}

bool LoadImageFolder(const std::string& dir, const ImageFolderOptions& options,
                     Dataset* out, std::string* error) {
  *out = Dataset();
  if (CatchErrors(dir, error, [&] {
        return LoadImageFolderUnguarded(dir, options, out, error);
      })) {
    return true;
  }
  *out = Dataset();
  return false;
}

}  // namespace data
}  // namespace kiln
