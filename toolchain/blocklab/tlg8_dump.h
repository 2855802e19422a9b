// Streaming reader for the TLG8 encoder's JSONL training dumps (one JSON
// object per block and line; plain or gzip, detected by content). Format:
// docs/block_data.md#tlg8-dumps. Lines are read one at a time (memory stays
// bounded by the longest line, itself capped); a bad line is reported by
// its 1-based number and why, and the reader can go on past it.
#ifndef KILN_TOOLCHAIN_BLOCKLAB_TLG8_DUMP_H_
#define KILN_TOOLCHAIN_BLOCKLAB_TLG8_DUMP_H_

#include <stdint.h>

#include <memory>
#include <string>
#include <vector>

namespace kiln {
namespace blocklab {

constexpr uint64_t kTlg8Pruned = 0xFFFFFFFFFFFFFFFFull;  // never evaluated

struct Tlg8Tuple {
  int32_t predictor = -1, filter = -1, reorder = -1, interleave = -1,
          entropy = -1;
  uint64_t bits = 0;
};

struct Tlg8Record {
  uint64_t line = 0;  // 1-based line number in the file
  std::string image;
  int32_t image_width = 0, image_height = 0;
  int32_t tile_x = 0, tile_y = 0, block_x = 0, block_y = 0;
  int32_t block_width = 0, block_height = 0, components = 0;
  std::vector<uint8_t> pixels;  // block_w * block_h * components, y, x, c
  // Targets (per-option minimum bits; kTlg8Pruned = never evaluated).
  std::vector<uint64_t> predictor_bits, perm_bits, primary_bits, secondary_bits,
      reorder_bits, interleave_bits;
  Tlg8Tuple best, second;
  // Cheap pixel scores (valid inputs).
  std::vector<uint64_t> residual_energy_by_predictor;  // 8
  std::vector<uint64_t> filtered_energy_by_filter;     // 96
};

class Tlg8DumpReader {
 public:
  Tlg8DumpReader();
  ~Tlg8DumpReader();
  bool Open(const std::string& path, std::string* error);
  // The next good record: true and *out; false at the end (error empty)
  // or on an I/O error (error set). A malformed line (bad JSON, missing or
  // mistyped key, inconsistent sizes) is skipped and counted, its number
  // and reason kept in bad_lines() (the first 100), unless strict was set,
  // in which case it is returned as an error naming the line.
  bool Next(Tlg8Record* out, std::string* error);
  void set_strict(bool strict) { strict_ = strict; }
  uint64_t lines_read() const { return lines_; }
  uint64_t bad_line_count() const { return bad_count_; }
  const std::vector<std::string>& bad_lines() const { return bad_lines_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool strict_ = false;
  uint64_t lines_ = 0, bad_count_ = 0;
  std::vector<std::string> bad_lines_;
};

}  // namespace blocklab
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_BLOCKLAB_TLG8_DUMP_H_
