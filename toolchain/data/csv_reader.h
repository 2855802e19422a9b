// CSV files: a tokenizer (RFC 4180 plus the usual real-world variations) and
// the tabular data source built on it.
//
// Accepted: quoted fields (which may contain commas, doubled quotes "" and
// line breaks), LF or CRLF line ends, a missing or present final newline,
// blank lines (skipped), a UTF-8 byte order mark, spaces around fields
// (trimmed; inside quotes they are kept). Numbers are parsed in the C locale
// whatever the process locale is. Errors name the file and the line the
// record starts on ("data.csv:17: expected 161 fields, found 160").
#ifndef KILN_TOOLCHAIN_DATA_CSV_READER_H_
#define KILN_TOOLCHAIN_DATA_CSV_READER_H_

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <string_view>
#include <vector>

#include "toolchain/data/dataset.h"

namespace kiln {
namespace data {

// Splits in-memory CSV text into records, one at a time (so a large file
// costs one copy of its text, not one std::string per field).
class CsvTokenizer {
 public:
  enum class Status { kRecord, kEnd, kError };

  // `name` (the file's path) prefixes error messages. `text` must outlive
  // the tokenizer.
  CsvTokenizer(std::string name, std::string_view text);

  // Reads the next record that is not a blank line into *fields (unquoted
  // fields trimmed of spaces and tabs) and sets *line to the 1-based line it
  // starts on. kEnd at the end of the text; kError with *error set on an
  // unterminated quote or text after a closing quote.
  Status Next(std::vector<std::string>* fields, int64_t* line,
              std::string* error);

 private:
  Status NextRecord(std::vector<std::string>* fields, int64_t* line,
                    std::string* error);

  std::string name_;
  std::string_view text_;
  size_t pos_ = 0;
  int64_t line_ = 1;
};

// Parses a decimal number (strtod syntax: sign, digits, '.', exponent; also
// "nan" and "inf", which are then rejected) into a finite float. On failure
// *why says what is wrong with `text`, e.g. "is NaN", "is empty",
// "'1,5' is not a number". Locale independent.
bool ParseCsvFloat(std::string_view text, float* value, std::string* why);

// Parses a decimal integer in [min_value, max_value] (no fraction, no
// exponent). Locale independent.
bool ParseCsvInt(std::string_view text, int64_t min_value, int64_t max_value,
                 int64_t* value, std::string* why);

struct CsvOptions {
  // Classification: the column that holds the class of each row. The
  // classes are the distinct values of that column (trimmed strings), with
  // ids in sorted order: numeric order if every value is an integer ("2"
  // before "10"), otherwise byte-wise order. At least two are required.
  std::string label_column;
  // Regression: the columns that hold the float targets, in this order.
  std::vector<std::string> target_columns;
};

// Loads a CSV file (optionally gzip-compressed) with a header row. Exactly
// one of options.label_column and options.target_columns must be set; every
// other column is a float32 feature, in header order, so item_shape is {D}.
// Every feature and target value must be a finite number (NaN, Inf, empty
// and non-numeric values are errors naming file, line and column). origins
// are "<path>:<line>". On failure *out is cleared.
bool LoadCsv(const std::string& path, const CsvOptions& options, Dataset* out,
             std::string* error);

}  // namespace data
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_DATA_CSV_READER_H_
