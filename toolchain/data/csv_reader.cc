#include "toolchain/data/csv_reader.h"

#include <float.h>
#include <math.h>
#include <stdio.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "toolchain/data/catch_errors.h"
#include "toolchain/data/gzip_file.h"

namespace kiln {
namespace data {
namespace {

// The largest CSV file accepted (its decompressed size).
constexpr uint64_t kMaxCsvBytes = uint64_t{2} << 30;

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsBlank(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsBlank(text.back())) text.remove_suffix(1);
  return text;
}

// 'text' for a message, shortened if long.
// 'text' for a message: shortened if long, control characters as \xNN.
std::string Quote(std::string_view text) {
  constexpr size_t kMax = 40;
  std::string quoted = "'";
  for (size_t i = 0; i < text.size() && i < kMax; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) {
      char hex[8];
      snprintf(hex, sizeof(hex), "\\x%02X", c);
      quoted += hex;
    } else {
      quoted += static_cast<char>(c);
    }
  }
  return quoted + (text.size() > kMax ? "...'" : "'");
}

std::string Where(const std::string& path, int64_t line) {
  return path + ":" + std::to_string(line);
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "a, b, c" (at most 12 names) for "no column 'y'" messages.
std::string ListColumns(const std::vector<std::string>& header) {
  constexpr size_t kMax = 12;
  std::string text;
  for (size_t i = 0; i < header.size() && i < kMax; ++i) {
    if (i > 0) text += ", ";
    text += "'" + header[i] + "'";
  }
  if (header.size() > kMax) {
    text += " and " + std::to_string(header.size() - kMax) + " more";
  }
  return text;
}

// Orders the distinct class values: numerically if all are integers,
// byte-wise otherwise. Returns them in class-id order.
std::vector<std::string> SortClasses(std::vector<std::string> values) {
  std::vector<std::pair<int64_t, std::string>> numeric;
  numeric.reserve(values.size());
  for (const std::string& v : values) {
    int64_t n = 0;
    std::string why;
    if (!ParseCsvInt(v, INT64_MIN, INT64_MAX, &n, &why)) {
      std::sort(values.begin(), values.end());
      return values;
    }
    numeric.emplace_back(n, v);
  }
  std::sort(numeric.begin(), numeric.end());
  for (size_t i = 0; i < numeric.size(); ++i) values[i] = numeric[i].second;
  return values;
}

}  // namespace

CsvTokenizer::CsvTokenizer(std::string name, std::string_view text)
    : name_(std::move(name)), text_(text) {
  if (text_.size() >= 3 && static_cast<unsigned char>(text_[0]) == 0xEF &&
      static_cast<unsigned char>(text_[1]) == 0xBB &&
      static_cast<unsigned char>(text_[2]) == 0xBF) {
    pos_ = 3;
  }
}

CsvTokenizer::Status CsvTokenizer::Next(std::vector<std::string>* fields,
                                        int64_t* line, std::string* error) {
  Status status = Status::kError;
  const bool ok = CatchErrors(name_, error, [&] {
    status = NextRecord(fields, line, error);
    return true;
  });
  if (!ok) pos_ = text_.size();
  return ok ? status : Status::kError;
}

CsvTokenizer::Status CsvTokenizer::NextRecord(std::vector<std::string>* fields,
                                              int64_t* line,
                                              std::string* error) {
  fields->clear();
  const size_t n = text_.size();
  // Skip blank lines (nothing but spaces, tabs and a CR).
  for (;;) {
    size_t p = pos_;
    while (p < n && (IsBlank(text_[p]) || text_[p] == '\r')) ++p;
    if (p >= n) {
      pos_ = n;
      return Status::kEnd;
    }
    if (text_[p] != '\n') break;
    pos_ = p + 1;
    ++line_;
  }
  *line = line_;
  std::string field;
  for (;;) {
    field.clear();
    size_t p = pos_;
    while (p < n && IsBlank(text_[p])) ++p;
    if (p < n && text_[p] == '"') {
      const int64_t open_line = line_;
      ++p;
      for (;;) {
        if (p >= n) {
          *error = Where(name_, open_line) +
                   ": unterminated quoted field (field " +
                   std::to_string(fields->size() + 1) +
                   "): the closing quote is missing";
          pos_ = n;
          return Status::kError;
        }
        const char c = text_[p];
        if (c == '"') {
          if (p + 1 < n && text_[p + 1] == '"') {
            field += '"';
            p += 2;
            continue;
          }
          ++p;
          break;
        }
        if (c == '\n') ++line_;
        field += c;
        ++p;
      }
      while (p < n && IsBlank(text_[p])) ++p;
      if (p < n && text_[p] == '\r' && (p + 1 == n || text_[p + 1] == '\n')) {
        ++p;
      }
      if (p < n && text_[p] != ',' && text_[p] != '\n') {
        *error = Where(name_, line_) + ": unexpected " +
                 Quote(std::string_view(&text_[p], 1)) +
                 " after the closing quote of field " +
                 std::to_string(fields->size() + 1) +
                 " (a quote inside a quoted field is written \"\")";
        pos_ = n;
        return Status::kError;
      }
    } else {
      const size_t start = p;
      while (p < n && text_[p] != ',' && text_[p] != '\n') ++p;
      size_t end = p;
      while (end > start &&
             (IsBlank(text_[end - 1]) || text_[end - 1] == '\r')) {
        --end;
      }
      field.assign(text_.data() + start, end - start);
    }
    fields->push_back(field);
    if (p >= n) {
      pos_ = n;
      return Status::kRecord;
    }
    if (text_[p] == ',') {
      pos_ = p + 1;
      continue;
    }
    pos_ = p + 1;  // '\n'
    ++line_;
    return Status::kRecord;
  }
}

namespace {

// The trimmed field without an optional leading '+' (std::from_chars takes
// a '-' but no '+'); false when that leaves nothing or another sign.
bool NumberText(std::string_view text, std::string_view* digits) {
  *digits = Trim(text);
  if (!digits->empty() && digits->front() == '+') {
    digits->remove_prefix(1);
    if (digits->empty() || digits->front() == '-' || digits->front() == '+') {
      return false;
    }
  }
  return true;
}

}  // namespace

bool ParseCsvFloat(std::string_view text, float* value, std::string* why) {
  text = Trim(text);
  if (text.empty()) {
    *why = "is empty";
    return false;
  }
  std::string_view digits;
  if (!NumberText(text, &digits)) {
    *why = "is not a number: " + Quote(text);
    return false;
  }
  double d = 0.0;
  const char* end = digits.data() + digits.size();
  const std::from_chars_result r = std::from_chars(digits.data(), end, d);
  if (r.ec == std::errc::result_out_of_range && r.ptr == end) {
    *why = "is out of range: " + Quote(text);
    return false;
  }
  if (r.ec != std::errc() || r.ptr != end) {
    *why = "is not a number: " + Quote(text);
    return false;
  }
  if (std::isnan(d)) {
    *why = "is NaN";
    return false;
  }
  if (std::isinf(d)) {
    *why = "is infinite";
    return false;
  }
  if (fabs(d) > static_cast<double>(FLT_MAX)) {
    *why = "is outside the float32 range: " + Quote(text);
    return false;
  }
  *value = static_cast<float>(d);
  return true;
}

bool ParseCsvInt(std::string_view text, int64_t min_value, int64_t max_value,
                 int64_t* value, std::string* why) {
  text = Trim(text);
  if (text.empty()) {
    *why = "is empty";
    return false;
  }
  std::string_view digits;
  if (!NumberText(text, &digits)) {
    *why = "is not an integer: " + Quote(text);
    return false;
  }
  int64_t v = 0;
  const char* end = digits.data() + digits.size();
  const std::from_chars_result r = std::from_chars(digits.data(), end, v);
  if (r.ec != std::errc() || r.ptr != end || v < min_value || v > max_value) {
    *why = (r.ec == std::errc() && r.ptr == end) ||
                   (r.ec == std::errc::result_out_of_range && r.ptr == end)
               ? "is " + Quote(text) + ", outside " +
                     std::to_string(min_value) + " to " +
                     std::to_string(max_value)
               : "is not an integer: " + Quote(text);
    return false;
  }
  *value = v;
  return true;
}

static bool LoadCsvUnguarded(const std::string& path, const CsvOptions& options,
                             Dataset* out, std::string* error) {
  const bool classification = !options.label_column.empty();
  if (classification == !options.target_columns.empty()) {
    *error = path +
             ": give either a label column (classification) or target "
             "columns (regression), not " +
             (classification ? "both" : "neither");
    return false;
  }
  std::vector<uint8_t> bytes;
  if (!ReadFileMaybeGzip(path, kMaxCsvBytes, &bytes, error)) return false;
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()),
                              bytes.size());
  CsvTokenizer tokenizer(path, text);
  std::vector<std::string> header;
  int64_t header_line = 0;
  CsvTokenizer::Status status = tokenizer.Next(&header, &header_line, error);
  if (status == CsvTokenizer::Status::kError) return false;
  if (status == CsvTokenizer::Status::kEnd) {
    *error = path + ": empty file (a header row is required)";
    return false;
  }
  const std::string header_where = Where(path, header_line);
  std::unordered_map<std::string, size_t> column_of;
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i].empty()) {
      *error = header_where + ": field " + std::to_string(i + 1) +
               " of the header is empty (every column needs a name)";
      return false;
    }
    const auto inserted = column_of.emplace(header[i], i);
    if (!inserted.second) {
      *error = header_where + ": column '" + header[i] +
               "' appears twice in the header (fields " +
               std::to_string(inserted.first->second + 1) + " and " +
               std::to_string(i + 1) + ")";
      return false;
    }
  }

  // Which column plays which part.
  enum Role : uint8_t { kFeature, kLabel, kTarget };
  std::vector<Role> role(header.size(), kFeature);
  auto find_column = [&](const std::string& name, Role r, size_t* index) {
    const auto it = column_of.find(name);
    if (it == column_of.end()) {
      *error = header_where + ": no column '" + name +
               "' in the header (the columns are " + ListColumns(header) + ")";
      return false;
    }
    if (role[it->second] != kFeature) {
      *error = path + ": column '" + name + "' is named twice as a target";
      return false;
    }
    role[it->second] = r;
    *index = it->second;
    return true;
  };
  size_t label_index = 0;
  std::vector<size_t> target_indices;
  if (classification) {
    if (!find_column(options.label_column, kLabel, &label_index)) return false;
  } else {
    for (const std::string& name : options.target_columns) {
      size_t index = 0;
      if (!find_column(name, kTarget, &index)) return false;
      target_indices.push_back(index);
    }
  }
  std::vector<size_t> feature_indices;
  for (size_t i = 0; i < header.size(); ++i) {
    if (role[i] == kFeature) feature_indices.push_back(i);
  }
  if (feature_indices.empty()) {
    *error = header_where +
             ": no feature columns (every column is a label or a target)";
    return false;
  }

  Dataset result;
  result.name = BaseName(path);
  result.task = classification ? Task::kClassification : Task::kRegression;
  result.feature_type = FeatureType::kFloat32;
  result.item_shape = {static_cast<int32_t>(feature_indices.size())};
  result.target_dim =
      classification ? 0 : static_cast<int32_t>(target_indices.size());

  std::unordered_map<std::string, int32_t> provisional_id;
  std::vector<std::string> provisional_names;
  std::vector<std::string> fields;
  int64_t line = 0;
  std::string why;
  for (;;) {
    status = tokenizer.Next(&fields, &line, error);
    if (status == CsvTokenizer::Status::kError) return false;
    if (status == CsvTokenizer::Status::kEnd) break;
    const std::string where = Where(path, line);
    if (fields.size() != header.size()) {
      *error = where + ": expected " + std::to_string(header.size()) +
               " fields, found " + std::to_string(fields.size());
      return false;
    }
    for (size_t index : feature_indices) {
      float v = 0.0f;
      if (!ParseCsvFloat(fields[index], &v, &why)) {
        *error = where + ": column '" + header[index] + "' " + why;
        return false;
      }
      result.f32.push_back(v);
    }
    if (classification) {
      const std::string& label = fields[label_index];
      if (label.empty()) {
        *error =
            where + ": label column '" + header[label_index] + "' is empty";
        return false;
      }
      const auto inserted = provisional_id.emplace(
          label, static_cast<int32_t>(provisional_names.size()));
      if (inserted.second) provisional_names.push_back(label);
      result.labels.push_back(inserted.first->second);
    } else {
      for (size_t index : target_indices) {
        float v = 0.0f;
        if (!ParseCsvFloat(fields[index], &v, &why)) {
          *error = where + ": target column '" + header[index] + "' " + why;
          return false;
        }
        result.targets.push_back(v);
      }
    }
    result.origins.push_back(where);
  }
  if (result.origins.empty()) {
    *error = path + ": no data rows after the header";
    return false;
  }
  if (classification) {
    if (provisional_names.size() < 2) {
      *error = path + ": label column '" + options.label_column +
               "' has only one class ('" + provisional_names[0] +
               "'); classification needs at least two";
      return false;
    }
    result.class_names = SortClasses(provisional_names);
    std::vector<int32_t> final_id(provisional_names.size());
    for (size_t i = 0; i < result.class_names.size(); ++i) {
      final_id[static_cast<size_t>(provisional_id[result.class_names[i]])] =
          static_cast<int32_t>(i);
    }
    for (int32_t& label : result.labels) {
      label = final_id[static_cast<size_t>(label)];
    }
  }
  result.source_splits.assign(result.origins.size(), Split::kNone);
  *out = std::move(result);
  return true;
}

bool LoadCsv(const std::string& path, const CsvOptions& options, Dataset* out,
             std::string* error) {
  *out = Dataset();
  if (CatchErrors(path, error, [&] {
        return LoadCsvUnguarded(path, options, out, error);
      })) {
    return true;
  }
  *out = Dataset();
  return false;
}

}  // namespace data
}  // namespace kiln
