// kiln eval MODEL [--data SPEC] [--manifest FILE] [--relabels CSV]
//                 [--split NAME] [--batch N] [--repeats N] [--report FILE]
//                 [--json] [--quiet]
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "toolchain/atomic_file.h"
#include "toolchain/cli/command.h"
#include "toolchain/cli/model_data.h"
#include "toolchain/cli/progress.h"
#include "toolchain/train/evaluate.h"

namespace kiln {
namespace cli {

const char kEvalUsage[] =
    "usage: kiln eval MODEL.kiln [--data SPEC] [--manifest FILE]\n"
    "                 [--relabels CSV] [--split test|valid|train|all]\n"
    "                 [--batch N] [--repeats N] [--report FILE.md] [--json]\n"
    "                 [--quiet]\n"
    "\n"
    "Evaluates MODEL.kiln through the Kiln runtime on one split of its\n"
    "dataset. The dataset, split manifest and relabels come from the\n"
    "training params stored in the model (metadata \"train_params\", written\n"
    "by 'kiln build'); the options override them. The manifest is only\n"
    "read: samples it does not list get their split by its rule, in memory.\n"
    "\n"
    "Prints, per head: top-1/2/5 accuracy, coverage (the share of items the\n"
    "runtime accepts, 1 - fallback rate), top-1 and top-k accuracy of the\n"
    "accepted and of the fallback items, the confusion matrix (compact;\n"
    "--json has it in full), float-vs-int8 agreement (n/a: a .kiln file\n"
    "carries no float reference); then the latency: median microseconds per\n"
    "item in batches, and per single-item call.\n"
    "\n"
    "options:\n"
    "  --data SPEC        the dataset (see 'kiln data --help' for SPEC)\n"
    "  --manifest FILE    split manifest to read (must exist)\n"
    "  --relabels CSV     label fixes by content hash (kiln review's file)\n"
    "  --split NAME       test (default), valid, train or all\n"
    "  --batch N          items per runtime call for the timing (default 64)\n"
    "  --repeats N        timed passes, medians taken (default 5)\n"
    "  --report FILE.md   also write the Markdown report (atomically)\n"
    "  --json             print one JSON object instead of text\n"
    "  --quiet            no progress line on stderr\n"
    "  -h, --help         show this help\n"
    "\n"
    "exit status: 0 ok, 1 failure (bad model, dataset not matching the\n"
    "model, empty split, I/O), 2 bad usage\n";

namespace {

struct EvalArgs {
  std::string model;
  ModelDataOptions data;
  RunOptions run;
  std::string report;
  bool json = false;
  bool quiet = false;
};

int UsageError(const std::string& message) {
  fprintf(stderr, "kiln eval: %s\n(run 'kiln eval --help')\n", message.c_str());
  return kExitUsage;
}

int Failure(const std::string& message) {
  fprintf(stderr, "kiln eval: %s\n", message.c_str());
  return kExitFailure;
}

// Returns kExitOk, or the exit code of a usage error already reported.
int ParseArgs(const Args& args, EvalArgs* out) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string value;
    bool missing = false;
    std::string bad;
    if (ModelDataFlag(args, &i, &out->data, &missing)) {
      continue;
    } else if (!missing && RunOptionFlag(args, &i, &out->run, &missing, &bad)) {
      if (!bad.empty()) return UsageError(bad);
    } else if (!missing && FlagValue(args, &i, "--report", &value, &missing)) {
      if (value.empty()) return UsageError("--report needs a file name");
      out->report = value;
    } else if (missing) {
      return UsageError(a + " needs a value");
    } else if (a == "--json") {
      out->json = true;
    } else if (a == "--quiet") {
      out->quiet = true;
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
  for (const std::string& input :
       {out->model, out->data.manifest, out->data.relabels}) {
    if (SameFile(out->report, input)) {
      return UsageError("--report '" + out->report +
                        "' would overwrite the input '" + input + "'");
    }
  }
  return kExitOk;
}

std::string Pct(double v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%.2f%%", 100.0 * v);
  return buf;
}

std::string Truncate(const std::string& s, size_t width) {
  return s.size() <= width ? s : s.substr(0, width - 1) + "~";
}

// Small heads get the whole matrix (class ids as columns); larger ones the
// most frequent confusions.
void PrintConfusion(const train::HeadEval& h, FILE* out) {
  const size_t k = h.confusion.size();
  if (k <= 12) {
    // Class names next to the row ids, unless they are the ids.
    bool named = false;
    size_t label_width = 0;
    for (size_t c = 0; c < k; ++c) {
      named = named || h.labels[c] != std::to_string(c);
      label_width =
          std::max(label_width, std::min<size_t>(h.labels[c].size(), 16));
    }
    if (!named) label_width = 0;
    int64_t largest = 1;
    for (const auto& row : h.confusion) {
      for (int64_t v : row) largest = std::max(largest, v);
    }
    const int cell = std::max<int>(3, int(std::to_string(largest).size()) + 1);
    fprintf(out, "  confusion    rows: true class, columns: predicted top-1\n");
    fprintf(out, "    %2s%s%*s", "", named ? " " : "", int(label_width), "");
    for (size_t c = 0; c < k; ++c) fprintf(out, "%*zu", cell, c);
    fprintf(out, "\n");
    for (size_t t = 0; t < k; ++t) {
      fprintf(out, "    %2zu%s%-*s", t, named ? " " : "", int(label_width),
              named ? Truncate(h.labels[t], 16).c_str() : "");
      for (int64_t v : h.confusion[t])
        fprintf(out, "%*lld", cell, (long long)v);
      fprintf(out, "\n");
    }
    return;
  }
  struct Cell {
    int64_t count;
    size_t t, p;
  };
  std::vector<Cell> cells;
  for (size_t t = 0; t < k; ++t) {
    for (size_t p = 0; p < k; ++p) {
      if (t != p && h.confusion[t][p] > 0) {
        cells.push_back({h.confusion[t][p], t, p});
      }
    }
  }
  std::stable_sort(
      cells.begin(), cells.end(),
      [](const Cell& a, const Cell& b) { return a.count > b.count; });
  fprintf(out,
          "  confusion    %zu classes; most frequent mistakes (--json: "
          "full matrix):\n",
          k);
  if (cells.empty()) fprintf(out, "    none\n");
  for (size_t i = 0; i < std::min<size_t>(cells.size(), 10); ++i) {
    fprintf(out, "    %6lld  %s -> %s\n", (long long)cells[i].count,
            h.labels[cells[i].t].c_str(), h.labels[cells[i].p].c_str());
  }
}

void PrintText(const EvalArgs& opts, const ModelData& data,
               const train::EvalResult& r, FILE* out) {
  fprintf(out, "model      %s", opts.model.c_str());
  if (!data.model_name.empty())
    fprintf(out, " (\"%s\")", data.model_name.c_str());
  fprintf(out, ", %zu bytes\n", data.model_bytes.size());
  fprintf(out, "data       %s: %zu samples; %s split: %zu items\n",
          data.dataset_spec.c_str(), data.dataset.size(), r.split.c_str(),
          r.items);
  if (!data.manifest.empty()) {
    fprintf(out, "manifest   %s%s\n", data.manifest.c_str(),
            data.manifest_found ? "" : " (not found: splits by its rule)");
  }
  if (!data.relabels.empty()) {
    fprintf(out, "relabels   %s\n", data.relabels.c_str());
  }
  for (const train::HeadEval& h : r.heads) {
    fprintf(out,
            "\nhead %s: %d classes, top-%d, %s, fallback when "
            "confidence < %.6g\n",
            h.name.c_str(), int(h.classes), int(h.top_k),
            ConfidenceKindName(h.confidence), double(h.threshold_real));
    fprintf(out, "  accuracy     top-1 %s  top-2 %s  top-5 %s\n",
            Pct(h.top1).c_str(), Pct(h.top2).c_str(), Pct(h.top5).c_str());
    fprintf(out, "  coverage     %s (%zu accepted, %zu fallback: rate %s)\n",
            Pct(h.coverage).c_str(), h.accepted, h.items - h.accepted,
            Pct(1.0 - h.coverage).c_str());
    // Accuracy of the runtime's own answers (its top-k candidates).
    auto answers = [&](const char* what, size_t n, double top1, double topk) {
      if (n == 0) {
        fprintf(out, "  %-12s none\n", what);
      } else if (h.top_k == 1) {
        fprintf(out, "  %-12s top-1 %s\n", what, Pct(top1).c_str());
      } else {
        fprintf(out, "  %-12s top-1 %s  top-%d %s\n", what, Pct(top1).c_str(),
                int(h.top_k), Pct(topk).c_str());
      }
    };
    answers("accepted", h.accepted, h.accepted_top1, h.accepted_topk);
    answers("fallback", h.items - h.accepted, h.fallback_top1, h.fallback_topk);
    if (h.float_agreement < 0) {
      fprintf(out,
              "  float/int8   agreement n/a (a .kiln file has no float "
              "reference)\n");
    } else {
      fprintf(out, "  float/int8   agreement %s\n",
              Pct(h.float_agreement).c_str());
    }
    PrintConfusion(h, out);
  }
  fprintf(out,
          "\nlatency    %.3f us/item batched (batch %zu), %.3f us batch 1 "
          "(medians of %d passes, 1 thread)\n",
          r.batched_us_per_item, r.batch, r.batch1_us, int(r.repeats));
  if (!opts.report.empty())
    fprintf(out, "report     %s\n", opts.report.c_str());
}

}  // namespace

int RunEval(const Args& args) {
  EvalArgs opts;
  if (const int code = ParseArgs(args, &opts); code != kExitOk) return code;

  std::string error;
  ModelData data;
  if (!OpenModelData(opts.model, opts.data, &data, &error)) {
    return Failure(error);
  }
  for (const std::string& w : data.warnings) {
    fprintf(stderr, "kiln eval: warning: %s\n", w.c_str());
  }
  std::vector<size_t> indices;
  if (!SplitIndices(data, opts.run.split, &indices, &error)) {
    return Failure(opts.model + ": " + error);
  }
  const std::vector<uint8_t> items = GatherItems(data.dataset, indices);
  const std::vector<std::vector<int32_t>> labels = HeadLabels(data, indices);

  train::EvalOptions eopt;
  eopt.batch = opts.run.batch;
  eopt.repeats = opts.run.repeats;
  ProgressBar::Options popt;
  popt.enabled = !opts.quiet;
  ProgressBar bar("evaluating", train::EvalWork(indices.size(), eopt), popt);
  eopt.progress = [&bar](uint64_t done, uint64_t) { bar.Update(done); };
  train::EvalResult result;
  const bool ok =
      train::EvaluateItems(data.model_bytes, items.data(), indices.size(),
                           labels, eopt, &result, &error);
  bar.Finish();
  if (!ok) return Failure(opts.model + ": " + error);
  result.split = opts.run.split;
  result.model_name = !data.model_name.empty()
                          ? data.model_name
                          : std::filesystem::path(opts.model).stem().string();

  if (!opts.report.empty() &&
      !train::WriteEvalReport(opts.report, result, &error)) {
    return Failure(error);
  }
  if (opts.json) {
    nlohmann::json j = train::EvalResultJson(result);
    j["model"] = opts.model;
    j["model_bytes"] = data.model_bytes.size();
    j["dataset"] = data.dataset_spec;
    j["dataset_samples"] = data.dataset.size();
    j["manifest"] = data.manifest.empty() ? nlohmann::json(nullptr)
                                          : nlohmann::json(data.manifest);
    j["manifest_found"] = data.manifest_found;
    j["relabels"] = data.relabels.empty() ? nlohmann::json(nullptr)
                                          : nlohmann::json(data.relabels);
    j["report"] = opts.report.empty() ? nlohmann::json(nullptr)
                                      : nlohmann::json(opts.report);
    printf("%s\n", j.dump(2).c_str());
  } else {
    PrintText(opts, data, result, stdout);
  }
  return kExitOk;
}

}  // namespace cli
}  // namespace kiln
