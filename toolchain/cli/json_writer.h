// A small streaming JSON writer (pretty-printed, two-space indent) for the
// CLI's --json output. It tracks commas and nesting; the caller keeps keys
// and values paired.
#ifndef KILN_TOOLCHAIN_CLI_JSON_WRITER_H_
#define KILN_TOOLCHAIN_CLI_JSON_WRITER_H_

#include <stdint.h>
#include <stdio.h>

#include <string>
#include <vector>

namespace kiln {
namespace cli {

class JsonWriter {
 public:
  explicit JsonWriter(FILE* out) : out_(out) {}
  ~JsonWriter();  // ends the document with a newline

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(const std::string& key);

  JsonWriter& String(const std::string& value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Uint(uint64_t value);
  // Shortest text that reads back as the same double; NaN/inf (not JSON)
  // become null.
  JsonWriter& Double(double value);
  // Shortest text that reads back as the same float.
  JsonWriter& Float(float value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  // Arrays of numbers on one line.
  template <typename T>
  JsonWriter& IntArray(const std::vector<T>& values);
  JsonWriter& FloatArray(const std::vector<float>& values);

 private:
  void BeforeValue();
  void Raw(const std::string& s) { fputs(s.c_str(), out_); }
  void Newline();

  FILE* out_;
  // One entry per open container: true once it holds an element.
  std::vector<bool> has_items_;
  bool after_key_ = false;
};

template <typename T>
JsonWriter& JsonWriter::IntArray(const std::vector<T>& values) {
  BeforeValue();
  Raw("[");
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) Raw(", ");
    Raw(std::to_string(values[i]));
  }
  Raw("]");
  return *this;
}

}  // namespace cli
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_CLI_JSON_WRITER_H_
