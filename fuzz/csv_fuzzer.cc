// CSV datasets (toolchain/data/csv_reader.h), plain or gzip. Input: one
// mode byte choosing the options (label column "label"; target column "y";
// targets "y","z"; both or neither, which must be refused), then the file.
// LoadCsv must return a consistent dataset or false with a message; the
// tokenizer and the number parsers are also run on the raw text and every
// field. Seeds: fuzz/corpus/kiln_fuzz_csv; dictionary fuzz/kiln_fuzz_csv.dict.
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_file.h"
#include "toolchain/data/csv_reader.h"

namespace {

using kiln::data::CsvOptions;
using kiln::data::CsvTokenizer;
using kiln::data::Dataset;

void Tokenize(const uint8_t* data, size_t size) {
  CsvTokenizer tokenizer(
      "fuzz.csv", std::string_view(reinterpret_cast<const char*>(data), size));
  std::vector<std::string> fields;
  int64_t line = 0, previous = 0;
  std::string error;
  for (;;) {
    const CsvTokenizer::Status s = tokenizer.Next(&fields, &line, &error);
    if (s == CsvTokenizer::Status::kEnd) return;
    if (s == CsvTokenizer::Status::kError) {
      if (error.empty()) abort();
      return;
    }
    if (line <= previous || fields.empty()) abort();  // lines move forward
    previous = line;
    for (const std::string& f : fields) {
      float value = 0;
      int64_t integer = 0;
      std::string why;
      if (kiln::data::ParseCsvFloat(f, &value, &why) && !isfinite(value)) {
        abort();
      }
      if (kiln::data::ParseCsvInt(f, -1000, 1000, &integer, &why) &&
          (integer < -1000 || integer > 1000)) {
        abort();
      }
    }
  }
}

void CheckDataset(const Dataset& d, const CsvOptions& options) {
  const size_t n = d.size();
  const bool classify = !options.label_column.empty();
  bool ok = d.item_shape.size() == 1 && d.f32.size() == n * d.item_elements();
  for (float v : d.f32) ok = ok && isfinite(v);
  if (classify) {
    ok = ok && d.labels.size() == n && d.class_names.size() >= 2;
    for (int32_t label : d.labels) {
      ok =
          ok && label >= 0 && static_cast<size_t>(label) < d.class_names.size();
    }
  } else {
    ok = ok &&
         d.target_dim == static_cast<int32_t>(options.target_columns.size()) &&
         d.targets.size() == n * options.target_columns.size();
    for (float v : d.targets) ok = ok && isfinite(v);
  }
  if (!ok) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static kiln_fuzz::FuzzFile file("csv");
  if (size < 1) return 0;
  const uint8_t mode = data[0] % 5;
  ++data;
  --size;
  CsvOptions options;
  if (mode == 0 || mode == 3) options.label_column = "label";
  if (mode == 1) options.target_columns = {"y"};
  if (mode == 2 || mode == 3) options.target_columns = {"y", "z"};
  Tokenize(data, size);
  Dataset out;
  std::string error;
  if (kiln::data::LoadCsv(file.Set(data, size), options, &out, &error)) {
    if (mode >= 3) abort();  // contradictory options must be refused
    CheckDataset(out, options);
  } else if (error.empty() || out.size() != 0) {
    abort();
  }
  return 0;
}
