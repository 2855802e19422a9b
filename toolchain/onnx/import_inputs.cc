#include "toolchain/onnx/import_inputs.h"

#include <stb/stb_image.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include "kiln/kiln.h"
#include "toolchain/data/csv_reader.h"
#include "toolchain/data/idx_reader.h"
#include "toolchain/data/image_folder.h"
#include "toolchain/data/npy_reader.h"
#include "toolchain/onnx/graph_interpreter.h"

namespace kiln {
namespace onnx_import {
namespace {

namespace fs = std::filesystem;

bool HasSuffix(const std::string& s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  std::string tail = s.substr(s.size() - suffix.size());
  std::transform(tail.begin(), tail.end(), tail.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return tail == suffix;
}

bool IsImageFile(const std::string& path) {
  for (const char* ext : {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm"}) {
    if (HasSuffix(path, ext)) return true;
  }
  return false;
}

// The runtime's view of a preprocessing spec writing the graph's FLOAT32
// input (the importer calibrates on real values, before any quantization).
kiln_preprocess_spec RuntimeSpec(const PreprocessDef& p,
                                 const std::vector<int32_t>& input_shape) {
  kiln_preprocess_spec spec{};
  spec.layout = int32_t(p.layout);
  spec.channel_order = int32_t(p.channel_order);
  spec.height = p.height;
  spec.width = p.width;
  spec.resize = int32_t(p.resize);
  spec.equalize = p.equalize ? 1 : 0;
  spec.gamma = p.gamma;
  spec.feature_norm = int32_t(p.feature_norm);
  spec.mean = p.mean.empty() ? nullptr : p.mean.data();
  spec.mean_count = int32_t(p.mean.size());
  spec.std = p.std.empty() ? nullptr : p.std.data();
  spec.std_count = int32_t(p.std.size());
  spec.input.name = "input";
  spec.input.dtype = KILN_FLOAT32;
  spec.input.rank =
      int32_t(std::min<size_t>(input_shape.size(), KILN_MAX_RANK));
  size_t elements = 1;
  for (int32_t i = 0; i < spec.input.rank; ++i) {
    spec.input.dims[i] = input_shape[i];
    elements *= size_t(std::max(input_shape[i], 0));
  }
  spec.input.item_bytes = elements * sizeof(float);
  return spec;
}

bool CheckSpec(const kiln_preprocess_spec& spec, std::string* error) {
  kiln_error err{};
  if (kiln_check_preprocess_spec(&spec, &err) != KILN_OK) {
    *error = std::string("preprocessing spec: ") + err.message;
    return false;
  }
  return true;
}

// Applies the feature preprocessing (if any) to every item in place.
bool PreprocessFeatures(const std::optional<PreprocessDef>& preprocess,
                        const ImportedGraph& g, ImportItems* items,
                        std::string* error) {
  if (!preprocess || preprocess->layout != Layout::kFlat) return true;
  const kiln_preprocess_spec spec =
      RuntimeSpec(*preprocess, g.values[g.input].shape);
  if (!CheckSpec(spec, error)) return false;
  std::vector<float> raw(items->item_elements);
  for (size_t i = 0; i < items->count; ++i) {
    float* item = items->values.data() + i * items->item_elements;
    std::copy(item, item + items->item_elements, raw.begin());
    const kiln_status s =
        kiln_preprocess_features_spec(&spec, raw.data(), raw.size(), item);
    if (s != KILN_OK) {
      *error = items->origins[i] + ": preprocessing: " + kiln_status_string(s);
      return false;
    }
  }
  return true;
}

bool LoadNpyItems(const std::string& path, const ImportedGraph& g, size_t skip,
                  size_t limit, ImportItems* out, std::string* error) {
  data::NpyArray array;
  if (!data::ReadNpy(path, &array, error)) return false;
  const std::vector<int32_t>& in = g.values[g.input].shape;
  const size_t per_item = size_t(ShapeElementCount(in));
  if (array.shape.empty() || array.shape[0] == 0) {
    *error = path + ": no items (shape [] or [0, ...])";
    return false;
  }
  const size_t n = size_t(array.shape[0]);
  size_t elements = 1;
  for (size_t d = 1; d < array.shape.size(); ++d)
    elements *= size_t(array.shape[d]);
  if (elements != per_item) {
    *error = path + ": items of " + std::to_string(elements) +
             " values, the model's input has " + std::to_string(per_item);
    return false;
  }
  // NCHW -> NHWC when the array is the ONNX model's [N, C, H, W]. An array
  // that is [N, H, W, C] instead is taken as is; when both readings fit
  // (C == H == W) the ONNX layout wins.
  bool transpose = false;
  if (g.input_was_nchw && in.size() == 3 && array.shape.size() == 4) {
    const int64_t h = in[0], w = in[1], c = in[2];
    const bool nchw = int64_t(array.shape[1]) == c &&
                      int64_t(array.shape[2]) == h &&
                      int64_t(array.shape[3]) == w;
    const bool nhwc = int64_t(array.shape[1]) == h &&
                      int64_t(array.shape[2]) == w &&
                      int64_t(array.shape[3]) == c;
    if (!nchw && !nhwc) {
      *error = path + ": image items must be [N, C, H, W] (or [N, H, W, C])";
      return false;
    }
    transpose = nchw;
  }
  const size_t first = std::min(skip, n);
  const size_t count = limit == 0 ? n - first : std::min(limit, n - first);
  out->item_elements = per_item;
  out->count = count;
  out->values.resize(count * per_item);
  for (size_t i = 0; i < count; ++i) {
    const float* src = array.values.data() + (first + i) * per_item;
    float* dst = out->values.data() + i * per_item;
    if (transpose) {
      const size_t h = size_t(in[0]), w = size_t(in[1]), c = size_t(in[2]);
      for (size_t ch = 0; ch < c; ++ch)
        for (size_t y = 0; y < h; ++y)
          for (size_t x = 0; x < w; ++x)
            dst[(y * w + x) * c + ch] = src[(ch * h + y) * w + x];
    } else {
      std::copy(src, src + per_item, dst);
    }
    out->origins.push_back(path + "[" + std::to_string(first + i) + "]");
  }
  return true;
}

bool LoadCsvItems(const std::string& path, const ImportedGraph& g, size_t skip,
                  size_t limit, ImportItems* out, std::string* error) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    *error = path + ": cannot open";
    return false;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  const size_t per_item = size_t(ShapeElementCount(g.values[g.input].shape));
  out->item_elements = per_item;
  data::CsvTokenizer csv(path, text);
  std::vector<std::string> fields;
  int64_t line = 0;
  size_t row = 0;
  bool first_record = true;
  for (;;) {
    const data::CsvTokenizer::Status s = csv.Next(&fields, &line, error);
    if (s == data::CsvTokenizer::Status::kError) return false;
    if (s == data::CsvTokenizer::Status::kEnd) break;
    std::vector<float> item(fields.size());
    bool numeric = true;
    std::string why;
    size_t bad = 0;
    for (size_t i = 0; i < fields.size() && numeric; ++i) {
      numeric = data::ParseCsvFloat(fields[i], &item[i], &why);
      bad = i;
    }
    if (!numeric && first_record) {  // a header
      first_record = false;
      continue;
    }
    first_record = false;
    if (!numeric) {
      *error = path + ":" + std::to_string(line) + ": field " +
               std::to_string(bad + 1) + ": " + why;
      return false;
    }
    if (item.size() != per_item) {
      *error = path + ":" + std::to_string(line) + ": " +
               std::to_string(item.size()) + " fields, the model takes " +
               std::to_string(per_item);
      return false;
    }
    if (row++ < skip) continue;
    if (limit != 0 && out->count == limit) break;
    out->values.insert(out->values.end(), item.begin(), item.end());
    out->origins.push_back(path + ":" + std::to_string(line));
    ++out->count;
  }
  if (out->count == 0) {
    *error = path + ": no rows";
    return false;
  }
  return true;
}

bool IsIdxImages(const std::string& path) {
  return HasSuffix(path, "idx3-ubyte") || HasSuffix(path, "idx3-ubyte.gz");
}

// IDX3 gray images (MNIST, Fashion-MNIST), preprocessed like image files.
bool LoadIdxItems(const std::string& path, const ImportedGraph& g,
                  const std::optional<PreprocessDef>& preprocess, size_t skip,
                  size_t limit, ImportItems* out, std::string* error) {
  if (!preprocess || preprocess->layout == Layout::kFlat) {
    *error = path + ": IDX images need a model whose input is an image";
    return false;
  }
  const kiln_preprocess_spec spec =
      RuntimeSpec(*preprocess, g.values[g.input].shape);
  if (!CheckSpec(spec, error)) return false;
  std::vector<uint32_t> dims;
  std::vector<uint8_t> pixels;
  if (!data::ReadIdxUint8(path, 3, &dims, &pixels, error)) return false;
  const size_t n = dims[0], h = dims[1], w = dims[2];
  const size_t per_item = size_t(ShapeElementCount(g.values[g.input].shape));
  const size_t first = std::min(skip, n);
  const size_t count = limit == 0 ? n - first : std::min(limit, n - first);
  out->item_elements = per_item;
  out->values.resize(count * per_item);
  for (size_t i = 0; i < count; ++i) {
    const kiln_status s = kiln_preprocess_image_spec(
        &spec, pixels.data() + (first + i) * h * w, int32_t(h), int32_t(w), 1,
        out->values.data() + i * per_item);
    if (s != KILN_OK) {
      *error = path + "[" + std::to_string(first + i) +
               "]: preprocessing: " + kiln_status_string(s);
      return false;
    }
    out->origins.push_back(path + "[" + std::to_string(first + i) + "]");
  }
  out->count = count;
  return true;
}

bool LoadImageItems(const std::string& dir, const ImportedGraph& g,
                    const std::optional<PreprocessDef>& preprocess, size_t skip,
                    size_t limit, ImportItems* out, std::string* error) {
  if (!preprocess || preprocess->layout == Layout::kFlat) {
    *error = dir +
             ": an image folder needs image preprocessing (--resize, "
             "--mean/--std, ...) for a model whose input is an image";
    return false;
  }
  const kiln_preprocess_spec spec =
      RuntimeSpec(*preprocess, g.values[g.input].shape);
  if (!CheckSpec(spec, error)) return false;
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_regular_file(ec) && IsImageFile(it->path().string()))
      files.push_back(it->path().string());
  }
  if (ec) {
    *error = dir + ": " + ec.message();
    return false;
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    *error = dir + ": no image files (.png .jpg .jpeg .bmp .pgm .ppm)";
    return false;
  }
  // Class sub-folders: the first path component below DIR.
  std::vector<std::string> classes;
  std::vector<std::string> file_class(files.size());
  bool all_in_folders = true;
  for (size_t i = 0; i < files.size(); ++i) {
    const fs::path rel = fs::relative(files[i], dir, ec);
    auto part = rel.begin();
    if (ec || rel.empty() || std::next(part) == rel.end()) {
      all_in_folders = false;
      continue;
    }
    file_class[i] = part->string();
    classes.push_back(file_class[i]);
  }
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  const size_t per_item = size_t(ShapeElementCount(g.values[g.input].shape));
  out->item_elements = per_item;
  const size_t first = std::min(skip, files.size());
  const size_t count =
      limit == 0 ? files.size() - first : std::min(limit, files.size() - first);
  out->values.resize(count * per_item);
  for (size_t i = 0; i < count; ++i) {
    const std::string& file = files[first + i];
    int w = 0, h = 0, c = 0;
    stbi_uc* pixels = stbi_load(file.c_str(), &w, &h, &c, 0);
    if (pixels == nullptr) {
      *error = file + ": cannot decode: " + stbi_failure_reason();
      return false;
    }
    const bool too_big = int64_t(w) * h > data::kMaxImagePixels;
    const kiln_status s =
        too_big ? KILN_ERR_INVALID_ARGUMENT
                : kiln_preprocess_image_spec(&spec, pixels, h, w, c,
                                             out->values.data() + i * per_item);
    stbi_image_free(pixels);
    if (s != KILN_OK) {
      *error = file + ": preprocessing (" + std::to_string(w) + "x" +
               std::to_string(h) + "x" + std::to_string(c) +
               "): " + kiln_status_string(s);
      return false;
    }
    out->origins.push_back(file);
    if (all_in_folders) {
      out->labels.push_back(
          int32_t(std::lower_bound(classes.begin(), classes.end(),
                                   file_class[first + i]) -
                  classes.begin()));
    }
  }
  out->count = count;
  if (all_in_folders) out->label_names = classes;
  return true;
}

}  // namespace

bool LoadImportItems(const std::string& path, const ImportedGraph& g,
                     const std::optional<PreprocessDef>& preprocess,
                     size_t skip, size_t limit, ImportItems* out,
                     std::string* error) {
  *out = ImportItems();
  if (g.input < 0 || size_t(g.input) >= g.values.size()) {
    *error = "the graph has no input";
    return false;
  }
  std::error_code ec;
  bool ok = false;
  if (fs::is_directory(path, ec)) {
    ok = LoadImageItems(path, g, preprocess, skip, limit, out, error);
  } else if (IsIdxImages(path)) {
    ok = LoadIdxItems(path, g, preprocess, skip, limit, out, error);
  } else if (HasSuffix(path, ".npy")) {
    ok = LoadNpyItems(path, g, skip, limit, out, error) &&
         PreprocessFeatures(preprocess, g, out, error);
  } else if (HasSuffix(path, ".csv")) {
    ok = LoadCsvItems(path, g, skip, limit, out, error) &&
         PreprocessFeatures(preprocess, g, out, error);
  } else {
    *error = path +
             ": not a .npy file, a .csv file, IDX images (*idx3-ubyte[.gz]) "
             "or a folder of images";
    return false;
  }
  if (!ok) return false;
  if (out->count == 0) {
    *error = path + ": no items left after skipping " + std::to_string(skip);
    return false;
  }
  return true;
}

}  // namespace onnx_import
}  // namespace kiln
