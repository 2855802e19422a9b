// kiln compare A.kiln B.kiln [--data SPEC] [--manifest FILE]
//     [--relabels CSV] [--split NAME] [--batch N] [--repeats N]
//     [--max-accuracy-drop PTS] [--max-latency-increase FRACTION] [--json]
//     [--quiet]
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "toolchain/cli/command.h"
#include "toolchain/cli/model_data.h"
#include "toolchain/cli/progress.h"
#include "toolchain/train/evaluate.h"

namespace kiln {
namespace cli {

const char kCompareUsage[] =
    "usage: kiln compare A.kiln B.kiln [--data SPEC] [--manifest FILE]\n"
    "                    [--relabels CSV] [--split test|valid|train|all]\n"
    "                    [--batch N] [--repeats N] [--max-accuracy-drop PTS]\n"
    "                    [--max-latency-increase FRACTION] [--json] [--quiet]\n"
    "\n"
    "Evaluates two models through the Kiln runtime on the same items (A's\n"
    "dataset, relabels and splits, from its train_params or the options) and\n"
    "prints them side by side per head: top-1 accuracy, accepted top-k\n"
    "accuracy, coverage, and the latency, timed interleaved in one run\n"
    "(A, B, B, A, ... medians) so that machine noise hits both alike. The\n"
    "models must take the same input and have the same heads (by name, with\n"
    "the same classes).\n"
    "\n"
    "B regresses when, for any head, its top-1 accuracy, accepted top-k\n"
    "accuracy or coverage is lower than A's by more than PTS percentage\n"
    "points, or its batched or batch-1 latency is higher than A's by more\n"
    "than FRACTION.\n"
    "\n"
    "options:\n"
    "  --data SPEC                the dataset (see 'kiln data --help')\n"
    "  --manifest FILE            split manifest to read (must exist)\n"
    "  --relabels CSV             label fixes by content hash\n"
    "  --split NAME               test (default), valid, train or all\n"
    "  --batch N                  items per runtime call for the timing\n"
    "                             (default 64)\n"
    "  --repeats N                timed passes per model (default 5)\n"
    "  --max-accuracy-drop PTS    allowed drop in points (default 0.5)\n"
    "  --max-latency-increase F   allowed slowdown, 0.10 = 10% (default)\n"
    "  --json                     print one JSON object instead of text\n"
    "  --quiet                    no progress line on stderr\n"
    "  -h, --help                 show this help\n"
    "\n"
    "exit status: 0 no regression, 3 B regresses, 1 failure (bad model,\n"
    "models that do not match, dataset problems), 2 bad usage\n";

namespace {

struct CompareArgs {
  std::string a, b;
  ModelDataOptions data;
  RunOptions run;
  train::RegressionLimits limits;
  bool json = false;
  bool quiet = false;
};

int UsageError(const std::string& message) {
  fprintf(stderr, "kiln compare: %s\n(run 'kiln compare --help')\n",
          message.c_str());
  return kExitUsage;
}

int Failure(const std::string& message) {
  fprintf(stderr, "kiln compare: %s\n", message.c_str());
  return kExitFailure;
}

// A finite decimal number in [lo, hi].
bool ParseNumber(const std::string& text, double lo, double hi, double* v) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || c == '.')) return false;
  }
  char* end = nullptr;
  *v = strtod(text.c_str(), &end);
  return *end == '\0' && std::isfinite(*v) && *v >= lo && *v <= hi;
}

int ParseArgs(const Args& args, CompareArgs* out) {
  std::vector<std::string> models;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string value;
    bool missing = false;
    std::string bad;
    double x = 0;
    if (ModelDataFlag(args, &i, &out->data, &missing)) {
      continue;
    } else if (!missing && RunOptionFlag(args, &i, &out->run, &missing, &bad)) {
      if (!bad.empty()) return UsageError(bad);
    } else if (!missing &&
               FlagValue(args, &i, "--max-accuracy-drop", &value, &missing)) {
      if (!ParseNumber(value, 0, 100, &x)) {
        return UsageError(
            "--max-accuracy-drop wants percentage points from 0 to 100, not "
            "'" +
            value + "'");
      }
      out->limits.max_accuracy_drop = x / 100.0;
    } else if (!missing && FlagValue(args, &i, "--max-latency-increase", &value,
                                     &missing)) {
      if (!ParseNumber(value, 0, 1e6, &x)) {
        return UsageError(
            "--max-latency-increase wants a non-negative fraction (0.10 = "
            "10%), not '" +
            value + "'");
      }
      out->limits.max_latency_increase = x;
    } else if (missing) {
      return UsageError(a + " needs a value");
    } else if (a == "--json") {
      out->json = true;
    } else if (a == "--quiet") {
      out->quiet = true;
    } else if (a.size() > 1 && a[0] == '-') {
      return UsageError("unknown option '" + a + "'");
    } else {
      models.push_back(a);
    }
  }
  if (models.size() != 2) {
    return UsageError("wants two models, A and B (got " +
                      std::to_string(models.size()) + ")");
  }
  out->a = models[0];
  out->b = models[1];
  return kExitOk;
}

// The heads must correspond by name, with the same classes.
bool SameHeads(const CompareArgs& opts, const ModelData& a, const ModelData& b,
               std::string* error) {
  auto names = [](const ModelData& d) {
    std::vector<std::string> n;
    for (const train::HeadInfo& h : d.heads) n.push_back(h.name);
    std::sort(n.begin(), n.end());
    return n;
  };
  auto list = [](const std::vector<std::string>& n) {
    std::string s;
    for (const std::string& x : n) s += (s.empty() ? "'" : ", '") + x + "'";
    return s;
  };
  if (names(a) != names(b)) {
    *error = "the models' heads differ: " + opts.a + " has " + list(names(a)) +
             ", " + opts.b + " has " + list(names(b));
    return false;
  }
  for (const train::HeadInfo& ha : a.heads) {
    for (const train::HeadInfo& hb : b.heads) {
      if (ha.name != hb.name) continue;
      std::vector<std::string> la = ha.labels, lb = hb.labels;
      std::sort(la.begin(), la.end());
      std::sort(lb.begin(), lb.end());
      if (la != lb) {
        *error = "head '" + ha.name + "' has other classes in " + opts.b +
                 " (" + list(hb.labels) + ") than in " + opts.a + " (" +
                 list(ha.labels) + ")";
        return false;
      }
    }
  }
  return true;
}

const train::HeadEval* FindHead(const train::EvalResult& r,
                                const std::string& name) {
  for (const train::HeadEval& h : r.heads) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

bool Flagged(const std::vector<train::Regression>& regressions,
             const std::string& head, const std::string& metric) {
  for (const train::Regression& r : regressions) {
    if (r.head == head && r.metric == metric) return true;
  }
  return false;
}

void PrintText(const CompareArgs& opts, const ModelData& da,
               const ModelData& db, const train::EvalResult& a,
               const train::EvalResult& b,
               const std::vector<train::Regression>& regressions, FILE* out) {
  auto model_line = [&](const char* tag, const std::string& path,
                        const ModelData& d) {
    fprintf(out, "%s  %s", tag, path.c_str());
    if (!d.model_name.empty()) fprintf(out, " (\"%s\")", d.model_name.c_str());
    fprintf(out, ", %zu bytes\n", d.model_bytes.size());
  };
  model_line("A", opts.a, da);
  model_line("B", opts.b, db);
  fprintf(out, "data  %s, %s split: %zu items\n", da.dataset_spec.c_str(),
          a.split.c_str(), a.items);
  char buf[64];
  auto pct_row = [&](const char* what, const std::string& head,
                     const char* metric, double va, double vb) {
    snprintf(buf, sizeof(buf), "%+.2f pts", 100.0 * (vb - va));
    const bool flagged = Flagged(regressions, head, metric);
    fprintf(out, "  %-22s %10.2f%% %10.2f%%  %-*s%s\n", what, 100.0 * va,
            100.0 * vb, flagged ? 11 : 0, buf, flagged ? "  REGRESSION" : "");
  };
  fprintf(out, "\n  %-22s %11s %11s  %s\n", "", "A", "B", "B - A");
  for (const train::HeadEval& ha : a.heads) {
    const train::HeadEval* hb = FindHead(b, ha.name);
    if (hb == nullptr) continue;
    fprintf(out, "head %s (%d classes; policy top-%d in A, top-%d in B)\n",
            ha.name.c_str(), int(ha.classes), int(ha.top_k), int(hb->top_k));
    pct_row("top-1", ha.name, "top1", ha.top1, hb->top1);
    pct_row("top-5", ha.name, "top5", ha.top5, hb->top5);
    pct_row("accepted top-k", ha.name, "accepted_topk", ha.accepted_topk,
            hb->accepted_topk);
    pct_row("coverage", ha.name, "coverage", ha.coverage, hb->coverage);
  }
  fprintf(out, "latency (interleaved, medians of %d passes)\n", int(a.repeats));
  auto us_row = [&](const char* what, const char* metric, double va,
                    double vb) {
    if (va > 0) {
      snprintf(buf, sizeof(buf), "%+.1f%%", 100.0 * (vb / va - 1.0));
    } else {
      snprintf(buf, sizeof(buf), "n/a");
    }
    const bool flagged = Flagged(regressions, "", metric);
    fprintf(out, "  %-22s %8.3f us %8.3f us  %-*s%s\n", what, va, vb,
            flagged ? 11 : 0, buf, flagged ? "  REGRESSION" : "");
  };
  snprintf(buf, sizeof(buf), "batched (batch %zu)", a.batch);
  const std::string batched = buf;
  us_row(batched.c_str(), "batched_us_per_item", a.batched_us_per_item,
         b.batched_us_per_item);
  us_row("batch 1", "batch1_us", a.batch1_us, b.batch1_us);
  fprintf(out,
          "\nlimits: accuracy/coverage drop %.2f pts, latency increase "
          "%.1f%%\n",
          100.0 * opts.limits.max_accuracy_drop,
          100.0 * opts.limits.max_latency_increase);
  if (regressions.empty()) {
    fprintf(out, "no regression\n");
    return;
  }
  fprintf(out, "%zu regression%s:\n", regressions.size(),
          regressions.size() == 1 ? "" : "s");
  for (const train::Regression& r : regressions) {
    fprintf(out, "  %s\n", r.message.c_str());
  }
}

nlohmann::json CompareJson(const CompareArgs& opts, const ModelData& da,
                           const ModelData& db, const train::EvalResult& a,
                           const train::EvalResult& b,
                           const std::vector<train::Regression>& regressions) {
  auto model = [](const std::string& path, const ModelData& d,
                  const train::EvalResult& r) {
    nlohmann::json j = train::EvalResultJson(r);
    j["model"] = path;
    j["model_bytes"] = d.model_bytes.size();
    return j;
  };
  nlohmann::json heads = nlohmann::json::array();
  for (const train::HeadEval& ha : a.heads) {
    const train::HeadEval* hb = FindHead(b, ha.name);
    if (hb == nullptr) continue;
    nlohmann::json h = {{"name", ha.name}};
    auto metric = [&](const char* key, double va, double vb) {
      h[key] = {{"a", va}, {"b", vb}, {"delta", vb - va}};
    };
    metric("top1", ha.top1, hb->top1);
    metric("top5", ha.top5, hb->top5);
    metric("accepted_topk", ha.accepted_topk, hb->accepted_topk);
    metric("coverage", ha.coverage, hb->coverage);
    heads.push_back(h);
  }
  auto relative = [](double va, double vb) {
    return va > 0 ? nlohmann::json(vb / va - 1.0) : nlohmann::json(nullptr);
  };
  nlohmann::json regs = nlohmann::json::array();
  for (const train::Regression& r : regressions) {
    regs.push_back({{"head", r.head.empty() ? nlohmann::json(nullptr)
                                            : nlohmann::json(r.head)},
                    {"metric", r.metric},
                    {"a", r.a},
                    {"b", r.b},
                    {"message", r.message}});
  }
  return {
      {"a", model(opts.a, da, a)},
      {"b", model(opts.b, db, b)},
      {"dataset", da.dataset_spec},
      {"split", a.split},
      {"items", a.items},
      {"heads", heads},
      {"latency",
       {{"batch", a.batch},
        {"repeats", a.repeats},
        {"batched_us_per_item",
         {{"a", a.batched_us_per_item},
          {"b", b.batched_us_per_item},
          {"relative",
           relative(a.batched_us_per_item, b.batched_us_per_item)}}},
        {"batch1_us",
         {{"a", a.batch1_us},
          {"b", b.batch1_us},
          {"relative", relative(a.batch1_us, b.batch1_us)}}}}},
      {"limits",
       {{"max_accuracy_drop_points", 100.0 * opts.limits.max_accuracy_drop},
        {"max_latency_increase", opts.limits.max_latency_increase}}},
      {"regressions", regs},
      {"regression", !regressions.empty()},
  };
}

}  // namespace

int RunCompare(const Args& args) {
  CompareArgs opts;
  if (const int code = ParseArgs(args, &opts); code != kExitOk) return code;

  std::string error;
  ModelData da, db;
  if (!OpenModelData(opts.a, opts.data, &da, &error)) return Failure(error);
  for (const std::string& w : da.warnings) {
    fprintf(stderr, "kiln compare: warning: %s\n", w.c_str());
  }
  if (!OpenModelDataOn(opts.b, da, &db, &error)) return Failure(error);
  if (!SameHeads(opts, da, db, &error)) return Failure(error);
  std::vector<size_t> indices;
  if (!SplitIndices(da, opts.run.split, &indices, &error)) {
    return Failure(opts.a + ": " + error);
  }
  const std::vector<uint8_t> items = GatherItems(da.dataset, indices);
  const size_t count = indices.size();

  train::EvalOptions eopt;
  eopt.batch = opts.run.batch;
  eopt.repeats = opts.run.repeats;
  eopt.measure_latency = false;
  const uint64_t eval_work = train::EvalWork(count, eopt);
  ProgressBar::Options popt;
  popt.enabled = !opts.quiet;
  ProgressBar bar("comparing",
                  2 * eval_work + train::LatencyWork(count, 2, eopt), popt);
  uint64_t offset = 0;
  eopt.progress = [&](uint64_t done, uint64_t) { bar.Update(offset + done); };

  // Ends the progress line before an error message.
  auto fail = [&bar](const std::string& message) {
    bar.Finish();
    return Failure(message);
  };
  train::EvalResult ra, rb;
  if (!train::EvaluateItems(da.model_bytes, items.data(), count,
                            HeadLabels(da, indices), eopt, &ra, &error)) {
    return fail(opts.a + ": " + error);
  }
  offset = eval_work;
  if (!train::EvaluateItems(db.model_bytes, items.data(), count,
                            HeadLabels(db, indices), eopt, &rb, &error)) {
    return fail(opts.b + ": " + error);
  }
  offset = 2 * eval_work;
  std::vector<train::Latency> latency;
  if (!train::MeasureLatency({&da.model_bytes, &db.model_bytes}, items.data(),
                             count, eopt, &latency, &error)) {
    return fail(error);
  }
  bar.Finish();
  train::EvalResult* results[2] = {&ra, &rb};
  const ModelData* datas[2] = {&da, &db};
  const std::string* paths[2] = {&opts.a, &opts.b};
  for (int m = 0; m < 2; ++m) {
    results[m]->split = opts.run.split;
    results[m]->model_name =
        !datas[m]->model_name.empty() ? datas[m]->model_name : *paths[m];
    results[m]->batched_us_per_item = latency[m].batched_us_per_item;
    results[m]->batch1_us = latency[m].batch1_us;
    results[m]->latency_measured = true;
  }

  const std::vector<train::Regression> regressions =
      train::FindRegressions(ra, rb, opts.limits);
  if (opts.json) {
    printf("%s\n",
           CompareJson(opts, da, db, ra, rb, regressions).dump(2).c_str());
  } else {
    PrintText(opts, da, db, ra, rb, regressions, stdout);
  }
  return regressions.empty() ? kExitOk : kExitRegression;
}

}  // namespace cli
}  // namespace kiln
