#include "toolchain/blocklab/tlg8_dump.h"

#include <string.h>

#include <exception>
#include <new>
#include <nlohmann/json.hpp>
#include <utility>

#include "toolchain/data/gzip_file.h"

namespace kiln {
namespace blocklab {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxLineBytes = size_t{1} << 20;  // 1 MiB
constexpr size_t kReadChunk = size_t{64} << 10;
constexpr size_t kMaxBadLinesKept = 100;
constexpr int kMaxBlockSide = 8;
constexpr int kMaxImageSide = 1 << 20;

// Why a line is bad; thrown inside ParseRecord only and caught there.
struct BadLine {
  std::string why;
};

[[noreturn]] void Bad(std::string why) { throw BadLine{std::move(why)}; }

const Json& Field(const Json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end()) Bad(std::string("missing key '") + key + "'");
  return *it;
}

// An integer in [lo, hi] (JSON integers only; 3.0 is not an integer here).
int64_t IntIn(const Json& v, int64_t lo, int64_t hi, const std::string& what) {
  int64_t x;
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(hi)) {
      Bad(what + " is " + std::to_string(u) + ", out of range " +
          std::to_string(lo) + ".." + std::to_string(hi));
    }
    x = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    x = v.get<int64_t>();
  } else {
    Bad(what + " is not an integer (" + std::string(v.type_name()) + ")");
  }
  if (x < lo || x > hi) {
    Bad(what + " is " + std::to_string(x) + ", out of range " +
        std::to_string(lo) + ".." + std::to_string(hi));
  }
  return x;
}

uint64_t Uint64(const Json& v, const std::string& what) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) Bad(what + " is negative");
  Bad(what + " is not an unsigned integer (" + std::string(v.type_name()) +
      ")");
}

const Json& ArrayOf(const Json& object, const char* key, size_t size) {
  const Json& v = Field(object, key);
  if (!v.is_array()) {
    Bad(std::string("'") + key + "' is not an array (" + v.type_name() + ")");
  }
  if (v.size() != size) {
    Bad(std::string("'") + key + "' has " + std::to_string(v.size()) +
        " entries, expected " + std::to_string(size));
  }
  return v;
}

std::vector<uint64_t> Uint64Array(const Json& object, const char* key,
                                  size_t size) {
  const Json& v = ArrayOf(object, key, size);
  std::vector<uint64_t> out(size);
  for (size_t i = 0; i < size; ++i) {
    out[i] = Uint64(v[i], std::string(key) + "[" + std::to_string(i) + "]");
  }
  return out;
}

void IntPair(const Json& object, const char* key, int64_t lo, int64_t hi,
             int32_t* a, int32_t* b) {
  const Json& v = ArrayOf(object, key, 2);
  *a = static_cast<int32_t>(IntIn(v[0], lo, hi, std::string(key) + "[0]"));
  *b = static_cast<int32_t>(IntIn(v[1], lo, hi, std::string(key) + "[1]"));
}

Tlg8Tuple ParseTuple(const Json& object, const char* key) {
  const Json& v = Field(object, key);
  if (!v.is_object()) {
    Bad(std::string("'") + key + "' is not an object (" + v.type_name() + ")");
  }
  const std::string k = key;
  Tlg8Tuple t;
  t.predictor = static_cast<int32_t>(
      IntIn(Field(v, "predictor"), 0, 7, k + ".predictor"));
  // Filter code perm << 4 | primary << 2 | secondary, perm 0..5: 0..95.
  t.filter =
      static_cast<int32_t>(IntIn(Field(v, "filter"), 0, 95, k + ".filter"));
  t.reorder =
      static_cast<int32_t>(IntIn(Field(v, "reorder"), 0, 7, k + ".reorder"));
  t.interleave = static_cast<int32_t>(
      IntIn(Field(v, "interleave"), 0, 1, k + ".interleave"));
  t.entropy =
      static_cast<int32_t>(IntIn(Field(v, "entropy"), 0, 1, k + ".entropy"));
  t.bits = Uint64(Field(v, "bits"), k + ".bits");
  return t;
}

// Parses one line into *r; on a bad line returns false with *why.
bool ParseRecord(const std::string& line, Tlg8Record* r, std::string* why) {
  try {
    const Json j = Json::parse(line);
    if (!j.is_object()) {
      *why = std::string("not a JSON object (") + j.type_name() + ")";
      return false;
    }
    const Json& image = Field(j, "image");
    if (!image.is_string()) Bad("'image' is not a string");
    r->image = image.get<std::string>();
    IntPair(j, "image_size", 1, kMaxImageSide, &r->image_width,
            &r->image_height);
    IntPair(j, "tile_origin", 0, kMaxImageSide, &r->tile_x, &r->tile_y);
    IntPair(j, "block_origin", 0, kMaxImageSide, &r->block_x, &r->block_y);
    IntPair(j, "block_size", 1, kMaxBlockSide, &r->block_width,
            &r->block_height);
    r->components =
        static_cast<int32_t>(IntIn(Field(j, "components"), 1, 4, "components"));
    if (r->block_x + r->block_width > r->image_width ||
        r->block_y + r->block_height > r->image_height) {
      Bad("block at (" + std::to_string(r->block_x) + "," +
          std::to_string(r->block_y) + ") size " +
          std::to_string(r->block_width) + "x" +
          std::to_string(r->block_height) + " lies outside the " +
          std::to_string(r->image_width) + "x" +
          std::to_string(r->image_height) + " image");
    }
    if (r->tile_x > r->block_x || r->tile_y > r->block_y) {
      Bad("tile origin lies right of or below the block origin");
    }
    const size_t pixel_count = static_cast<size_t>(r->block_width) *
                               static_cast<size_t>(r->block_height) *
                               static_cast<size_t>(r->components);
    const Json& pixels = ArrayOf(j, "pixels", pixel_count);
    r->pixels.resize(pixel_count);
    for (size_t i = 0; i < pixel_count; ++i) {
      r->pixels[i] = static_cast<uint8_t>(
          IntIn(pixels[i], 0, 255, "pixels[" + std::to_string(i) + "]"));
    }
    r->predictor_bits = Uint64Array(j, "proj_predictor_bits", 8);
    r->perm_bits = Uint64Array(j, "proj_cf_perm_bits", 6);
    r->primary_bits = Uint64Array(j, "proj_cf_primary_bits", 4);
    r->secondary_bits = Uint64Array(j, "proj_cf_secondary_bits", 4);
    r->reorder_bits = Uint64Array(j, "proj_reorder_bits", 8);
    r->interleave_bits = Uint64Array(j, "proj_interleave_bits", 2);
    r->best = ParseTuple(j, "best");
    // A block with a single evaluated tuple may have no second: null.
    const auto second = j.find("second");
    if (second != j.end() && !second->is_null()) {
      r->second = ParseTuple(j, "second");
    } else {
      r->second = Tlg8Tuple();
    }
    r->residual_energy_by_predictor =
        Uint64Array(j, "score_residual_energy_by_predictor", 8);
    r->filtered_energy_by_filter =
        Uint64Array(j, "score_filtered_energy_min_by_filter", 96);
    return true;
  } catch (const BadLine& e) {
    *why = e.why;
  } catch (const Json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at ..." -> "parse error
    // at ...".
    std::string what = e.what();
    const size_t bracket = what.find("] ");
    *why = bracket == std::string::npos ? what : what.substr(bracket + 2);
    // An error at the end of the text: the line was cut short.
    if (e.byte >= line.size() ||
        what.find("unexpected end of input") != std::string::npos) {
      *why = "truncated JSON: " + *why;
    }
  } catch (const std::bad_alloc&) {
    *why = "out of memory";
  } catch (const std::exception& e) {
    *why = e.what();
  }
  return false;
}

}  // namespace

struct Tlg8DumpReader::Impl {
  data::GzipFile file;
  bool open = false;
  bool eof = false;
  std::vector<char> buffer = std::vector<char>(kReadChunk);
  size_t pos = 0, end = 0;
  std::string line;

  // The next line (without '\n' or a trailing '\r') into `line`: 1 a line,
  // 0 end of file, -1 error. *too_long: the line exceeded kMaxLineBytes and
  // was discarded (line is then empty).
  int ReadLine(bool* too_long, std::string* error) {
    line.clear();
    *too_long = false;
    bool any = false;
    for (;;) {
      if (pos == end) {
        if (eof) break;
        size_t got = 0;
        if (!file.Read(buffer.data(), buffer.size(), &got, error)) return -1;
        pos = 0;
        end = got;
        if (got < buffer.size()) eof = true;
        if (got == 0) break;
      }
      any = true;
      const char* start = buffer.data() + pos;
      const char* stop = buffer.data() + end;
      const char* newline = static_cast<const char*>(
          memchr(start, '\n', static_cast<size_t>(stop - start)));
      const char* take_end = newline != nullptr ? newline : stop;
      if (!*too_long) {
        const size_t n = static_cast<size_t>(take_end - start);
        if (line.size() + n > kMaxLineBytes) {
          *too_long = true;
          line.clear();
          line.shrink_to_fit();
        } else {
          line.append(start, n);
        }
      }
      pos = static_cast<size_t>(take_end - buffer.data());
      if (newline != nullptr) {
        ++pos;
        break;
      }
    }
    if (!any) return 0;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return 1;
  }
};

Tlg8DumpReader::Tlg8DumpReader() : impl_(new Impl) {}
Tlg8DumpReader::~Tlg8DumpReader() = default;

bool Tlg8DumpReader::Open(const std::string& path, std::string* error) {
  try {
    impl_.reset(new Impl);
    lines_ = 0;
    bad_count_ = 0;
    bad_lines_.clear();
    if (!impl_->file.Open(path, error)) return false;
    impl_->open = true;
    return true;
  } catch (const std::exception& e) {
    *error = path + ": " + e.what();
    return false;
  }
}

bool Tlg8DumpReader::Next(Tlg8Record* out, std::string* error) {
  error->clear();
  if (!impl_->open) {
    *error = "TLG8 dump: not open";
    return false;
  }
  try {
    for (;;) {
      bool too_long = false;
      const int got = impl_->ReadLine(&too_long, error);
      if (got < 0) return false;
      if (got == 0) return false;  // end of file, error empty
      const uint64_t number = ++lines_;
      std::string why;
      if (too_long) {
        why = "line longer than " + data::FormatByteCount(kMaxLineBytes);
      } else if (impl_->line.find_first_not_of(" \t") == std::string::npos) {
        why = "empty line";
      } else if (ParseRecord(impl_->line, out, &why)) {
        out->line = number;
        return true;
      }
      const std::string report = "line " + std::to_string(number) + ": " + why;
      ++bad_count_;
      if (strict_) {
        *error = impl_->file.path() + ": " + report;
        return false;
      }
      if (bad_lines_.size() < kMaxBadLinesKept) bad_lines_.push_back(report);
    }
  } catch (const std::bad_alloc&) {
    *error = impl_->file.path() + ": out of memory";
  } catch (const std::exception& e) {
    *error = impl_->file.path() + ": " + e.what();
  }
  return false;
}

}  // namespace blocklab
}  // namespace kiln
