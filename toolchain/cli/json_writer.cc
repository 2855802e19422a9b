#include "toolchain/cli/json_writer.h"

#include <math.h>

#include "toolchain/cli/number_format.h"

namespace kiln {
namespace cli {
namespace {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);  // UTF-8 passes through
        }
    }
  }
  return out + "\"";
}

}  // namespace

JsonWriter::~JsonWriter() { fputc('\n', out_); }

void JsonWriter::Newline() {
  fputc('\n', out_);
  for (size_t i = 0; i < has_items_.size(); ++i) fputs("  ", out_);
}

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (has_items_.empty()) return;  // the top-level value
  if (has_items_.back()) Raw(",");
  has_items_.back() = true;
  Newline();
}

JsonWriter& JsonWriter::BeginObject() {
  BeforeValue();
  Raw("{");
  has_items_.push_back(false);
  return *this;
}

JsonWriter& JsonWriter::EndObject() {
  const bool had_items = has_items_.back();
  has_items_.pop_back();
  if (had_items) Newline();
  Raw("}");
  return *this;
}

JsonWriter& JsonWriter::BeginArray() {
  BeforeValue();
  Raw("[");
  has_items_.push_back(false);
  return *this;
}

JsonWriter& JsonWriter::EndArray() {
  const bool had_items = has_items_.back();
  has_items_.pop_back();
  if (had_items) Newline();
  Raw("]");
  return *this;
}

JsonWriter& JsonWriter::Key(const std::string& key) {
  BeforeValue();
  Raw(Quote(key) + ": ");
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::String(const std::string& value) {
  BeforeValue();
  Raw(Quote(value));
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t value) {
  BeforeValue();
  Raw(std::to_string(value));
  return *this;
}

JsonWriter& JsonWriter::Uint(uint64_t value) {
  BeforeValue();
  Raw(std::to_string(value));
  return *this;
}

JsonWriter& JsonWriter::Double(double value) {
  BeforeValue();
  Raw(isfinite(value) ? ShortestDouble(value) : "null");
  return *this;
}

JsonWriter& JsonWriter::Float(float value) {
  BeforeValue();
  Raw(isfinite(value) ? ShortestFloat(value) : "null");
  return *this;
}

JsonWriter& JsonWriter::Bool(bool value) {
  BeforeValue();
  Raw(value ? "true" : "false");
  return *this;
}

JsonWriter& JsonWriter::Null() {
  BeforeValue();
  Raw("null");
  return *this;
}

JsonWriter& JsonWriter::FloatArray(const std::vector<float>& values) {
  BeforeValue();
  Raw("[");
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) Raw(", ");
    Raw(isfinite(values[i]) ? ShortestFloat(values[i]) : "null");
  }
  Raw("]");
  return *this;
}

}  // namespace cli
}  // namespace kiln
