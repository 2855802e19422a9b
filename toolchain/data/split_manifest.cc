#include "toolchain/data/split_manifest.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <unordered_map>

#include "toolchain/atomic_file.h"
#include "toolchain/data/content_hash.h"
#include "toolchain/serialize.h"

namespace kiln {
namespace data {
namespace {

constexpr char kHeaderPrefix[] = "# kiln-split-manifest ";
constexpr char kVersion[] = "v1";

bool IsAssigned(Split s) {
  return s == Split::kTrain || s == Split::kValid || s == Split::kTest;
}

bool ParseSplitName(const std::string& text, Split* split) {
  for (Split s : {Split::kTrain, Split::kValid, Split::kTest}) {
    if (text == SplitName(s)) {
      *split = s;
      return true;
    }
  }
  return false;
}

// Which source split wins when duplicates disagree: test, valid, train.
int SourceRank(Split s) {
  switch (s) {
    case Split::kTest:
      return 3;
    case Split::kValid:
      return 2;
    case Split::kTrain:
      return 1;
    case Split::kNone:
      break;
  }
  return 0;
}

// The shortest %g text that strtod reads back as the same double.
std::string ShortestDouble(double v) {
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string RuleText(uint64_t seed, double train, double valid, double test) {
  return "seed=" + std::to_string(seed) + " train=" + ShortestDouble(train) +
         " valid=" + ShortestDouble(valid) + " test=" + ShortestDouble(test);
}

bool ParseSeedText(const std::string& text, uint64_t* seed) {
  if (text.empty() || text.size() > 20) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  errno = 0;
  const unsigned long long v = strtoull(text.c_str(), nullptr, 10);
  if (errno == ERANGE) return false;
  *seed = v;
  return true;
}

bool ParseRatioText(const std::string& text, double* value) {
  // strtod would also take leading blanks, hex floats, "inf" and "nan";
  // allow only plain decimal notation.
  if (text.empty()) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' ||
          c == '-' || c == '+')) {
      return false;
    }
  }
  char* end = nullptr;
  *value = strtod(text.c_str(), &end);
  return end == text.c_str() + text.size();
}

std::vector<std::string> SplitOn(const std::string& text, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(sep, start);
    if (at == std::string::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, at - start));
    start = at + 1;
  }
}

bool ParseHeader(const std::string& line, SplitManifest* m, std::string* why) {
  const std::string prefix = kHeaderPrefix;
  if (line.compare(0, prefix.size(), prefix) != 0) {
    *why = "not a kiln split manifest: the first line must start with '" +
           prefix + "'";
    return false;
  }
  const std::vector<std::string> fields =
      SplitOn(line.substr(prefix.size()), ' ');
  if (fields[0] != kVersion) {
    *why = "unsupported manifest version '" + fields[0] +
           "' (this kiln reads " + kVersion + ")";
    return false;
  }
  static const char* const kKeys[] = {"seed", "train", "valid", "test"};
  if (fields.size() != 5) {
    *why =
        "bad header: expected 'v1 seed=N train=R valid=R test=R' after "
        "'# kiln-split-manifest'";
    return false;
  }
  double ratios[3];
  for (int k = 0; k < 4; ++k) {
    const std::string key = std::string(kKeys[k]) + "=";
    const std::string& field = fields[k + 1];
    if (field.compare(0, key.size(), key) != 0) {
      *why = "bad header: expected '" + key + "...', found '" + field + "'";
      return false;
    }
    const std::string value = field.substr(key.size());
    const bool ok = k == 0 ? ParseSeedText(value, &m->seed)
                           : ParseRatioText(value, &ratios[k - 1]);
    if (!ok) {
      *why = std::string("bad header: ") + kKeys[k] + " '" + value +
             "' is not " +
             (k == 0 ? "an integer from 0 to 2^64-1" : "a decimal number");
      return false;
    }
  }
  std::string error;
  if (!ValidateSplitRatios(ratios[0], ratios[1], ratios[2], &error)) {
    *why = "bad header: " + error;
    return false;
  }
  m->has_rule = true;
  m->train = ratios[0];
  m->valid = ratios[1];
  m->test = ratios[2];
  return true;
}

struct Group {
  size_t count = 0;
  int32_t label = 0;
  bool label_conflict = false;
  Split source = Split::kNone;  // the strongest source split of the group
  Split split = Split::kNone;   // the outcome
};

}  // namespace

bool ValidateSplitRatios(double train, double valid, double test,
                         std::string* error) {
  const double ratios[3] = {train, valid, test};
  const char* const names[3] = {"train", "valid", "test"};
  for (int k = 0; k < 3; ++k) {
    if (!std::isfinite(ratios[k]) || ratios[k] < 0) {
      *error = std::string("split ratio ") + names[k] + "=" +
               ShortestDouble(ratios[k]) + " is not a non-negative number";
      return false;
    }
  }
  const double sum = train + valid + test;
  if (fabs(sum - 1.0) > 1e-9) {
    *error = "split ratios train=" + ShortestDouble(train) +
             " valid=" + ShortestDouble(valid) +
             " test=" + ShortestDouble(test) + " sum to " +
             ShortestDouble(sum) + ", not 1";
    return false;
  }
  return true;
}

bool ManifestRuleMatches(const SplitManifest& m, const SplitOptions& o) {
  return !m.has_rule || (m.seed == o.seed && m.train == o.train &&
                         m.valid == o.valid && m.test == o.test);
}

Split HashedSplit(const std::string& content_hash, uint64_t seed, double train,
                  double valid, double test) {
  std::string input("kiln-split-v1", 14);  // with the terminating NUL
  for (int i = 0; i < 8; ++i) {
    input.push_back(static_cast<char>((seed >> (8 * i)) & 0xff));
  }
  input += content_hash;
  const std::string digest = Sha256Hex(input.data(), input.size());
  const uint64_t bits = strtoull(digest.substr(0, 16).c_str(), nullptr, 16);
  const double u = static_cast<double>(bits >> 11) * 0x1p-53;  // [0, 1)
  const double ratios[3] = {train, valid, test};
  int last = 2;
  while (last > 0 && ratios[last] <= 0) --last;
  double cumulative = 0;
  for (int k = 0; k < last; ++k) {
    cumulative += ratios[k];
    if (ratios[k] > 0 && u < cumulative) return static_cast<Split>(k);
  }
  return static_cast<Split>(last);
}

bool AssignSplits(const Dataset& dataset, const SplitOptions& options,
                  SplitManifest* manifest, std::vector<Split>* per_sample,
                  SplitStats* stats, std::string* error) {
  std::vector<std::string> hashes;
  if (!ContentHashes(dataset, &hashes, error)) return false;
  return AssignSplitsByHash(dataset, hashes, options, manifest, per_sample,
                            stats, error);
}

bool AssignSplitsByHash(const Dataset& d,
                        const std::vector<std::string>& hashes,
                        const SplitOptions& options, SplitManifest* manifest,
                        std::vector<Split>* per_sample, SplitStats* stats,
                        std::string* error) {
  if (!CheckDatasetShape(d, error)) return false;
  const size_t n = d.size();
  if (hashes.size() != n) {
    *error = std::to_string(hashes.size()) + " content hashes for " +
             std::to_string(n) + " samples";
    return false;
  }
  SplitManifest rule = *manifest;  // only the rule fields are used
  if (!rule.has_rule) {
    rule.seed = options.seed;
    rule.train = options.train;
    rule.valid = options.valid;
    rule.test = options.test;
  }
  if (!ValidateSplitRatios(rule.train, rule.valid, rule.test, error)) {
    return false;
  }
  const bool classification = d.task == Task::kClassification;
  const bool use_source = options.honour_source_splits;

  // Group the samples by hash; every decision is per group, so the order
  // of the samples does not matter.
  std::unordered_map<std::string, Group> groups;
  groups.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    Group& g = groups[hashes[i]];
    const int32_t label = classification ? d.labels[i] : 0;
    if (g.count == 0) {
      g.label = label;
    } else if (label != g.label) {
      g.label_conflict = true;
    }
    ++g.count;
    if (use_source && !d.source_splits.empty() &&
        SourceRank(d.source_splits[i]) > SourceRank(g.source)) {
      g.source = d.source_splits[i];
    }
  }

  SplitStats s;
  s.rule_from_manifest =
      manifest->has_rule && !ManifestRuleMatches(*manifest, options);
  for (const auto& entry : manifest->splits) {
    if (groups.count(entry.first) == 0) ++s.manifest_unused;
  }
  std::vector<std::pair<const std::string*, Split>> added;
  for (auto& [hash, g] : groups) {
    if (g.count > 1) {
      ++s.duplicate_groups;
      s.duplicate_samples += g.count - 1;
      if (g.label_conflict) ++s.label_conflict_groups;
    }
    const auto found = manifest->splits.find(hash);
    if (found != manifest->splits.end()) {
      g.split = found->second;
      if (!IsAssigned(g.split)) {
        *error = "the manifest assigns hash " + hash + " to no split";
        return false;
      }
      ++s.kept[static_cast<int>(g.split)];
      continue;
    }
    if (g.source != Split::kNone) {
      g.split = g.source;
      ++s.added_from_source;
    } else {
      g.split = HashedSplit(hash, rule.seed, rule.train, rule.valid, rule.test);
    }
    ++s.added[static_cast<int>(g.split)];
    added.emplace_back(&hash, g.split);
  }

  std::vector<Split> splits(n);
  for (size_t i = 0; i < n; ++i) {
    const Split split = groups[hashes[i]].split;
    splits[i] = split;
    ++s.samples[static_cast<int>(split)];
    if (!d.source_splits.empty() && d.source_splits[i] != Split::kNone &&
        d.source_splits[i] != split) {
      ++s.source_overridden;
    }
  }

  // Commit only now: on any error above *manifest is unchanged.
  manifest->has_rule = true;
  manifest->seed = rule.seed;
  manifest->train = rule.train;
  manifest->valid = rule.valid;
  manifest->test = rule.test;
  for (const auto& [hash, split] : added) manifest->splits[*hash] = split;
  if (per_sample != nullptr) *per_sample = std::move(splits);
  if (stats != nullptr) *stats = s;
  return true;
}

std::string SplitManifestText(const SplitManifest& m) {
  std::string text = std::string(kHeaderPrefix) + kVersion + " " +
                     RuleText(m.seed, m.train, m.valid, m.test) + "\n";
  text.reserve(text.size() + m.splits.size() * 71);
  for (const auto& [hash, split] : m.splits) {
    text += hash;
    text += '\t';
    text += SplitName(split);
    text += '\n';
  }
  return text;
}

bool ParseSplitManifest(const std::string& text, const std::string& path,
                        SplitManifest* manifest, std::string* error) {
  SplitManifest m;
  std::vector<std::string> lines = SplitOn(text, '\n');
  if (lines.size() > 1 && lines.back().empty()) lines.pop_back();
  // Line number of each hash's first entry, for conflict messages.
  std::unordered_map<std::string, size_t> first_line;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    const std::string where = path + ":" + std::to_string(i + 1) + ": ";
    std::string why;
    if (line.find('\r') != std::string::npos) {
      why = "carriage return in line (CRLF line endings are not allowed)";
    } else if (i == 0) {
      if (line.empty()) {
        why = "empty file: expected the '" + std::string(kHeaderPrefix) +
              "...' header";
      } else {
        ParseHeader(line, &m, &why);
      }
    } else if (line.empty()) {
      why = "empty line";
    } else {
      const size_t tab = line.find('\t');
      Split split = Split::kNone;
      if (tab == std::string::npos) {
        why = "expected 'HASH<TAB>SPLIT', found no tab";
      } else if (!IsSha256Hex(line.substr(0, tab))) {
        why = "'" + line.substr(0, tab) +
              "' is not a content hash (64 lowercase hex digits)";
      } else if (!ParseSplitName(line.substr(tab + 1), &split)) {
        why = "unknown split '" + line.substr(tab + 1) +
              "' (expected train, valid or test)";
      } else {
        const std::string hash = line.substr(0, tab);
        const auto [it, inserted] = m.splits.emplace(hash, split);
        if (inserted) {
          first_line[hash] = i + 1;
        } else if (it->second != split) {
          why = "hash " + hash + " is assigned to " + SplitName(split) +
                ", but to " + SplitName(it->second) + " on line " +
                std::to_string(first_line[hash]);
        }
      }
    }
    if (!why.empty()) {
      *error = where + why;
      return false;
    }
  }
  *manifest = std::move(m);
  return true;
}

bool LoadSplitManifest(const std::string& path, SplitManifest* manifest,
                       std::string* error) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    *manifest = SplitManifest();
    return true;
  }
  std::vector<uint8_t> bytes;
  if (!ReadFileBytes(path, &bytes, error)) {
    *error = "cannot read split manifest: " + *error;
    return false;
  }
  const std::string text(bytes.begin(), bytes.end());
  if (text.find('\0') != std::string::npos) {
    *error = path + ": not a text file (contains NUL bytes)";
    return false;
  }
  return ParseSplitManifest(text, path, manifest, error);
}

bool SaveSplitManifest(const std::string& path, const SplitManifest& manifest,
                       std::string* error) {
  if (!manifest.has_rule) {
    *error = "cannot save split manifest '" + path +
             "': it has no seed and ratios yet (assign splits first)";
    return false;
  }
  if (!ValidateSplitRatios(manifest.train, manifest.valid, manifest.test,
                           error)) {
    *error = "cannot save split manifest '" + path + "': " + *error;
    return false;
  }
  for (const auto& [hash, split] : manifest.splits) {
    if (!IsSha256Hex(hash) || !IsAssigned(split)) {
      *error = "cannot save split manifest '" + path + "': entry '" + hash +
               "' -> " + SplitName(split) +
               " is not a content hash with train, valid or test";
      return false;
    }
  }
  const std::string text = SplitManifestText(manifest);
  if (!WriteFileAtomic(path, std::vector<uint8_t>(text.begin(), text.end()),
                       error)) {
    *error = "cannot save split manifest: " + *error;
    return false;
  }
  return true;
}

bool ParseSplitSeed(const std::string& text, uint64_t* seed) {
  return ParseSeedText(text, seed);
}

bool ParseSplitRatio(const std::string& text, double* value) {
  return ParseRatioText(text, value);
}

}  // namespace data
}  // namespace kiln
