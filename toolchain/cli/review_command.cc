// kiln review MODEL --out DIR [--data SPEC] [--manifest FILE]
//             [--relabels CSV] [--split S] [--head NAME] [--limit N]
//             [--force] [--json]
//
// Runs a compiled model through the runtime on one split and writes what a
// person should look at: DIR/review.html (contact_sheet.h) and
// DIR/relabels.csv, a relabels file (data/relabels.h) with an empty label
// column to fill in.
#include <stdio.h>
#include <sys/stat.h>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <new>
#include <string>
#include <system_error>
#include <vector>

#include "kiln/kiln.h"
#include "toolchain/atomic_file.h"
#include "toolchain/cli/command.h"
#include "toolchain/cli/contact_sheet.h"
#include "toolchain/cli/json_writer.h"
#include "toolchain/cli/model_data.h"
#include "toolchain/cli/number_format.h"
#include "toolchain/data/content_hash.h"
#include "toolchain/data/relabels.h"
#include "toolchain/serialize.h"
#include "toolchain/train/quantize_model.h"

namespace kiln {
namespace cli {

const char kReviewUsage[] =
    "usage: kiln review MODEL --out DIR [--data SPEC] [--manifest FILE]\n"
    "                   [--relabels CSV] [--split test|valid|train|all]\n"
    "                   [--head NAME] [--limit N] [--force] [--json]\n"
    "\n"
    "Runs MODEL through the runtime on a split of its dataset and collects,\n"
    "for every head, the items a person should look at:\n"
    "  misclassified  accepted by the decision layer but wrong (the dangerous\n"
    "                 ones, listed first)\n"
    "  both           sent to fallback, and the top-1 is wrong\n"
    "  fallback       sent to fallback, although the top-1 is right\n"
    "each group by confidence, highest first. It writes\n"
    "  DIR/review.html   a self-contained contact sheet: one card per item\n"
    "                    with its thumbnail (images), content hash, true\n"
    "                    label, predicted top-k, confidence and reason\n"
    "  DIR/relabels.csv  hash,label,index,current,predicted,confidence,reason\n"
    "                    one row per card, label empty. Fill in the right\n"
    "                    class name where the current label is wrong and pass\n"
    "                    the file to 'kiln data --relabels', to 'kiln review\n"
    "                    --relabels' or as the params' \"relabels\".\n"
    "and prints the counts per head and reason.\n"
    "\n"
    "The dataset, manifest and relabels default to those in the model's\n"
    "train_params; splits are read, never written. A DIR/relabels.csv with\n"
    "labels filled in is a person's work: it is not overwritten without\n"
    "--force.\n"
    "\n"
    "options:\n"
    "  --out DIR         where to write review.html and relabels.csv\n"
    "                    (created if missing; required)\n"
    "  --data SPEC       the dataset (default: the model's train_params)\n"
    "  --manifest FILE   the split manifest (default: the train_params')\n"
    "  --relabels CSV    label fixes to apply first (default: the\n"
    "                    train_params')\n"
    "  --split S         test, valid, train or all (default test)\n"
    "  --head NAME       review this head only (default: every head)\n"
    "  --limit N         at most N items per head, the first in the order\n"
    "                    above (the counts still cover all)\n"
    "  --force           overwrite a DIR/relabels.csv with filled-in labels\n"
    "  --json            print the summary as JSON\n"
    "  -h, --help        show this help\n"
    "\n"
    "exit status: 0 ok, 1 unreadable model or data, refused overwrite or\n"
    "failed write, 2 bad usage (including an unknown head)\n";

namespace {

constexpr size_t kBatch = 256;
constexpr int kReasons = 3;

struct ReviewArgs {
  std::string model;
  std::string out;
  ModelDataOptions data;
  std::string split = "test";
  std::string head;
  size_t limit = 0;  // 0: no limit
  bool force = false;
  bool json = false;
};

int UsageError(const std::string& message) {
  fprintf(stderr, "kiln review: %s\n(run 'kiln review --help')\n",
          message.c_str());
  return kExitUsage;
}

int Failure(std::string message) {
  while (!message.empty() && message.back() == '\n') message.pop_back();
  fprintf(stderr, "kiln review: %s\n", message.c_str());
  return kExitFailure;
}

bool IsOption(const std::string& a, const std::string& name) {
  return a == name || a.rfind(name + "=", 0) == 0;
}

// The value of "--name VALUE" or "--name=VALUE"; false (the usage error in
// *code) when it is missing or empty.
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
  if (value->empty()) {
    *code = UsageError(name + " needs a value");
    return false;
  }
  return true;
}

bool ParseLimit(const std::string& text, size_t* limit) {
  if (text.empty() || text.size() > 9) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  *limit = static_cast<size_t>(std::stoul(text));
  return *limit >= 1;
}

// Returns kExitOk, or the exit code of a usage error already reported.
int ParseArgs(const Args& args, ReviewArgs* out) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string value;
    int code = kExitOk;
    if (a == "--json") {
      out->json = true;
    } else if (a == "--force") {
      out->force = true;
    } else if (IsOption(a, "--out")) {
      if (!OptionValue(args, &i, "--out", &value, &code)) return code;
      out->out = value;
    } else if (IsOption(a, "--data")) {
      if (!OptionValue(args, &i, "--data", &value, &code)) return code;
      out->data.dataset = value;
    } else if (IsOption(a, "--manifest")) {
      if (!OptionValue(args, &i, "--manifest", &value, &code)) return code;
      out->data.manifest = value;
    } else if (IsOption(a, "--relabels")) {
      if (!OptionValue(args, &i, "--relabels", &value, &code)) return code;
      out->data.relabels = value;
    } else if (IsOption(a, "--split")) {
      if (!OptionValue(args, &i, "--split", &value, &code)) return code;
      if (value != "test" && value != "valid" && value != "train" &&
          value != "all") {
        return UsageError("--split wants test, valid, train or all, not '" +
                          value + "'");
      }
      out->split = value;
    } else if (IsOption(a, "--head")) {
      if (!OptionValue(args, &i, "--head", &value, &code)) return code;
      out->head = value;
    } else if (IsOption(a, "--limit")) {
      if (!OptionValue(args, &i, "--limit", &value, &code)) return code;
      if (!ParseLimit(value, &out->limit)) {
        return UsageError(
            "--limit wants an integer from 1 to 999999999, not '" + value +
            "'");
      }
    } else if (a.size() > 1 && a[0] == '-') {
      return UsageError("unknown option '" + a + "'");
    } else if (out->model.empty()) {
      out->model = a;
    } else {
      return UsageError("more than one MODEL ('" + out->model + "', '" + a +
                        "')");
    }
  }
  if (out->model.empty()) return UsageError("missing MODEL");
  if (out->out.empty()) return UsageError("missing --out DIR");
  return kExitOk;
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// "" if `path` may be (over)written, else why not. A relabels file with a
// label filled in (or one that cannot be read as a relabels file) is a
// person's work.
std::string CheckOverwrite(const std::string& path) {
  if (!Exists(path)) return "";
  std::vector<uint8_t> bytes;
  std::string error;
  if (!ReadFileBytes(path, uint64_t{256} << 20, &bytes, &error)) {
    return path + " exists and cannot be read (" + error + ")";
  }
  std::vector<data::RelabelRow> rows;
  if (!data::ReadRelabelRows(std::string(bytes.begin(), bytes.end()), path,
                             &rows, &error)) {
    return path + " exists and is not a relabels file this command wrote (" +
           error + ")";
  }
  const size_t filled =
      std::count_if(rows.begin(), rows.end(),
                    [](const data::RelabelRow& r) { return !r.label.empty(); });
  if (filled == 0) return "";
  return path + " has " + std::to_string(filled) + " label" +
         (filled == 1 ? "" : "s") + " filled in";
}

// A CSV field, quoted when it has to be (the tokenizer trims unquoted
// blanks, so leading or trailing ones need quotes too).
std::string CsvField(const std::string& text) {
  const bool quote =
      text.find_first_of(",\"\r\n") != std::string::npos ||
      (!text.empty() && (text.front() == ' ' || text.front() == '\t' ||
                         text.back() == ' ' || text.back() == '\t'));
  if (!quote) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

const char* ConfidenceKindName(kiln_confidence_kind kind) {
  switch (kind) {
    case KILN_CONFIDENCE_TOP1_PROB:
      return "top-1 probability";
    case KILN_CONFIDENCE_TOPK_PROB:
      return "top-k probability";
    case KILN_CONFIDENCE_MARGIN:
      return "top-1 margin";
  }
  return "confidence";
}

// The runtime's integer confidence as a real number.
double RealConfidence(int32_t confidence, kiln_confidence_kind kind,
                      float logit_scale) {
  if (kind == KILN_CONFIDENCE_MARGIN) {
    return static_cast<double>(confidence) * logit_scale;
  }
  return confidence / 65536.0;
}

struct Selected {
  size_t sample = 0;  // dataset index
  size_t item = 0;    // position in the split
  ReviewReason reason = ReviewReason::kFallback;
  double confidence = 0;
};

struct HeadReview {
  int32_t model_head = 0;  // index in the model / ModelData::heads
  std::string name;
  kiln_head_info info{};
  kiln_tensor_info logits{};
  size_t evaluated = 0;
  size_t count[kReasons] = {0, 0, 0};
  std::vector<Selected> selected;  // sorted, limited
};

// Items of one head the decision layer sends to fallback or gets wrong,
// dangerous first, then by confidence (highest first), then by index.
void SelectItems(const std::vector<size_t>& indices,
                 const std::vector<int32_t>& labels,
                 const std::vector<kiln_decision>& decisions, int32_t heads,
                 size_t limit, HeadReview* review) {
  const int32_t h = review->model_head;
  review->evaluated = indices.size();
  for (size_t k = 0; k < indices.size(); ++k) {
    const kiln_decision& d = decisions[k * static_cast<size_t>(heads) + h];
    const bool wrong = d.k < 1 || d.class_id[0] != labels[k];
    const bool fallback = d.fallback != 0;
    if (!wrong && !fallback) continue;
    Selected s;
    s.sample = indices[k];
    s.item = k;
    s.reason = !fallback ? ReviewReason::kMisclassified
               : wrong   ? ReviewReason::kBoth
                         : ReviewReason::kFallback;
    s.confidence = RealConfidence(d.confidence, review->info.confidence,
                                  review->logits.scale);
    ++review->count[static_cast<int>(s.reason)];
    review->selected.push_back(s);
  }
  std::sort(review->selected.begin(), review->selected.end(),
            [](const Selected& a, const Selected& b) {
              const bool da = a.reason == ReviewReason::kMisclassified;
              const bool db = b.reason == ReviewReason::kMisclassified;
              if (da != db) return da;
              if (a.confidence != b.confidence) {
                return a.confidence > b.confidence;
              }
              return a.sample < b.sample;
            });
  if (limit != 0 && review->selected.size() > limit) {
    review->selected.resize(limit);
  }
}

size_t Total(const size_t count[kReasons]) {
  return count[0] + count[1] + count[2];
}

void PrintText(const ReviewArgs& args, const ModelData& data, size_t items,
               const data::RelabelStats* relabels,
               const std::vector<HeadReview>& reviews,
               const std::string& html_path, const std::string& csv_path,
               size_t csv_rows) {
  printf("model     %s%s%s\n", args.model.c_str(),
         data.model_name.empty() ? "" : ": ", data.model_name.c_str());
  printf("dataset   %s, split %s: %zu items\n", data.dataset_spec.c_str(),
         args.split.c_str(), items);
  if (relabels != nullptr) {
    printf("relabels  %s: %zu fixes, %zu hashes not in the dataset\n",
           data.relabels.c_str(), relabels->fixes, relabels->unknown_hashes);
  }
  size_t width = 4;
  for (const HeadReview& r : reviews) width = std::max(width, r.name.size());
  printf("\n%-*s  %8s  %13s  %6s  %8s  %8s\n", static_cast<int>(width), "head",
         "items", "misclassified", "both", "fallback", "selected");
  for (const HeadReview& r : reviews) {
    printf("%-*s  %8zu  %13zu  %6zu  %8zu  %8zu\n", static_cast<int>(width),
           r.name.c_str(), r.evaluated,
           r.count[static_cast<int>(ReviewReason::kMisclassified)],
           r.count[static_cast<int>(ReviewReason::kBoth)],
           r.count[static_cast<int>(ReviewReason::kFallback)], Total(r.count));
  }
  printf("\nwrote %s and %s (%zu row%s)\n", html_path.c_str(), csv_path.c_str(),
         csv_rows, csv_rows == 1 ? "" : "s");
}

void PrintJson(const ReviewArgs& args, const ModelData& data, size_t items,
               const data::RelabelStats* relabels,
               const std::vector<HeadReview>& reviews,
               const std::string& html_path, const std::string& csv_path,
               size_t csv_rows) {
  JsonWriter j(stdout);
  j.BeginObject();
  j.Key("model").String(args.model);
  j.Key("model_name").String(data.model_name);
  j.Key("dataset").String(data.dataset_spec);
  j.Key("split").String(args.split);
  j.Key("items").Uint(items);
  j.Key("relabels");
  if (relabels == nullptr) {
    j.Null();
  } else {
    j.BeginObject();
    j.Key("path").String(data.relabels);
    j.Key("fixes").Uint(relabels->fixes);
    j.Key("unknown_hashes").Uint(relabels->unknown_hashes);
    j.EndObject();
  }
  j.Key("heads").BeginArray();
  for (const HeadReview& r : reviews) {
    j.BeginObject();
    j.Key("name").String(r.name);
    j.Key("items").Uint(r.evaluated);
    j.Key("misclassified")
        .Uint(r.count[static_cast<int>(ReviewReason::kMisclassified)]);
    j.Key("both").Uint(r.count[static_cast<int>(ReviewReason::kBoth)]);
    j.Key("fallback").Uint(r.count[static_cast<int>(ReviewReason::kFallback)]);
    j.Key("selected").Uint(Total(r.count));
    j.Key("written").Uint(r.selected.size());
    j.EndObject();
  }
  j.EndArray();
  j.Key("html").String(html_path);
  j.Key("relabels_csv").String(csv_path);
  j.Key("csv_rows").Uint(csv_rows);
  j.EndObject();
}

int Review(const ReviewArgs& args) {
  const std::string html_path = args.out + "/review.html";
  const std::string csv_path = args.out + "/relabels.csv";
  // A person's labels are checked before the (long) run, and again just
  // before writing.
  if (!args.force) {
    const std::string why = CheckOverwrite(csv_path);
    if (!why.empty()) {
      return Failure(why +
                     "; not overwriting it. Apply it (--relabels) and write "
                     "the new review elsewhere, or pass --force.");
    }
  }

  ModelData data;
  std::string error;
  if (!OpenModelData(args.model, args.data, &data, &error)) {
    return Failure(error);
  }
  if (!args.head.empty() && std::none_of(data.heads.begin(), data.heads.end(),
                                         [&](const train::HeadInfo& h) {
                                           return h.name == args.head;
                                         })) {
    std::string names;
    for (const train::HeadInfo& h : data.heads) {
      names += (names.empty() ? "'" : ", '") + h.name + "'";
    }
    return UsageError(args.model + " has no head '" + args.head +
                      "'; its heads are " + names);
  }
  // Inputs are never overwritten.
  for (const std::string& input : {args.model, data.relabels, data.manifest}) {
    if (SameFile(input, csv_path) || SameFile(input, html_path)) {
      return Failure("--out " + args.out + " would overwrite the input " +
                     input + "; choose another --out");
    }
  }
  data::RelabelStats relabel_stats;
  const data::RelabelStats* relabels = nullptr;
  if (!data.relabels.empty()) {
    // Already applied by OpenModelData; again (it is idempotent) for the
    // counts.
    if (!data::ApplyRelabels(data.relabels, &data.dataset, &relabel_stats,
                             &error)) {
      return Failure(error);
    }
    relabels = &relabel_stats;
    if (relabel_stats.unknown_hashes != 0) {
      fprintf(stderr,
              "kiln review: warning: %s: %zu fixed hash%s no sample of this "
              "dataset has\n",
              data.relabels.c_str(), relabel_stats.unknown_hashes,
              relabel_stats.unknown_hashes == 1 ? "" : "es");
    }
  }

  std::vector<size_t> indices;
  if (!SplitIndices(data, args.split, &indices, &error)) {
    return Failure(error);
  }
  const std::vector<std::vector<int32_t>> labels = HeadLabels(data, indices);

  // The runtime, in batches.
  train::KilnRunner runner;
  if (!runner.Load(data.model_bytes, std::min(kBatch, indices.size()),
                   &error)) {
    return Failure(args.model + ": " + error);
  }
  const int32_t heads = runner.num_heads();
  if (heads <= 0 || static_cast<size_t>(heads) != data.heads.size()) {
    return Failure(args.model + ": the model has " + std::to_string(heads) +
                   " heads, its data " + std::to_string(data.heads.size()));
  }
  std::vector<kiln_decision> decisions;
  decisions.reserve(indices.size() * static_cast<size_t>(heads));
  for (size_t start = 0; start < indices.size(); start += kBatch) {
    const size_t n = std::min(kBatch, indices.size() - start);
    const std::vector<size_t> chunk(indices.begin() + start,
                                    indices.begin() + start + n);
    const std::vector<uint8_t> items = GatherItems(data.dataset, chunk);
    std::vector<kiln_decision> batch;
    if (!runner.Run(items.data(), n, nullptr, &batch, &error)) {
      return Failure(args.model + ": " + error);
    }
    decisions.insert(decisions.end(), batch.begin(), batch.end());
  }

  // Which heads.
  std::vector<HeadReview> reviews;
  for (int32_t h = 0; h < heads; ++h) {
    if (!args.head.empty() &&
        data.heads[static_cast<size_t>(h)].name != args.head) {
      continue;
    }
    HeadReview r;
    r.model_head = h;
    r.name = data.heads[static_cast<size_t>(h)].name;
    r.info = runner.head_info(h);
    r.logits = runner.output_info(r.info.output_index);
    SelectItems(indices, labels[static_cast<size_t>(h)], decisions, heads,
                args.limit, &r);
    reviews.push_back(std::move(r));
  }

  // The sheet and the CSV.
  ContactSheet sheet;
  sheet.title = "kiln review: " +
                (data.model_name.empty() ? args.model : data.model_name) +
                ", " + args.split + " split";
  sheet.facts.push_back({"model", args.model});
  sheet.facts.push_back({"dataset", data.dataset_spec});
  sheet.facts.push_back(
      {"split",
       args.split + " (" + std::to_string(indices.size()) + " items)"});
  if (!data.manifest.empty()) {
    sheet.facts.push_back(
        {"manifest",
         data.manifest + (data.manifest_found ? ""
                                              : " (missing: splits by "
                                                "the params' rule)")});
  }
  if (!data.relabels.empty())
    sheet.facts.push_back({"relabels", data.relabels});
  sheet.dataset = &data.dataset;
  const bool many_heads = data.heads.size() > 1;
  std::string csv = "hash,label,index,current,predicted,confidence,reason\n";
  size_t csv_rows = 0;
  for (const HeadReview& r : reviews) {
    const train::HeadInfo& head = data.heads[static_cast<size_t>(r.model_head)];
    SheetSection section;
    section.head = r.name;
    section.confidence_kind = ConfidenceKindName(r.info.confidence);
    section.threshold = r.info.threshold_real;
    section.top_k = r.info.top_k;
    section.evaluated = r.evaluated;
    std::copy(r.count, r.count + kReasons, section.count);
    for (const Selected& s : r.selected) {
      const kiln_decision& d =
          decisions[s.item * static_cast<size_t>(heads) + r.model_head];
      auto label_of = [&](int32_t id) {
        return id >= 0 && static_cast<size_t>(id) < head.labels.size()
                   ? head.labels[static_cast<size_t>(id)]
                   : "#" + std::to_string(id);
      };
      SheetCard card;
      card.index = s.sample;
      card.hash = data::ContentHash(data.dataset, s.sample);
      card.origin = data.dataset.origins[s.sample];
      card.true_label =
          label_of(labels[static_cast<size_t>(r.model_head)][s.item]);
      for (int32_t c = 0; c < d.k && c < KILN_MAX_TOP_K; ++c) {
        SheetCandidate candidate;
        candidate.label = label_of(d.class_id[c]);
        candidate.score = d.score[c];
        candidate.logit = static_cast<double>(r.logits.scale) *
                          (d.score[c] - r.logits.zero_point);
        card.predicted.push_back(candidate);
      }
      card.confidence = s.confidence;
      card.reason = s.reason;

      const std::string current =
          data.dataset
              .class_names[static_cast<size_t>(data.dataset.labels[s.sample])];
      std::string predicted =
          card.predicted.empty() ? "" : card.predicted[0].label;
      if (many_heads) predicted = r.name + ":" + predicted;
      csv += card.hash + ",," + std::to_string(s.sample) + "," +
             CsvField(current) + "," + CsvField(predicted) + "," +
             ShortestDouble(s.confidence) + "," + ReviewReasonName(s.reason) +
             "\n";
      ++csv_rows;
      section.cards.push_back(std::move(card));
    }
    sheet.sections.push_back(std::move(section));
  }

  std::error_code fs_error;
  std::filesystem::create_directories(args.out, fs_error);
  if (fs_error) {
    return Failure("cannot create " + args.out + ": " + fs_error.message());
  }
  if (!args.force) {
    const std::string why = CheckOverwrite(csv_path);
    if (!why.empty()) {
      return Failure(why + "; not overwriting it (pass --force).");
    }
  }
  if (!WriteContactSheet(html_path, sheet, &error) ||
      !WriteFileAtomic(csv_path, std::vector<uint8_t>(csv.begin(), csv.end()),
                       &error)) {
    return Failure(error);
  }
  if (args.json) {
    PrintJson(args, data, indices.size(), relabels, reviews, html_path,
              csv_path, csv_rows);
  } else {
    PrintText(args, data, indices.size(), relabels, reviews, html_path,
              csv_path, csv_rows);
  }
  return kExitOk;
}

}  // namespace

int RunReview(const Args& args) {
  ReviewArgs opts;
  if (const int code = ParseArgs(args, &opts); code != kExitOk) return code;
  try {
    return Review(opts);
  } catch (const std::bad_alloc&) {
    return Failure("out of memory");
  } catch (const std::exception& e) {
    return Failure(e.what());
  }
}

}  // namespace cli
}  // namespace kiln
