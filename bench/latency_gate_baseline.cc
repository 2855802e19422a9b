#include "bench/latency_gate_baseline.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace kiln {
namespace gate {
namespace {

constexpr const char* kHeader =
    "# Kiln latency gate baseline (bench/latency_gate.cc, "
    "docs/reliability.md).\n"
    "# score = p10(workload time per invoke) / p10(reference loop time),\n"
    "# both measured interleaved in one run. Written by\n"
    "#   scripts/check_latency.sh --write-baseline\n"
    "# path workload score cpu\n";

}  // namespace

bool ReadBaseline(const std::string& file, std::vector<BaselineEntry>* out,
                  std::string* error) {
  out->clear();
  std::ifstream in(file);
  if (!in) return true;  // no baseline yet: every lookup misses
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    std::istringstream fields(line);
    BaselineEntry e;
    if (!(fields >> e.path >> e.workload >> e.score) || !(e.score > 0)) {
      *error = file + ":" + std::to_string(line_no) +
               ": expected '<path> <workload> <score> <cpu>'";
      return false;
    }
    std::getline(fields >> std::ws, e.cpu);
    out->push_back(e);
  }
  return true;
}

const BaselineEntry* FindBaseline(const std::vector<BaselineEntry>& entries,
                                  const std::string& path,
                                  const std::string& workload) {
  for (const BaselineEntry& e : entries) {
    if (e.path == path && e.workload == workload) return &e;
  }
  return nullptr;
}

bool WriteBaseline(const std::string& file,
                   const std::vector<BaselineEntry>& old_entries,
                   const std::vector<BaselineEntry>& fresh,
                   std::string* error) {
  std::vector<BaselineEntry> all;
  for (const BaselineEntry& e : old_entries) {
    const bool replaced =
        std::any_of(fresh.begin(), fresh.end(),
                    [&](const BaselineEntry& f) { return f.path == e.path; });
    if (!replaced) all.push_back(e);
  }
  all.insert(all.end(), fresh.begin(), fresh.end());
  std::stable_sort(all.begin(), all.end(),
                   [](const BaselineEntry& a, const BaselineEntry& b) {
                     return a.path < b.path;
                   });
  // Same directory as the target, so rename() replaces it atomically: a
  // reader (or a crash) sees the old file or the new one, never half.
  const std::string tmp = file + ".tmp." + std::to_string(getpid());
  FILE* f = fopen(tmp.c_str(), "w");
  if (f == nullptr) {
    *error = "cannot write " + tmp + ": " + strerror(errno);
    return false;
  }
  fputs(kHeader, f);
  for (const BaselineEntry& e : all) {
    fprintf(f, "%s %s %.6g %s\n", e.path.c_str(), e.workload.c_str(), e.score,
            e.cpu.c_str());
  }
  const bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
  if (fclose(f) != 0 || !ok || rename(tmp.c_str(), file.c_str()) != 0) {
    *error = "cannot write " + file + ": " + strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace gate
}  // namespace kiln
