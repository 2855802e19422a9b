#include "toolchain/data/digits.h"

#include <stdint.h>

#include <string_view>
#include <utility>
#include <vector>

#include "toolchain/data/catch_errors.h"
#include "toolchain/data/csv_reader.h"
#include "toolchain/data/gzip_file.h"

#ifndef KILN_SOURCE_DIR
#error "KILN_SOURCE_DIR must be defined (toolchain/CMakeLists.txt)"
#endif

namespace kiln {
namespace data {
namespace {

constexpr int kSide = 8;
constexpr int kPixels = kSide * kSide;
constexpr int kClasses = 10;
// The real file is 57 KB compressed, 270 KB of text.
constexpr uint64_t kMaxDigitsBytes = uint64_t{64} << 20;

}  // namespace

std::string DefaultDigitsPath() {
  return std::string(KILN_SOURCE_DIR) +
         "/toolchain/data/vendor/digits/digits.csv.gz";
}

static bool LoadDigitsUnguarded(const std::string& path, Dataset* out,
                                std::string* error) {
  std::vector<uint8_t> bytes;
  if (!ReadFileMaybeGzip(path, kMaxDigitsBytes, &bytes, error)) return false;
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()),
                              bytes.size());
  CsvTokenizer tokenizer(path, text);

  Dataset result;
  result.name = "digits";
  result.task = Task::kClassification;
  result.feature_type = FeatureType::kUint8;
  result.item_shape = {kSide, kSide, 1};
  for (int i = 0; i < kClasses; ++i) {
    result.class_names.push_back(std::to_string(i));
  }
  std::vector<std::string> fields;
  int64_t line = 0;
  std::string why;
  for (;;) {
    const CsvTokenizer::Status status = tokenizer.Next(&fields, &line, error);
    if (status == CsvTokenizer::Status::kError) return false;
    if (status == CsvTokenizer::Status::kEnd) break;
    const std::string where = path + ":" + std::to_string(line);
    if (fields.size() != kPixels + 1) {
      *error = where + ": expected " + std::to_string(kPixels + 1) +
               " fields (64 pixels and the digit), found " +
               std::to_string(fields.size());
      return false;
    }
    for (int i = 0; i < kPixels; ++i) {
      int64_t value = 0;
      if (!ParseCsvInt(fields[static_cast<size_t>(i)], 0, kDigitsPixelScale,
                       &value, &why)) {
        *error = where + ": pixel " + std::to_string(i) + " " + why;
        return false;
      }
      result.u8.push_back(static_cast<uint8_t>(value));
    }
    int64_t digit = 0;
    if (!ParseCsvInt(fields[kPixels], 0, kClasses - 1, &digit, &why)) {
      *error = where + ": the label " + why;
      return false;
    }
    result.labels.push_back(static_cast<int32_t>(digit));
    result.origins.push_back(where);
  }
  if (result.origins.empty()) {
    *error = path + ": no rows";
    return false;
  }
  result.source_splits.assign(result.origins.size(), Split::kNone);
  *out = std::move(result);
  return true;
}

bool LoadDigits(const std::string& path, Dataset* out, std::string* error) {
  *out = Dataset();
  if (CatchErrors(path, error,
                  [&] { return LoadDigitsUnguarded(path, out, error); })) {
    return true;
  }
  *out = Dataset();
  return false;
}

}  // namespace data
}  // namespace kiln
