// Label fixes keyed by sample content hash: the file a person edits after
// `kiln review` and feeds back to `kiln data --relabels`, `kiln build`
// (params "relabels"), `kiln eval` and `kiln review`.
//
// The file is CSV (csv_reader.h's tokenizer: quotes, CRLF, BOM, blank lines
// are fine). The first record is a header that must name a column `hash`
// and a column `label`, each once; any other columns are ignored, so the
// relabels.csv that `kiln review` writes (hash,label,index,current,
// predicted,confidence,reason) is accepted as it is. Every other record
// has exactly as many fields as the header and is one fix:
//
//   hash   a sample content hash (content_hash.h), 64 hex digits (upper
//          case is accepted and read as lower case)
//   label  the new class, by NAME: one of the dataset's class_names. Empty
//          means "no change" (a review row nobody filled in).
//
// Every sample with that hash gets the label: exact duplicates share a hash
// and so stay consistent. A hash may appear on several rows with the same
// label (or with an empty one); two different labels for one hash are an
// error naming both lines. A hash that no sample has is not an error (the
// file may be shared between versions of a dataset): it is counted in
// RelabelStats::unknown_hashes, and callers report it as a warning.
//
// Relabelling never touches the split manifest: splits are keyed by the
// content hash, which does not include the label, so a relabelled sample
// keeps its split.
//
// Errors name "path:line": a row with the wrong number of fields, a bad
// hash, an unknown class, a conflicting label; and a missing header column,
// an unreadable file, a regression dataset (nothing to relabel).
#ifndef KILN_TOOLCHAIN_DATA_RELABELS_H_
#define KILN_TOOLCHAIN_DATA_RELABELS_H_

#include <stddef.h>
#include <stdint.h>

#include <map>
#include <string>
#include <vector>

#include "toolchain/data/dataset.h"

namespace kiln {
namespace data {

// One data record of a relabels file, before the label is resolved.
struct RelabelRow {
  int64_t line = 0;   // 1-based line the record starts on
  std::string hash;   // 64 lowercase hex digits
  std::string label;  // class name as written (trimmed); "" = no change
};

// Reads the records of a relabels file: the header check, the field count
// and the hash of every row. Labels are not checked against any classes
// (`kiln review` uses this to see whether a person filled any in). `path`
// is only for the messages.
bool ReadRelabelRows(const std::string& text, const std::string& path,
                     std::vector<RelabelRow>* rows, std::string* error);

struct RelabelFix {
  int32_t label = 0;  // class id in the dataset's class_names
  int64_t line = 0;   // the first row that gave it
};

struct RelabelTable {
  size_t rows = 0;         // data records in the file
  size_t filled_rows = 0;  // of those, with a non-empty label
  // Content hash -> the fix. Hashes whose rows all have an empty label are
  // not here.
  std::map<std::string, RelabelFix> fixes;
};

// Parses relabels text against the dataset's classes (a label must be one
// of class_names, exactly).
bool ParseRelabels(const std::string& text, const std::string& path,
                   const std::vector<std::string>& class_names,
                   RelabelTable* table, std::string* error);
// Reads and parses the file `path`.
bool LoadRelabels(const std::string& path,
                  const std::vector<std::string>& class_names,
                  RelabelTable* table, std::string* error);

struct RelabelStats {
  size_t rows = 0;             // data records in the file
  size_t fixes = 0;            // distinct hashes given a label
  size_t applied = 0;          // of those, hashes some sample has
  size_t applied_rows = 0;     // filled rows whose hash some sample has
  size_t unknown_hashes = 0;   // fixes whose hash no sample has
  size_t matched_samples = 0;  // samples with a fixed hash
  size_t changed_samples = 0;  // of those, samples whose label changed
};

// Applies `table` to the samples whose content hashes are `content_hashes`
// (ContentHashes(*dataset), one per sample). *stats may be null.
bool ApplyRelabelTable(const RelabelTable& table,
                       const std::vector<std::string>& content_hashes,
                       Dataset* dataset, RelabelStats* stats,
                       std::string* error);

// Loads `csv_path` and applies it to *dataset (a classification dataset).
// On failure *dataset is unchanged.
bool ApplyRelabels(const std::string& csv_path, Dataset* dataset,
                   std::string* error);
// The same, with the counts (for the unknown-hash warning).
bool ApplyRelabels(const std::string& csv_path, Dataset* dataset,
                   RelabelStats* stats, std::string* error);

}  // namespace data
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_DATA_RELABELS_H_
