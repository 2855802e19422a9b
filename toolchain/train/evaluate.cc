#include "toolchain/train/evaluate.h"

#include <stdio.h>

#include <algorithm>
#include <chrono>

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

  std::vector<std::vector<uint8_t>> outputs;
  std::vector<kiln_decision> decisions;
  if (!runner.Run(items, count, &outputs, &decisions, error)) return false;

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
    size_t top1 = 0, top2 = 0, top5 = 0, agree = 0;
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
      auto in_top = [&](int32_t k) {
        for (int32_t j = 0; j < std::min(k, classes); ++j) {
          if (rank[j] == label) return true;
        }
        return false;
      };
      top1 += in_top(1);
      top2 += in_top(2);
      top5 += in_top(5);
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
    e.top1 = top1 / n;
    e.top2 = top2 / n;
    e.top5 = top5 / n;
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
  std::vector<kiln_decision> dec(batch * std::max(num_heads, 1));
  const uint8_t* base = static_cast<const uint8_t*>(items);
  std::vector<double> per_item, single;
  const size_t n1 = std::min(options.batch1_items, count);
  for (int32_t r = 0; r < result->repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t start = 0; start < count; start += batch) {
      const size_t n = std::min(batch, count - start);
      const void* in[1] = {base + start * item_bytes};
      kiln_invoke(runner.context(), n, in, nullptr, dec.data());
    }
    const auto t1 = std::chrono::steady_clock::now();
    per_item.push_back(1e6 * Seconds(t0, t1) / double(count));
    for (size_t i = 0; i < n1; ++i) {
      const void* in[1] = {base + i * item_bytes};
      const auto a = std::chrono::steady_clock::now();
      kiln_invoke(runner.context(), 1, in, nullptr, dec.data());
      const auto b = std::chrono::steady_clock::now();
      single.push_back(1e6 * Seconds(a, b));
    }
  }
  result->batched_us_per_item = Median(per_item);
  result->batch1_us = Median(single);
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

std::string EvalReportMarkdown(const EvalResult& r) {
  char buf[512];
  std::string s = "# Evaluation";
  if (!r.model_name.empty()) s += ": " + r.model_name;
  s += "\n\n";
  snprintf(buf, sizeof(buf),
           "%zu items of the %s split, run through the Kiln runtime.\n\n",
           r.items, r.split.c_str());
  s += buf;
  s += "## Latency\n\n| measure | value |\n|---|---:|\n";
  snprintf(buf, sizeof(buf),
           "| batched (batch %zu), median per item over %d passes | %.2f us "
           "|\n| batch 1, median per call | %.2f us |\n\n",
           r.batch, static_cast<int>(r.repeats), r.batched_us_per_item,
           r.batch1_us);
  s += buf;
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
