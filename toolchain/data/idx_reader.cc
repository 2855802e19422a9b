#include "toolchain/data/idx_reader.h"

#include <stdio.h>
#include <sys/stat.h>

#include <algorithm>
#include <utility>

#include "toolchain/data/catch_errors.h"
#include "toolchain/data/gzip_file.h"

namespace kiln {
namespace data {
namespace {

constexpr uint8_t kTypeUnsignedByte = 0x08;
// How far past the declared size the reader counts trailing bytes.
constexpr uint64_t kMaxTrailingCount = uint64_t{1} << 30;

std::string Hex32(uint32_t value) {
  char text[16];
  snprintf(text, sizeof(text), "0x%08x", value);
  return text;
}

uint32_t BigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

const char* RankNoun(int rank) {
  return rank == 1 ? "labels" : rank == 3 ? "images" : "items";
}

// "60000 images of 28x28", "60000 labels", "5 items of 2x3x4".
std::string DescribeDeclared(const std::vector<uint32_t>& dims) {
  std::string text =
      std::to_string(dims[0]) + " " + RankNoun(static_cast<int>(dims.size()));
  for (size_t i = 1; i < dims.size(); ++i) {
    text += (i == 1 ? " of " : "x") + std::to_string(dims[i]);
  }
  return text;
}

// What the file really holds, in the same terms.
std::string DescribeHeld(uint64_t bytes, uint64_t item_size, int rank) {
  std::string text = std::to_string(bytes / item_size);
  const uint64_t partial = bytes % item_size;
  if (partial != 0) {
    text += " " + std::string(RankNoun(rank)) + " and " +
            std::to_string(partial) + " bytes of another";
  }
  return text;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

static bool ReadIdxUnguarded(const std::string& path, int rank,
                             std::vector<uint32_t>* dims,
                             std::vector<uint8_t>* data, std::string* error) {
  dims->clear();
  if (rank < 1 || rank > 255) {
    *error = path + ": invalid IDX rank " + std::to_string(rank);
    return false;
  }
  GzipFile file;
  if (!file.Open(path, error)) return false;

  uint8_t header[4];
  size_t got = 0;
  if (!file.Read(header, sizeof(header), &got, error)) return false;
  if (got < sizeof(header)) {
    *error = path + ": too short for an IDX header (" + std::to_string(got) +
             " bytes)";
    return false;
  }
  const uint32_t magic = BigEndian32(header);
  const uint32_t expected_magic =
      (uint32_t{kTypeUnsignedByte} << 8) | static_cast<uint32_t>(rank);
  const std::string expected_text =
      "expected " + Hex32(expected_magic) + ", an unsigned-byte IDX file of " +
      std::to_string(rank) + " dimension" + (rank == 1 ? "" : "s");
  if (header[0] != 0 || header[1] != 0) {
    *error = path + ": not an IDX file: bad magic " + Hex32(magic) + " (" +
             expected_text + ")";
    return false;
  }
  if (header[2] != kTypeUnsignedByte) {
    *error = path + ": IDX element type 0x" + Hex32(header[2]).substr(8) +
             " is not supported (magic " + Hex32(magic) + "; " + expected_text +
             ")";
    return false;
  }
  if (header[3] != rank) {
    *error = path + ": the IDX file has " + std::to_string(header[3]) +
             " dimensions (magic " + Hex32(magic) + "; " + expected_text + ")";
    return false;
  }

  std::vector<uint8_t> dim_bytes(static_cast<size_t>(rank) * 4);
  if (!file.Read(dim_bytes.data(), dim_bytes.size(), &got, error)) {
    return false;
  }
  if (got < dim_bytes.size()) {
    *error = path + ": the IDX header is truncated (" +
             std::to_string(4 + got) + " of " +
             std::to_string(4 + dim_bytes.size()) + " bytes)";
    return false;
  }
  std::vector<uint32_t> d(static_cast<size_t>(rank));
  for (int i = 0; i < rank; ++i) {
    d[i] = BigEndian32(&dim_bytes[static_cast<size_t>(i) * 4]);
  }
  uint64_t item_size = 1;
  bool too_large = false;
  for (int i = 1; i < rank; ++i) {
    if (d[i] == 0) {
      *error = path + ": header says " + DescribeDeclared(d) + ": dimension " +
               std::to_string(i) + " is zero";
      return false;
    }
    // Each factor is < 2^32 and item_size stays <= 2^32: no overflow.
    item_size *= d[i];
    if (item_size > kMaxIdxBytes) {
      too_large = true;
      item_size = kMaxIdxBytes + 1;
    }
  }
  const uint64_t count = d[0];
  if (too_large || (count != 0 && item_size > kMaxIdxBytes / count)) {
    *error = path + ": header says " + DescribeDeclared(d) +
             ", more than the " + FormatByteCount(kMaxIdxBytes) +
             " limit (corrupt header?)";
    return false;
  }
  const uint64_t declared = count * item_size;

  // Grow only as far as the file can actually deliver.
  const size_t old_size = data->size();
  // A plain file cannot hold more than its size; a gzip stream at most
  // about 1032 times its size, but reserving that much on the word of a
  // corrupt header is not wise: reserve at most 64 MiB (Fashion-MNIST's
  // training images are 45 MiB) and let the vector grow past it.
  constexpr uint64_t kMaxGzipReserve = uint64_t{64} << 20;
  uint64_t plausible = std::min(declared, file.max_content_size());
  if (file.compressed()) plausible = std::min(plausible, kMaxGzipReserve);
  data->reserve(old_size + static_cast<size_t>(plausible));
  constexpr uint64_t kChunk = uint64_t{1} << 20;
  constexpr uint64_t kMinChunk = uint64_t{64} << 10;
  uint64_t read = 0;
  while (read < declared) {
    const uint64_t expected_rest =
        std::max(plausible > read ? plausible - read : 0, kMinChunk);
    const size_t chunk =
        static_cast<size_t>(std::min({kChunk, declared - read, expected_rest}));
    const size_t at = data->size();
    data->resize(at + chunk);
    if (!file.Read(data->data() + at, chunk, &got, error)) {
      data->resize(old_size);
      return false;
    }
    data->resize(at + got);
    read += got;
    if (got < chunk) break;
  }
  if (read < declared) {
    *error = path + ": header says " + DescribeDeclared(d) +
             " but the file holds " + DescribeHeld(read, item_size, rank);
    data->resize(old_size);
    data->shrink_to_fit();
    return false;
  }
  uint64_t extra = 0;
  if (!file.SkipRest(kMaxTrailingCount, &extra, error)) {
    data->resize(old_size);
    return false;
  }
  if (extra != 0) {
    std::string held = extra > kMaxTrailingCount
                           ? "more than " + FormatByteCount(kMaxTrailingCount) +
                                 " more than that"
                           : DescribeHeld(declared + extra, item_size, rank);
    *error = path + ": header says " + DescribeDeclared(d) +
             " but the file holds " + held;
    data->resize(old_size);
    return false;
  }
  *dims = std::move(d);
  return true;
}

bool ReadIdxUint8(const std::string& path, int rank,
                  std::vector<uint32_t>* dims, std::vector<uint8_t>* data,
                  std::string* error) {
  const size_t old_size = data->size();
  if (CatchErrors(path, error, [&] {
        return ReadIdxUnguarded(path, rank, dims, data, error);
      })) {
    return true;
  }
  dims->clear();
  data->resize(old_size);
  return false;
}

static bool AppendIdxPairUnguarded(const std::string& images_path,
                                   const std::string& labels_path, Split split,
                                   Dataset* out, std::string* error) {
  if (out->size() == 0) {
    out->u8.clear();
    out->f32.clear();
    out->labels.clear();
    out->origins.clear();
    out->source_splits.clear();
    out->feature_type = FeatureType::kUint8;
    out->task = Task::kClassification;
  } else if (out->feature_type != FeatureType::kUint8 ||
             out->task != Task::kClassification ||
             out->item_shape.size() != 3) {
    *error = images_path + ": cannot append IDX images to dataset '" +
             out->name + "' (not a uint8 image classification dataset)";
    return false;
  }
  if (out->class_names.empty()) {
    *error = labels_path + ": no class names given";
    return false;
  }

  std::vector<uint32_t> image_dims;
  const size_t old_pixels = out->u8.size();
  if (!ReadIdxUint8(images_path, 3, &image_dims, &out->u8, error)) {
    return false;
  }
  const int32_t rows = static_cast<int32_t>(image_dims[1]);
  const int32_t cols = static_cast<int32_t>(image_dims[2]);
  if (image_dims[1] > INT32_MAX || image_dims[2] > INT32_MAX) {
    out->u8.resize(old_pixels);
    *error = images_path + ": image size " + std::to_string(image_dims[1]) +
             "x" + std::to_string(image_dims[2]) + " is too large";
    return false;
  }
  if (out->size() != 0 &&
      (out->item_shape[0] != rows || out->item_shape[1] != cols ||
       out->item_shape[2] != 1)) {
    out->u8.resize(old_pixels);
    *error = images_path + ": images are " + std::to_string(rows) + "x" +
             std::to_string(cols) + " but the dataset's are " +
             std::to_string(out->item_shape[0]) + "x" +
             std::to_string(out->item_shape[1]) + "x" +
             std::to_string(out->item_shape[2]);
    return false;
  }

  std::vector<uint32_t> label_dims;
  std::vector<uint8_t> labels;
  if (!ReadIdxUint8(labels_path, 1, &label_dims, &labels, error)) {
    out->u8.resize(old_pixels);
    return false;
  }
  if (label_dims[0] != image_dims[0]) {
    out->u8.resize(old_pixels);
    *error = images_path + " holds " + std::to_string(image_dims[0]) +
             " images but " + labels_path + " holds " +
             std::to_string(label_dims[0]) + " labels";
    return false;
  }
  const size_t num_classes = out->class_names.size();
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= num_classes) {
      out->u8.resize(old_pixels);
      *error = labels_path + "#" + std::to_string(i) + ": label " +
               std::to_string(labels[i]) + " is out of range (" +
               std::to_string(num_classes) + " classes, 0 to " +
               std::to_string(num_classes - 1) + ")";
      return false;
    }
  }

  if (out->size() == 0) out->item_shape = {rows, cols, 1};
  out->labels.reserve(out->labels.size() + labels.size());
  out->origins.reserve(out->origins.size() + labels.size());
  out->source_splits.reserve(out->source_splits.size() + labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    out->labels.push_back(labels[i]);
    out->origins.push_back(images_path + "#" + std::to_string(i));
    out->source_splits.push_back(split);
  }
  return true;
}

bool AppendIdxPair(const std::string& images_path,
                   const std::string& labels_path, Split split, Dataset* out,
                   std::string* error) {
  // On failure *out is put back as it was (apart from spare capacity).
  const size_t samples = out->size();
  const size_t pixels = out->u8.size();
  const std::vector<int32_t> shape = out->item_shape;
  const bool ok = CatchErrors(images_path, error, [&] {
    return AppendIdxPairUnguarded(images_path, labels_path, split, out, error);
  });
  if (!ok && out->size() >= samples) {
    out->u8.resize(std::min(out->u8.size(), pixels));
    out->labels.resize(std::min(out->labels.size(), samples));
    out->origins.resize(samples);
    out->source_splits.resize(std::min(out->source_splits.size(), samples));
    out->item_shape = shape;
  }
  return ok;
}

static bool LoadIdxPairUnguarded(const std::string& images_path,
                                 const std::string& labels_path,
                                 const std::vector<std::string>& class_names,
                                 Dataset* out, std::string* error) {
  Dataset result;
  const size_t slash = images_path.find_last_of('/');
  result.name =
      slash == std::string::npos ? images_path : images_path.substr(slash + 1);
  if (!class_names.empty()) {
    result.class_names = class_names;
  } else {
    // Every byte value is a provisional class; trimmed below.
    for (int i = 0; i < 256; ++i)
      result.class_names.push_back(std::to_string(i));
  }
  if (!AppendIdxPair(images_path, labels_path, Split::kNone, &result, error)) {
    *out = Dataset();
    return false;
  }
  if (result.size() == 0) {
    *error = images_path + ": holds no images";
    *out = Dataset();
    return false;
  }
  if (class_names.empty()) {
    const int32_t largest =
        *std::max_element(result.labels.begin(), result.labels.end());
    if (largest < 1) {
      *error = labels_path + ": every label is " + std::to_string(largest) +
               ": a classification dataset needs at least two classes";
      *out = Dataset();
      return false;
    }
    result.class_names.resize(static_cast<size_t>(largest) + 1);
  }
  *out = std::move(result);
  return true;
}

std::string DefaultFashionMnistDir() {
  return "/usr/share/datasets/fashion-mnist";
}

const std::vector<std::string>& FashionMnistClassNames() {
  static const std::vector<std::string> kNames = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return kNames;
}

bool LoadIdxPair(const std::string& images_path, const std::string& labels_path,
                 const std::vector<std::string>& class_names, Dataset* out,
                 std::string* error) {
  *out = Dataset();
  if (CatchErrors(images_path, error, [&] {
        return LoadIdxPairUnguarded(images_path, labels_path, class_names, out,
                                    error);
      })) {
    return true;
  }
  *out = Dataset();
  return false;
}

static bool LoadFashionMnistUnguarded(const std::string& dir, Dataset* out,
                                      std::string* error) {
  const std::string base =
      dir.empty() ? std::string("./") : (dir.back() == '/' ? dir : dir + "/");
  struct stat st;
  if (stat(dir.empty() ? "." : dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    *error = dir + ": no such directory (Fashion-MNIST is installed by the " +
             "Debian package dataset-fashion-mnist in " +
             DefaultFashionMnistDir() + ")";
    return false;
  }
  auto find = [&](const std::string& name, std::string* path) {
    if (FileExists(base + name + ".gz")) {
      *path = base + name + ".gz";
    } else if (FileExists(base + name)) {
      *path = base + name;
    } else {
      *error = dir + ": has neither " + name + ".gz nor " + name;
      return false;
    }
    return true;
  };
  std::string train_images, train_labels, test_images, test_labels;
  if (!find("train-images-idx3-ubyte", &train_images) ||
      !find("train-labels-idx1-ubyte", &train_labels) ||
      !find("t10k-images-idx3-ubyte", &test_images) ||
      !find("t10k-labels-idx1-ubyte", &test_labels)) {
    return false;
  }

  Dataset result;
  result.name = "fashion-mnist";
  result.class_names = FashionMnistClassNames();
  if (!AppendIdxPair(train_images, train_labels, Split::kNone, &result,
                     error) ||
      !AppendIdxPair(test_images, test_labels, Split::kTest, &result, error)) {
    return false;
  }
  if (result.item_shape != std::vector<int32_t>{28, 28, 1}) {
    *error = train_images + ": Fashion-MNIST images are 28x28, not " +
             std::to_string(result.item_shape[0]) + "x" +
             std::to_string(result.item_shape[1]);
    return false;
  }
  *out = std::move(result);
  return true;
}

bool LoadFashionMnist(const std::string& dir, Dataset* out,
                      std::string* error) {
  *out = Dataset();
  if (CatchErrors(dir, error,
                  [&] { return LoadFashionMnistUnguarded(dir, out, error); })) {
    return true;
  }
  *out = Dataset();
  return false;
}

}  // namespace data
}  // namespace kiln
