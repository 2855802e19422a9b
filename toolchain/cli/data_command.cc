// kiln data SPEC [--manifest FILE] [--seed N] [--ratios T,V,E]
//                [--relabels CSV] [--no-source-splits] [--json]
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <string>
#include <vector>

#include "toolchain/cli/command.h"
#include "toolchain/cli/json_writer.h"
#include "toolchain/cli/number_format.h"
#include "toolchain/data/content_hash.h"
#include "toolchain/data/dataset.h"
#include "toolchain/data/relabels.h"
#include "toolchain/data/sources.h"
#include "toolchain/data/split_manifest.h"

namespace kiln {
namespace cli {

const char kDataUsage[] =
    "usage: kiln data SPEC [--manifest FILE] [--seed N] [--ratios T,V,E]\n"
    "                 [--relabels CSV] [--no-source-splits] [--json]\n"
    "\n"
    "Opens the dataset SPEC, assigns every sample a train/valid/test split by\n"
    "its content hash and prints what it found: the item shape and type, the\n"
    "classes, the dataset hash (a model's training_data_hash), the samples\n"
    "per split and per class, and the exact duplicates (which always share a\n"
    "split).\n"
    "\n"
    "SPEC is one of:\n"
    "  fashion-mnist[:DIR]       Fashion-MNIST IDX files (default DIR\n"
    "                            /usr/share/datasets/fashion-mnist); its\n"
    "                            official test set stays the test set\n"
    "  digits[:PATH]             scikit-learn digits CSV (default: the\n"
    "                            vendored copy)\n"
    "  images:DIR[:HxWxC][:resize=nearest|bilinear]\n"
    "                            DIR/<class>/*.png|jpg|jpeg|bmp\n"
    "  csv:PATH:label=COLUMN     tabular classification\n"
    "  csv:PATH:target=COLUMN[,COLUMN...]\n"
    "                            tabular regression\n"
    "\n"
    "With --manifest the splits persist: FILE (if it exists) gives every\n"
    "sample it knows its stored split, only new samples are assigned, and\n"
    "FILE is rewritten atomically with them. A manifest keeps the seed and\n"
    "ratios it was made with; passing others is an error (start a new\n"
    "manifest to change them).\n"
    "\n"
    "With --relabels the label fixes in CSV (columns hash and label, e.g.\n"
    "the relabels.csv 'kiln review' writes, filled in) are applied first, so\n"
    "the dataset hash and the per-class counts are those of the fixed data.\n"
    "Splits are keyed by content, not label: a relabelled sample keeps its\n"
    "split.\n"
    "\n"
    "options:\n"
    "  --manifest FILE     load, extend and save the split manifest FILE\n"
    "  --seed N            seed of the split assignment (default 1)\n"
    "  --ratios T,V,E      train, valid and test fractions, summing to 1\n"
    "                      (default 0.7,0.15,0.15)\n"
    "  --relabels CSV      apply the label fixes in CSV (by content hash)\n"
    "  --no-source-splits  ignore the splits the source prescribes and\n"
    "                      assign new samples by hash alone\n"
    "  --json              print JSON instead of text\n"
    "  -h, --help          show this help\n"
    "\n"
    "exit status: 0 ok, 1 unreadable dataset or manifest, 2 bad usage\n";

namespace {

constexpr data::Split kSplits[] = {data::Split::kTrain, data::Split::kValid,
                                   data::Split::kTest};

struct DataArgs {
  std::string spec;
  std::string manifest;
  std::string relabels;
  data::SplitOptions options;
  bool seed_given = false;
  bool ratios_given = false;
  bool json = false;
};

int UsageError(const std::string& message) {
  fprintf(stderr, "kiln data: %s\n(run 'kiln data --help')\n", message.c_str());
  return kExitUsage;
}

int Failure(std::string message) {
  while (!message.empty() && message.back() == '\n') message.pop_back();
  fprintf(stderr, "kiln data: %s\n", message.c_str());
  return kExitFailure;
}

// "0.7,0.15,0.15" -> the options' ratios. Returns an error message or "".
std::string ParseRatios(const std::string& text, data::SplitOptions* o) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t comma; (comma = text.find(',', start)) != std::string::npos;
       start = comma + 1) {
    parts.push_back(text.substr(start, comma - start));
  }
  parts.push_back(text.substr(start));
  double r[3];
  if (parts.size() != 3 || !data::ParseSplitRatio(parts[0], &r[0]) ||
      !data::ParseSplitRatio(parts[1], &r[1]) ||
      !data::ParseSplitRatio(parts[2], &r[2])) {
    return "--ratios wants three numbers TRAIN,VALID,TEST such as "
           "0.7,0.15,0.15, not '" +
           text + "'";
  }
  std::string error;
  if (!data::ValidateSplitRatios(r[0], r[1], r[2], &error)) {
    return "--ratios: " + error;
  }
  o->train = r[0];
  o->valid = r[1];
  o->test = r[2];
  return "";
}

// Reads the value of option `name` from "--name VALUE" or "--name=VALUE".
// Returns false (the usage error reported in *code) if it is missing.
bool OptionValue(const Args& args, size_t* i, const std::string& name,
                 std::string* value, int* code) {
  const std::string& a = args[*i];
  if (a == name) {
    if (*i + 1 == args.size()) {
      *code = UsageError(name + " needs a value");
      return false;
    }
    *value = args[++*i];
  } else {
    *value = a.substr(name.size() + 1);
  }
  return true;
}

bool IsOption(const std::string& a, const std::string& name) {
  return a == name || a.rfind(name + "=", 0) == 0;
}

// Returns kExitOk, or the exit code of a usage error already reported.
int ParseArgs(const Args& args, DataArgs* out) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string value;
    int code = kExitOk;
    if (a == "--json") {
      out->json = true;
    } else if (a == "--no-source-splits") {
      out->options.honour_source_splits = false;
    } else if (IsOption(a, "--manifest")) {
      if (!OptionValue(args, &i, "--manifest", &value, &code)) return code;
      if (value.empty()) return UsageError("--manifest needs a file name");
      out->manifest = value;
    } else if (IsOption(a, "--relabels")) {
      if (!OptionValue(args, &i, "--relabels", &value, &code)) return code;
      if (value.empty()) return UsageError("--relabels needs a file name");
      out->relabels = value;
    } else if (IsOption(a, "--seed")) {
      if (!OptionValue(args, &i, "--seed", &value, &code)) return code;
      if (!data::ParseSplitSeed(value, &out->options.seed)) {
        return UsageError("--seed wants an integer from 0 to 2^64-1, not '" +
                          value + "'");
      }
      out->seed_given = true;
    } else if (IsOption(a, "--ratios")) {
      if (!OptionValue(args, &i, "--ratios", &value, &code)) return code;
      const std::string error = ParseRatios(value, &out->options);
      if (!error.empty()) return UsageError(error);
      out->ratios_given = true;
    } else if (a.size() > 1 && a[0] == '-') {
      return UsageError("unknown option '" + a + "'");
    } else if (out->spec.empty()) {
      out->spec = a;
    } else {
      return UsageError("more than one SPEC ('" + out->spec + "', '" + a +
                        "')");
    }
  }
  if (out->spec.empty()) return UsageError("missing SPEC");
  return kExitOk;
}

// "1 sample", "2 samples".
std::string Count(size_t n, const char* singular, const char* plural) {
  return std::to_string(n) + " " + (n == 1 ? singular : plural);
}

std::string RuleText(uint64_t seed, double train, double valid, double test) {
  return "seed=" + std::to_string(seed) + " train=" + ShortestDouble(train) +
         " valid=" + ShortestDouble(valid) + " test=" + ShortestDouble(test);
}

std::string ShapeText(const std::vector<int32_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += "x";
    s += std::to_string(shape[i]);
  }
  return s.empty() ? "scalar" : s;
}

const char* TypeName(data::FeatureType t) {
  return t == data::FeatureType::kUint8 ? "uint8" : "float32";
}

const char* TaskName(data::Task t) {
  return t == data::Task::kClassification ? "classification" : "regression";
}

// Everything the report prints.
struct Report {
  const DataArgs* args;
  const data::Dataset* dataset;
  std::string dataset_hash;
  const data::SplitManifest* manifest;  // after assignment
  size_t manifest_entries_before = 0;
  bool manifest_existed = false;
  data::SplitStats stats;
  data::RelabelStats relabels;  // when args->relabels is set
  // Classification: per_class[class][split] sample counts.
  std::vector<std::vector<size_t>> per_class;
};

void PrintText(const Report& r, FILE* out) {
  const data::Dataset& d = *r.dataset;
  const data::SplitStats& s = r.stats;
  const data::SplitManifest& m = *r.manifest;
  fprintf(out, "dataset     %s: %zu samples, %s", d.name.c_str(), d.size(),
          TaskName(d.task));
  if (d.task == data::Task::kClassification) {
    fprintf(out, ", %zu classes\n", d.class_names.size());
  } else {
    fprintf(out, ", %d targets\n", d.target_dim);
  }
  fprintf(out, "item        %s %s\n", ShapeText(d.item_shape).c_str(),
          TypeName(d.feature_type));
  fprintf(out, "hash        %s\n", r.dataset_hash.c_str());
  if (!r.args->relabels.empty()) {
    const data::RelabelStats& x = r.relabels;
    fprintf(out, "relabels    %s: %s, %s changed", r.args->relabels.c_str(),
            Count(x.fixes, "fix", "fixes").c_str(),
            Count(x.changed_samples, "sample", "samples").c_str());
    if (x.unknown_hashes != 0) {
      fprintf(out, ", %s not in the dataset",
              Count(x.unknown_hashes, "hash", "hashes").c_str());
    }
    fprintf(out, "\n");
  }
  fprintf(out, "split rule  %s%s, source splits %s\n",
          RuleText(m.seed, m.train, m.valid, m.test).c_str(),
          r.manifest_existed ? " (from the manifest)" : "",
          r.args->options.honour_source_splits ? "honoured" : "ignored");
  if (r.args->manifest.empty()) {
    fprintf(out,
            "manifest    none (pass --manifest FILE to keep these splits)\n");
  } else if (r.manifest_existed) {
    fprintf(out, "manifest    %s: %zu entries, %zu after this run, saved\n",
            r.args->manifest.c_str(), r.manifest_entries_before,
            m.splits.size());
  } else {
    fprintf(out, "manifest    %s: new, %zu entries, saved\n",
            r.args->manifest.c_str(), m.splits.size());
  }

  fprintf(out, "\nsplit     samples  hashes kept  hashes new\n");
  size_t total[3] = {0, 0, 0};
  for (data::Split split : kSplits) {
    const int k = static_cast<int>(split);
    fprintf(out, "%-7s %9zu  %11zu  %10zu\n", data::SplitName(split),
            s.samples[k], s.kept[k], s.added[k]);
    total[0] += s.samples[k];
    total[1] += s.kept[k];
    total[2] += s.added[k];
  }
  fprintf(out, "%-7s %9zu  %11zu  %10zu\n", "total", total[0], total[1],
          total[2]);

  fprintf(
      out, "\nduplicates  %s an earlier one (%s",
      Count(s.duplicate_samples, "sample repeats", "samples repeat").c_str(),
      Count(s.duplicate_groups, "group", "groups").c_str());
  if (d.task == data::Task::kClassification) {
    fprintf(out, ", %zu with conflicting labels", s.label_conflict_groups);
  }
  fprintf(out, ")\n");
  const bool any_source =
      std::any_of(d.source_splits.begin(), d.source_splits.end(),
                  [](data::Split x) { return x != data::Split::kNone; });
  if (r.args->options.honour_source_splits && any_source) {
    fprintf(
        out, "source      %s the source's split, %s another split\n",
        Count(s.added_from_source, "new hash took", "new hashes took").c_str(),
        Count(s.source_overridden, "sample kept", "samples kept").c_str());
  }
  if (s.manifest_unused != 0) {
    fprintf(
        out, "unused      %s no sample here\n",
        Count(s.manifest_unused, "manifest entry has", "manifest entries have")
            .c_str());
  }

  if (!r.per_class.empty()) {
    size_t width = 5;
    for (const std::string& name : d.class_names) {
      width = std::max(width, name.size());
    }
    fprintf(out, "\n%-*s  %8s %8s %8s\n", static_cast<int>(width), "class",
            "train", "valid", "test");
    for (size_t c = 0; c < r.per_class.size(); ++c) {
      fprintf(out, "%-*s  %8zu %8zu %8zu\n", static_cast<int>(width),
              d.class_names[c].c_str(), r.per_class[c][0], r.per_class[c][1],
              r.per_class[c][2]);
    }
  }
}

void PrintJson(const Report& r, FILE* out) {
  const data::Dataset& d = *r.dataset;
  const data::SplitStats& s = r.stats;
  const data::SplitManifest& m = *r.manifest;
  JsonWriter j(out);
  j.BeginObject();
  j.Key("dataset").BeginObject();
  j.Key("spec").String(r.args->spec);
  j.Key("name").String(d.name);
  j.Key("samples").Uint(d.size());
  j.Key("task").String(TaskName(d.task));
  j.Key("item_shape").IntArray(d.item_shape);
  j.Key("feature_type").String(TypeName(d.feature_type));
  if (d.task == data::Task::kClassification) {
    j.Key("classes").BeginArray();
    for (const std::string& name : d.class_names) j.String(name);
    j.EndArray();
  } else {
    j.Key("target_dim").Int(d.target_dim);
  }
  j.Key("hash").String(r.dataset_hash);
  j.EndObject();

  j.Key("rule").BeginObject();
  j.Key("seed").Uint(m.seed);
  j.Key("train").Double(m.train);
  j.Key("valid").Double(m.valid);
  j.Key("test").Double(m.test);
  j.Key("honour_source_splits").Bool(r.args->options.honour_source_splits);
  j.Key("from_manifest").Bool(r.manifest_existed);
  j.EndObject();

  j.Key("relabels");
  if (r.args->relabels.empty()) {
    j.Null();
  } else {
    const data::RelabelStats& x = r.relabels;
    j.BeginObject();
    j.Key("path").String(r.args->relabels);
    j.Key("rows").Uint(x.rows);
    j.Key("fixes").Uint(x.fixes);
    j.Key("applied").Uint(x.applied);
    j.Key("unknown_hashes").Uint(x.unknown_hashes);
    j.Key("matched_samples").Uint(x.matched_samples);
    j.Key("changed_samples").Uint(x.changed_samples);
    j.EndObject();
  }

  j.Key("manifest");
  if (r.args->manifest.empty()) {
    j.Null();
  } else {
    j.BeginObject();
    j.Key("path").String(r.args->manifest);
    j.Key("existed").Bool(r.manifest_existed);
    j.Key("entries_before").Uint(r.manifest_entries_before);
    j.Key("entries_after").Uint(m.splits.size());
    j.Key("unused_entries").Uint(s.manifest_unused);
    j.Key("saved").Bool(true);
    j.EndObject();
  }

  j.Key("splits").BeginObject();
  for (data::Split split : kSplits) {
    const int k = static_cast<int>(split);
    j.Key(data::SplitName(split)).BeginObject();
    j.Key("samples").Uint(s.samples[k]);
    j.Key("hashes_kept").Uint(s.kept[k]);
    j.Key("hashes_new").Uint(s.added[k]);
    if (!r.per_class.empty()) {
      std::vector<uint64_t> counts;
      for (const std::vector<size_t>& c : r.per_class) counts.push_back(c[k]);
      j.Key("per_class").IntArray(counts);
    }
    j.EndObject();
  }
  j.EndObject();

  j.Key("duplicates").BeginObject();
  j.Key("samples").Uint(s.duplicate_samples);
  j.Key("groups").Uint(s.duplicate_groups);
  j.Key("label_conflict_groups").Uint(s.label_conflict_groups);
  j.EndObject();

  j.Key("source_splits").BeginObject();
  j.Key("new_hashes_from_source").Uint(s.added_from_source);
  j.Key("samples_overridden").Uint(s.source_overridden);
  j.EndObject();
  j.EndObject();
}

}  // namespace

int RunData(const Args& args) {
  DataArgs opts;
  if (const int code = ParseArgs(args, &opts); code != kExitOk) return code;

  // The manifest first: a bad one fails before the dataset is read.
  data::SplitManifest manifest;
  std::string error;
  if (!opts.manifest.empty() &&
      !data::LoadSplitManifest(opts.manifest, &manifest, &error)) {
    return Failure(error);
  }
  Report report;
  report.args = &opts;
  report.manifest_existed = manifest.has_rule;
  report.manifest_entries_before = manifest.splits.size();
  if (manifest.has_rule && (opts.seed_given || opts.ratios_given) &&
      !data::ManifestRuleMatches(manifest, opts.options)) {
    return Failure(
        opts.manifest + " was made with " +
        RuleText(manifest.seed, manifest.train, manifest.valid, manifest.test) +
        " and assigns new samples with those; --seed/--ratios ask for " +
        RuleText(opts.options.seed, opts.options.train, opts.options.valid,
                 opts.options.test) +
        ". Pass the manifest's values (or neither option), or start a new "
        "manifest file.");
  }

  data::Dataset dataset;
  if (!data::OpenDataset(opts.spec, &dataset, &error)) return Failure(error);
  std::vector<std::string> hashes;
  if (!data::ContentHashes(dataset, &hashes, &error)) return Failure(error);
  report.dataset = &dataset;
  // Label fixes change labels only: the content hashes (and so the splits)
  // stay, the dataset hash and the class counts follow the fixed labels.
  if (!opts.relabels.empty()) {
    data::RelabelTable table;
    if (dataset.task != data::Task::kClassification) {
      return Failure(opts.relabels + ": dataset '" + dataset.name +
                     "' is a regression dataset: there are no labels to fix");
    }
    if (!data::LoadRelabels(opts.relabels, dataset.class_names, &table,
                            &error) ||
        !data::ApplyRelabelTable(table, hashes, &dataset, &report.relabels,
                                 &error)) {
      return Failure(error);
    }
    if (report.relabels.unknown_hashes != 0) {
      fprintf(
          stderr, "kiln data: warning: %s: %s no sample of this dataset has\n",
          opts.relabels.c_str(),
          Count(report.relabels.unknown_hashes, "fixed hash", "fixed hashes")
              .c_str());
    }
  }
  report.dataset_hash = data::DatasetHash(dataset, hashes);

  std::vector<data::Split> splits;
  if (!data::AssignSplitsByHash(dataset, hashes, opts.options, &manifest,
                                &splits, &report.stats, &error)) {
    return Failure(error);
  }
  report.manifest = &manifest;
  if (!opts.manifest.empty() &&
      !data::SaveSplitManifest(opts.manifest, manifest, &error)) {
    return Failure(error);
  }
  if (dataset.task == data::Task::kClassification) {
    report.per_class.assign(dataset.class_names.size(),
                            std::vector<size_t>(3, 0));
    for (size_t i = 0; i < dataset.size(); ++i) {
      ++report.per_class[static_cast<size_t>(dataset.labels[i])]
                        [static_cast<size_t>(splits[i])];
    }
  }
  if (opts.json) {
    PrintJson(report, stdout);
  } else {
    PrintText(report, stdout);
  }
  return kExitOk;
}

}  // namespace cli
}  // namespace kiln
