#include "toolchain/data/relabels.h"

#include <stdio.h>

#include <unordered_map>
#include <utility>

#include "toolchain/data/catch_errors.h"
#include "toolchain/data/content_hash.h"
#include "toolchain/data/csv_reader.h"
#include "toolchain/serialize.h"

namespace kiln {
namespace data {
namespace {

// A relabels file is a short list written by people; anything this large
// is the wrong file.
constexpr uint64_t kMaxRelabelsBytes = uint64_t{256} << 20;

std::string Where(const std::string& path, int64_t line) {
  return path + ":" + std::to_string(line);
}

// 'text' for a message: shortened if long, control characters as \xNN.
std::string Quote(const std::string& text) {
  constexpr size_t kMax = 70;
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

std::string Lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

// "'a', 'b', 'c'" (at most 12 names) for "unknown class" messages.
std::string ListNames(const std::vector<std::string>& names) {
  constexpr size_t kMax = 12;
  std::string text;
  for (size_t i = 0; i < names.size() && i < kMax; ++i) {
    if (i > 0) text += ", ";
    text += Quote(names[i]);
  }
  if (names.size() > kMax) {
    text += " and " + std::to_string(names.size() - kMax) + " more";
  }
  return text;
}

bool ReadRowsImpl(const std::string& text, const std::string& path,
                  std::vector<RelabelRow>* rows, std::string* error) {
  rows->clear();
  CsvTokenizer tokenizer(path, text);
  std::vector<std::string> fields;
  int64_t line = 0;
  CsvTokenizer::Status status = tokenizer.Next(&fields, &line, error);
  if (status == CsvTokenizer::Status::kError) return false;
  if (status == CsvTokenizer::Status::kEnd) {
    *error = path +
             ": the file is empty; a relabels file starts with a header "
             "naming the columns 'hash' and 'label'";
    return false;
  }
  // The header.
  const int64_t header_line = line;
  size_t hash_column = fields.size(), label_column = fields.size();
  for (size_t c = 0; c < fields.size(); ++c) {
    const std::string name = Lower(fields[c]);
    size_t* column = name == "hash"    ? &hash_column
                     : name == "label" ? &label_column
                                       : nullptr;
    if (column == nullptr) continue;
    if (*column != fields.size()) {
      *error = Where(path, header_line) + ": the header names the column " +
               Quote(name) + " twice";
      return false;
    }
    *column = c;
  }
  if (hash_column == fields.size() || label_column == fields.size()) {
    *error = Where(path, header_line) + ": the header (" + ListNames(fields) +
             ") lacks the column '" +
             (hash_column == fields.size() ? "hash" : "label") +
             "'; a relabels file has the columns 'hash' and 'label' "
             "(others are ignored)";
    return false;
  }
  const size_t columns = fields.size();

  // The fixes.
  while ((status = tokenizer.Next(&fields, &line, error)) ==
         CsvTokenizer::Status::kRecord) {
    if (fields.size() != columns) {
      *error = Where(path, line) + ": expected " + std::to_string(columns) +
               " fields as in the header, found " +
               std::to_string(fields.size());
      return false;
    }
    RelabelRow row;
    row.line = line;
    row.hash = Lower(fields[hash_column]);
    if (!IsSha256Hex(row.hash)) {
      *error = Where(path, line) + ": " + Quote(fields[hash_column]) +
               " is not a sample content hash (64 hex digits)";
      return false;
    }
    row.label = std::move(fields[label_column]);
    rows->push_back(std::move(row));
  }
  return status == CsvTokenizer::Status::kEnd;
}

bool ParseImpl(const std::string& text, const std::string& path,
               const std::vector<std::string>& class_names, RelabelTable* table,
               std::string* error) {
  *table = RelabelTable();
  std::vector<RelabelRow> rows;
  if (!ReadRowsImpl(text, path, &rows, error)) return false;
  std::unordered_map<std::string, int32_t> class_id;
  for (size_t c = 0; c < class_names.size(); ++c) {
    class_id.emplace(class_names[c], static_cast<int32_t>(c));
  }
  RelabelTable result;
  result.rows = rows.size();
  for (const RelabelRow& row : rows) {
    if (row.label.empty()) continue;
    ++result.filled_rows;
    const auto it = class_id.find(row.label);
    if (it == class_id.end()) {
      *error = Where(path, row.line) + ": unknown class " + Quote(row.label) +
               "; the dataset's classes are " + ListNames(class_names);
      return false;
    }
    const auto [fix, inserted] =
        result.fixes.emplace(row.hash, RelabelFix{it->second, row.line});
    if (!inserted && fix->second.label != it->second) {
      *error = Where(path, row.line) + ": sample " + row.hash.substr(0, 16) +
               "... is given the label " + Quote(row.label) + " here but " +
               Quote(class_names[static_cast<size_t>(fix->second.label)]) +
               " on line " + std::to_string(fix->second.line);
      return false;
    }
  }
  *table = std::move(result);
  return true;
}

bool ApplyImpl(const RelabelTable& table,
               const std::vector<std::string>& content_hashes, Dataset* dataset,
               RelabelStats* stats, std::string* error) {
  if (dataset->task != Task::kClassification) {
    *error = "dataset '" + dataset->name +
             "' is a regression dataset: there are no labels to fix";
    return false;
  }
  if (content_hashes.size() != dataset->size() ||
      dataset->labels.size() != dataset->size()) {
    *error = "dataset '" + dataset->name +
             "': " + std::to_string(content_hashes.size()) +
             " content hashes and " + std::to_string(dataset->labels.size()) +
             " labels for " + std::to_string(dataset->size()) + " samples";
    return false;
  }
  for (const auto& [hash, fix] : table.fixes) {
    if (fix.label < 0 ||
        static_cast<size_t>(fix.label) >= dataset->class_names.size()) {
      *error = "line " + std::to_string(fix.line) + ": class id " +
               std::to_string(fix.label) + " is out of range";
      return false;
    }
  }
  RelabelStats s;
  s.rows = table.rows;
  s.fixes = table.fixes.size();
  std::map<std::string, bool> seen;  // hash -> some sample has it
  for (size_t i = 0; i < content_hashes.size(); ++i) {
    const auto it = table.fixes.find(content_hashes[i]);
    if (it == table.fixes.end()) continue;
    seen[it->first] = true;
    ++s.matched_samples;
    if (dataset->labels[i] != it->second.label) {
      dataset->labels[i] = it->second.label;
      ++s.changed_samples;
    }
  }
  s.applied = seen.size();
  s.unknown_hashes = s.fixes - s.applied;
  if (stats != nullptr) *stats = s;
  return true;
}

}  // namespace

bool ReadRelabelRows(const std::string& text, const std::string& path,
                     std::vector<RelabelRow>* rows, std::string* error) {
  return CatchErrors(path, error,
                     [&] { return ReadRowsImpl(text, path, rows, error); });
}

bool ParseRelabels(const std::string& text, const std::string& path,
                   const std::vector<std::string>& class_names,
                   RelabelTable* table, std::string* error) {
  return CatchErrors(path, error, [&] {
    return ParseImpl(text, path, class_names, table, error);
  });
}

bool LoadRelabels(const std::string& path,
                  const std::vector<std::string>& class_names,
                  RelabelTable* table, std::string* error) {
  return CatchErrors(path, error, [&] {
    std::vector<uint8_t> bytes;
    if (!ReadFileBytes(path, kMaxRelabelsBytes, &bytes, error)) return false;
    const std::string text(bytes.begin(), bytes.end());
    return ParseImpl(text, path, class_names, table, error);
  });
}

bool ApplyRelabelTable(const RelabelTable& table,
                       const std::vector<std::string>& content_hashes,
                       Dataset* dataset, RelabelStats* stats,
                       std::string* error) {
  return CatchErrors("relabels", error, [&] {
    return ApplyImpl(table, content_hashes, dataset, stats, error);
  });
}

bool ApplyRelabels(const std::string& csv_path, Dataset* dataset,
                   RelabelStats* stats, std::string* error) {
  return CatchErrors(csv_path, error, [&] {
    if (dataset->task != Task::kClassification) {
      *error = csv_path + ": dataset '" + dataset->name +
               "' is a regression dataset: there are no labels to fix";
      return false;
    }
    RelabelTable table;
    if (!LoadRelabels(csv_path, dataset->class_names, &table, error)) {
      return false;
    }
    std::vector<std::string> hashes;
    if (!ContentHashes(*dataset, &hashes, error)) return false;
    if (!ApplyImpl(table, hashes, dataset, stats, error)) {
      *error = csv_path + ": " + *error;
      return false;
    }
    return true;
  });
}

bool ApplyRelabels(const std::string& csv_path, Dataset* dataset,
                   std::string* error) {
  return ApplyRelabels(csv_path, dataset, nullptr, error);
}

}  // namespace data
}  // namespace kiln
