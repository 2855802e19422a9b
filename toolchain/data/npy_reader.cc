#include "toolchain/data/npy_reader.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "toolchain/data/catch_errors.h"

namespace kiln {
namespace data {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

struct Header {
  NpyDType dtype = NpyDType::kFloat32;
  size_t item_size = 4;
  std::vector<int64_t> shape;
  uint64_t element_count = 1;
  size_t data_offset = 0;  // bytes before the first element
};

// --- The header dict: {'descr': '<f4', 'fortran_order': False,
// 'shape': (3, 4), } with any spacing, ' or " quotes and trailing commas.

class DictParser {
 public:
  explicit DictParser(std::string_view text) : text_(text) {}

  bool Parse(Header* header, std::string* why) {
    bool have_descr = false, have_order = false, have_shape = false;
    std::string descr;
    bool fortran = false;
    if (!Expect('{', why)) return false;
    SkipSpaces();
    while (Peek() != '}') {
      std::string key;
      if (!String(&key, why) || !Expect(':', why)) return false;
      if (key == "descr") {
        if (have_descr) return Duplicate(key, why);
        have_descr = true;
        SkipSpaces();
        if (Peek() == '[') {
          *why = "structured dtypes (a descr list) are not supported";
          return false;
        }
        if (!String(&descr, why)) return false;
      } else if (key == "fortran_order") {
        if (have_order) return Duplicate(key, why);
        have_order = true;
        if (!Bool(&fortran, why)) return false;
      } else if (key == "shape") {
        if (have_shape) return Duplicate(key, why);
        have_shape = true;
        if (!Tuple(&header->shape, why)) return false;
      } else {
        *why = "unexpected header key '" + key + "'";
        return false;
      }
      SkipSpaces();
      if (Peek() == ',') {
        ++pos_;
        SkipSpaces();
      } else if (Peek() != '}') {
        *why = "expected ',' or '}' in the header";
        return false;
      }
    }
    ++pos_;
    SkipSpaces();
    if (pos_ != text_.size()) {
      *why = "text after the header dict";
      return false;
    }
    if (!have_descr || !have_order || !have_shape) {
      *why = std::string("the header lacks '") +
             (!have_descr   ? "descr"
              : !have_order ? "fortran_order"
                            : "shape") +
             "'";
      return false;
    }
    if (fortran) {
      *why =
          "data is in Fortran (column-major) order; save a C-order array "
          "(numpy.ascontiguousarray)";
      return false;
    }
    return ParseDescr(descr, header, why);
  }

 private:
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void SkipSpaces() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
            text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Expect(char c, std::string* why) {
    SkipSpaces();
    if (Peek() != c) {
      *why = std::string("expected '") + c + "' in the header";
      return false;
    }
    ++pos_;
    return true;
  }

  static bool Duplicate(const std::string& key, std::string* why) {
    *why = "header key '" + key + "' appears twice";
    return false;
  }

  bool String(std::string* out, std::string* why) {
    SkipSpaces();
    const char quote = Peek();
    if (quote != '\'' && quote != '"') {
      *why = "expected a quoted string in the header";
      return false;
    }
    const size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) {
      *why = "unterminated string in the header";
      return false;
    }
    *out = std::string(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return true;
  }

  bool Bool(bool* out, std::string* why) {
    SkipSpaces();
    if (text_.substr(pos_, 4) == "True") {
      *out = true;
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      *out = false;
      pos_ += 5;
      return true;
    }
    *why = "fortran_order must be True or False";
    return false;
  }

  // (), (7,), (3, 4), (3, 4,)
  bool Tuple(std::vector<int64_t>* dims, std::string* why) {
    dims->clear();
    if (!Expect('(', why)) return false;
    SkipSpaces();
    while (Peek() != ')') {
      if (Peek() < '0' || Peek() > '9') {
        *why = "shape entries must be non-negative integers";
        return false;
      }
      int64_t value = 0;
      while (Peek() >= '0' && Peek() <= '9') {
        if (value > (std::numeric_limits<int64_t>::max() - 9) / 10) {
          *why = "a shape entry is too large";
          return false;
        }
        value = value * 10 + (Peek() - '0');
        ++pos_;
      }
      if (Peek() == 'L') ++pos_;  // Python 2 long suffix
      dims->push_back(value);
      if (dims->size() > static_cast<size_t>(kMaxNpyRank)) {
        *why = "more than " + std::to_string(kMaxNpyRank) + " dimensions";
        return false;
      }
      SkipSpaces();
      if (Peek() == ',') {
        ++pos_;
        SkipSpaces();
      } else if (Peek() != ')') {
        *why = "expected ',' or ')' in the shape";
        return false;
      }
    }
    ++pos_;
    return true;
  }

  static bool ParseDescr(const std::string& descr, Header* header,
                         std::string* why) {
    if (descr.size() < 2) {
      *why = "unsupported dtype '" + descr + "'";
      return false;
    }
    const char order = descr[0];
    const std::string type = descr.substr(1);
    struct Known {
      const char* code;
      NpyDType dtype;
      size_t size;
    };
    static const Known kKnown[] = {
        {"f4", NpyDType::kFloat32, 4}, {"f8", NpyDType::kFloat64, 8},
        {"u1", NpyDType::kUint8, 1},   {"i1", NpyDType::kInt8, 1},
        {"i4", NpyDType::kInt32, 4},   {"i8", NpyDType::kInt64, 8},
    };
    if (type == "O" || descr == "O") {
      *why =
          "object arrays (pickled Python objects) are not supported; save a "
          "numeric array";
      return false;
    }
    for (const Known& k : kKnown) {
      if (type != k.code) continue;
      if (order == '>' && k.size > 1) {
        *why = "data is big-endian ('" + descr +
               "'); save it little-endian (array.astype('<" + type + "'))";
        return false;
      }
      if (order != '<' && order != '|' && order != '>' && order != '=') {
        break;
      }
      // '=' is native order: this reader only runs little-endian.
      header->dtype = k.dtype;
      header->item_size = k.size;
      return true;
    }
    *why = "unsupported dtype '" + descr +
           "' (supported: float32, float64, uint8, int8, int32, int64)";
    return false;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

uint32_t LittleEndian(const unsigned char* p, int bytes) {
  uint32_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

// Checks the magic and version in the first bytes; sets the header length
// and where the header starts. `prefix` must hold at least 12 bytes or the
// whole file.
bool ParsePreamble(std::string_view prefix, uint32_t* header_length,
                   size_t* header_start, std::string* why) {
  if (prefix.size() < kMagicSize + 2 ||
      memcmp(prefix.data(), kMagic, kMagicSize) != 0) {
    *why = "not a .npy file (no \\x93NUMPY magic)";
    return false;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(prefix.data());
  const int major = p[6], minor = p[7];
  if (major < 1 || major > 3 || minor != 0) {
    *why = "unsupported .npy format version " + std::to_string(major) + "." +
           std::to_string(minor) + " (1.0, 2.0 and 3.0 are supported)";
    return false;
  }
  const int length_bytes = major == 1 ? 2 : 4;
  *header_start = kMagicSize + 2 + length_bytes;
  if (prefix.size() < *header_start) {
    *why = "file ends inside the header length";
    return false;
  }
  *header_length = LittleEndian(p + 8, length_bytes);
  if (*header_length > kMaxNpyHeaderBytes) {
    *why = "header length " + std::to_string(*header_length) +
           " is absurd (at most " + std::to_string(kMaxNpyHeaderBytes) +
           " bytes)";
    return false;
  }
  return true;
}

// "(3, 4)"
std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    text += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return text + ")";
}

// Parses the header text and sizes the data. `total_bytes` is the size of
// the whole file, checked against what the header declares.
bool ParseHeaderText(std::string_view text, size_t data_offset,
                     uint64_t total_bytes, Header* header, std::string* why) {
  if (!DictParser(text).Parse(header, why)) return false;
  header->data_offset = data_offset;
  uint64_t count = 1;
  const uint64_t max_count = kMaxNpyDataBytes / header->item_size;
  for (int64_t d : header->shape) {
    if (d != 0 && count > max_count / static_cast<uint64_t>(d)) {
      *why = "shape " + ShapeText(header->shape) + " is too large (over " +
             std::to_string(kMaxNpyDataBytes) + " bytes of data)";
      return false;
    }
    count *= static_cast<uint64_t>(d);
  }
  header->element_count = count;
  const uint64_t expected = count * header->item_size;
  const uint64_t held = total_bytes - data_offset;
  if (held < expected) {
    *why = "truncated: the shape needs " + std::to_string(expected) +
           " bytes of data, the file has " + std::to_string(held);
    return false;
  }
  if (held > expected) {
    *why = std::to_string(held - expected) +
           " unexpected bytes after the data (the shape needs " +
           std::to_string(expected) + ")";
    return false;
  }
  return true;
}

template <typename T>
T Load(const unsigned char* p) {
  T value;
  memcpy(&value, p, sizeof(T));  // the host is little-endian, like the data
  return value;
}

// Converts the elements at `data` into *out (values, integers, raw_uint8).
bool ConvertData(const unsigned char* data, const Header& header, NpyArray* out,
                 std::string* why) {
  const size_t n = static_cast<size_t>(header.element_count);
  out->dtype = header.dtype;
  out->shape = header.shape;
  out->values.resize(n);
  const bool integral =
      header.dtype != NpyDType::kFloat32 && header.dtype != NpyDType::kFloat64;
  if (integral) out->integers.resize(n);
  if (header.dtype == NpyDType::kUint8) out->raw_uint8.assign(data, data + n);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char* p = data + i * header.item_size;
    switch (header.dtype) {
      case NpyDType::kFloat32:
        out->values[i] = Load<float>(p);
        break;
      case NpyDType::kFloat64: {
        const double v = Load<double>(p);
        if (std::isfinite(v) &&
            std::fabs(v) >
                static_cast<double>(std::numeric_limits<float>::max())) {
          *why = "element " + std::to_string(i) + " (" + std::to_string(v) +
                 ") is beyond float32's range";
          return false;
        }
        out->values[i] = static_cast<float>(v);
        break;
      }
      case NpyDType::kUint8:
        out->integers[i] = p[0];
        break;
      case NpyDType::kInt8:
        out->integers[i] = static_cast<int8_t>(p[0]);
        break;
      case NpyDType::kInt32:
        out->integers[i] = Load<int32_t>(p);
        break;
      case NpyDType::kInt64:
        out->integers[i] = Load<int64_t>(p);
        break;
    }
    if (integral) {
      out->values[i] = static_cast<float>(out->integers[i]);
    } else if (!std::isfinite(out->values[i])) {
      *why = "element " + std::to_string(i) + " is " +
             (std::isnan(out->values[i]) ? "NaN" : "infinite");
      return false;
    }
  }
  return true;
}

bool Fail(const std::string& name, const std::string& why, NpyArray* out,
          std::string* error) {
  *out = NpyArray();
  *error = name + ": " + why;
  return false;
}

bool ParseUnguarded(std::string_view bytes, const std::string& name,
                    NpyArray* out, std::string* error) {
  *out = NpyArray();
  std::string why;
  uint32_t header_length = 0;
  size_t header_start = 0;
  if (!ParsePreamble(bytes, &header_length, &header_start, &why)) {
    return Fail(name, why, out, error);
  }
  if (bytes.size() - header_start < header_length) {
    return Fail(name,
                "truncated header (" + std::to_string(header_length) +
                    " bytes declared, " +
                    std::to_string(bytes.size() - header_start) + " present)",
                out, error);
  }
  Header header;
  if (!ParseHeaderText(bytes.substr(header_start, header_length),
                       header_start + header_length, bytes.size(), &header,
                       &why) ||
      !ConvertData(reinterpret_cast<const unsigned char*>(bytes.data()) +
                       header.data_offset,
                   header, out, &why)) {
    return Fail(name, why, out, error);
  }
  return true;
}

struct FileCloser {
  void operator()(FILE* f) const { fclose(f); }
};

bool ReadExactly(FILE* f, void* buffer, size_t size) {
  return size == 0 || fread(buffer, 1, size, f) == size;
}

bool ReadUnguarded(const std::string& path, NpyArray* out, std::string* error) {
  *out = NpyArray();
  std::unique_ptr<FILE, FileCloser> file(fopen(path.c_str(), "rb"));
  if (!file) {
    *error = path + ": cannot open: " + strerror(errno);
    return false;
  }
  struct stat st;
  if (fstat(fileno(file.get()), &st) != 0 || !S_ISREG(st.st_mode)) {
    *error = path + ": not a regular file";
    return false;
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  // The preamble, then the header, then the data: each read only once the
  // previous part has said how large the next is and the file size agrees.
  std::string head(static_cast<size_t>(std::min<uint64_t>(size, 12)), '\0');
  if (!ReadExactly(file.get(), &head[0], head.size())) {
    return Fail(path, "read error", out, error);
  }
  std::string why;
  uint32_t header_length = 0;
  size_t header_start = 0;
  if (!ParsePreamble(head, &header_length, &header_start, &why)) {
    return Fail(path, why, out, error);
  }
  if (size - header_start < header_length) {
    return Fail(path,
                "truncated header (" + std::to_string(header_length) +
                    " bytes declared, " + std::to_string(size - header_start) +
                    " present)",
                out, error);
  }
  std::string text(header_length, '\0');
  const size_t already = head.size() - header_start;  // header bytes in head
  text.replace(0, already, head.substr(header_start));
  if (!ReadExactly(file.get(), &text[already], header_length - already)) {
    return Fail(path, "read error in the header", out, error);
  }
  Header header;
  if (!ParseHeaderText(text, header_start + header_length, size, &header,
                       &why)) {
    return Fail(path, why, out, error);
  }
  std::vector<unsigned char> data(
      static_cast<size_t>(header.element_count * header.item_size));
  if (!ReadExactly(file.get(), data.data(), data.size())) {
    return Fail(path, "read error in the data", out, error);
  }
  if (!ConvertData(data.data(), header, out, &why)) {
    return Fail(path, why, out, error);
  }
  return true;
}

}  // namespace

const char* NpyDTypeName(NpyDType dtype) {
  switch (dtype) {
    case NpyDType::kFloat32:
      return "float32";
    case NpyDType::kFloat64:
      return "float64";
    case NpyDType::kUint8:
      return "uint8";
    case NpyDType::kInt8:
      return "int8";
    case NpyDType::kInt32:
      return "int32";
    case NpyDType::kInt64:
      return "int64";
  }
  return "?";
}

int64_t NpyArray::ElementCount() const {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  return count;
}

std::string NpyArray::Describe() const {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    text += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return text + "] " + NpyDTypeName(dtype);
}

bool ReadNpy(const std::string& path, NpyArray* out, std::string* error) {
  if (CatchErrors(path, error,
                  [&] { return ReadUnguarded(path, out, error); })) {
    return true;
  }
  *out = NpyArray();  // also after an exception half way through
  return false;
}

bool ParseNpy(std::string_view bytes, const std::string& name, NpyArray* out,
              std::string* error) {
  if (CatchErrors(name, error,
                  [&] { return ParseUnguarded(bytes, name, out, error); })) {
    return true;
  }
  *out = NpyArray();
  return false;
}

}  // namespace data
}  // namespace kiln
