// Persistent train/valid/test splits.
//
// Every sample is assigned to a split by its content hash (content_hash.h),
// and the assignments are kept in a split manifest file. Re-running with
// more samples keeps every assignment already in the manifest and assigns
// only the hashes it has not seen; exact duplicates share one hash and so
// one split, so no image can be trained on and tested on.
//
// A new hash is assigned by (seed, hash) alone: u = the first 64 bits of
// SHA-256("kiln-split-v1\0" || seed as 8 bytes little-endian || the hash's
// 64 hex digits), read big-endian and scaled to [0, 1), goes to train if
// u < train, else to valid if u < train + valid, else to test (a split with
// ratio 0 never gets anything). It does not depend on the order of the
// samples nor on which other samples exist.
//
// Source splits: with honour_source_splits, a new hash whose sample carries
// a source split (Dataset::source_splits, e.g. Fashion-MNIST's official test
// files) takes that split instead. A hash already in the manifest keeps its
// stored split whatever the source says. When one new hash occurs several
// times in a run, all its samples take one split: the source split if any
// occurrence has one (test before valid before train, so an official test
// image is never moved into training by a duplicate of it in the training
// files), otherwise the hashed split. This rule, unlike "the first
// occurrence wins", does not depend on the sample order.
//
// Seed and ratios belong to the manifest: the file records the seed and
// ratios its assignments were made with, and new hashes are always
// assigned with the manifest's own seed and ratios, even when the options
// passed to AssignSplits differ (SplitStats::rule_from_manifest says so).
// A manifest therefore never mixes two rules, and re-running a command with
// another --seed cannot silently reshuffle its growth. To change the seed
// or ratios, start a new manifest. An empty manifest (a first run, a
// missing file) adopts the options' seed and ratios.
//
// The file is text, one line per hash, sorted by hash:
//
//   # kiln-split-manifest v1 seed=1 train=0.7 valid=0.15 test=0.15
//   0a1b...(64 lowercase hex digits)<TAB>train
//   0a1c...<TAB>test
//
// The header is always the first line; the numbers are the shortest text
// that reads back as the same double. Loading is strict (no blank lines,
// comments or CR; errors name path:line) except that the entries may come
// in any order and a hash may repeat with the same split.
#ifndef KILN_TOOLCHAIN_DATA_SPLIT_MANIFEST_H_
#define KILN_TOOLCHAIN_DATA_SPLIT_MANIFEST_H_

#include <stddef.h>
#include <stdint.h>

#include <map>
#include <string>
#include <vector>

#include "toolchain/data/dataset.h"

namespace kiln {
namespace data {

struct SplitOptions {
  double train = 0.70, valid = 0.15, test = 0.15;
  uint64_t seed = 1;
  bool honour_source_splits = true;
};

// Ratios must be finite, non-negative and sum to 1 within 1e-9.
bool ValidateSplitRatios(double train, double valid, double test,
                         std::string* error);

struct SplitManifest {
  // The seed and ratios new hashes are assigned with. has_rule is false
  // only for a manifest nothing was loaded into or assigned yet.
  bool has_rule = false;
  uint64_t seed = 0;
  double train = 0, valid = 0, test = 0;
  // Content hash -> kTrain, kValid or kTest. Entries whose samples are no
  // longer in the dataset stay: they come back to the same split.
  std::map<std::string, Split> splits;
};

// Whether new hashes would be assigned by exactly the options' seed and
// ratios (true for a manifest without a rule yet).
bool ManifestRuleMatches(const SplitManifest& manifest,
                         const SplitOptions& options);

// The hashed split of a new content hash (the rule above). The ratios must
// be valid.
Split HashedSplit(const std::string& content_hash, uint64_t seed, double train,
                  double valid, double test);

struct SplitStats {
  // Indexed by static_cast<int>(Split): kTrain, kValid, kTest.
  size_t samples[3] = {0, 0, 0};  // samples in each split
  size_t kept[3] = {0, 0, 0};     // distinct hashes found in the manifest
  size_t added[3] = {0, 0, 0};    // distinct hashes assigned by this run
  size_t added_from_source = 0;   // of the added: took their source split
  // Samples whose hash occurs earlier in the dataset (size() minus the
  // number of distinct hashes), and the distinct hashes occurring more than
  // once; of those, how many carry more than one label (classification).
  size_t duplicate_samples = 0;
  size_t duplicate_groups = 0;
  size_t label_conflict_groups = 0;
  // Samples with a source split that ended up in another split (kept from
  // the manifest, or a duplicate of a sample with a stronger source split).
  size_t source_overridden = 0;
  // Manifest entries (from before this run) with no sample in the dataset.
  size_t manifest_unused = 0;
  // True when the manifest's seed/ratios differ from the options' and were
  // used for the new hashes.
  bool rule_from_manifest = false;
};

// Assigns every sample of `dataset` a split: its manifest entry if the
// manifest has its hash, otherwise a new one, which is added to *manifest.
// *per_sample (if not null) gets one split per sample, *stats (if not null)
// the counts. False and *error (nothing changed) if the dataset's arrays are
// inconsistent or the ratios are invalid.
bool AssignSplits(const Dataset& dataset, const SplitOptions& options,
                  SplitManifest* manifest, std::vector<Split>* per_sample,
                  SplitStats* stats, std::string* error);
// The same with ContentHashes(dataset) already computed.
bool AssignSplitsByHash(const Dataset& dataset,
                        const std::vector<std::string>& content_hashes,
                        const SplitOptions& options, SplitManifest* manifest,
                        std::vector<Split>* per_sample, SplitStats* stats,
                        std::string* error);

// The manifest file's text. The manifest must have a rule.
std::string SplitManifestText(const SplitManifest& manifest);
// Parses a manifest file's text; `path` is only for the error messages
// ("path:line: ...").
bool ParseSplitManifest(const std::string& text, const std::string& path,
                        SplitManifest* manifest, std::string* error);

// Loads a manifest file. A missing file is an empty manifest (no rule, no
// entries): the first run.
bool LoadSplitManifest(const std::string& path, SplitManifest* manifest,
                       std::string* error);
// Writes the manifest with WriteFileAtomic: readers see the old file or the
// new one, never a torn mix. False if it has no rule, an entry is not a
// hash or not train/valid/test, or the write fails.
bool SaveSplitManifest(const std::string& path, const SplitManifest& manifest,
                       std::string* error);

// The manifest's number syntax, shared with `kiln data`'s flags: a seed is
// 1..20 decimal digits fitting uint64; a ratio is plain decimal notation
// (no blanks, hex, inf or nan).
bool ParseSplitSeed(const std::string& text, uint64_t* seed);
bool ParseSplitRatio(const std::string& text, double* value);

}  // namespace data
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_DATA_SPLIT_MANIFEST_H_
