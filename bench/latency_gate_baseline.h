// The latency gate's committed baseline (bench/latency_baseline.txt): one
// line per kernel path and workload,
//
//   <path> <workload> <score> <cpu model string, rest of the line>
//
// where score = p10(workload time) / p10(reference loop time) measured in
// one run (bench/latency_gate_measure.h). Lines starting with '#' are comments.
#ifndef KILN_BENCH_LATENCY_GATE_BASELINE_H_
#define KILN_BENCH_LATENCY_GATE_BASELINE_H_

#include <string>
#include <vector>

namespace kiln {
namespace gate {

struct BaselineEntry {
  std::string path;
  std::string workload;
  double score = 0;
  std::string cpu;
};

// Reads `file`. A missing file is an empty baseline (returns true); a
// malformed line is an error.
bool ReadBaseline(const std::string& file, std::vector<BaselineEntry>* out,
                  std::string* error);

// The entry for (path, workload), or null.
const BaselineEntry* FindBaseline(const std::vector<BaselineEntry>& entries,
                                  const std::string& path,
                                  const std::string& workload);

// Replaces every entry of the kernel paths present in `fresh` by `fresh`,
// keeps the other paths' entries, and writes the file atomically (a
// temporary file in the same directory, then rename).
bool WriteBaseline(const std::string& file,
                   const std::vector<BaselineEntry>& old_entries,
                   const std::vector<BaselineEntry>& fresh, std::string* error);

}  // namespace gate
}  // namespace kiln

#endif  // KILN_BENCH_LATENCY_GATE_BASELINE_H_
