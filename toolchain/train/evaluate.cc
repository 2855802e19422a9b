#include "toolchain/train/evaluate.h"

#include <stdio.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "toolchain/atomic_file.h"
#include "toolchain/train/quantize_model.h"

namespace kiln {
namespace train {
namespace {

bool Fail(std::string* error, const std::string& message) {
  if (error != nullptr) *error = message;
  return false;
}

// Class ids best first: larger value first, ties to the lower id.
template <typename T>
std::vector<int32_t> Ranking(const T* values, int32_t classes) {
  std::vector<int32_t> ids(classes);
  for (int32_t c = 0; c < classes; ++c) ids[c] = c;
  std::stable_sort(ids.begin(), ids.end(),
                   [&](int32_t a, int32_t b) { return values[a] > values[b]; });
  return ids;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

double Seconds(std::chrono::steady_clock::time_point a,
               std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\";
    out += c;
  }
  return out;
}

std::string Pct(double v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%.2f%%", 100.0 * v);
  return buf;
}

const char* KindName(ConfidenceKind kind) {
  switch (kind) {
    case ConfidenceKind::kTop1Prob:
      return "TOP1_PROB";
    case ConfidenceKind::kTopKProb:
      return "TOPK_PROB";
    case ConfidenceKind::kMargin:
      return "MARGIN";
  }
  return "?";
}

}  // namespace

uint64_t LatencyWork(size_t count, size_t models, const EvalOptions& options) {
  const uint64_t repeats = static_cast<uint64_t>(std::max(options.repeats, 1));
  // A warm-up pass, then per repeat a batched pass and the single items.
  return uint64_t{models} *
         (count +
          repeats * (uint64_t{count} + std::min(options.batch1_items, count)));
}

uint64_t EvalWork(size_t count, const EvalOptions& options) {
  return count + (options.measure_latency ? LatencyWork(count, 1, options) : 0);
}

namespace {

// The timing loops of MeasureLatency over loaded runners; `done` is where
// the progress count starts and `total` where it ends.
void TimeRunners(const std::vector<KilnRunner*>& runners, const void* items,
                 size_t count, size_t batch, const EvalOptions& options,
                 uint64_t done, uint64_t total, std::vector<Latency>* out) {
  const size_t models = runners.size();
  const int32_t repeats = std::max(options.repeats, 1);
  const size_t item_bytes = runners[0]->input_info().item_bytes;
  int32_t max_heads = 1;
  for (KilnRunner* r : runners) max_heads = std::max(max_heads, r->num_heads());
  std::vector<kiln_decision> dec(batch * static_cast<size_t>(max_heads));
  const uint8_t* base = static_cast<const uint8_t*>(items);
  std::vector<std::vector<double>> per_item(models), single(models);
  const size_t n1 = std::min(options.batch1_items, count);
  auto report = [&](uint64_t n) {
    done += n;
    if (options.progress) options.progress(done, total);
  };
  // Model m's turn in round `round`: the order flips every round so that
  // neither model always runs right after the other.
  auto model_at = [models](size_t round, size_t j) {
    return round % 2 == 0 ? j : models - 1 - j;
  };
  auto invoke = [&](size_t m, size_t first, size_t n) {
    const void* in[1] = {base + first * item_bytes};
    kiln_invoke(runners[m]->context(), n, in, nullptr, dec.data());
  };
  // Warm-up: caches, branch predictors, the arena's first touch.
  for (size_t m = 0; m < models; ++m) {
    for (size_t start = 0; start < count; start += batch) {
      invoke(m, start, std::min(batch, count - start));
    }
    report(count);
  }
  size_t round = 0;
  for (int32_t r = 0; r < repeats; ++r) {
    for (size_t start = 0; start < count; start += batch, ++round) {
      const size_t n = std::min(batch, count - start);
      for (size_t j = 0; j < models; ++j) {
        const size_t m = model_at(round, j);
        const auto t0 = std::chrono::steady_clock::now();
        invoke(m, start, n);
        const auto t1 = std::chrono::steady_clock::now();
        per_item[m].push_back(1e6 * Seconds(t0, t1) / double(n));
      }
    }
    report(models * count);
    for (size_t i = 0; i < n1; ++i, ++round) {
      for (size_t j = 0; j < models; ++j) {
        const size_t m = model_at(round, j);
        const auto t0 = std::chrono::steady_clock::now();
        invoke(m, i, 1);
        const auto t1 = std::chrono::steady_clock::now();
        single[m].push_back(1e6 * Seconds(t0, t1));
      }
      if ((i + 1) % 64 == 0 || i + 1 == n1) report(models * ((i % 64) + 1));
    }
  }
  out->assign(models, Latency());
  for (size_t m = 0; m < models; ++m) {
    (*out)[m].batched_us_per_item = Median(per_item[m]);
    (*out)[m].batch1_us = Median(single[m]);
  }
}

}  // namespace

bool MeasureLatency(const std::vector<const std::vector<uint8_t>*>& models,
                    const void* items, size_t count, const EvalOptions& options,
                    std::vector<Latency>* latencies, std::string* error) {
  latencies->clear();
  if (count == 0) return Fail(error, "no items to time");
  if (models.empty()) return Fail(error, "no models to time");
  const size_t batch = std::max<size_t>(1, std::min(options.batch, count));
  std::vector<KilnRunner> runners(models.size());
  std::vector<KilnRunner*> pointers;
  for (size_t m = 0; m < models.size(); ++m) {
    if (!runners[m].Load(*models[m], batch, error)) return false;
    if (runners[m].input_info().item_bytes !=
        runners[0].input_info().item_bytes) {
      return Fail(error, "the models' inputs differ in size");
    }
    pointers.push_back(&runners[m]);
  }
  TimeRunners(pointers, items, count, batch, options, 0,
              LatencyWork(count, models.size(), options), latencies);
  return true;
}

bool EvaluateItems(const std::vector<uint8_t>& kiln_bytes, const void* items,
                   size_t count,
                   const std::vector<std::vector<int32_t>>& labels,
                   const EvalOptions& options, EvalResult* result,
                   std::string* error) {
  *result = EvalResult();
  if (count == 0) return Fail(error, "no items to evaluate");
  const size_t batch = std::max<size_t>(1, std::min(options.batch, count));
  KilnRunner runner;
  if (!runner.Load(kiln_bytes, batch, error)) return false;
  const int32_t num_heads = runner.num_heads();
  if (labels.size() != static_cast<size_t>(num_heads)) {
    return Fail(error, "the model has " + std::to_string(num_heads) +
                           " heads, labels were given for " +
                           std::to_string(labels.size()));
  }
  const kiln_tensor_info in_info = runner.input_info();
  const size_t item_bytes = in_info.item_bytes;
  const uint64_t total_work = EvalWork(count, options);

  // The accuracy pass, in chunks so that progress can be reported.
  std::vector<std::vector<uint8_t>> outputs(runner.num_outputs());
  for (int32_t j = 0; j < runner.num_outputs(); ++j) {
    outputs[j].assign(runner.output_info(j).item_bytes * count, 0);
  }
  std::vector<kiln_decision> decisions(count * size_t(std::max(num_heads, 0)));
  {
    const uint8_t* base = static_cast<const uint8_t*>(items);
    const size_t chunk = std::max<size_t>(batch, 1024);
    std::vector<void*> out_ptrs(outputs.size());
    for (size_t start = 0; start < count; start += chunk) {
      const size_t n = std::min(chunk, count - start);
      for (size_t j = 0; j < outputs.size(); ++j) {
        out_ptrs[j] = outputs[j].data() +
                      start * runner.output_info(int32_t(j)).item_bytes;
      }
      const void* in[1] = {base + start * item_bytes};
      const kiln_status status = kiln_invoke(
          runner.context(), n, in, out_ptrs.empty() ? nullptr : out_ptrs.data(),
          decisions.empty() ? nullptr : decisions.data() + start * num_heads);
      if (status != KILN_OK) {
        return Fail(error,
                    std::string("kiln_invoke: ") + kiln_status_string(status));
      }
      if (options.progress) options.progress(start + n, total_work);
    }
  }

  // Float reference, when given.
  std::vector<std::vector<int32_t>> float_top1(num_heads);
  FloatInterpreter interp;
  if (options.float_model != nullptr) {
    if (!interp.Init(*options.float_model, error)) return false;
    const size_t float_item_bytes =
        interp.input_elements() *
        (options.float_model->uint8_input ? 1 : sizeof(float));
    if (float_item_bytes != item_bytes) {
      return Fail(error, "the float model's input does not match the model's");
    }
    std::vector<int32_t> layer_of_head(num_heads, -1);
    for (int32_t h = 0; h < num_heads; ++h) {
      const std::string name = runner.head_info(h).name;
      for (const FloatHead& fh : options.float_model->heads) {
        if (fh.name == name) layer_of_head[h] = fh.layer;
      }
      if (layer_of_head[h] < 0) {
        return Fail(error, "the float model has no head '" + name + "'");
      }
    }
    std::vector<std::vector<float>> out;
    const uint8_t* base = static_cast<const uint8_t*>(items);
    for (size_t i = 0; i < count; ++i) {
      interp.RunRaw(base + i * item_bytes, &out);
      for (int32_t h = 0; h < num_heads; ++h) {
        const std::vector<float>& f = out[layer_of_head[h]];
        float_top1[h].push_back(
            Ranking(f.data(), static_cast<int32_t>(f.size()))[0]);
      }
    }
  }

  for (int32_t h = 0; h < num_heads; ++h) {
    const kiln_head_info hi = runner.head_info(h);
    const kiln_tensor_info oi = runner.output_info(hi.output_index);
    const int32_t classes = hi.num_classes;
    if (oi.dtype != KILN_INT8 || oi.item_bytes != size_t(classes)) {
      return Fail(error, std::string("head '") + hi.name +
                             "': logits are not int8 [classes]");
    }
    if (labels[h].size() != count) {
      return Fail(error, std::string("head '") + hi.name +
                             "': " + std::to_string(labels[h].size()) +
                             " labels for " + std::to_string(count) + " items");
    }
    HeadEval e;
    e.name = hi.name;
    e.classes = classes;
    for (int32_t c = 0; c < classes; ++c) {
      const char* label = runner.context() != nullptr
                              ? kiln_head_label(runner.context(), h, c)
                              : nullptr;
      e.labels.push_back(label != nullptr ? label : std::to_string(c));
    }
    e.top_k = hi.top_k;
    e.confidence = static_cast<ConfidenceKind>(hi.confidence);
    e.threshold = hi.threshold;
    e.threshold_real = hi.threshold_real;
    e.items = count;
    e.confusion.assign(classes, std::vector<int64_t>(classes, 0));
    const int32_t max_k = std::min<int32_t>(5, classes);
    std::vector<size_t> hits(static_cast<size_t>(max_k), 0);
    size_t agree = 0;
    size_t acc_top1 = 0, acc_topk = 0, fb_top1 = 0, fb_topk = 0;
    const int8_t* logits =
        reinterpret_cast<const int8_t*>(outputs[hi.output_index].data());
    for (size_t i = 0; i < count; ++i) {
      const int32_t label = labels[h][i];
      if (label < 0 || label >= classes) {
        return Fail(error, std::string("head '") + hi.name + "': label " +
                               std::to_string(label) + " out of range");
      }
      const std::vector<int32_t> rank =
          Ranking(logits + i * size_t(classes), classes);
      // The label's place in the ranking counts for every k past it.
      for (int32_t j = 0; j < max_k; ++j) {
        if (rank[j] == label) {
          for (int32_t k = j; k < max_k; ++k) ++hits[k];
          break;
        }
      }
      ++e.confusion[label][rank[0]];
      const kiln_decision& d = decisions[i * num_heads + h];
      bool hit_k = false;
      for (int32_t j = 0; j < d.k; ++j) hit_k = hit_k || d.class_id[j] == label;
      const bool hit_1 = d.k > 0 && d.class_id[0] == label;
      if (d.fallback == 0) {
        ++e.accepted;
        acc_top1 += hit_1;
        acc_topk += hit_k;
      } else {
        fb_top1 += hit_1;
        fb_topk += hit_k;
      }
      if (!float_top1[h].empty()) agree += float_top1[h][i] == rank[0];
    }
    const double n = double(count);
    for (size_t k : hits) e.topk.push_back(double(k) / n);
    // With fewer than 2 (5) classes every label is within the top 2 (5).
    e.top1 = e.topk[0];
    e.top2 = max_k >= 2 ? e.topk[1] : 1.0;
    e.top5 = max_k >= 5 ? e.topk[4] : 1.0;
    e.coverage = e.accepted / n;
    const size_t fallbacks = count - e.accepted;
    if (e.accepted > 0) {
      e.accepted_top1 = double(acc_top1) / double(e.accepted);
      e.accepted_topk = double(acc_topk) / double(e.accepted);
    }
    if (fallbacks > 0) {
      e.fallback_top1 = double(fb_top1) / double(fallbacks);
      e.fallback_topk = double(fb_topk) / double(fallbacks);
    }
    if (!float_top1[h].empty()) e.float_agreement = agree / n;
    result->heads.push_back(e);
  }

  // Latency: outputs are not copied, decisions are.
  result->items = count;
  result->batch = batch;
  result->repeats = std::max(options.repeats, 1);
  if (options.measure_latency) {
    std::vector<Latency> latency;
    TimeRunners({&runner}, items, count, batch, options, count, total_work,
                &latency);
    result->batched_us_per_item = latency[0].batched_us_per_item;
    result->batch1_us = latency[0].batch1_us;
    result->latency_measured = true;
  }
  return true;
}

bool EvaluateSplit(const std::vector<uint8_t>& kiln_bytes,
                   const data::Dataset& dataset,
                   const std::vector<data::Split>& splits, data::Split which,
                   const EvalOptions& options, EvalResult* result,
                   std::string* error) {
  if (splits.size() != dataset.size() ||
      dataset.labels.size() != dataset.size()) {
    return Fail(error, "one split and one label per sample needed");
  }
  KilnRunner probe;
  if (!probe.Load(kiln_bytes, 1, error)) return false;
  const int32_t heads = probe.num_heads();
  if (probe.input_info().item_bytes != dataset.item_byte_size()) {
    return Fail(error, "the dataset's items do not fit the model's input");
  }
  std::vector<uint8_t> items;
  std::vector<int32_t> labels;
  const size_t ib = dataset.item_byte_size();
  for (size_t i = 0; i < dataset.size(); ++i) {
    if (splits[i] != which) continue;
    const uint8_t* p = dataset.item_bytes(i);
    items.insert(items.end(), p, p + ib);
    labels.push_back(dataset.labels[i]);
  }
  if (labels.empty()) {
    return Fail(error,
                std::string("no samples in split ") + data::SplitName(which));
  }
  if (!EvaluateItems(kiln_bytes, items.data(), labels.size(),
                     std::vector<std::vector<int32_t>>(heads, labels), options,
                     result, error)) {
    return false;
  }
  result->split = data::SplitName(which);
  return true;
}

nlohmann::json EvalResultJson(const EvalResult& r) {
  auto number = [](double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
  };
  nlohmann::json heads = nlohmann::json::array();
  for (const HeadEval& h : r.heads) {
    nlohmann::json topk = nlohmann::json::array();
    for (double v : h.topk) topk.push_back(number(v));
    heads.push_back({
        {"name", h.name},
        {"classes", h.classes},
        {"labels", h.labels},
        {"policy",
         {{"top_k", h.top_k},
          {"confidence", KindName(h.confidence)},
          {"threshold", h.threshold},
          {"threshold_real", number(h.threshold_real)}}},
        {"items", h.items},
        {"top1", number(h.top1)},
        {"top2", number(h.top2)},
        {"top5", number(h.top5)},
        {"topk", topk},
        {"accepted", h.accepted},
        {"fallbacks", h.items - h.accepted},
        {"coverage", number(h.coverage)},
        {"fallback_rate", number(1.0 - h.coverage)},
        {"accepted_top1", number(h.accepted_top1)},
        {"accepted_topk", number(h.accepted_topk)},
        {"fallback_top1", number(h.fallback_top1)},
        {"fallback_topk", number(h.fallback_topk)},
        {"float_agreement", h.float_agreement < 0 ? nlohmann::json(nullptr)
                                                  : number(h.float_agreement)},
        {"confusion", h.confusion},
    });
  }
  nlohmann::json latency = nullptr;
  if (r.latency_measured) {
    latency = {{"batch", r.batch},
               {"repeats", r.repeats},
               {"batched_us_per_item", number(r.batched_us_per_item)},
               {"batch1_us", number(r.batch1_us)}};
  }
  return {{"model_name", r.model_name},
          {"split", r.split},
          {"items", r.items},
          {"heads", heads},
          {"latency", latency}};
}

std::vector<Regression> FindRegressions(const EvalResult& a,
                                        const EvalResult& b,
                                        const RegressionLimits& limits) {
  std::vector<Regression> out;
  char buf[256];
  // In points, with a little slack so that a drop of exactly the limit
  // (after rounding to whole items) is not a regression.
  const double drop_points = 100.0 * limits.max_accuracy_drop + 1e-9;
  for (const HeadEval& ha : a.heads) {
    const HeadEval* hb = nullptr;
    for (const HeadEval& h : b.heads) {
      if (h.name == ha.name) hb = &h;
    }
    if (hb == nullptr) continue;
    struct Metric {
      const char* key;
      const char* what;
      double a, b;
    };
    const Metric metrics[] = {
        {"top1", "top-1 accuracy", ha.top1, hb->top1},
        {"accepted_topk", "accepted top-k accuracy", ha.accepted_topk,
         hb->accepted_topk},
        {"coverage", "coverage", ha.coverage, hb->coverage},
    };
    for (const Metric& m : metrics) {
      const double drop = 100.0 * (m.a - m.b);
      if (!(drop > drop_points)) continue;
      snprintf(buf, sizeof(buf),
               "head %s: %s fell %.2f points (%.2f%% -> %.2f%%), more than "
               "the %.2f allowed",
               ha.name.c_str(), m.what, drop, 100.0 * m.a, 100.0 * m.b,
               100.0 * limits.max_accuracy_drop);
      out.push_back({ha.name, m.key, m.a, m.b, buf});
    }
  }
  if (a.latency_measured && b.latency_measured) {
    struct Metric {
      const char* key;
      const char* what;
      double a, b;
    };
    const Metric metrics[] = {
        {"batched_us_per_item", "batched latency", a.batched_us_per_item,
         b.batched_us_per_item},
        {"batch1_us", "batch-1 latency", a.batch1_us, b.batch1_us},
    };
    for (const Metric& m : metrics) {
      if (!(m.a > 0) || !(m.b > m.a * (1.0 + limits.max_latency_increase))) {
        continue;
      }
      snprintf(buf, sizeof(buf),
               "%s rose %.1f%% (%.3f us -> %.3f us), more than the %.1f%% "
               "allowed",
               m.what, 100.0 * (m.b / m.a - 1.0), m.a, m.b,
               100.0 * limits.max_latency_increase);
      out.push_back({"", m.key, m.a, m.b, buf});
    }
  }
  return out;
}

std::string EvalReportMarkdown(const EvalResult& r) {
  char buf[512];
  std::string s = "# Evaluation";
  if (!r.model_name.empty()) s += ": " + r.model_name;
  s += "\n\n";
  snprintf(buf, sizeof(buf),
           "%zu items of the %s split, run through the Kiln runtime.\n\n",
           r.items, r.split.c_str());
  s += buf;
  s += "## Latency\n\n";
  if (r.latency_measured) {
    s += "| measure | value |\n|---|---:|\n";
    snprintf(buf, sizeof(buf),
             "| batched (batch %zu), median per item of the calls of %d passes "
             "| %.2f us "
             "|\n| batch 1, median per call | %.2f us |\n\n",
             r.batch, static_cast<int>(r.repeats), r.batched_us_per_item,
             r.batch1_us);
    s += buf;
  } else {
    s += "Not measured.\n\n";
  }
  for (const HeadEval& h : r.heads) {
    s += "## Head `" + h.name + "`\n\n";
    snprintf(buf, sizeof(buf),
             "Policy: top-%d, %s, threshold %d (%.6g); fallback when "
             "confidence < threshold.\n\n",
             static_cast<int>(h.top_k), KindName(h.confidence),
             static_cast<int>(h.threshold),
             static_cast<double>(h.threshold_real));
    s += buf;
    s += "| metric | value |\n|---|---:|\n";
    s += "| items | " + std::to_string(h.items) + " |\n";
    s += "| top-1 accuracy | " + Pct(h.top1) + " |\n";
    s += "| top-2 accuracy | " + Pct(h.top2) + " |\n";
    s += "| top-5 accuracy | " + Pct(h.top5) + " |\n";
    s += "| coverage (accepted) | " + Pct(h.coverage) + " (" +
         std::to_string(h.accepted) + ") |\n";
    s += "| accepted: top-1 / top-k accuracy | " + Pct(h.accepted_top1) +
         " / " + Pct(h.accepted_topk) + " |\n";
    s += "| fallback: top-1 / top-k accuracy | " + Pct(h.fallback_top1) +
         " / " + Pct(h.fallback_topk) + " |\n";
    s += "| float vs int8 top-1 agreement | " +
         (h.float_agreement < 0 ? std::string("n/a") : Pct(h.float_agreement)) +
         " |\n\n";
    s += "Confusion matrix (rows: true class, columns: int8 top-1):\n\n|  |";
    for (const std::string& l : h.labels) s += " " + Escape(l) + " |";
    s += "\n|---|";
    for (size_t c = 0; c < h.labels.size(); ++c) s += "---:|";
    s += "\n";
    for (size_t t = 0; t < h.confusion.size(); ++t) {
      s += "| **" + Escape(h.labels[t]) + "** |";
      for (int64_t v : h.confusion[t]) s += " " + std::to_string(v) + " |";
      s += "\n";
    }
    s += "\n";
    for (const std::string& p : h.plots) s += "![" + h.name + "](" + p + ")\n";
    if (!h.plots.empty()) s += "\n";
  }
  return s;
}

bool WriteEvalReport(const std::string& path, const EvalResult& result,
                     std::string* error) {
  const std::string md = EvalReportMarkdown(result);
  return WriteFileAtomic(path, std::vector<uint8_t>(md.begin(), md.end()),
                         error);
}

}  // namespace train
}  // namespace kiln
