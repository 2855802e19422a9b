#include "toolchain/data/sources.h"

#include <stdint.h>

#include <algorithm>
#include <charconv>
#include <system_error>
#include <utility>
#include <vector>

#include "toolchain/data/catch_errors.h"
#include "toolchain/data/csv_reader.h"
#include "toolchain/data/digits.h"
#include "toolchain/data/idx_reader.h"
#include "toolchain/data/image_folder.h"

namespace kiln {
namespace data {
namespace {

bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// A positive int32 spelled in decimal digits only.
bool ParsePositive(const std::string& text, int32_t* value) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  const std::from_chars_result r =
      std::from_chars(text.data(), text.data() + text.size(), *value);
  return r.ec == std::errc() && r.ptr == text.data() + text.size() &&
         *value > 0;
}

// "HxWxC" -> options; false if `text` is not of that form.
bool ParseSize(const std::string& text, ImageFolderOptions* options) {
  const size_t x1 = text.find('x');
  if (x1 == std::string::npos) return false;
  const size_t x2 = text.find('x', x1 + 1);
  if (x2 == std::string::npos) return false;
  int32_t h = 0, w = 0, c = 0;
  if (!ParsePositive(text.substr(0, x1), &h) ||
      !ParsePositive(text.substr(x1 + 1, x2 - x1 - 1), &w) ||
      !ParsePositive(text.substr(x2 + 1), &c)) {
    return false;
  }
  options->height = h;
  options->width = w;
  options->channels = c;
  return true;
}

bool SpecError(const std::string& spec, const std::string& what,
               std::string* error) {
  *error = "dataset '" + spec + "': " + what + "; the accepted forms are:\n" +
           DatasetSpecHelp();
  return false;
}

bool OpenImages(const std::string& spec, std::string rest, Dataset* out,
                std::string* error) {
  ImageFolderOptions options;
  bool have_size = false, have_resize = false;
  for (;;) {
    const size_t colon = rest.find_last_of(':');
    if (colon == std::string::npos) break;
    const std::string last = rest.substr(colon + 1);
    if (!have_resize && StartsWith(last, "resize=")) {
      const std::string mode = last.substr(7);
      if (mode == "nearest") {
        options.resize = ResizeMode::kNearest;
      } else if (mode == "bilinear") {
        options.resize = ResizeMode::kBilinear;
      } else {
        return SpecError(
            spec, "resize must be 'nearest' or 'bilinear', not '" + mode + "'",
            error);
      }
      have_resize = true;
    } else if (!have_size && ParseSize(last, &options)) {
      have_size = true;
    } else {
      break;
    }
    rest.resize(colon);
  }
  if (rest.empty()) return SpecError(spec, "no folder given", error);
  if (have_resize && !have_size) {
    return SpecError(spec, "resize needs a size (images:DIR:HxWxC:resize=...)",
                     error);
  }
  return LoadImageFolder(rest, options, out, error);
}

bool OpenCsv(const std::string& spec, const std::string& rest, Dataset* out,
             std::string* error) {
  const size_t label = rest.rfind(":label=");
  const size_t target = rest.rfind(":target=");
  CsvOptions options;
  std::string path;
  if (label != std::string::npos &&
      (target == std::string::npos || label > target)) {
    path = rest.substr(0, label);
    options.label_column = rest.substr(label + 7);
    if (options.label_column.empty()) {
      return SpecError(spec, "empty label column name", error);
    }
  } else if (target != std::string::npos) {
    path = rest.substr(0, target);
    const std::string list = rest.substr(target + 8);
    size_t start = 0;
    for (;;) {
      const size_t comma = list.find(',', start);
      const std::string name =
          list.substr(start, comma == std::string::npos ? std::string::npos
                                                        : comma - start);
      if (name.empty()) {
        return SpecError(spec, "empty target column name", error);
      }
      options.target_columns.push_back(name);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else {
    return SpecError(
        spec, "a csv dataset needs :label=COLUMN or :target=COLUMN[,COLUMN]",
        error);
  }
  if (path.empty()) return SpecError(spec, "no file given", error);
  return LoadCsv(path, options, out, error);
}

bool Dispatch(const std::string& spec, Dataset* out, std::string* error) {
  if (spec == "fashion-mnist") {
    return LoadFashionMnist(DefaultFashionMnistDir(), out, error);
  }
  if (StartsWith(spec, "fashion-mnist:")) {
    const std::string dir = spec.substr(14);
    if (dir.empty()) return SpecError(spec, "no folder given", error);
    return LoadFashionMnist(dir, out, error);
  }
  if (spec == "digits") return LoadDigits(DefaultDigitsPath(), out, error);
  if (StartsWith(spec, "digits:")) {
    const std::string path = spec.substr(7);
    if (path.empty()) return SpecError(spec, "no file given", error);
    return LoadDigits(path, out, error);
  }
  if (StartsWith(spec, "images:")) {
    return OpenImages(spec, spec.substr(7), out, error);
  }
  if (StartsWith(spec, "csv:"))
    return OpenCsv(spec, spec.substr(4), out, error);
  return SpecError(spec, "unknown kind of dataset", error);
}

std::string ShapeText(const std::vector<int32_t>& shape) {
  std::string text;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += "x";
    text += std::to_string(shape[i]);
  }
  return text.empty() ? "(scalar)" : text;
}

}  // namespace

std::string DatasetSpecHelp() {
  return "  fashion-mnist[:DIR]          Fashion-MNIST IDX files (default "
         "DIR " +
         DefaultFashionMnistDir() +
         ")\n"
         "  digits[:PATH]                scikit-learn digits CSV (default: the "
         "vendored copy)\n"
         "  images:DIR[:HxWxC][:resize=nearest|bilinear]\n"
         "                               DIR/<class>/*.png|jpg|jpeg|bmp\n"
         "  csv:PATH:label=COLUMN        tabular classification\n"
         "  csv:PATH:target=COLUMN[,COLUMN...]\n"
         "                               tabular regression\n";
}

bool OpenDataset(const std::string& spec, Dataset* out, std::string* error) {
  if (!CatchErrors("dataset '" + spec + "'", error,
                   [&] { return Dispatch(spec, out, error); })) {
    *out = Dataset();
    return false;
  }
  if (!CheckDataset(*out, error)) {
    *error = "dataset '" + spec + "': internal error: " + *error;
    *out = Dataset();
    return false;
  }
  return true;
}

bool CheckDataset(const Dataset& d, std::string* error) {
  const size_t n = d.size();
  auto fail = [&](const std::string& what) {
    *error = d.name + ": " + what;
    return false;
  };
  if (d.item_shape.empty()) return fail("no item shape");
  for (int32_t dim : d.item_shape) {
    if (dim <= 0) return fail("item shape " + ShapeText(d.item_shape));
  }
  const size_t elements = n * d.item_elements();
  if (d.feature_type == FeatureType::kUint8) {
    if (d.u8.size() != elements || !d.f32.empty()) {
      return fail("uint8 feature count does not match the samples");
    }
  } else if (d.f32.size() != elements || !d.u8.empty()) {
    return fail("float32 feature count does not match the samples");
  }
  if (d.source_splits.size() != n) return fail("source split count");
  if (d.task == Task::kClassification) {
    if (d.labels.size() != n) return fail("label count");
    if (d.class_names.empty()) return fail("no class names");
    for (size_t i = 0; i < n; ++i) {
      if (d.labels[i] < 0 ||
          static_cast<size_t>(d.labels[i]) >= d.class_names.size()) {
        return fail(d.origins[i] + ": label " + std::to_string(d.labels[i]) +
                    " out of range");
      }
    }
  } else {
    if (d.target_dim <= 0) return fail("no target dimension");
    if (d.targets.size() != n * static_cast<size_t>(d.target_dim)) {
      return fail("target count");
    }
  }
  return true;
}

std::string DescribeDataset(const Dataset& d) {
  std::string text =
      d.name + ": " + std::to_string(d.size()) + " samples, " +
      (d.task == Task::kClassification ? "classification" : "regression") +
      "\n";
  text += "  item: " + ShapeText(d.item_shape) + " " +
          (d.feature_type == FeatureType::kUint8 ? "uint8" : "float32") + " (" +
          std::to_string(d.item_elements()) + " values)\n";
  // Source splits, in the order none, train, valid, test; only those used.
  size_t split_counts[4] = {0, 0, 0, 0};
  for (Split s : d.source_splits) {
    const int index = static_cast<int>(s) + 1;
    if (index >= 0 && index < 4) split_counts[index] += 1;
  }
  text += "  source splits:";
  bool first = true;
  for (int i = 0; i < 4; ++i) {
    if (split_counts[i] == 0) continue;
    text += std::string(first ? " " : ", ") +
            SplitName(static_cast<Split>(i - 1)) + " " +
            std::to_string(split_counts[i]);
    first = false;
  }
  text += first ? " (none)\n" : "\n";
  if (d.task == Task::kRegression) {
    text += "  targets: " + std::to_string(d.target_dim) + " per sample\n";
    return text;
  }
  std::vector<size_t> counts(d.class_names.size(), 0);
  for (int32_t label : d.labels) {
    if (label >= 0 && static_cast<size_t>(label) < counts.size()) {
      ++counts[static_cast<size_t>(label)];
    }
  }
  text += "  classes: " + std::to_string(d.class_names.size()) + "\n";
  constexpr size_t kMaxListed = 100;
  size_t width = 0;
  for (size_t i = 0; i < d.class_names.size() && i < kMaxListed; ++i) {
    width = std::max(width, d.class_names[i].size());
  }
  for (size_t i = 0; i < d.class_names.size() && i < kMaxListed; ++i) {
    std::string id = std::to_string(i);
    std::string name = d.class_names[i];
    text += "    " + std::string(id.size() < 3 ? 3 - id.size() : 0, ' ') + id +
            "  " + name + std::string(width - name.size(), ' ') + "  " +
            std::to_string(counts[i]) + "\n";
  }
  if (d.class_names.size() > kMaxListed) {
    text += "    ... and " + std::to_string(d.class_names.size() - kMaxListed) +
            " more\n";
  }
  return text;
}

}  // namespace data
}  // namespace kiln
