// TLG8 JSONL training dumps (toolchain/blocklab/tlg8_dump.h), plain or gzip
// (the reader detects gzip by content). Input: one mode byte (bit 0: strict
// mode), then the file. Every record returned must be consistent (pixel
// count, the fixed-size target arrays); a bad line is skipped and counted or,
// when strict, an error naming it. Seeds: fuzz/corpus/kiln_fuzz_tlg8_jsonl
// (lines of tests/data/tlg8/sample.jsonl, plain and gzip); dictionary
// fuzz/kiln_fuzz_tlg8_jsonl.dict (the JSON keys).
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <string>

#include "fuzz/fuzz_file.h"
#include "toolchain/blocklab/tlg8_dump.h"

namespace {

bool Consistent(const kiln::blocklab::Tlg8Record& r) {
  const size_t pixels = static_cast<size_t>(r.block_width) *
                        static_cast<size_t>(r.block_height) *
                        static_cast<size_t>(r.components);
  return r.pixels.size() == pixels && r.block_width >= 1 &&
         r.block_width <= 8 && r.block_height >= 1 && r.block_height <= 8 &&
         r.predictor_bits.size() == 8 && r.perm_bits.size() == 6 &&
         r.primary_bits.size() == 4 && r.secondary_bits.size() == 4 &&
         r.reorder_bits.size() == 8 && r.interleave_bits.size() == 2 &&
         r.residual_energy_by_predictor.size() == 8 &&
         r.filtered_energy_by_filter.size() == 96 && r.best.predictor >= 0 &&
         r.best.predictor <= 7 && r.best.filter >= 0 && r.best.filter <= 95;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static kiln_fuzz::FuzzFile file("tlg8.jsonl");
  if (size < 1) return 0;
  const bool strict = (data[0] & 1) != 0;
  kiln::blocklab::Tlg8DumpReader reader;
  reader.set_strict(strict);
  std::string error;
  if (!reader.Open(file.Set(data + 1, size - 1), &error)) {
    if (error.empty()) abort();
    return 0;
  }
  kiln::blocklab::Tlg8Record record;
  uint64_t records = 0, last_line = 0;
  while (reader.Next(&record, &error)) {
    if (!Consistent(record) || record.line <= last_line ||
        record.line > reader.lines_read()) {
      abort();
    }
    last_line = record.line;
    ++records;
  }
  // The end (no error) or, when strict, the first bad line (or a corrupt
  // gzip stream in either mode).
  if (!strict && error.empty() &&
      reader.lines_read() != records + reader.bad_line_count()) {
    abort();
  }
  if (strict && error.empty() && reader.bad_line_count() != 0) abort();
  return 0;
}
